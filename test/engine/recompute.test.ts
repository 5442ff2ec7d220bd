/**
 * Gradient checkpointing gives the same loss and gradients as the ordinary backward pass (full
 * weights, and LoRA with dropout, whose masks the recompute must replay), keeps fewer tensors
 * alive between forward and backward, and leaks none.
 */
import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { join } from 'node:path';
import { initBackend } from '../../src/engine/backend.ts';
import { loadModel } from '../../src/model/checkpoint.ts';
import { collate, toUnit } from '../../src/train/data.ts';
import { LoraAdapters } from '../../src/train/lora.ts';
import { checkpointOption } from '../../src/train/params.ts';
import { Rng } from '../../src/train/rng.ts';
import { sftLossSum } from '../../src/train/sft.ts';
import { repoRoot } from '../helpers/cli.ts';
import { CPU_BACKENDS } from '../helpers/native.ts';

const MODEL = join(repoRoot, 'test', 'fixtures', 'train', 'tiny-llama');

function batch() {
  const rows = [
    { input_ids: [1, 5, 9, 12, 7, 3, 22, 8], labels: [-100, -100, 9, 12, 7, 3, 22, 8] },
    { input_ids: [4, 4, 18, 2, 30], labels: [-100, 4, 18, 2, 30] },
  ];
  return collate(rows.map((r) => toUnit(r, 16)), 0);
}

describe.each(CPU_BACKENDS.filter((b) => b !== 'cpu'))('gradient checkpointing on %s', (backend) => {
  it('full weights: the same loss and gradients, fewer tensors kept for the backward pass', async () => {
    await initBackend(backend, { log: () => {} });
    const model = await loadModel(MODEL);
    const vars = [...model.params.values()];
    const params = [...model.params].map(([name, variable]) => ({ name, variable, lr: 1, weightDecay: 0 }));
    const b = batch();
    const run = (ck: boolean) => {
      let kept = 0;
      const r = tf.variableGrads(() => {
        const loss = sftLossSum(model, b, { checkpoint: checkpointOption(ck, params, new Rng(1)) });
        kept = tf.memory().numTensors;
        return loss;
      }, vars);
      const loss = r.value.dataSync()[0];
      r.value.dispose();
      return { loss, grads: r.grads, kept };
    };
    tf.dispose(Object.values(run(false).grads)); // warm-up: fills wasm's cached weight transposes
    const before = tf.memory().numTensors;
    const plain = run(false);
    tf.dispose(Object.values(plain.grads));
    expect(tf.memory().numTensors).toBe(before);
    const ck = run(true);
    const again = run(false);
    expect(ck.loss).toBeCloseTo(plain.loss, 5);
    for (const [name, g] of Object.entries(again.grads)) {
      const d = tf.tidy(() => tf.max(tf.abs(tf.sub(g, ck.grads[name]))).dataSync()[0]);
      expect(d, name).toBeLessThan(1e-5);
    }
    expect(ck.kept).toBeLessThan(plain.kept);
    tf.dispose([...Object.values(again.grads), ...Object.values(ck.grads)]);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('LoRA with dropout: the recompute replays the same dropout masks', async () => {
    await initBackend(backend, { log: () => {} });
    const model = await loadModel(MODEL);
    const lora = LoraAdapters.create(model, { r: 4, alpha: 8, dropout: 0.3, target_modules: ['q_proj', 'v_proj', 'gate_proj', 'down_proj'], merge: false }, 3);
    // non-zero B, so the adapters change the output and the dropout mask matters
    for (const { B } of lora.modules.values()) B.assign(tf.randomNormal(B.shape, 0, 0.1, 'float32', 5));
    const params = lora.params(1, 0);
    const vars = params.map((p) => p.variable);
    const b = batch();
    const run = (ck: boolean) => {
      const rng = new Rng(7);
      const r = tf.variableGrads(() => sftLossSum(model, b, { linearHook: lora.hook(rng), checkpoint: checkpointOption(ck, params, rng) }), vars);
      const loss = r.value.dataSync()[0];
      r.value.dispose();
      return { loss, grads: r.grads, after: rng.state() };
    };
    const plain = run(false);
    const ck = run(true);
    expect(ck.loss).toBeCloseTo(plain.loss, 5);
    expect(ck.after).toEqual(plain.after); // the stream ends where it would have without recompute
    for (const [name, g] of Object.entries(plain.grads)) {
      const d = tf.max(tf.abs(tf.sub(g, ck.grads[name]))).dataSync()[0];
      expect(d, name).toBeLessThan(1e-5);
    }
    lora.dispose();
    model.dispose();
  });
});
