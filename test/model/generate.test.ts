import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { join } from 'node:path';
import { initBackend } from '../../src/engine/backend.ts';
import { loadModel } from '../../src/model/checkpoint.ts';
import { generate, pickToken } from '../../src/model/generate.ts';
import { SeededRandom } from '../../src/model/init.ts';
import type { LlamaModel } from '../../src/model/llama.ts';
import { repoRoot } from '../helpers/cli.ts';

const FIX = join(repoRoot, 'test', 'fixtures', 'model');
const prompts = [[5, 17, 200, 3], [44, 8], [9, 9, 9, 9, 9, 9, 1], [120]];

describe('generate', () => {
  let model: LlamaModel;
  let qwen3: LlamaModel;
  beforeAll(async () => {
    await initBackend('wasm', { log: () => {} });
    model = await loadModel(join(FIX, 'mistral-bf16-sharded'));
    qwen3 = await loadModel(join(FIX, 'qwen3-headdim'));
  });

  it('greedy tokens are identical with and without the KV cache', async () => {
    for (const m of [model, qwen3]) {
      const withCache = await generate(m, prompts, { maxNewTokens: 12, eosTokenIds: [] });
      const noCache = await generate(m, prompts, { maxNewTokens: 12, eosTokenIds: [], useCache: false });
      expect(withCache).toEqual(noCache);
      expect(withCache.every((g) => g.tokens.length === 12 && g.finishReason === 'length')).toBe(true);
    }
  });

  it('a left-padded batch gives the same greedy tokens as one prompt at a time', async () => {
    const batched = await generate(model, prompts, { maxNewTokens: 10, eosTokenIds: [], batchSize: 4 });
    const single = [];
    for (const p of prompts) single.push(...(await generate(model, [p], { maxNewTokens: 10, eosTokenIds: [] })));
    expect(batched).toEqual(single);
  });

  it('greedy decoding picks the argmax of a full forward pass', async () => {
    const [g] = await generate(model, [prompts[0]], { maxNewTokens: 1, eosTokenIds: [] });
    const argmax = tf.tidy(() => {
      const lg = model.forward(tf.tensor2d([prompts[0]], undefined, 'int32'));
      return tf.argMax(tf.reshape(tf.slice(lg, [0, prompts[0].length - 1, 0], [1, 1, -1]), [-1])).dataSync()[0];
    });
    expect(g.tokens).toEqual([argmax]);
  });

  it('stops a row at EOS and leaves the EOS out of the tokens', async () => {
    const [free] = await generate(model, [prompts[1]], { maxNewTokens: 8, eosTokenIds: [] });
    const eos = free.tokens[2];
    const firstEos = free.tokens.indexOf(eos);
    const [stopped] = await generate(model, [prompts[1]], { maxNewTokens: 8, eosTokenIds: [eos] });
    expect(stopped.finishReason).toBe('eos');
    expect(stopped.tokens).toEqual(free.tokens.slice(0, firstEos));
  });

  it('sampling is reproducible for a seed, varies with the seed, and does not depend on batch size', async () => {
    const opts = { maxNewTokens: 10, temperature: 1.5, topP: 0.95, eosTokenIds: [] };
    const a = await generate(qwen3, prompts, { ...opts, seed: 1 });
    const b = await generate(qwen3, prompts, { ...opts, seed: 1, batchSize: 1 });
    const c = await generate(qwen3, prompts, { ...opts, seed: 2 });
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it('top-p keeps only the nucleus and temperature 0 is argmax', () => {
    const logits = [Math.log(0.6), Math.log(0.3), Math.log(0.1)];
    const rng = new SeededRandom(3);
    const seen = new Set<number>();
    for (let i = 0; i < 200; i++) seen.add(pickToken(logits, 1, 0.8, rng));
    expect([...seen].sort()).toEqual([0, 1]);
    const all = new Set<number>();
    for (let i = 0; i < 400; i++) all.add(pickToken(logits, 1, 1, rng));
    expect(all.size).toBe(3);
    expect(pickToken(logits, 0, 1, null)).toBe(0);
  });

  it('generation does not leak tensors', async () => {
    await generate(model, prompts, { maxNewTokens: 3, eosTokenIds: [] });
    const before = tf.memory().numTensors;
    await generate(model, prompts, { maxNewTokens: 5, eosTokenIds: [] });
    expect(tf.memory().numTensors).toBe(before);
  });
});
