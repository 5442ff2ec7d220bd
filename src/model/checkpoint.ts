/**
 * Hugging Face model directories: load (config.json + model.safetensors or sharded shards with
 * model.safetensors.index.json) and save in the same layout so transformers / vLLM load it.
 */
import { copyFile, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { loadConfig, paramShapes, type ModelConfig } from './config.ts';
import { checkpointName, engineName } from './names.ts';
import { LlamaModel } from './llama.ts';
import { assertFinite, readSafetensors, weightFiles, writeSafetensors, type HostTensor } from './safetensors.ts';
import { UserError } from '../util/errors.ts';
import { noteModelLoad } from '../engine/memory.ts';
import { cleanStaleTemps } from '../util/fs.ts';

/** Tokenizer and generation files copied beside a saved model when present in the source. */
export const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'generation_config.json', 'chat_template.jinja'];

export interface LoadModelOptions {
  /** Whether parameters are trainable variables (default true). */
  trainable?: boolean;
}

/** Reads only the tensors the config needs, from the single file or the shards. */
export function readModelTensors(dir: string, config: ModelConfig): Map<string, HostTensor> {
  const files = weightFiles(dir);
  const byFile = new Map<string, string[]>();
  for (const engine of paramShapes(config).keys()) {
    const name = checkpointName(engine, config);
    const file = files.get(name);
    if (!file) {
      const where = existsSync(join(dir, 'model.safetensors.index.json')) ? join(dir, 'model.safetensors.index.json') : join(dir, 'model.safetensors');
      throw new UserError(`${where}: missing tensor '${name}'`);
    }
    if (!byFile.has(file)) byFile.set(file, []);
    byFile.get(file)!.push(name);
  }
  const out = new Map<string, HostTensor>();
  for (const [file, names] of byFile) {
    for (const [n, t] of readSafetensors(file, names)) {
      // NaN / Inf weights would give NaN log-probs and losses silently: refuse them here.
      assertFinite(file, n, t.data);
      out.set(engineName(n, config), t);
    }
  }
  return out;
}

/** Loads a Hugging Face model directory into a LlamaModel (backend must be initialised). */
export async function loadModel(dir: string, opts: LoadModelOptions = {}): Promise<LlamaModel> {
  if (!existsSync(dir)) throw new UserError(`${dir}: model directory not found`);
  const config = loadConfig(join(dir, 'config.json'));
  let params = 0;
  for (const shape of paramShapes(config).values()) params += shape.reduce((a, b) => a * b, 1);
  noteModelLoad(dir, params);
  const tensors = readModelTensors(dir, config);
  return LlamaModel.fromHost(config, tensors, dir, opts.trainable ?? true);
}

/** Checkpoint dtypes by their config.json (torch) names. */
export const SAVE_DTYPES = { float32: 'F32', bfloat16: 'BF16', float16: 'F16' } as const;
export type SaveDtype = keyof typeof SAVE_DTYPES | 'auto';

export interface SaveModelOptions {
  /** Copy tokenizer / generation files from this directory when they exist there. */
  tokenizerFrom?: string;
  /** Extra metadata for the safetensors header (strings). */
  metadata?: Record<string, string>;
  /** Weight dtype; 'auto' (default) keeps the model's own (config.json `dtype` / `torch_dtype`). */
  dtype?: SaveDtype;
}

/**
 * The dtype a model was stored in, from config.json: transformers >= 4.56 writes `dtype`, older
 * versions `torch_dtype` (configuration_utils.py reads the old name as the new). float32 when
 * neither names a float dtype we write.
 */
export function modelDtype(raw: Record<string, unknown>): keyof typeof SAVE_DTYPES {
  const v = raw.dtype ?? raw.torch_dtype;
  return typeof v === 'string' && v in SAVE_DTYPES ? (v as keyof typeof SAVE_DTYPES) : 'float32';
}

/**
 * config.json with the dtype keys set to `dtype`: both `dtype` and `torch_dtype` where the file
 * had them (only `torch_dtype` when it had neither), so old and new transformers agree.
 */
export function withDtype(raw: Record<string, unknown>, dtype: keyof typeof SAVE_DTYPES): Record<string, unknown> {
  const out = { ...raw };
  if ('dtype' in raw) out.dtype = dtype;
  if ('torch_dtype' in raw || !('dtype' in raw)) out.torch_dtype = dtype;
  return out;
}

/**
 * Writes config.json + model.safetensors (+ tokenizer files) into `dir`, atomically: everything
 * is written into a temporary sibling directory which then replaces `dir`. The weights keep the
 * model's dtype unless `opts.dtype` says otherwise (a BF16 model is written back BF16).
 * The parameters are copied to the host first, so training may go on after this returns.
 */
export async function saveModel(model: LlamaModel, dir: string, opts: SaveModelOptions = {}): Promise<void> {
  // written under the checkpoint's own names (EXAONE's transformer.h.N..., see names.ts)
  const tensors = new Map([...(await model.toHost())].map(([n, t]) => [checkpointName(n, model.config), t] as const));
  const dtype = !opts.dtype || opts.dtype === 'auto' ? modelDtype(model.config.raw) : opts.dtype;
  if (!(dtype in SAVE_DTYPES)) throw new UserError(`save dtype '${dtype}' is not supported (expected auto, ${Object.keys(SAVE_DTYPES).join(', ')})`);
  await writeModelDir(dir, async (tmp) => {
    const raw = withDtype(model.config.raw, dtype);
    await writeFile(join(tmp, 'config.json'), `${JSON.stringify(raw, null, 2)}\n`);
    await writeSafetensors(join(tmp, 'model.safetensors'), tensors, { format: 'pt', ...opts.metadata }, SAVE_DTYPES[dtype]);
    if (opts.tokenizerFrom) {
      for (const f of TOKENIZER_FILES) {
        const src = join(opts.tokenizerFrom, f);
        if (existsSync(src)) await copyFile(src, join(tmp, f));
      }
    }
  });
}

/**
 * Fills a fresh temporary sibling directory with `fill(tmp)` and then puts it in place of `dir`
 * (the old directory, if any, is replaced only after everything was written). On failure the
 * temporary directory is removed and `dir` is untouched.
 */
export async function writeModelDir(dir: string, fill: (tmp: string) => Promise<void>): Promise<void> {
  const target = resolve(dir);
  const parent = dirname(target);
  await mkdir(parent, { recursive: true });
  // Leftovers of a killed writer (its .tmp / .tmp.old directories) go first.
  await cleanStaleTemps(target);
  const tmp = join(parent, `.${basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  await mkdir(tmp);
  try {
    await fill(tmp);
    if (existsSync(target)) {
      const old = `${tmp}.old`;
      await rename(target, old);
      await rename(tmp, target);
      await rm(old, { recursive: true, force: true });
    } else {
      await rename(tmp, target);
    }
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
}
