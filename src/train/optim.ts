/**
 * AdamW with decoupled weight decay, the update torch.optim.AdamW makes:
 *   p <- p * (1 - lr * wd)
 *   m <- b1 m + (1 - b1) g          v <- b2 v + (1 - b2) g^2
 *   p <- p - (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 * Each parameter carries its own learning rate (param_groups) and weight decay; biases and norm
 * weights get none (the Hugging Face rule, decided in one place: `decaysByDefault`). The moments
 * are tf variables; `state()` / `loadState()` move them to and from host arrays for checkpoints.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { HostTensor } from '../model/safetensors.ts';
import { fusedAdamW, fusedSumSquares } from '../engine/fused.ts';

export interface AdamWConfig {
  beta1: number;
  beta2: number;
  eps: number;
}

export interface OptimParam {
  name: string;
  variable: tf.Variable;
  /** Base learning rate of this parameter (before the schedule multiplier). */
  lr: number;
  /** Decoupled weight decay coefficient (0 for biases and norm weights). */
  weightDecay: number;
}

/** HF Trainer's no-decay rule: biases and (RMS/Layer)norm weights are not decayed. */
const NO_DECAY = [/bias/, /layernorm/i, /rmsnorm/i, /(?:^|\.)norm(?:$|\.)/, /_norm(?:$|\.)/];
export function decaysByDefault(name: string): boolean {
  return !NO_DECAY.some((re) => re.test(name));
}

export class AdamW {
  readonly params: OptimParam[];
  private m = new Map<string, tf.Variable>();
  private v = new Map<string, tf.Variable>();
  /** Number of updates taken so far (t in the bias corrections). */
  step = 0;

  constructor(params: OptimParam[], readonly cfg: AdamWConfig) {
    this.params = params;
    for (const p of params) {
      // tidy: the zeros tensors go, the variables (their only owners) stay
      tf.tidy(() => {
        this.m.set(p.name, tf.variable(tf.zerosLike(p.variable), false, `adam_m/${p.name}/${uid()}`));
        this.v.set(p.name, tf.variable(tf.zerosLike(p.variable), false, `adam_v/${p.name}/${uid()}`));
      });
    }
  }

  /**
   * Applies one update with the given gradients (name -> gradient) and learning-rate multiplier.
   * Parameters without a gradient are left alone.
   */
  apply(grads: Map<string, tf.Tensor>, lrMultiplier: number): void {
    this.step += 1;
    const { beta1: b1, beta2: b2, eps } = this.cfg;
    const bc1 = 1 - Math.pow(b1, this.step);
    const sqrtBc2 = Math.sqrt(1 - Math.pow(b2, this.step));
    for (const p of this.params) {
      const g = grads.get(p.name);
      if (!g) continue;
      const lr = p.lr * lrMultiplier;
      const m = this.m.get(p.name)!;
      const v = this.v.get(p.name)!;
      // native backend: one in-place pass, no temporaries the size of the parameter
      if (fusedAdamW(p.variable, m, v, g, { lr, wd: p.weightDecay, b1, b2, eps, bc1, sqrtBc2 })) continue;
      tf.tidy(() => {
        const m1 = tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1));
        const v1 = tf.add(tf.mul(v, b2), tf.mul(tf.square(g), 1 - b2));
        const denom = tf.add(tf.div(tf.sqrt(v1), sqrtBc2), eps);
        let w: tf.Tensor = p.variable;
        if (p.weightDecay !== 0 && lr !== 0) w = tf.mul(w, 1 - lr * p.weightDecay);
        const upd = tf.sub(w, tf.mul(tf.div(m1, denom), lr / bc1));
        m.assign(m1);
        v.assign(v1);
        p.variable.assign(upd);
      });
    }
  }

  /** The moments as host tensors (names `exp_avg/<param>`, `exp_avg_sq/<param>`). Async: GPU backends cannot read synchronously in Node. */
  async state(): Promise<Map<string, HostTensor>> {
    const out = new Map<string, HostTensor>();
    for (const p of this.params) {
      const m = this.m.get(p.name)!;
      const v = this.v.get(p.name)!;
      out.set(`exp_avg/${p.name}`, { shape: m.shape.slice(), data: (await m.data()) as Float32Array });
      out.set(`exp_avg_sq/${p.name}`, { shape: v.shape.slice(), data: (await v.data()) as Float32Array });
    }
    return out;
  }

  loadState(tensors: Map<string, HostTensor>, step: number): void {
    for (const p of this.params) {
      for (const [key, store] of [['exp_avg', this.m], ['exp_avg_sq', this.v]] as const) {
        const t = tensors.get(`${key}/${p.name}`);
        if (!t) throw new Error(`optimizer state has no '${key}/${p.name}'`);
        const varb = store.get(p.name)!;
        if (t.shape.join(',') !== varb.shape.join(',')) throw new Error(`optimizer state '${key}/${p.name}' has shape [${t.shape}], expected [${varb.shape}]`);
        tf.tidy(() => varb.assign(tf.tensor(t.data, t.shape, 'float32')));
      }
    }
    this.step = step;
  }

  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
    this.m.clear();
    this.v.clear();
  }
}

let counter = 0;
function uid(): number {
  return counter++;
}

/**
 * Global-norm clipping (torch.nn.utils.clip_grad_norm_): returns the norm before clipping and,
 * when maxNorm > 0 and the norm exceeds it, replaces every gradient by g * maxNorm / (norm + 1e-6)
 * (the old tensors are disposed). maxNorm 0 turns clipping off (the norm is still measured).
 */
export async function clipGradNorm(grads: Map<string, tf.Tensor>, maxNorm: number): Promise<number> {
  let total: number;
  const nativeSq = [...grads.values()].map((g) => fusedSumSquares(g));
  if (nativeSq.every((x) => x !== null)) {
    total = Math.sqrt(nativeSq.reduce((a, b) => a + b, 0)); // native: summed in double, no temporaries
  } else {
    const norm = tf.tidy(() => {
      const sq = [...grads.values()].map((g) => tf.sum(tf.square(g)));
      // Pairwise adds, not addN: webgpu's addN is limited to 8 storage buffers per shader.
      return sq.length === 0 ? tf.scalar(0) : tf.sqrt(sq.reduce((a, b) => tf.add(a, b)));
    });
    // data(), not dataSync(): webgpu in Node has no synchronous read-back.
    total = (await norm.data())[0];
    norm.dispose();
  }
  if (maxNorm > 0 && Number.isFinite(total)) {
    const coef = maxNorm / (total + 1e-6);
    if (coef < 1) {
      for (const [k, g] of grads) {
        grads.set(k, tf.tidy(() => tf.mul(g, coef)));
        g.dispose();
      }
    }
  }
  return total;
}
