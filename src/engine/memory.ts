/**
 * Running out of memory, said in one line. The model loader records what it loaded; an
 * allocation failure anywhere later (a RangeError from a TypedArray, the wasm heap's abort) is
 * turned into a message that names the model size, the limit that was hit and what to change.
 */
import { readFileSync } from 'node:fs';
import { freemem, totalmem } from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { UserError } from '../util/errors.ts';
import { isOutOfMemory, MEMORY_FIXES } from '../util/failures.ts';

export { isOutOfMemory };

/** The wasm backend's heap ceiling (bytes): every tensor of the process lives inside it. */
export const WASM_HEAP_BYTES = 4 * 2 ** 30;

let lastModel: { where: string; params: number } | undefined;

const gb = (bytes: number) => `${(bytes / 2 ** 30).toFixed(1)} GB`;

/**
 * Notes a model about to be loaded; on the wasm backend, refuses one whose float32 weights alone
 * cannot fit the 4 GiB heap (with room for activations), before anything is allocated.
 */
export function noteModelLoad(where: string, params: number): void {
  lastModel = { where, params };
  const bytes = params * 4;
  if (tf.getBackend() === 'wasm' && bytes > WASM_HEAP_BYTES * 0.75) {
    throw new UserError(
      `${where}: ${(params / 1e6).toFixed(0)}M parameters need ${gb(bytes)} in float32, more than the wasm backend's 4 GiB heap allows; use --backend native (the default where a C compiler and OpenBLAS are installed: apt-get install gcc libopenblas0-pthread)`,
    );
  }
}

/** The one-line message for an allocation failure. */
export function outOfMemoryMessage(e: unknown): string {
  const backend = (() => {
    try {
      return tf.getBackend();
    } catch {
      return undefined;
    }
  })();
  const model = lastModel ? `${lastModel.where}: ${(lastModel.params / 1e6).toFixed(0)}M parameters (${gb(lastModel.params * 4)} in float32)` : 'the model';
  const limit = backend === 'wasm' ? "the wasm backend's 4 GiB heap" : `this machine's memory (${gb(totalmem())} in all, ${gb(freemem())} free now)`;
  const fixes = backend === 'wasm' ? ['--backend native', ...MEMORY_FIXES] : MEMORY_FIXES;
  const what = e instanceof Error ? e.message.split('\n')[0] : String(e);
  return `out of memory: ${model} ran past ${limit} (${what}); try ${fixes.join(', ')}`;
}

/** Rethrows an allocation failure as a UserError (one line); other errors pass unchanged. */
export function asUserOom(e: unknown): unknown {
  return isOutOfMemory(e) ? new UserError(outOfMemoryMessage(e)) : e;
}

/** Memory the process can still take: Linux's MemAvailable (page cache counts as free), else freemem. */
export function availableMemory(): number {
  try {
    const m = /^MemAvailable:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux
  }
  return freemem();
}

/**
 * Refuses, before the first step, a training run whose gradients and AdamW moments (3 x 4 bytes
 * per trainable parameter, allocated from here on; the weights are already loaded) exceed the
 * memory still available: the kernel's OOM killer would otherwise end the process mid-step
 * without a word. Activations come on top, so this never refuses a run that could fit.
 * On wasm the whole set must fit the 4 GiB heap.
 */
export function checkTrainingMemory(trainableParams: number, available = availableMemory()): void {
  if (!lastModel) return;
  const weights = lastModel.params * 4;
  const state = trainableParams * 4 * 3;
  const wasm = (() => {
    try {
      return tf.getBackend() === 'wasm';
    } catch {
      return false;
    }
  })();
  const need = wasm ? weights + state : state;
  const limit = wasm ? WASM_HEAP_BYTES : available;
  if (need <= limit) return;
  const what = wasm ? "more than the wasm backend's 4 GiB heap" : `with ${gb(limit)} of memory left after loading the model (${gb(totalmem())} in all)`;
  throw new UserError(
    `out of memory before training starts: ${lastModel.where}: ${(lastModel.params / 1e6).toFixed(0)}M parameters (${gb(weights)}); the gradients and AdamW moments of ${(trainableParams / 1e6).toFixed(0)}M trainable ones need ${gb(state)} more, ${what}; train LoRA adapters (lora:) or fewer tensors (trainable:)${wasm ? ', or use --backend native' : ''}`,
  );
}
