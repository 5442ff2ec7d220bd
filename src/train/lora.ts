/**
 * LoRA adapters (Hu et al. 2021) through LlamaModel's linearHook, saved in PEFT's layout:
 *   y = W x + (alpha / r) * B A dropout(x)      A [r, in] (kaiming-uniform init), B [out, r] (zeros)
 * adapter_config.json + adapter_model.safetensors with keys
 *   base_model.model.<module>.lora_A.weight / lora_B.weight
 * so `peft.PeftModel.from_pretrained(base, dir)` loads them. `mergeInto` folds them into W.
 * Module names and target_modules are written in the checkpoint's own naming (EXAONE:
 * transformer.h.N.attn.attention.out_proj, target out_proj; see model/names.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../engine/backend.ts';
import { loadModel, saveModel, type SaveDtype } from '../model/checkpoint.ts';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { linear, type LlamaModel } from '../model/llama.ts';
import type { ModelConfig } from '../model/config.ts';
import { checkpointName, checkpointTarget, engineName, engineTarget } from '../model/names.ts';
import { readSafetensors, writeSafetensors, type HostTensor } from '../model/safetensors.ts';
import { UserError } from '../util/errors.ts';
import type { OptimParam } from './optim.ts';
import { Rng } from './rng.ts';
import { LORA_TARGETS, type LoraConfig } from './sft-config.ts';

const PEFT_PREFIX = 'base_model.model.';

export class LoraAdapters {
  /** module name (e.g. model.layers.0.self_attn.q_proj) -> [A, B] */
  readonly modules = new Map<string, { A: tf.Variable; B: tf.Variable }>();
  readonly scale: number;

  constructor(
    readonly cfg: LoraConfig,
    /** The adapted model's config: names in files follow its checkpoint layout. */
    readonly modelConfig: ModelConfig,
  ) {
    // PEFT: scaling = lora_alpha / sqrt(r) with use_rslora, else lora_alpha / r
    this.scale = cfg.use_rslora ? cfg.alpha / Math.sqrt(cfg.r) : cfg.alpha / cfg.r;
  }

  /** Fresh adapters on every targeted projection of `model` (A kaiming-uniform from `seed`, B zero). */
  static create(model: LlamaModel, cfg: LoraConfig, seed: number): LoraAdapters {
    const targets = new Set(cfg.target_modules.map((t) => engineTarget(t, model.config)));
    for (const t of cfg.target_modules) {
      if (!(LORA_TARGETS as readonly string[]).includes(engineTarget(t, model.config))) {
        const names = [...new Set(LORA_TARGETS.map((x) => checkpointTarget(x, model.config)))];
        throw new UserError(`lora.target_modules: unknown module '${t}' (expected some of ${names.join(', ')})`);
      }
    }
    const ad = new LoraAdapters(cfg, model.config);
    const rng = new Rng(seed, 0x10a);
    for (const [name, v] of model.params) {
      const m = /^(.*\.(\w+_proj))\.weight$/.exec(name);
      if (!m || !targets.has(m[2]!)) continue;
      const [out, inp] = v.shape;
      const bound = 1 / Math.sqrt(inp); // kaiming_uniform_(a=sqrt(5)), as PEFT
      const a = rng.fillUniform(new Float32Array(cfg.r * inp), -bound, bound);
      ad.modules.set(m[1], {
        A: tf.variable(tf.tensor2d(a, [cfg.r, inp]), true),
        B: tf.variable(tf.zeros([out, cfg.r]), true),
      });
    }
    if (ad.modules.size === 0) throw new UserError(`lora.target_modules: none of ${cfg.target_modules.join(', ')} exist in the model`);
    return ad;
  }

  /** Optimizer entries for the adapter weights (names as in PEFT, without the prefix). */
  params(lr: number, weightDecay: number): OptimParam[] {
    const out: OptimParam[] = [];
    for (const [m, { A, B }] of this.modules) {
      out.push({ name: `${m}.lora_A.weight`, variable: A, lr, weightDecay });
      out.push({ name: `${m}.lora_B.weight`, variable: B, lr, weightDecay });
    }
    return out;
  }

  /**
   * The linearHook adding the adapters. With `rng` and dropout > 0 (training), the adapter input
   * is dropped out with a mask drawn from `rng`; without `rng` (eval) there is no dropout.
   */
  hook(rng?: Rng): (name: string, x: tf.Tensor, y: tf.Tensor) => tf.Tensor {
    const p = this.cfg.dropout;
    return (name, x, y) => {
      const ad = this.modules.get(name);
      if (!ad) return y;
      let xin = x;
      if (rng && p > 0) {
        const mask = new Float32Array(x.size);
        const keep = 1 / (1 - p);
        for (let i = 0; i < mask.length; i++) mask[i] = rng.uniform() >= p ? keep : 0;
        xin = tf.mul(x, tf.tensor(mask, x.shape));
      }
      return tf.add(y, tf.mul(linear(linear(xin, ad.A), ad.B), this.scale));
    };
  }

  /** PEFT tensor names -> host tensors. */
  async toHost(): Promise<Map<string, HostTensor>> {
    const out = new Map<string, HostTensor>();
    for (const [m, { A, B }] of this.modules) {
      const name = checkpointName(m, this.modelConfig);
      out.set(`${PEFT_PREFIX}${name}.lora_A.weight`, { shape: A.shape.slice(), data: (await A.data()) as Float32Array });
      out.set(`${PEFT_PREFIX}${name}.lora_B.weight`, { shape: B.shape.slice(), data: (await B.data()) as Float32Array });
    }
    return out;
  }

  /** Writes adapter_config.json + adapter_model.safetensors into `dir` (atomically, as a folder). */
  async save(dir: string, baseModel: string): Promise<void> {
    const target = resolve(dir);
    const tmp = join(dirname(target), `.${basename(target)}.${process.pid}.tmp`);
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp, { recursive: true });
    const config = {
      peft_type: 'LORA',
      task_type: 'CAUSAL_LM',
      base_model_name_or_path: baseModel,
      r: this.cfg.r,
      lora_alpha: this.cfg.alpha,
      lora_dropout: this.cfg.dropout,
      target_modules: [...new Set(this.cfg.target_modules.map((t) => checkpointTarget(engineTarget(t, this.modelConfig), this.modelConfig)))].sort(),
      bias: 'none',
      fan_in_fan_out: false,
      inference_mode: true,
      init_lora_weights: true,
      modules_to_save: null,
      use_rslora: this.cfg.use_rslora === true,
      use_dora: false,
    };
    await writeFile(join(tmp, 'adapter_config.json'), `${JSON.stringify(config, null, 2)}\n`);
    await writeSafetensors(join(tmp, 'adapter_model.safetensors'), await this.toHost());
    await rm(target, { recursive: true, force: true });
    await rename(tmp, target);
  }

  /** The LoRA settings of a PEFT adapter directory (adapter_config.json), checked. */
  static readConfig(dir: string): LoraConfig {
    const cfgPath = join(dir, 'adapter_config.json');
    if (!existsSync(cfgPath)) throw new UserError(`${cfgPath}: adapter config not found`);
    let raw: Record<string, unknown>;
    try {
      raw = JSON.parse(readFileSync(cfgPath, 'utf8')) as Record<string, unknown>;
    } catch (e) {
      throw new UserError(`${cfgPath}: invalid JSON (${(e as Error).message})`);
    }
    if (raw.peft_type !== 'LORA') throw new UserError(`${cfgPath}: peft_type must be "LORA", got ${JSON.stringify(raw.peft_type)}`);
    if (raw.use_dora === true) throw new UserError(`${cfgPath}: use_dora is not implemented (DoRA rescales the merged weight; loading it as LoRA would be wrong)`);
    if (!(Number(raw.r) > 0) || !Number.isFinite(Number(raw.lora_alpha))) throw new UserError(`${cfgPath}: "r" must be a positive number and "lora_alpha" a number`);
    return {
      r: Number(raw.r),
      alpha: Number(raw.lora_alpha),
      dropout: Number(raw.lora_dropout ?? 0),
      target_modules: raw.target_modules as string[],
      merge: false,
      use_rslora: raw.use_rslora === true,
    };
  }

  /** Reads a PEFT LoRA adapter directory for `model`. */
  static load(dir: string, model: LlamaModel): LoraAdapters {
    const cfg = LoraAdapters.readConfig(dir);
    const ad = new LoraAdapters(cfg, model.config);
    const tensors = readSafetensors(join(dir, 'adapter_model.safetensors'));
    for (const [key, t] of tensors) {
      const m = /^base_model\.model\.(.*)\.lora_([AB])\.weight$/.exec(key);
      if (!m) throw new UserError(`${dir}: unexpected adapter tensor '${key}'`);
      const module = engineName(m[1]!, model.config);
      const w = model.params.get(`${module}.weight`);
      if (!w) throw new UserError(`${dir}: adapter tensor '${key}' targets '${m[1]}', which the model does not have`);
      const entry = ad.modules.get(module) ?? ({} as { A: tf.Variable; B: tf.Variable });
      entry[m[2] as 'A' | 'B'] = tf.variable(tf.tensor(t.data, t.shape, 'float32'), true);
      ad.modules.set(module, entry);
    }
    for (const [m, e] of ad.modules) if (!e.A || !e.B) throw new UserError(`${dir}: module '${m}' lacks lora_A or lora_B`);
    return ad;
  }

  /** W <- W + scale * B @ A for every adapted projection (the model's variables change in place). */
  mergeInto(model: LlamaModel): void {
    for (const [m, { A, B }] of this.modules) {
      const w = model.params.get(`${m}.weight`)!;
      tf.tidy(() => w.assign(tf.add(w, tf.mul(tf.matMul(B, A), this.scale))));
    }
  }

  dispose(): void {
    for (const { A, B } of this.modules.values()) {
      A.dispose();
      B.dispose();
    }
    this.modules.clear();
  }
}

export interface MergeAdapterOptions {
  /** Base model directory (Hugging Face layout). */
  model: string;
  /** PEFT LoRA adapter directory (adapter_config.json + adapter_model.safetensors). */
  adapter: string;
  /** Output model directory (replaced atomically). */
  out: string;
  /** Weight dtype of the merged model; auto keeps the base model's. */
  dtype?: SaveDtype;
  backend?: string;
  log?: (line: string) => void;
}

/** `ko-align model merge`: base + PEFT adapter (W + scale * B A, rsLoRA honoured) written as a full model. */
export async function mergeAdapterDir(o: MergeAdapterOptions): Promise<{ out: string; modules: number }> {
  await initBackend(o.backend ?? 'auto', o.log ? { log: o.log } : {});
  const model = await loadModel(o.model);
  try {
    const ad = LoraAdapters.load(o.adapter, model);
    try {
      ad.mergeInto(model);
      await saveModel(model, o.out, { tokenizerFrom: o.model, dtype: o.dtype });
      return { out: o.out, modules: ad.modules.size };
    } finally {
      ad.dispose();
    }
  } finally {
    model.dispose();
  }
}
