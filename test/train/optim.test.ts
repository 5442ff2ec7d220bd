import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.ts';
import { AdamW, clipGradNorm, decaysByDefault } from '../../src/train/optim.ts';
import { lrMultiplier, warmupSteps } from '../../src/train/schedule.ts';
import { Rng } from '../../src/train/rng.ts';

beforeAll(async () => {
  await initBackend('wasm', { log: () => {} });
});

/** torch.optim.AdamW written out in float64, the oracle for our tensor version. */
function adamwRef(p: number[], grads: number[][], lr: number, wd: number, b1 = 0.9, b2 = 0.999, eps = 1e-8): number[] {
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  const w = p.slice();
  grads.forEach((g, k) => {
    const t = k + 1;
    for (let i = 0; i < w.length; i++) {
      w[i] *= 1 - lr * wd;
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
      const denom = Math.sqrt(v[i]) / Math.sqrt(1 - b2 ** t) + eps;
      w[i] -= (lr / (1 - b1 ** t)) * (m[i] / denom);
    }
  });
  return w;
}

describe('AdamW', () => {
  it('matches the torch AdamW update (decoupled weight decay, bias correction) over several steps', () => {
    const init = [0.5, -1.25, 2, 0.01];
    const grads = [
      [0.1, -0.2, 0.3, 0],
      [-0.05, 0.4, 0.1, 1e-3],
      [0.2, 0.2, -0.7, -0.5],
    ];
    const v = tf.variable(tf.tensor1d(init));
    const opt = new AdamW([{ name: 'model.layers.0.mlp.up_proj.weight', variable: v, lr: 0.01, weightDecay: 0.1 }], { beta1: 0.9, beta2: 0.999, eps: 1e-8 });
    for (const g of grads) {
      const gt = tf.tensor1d(g);
      opt.apply(new Map([['model.layers.0.mlp.up_proj.weight', gt]]), 1);
      gt.dispose();
    }
    const want = adamwRef(init, grads, 0.01, 0.1);
    Array.from(v.dataSync()).forEach((x, i) => expect(x).toBeCloseTo(want[i], 6));
    opt.dispose();
    v.dispose();
  });

  it('does not decay biases and norm weights (Hugging Face rule) but decays projections and embeddings', () => {
    expect(decaysByDefault('model.layers.0.self_attn.q_proj.bias')).toBe(false);
    expect(decaysByDefault('model.layers.3.input_layernorm.weight')).toBe(false);
    expect(decaysByDefault('model.layers.3.post_attention_layernorm.weight')).toBe(false);
    expect(decaysByDefault('model.layers.1.self_attn.q_norm.weight')).toBe(false);
    expect(decaysByDefault('model.norm.weight')).toBe(false);
    expect(decaysByDefault('model.layers.0.self_attn.q_proj.weight')).toBe(true);
    expect(decaysByDefault('model.embed_tokens.weight')).toBe(true);
    expect(decaysByDefault('lm_head.weight')).toBe(true);
  });

  it('round-trips its moments and step through state() / loadState() so the next update is identical', async () => {
    const mk = () => tf.variable(tf.tensor1d([1, 2, 3]));
    const a = mk();
    const b = mk();
    const cfg = { beta1: 0.9, beta2: 0.95, eps: 1e-6 };
    const oa = new AdamW([{ name: 'w', variable: a, lr: 0.1, weightDecay: 0 }], cfg);
    const g1 = tf.tensor1d([0.3, -0.1, 0.2]);
    oa.apply(new Map([['w', g1]]), 1);
    const ob = new AdamW([{ name: 'w', variable: b, lr: 0.1, weightDecay: 0 }], cfg);
    b.assign(a);
    ob.loadState(await oa.state(), oa.step);
    const g2 = tf.tensor1d([-0.2, 0.5, 0.1]);
    oa.apply(new Map([['w', g2]]), 1);
    ob.apply(new Map([['w', g2]]), 1);
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    for (const t of [a, b, g1, g2]) t.dispose();
    oa.dispose();
    ob.dispose();
  });
});

describe('clipGradNorm', () => {
  it('scales gradients to max_norm by the global norm and reports the norm before clipping', async () => {
    const g = new Map<string, tf.Tensor>([
      ['a', tf.tensor1d([3, 0])],
      ['b', tf.tensor1d([0, 4])],
    ]);
    const norm = await clipGradNorm(g, 1);
    expect(norm).toBeCloseTo(5, 5);
    const after = Math.hypot(...g.get('a')!.dataSync(), ...g.get('b')!.dataSync());
    expect(after).toBeCloseTo(1, 4);
    for (const t of g.values()) t.dispose();
  });

  it('leaves gradients untouched when max_grad_norm is 0 (off) or the norm is below it', async () => {
    for (const max of [0, 10]) {
      const g = new Map<string, tf.Tensor>([['a', tf.tensor1d([3, 4])]]);
      expect(await clipGradNorm(g, max)).toBeCloseTo(5, 5);
      expect(Array.from(g.get('a')!.dataSync())).toEqual([3, 4]);
      g.get('a')!.dispose();
    }
  });
});

describe('learning-rate schedules (transformers get_scheduler semantics)', () => {
  const c = (t: 'constant' | 'constant_with_warmup' | 'linear' | 'cosine', warmup_steps = 0, warmup_ratio = 0) => ({ lr_scheduler_type: t, warmup_steps, warmup_ratio });
  it('linear warms up from 0 and decays to 0 at the last step', () => {
    const m = [0, 1, 2, 3, 4, 5, 6].map((s) => lrMultiplier(c('linear', 2), s, 6));
    expect(m).toEqual([0, 0.5, 1, 0.75, 0.5, 0.25, 0]);
  });
  it('cosine follows 0.5 * (1 + cos(pi * progress)) after warmup', () => {
    expect(lrMultiplier(c('cosine', 2), 1, 10)).toBeCloseTo(0.5);
    expect(lrMultiplier(c('cosine', 2), 2, 10)).toBeCloseTo(1);
    expect(lrMultiplier(c('cosine', 2), 6, 10)).toBeCloseTo(0.5);
    expect(lrMultiplier(c('cosine', 2), 10, 10)).toBeCloseTo(0);
  });
  it('constant ignores warmup, constant_with_warmup does not', () => {
    expect(lrMultiplier(c('constant', 5), 0, 10)).toBe(1);
    expect(lrMultiplier(c('constant_with_warmup', 4), 1, 10)).toBe(0.25);
    expect(lrMultiplier(c('constant_with_warmup', 4), 7, 10)).toBe(1);
  });
  it('warmup_ratio rounds up to whole steps and warmup_steps wins over it', () => {
    expect(warmupSteps({ warmup_steps: 0, warmup_ratio: 0.1 }, 25)).toBe(3);
    expect(warmupSteps({ warmup_steps: 7, warmup_ratio: 0.5 }, 25)).toBe(7);
  });
});

describe('Rng', () => {
  it('is reproducible from a seed and resumes exactly from a saved state', () => {
    const a = new Rng(42);
    const first = Array.from({ length: 5 }, () => a.nextU32());
    const again = new Rng(42);
    expect(Array.from({ length: 5 }, () => again.nextU32())).toEqual(first);
    const b = new Rng(42);
    for (let i = 0; i < 3; i++) b.nextU32();
    const c = Rng.fromState(b.state());
    expect([b.nextU32(), b.nextU32()]).toEqual([c.nextU32(), c.nextU32()]);
    expect(new Rng(42).nextU32()).toBe(first[0]);
    expect(new Rng(43).nextU32()).not.toBe(first[0]);
  });
  it('draws uniforms in [lo, hi) with a mean near the middle', () => {
    const x = new Rng(1).fillUniform(new Float32Array(20000), -1, 1);
    let s = 0;
    for (const v of x) {
      expect(v).toBeGreaterThanOrEqual(-1);
      expect(v).toBeLessThan(1);
      s += v;
    }
    expect(Math.abs(s / x.length)).toBeLessThan(0.03);
  });
});
