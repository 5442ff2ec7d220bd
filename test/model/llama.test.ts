import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend } from '../../src/engine/backend.ts';
import { embedLookup, engineOptions, linear, matmul, LlamaModel as LlamaModelClass, type LlamaModel } from '../../src/model/llama.ts';
import { parseConfig } from '../../src/model/config.ts';
import { loadModel } from '../../src/model/checkpoint.ts';
import { pickLogprobs, sequenceLogprobs, tokenLogprobs } from '../../src/model/logprobs.ts';
import { repoRoot } from '../helpers/cli.ts';
import { CPU_BACKENDS } from '../helpers/native.ts';

const FIX = join(repoRoot, 'test', 'fixtures', 'model');
const FIXTURES = ['llama-gqa', 'llama-tied', 'qwen2-bias', 'qwen3-headdim', 'mistral-bf16-sharded', 'exaone-gqa', 'exaone4-hybrid', 'exaone4-global'];

function jsonl(path: string): Record<string, unknown>[] {
  return readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
}

function maxAbsDiff(a: number[], b: number[]): number {
  expect(a.length).toBe(b.length);
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
}

const arr = (t: tf.Tensor) => Array.from(t.dataSync());

for (const backend of CPU_BACKENDS) {
  describe(`golden log-probs against the PyTorch reference on ${backend}`, () => {
    beforeAll(async () => {
      await initBackend(backend, { log: () => {} });
    });
    for (const name of FIXTURES) {
      it(`${name}: token log-probs match within 2e-3 (batched, right padded)`, async () => {
        await initBackend(backend, { log: () => {} });
        const model = await loadModel(join(FIX, name));
        const inputs = jsonl(join(FIX, name, 'input.jsonl')).map((r) => ({ ids: r.input_ids as number[] }));
        const expected = jsonl(join(FIX, name, 'expected.jsonl')).map((r) => r.token_logprobs as number[]);
        const got = await sequenceLogprobs(model, inputs, { batchSize: 3 });
        for (let i = 0; i < inputs.length; i++) {
          expect(maxAbsDiff(got[i].tokenLogprobs, expected[i])).toBeLessThan(2e-3);
          expect(got[i].nTokens).toBe(Math.max(0, inputs[i].ids.length - 1));
          expect(got[i].logp).toBeCloseTo(expected[i].reduce((a, b) => a + b, 0), 2);
        }
        model.dispose();
      });
    }
  });
}

describe('hand-written gradients (wasm)', () => {
  beforeAll(async () => {
    await initBackend('wasm', { log: () => {} });
  });

  it('the embedding gradient sums the rows of repeated token ids', () => {
    const w = tf.variable(tf.randomNormal([5, 3], 0, 1, 'float32', 1));
    const ids = tf.tensor2d([[0, 2, 2], [2, 4, 0]], [2, 3], 'int32');
    const up = tf.tensor3d([[[1, 0, 0], [0, 1, 0], [0, 0, 1]], [[1, 1, 1], [2, 2, 2], [3, 0, 0]]]);
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(embedLookup(t as tf.Tensor2D, ids), up)))(w);
    expect(arr(g)).toEqual([4, 0, 0, 0, 0, 0, 1, 2, 2, 0, 0, 0, 2, 2, 2]);
    const y = embedLookup(w as tf.Tensor2D, ids);
    expect(y.shape).toEqual([2, 3, 3]);
    expect(arr(tf.slice(y, [0, 1, 0], [1, 1, 3]))).toEqual(arr(tf.slice(w, [2, 0], [1, 3])));
  });

  it('linear (x @ W^T) has the same value and gradients as tfjs matMul with transposeB', () => {
    const x = tf.randomNormal([2, 3, 4], 0, 1, 'float32', 2);
    const w = tf.randomNormal([5, 4], 0, 1, 'float32', 3);
    const r = tf.randomNormal([2, 3, 5], 0, 1, 'float32', 4);
    const ours = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(linear(a, b), r)));
    const ref = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.reshape(tf.matMul(tf.reshape(a, [6, 4]), b, false, true), [2, 3, 5]), r)));
    const [gx, gw] = ours([x, w]);
    const [rx, rw] = ref([x, w]);
    expect(maxAbsDiff(arr(gx), arr(rx))).toBeLessThan(1e-5);
    expect(maxAbsDiff(arr(gw), arr(rw))).toBeLessThan(1e-5);
  });

  it('batched matmul has the same gradients as tfjs matMul', () => {
    const a = tf.randomNormal([2, 3, 4, 5], 0, 1, 'float32', 5);
    const b = tf.randomNormal([2, 3, 5, 6], 0, 1, 'float32', 6);
    const r = tf.randomNormal([2, 3, 4, 6], 0, 1, 'float32', 7);
    const [ga, gb] = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.mul(matmul(p, q), r)))([a, b]);
    const [ra, rb] = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.mul(tf.matMul(p, q), r)))([a, b]);
    expect(maxAbsDiff(arr(ga), arr(ra))).toBeLessThan(1e-4);
    expect(maxAbsDiff(arr(gb), arr(rb))).toBeLessThan(1e-4);
  });

  it('token log-probs equal log-softmax picked at the target, and so does their gradient', () => {
    const logits = tf.randomNormal([6, 7], 0, 2, 'float32', 8);
    const tgt = tf.tensor1d([0, 3, 3, 6, 1, 0], 'int32');
    const wgt = tf.tensor1d([1, -2, 0.5, 3, 0, 1]);
    const viaOneHot = (l: tf.Tensor) => tf.sum(tf.mul(tf.logSoftmax(l), tf.oneHot(tgt, 7)), 1);
    expect(maxAbsDiff(arr(pickLogprobs(logits as tf.Tensor2D, tgt)), arr(viaOneHot(logits)))).toBeLessThan(1e-5);
    const g = tf.grad((l: tf.Tensor) => tf.sum(tf.mul(pickLogprobs(l as tf.Tensor2D, tgt), wgt)))(logits);
    const gr = tf.grad((l: tf.Tensor) => tf.sum(tf.mul(viaOneHot(l), wgt)))(logits);
    expect(maxAbsDiff(arr(g), arr(gr))).toBeLessThan(1e-5);
  });
});

describe('LlamaModel forward options (wasm)', () => {
  let model: LlamaModel;
  beforeAll(async () => {
    await initBackend('wasm', { log: () => {} });
    model = await loadModel(join(FIX, 'qwen2-bias'));
  });

  const lp = (ids: number[][], opts = {}) =>
    tf.tidy(() => {
      const t = tf.tensor2d(ids, undefined, 'int32');
      return tokenLogprobs(model.forward(t, opts), t).arraySync();
    });

  it('packed sequences with segment ids and restarted positions score like separate sequences', () => {
    const a = [5, 17, 200, 3, 9];
    const b = [44, 8, 8, 120, 7, 66, 1];
    const alone = [lp([a])[0], lp([b])[0]];
    const seg = tf.tensor2d([[...a.map(() => 0), ...b.map(() => 1)]], undefined, 'int32');
    const pos = tf.tensor2d([[...a.map((_, i) => i), ...b.map((_, i) => i)]], undefined, 'int32');
    const packed = lp([[...a, ...b]], { segmentIds: seg, positionIds: pos })[0];
    expect(maxAbsDiff(packed.slice(0, a.length - 1), alone[0])).toBeLessThan(1e-4);
    expect(maxAbsDiff(packed.slice(a.length), alone[1])).toBeLessThan(1e-4);
    // without the segment ids the second sequence sees the first and scores differently
    const leaky = lp([[...a, ...b]], { positionIds: pos })[0];
    expect(maxAbsDiff(leaky.slice(a.length), alone[1])).toBeGreaterThan(1e-3);
  });

  it('a left-padded row with attention mask and per-row positions scores like the unpadded one', () => {
    const s = [12, 99, 7, 250, 31];
    const alone = lp([s])[0];
    const mask = tf.tensor2d([[0, 0, 0, 1, 1, 1, 1, 1]], undefined, 'int32');
    const pos = tf.tensor2d([[0, 0, 0, 0, 1, 2, 3, 4]], undefined, 'int32');
    const padded = lp([[0, 0, 0, ...s]], { attentionMask: mask, positionIds: pos })[0];
    expect(maxAbsDiff(padded.slice(3), alone)).toBeLessThan(1e-4);
  });

  it('hooks see every projection by HF name and can change the embeddings and outputs', () => {
    const seen: string[] = [];
    const ids = tf.tensor2d([[1, 2, 3]], undefined, 'int32');
    const base = tf.tidy(() => model.forward(ids).arraySync());
    tf.tidy(() =>
      model.forward(ids, {
        linearHook: (name, x, y) => {
          seen.push(name);
          expect(x.shape.slice(0, 2)).toEqual([1, 3]);
          return y;
        },
      }),
    );
    expect(seen).toContain('model.layers.0.self_attn.q_proj');
    expect(seen).toContain('model.layers.1.mlp.down_proj');
    expect(seen).toContain('lm_head');
    expect(seen).toHaveLength(2 * 7 + 1);
    const same = tf.tidy(() => model.forward(ids, { embedHook: (e) => e }).arraySync());
    expect(same).toEqual(base);
    const shifted = tf.tidy(() => model.forward(ids, { embedHook: (e) => tf.add(e, 0.5) as tf.Tensor3D }).arraySync());
    expect(shifted).not.toEqual(base);
  });

  it('forward + backward steps do not leak tensors', () => {
    const ids = tf.tensor2d([[3, 1, 4, 1, 5, 9, 2, 6], [5, 3, 5, 8, 9, 7, 9, 3]], undefined, 'int32');
    const vars = [...model.params.values()];
    const step = () => {
      const { value, grads } = tf.variableGrads(() => tf.neg(tf.mean(tokenLogprobs(model.forward(ids, { embedHook: (e) => tf.add(e, 0.01) as tf.Tensor3D }), ids))) as tf.Scalar, vars);
      for (const v of vars) tf.tidy(() => v.assign(tf.sub(v, tf.mul(grads[v.name], 1e-3))));
      const loss = value.dataSync()[0];
      value.dispose();
      tf.dispose(grads);
      return loss;
    };
    const l0 = step();
    const before = tf.memory().numTensors;
    let l = l0;
    for (let i = 0; i < 3; i++) l = step();
    expect(tf.memory().numTensors).toBe(before);
    expect(l).toBeLessThan(l0); // the gradients point downhill
  });
});

describe('sliding-window attention (Mistral)', () => {
  it('a window of 1 makes every token see only itself; a window as long as the text changes nothing', async () => {
    await initBackend('wasm', { log: () => {} });
    const model = await loadModel(join(FIX, 'mistral-bf16-sharded'));
    const ids = [5, 17, 200, 3, 9, 44, 8, 120];
    const lastLogits = (seq: number[], pos?: number[]) =>
      tf.tidy(() => {
        const opts = pos ? { positionIds: tf.tensor2d([pos], undefined, 'int32') } : {};
        return Array.from(model.forward(tf.tensor2d([seq], undefined, 'int32'), opts).dataSync());
      });
    const full = lastLogits(ids);
    const cfg = model.config as { slidingWindow?: number };
    cfg.slidingWindow = ids.length;
    expect(maxAbsDiff(lastLogits(ids), full)).toBeLessThan(1e-6);
    cfg.slidingWindow = 1;
    const windowed = lastLogits(ids);
    const V = model.config.vocabSize;
    for (const t of [0, 3, 7]) {
      const alone = lastLogits([ids[t]], [t]);
      expect(maxAbsDiff(windowed.slice(t * V, (t + 1) * V), alone)).toBeLessThan(1e-4);
    }
    expect(maxAbsDiff(windowed.slice(7 * V), full.slice(7 * V))).toBeGreaterThan(1e-3);
    model.dispose();
  });
});

describe('sliding-window attention per layer (Qwen2 / Qwen3)', () => {
  // transformers models/qwen2/configuration_qwen2.py (commit 008e574) lines 84-93: with
  // use_sliding_window, only layers i >= max_window_layers are "sliding_attention".
  it('max_window_layers splits the layers: 0 = all windowed, 2 = none, 1 = only the second layer', async () => {
    await initBackend('wasm', { log: () => {} });
    const base = await loadModel(join(FIX, 'qwen2-bias')); // 2 layers
    const ids = [5, 17, 200, 3, 9, 44, 8, 120];
    const logits = (mwl: number | null) => {
      const raw = mwl === null ? base.config.raw : { ...base.config.raw, use_sliding_window: true, sliding_window: 2, max_window_layers: mwl };
      const m = new LlamaModelClass(parseConfig(raw), base.params);
      return tf.tidy(() => Array.from(m.forward(tf.tensor2d([ids], undefined, 'int32')).dataSync()));
    };
    const full = logits(null);
    const none = logits(2);
    const all = logits(0);
    const second = logits(1);
    expect(maxAbsDiff(none, full)).toBe(0);
    expect(maxAbsDiff(all, full)).toBeGreaterThan(1e-3);
    expect(maxAbsDiff(second, full)).toBeGreaterThan(1e-3);
    expect(maxAbsDiff(second, all)).toBeGreaterThan(1e-3);
    // the first two tokens are inside a window of 2 everywhere: identical in all four
    const V = base.config.vocabSize;
    expect(maxAbsDiff(second.slice(0, 2 * V), full.slice(0, 2 * V))).toBeLessThan(1e-6);
    base.dispose();
  });
});

describe('matMul paths', () => {
  it("tfjs's own transpose-flag matMul path (the GPU backends' path) gives the same log-probs and gradients", async () => {
    await initBackend('wasm', { log: () => {} });
    const model = await loadModel(join(FIX, 'qwen3-headdim'));
    const ids = tf.tensor2d([[3, 1, 4, 1, 5, 9, 2, 6], [2, 7, 1, 8, 2, 8, 1, 8]], undefined, 'int32');
    const run = () => {
      const vars = [...model.params.values()];
      const { value, grads } = tf.variableGrads(() => tf.neg(tf.mean(tokenLogprobs(model.forward(ids), ids))) as tf.Scalar, vars);
      const out = { loss: value.dataSync()[0], g: vars.map((v) => Array.from(grads[v.name].dataSync())) };
      tf.dispose([value, ...Object.values(grads)]);
      return out;
    };
    const fast = run();
    engineOptions.explicitTransposeGrads = false;
    let flags;
    try {
      flags = run();
    } finally {
      engineOptions.explicitTransposeGrads = true;
    }
    expect(Math.abs(fast.loss - flags.loss)).toBeLessThan(1e-5);
    fast.g.forEach((g, i) => expect(maxAbsDiff(g, flags.g[i])).toBeLessThan(1e-4));
    model.dispose();
  });

  it('cached weight transposes follow assignments to the weights', async () => {
    await initBackend('wasm', { log: () => {} });
    const a = await loadModel(join(FIX, 'llama-gqa'));
    const ids = tf.tensor2d([[1, 2, 3, 4]], undefined, 'int32');
    const before = tf.tidy(() => Array.from(a.forward(ids).dataSync()));
    const w = a.params.get('model.layers.1.mlp.down_proj.weight')!;
    tf.tidy(() => w.assign(tf.mul(w, 2)));
    const after = tf.tidy(() => Array.from(a.forward(ids).dataSync()));
    const fresh = await loadModel(join(FIX, 'llama-gqa'));
    const fw = fresh.params.get('model.layers.1.mlp.down_proj.weight')!;
    tf.tidy(() => fw.assign(tf.mul(fw, 2)));
    const expected = tf.tidy(() => Array.from(fresh.forward(ids).dataSync()));
    expect(maxAbsDiff(after, before)).toBeGreaterThan(1e-3);
    expect(maxAbsDiff(after, expected)).toBeLessThan(1e-6);
    a.dispose();
    fresh.dispose();
  });
});
