import { mkdtemp, readFile, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hashModelWeights, hashTokenizedRows, lookupRefCache, refCacheKey, writeRefCache, type RefCacheParts } from '../../src/train/ref-cache.ts';

const parts = (over: Partial<RefCacheParts> = {}): RefCacheParts => ({
  referenceWeights: 'w',
  tokenizer: 't',
  maxLength: 512,
  maxPromptLength: 256,
  maxCompletionLength: 256,
  batchSize: 4,
  lossType: 'kto',
  rows: hashTokenizedRows([{ prompt_ids: [1, 2], completion_ids: [3] }], [0]),
  ...over,
});

describe('reference log-prob cache', () => {
  it('round-trips the log-probs exactly and reports a hit', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'refcache-'));
    const key = refCacheKey(parts());
    const data = { logps: Float64Array.from([-12.25, -3.5, -7.125]), klLogps: Float64Array.from([-20, -21.5, -19]) };
    await writeRefCache(dir, key, parts(), data);
    const got = await lookupRefCache(dir, key, 3);
    expect(got.status).toBe('hit');
    if (got.status === 'hit') {
      expect([...got.data.logps]).toEqual([-12.25, -3.5, -7.125]);
      expect([...got.data.klLogps]).toEqual([-20, -21.5, -19]);
    }
  });

  it('changes the key when the dataset rows, batch size or weights change', () => {
    const base = refCacheKey(parts());
    expect(refCacheKey(parts({ rows: hashTokenizedRows([{ prompt_ids: [1, 2], completion_ids: [4] }], [0]) }))).not.toBe(base);
    expect(refCacheKey(parts({ batchSize: 8 }))).not.toBe(base);
    expect(refCacheKey(parts({ referenceWeights: 'w2' }))).not.toBe(base);
    expect(refCacheKey(parts())).toBe(base);
  });

  it('detects a corrupted or truncated cache file by checksum', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'refcache-'));
    const key = refCacheKey(parts());
    await writeRefCache(dir, key, parts(), { logps: Float64Array.from([-1, -2]), klLogps: Float64Array.from([-3, -4]) });
    const file = join(dir, key, 'ref_logps.arrow');
    const bytes = await readFile(file);
    await writeFile(file, bytes.subarray(0, bytes.length - 9));
    const got = await lookupRefCache(dir, key, 2);
    expect(got.status).toBe('corrupt');
    if (got.status !== 'hit') expect(got.reason).toMatch(/checksum/);
  });

  it('misses for an unknown key', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'refcache-'));
    expect((await lookupRefCache(dir, 'nope', 2)).status).toBe('miss');
  });

  it('hashes model weights from config.json and safetensors files only', async () => {
    const m = await mkdtemp(join(tmpdir(), 'refmodel-'));
    await mkdir(m, { recursive: true });
    await writeFile(join(m, 'config.json'), '{"a":1}');
    await writeFile(join(m, 'model.safetensors'), Buffer.from([1, 2, 3]));
    const h1 = await hashModelWeights(m);
    await writeFile(join(m, 'README.md'), '무관한 파일');
    expect(await hashModelWeights(m)).toBe(h1);
    await writeFile(join(m, 'model.safetensors'), Buffer.from([1, 2, 4]));
    expect(await hashModelWeights(m)).not.toBe(h1);
  });
});
