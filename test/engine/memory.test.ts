/**
 * Out-of-memory handling: a training run that cannot fit is refused before its first step in
 * one line naming the model, the sizes and what to change; allocation failures later become one
 * line too; a model too large for the wasm heap is refused before it is loaded.
 */
import { describe, expect, it } from 'vitest';
import { totalmem } from 'node:os';
import { initBackend } from '../../src/engine/backend.ts';
import { availableMemory, checkTrainingMemory, isOutOfMemory, noteModelLoad, outOfMemoryMessage } from '../../src/engine/memory.ts';
import { UserError } from '../../src/util/errors.ts';

describe('memory checks', () => {
  it('refuses full training whose gradients + AdamW moments exceed the memory left, and lets LoRA through', async () => {
    await initBackend('cpu', { log: () => {} });
    const params = 1_540_000_000; // Qwen2.5-1.5B: 18.5 GB of gradients and moments
    noteModelLoad('models/큰-모델', params);
    const left = 16 * 2 ** 30;
    let err: unknown;
    try {
      checkTrainingMemory(params, left);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserError);
    const msg = (err as Error).message;
    expect(msg).not.toContain('\n');
    expect(msg).toMatch(/^out of memory before training starts: models\/큰-모델: 1540M parameters \(5\.7 GB\); the gradients and AdamW moments of 1540M trainable ones need 17\.2 GB more, with 16\.0 GB of memory left after loading the model \(.* GB in all\); train LoRA adapters \(lora:\) or fewer tensors \(trainable:\)$/);
    expect(() => checkTrainingMemory(18_000_000, left)).not.toThrow(); // LoRA r 16 on all projections
    expect(availableMemory()).toBeGreaterThan(0);
    expect(availableMemory()).toBeLessThanOrEqual(totalmem());
  });

  it('names the wasm heap as the limit there, and refuses loading a model the heap cannot hold', async () => {
    await initBackend('wasm', { log: () => {} });
    expect(() => noteModelLoad('m', 900e6)).toThrow(/900M parameters need 3\.4 GB in float32, more than the wasm backend's 4 GiB heap allows; use --backend native/);
    noteModelLoad('m', 300e6);
    expect(() => checkTrainingMemory(300e6)).toThrow(/need 3\.4 GB more, more than the wasm backend's 4 GiB heap; .*or use --backend native$/);
  });

  it('turns allocation failures into one line with the limit and the remedies', async () => {
    await initBackend('wasm', { log: () => {} });
    noteModelLoad('models/qwen', 494e6);
    const e = new RangeError('Array buffer allocation failed');
    expect(isOutOfMemory(e)).toBe(true);
    expect(isOutOfMemory(new Error('무언가 다른 오류'))).toBe(false);
    expect(outOfMemoryMessage(e)).toMatch(/^out of memory: models\/qwen: 494M parameters \(1\.8 GB in float32\) ran past the wasm backend's 4 GiB heap \(Array buffer allocation failed\); try --backend native, /);
  });
});
