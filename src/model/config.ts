/**
 * Model configuration: parses a Hugging Face config.json for the Llama family
 * (LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM) into one shape,
 * and lists the parameters (HF names and shapes) such a model has.
 */
import { readFileSync, existsSync } from 'node:fs';
import { UserError } from '../util/errors.ts';

export const ARCHITECTURES = ['LlamaForCausalLM', 'MistralForCausalLM', 'Qwen2ForCausalLM', 'Qwen3ForCausalLM'] as const;
export type Architecture = (typeof ARCHITECTURES)[number];

export interface RopeScaling {
  type: 'linear' | 'llama3';
  factor: number;
  lowFreqFactor?: number;
  highFreqFactor?: number;
  originalMaxPositionEmbeddings?: number;
}

export interface ModelConfig {
  architecture: Architecture;
  modelType: string;
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  /** Per-head size; Qwen3 sets it explicitly (may differ from hidden / heads). */
  headDim: number;
  rmsNormEps: number;
  ropeTheta: number;
  ropeScaling?: RopeScaling;
  tieWordEmbeddings: boolean;
  /** Bias on q/k/v projections (Qwen2 always; Llama/Qwen3 when attention_bias). */
  qkvBias: boolean;
  /** Bias on o_proj (Llama/Mistral/Qwen3 with attention_bias). */
  oBias: boolean;
  /** Bias on the MLP projections (Llama mlp_bias). */
  mlpBias: boolean;
  /** Per-head RMSNorm of q and k before RoPE (Qwen3). */
  qkNorm: boolean;
  maxPositionEmbeddings: number;
  /** Mistral / Qwen sliding-window attention: a token sees the last `slidingWindow` positions. */
  slidingWindow?: number;
  bosTokenId?: number;
  eosTokenIds: number[];
  /** The parsed config.json, written back unchanged (except what we set) on save. */
  raw: Record<string, unknown>;
}

function num(raw: Record<string, unknown>, key: string, where: string, fallback?: number): number {
  const v = raw[key];
  if (v === undefined || v === null) {
    if (fallback !== undefined) return fallback;
    throw new UserError(`${where}: missing "${key}" (expected a number)`);
  }
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new UserError(`${where}: "${key}" must be a number, got ${JSON.stringify(v)}`);
  return v;
}

function posInt(raw: Record<string, unknown>, key: string, where: string, fallback?: number): number {
  const v = num(raw, key, where, fallback);
  if (!Number.isInteger(v) || v <= 0) throw new UserError(`${where}: "${key}" must be a positive integer, got ${v}`);
  return v;
}

/** Parses an already-loaded config.json object. `where` names it in errors. */
export function parseConfig(raw: Record<string, unknown>, where = 'config.json'): ModelConfig {
  const archs = raw.architectures;
  let architecture: Architecture | undefined;
  if (Array.isArray(archs) && archs.length > 0) {
    const a = String(archs[0]);
    if (!(ARCHITECTURES as readonly string[]).includes(a)) {
      throw new UserError(`${where}: unknown architecture '${a}' (supported: ${ARCHITECTURES.join(', ')})`);
    }
    architecture = a as Architecture;
  } else {
    const byType: Record<string, Architecture> = { llama: 'LlamaForCausalLM', mistral: 'MistralForCausalLM', qwen2: 'Qwen2ForCausalLM', qwen3: 'Qwen3ForCausalLM' };
    architecture = byType[String(raw.model_type)];
    if (!architecture) throw new UserError(`${where}: unknown architecture (no "architectures" and model_type ${JSON.stringify(raw.model_type)}; supported: ${ARCHITECTURES.join(', ')})`);
  }
  const act = raw.hidden_act ?? raw.hidden_activation ?? 'silu';
  if (act !== 'silu') throw new UserError(`${where}: "hidden_act" ${JSON.stringify(act)} is not supported (expected "silu")`);

  const hiddenSize = posInt(raw, 'hidden_size', where);
  const numHeads = posInt(raw, 'num_attention_heads', where);
  const numKvHeads = posInt(raw, 'num_key_value_heads', where, numHeads);
  if (numHeads % numKvHeads !== 0) {
    throw new UserError(`${where}: "num_attention_heads" (${numHeads}) must be a multiple of "num_key_value_heads" (${numKvHeads})`);
  }
  const headDim = raw.head_dim == null ? hiddenSize / numHeads : posInt(raw, 'head_dim', where);
  if (!Number.isInteger(headDim)) throw new UserError(`${where}: "hidden_size" (${hiddenSize}) is not divisible by "num_attention_heads" (${numHeads}); set "head_dim"`);
  if (headDim % 2 !== 0) throw new UserError(`${where}: head dim ${headDim} must be even for rotary embeddings`);

  const attentionBias = raw.attention_bias === true;
  const isQwen2 = architecture === 'Qwen2ForCausalLM';
  let ropeScaling: RopeScaling | undefined;
  const rs = raw.rope_scaling as Record<string, unknown> | null | undefined;
  if (rs && typeof rs === 'object') {
    const type = String(rs.rope_type ?? rs.type ?? 'default');
    if (type === 'linear' || type === 'llama3') {
      ropeScaling = {
        type,
        factor: num(rs, 'factor', `${where}: rope_scaling`),
        lowFreqFactor: rs.low_freq_factor as number | undefined,
        highFreqFactor: rs.high_freq_factor as number | undefined,
        originalMaxPositionEmbeddings: rs.original_max_position_embeddings as number | undefined,
      };
    } else if (type !== 'default') {
      throw new UserError(`${where}: "rope_scaling" type '${type}' is not supported (supported: linear, llama3)`);
    }
  }
  const sw = raw.sliding_window;
  const swOn = architecture === 'MistralForCausalLM' ? sw != null : raw.use_sliding_window === true && sw != null;
  if (swOn && (typeof sw !== 'number' || !Number.isInteger(sw) || sw <= 0)) throw new UserError(`${where}: "sliding_window" must be a positive integer, got ${JSON.stringify(sw)}`);
  const eos = raw.eos_token_id;
  const eosTokenIds = Array.isArray(eos) ? eos.map(Number) : typeof eos === 'number' ? [eos] : [];
  return {
    architecture,
    modelType: String(raw.model_type ?? architecture.replace(/ForCausalLM$/, '').toLowerCase()),
    vocabSize: posInt(raw, 'vocab_size', where),
    hiddenSize,
    intermediateSize: posInt(raw, 'intermediate_size', where),
    numLayers: posInt(raw, 'num_hidden_layers', where),
    numHeads,
    numKvHeads,
    headDim,
    rmsNormEps: num(raw, 'rms_norm_eps', where, 1e-6),
    ropeTheta: num(raw, 'rope_theta', where, 10000),
    ropeScaling,
    tieWordEmbeddings: raw.tie_word_embeddings === true,
    qkvBias: isQwen2 ? true : attentionBias,
    oBias: isQwen2 ? false : attentionBias,
    mlpBias: raw.mlp_bias === true,
    qkNorm: architecture === 'Qwen3ForCausalLM',
    maxPositionEmbeddings: num(raw, 'max_position_embeddings', where, 2048),
    slidingWindow: swOn ? (sw as number) : undefined,
    bosTokenId: typeof raw.bos_token_id === 'number' ? raw.bos_token_id : undefined,
    eosTokenIds,
    raw,
  };
}

/** Reads and parses `path` (a config.json). */
export function loadConfig(path: string): ModelConfig {
  if (!existsSync(path)) throw new UserError(`${path}: model config not found`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new UserError(`${path}: invalid JSON (${(e as Error).message})`);
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new UserError(`${path}: expected a JSON object`);
  return parseConfig(raw as Record<string, unknown>, path);
}

/** Every parameter of the model: HF name -> shape, in a stable order. */
export function paramShapes(c: ModelConfig): Map<string, number[]> {
  const m = new Map<string, number[]>();
  const H = c.hiddenSize;
  const qDim = c.numHeads * c.headDim;
  const kvDim = c.numKvHeads * c.headDim;
  m.set('model.embed_tokens.weight', [c.vocabSize, H]);
  for (let i = 0; i < c.numLayers; i++) {
    const p = `model.layers.${i}.`;
    m.set(`${p}input_layernorm.weight`, [H]);
    m.set(`${p}self_attn.q_proj.weight`, [qDim, H]);
    m.set(`${p}self_attn.k_proj.weight`, [kvDim, H]);
    m.set(`${p}self_attn.v_proj.weight`, [kvDim, H]);
    if (c.qkvBias) {
      m.set(`${p}self_attn.q_proj.bias`, [qDim]);
      m.set(`${p}self_attn.k_proj.bias`, [kvDim]);
      m.set(`${p}self_attn.v_proj.bias`, [kvDim]);
    }
    if (c.qkNorm) {
      m.set(`${p}self_attn.q_norm.weight`, [c.headDim]);
      m.set(`${p}self_attn.k_norm.weight`, [c.headDim]);
    }
    m.set(`${p}self_attn.o_proj.weight`, [H, qDim]);
    if (c.oBias) m.set(`${p}self_attn.o_proj.bias`, [H]);
    m.set(`${p}post_attention_layernorm.weight`, [H]);
    m.set(`${p}mlp.gate_proj.weight`, [c.intermediateSize, H]);
    m.set(`${p}mlp.up_proj.weight`, [c.intermediateSize, H]);
    m.set(`${p}mlp.down_proj.weight`, [H, c.intermediateSize]);
    if (c.mlpBias) {
      m.set(`${p}mlp.gate_proj.bias`, [c.intermediateSize]);
      m.set(`${p}mlp.up_proj.bias`, [c.intermediateSize]);
      m.set(`${p}mlp.down_proj.bias`, [H]);
    }
  }
  m.set('model.norm.weight', [H]);
  if (!c.tieWordEmbeddings) m.set('lm_head.weight', [c.vocabSize, H]);
  return m;
}

/** Total parameter count. */
export function countParams(c: ModelConfig): number {
  let n = 0;
  for (const s of paramShapes(c).values()) n += s.reduce((a, b) => a * b, 1);
  return n;
}
