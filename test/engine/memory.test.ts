/**
 * Out-of-memory handling: a training run that cannot fit is refused before its first step in
 * one line naming the model, the sizes and what to change; allocation failures later become one
 * line too; a model too large for the wasm heap is refused before it is loaded.
 */
import { describe, expect, it } from 'vitest';
import { totalmem } from 'node:os';
import { initBackend } from '../../src/engine/backend.ts';
import { checkTrainingMemory, isOutOfMemory, noteModelLoad, outOfMemoryMessage } from '../../src/engine/memory.ts';
import { UserError } from '../../src/util/errors.ts';

describe('memory checks', () => {
  it('refuses full training whose weights + gradients + AdamW moments exceed RAM, and lets LoRA through', async () => {
    await initBackend('cpu', { log: () => {} });
    const params = Math.ceil(totalmem() / 12); // 4 bytes weights + 12 bytes state per trained parameter > RAM
    noteModelLoad('models/큰-모델', params);
    let err: unknown;
    try {
      checkTrainingMemory(params);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserError);
    const msg = (err as Error).message;
    expect(msg).not.toContain('\n');
    expect(msg).toMatch(/^out of memory before training starts: models\/큰-모델: \d+M parameters \(.* GB\) plus gradients and AdamW moments of \d+M trainable ones \(.* GB\) need at least .* GB, more than this machine's .* GB of memory; train LoRA adapters \(lora:\) or fewer tensors \(trainable:\)$/);
    expect(() => checkTrainingMemory(Math.ceil(params / 1000))).not.toThrow(); // LoRA-sized
  });

  it('names the wasm heap as the limit there, and refuses loading a model the heap cannot hold', async () => {
    await initBackend('wasm', { log: () => {} });
    expect(() => noteModelLoad('m', 900e6)).toThrow(/900M parameters need 3\.4 GB in float32, more than the wasm backend's 4 GiB heap allows; use --backend native/);
    noteModelLoad('m', 300e6);
    expect(() => checkTrainingMemory(300e6)).toThrow(/more than the wasm backend's 4 GiB heap; .*or use --backend native$/);
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
