/**
 * Model configuration: parses a Hugging Face config.json for the Llama family
 * (LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM, and EXAONE 3.x's
 * ExaoneForCausalLM, a Llama under other key and weight names: see names.ts) into one shape, and
 * lists the parameters (engine names and shapes) such a model has.
 */
import { readFileSync, existsSync } from 'node:fs';
import { UserError } from '../util/errors.ts';

export const ARCHITECTURES = ['LlamaForCausalLM', 'MistralForCausalLM', 'Qwen2ForCausalLM', 'Qwen3ForCausalLM', 'ExaoneForCausalLM', 'Exaone4ForCausalLM'] as const;
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
  /** Per-head RMSNorm of q and k before RoPE (Qwen3, EXAONE 4). */
  qkNorm: boolean;
  /**
   * EXAONE 4: no norm before attention / MLP; their outputs are normed instead
   * (x + post_attention_layernorm(attn(x)), then x + post_feedforward_layernorm(mlp(x))).
   */
  postNorm: boolean;
  /** Layers without RoPE (EXAONE 4 with a sliding window: its global layers are NoPE). */
  noRopeLayers?: boolean[];
  maxPositionEmbeddings: number;
  /** Mistral / Qwen sliding-window attention: a token sees the last `slidingWindow` positions. */
  slidingWindow?: number;
  /**
   * Which layers use the window (Qwen2/Qwen3: layers >= max_window_layers, or config.json's
   * `layer_types`); undefined with a window set means every layer (Mistral).
   */
  slidingLayers?: boolean[];
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

/** The rope types ropeInvFreq implements (transformers' ROPE_INIT_FUNCTIONS names). */
export const ROPE_TYPES = ['default', 'linear', 'llama3'] as const;

/**
 * RoPE settings in either form transformers writes: today's `rope_parameters` (rope_theta and
 * rope_type inside it) or the older top-level `rope_theta` + `rope_scaling` (`type` or
 * `rope_type`). As transformers' RotaryEmbeddingConfigMixin does, a value inside the dict wins
 * over the top-level one. A rope_type not implemented here (dynamic, yarn, longrope, ...), a
 * dict keyed by layer type, or a partial rotary factor is refused, naming it: computing plain
 * RoPE for such a model would be silently wrong.
 */
function parseRope(raw: Record<string, unknown>, where: string): { ropeTheta: number; ropeScaling?: RopeScaling } {
  const key = raw.rope_parameters != null ? 'rope_parameters' : 'rope_scaling';
  const v = raw[key];
  if (v != null && (typeof v !== 'object' || Array.isArray(v))) throw new UserError(`${where}: "${key}" must be an object, got ${JSON.stringify(v)}`);
  const rp = (v ?? {}) as Record<string, unknown>;
  const nested = Object.keys(rp).filter((k) => rp[k] && typeof rp[k] === 'object' && !Array.isArray(rp[k]));
  if (nested.length > 0) throw new UserError(`${where}: "${key}" is keyed by layer type (${nested.join(', ')}); per-layer RoPE is not implemented`);
  const ropeTheta = rp.rope_theta != null ? num(rp, 'rope_theta', `${where}: ${key}`) : num(raw, 'rope_theta', where, 10000);
  const prf = rp.partial_rotary_factor ?? raw.partial_rotary_factor;
  if (prf != null && prf !== 1) throw new UserError(`${where}: "partial_rotary_factor" ${JSON.stringify(prf)} is not implemented (only 1.0: RoPE on the whole head)`);
  const type = String(rp.rope_type ?? rp.type ?? 'default');
  if (!(ROPE_TYPES as readonly string[]).includes(type)) {
    throw new UserError(`${where}: "${key}" rope_type '${type}' is not implemented (implemented: ${ROPE_TYPES.join(', ')})`);
  }
  if (type === 'default') return { ropeTheta };
  const optNum = (k: string): number | undefined => (rp[k] == null ? undefined : num(rp, k, `${where}: ${key}`));
  return {
    ropeTheta,
    ropeScaling: {
      type: type as RopeScaling['type'],
      factor: num(rp, 'factor', `${where}: ${key}`),
      lowFreqFactor: optNum('low_freq_factor'),
      highFreqFactor: optNum('high_freq_factor'),
      originalMaxPositionEmbeddings: optNum('original_max_position_embeddings'),
    },
  };
}

/**
 * Sliding-window attention as transformers configures it. Mistral: `sliding_window` (null = off)
 * applies to every layer. Qwen2 / Qwen3: only with `use_sliding_window`, and only on the layers
 * `layer_types` marks "sliding_attention"; without `layer_types` those are the layers
 * i >= `max_window_layers` (default 28), the first max_window_layers use full attention
 * (transformers models/qwen2/configuration_qwen2.py, Qwen2Config.__post_init__).
 */
function parseSlidingWindow(raw: Record<string, unknown>, architecture: Architecture, numLayers: number, where: string): { slidingWindow?: number; slidingLayers?: boolean[] } {
  const sw = raw.sliding_window;
  if (architecture === 'Exaone4ForCausalLM') return parseExaone4Window(raw, numLayers, where);
  const isMistral = architecture === 'MistralForCausalLM';
  const on = isMistral ? sw != null : raw.use_sliding_window === true && sw != null;
  if (!on) return {};
  if (typeof sw !== 'number' || !Number.isInteger(sw) || sw <= 0) throw new UserError(`${where}: "sliding_window" must be a positive integer, got ${JSON.stringify(sw)}`);
  if (isMistral) return { slidingWindow: sw };
  let layers: boolean[];
  const lt = raw.layer_types;
  if (lt != null) {
    if (!Array.isArray(lt) || lt.length !== numLayers || lt.some((t) => t !== 'full_attention' && t !== 'sliding_attention')) {
      throw new UserError(`${where}: "layer_types" must list "full_attention" or "sliding_attention" for each of the ${numLayers} layers`);
    }
    layers = lt.map((t) => t === 'sliding_attention');
  } else {
    const mwl = raw.max_window_layers == null ? 28 : num(raw, 'max_window_layers', where);
    if (!Number.isInteger(mwl) || mwl < 0) throw new UserError(`${where}: "max_window_layers" must be a non-negative integer, got ${mwl}`);
    layers = Array.from({ length: numLayers }, (_, i) => i >= mwl);
  }
  return layers.some(Boolean) ? { slidingWindow: sw, slidingLayers: layers } : {};
}

/**
 * EXAONE 4 (transformers models/exaone4/configuration_exaone4.py): `sliding_window` (null = every
 * layer global), and per layer `layer_types`, or else `sliding_window_pattern`: an integer p makes
 * layer i sliding unless (i + 1) % p == 0; a string such as "LLLG" repeats from layer 0 (L =
 * sliding, G = global) and the last layer is global.
 */
function parseExaone4Window(raw: Record<string, unknown>, numLayers: number, where: string): { slidingWindow?: number; slidingLayers?: boolean[] } {
  const sw = raw.sliding_window;
  if (sw == null) return {};
  if (typeof sw !== 'number' || !Number.isInteger(sw) || sw <= 0) throw new UserError(`${where}: "sliding_window" must be a positive integer or null, got ${JSON.stringify(sw)}`);
  let layers: boolean[];
  const lt = raw.layer_types;
  const pat = raw.sliding_window_pattern ?? 4;
  if (lt != null) {
    if (!Array.isArray(lt) || lt.length !== numLayers || lt.some((t) => t !== 'full_attention' && t !== 'sliding_attention')) {
      throw new UserError(`${where}: "layer_types" must list "full_attention" or "sliding_attention" for each of the ${numLayers} layers`);
    }
    layers = lt.map((t) => t === 'sliding_attention');
  } else if (typeof pat === 'number' && Number.isInteger(pat) && pat > 0) {
    layers = Array.from({ length: numLayers }, (_, i) => (i + 1) % pat !== 0);
  } else if (typeof pat === 'string' && /^[LG]+$/.test(pat)) {
    layers = Array.from({ length: numLayers }, (_, i) => i !== numLayers - 1 && pat[i % pat.length] === 'L');
  } else {
    throw new UserError(`${where}: "sliding_window_pattern" must be a positive integer or a string of L and G, got ${JSON.stringify(pat)}`);
  }
  return { slidingWindow: sw, slidingLayers: layers };
}

/** Whether layer `i` attends within the sliding window. */
export function usesSlidingWindow(c: ModelConfig, i: number): boolean {
  return c.slidingWindow !== undefined && (c.slidingLayers?.[i] ?? true);
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
    const byType: Record<string, Architecture> = { llama: 'LlamaForCausalLM', mistral: 'MistralForCausalLM', qwen2: 'Qwen2ForCausalLM', qwen3: 'Qwen3ForCausalLM', exaone: 'ExaoneForCausalLM', exaone4: 'Exaone4ForCausalLM' };
    architecture = byType[String(raw.model_type)];
    if (!architecture) throw new UserError(`${where}: unknown architecture (no "architectures" and model_type ${JSON.stringify(raw.model_type)}; supported: ${ARCHITECTURES.join(', ')})`);
  }
  // EXAONE 3.x (configuration_exaone.py) names some keys its own way: num_layers,
  // layer_norm_epsilon (default 1e-6), activation_function; its tie_word_embeddings defaults to
  // true and intermediate_size to 4 x hidden_size.
  const exaone = architecture === 'ExaoneForCausalLM';
  const exaone4 = architecture === 'Exaone4ForCausalLM';
  const actKey = exaone ? 'activation_function' : raw.hidden_act !== undefined ? 'hidden_act' : 'hidden_activation';
  const act = raw[actKey] ?? 'silu';
  if (act !== 'silu') throw new UserError(`${where}: "${actKey}" ${JSON.stringify(act)} is not supported (expected "silu")`);

  const hiddenSize = posInt(raw, 'hidden_size', where);
  const numHeads = posInt(raw, 'num_attention_heads', where);
  const numKvHeads = posInt(raw, 'num_key_value_heads', where, numHeads);
  if (numHeads % numKvHeads !== 0) {
    throw new UserError(`${where}: "num_attention_heads" (${numHeads}) must be a multiple of "num_key_value_heads" (${numKvHeads})`);
  }
  const headDim = raw.head_dim == null ? hiddenSize / numHeads : posInt(raw, 'head_dim', where);
  if (!Number.isInteger(headDim)) throw new UserError(`${where}: "hidden_size" (${hiddenSize}) is not divisible by "num_attention_heads" (${numHeads}); set "head_dim"`);
  if (headDim % 2 !== 0) throw new UserError(`${where}: head dim ${headDim} must be even for rotary embeddings`);

  const attentionBias = raw.attention_bias === true || (exaone && raw.bias === true);
  const isQwen2 = architecture === 'Qwen2ForCausalLM';
  const { ropeTheta, ropeScaling } = parseRope(raw, where);
  const numLayers = posInt(raw, exaone && raw.num_hidden_layers == null ? 'num_layers' : 'num_hidden_layers', where);
  const { slidingWindow, slidingLayers } = parseSlidingWindow(raw, architecture, numLayers, where);
  const eos = raw.eos_token_id;
  const eosTokenIds = Array.isArray(eos) ? eos.map(Number) : typeof eos === 'number' ? [eos] : [];
  return {
    architecture,
    modelType: String(raw.model_type ?? architecture.replace(/ForCausalLM$/, '').toLowerCase()),
    vocabSize: posInt(raw, 'vocab_size', where),
    hiddenSize,
    intermediateSize: posInt(raw, 'intermediate_size', where, exaone ? 4 * hiddenSize : undefined),
    numLayers,
    numHeads,
    numKvHeads,
    headDim,
    rmsNormEps: exaone ? num(raw, 'layer_norm_epsilon', where, 1e-6) : num(raw, 'rms_norm_eps', where, exaone4 ? 1e-5 : 1e-6),
    ropeTheta,
    ropeScaling,
    tieWordEmbeddings: exaone ? raw.tie_word_embeddings !== false : raw.tie_word_embeddings === true,
    qkvBias: isQwen2 ? true : attentionBias,
    oBias: isQwen2 ? false : attentionBias,
    mlpBias: raw.mlp_bias === true,
    qkNorm: architecture === 'Qwen3ForCausalLM' || exaone4,
    postNorm: exaone4,
    // "We use global NoPE for hybrid attention model": with a window, the global layers skip RoPE
    noRopeLayers: exaone4 && slidingWindow !== undefined ? slidingLayers!.map((s) => !s) : undefined,
    maxPositionEmbeddings: num(raw, 'max_position_embeddings', where, 2048),
    slidingWindow,
    slidingLayers,
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
    if (!c.postNorm) m.set(`${p}input_layernorm.weight`, [H]);
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
    if (c.postNorm) m.set(`${p}post_feedforward_layernorm.weight`, [H]);
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
