/**
 * The native backend's kernels against tfjs's own cpu kernels (the reference: same storage,
 * portable JS), op by op, with the shapes the model uses and the awkward ones (broadcasting on
 * either side, reductions over middle axes, non-contiguous slices, int32 data).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.ts';
import { fusedAdamW, fusedPickLogprobs, fusedRmsNorm, fusedRope, fusedSwiglu } from '../../src/engine/fused.ts';
import { nativeAvailable } from '../helpers/native.ts';

type Host = { shape: number[]; data: number[]; dtype: tf.DataType };
const host = (t: tf.Tensor): Host => ({ shape: t.shape.slice(), data: Array.from(t.dataSync()), dtype: t.dtype });

/** Runs f on the cpu backend and on native with the same inputs (host copies), returns both results. */
async function both(inputs: Host[], f: (...xs: tf.Tensor[]) => tf.Tensor | tf.Tensor[]): Promise<[Host[], Host[]]> {
  const out: Host[][] = [];
  for (const b of ['cpu', 'native']) {
    await initBackend(b, { log: () => {} });
    const r = tf.tidy(() => {
      const xs = inputs.map((h) => tf.tensor(h.data, h.shape, h.dtype));
      const y = f(...xs);
      return (Array.isArray(y) ? y : [y]).map(host);
    });
    out.push(r);
  }
  return [out[0], out[1]];
}

function expectClose(a: Host[], b: Host[], tol = 1e-5): void {
  expect(b.length).toBe(a.length);
  for (let i = 0; i < a.length; i++) {
    expect(b[i].shape).toEqual(a[i].shape);
    expect(b[i].dtype).toBe(a[i].dtype);
    const d = a[i].data.reduce((m, v, j) => Math.max(m, Math.abs(v - b[i].data[j]) / Math.max(1, Math.abs(v))), 0);
    expect(d).toBeLessThanOrEqual(tol);
  }
}

let seed = 1;
const rnd = (shape: number[], dtype: tf.DataType = 'float32'): Host => {
  const n = shape.reduce((a, b) => a * b, 1);
  const data: number[] = [];
  for (let i = 0; i < n; i++) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    data.push(dtype === 'int32' ? seed % 7 : (seed / 2147483648) * 4 - 2);
  }
  return { shape, data, dtype };
};

describe.skipIf(!nativeAvailable())('native backend kernels match the cpu backend', () => {
  beforeAll(async () => {
    await initBackend('native', { log: () => {} });
  });

  it('binary ops broadcast on either side and on middle axes', async () => {
    const cases: [number[], number[]][] = [[[2, 3, 4], [2, 3, 4]], [[2, 3, 4], [4]], [[4], [2, 3, 4]], [[2, 1, 4], [1, 3, 1]], [[2, 3, 4], []], [[], [5]], [[2, 1, 3, 5], [2, 4, 1, 5]], [[0, 3], [3]]];
    for (const [sa, sb] of cases) {
      const [ref, got] = await both([rnd(sa), rnd(sb)], (a, b) => [tf.add(a, b), tf.sub(a, b), tf.mul(a, b), tf.div(a, b), tf.maximum(a, b), tf.minimum(a, b), tf.squaredDifference(a, b)]);
      expectClose(ref, got);
    }
  });

  it('int32 and bool inputs take the portable kernels and keep their dtype', async () => {
    const [ref, got] = await both([rnd([3, 4], 'int32'), rnd([4], 'int32')], (a, b) => [tf.add(a, b), tf.mul(a, b), tf.transpose(a), tf.concat([a, a], 1), tf.slice(a, [0, 1], [3, 2])]);
    expectClose(ref, got, 0);
  });

  it('unary ops, softmax and reductions over every axis set', async () => {
    const x = rnd([3, 4, 5]);
    const pos = { ...x, data: x.data.map((v) => Math.abs(v) + 0.1) };
    const [r1, g1] = await both([x, pos], (a, p) => [tf.exp(a), tf.neg(a), tf.sigmoid(a), tf.sqrt(p), tf.rsqrt(p), tf.square(a), tf.log(p), tf.tanh(a), tf.abs(a), tf.reciprocal(p), tf.relu(a), tf.softmax(a)]);
    expectClose(r1, g1);
    for (const axis of [0, 1, 2, [0, 1], [1, 2], [0, 2], [0, 1, 2], -1]) {
      for (const keep of [false, true]) {
        const [r, g] = await both([x], (a) => [tf.sum(a, axis, keep), tf.max(a, axis, keep), tf.mean(a, axis, keep), tf.min(a, axis, keep)]);
        expectClose(r, g);
      }
    }
  });

  it('transpose, slice, split, concat on 2-5-D tensors', async () => {
    const x = rnd([2, 3, 4, 5]);
    const [r, g] = await both([x], (a) => [
      tf.transpose(a, [0, 2, 1, 3]), tf.transpose(a, [3, 2, 1, 0]), tf.transpose(a, [0, 1, 3, 2]), tf.transpose(tf.reshape(a, [6, 20])),
      tf.slice(a, [0, 1, 1, 2], [2, 2, 3, 3]), tf.slice(a, [1, 0, 0, 0], [1, 3, 4, 5]),
      ...tf.split(a, [2, 3], 3), ...tf.split(a, 3, 1),
      tf.concat([a, tf.mul(a, 2)], 0), tf.concat([a, tf.neg(a), a], 3), tf.concat([tf.slice(a, [0, 0, 0, 0], [2, 3, 4, 0]), a], 3),
    ]);
    expectClose(r, g, 0);
  });

  it('batched matmul: transpose flags and broadcast batch dims ([3,1,..] x [1,4,..])', async () => {
    for (const [sa, sb, ta, tb] of [[[5, 7], [7, 3], false, false], [[7, 5], [3, 7], true, true], [[2, 5, 7], [2, 3, 7], false, true], [[2, 3, 7, 5], [2, 3, 7, 4], true, false], [[1, 5, 7], [4, 7, 3], false, false]] as [number[], number[], boolean, boolean][]) {
      const [r, g] = await both([rnd(sa), rnd(sb)], (a, b) => tf.matMul(a, b, ta, tb));
      expectClose(r, g, 1e-5);
    }
    // tfjs's own cpu kernel broadcasts [3,1,..] x [1,4,..] wrongly: check against a plain loop.
    await initBackend('native', { log: () => {} });
    const a = rnd([3, 1, 2, 3]);
    const b = rnd([1, 4, 3, 2]);
    const c = tf.matMul(tf.tensor(a.data, a.shape), tf.tensor(b.data, b.shape));
    expect(c.shape).toEqual([3, 4, 2, 2]);
    const cv = c.dataSync();
    for (let i = 0; i < 3; i++) for (let j = 0; j < 4; j++) for (let m = 0; m < 2; m++) for (let n = 0; n < 2; n++) {
      let s = 0;
      for (let k = 0; k < 3; k++) s += a.data[i * 6 + m * 3 + k] * b.data[j * 6 + k * 2 + n];
      expect(cv[((i * 4 + j) * 2 + m) * 2 + n]).toBeCloseTo(s, 5);
    }
  });

  it('gather rows and the scatter-add of their gradient, with repeated ids; out-of-range ids throw', async () => {
    const table = rnd([6, 4]);
    const ids: Host = { shape: [2, 3], data: [0, 5, 5, 2, 0, 1], dtype: 'int32' };
    const [r, g] = await both([table, ids], (t, i) => [tf.gather(t, i), tf.scatterND(tf.reshape(i, [6, 1]), tf.reshape(tf.gather(t, i), [6, 4]), [6, 4])]);
    expectClose(r, g, 1e-6);
    expect(() => tf.gather(tf.zeros([3, 2]), tf.tensor1d([3], 'int32'))).toThrow(/out of range/);
  });

  it('the gradients of a small attention block agree (the tape through every native kernel)', async () => {
    const f = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, w: tf.Tensor) =>
      tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => {
        const s = tf.softmax(tf.add(tf.matMul(a, b, false, true), tf.reshape(tf.range(0, 5), [1, 1, 5])), -1);
        const o = tf.matMul(s, c);
        return tf.sum(tf.mul(tf.matMul(tf.reshape(o, [-1, 3]), d, false, true), tf.sigmoid(tf.reshape(o, [-1, 3]))));
      })([q, k, v, w]);
    const [r, g] = await both([rnd([2, 4, 3]), rnd([2, 5, 3]), rnd([2, 5, 3]), rnd([3, 3])], f);
    expectClose(r, g, 1e-4);
  });
});

describe.skipIf(!nativeAvailable())('fused native blocks equal the composite tfjs ops, value and gradient', () => {
  it('RMSNorm', async () => {
    await initBackend('native', { log: () => {} });
    const x = tf.randomNormal([2, 3, 8], 0, 1, 'float32', 1);
    const w = tf.randomNormal([8], 1, 0.1, 'float32', 2);
    const r = tf.randomNormal([2, 3, 8], 0, 1, 'float32', 3);
    const composite = (a: tf.Tensor, b: tf.Tensor) => tf.mul(tf.mul(a, tf.rsqrt(tf.add(tf.mean(tf.square(a), -1, true), 1e-6))), b);
    const fused = (a: tf.Tensor, b: tf.Tensor) => fusedRmsNorm(a, b, 1e-6)!;
    expect(fused(x, w)).not.toBeNull();
    const [gx, gw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(fused(a, b), r)))([x, w]);
    const [cx, cw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(composite(a, b), r)))([x, w]);
    expectClose([host(fused(x, w)), host(gx), host(gw)], [host(composite(x, w)), host(cx), host(cw)], 1e-5);
  });

  it('RoPE (rotate-half) and its transpose', async () => {
    await initBackend('native', { log: () => {} });
    const x = tf.randomNormal([2, 3, 4, 6], 0, 1, 'float32', 4);
    const ang = tf.randomUniform([2, 1, 4, 3], 0, 6, 'float32', 5);
    const emb = tf.concat([ang, ang], -1);
    const [cos, sin] = [tf.cos(emb), tf.sin(emb)];
    const r = tf.randomNormal([2, 3, 4, 6], 0, 1, 'float32', 6);
    const composite = (a: tf.Tensor) => {
      const [a1, a2] = tf.split(a, 2, -1);
      return tf.add(tf.mul(a, cos), tf.mul(tf.concat([tf.neg(a2), a1], -1), sin));
    };
    const g = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(fusedRope(a, cos, sin)!, r)))(x);
    const c = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(composite(a), r)))(x);
    expectClose([host(fusedRope(x, cos, sin)!), host(g)], [host(composite(x)), host(c)], 1e-5);
  });

  it('SwiGLU', async () => {
    await initBackend('native', { log: () => {} });
    const gt = tf.randomNormal([3, 7], 0, 2, 'float32', 7);
    const u = tf.randomNormal([3, 7], 0, 1, 'float32', 8);
    const r = tf.randomNormal([3, 7], 0, 1, 'float32', 9);
    const composite = (a: tf.Tensor, b: tf.Tensor) => tf.mul(tf.mul(a, tf.sigmoid(a)), b);
    const [fa, fb] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(fusedSwiglu(a, b)!, r)))([gt, u]);
    const [ca, cb] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(composite(a, b), r)))([gt, u]);
    expectClose([host(fusedSwiglu(gt, u)!), host(fa), host(fb)], [host(composite(gt, u)), host(ca), host(cb)], 1e-5);
  });

  it('log-softmax picked at the target; ignored (-100) targets give 0 and no gradient', async () => {
    await initBackend('native', { log: () => {} });
    const logits = tf.randomNormal([5, 11], 0, 3, 'float32', 10);
    const tgt = tf.tensor1d([0, 10, -100, 4, 4], 'int32');
    const wgt = tf.tensor1d([1, -2, 5, 3, 0.5]);
    const oneHot = tf.oneHot(tf.tensor1d([0, 10, 0, 4, 4], 'int32'), 11);
    const valid = tf.cast(tf.greaterEqual(tgt, 0), 'float32');
    const composite = (l: tf.Tensor) => tf.mul(tf.sum(tf.mul(tf.logSoftmax(l), oneHot), 1), valid);
    const g = tf.grad((l: tf.Tensor) => tf.sum(tf.mul(fusedPickLogprobs(l as tf.Tensor2D, tgt)!, wgt)))(logits);
    const c = tf.grad((l: tf.Tensor) => tf.sum(tf.mul(composite(l), wgt)))(logits);
    expectClose([host(fusedPickLogprobs(logits as tf.Tensor2D, tgt)!), host(g)], [host(composite(logits)), host(c)], 1e-5);
  });

  it('AdamW in place equals the tfjs update, and refuses a shared parameter', async () => {
    await initBackend('native', { log: () => {} });
    const p0 = tf.randomNormal([4, 5], 0, 1, 'float32', 11);
    const g = tf.randomNormal([4, 5], 0, 1, 'float32', 12);
    const h = { lr: 0.1, wd: 0.01, b1: 0.9, b2: 0.999, eps: 1e-8, bc1: 1 - 0.9, sqrtBc2: Math.sqrt(1 - 0.999) };
    // variables that own their data alone (as the model's and the optimizer's do)
    const own = (t: tf.Tensor) => tf.tidy(() => tf.variable(tf.add(t, 0)));
    const p = own(p0);
    const m = own(tf.zeros([4, 5]));
    const v = own(tf.zeros([4, 5]));
    expect(fusedAdamW(p, m, v, g, h)).toBe(true);
    const m1 = tf.mul(g, 0.1);
    const v1 = tf.mul(tf.square(g), 0.001);
    const want = tf.sub(tf.mul(p0, 1 - h.lr * h.wd), tf.mul(tf.div(m1, tf.add(tf.div(tf.sqrt(v1), h.sqrtBc2), h.eps)), h.lr / h.bc1));
    expectClose([host(p), host(m), host(v)], [host(want), host(m1), host(v1)], 1e-6);
    const view = tf.reshape(p, [20]); // shares p's data: an in-place update would change it too
    expect(fusedAdamW(p, m, v, g, h)).toBe(false);
    view.dispose();
  });
});
