import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, BackendUnavailable } from '../../src/engine/backend.ts';
import { UserError } from '../../src/util/errors.ts';
import { nativeAvailable } from '../helpers/native.ts';

const fail = (why: string) => async (): Promise<string> => {
  throw new BackendUnavailable(why);
};

describe('initBackend', () => {
  it('auto keeps the first backend that loads, in the order tensorflow, webgpu, native, wasm, cpu', async () => {
    const tried: string[] = [];
    const lines: string[] = [];
    const rec = (n: string, ok: boolean) => async () => {
      tried.push(n);
      if (!ok) throw new BackendUnavailable(`${n} missing`);
      return n;
    };
    const got = await initBackend('auto', {
      log: (l) => lines.push(l),
      loaders: { tensorflow: rec('tensorflow', false), webgpu: rec('webgpu', false), native: rec('native', false), wasm: rec('wasm', true), cpu: rec('cpu', true) },
    });
    expect(got).toBe('wasm');
    expect(tried).toEqual(['tensorflow', 'webgpu', 'native', 'wasm']);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^backend: wasm/);
  });

  it('auto prefers native over wasm, and says once what to install when native is missing', async () => {
    const lines: string[] = [];
    const got = await initBackend('auto', { log: (l) => lines.push(l), loaders: { tensorflow: fail('a'), webgpu: fail('b'), native: async () => 'native', wasm: async () => 'wasm' } });
    expect(got).toBe('native');
    const fallback: string[] = [];
    await initBackend('auto', {
      log: (l) => fallback.push(l),
      loaders: { tensorflow: fail('a'), webgpu: fail('b'), native: fail('no BLAS library with cblas_sgemm found; install a C compiler and OpenBLAS: apt-get install gcc libopenblas0-pthread'), wasm: async () => 'wasm' },
    });
    expect(fallback).toHaveLength(1);
    expect(fallback[0]).toMatch(/^backend: wasm \(auto; skipped tensorflow, webgpu, native; for the faster native CPU backend: no BLAS .*apt-get install gcc libopenblas0-pthread\)$/);
  });

  it('auto falls back to cpu when wasm fails too', async () => {
    const got = await initBackend('auto', {
      log: () => {},
      loaders: { tensorflow: fail('a'), webgpu: fail('b'), native: fail('n'), wasm: fail('c'), cpu: async () => 'cpu' },
    });
    expect(got).toBe('cpu');
  });

  it('an explicit backend that cannot load is a UserError naming why, with no fallback', async () => {
    let cpuCalled = false;
    const p = initBackend('tensorflow', {
      log: () => {},
      loaders: { tensorflow: fail('@tensorflow/tfjs-node-gpu is not installed'), cpu: async () => { cpuCalled = true; return 'cpu'; } },
    });
    await expect(p).rejects.toThrow(UserError);
    await expect(p).rejects.toThrow(/backend 'tensorflow' is not available: @tensorflow\/tfjs-node-gpu is not installed/);
    expect(cpuCalled).toBe(false);
  });

  it('an unknown backend name is refused with the list of valid names', async () => {
    await expect(initBackend('cuda')).rejects.toThrow(/unknown backend 'cuda' \(expected one of: auto, tensorflow, webgpu, native, wasm, cpu\)/);
  });

  it('explicit tensorflow without tfjs-node installed says it is not installed', async () => {
    await expect(initBackend('tensorflow', { log: () => {} })).rejects.toThrow(/tfjs-node-gpu is not installed; @tensorflow\/tfjs-node is not installed/);
  });

  it('explicit webgpu on this GPU-less machine gives the one-line no-adapter message', async () => {
    const err = (await initBackend('webgpu', { log: () => {} }).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(UserError);
    expect(err.message).toMatch(/^backend 'webgpu' is not available: no WebGPU adapter/);
    expect(err.message).not.toContain('\n');
  });

  it('real wasm loads, runs ops, and auto picks native here when it loads, else wasm', async () => {
    const lines: string[] = [];
    expect(await initBackend('wasm', { log: (l) => lines.push(l) })).toBe('wasm');
    expect(lines).toEqual(['backend: wasm']);
    expect(tf.getBackend()).toBe('wasm');
    const s = tf.tidy(() => tf.sum(tf.tensor1d([1, 2, 3])).arraySync());
    expect(s).toBe(6);
    expect(await initBackend('auto', { log: () => {} })).toBe(nativeAvailable() ? 'native' : 'wasm');
  });

  it.skipIf(!nativeAvailable())('real native loads and names its BLAS in the backend line', async () => {
    const lines: string[] = [];
    expect(await initBackend('native', { log: (l) => lines.push(l) })).toBe('native');
    expect(lines[0]).toMatch(/^backend: native \(\d+ BLAS threads, \/.*\)$/);
    expect(tf.tidy(() => tf.matMul(tf.tensor2d([[1, 2]]), tf.tensor2d([[3], [4]])).arraySync())).toEqual([[11]]);
  });

  it('one log passed to several stages gets the backend line once (a pipeline run says it once)', async () => {
    const lines: string[] = [];
    const log = (l: string) => lines.push(l);
    for (let i = 0; i < 3; i++) await initBackend('wasm', { log });
    expect(lines).toEqual(['backend: wasm']);
    await initBackend('cpu', { log });
    expect(lines).toEqual(['backend: wasm', 'backend: cpu']);
  });

  it('real cpu loads', async () => {
    expect(await initBackend('cpu', { log: () => {} })).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
  });
});
