/**
 * The Llama-family decoder (Llama, Mistral, Qwen2, Qwen3) on tfjs-core ops only, so it runs on
 * every backend. Parameters keep their Hugging Face names. Read it top to bottom:
 *
 *   x = embed(ids)                                    [B, T, H]
 *   for each layer:
 *     x = x + attention(rmsnorm(x))                   grouped-query attention with RoPE
 *     x = x + mlp(rmsnorm(x))                         SwiGLU: down(silu(gate(x)) * up(x))
 *   logits = lm_head(rmsnorm(x))                      [B, T, V]  (lm_head = embed when tied)
 *
 * Speed on the wasm backend (see DESIGN.md "Tensor engine"; numbers in bench/forward.ts):
 *   - the embedding lookup has a hand-written gradient (wasm has no UnsortedSegmentSum, the
 *     gradient of gather; we scatter-add instead);
 *   - matrix products never use matMul's transpose flags (10-40x slower on wasm): linear layers
 *     and attention products have gradients that transpose explicitly (linear2d, matmul);
 *   - weight transposes are cached until the weight changes (XNNPACK then also reuses its packed
 *     copy: ~4x faster decoding), and batched attention products run per batch entry (bmm).
 * GPU backends (webgpu, tensorflow) take tfjs's own matMul and gradients instead.
 */
import * as tf from '@tensorflow/tfjs-core';
// tfjs-core alone registers no gradients; this module does (see its comment).
import '../engine/tfjs.ts';
import { fusedRmsNorm, fusedRope, fusedSwiglu } from '../engine/fused.ts';
import { recomputeInBackward } from '../engine/recompute.ts';
import type { Rng } from '../train/rng.ts';
import { type ModelConfig, paramShapes, usesSlidingWindow } from './config.ts';
import type { HostTensor } from './safetensors.ts';
import { UserError } from '../util/errors.ts';

/* ------------------------------------------------------------------------------------------ */
/* Ops with hand-written gradients                                                             */
/* ------------------------------------------------------------------------------------------ */

type TwoInputGrad = (a: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
  value: tf.Tensor;
  gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor[];
};

/** tf.customGrad for an op of two tensors (typed; tfjs types it variadically). */
export function customGrad2(f: TwoInputGrad): (a: tf.Tensor, b: tf.Tensor) => tf.Tensor {
  return tf.customGrad(f as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (a: tf.Tensor, b: tf.Tensor) => tf.Tensor;
}

/** Swaps the last two axes. */
function transposeLast2(t: tf.Tensor): tf.Tensor {
  const r = t.rank;
  const perm = [...Array(r).keys()];
  perm[r - 2] = r - 1;
  perm[r - 1] = r - 2;
  return tf.transpose(t, perm);
}

/**
 * a @ b for rank-3..4 tensors with equal batch dims, no transpose flags. On wasm a batched
 * matMul (batch > 1) runs ~3.5x slower than the same products done one batch entry at a time
 * (the batch-1 path uses XNNPACK), and slicing there is slow too, so each entry is taken from
 * the host copy (a memcpy on wasm) and the products are concatenated.
 */
export function bmm(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  const lead = a.shape.slice(0, -2);
  const n = lead.reduce((x, y) => x * y, 1);
  const [m, k] = a.shape.slice(-2);
  const nOut = b.shape[b.rank - 1];
  // Small products (decoding one token) are dominated by per-op overhead: one batched call.
  if (n <= 1 || tf.getBackend() !== 'wasm' || m * k * nOut < 65536) return tf.matMul(a, b);
  const ad = a.dataSync() as Float32Array;
  const bd = b.dataSync() as Float32Array;
  return tf.tidy(() => {
    const outs: tf.Tensor[] = [];
    for (let i = 0; i < n; i++) {
      const x = tf.tensor3d(ad.subarray(i * m * k, (i + 1) * m * k), [1, m, k]);
      const y = tf.tensor3d(bd.subarray(i * k * nOut, (i + 1) * k * nOut), [1, k, nOut]);
      outs.push(tf.matMul(x, y));
    }
    return tf.reshape(tf.concat(outs, 0), [...lead, m, nOut]);
  });
}

/**
 * a @ b for rank-2..4 tensors with equal batch dims, with a gradient that transposes explicitly:
 * da = dy @ b^T, db = a^T @ dy.
 */
export const matmul = customGrad2((a, b, save) => {
  save([a, b]);
  return {
    value: bmm(a, b),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sa, sb] = saved;
      return [bmm(dy, transposeLast2(sb)), bmm(transposeLast2(sa), dy)];
    },
  };
});

/**
 * y = x @ W^T for x [N, in] and W [out, in] (the torch.nn.Linear layout), with the gradient
 * dx = dy @ W, dW = dy^T @ x written with explicit transposes. `wT` is W^T when the caller has
 * it cached (XNNPACK on wasm also reuses its packed copy of a matrix it has seen before).
 */
export function linear2d(x: tf.Tensor2D, w: tf.Tensor2D, wT?: tf.Tensor2D): tf.Tensor2D {
  const op = customGrad2((xi, wi, save) => {
    save([xi, wi]);
    return {
      value: tf.matMul(xi, wT ?? tf.transpose(wi)),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, sw] = saved;
        return [tf.matMul(dy, sw), tf.matMul(tf.transpose(dy), sx)];
      },
    };
  });
  return op(x, w) as tf.Tensor2D;
}

/**
 * Engine switches. `explicitTransposeGrads: false` falls back to tfjs's built-in matMul gradient
 * (transpose flags) everywhere; it exists to measure the difference (bench/forward.ts).
 */
export const engineOptions = { explicitTransposeGrads: true };

/**
 * Whether to avoid matMul's transpose flags: on the CPU backends (wasm, cpu) they are 10-40x
 * slower than an explicit transpose; GPU backends (webgpu, tensorflow) handle them natively.
 */
export function explicitTransposes(): boolean {
  if (!engineOptions.explicitTransposeGrads) return false;
  const b = tf.getBackend();
  return b === 'wasm' || b === 'cpu';
}

/** y = x @ W^T (+ b) for x [..., in]; returns [..., out]. `wT`: a cached W^T (CPU backends). */
export function linear(x: tf.Tensor, w: tf.Tensor, b?: tf.Tensor, wT?: tf.Tensor): tf.Tensor {
  const inDim = x.shape[x.rank - 1];
  const outDim = w.shape[0];
  const x2 = tf.reshape(x, [-1, inDim]) as tf.Tensor2D;
  const y2 = explicitTransposes() ? linear2d(x2, w as tf.Tensor2D, wT as tf.Tensor2D | undefined) : tf.matMul(x2, w as tf.Tensor2D, false, true);
  const y = tf.reshape(y2, [...x.shape.slice(0, -1), outDim]);
  return b ? tf.add(y, b) : y;
}

/**
 * Embedding lookup W[ids] -> [..., H]. Its gradient scatter-adds dy rows into a zero [V, H]
 * (scatterND sums rows whose ids repeat), since wasm lacks the gather gradient's kernel.
 */
export function embedLookup(w: tf.Tensor2D, ids: tf.Tensor): tf.Tensor {
  const flat = tf.reshape(ids, [-1]);
  // The ids are an input (saved), not a closure: a closure tensor is disposed by the forward's
  // tidy before the backward pass runs inside tf.variableGrads.
  const lookup = customGrad2((table, idx, save) => {
    save([idx]);
    return {
      value: tf.gather(table, idx),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [tf.scatterND(tf.expandDims(saved[0], 1), dy, table.shape), tf.zerosLike(saved[0])],
    };
  });
  const rows = lookup(w, flat);
  return tf.reshape(rows, [...ids.shape, w.shape[1]]);
}

/* ------------------------------------------------------------------------------------------ */
/* Building blocks                                                                             */
/* ------------------------------------------------------------------------------------------ */

/** RMSNorm in float32: x * rsqrt(mean(x^2) + eps) * w, over the last axis. */
export function rmsNorm(x: tf.Tensor, w: tf.Tensor, eps: number): tf.Tensor {
  const fused = fusedRmsNorm(x, w, eps);
  if (fused) return fused;
  const ms = tf.mean(tf.square(x), -1, true);
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(ms, eps))), w);
}

/** inv_freq[i] = theta^(-2i/d), i = 0..d/2-1, with optional linear / llama3 scaling. */
export function ropeInvFreq(c: ModelConfig): Float32Array {
  const d = c.headDim;
  const inv = new Float64Array(d / 2);
  for (let i = 0; i < d / 2; i++) inv[i] = 1 / c.ropeTheta ** ((2 * i) / d);
  const s = c.ropeScaling;
  if (s?.type === 'linear') for (let i = 0; i < inv.length; i++) inv[i] /= s.factor;
  if (s?.type === 'llama3') {
    const lowF = s.lowFreqFactor ?? 1;
    const highF = s.highFreqFactor ?? 4;
    const oldCtx = s.originalMaxPositionEmbeddings ?? 8192;
    const lowWl = oldCtx / lowF;
    const highWl = oldCtx / highF;
    for (let i = 0; i < inv.length; i++) {
      const wl = (2 * Math.PI) / inv[i];
      if (wl > lowWl) inv[i] = inv[i] / s.factor;
      else if (wl >= highWl) {
        const smooth = (oldCtx / wl - lowF) / (highF - lowF);
        inv[i] = (1 - smooth) * (inv[i] / s.factor) + smooth * inv[i];
      }
    }
  }
  return Float32Array.from(inv);
}

/** cos, sin for positions [B, T]: each [B, 1, T, d] (angles concatenated twice, for rotate-half). */
function ropeTables(positions: tf.Tensor2D, invFreq: tf.Tensor1D): [tf.Tensor, tf.Tensor] {
  const ang = tf.mul(tf.expandDims(tf.cast(positions, 'float32'), 2), invFreq); // [B, T, d/2]
  const emb = tf.expandDims(tf.concat([ang, ang], -1), 1); // [B, 1, T, d]
  return [tf.cos(emb), tf.sin(emb)];
}

/** x * cos + rotate_half(x) * sin, rotate_half(x) = cat(-x2, x1); x [B, heads, T, d]. */
function applyRope(x: tf.Tensor, cos: tf.Tensor, sin: tf.Tensor): tf.Tensor {
  const fused = fusedRope(x, cos, sin);
  if (fused) return fused;
  const d = x.shape[x.rank - 1];
  const [x1, x2] = tf.split(x, [d / 2, d / 2], -1);
  const rot = tf.concat([tf.neg(x2), x1], -1);
  return tf.add(tf.mul(x, cos), tf.mul(rot, sin));
}

/* ------------------------------------------------------------------------------------------ */
/* The model                                                                                   */
/* ------------------------------------------------------------------------------------------ */

export interface ForwardOptions {
  /** Called with the token embeddings [B, T, H]; returns the embeddings to use (NEFTune noise). */
  embedHook?: (embeds: tf.Tensor3D) => tf.Tensor3D;
  /**
   * Called for every projection with its HF name (e.g. 'model.layers.0.self_attn.q_proj',
   * 'lm_head'), its input x [..., in] and output y [..., out]; returns the output to use (LoRA).
   */
  linearHook?: (name: string, x: tf.Tensor, y: tf.Tensor) => tf.Tensor;
  /** int32 [B, T]: packed sequences; a token attends only to earlier tokens of its own segment. */
  segmentIds?: tf.Tensor2D;
  /** int32 [B, T]: RoPE positions (restart per packed segment; per row for left padding). */
  positionIds?: tf.Tensor2D;
  /** [B, past + T]: 1 for real tokens, 0 for padding (covers cached positions too). */
  attentionMask?: tf.Tensor2D;
  /** Key/value cache for incremental decoding; updated in place (old tensors disposed). */
  cache?: KVCache;
  /** Return logits for the last position only ([B, 1, V]); saves the lm_head on the rest. */
  lastOnly?: boolean;
  /**
   * int32 [n]: flat positions (b * T + t) whose logits are wanted; returns [1, n, V]. Training
   * uses it to run the lm_head (and hold its [n, V] logits and gradient) only where labels train.
   */
  logitRows?: tf.Tensor1D;
  /**
   * Gradient checkpointing (training): each layer keeps only its input and recomputes its
   * activations in the backward pass. `variables(i)` are the trainable tensors layer i reads
   * (its weights and adapters); `rng` is replayed so the recompute draws the same dropout.
   */
  checkpoint?: { variables: (layer: number) => tf.Variable[]; rng?: Rng };
}

/** Per-layer keys/values after RoPE, [B, kvHeads, past, headDim], kept across forward calls. */
export class KVCache {
  keys: (tf.Tensor4D | null)[];
  values: (tf.Tensor4D | null)[];
  length = 0;
  constructor(numLayers: number) {
    this.keys = new Array(numLayers).fill(null);
    this.values = new Array(numLayers).fill(null);
  }
  /** Appends this step's k/v for `layer` and returns the full k/v (kept outside tidy). */
  append(layer: number, k: tf.Tensor4D, v: tf.Tensor4D): [tf.Tensor4D, tf.Tensor4D] {
    const oldK = this.keys[layer];
    const oldV = this.values[layer];
    const nk = oldK ? (tf.concat([oldK, k], 2) as tf.Tensor4D) : (tf.clone(k) as tf.Tensor4D);
    const nv = oldV ? (tf.concat([oldV, v], 2) as tf.Tensor4D) : (tf.clone(v) as tf.Tensor4D);
    tf.keep(nk);
    tf.keep(nv);
    oldK?.dispose();
    oldV?.dispose();
    this.keys[layer] = nk;
    this.values[layer] = nv;
    return [nk, nv];
  }
  dispose(): void {
    for (const t of [...this.keys, ...this.values]) t?.dispose();
    this.keys.fill(null);
    this.values.fill(null);
    this.length = 0;
  }
}

const NEG = -1e9;

/** What every layer of one forward pass shares. */
interface BlockContext {
  B: number;
  T: number;
  cos: tf.Tensor;
  sin: tf.Tensor;
  bias: tf.Tensor;
  /** The bias of sliding-window layers (the same tensor as `bias` when no layer slides). */
  swBias: tf.Tensor;
  hook: ForwardOptions['linearHook'];
  cache?: KVCache;
}

export class LlamaModel {
  readonly config: ModelConfig;
  /** Parameters by Hugging Face name. */
  readonly params: Map<string, tf.Variable>;
  private readonly invFreq: tf.Tensor1D;
  private readonly tCache = new Map<string, { dataId: object; t: tf.Tensor }>();

  constructor(config: ModelConfig, params: Map<string, tf.Variable>) {
    this.config = config;
    this.params = params;
    for (const name of paramShapes(config).keys()) {
      if (!params.has(name)) throw new UserError(`model: missing tensor '${name}'`);
    }
    this.invFreq = tf.keep(tf.tensor1d(ropeInvFreq(config)));
  }

  /**
   * Builds a model from host tensors (e.g. read from safetensors). Every expected tensor must be
   * present with the expected shape; `where` names the source in errors.
   */
  static fromHost(config: ModelConfig, tensors: Map<string, HostTensor>, where = 'model', trainable = true): LlamaModel {
    const params = new Map<string, tf.Variable>();
    try {
      for (const [name, shape] of paramShapes(config)) {
        const t = tensors.get(name);
        if (!t) throw new UserError(`${where}: missing tensor '${name}'`);
        if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
          throw new UserError(`${where}: tensor '${name}' has shape [${t.shape}], expected [${shape}] from config.json`);
        }
        const init = tf.tensor(t.data, shape, 'float32');
        params.set(name, tf.variable(init, trainable));
        init.dispose(); // the variable holds its own reference to the data
      }
    } catch (e) {
      for (const v of params.values()) v.dispose();
      throw e;
    }
    return new LlamaModel(config, params);
  }

  private p(name: string): tf.Variable {
    return this.params.get(name)!;
  }

  /**
   * W^T of a weight, cached until the variable is assigned new values (on the CPU backends,
   * where linear layers multiply by an explicit transpose). Saves the transpose and lets
   * XNNPACK reuse its packed matrix: decoding and scoring with fixed weights get much faster.
   */
  private weightT(name: string): tf.Tensor | undefined {
    if (!explicitTransposes()) return undefined;
    const w = this.p(name);
    const hit = this.tCache.get(name);
    if (hit && hit.dataId === w.dataId) return hit.t;
    hit?.t.dispose();
    const t = tf.keep(tf.transpose(w));
    this.tCache.set(name, { dataId: w.dataId, t });
    return t;
  }

  private proj(name: string, x: tf.Tensor, hook: ForwardOptions['linearHook']): tf.Tensor {
    const y = linear(x, this.p(`${name}.weight`), this.params.get(`${name}.bias`), this.weightT(`${name}.weight`));
    return hook ? hook(name, x, y) : y;
  }

  /**
   * Additive attention bias [B|1, 1, T, past+T]: 0 where query i may see key j, -1e9 elsewhere.
   * Allowed = causal (j <= past + i), within the sliding window `w` if given, same segment, key not padding.
   */
  private attentionBias(B: number, T: number, past: number, opts: ForwardOptions, w?: number): tf.Tensor {
    const S = past + T;
    const qPos = tf.reshape(tf.add(tf.range(0, T, 1, 'int32'), past), [T, 1]);
    const kPos = tf.reshape(tf.range(0, S, 1, 'int32'), [1, S]);
    let allowed: tf.Tensor = tf.reshape(tf.lessEqual(kPos, qPos), [1, 1, T, S]);
    if (w !== undefined && S > w) {
      // sliding window: query i sees keys j with i - j < window
      allowed = tf.logicalAnd(allowed, tf.reshape(tf.less(tf.sub(qPos, kPos), w), [1, 1, T, S]));
    }
    if (opts.segmentIds) {
      if (past > 0) throw new Error('segmentIds cannot be combined with a KV cache');
      const s = opts.segmentIds;
      const same = tf.equal(tf.reshape(s, [B, 1, T, 1]), tf.reshape(s, [B, 1, 1, T]));
      allowed = tf.logicalAnd(allowed, same);
    }
    if (opts.attentionMask) {
      const m = tf.reshape(tf.greater(opts.attentionMask, 0), [B, 1, 1, S]);
      allowed = tf.logicalAnd(allowed, m);
    }
    return tf.mul(tf.sub(1, tf.cast(allowed, 'float32')), NEG);
  }

  /**
   * One decoder layer: x + attention(rmsnorm(x)), then + mlp(rmsnorm(.)); post-norm layers
   * (EXAONE 4) norm the outputs instead: x + rmsnorm(attention(x)), then + rmsnorm(mlp(.)). x [B, T, H].
   */
  private block(i: number, xIn: tf.Tensor, ctx: BlockContext): tf.Tensor {
    const c = this.config;
    const { B, T, cos, sin, hook, cache } = ctx;
    const bias = usesSlidingWindow(c, i) ? ctx.swBias : ctx.bias;
    const A = c.numHeads;
    const K = c.numKvHeads;
    const rep = A / K;
    const hd = c.headDim;
    const scale = 1 / Math.sqrt(hd);
    const p = `model.layers.${i}.`;
    let x = xIn;
    // ---- attention ----
    const h = c.postNorm ? x : rmsNorm(x, this.p(`${p}input_layernorm.weight`), c.rmsNormEps);
    let q = tf.reshape(this.proj(`${p}self_attn.q_proj`, h, hook), [B, T, A, hd]);
    let k = tf.reshape(this.proj(`${p}self_attn.k_proj`, h, hook), [B, T, K, hd]);
    let v = tf.reshape(this.proj(`${p}self_attn.v_proj`, h, hook), [B, T, K, hd]);
    if (c.qkNorm) {
      q = rmsNorm(q, this.p(`${p}self_attn.q_norm.weight`), c.rmsNormEps);
      k = rmsNorm(k, this.p(`${p}self_attn.k_norm.weight`), c.rmsNormEps);
    }
    const rope = !c.noRopeLayers?.[i];
    q = tf.transpose(q, [0, 2, 1, 3]); // [B, A, T, hd]
    k = tf.transpose(k, [0, 2, 1, 3]); // [B, K, T, hd]
    if (rope) {
      q = applyRope(q, cos, sin);
      k = applyRope(k, cos, sin);
    }
    v = tf.transpose(v, [0, 2, 1, 3]); // [B, K, T, hd]
    if (cache) [k, v] = cache.append(i, k as tf.Tensor4D, v as tf.Tensor4D); // [B, K, S, hd]
    const S = k.shape[2] as number;
    // GQA without copying k/v: the `rep` query heads sharing kv head g are stacked along T.
    const qg = tf.reshape(tf.mul(q, scale), [B, K, rep * T, hd]);
    const explicit = explicitTransposes();
    const scores = tf.reshape(explicit ? matmul(qg, transposeLast2(k)) : tf.matMul(qg, k, false, true), [B, A, T, S]);
    const att = tf.reshape(tf.softmax(tf.add(scores, bias), -1), [B, K, rep * T, S]);
    const av = explicit ? matmul(att, v) : tf.matMul(att, v);
    const o = tf.reshape(tf.transpose(tf.reshape(av, [B, A, T, hd]), [0, 2, 1, 3]), [B, T, A * hd]);
    const attn = this.proj(`${p}self_attn.o_proj`, o, hook);
    x = tf.add(x, c.postNorm ? rmsNorm(attn, this.p(`${p}post_attention_layernorm.weight`), c.rmsNormEps) : attn);
    // ---- SwiGLU MLP ----
    const h2 = c.postNorm ? x : rmsNorm(x, this.p(`${p}post_attention_layernorm.weight`), c.rmsNormEps);
    const g = this.proj(`${p}mlp.gate_proj`, h2, hook);
    const u = this.proj(`${p}mlp.up_proj`, h2, hook);
    const act = fusedSwiglu(g, u) ?? tf.mul(tf.mul(g, tf.sigmoid(g)), u); // silu(g) * u
    const mlp = this.proj(`${p}mlp.down_proj`, act, hook);
    x = tf.add(x, c.postNorm ? rmsNorm(mlp, this.p(`${p}post_feedforward_layernorm.weight`), c.rmsNormEps) : mlp);
    return x;
  }

  /** ids [B, T] int32 -> logits [B, T, V] float32 (or [B, 1, V] with lastOnly). */
  forward(ids: tf.Tensor2D, opts: ForwardOptions = {}): tf.Tensor3D {
    const c = this.config;
    const [B, T] = ids.shape;
    const cache = opts.cache;
    const past = cache?.length ?? 0;
    const hook = opts.linearHook;

    return tf.tidy(() => {
      let x = embedLookup(this.p('model.embed_tokens.weight') as tf.Tensor2D, ids) as tf.Tensor3D; // [B, T, H]
      if (opts.embedHook) x = opts.embedHook(x);

      const positions = opts.positionIds ?? (tf.tile(tf.reshape(tf.add(tf.range(0, T, 1, 'int32'), past), [1, T]), [B, 1]) as tf.Tensor2D);
      const [cos, sin] = ropeTables(positions, this.invFreq); // [B, 1, T, hd]
      const bias = this.attentionBias(B, T, past, opts); // [B|1, 1, T, past+T], full attention
      // layers with sliding-window attention (all for Mistral; Qwen2/3: i >= max_window_layers)
      const swBias = c.slidingWindow !== undefined ? this.attentionBias(B, T, past, opts, c.slidingWindow) : bias;

      const ctx: BlockContext = { B, T, cos, sin, bias, swBias, hook, cache };
      const ck = opts.checkpoint;
      for (let i = 0; i < c.numLayers; i++) {
        if (ck && !cache) {
          // Gradient checkpointing: keep only the layer's input; backward recomputes the rest.
          const run = (xi: tf.Tensor, [cs, sn, bs, sw]: tf.Tensor[]) => this.block(i, xi, { ...ctx, cos: cs, sin: sn, bias: bs, swBias: sw });
          x = recomputeInBackward(run, x, [cos, sin, bias, swBias], ck.variables(i), ck.rng) as tf.Tensor3D;
        } else {
          // A tidy per layer frees its intermediates now, not at the end of the whole forward
          // (what backward needs is saved by each op and survives the tidy).
          const xi = x;
          x = tf.tidy(() => this.block(i, xi, ctx)) as tf.Tensor3D;
        }
      }
      if (cache) cache.length = past + T;
      let xf = rmsNorm(x, this.p('model.norm.weight'), c.rmsNormEps);
      if (opts.lastOnly) xf = tf.slice(xf, [0, T - 1, 0], [B, 1, -1]);
      else if (opts.logitRows) xf = tf.expandDims(embedLookup(tf.reshape(xf, [B * T, c.hiddenSize]) as tf.Tensor2D, opts.logitRows), 0);
      const headName = c.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight';
      const logits = linear(xf, this.p(headName), undefined, this.weightT(headName));
      return (hook ? hook('lm_head', xf, logits) : logits) as tf.Tensor3D;
    });
  }

  /** Host copies of every parameter (for saving). */
  async toHost(): Promise<Map<string, HostTensor>> {
    const out = new Map<string, HostTensor>();
    for (const [name, v] of this.params) out.set(name, { shape: v.shape, data: (await v.data()) as Float32Array });
    return out;
  }

  /** Number of parameters. */
  numParams(): number {
    let n = 0;
    for (const v of this.params.values()) n += v.size;
    return n;
  }

  /** Drops the cached weight transposes (they are rebuilt on demand). */
  clearCaches(): void {
    for (const { t } of this.tCache.values()) t.dispose();
    this.tCache.clear();
  }

  dispose(): void {
    this.clearCaches();
    for (const v of this.params.values()) v.dispose();
    this.invFreq.dispose();
  }
}
