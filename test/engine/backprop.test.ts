/**
 * The lean backward pass computes exactly tfjs's gradients, leaks nothing, and frees the
 * forward's saved tensors as it goes (measured by a probe at the start of the chain, whose
 * gradient runs last).
 */
import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.ts';
import { tfjsGradients } from '../../src/engine/backprop.ts';
import { CPU_BACKENDS } from '../helpers/native.ts';

type Gradients = NonNullable<typeof tfjsGradients>;
const engine = () => tf.engine() as unknown as { gradients: Gradients };

/** A deep chain with broadcasting, a reused input, softmax and matmuls; `probe` sees the bytes alive when backward reaches the first op. */
function chain(x: tf.Tensor, w: tf.Tensor, probe: { bytes: number }): tf.Tensor {
  const mark = tf.customGrad(((a: tf.Tensor, save: tf.GradSaveFunc) => {
    save([]);
    return { value: tf.clone(a), gradFunc: (dy: tf.Tensor) => { probe.bytes = tf.memory().numBytes; return [tf.clone(dy)]; } };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (a: tf.Tensor) => tf.Tensor;
  let h = mark(x);
  for (let i = 0; i < 6; i++) {
    const s = tf.softmax(tf.matMul(h, w));
    h = tf.add(tf.mul(s, h), tf.mul(h, tf.sigmoid(h))); // h used twice
  }
  return tf.sum(tf.mul(h, tf.range(0, h.shape[1]!).reshape([1, -1])));
}

describe.each(CPU_BACKENDS)('lean backprop on %s', (backend) => {
  it('gives the same gradients as tfjs, frees saved tensors early, and leaks nothing', async () => {
    await initBackend(backend, { log: () => {} });
    const x = tf.randomNormal([64, 32], 0, 1, 'float32', 1);
    const w = tf.randomNormal([32, 32], 0, 0.3, 'float32', 2);
    const before = tf.memory().numTensors;
    const lean = { bytes: 0 };
    const plain = { bytes: 0 };
    const a = engine().gradients(() => chain(x, w, lean), [x, w]);
    const b = tfjsGradients!.call(tf.engine(), () => chain(x, w, plain), [x, w]);
    for (let i = 0; i < 2; i++) {
      const d = tf.tidy(() => tf.max(tf.abs(tf.sub(a.grads[i], b.grads[i]))).dataSync()[0]);
      expect(d).toBe(0);
    }
    expect(a.value.dataSync()[0]).toBe(b.value.dataSync()[0]);
    expect(lean.bytes).toBeLessThan(plain.bytes * 0.6);
    tf.dispose([a.value, b.value, ...a.grads, ...b.grads]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('keeps the caller dy and nested gradients working (tf.grads of tf.grads input)', async () => {
    await initBackend(backend, { log: () => {} });
    const x = tf.tensor1d([0.5, -1, 2]);
    const dy = tf.tensor1d([1, 2, 3]);
    const g = tf.grad((t: tf.Tensor) => tf.mul(tf.square(t), 3))(x, dy);
    expect(Array.from(g.dataSync())).toEqual([3, -12, 36]); // 6 x dy
    expect(dy.isDisposed).toBe(false);
    expect(Array.from(dy.dataSync())).toEqual([1, 2, 3]);
  });
});
