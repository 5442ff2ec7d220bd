import { describe, expect, it } from 'vitest';
import { appendFile, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JudgeCache, cacheKey, type CacheEntry } from '../../src/judge/cache.ts';

const tmp = () => mkdtemp(join(tmpdir(), 'ko-align-cache-'));

function entry(key: string, score = 8): CacheEntry {
  return { key, status: 'ok', score, reason: '좋은 답변', model: 'm', rubric: 'quality-ko@1', prompt_tokens: 10, completion_tokens: 2, at: '2026-01-01T00:00:00Z' };
}

describe('cacheKey', () => {
  const base = { rubricId: 'quality-ko', rubricVersion: 1, model: 'gpt-4o-mini', params: { temperature: 0, max_tokens: 512 }, prompt: '질문', answer: '답변' };
  it('changes with rubric version, model, params and sample, not with key order', () => {
    const k = cacheKey(base);
    expect(cacheKey({ ...base })).toBe(k);
    expect(cacheKey({ ...base, params: { max_tokens: 512, temperature: 0 } })).toBe(k);
    expect(cacheKey({ ...base, rubricVersion: 2 })).not.toBe(k);
    expect(cacheKey({ ...base, model: 'other' })).not.toBe(k);
    expect(cacheKey({ ...base, params: { temperature: 0.5, max_tokens: 512 } })).not.toBe(k);
    expect(cacheKey({ ...base, answer: '답변.' })).not.toBe(k);
    expect(cacheKey({ ...base, prompt: '질문답변', answer: '' })).not.toBe(cacheKey({ ...base, prompt: '질문', answer: '답변' }));
  });
});

describe('JudgeCache', () => {
  it('persists entries across reopen (one JSON line each)', async () => {
    const p = join(await tmp(), 'c.jsonl');
    const c = await JudgeCache.open(p);
    await Promise.all([c.put(entry('a', 3)), c.put(entry('b', 9)), c.put(entry('c', 5))]);
    await c.close();
    expect((await readFile(p, 'utf8')).trim().split('\n')).toHaveLength(3);
    const d = await JudgeCache.open(p);
    expect(d.size).toBe(3);
    expect(d.get('b')!.score).toBe(9);
    await d.close();
  });

  it('drops a torn last line, truncates it away, and appends cleanly after it', async () => {
    const p = join(await tmp(), 'c.jsonl');
    await writeFile(p, JSON.stringify(entry('a')) + '\n' + JSON.stringify(entry('b')).slice(0, 25));
    const c = await JudgeCache.open(p);
    expect(c.size).toBe(1);
    expect(c.tornLines).toBe(1);
    await c.put(entry('c'));
    await c.close();
    const lines = (await readFile(p, 'utf8')).split('\n').filter(Boolean);
    expect(lines.map((l) => JSON.parse(l).key)).toEqual(['a', 'c']);
  });

  it('keeps a complete last record whose newline was lost', async () => {
    const p = join(await tmp(), 'c.jsonl');
    await writeFile(p, JSON.stringify(entry('a')) + '\n' + JSON.stringify(entry('b')));
    const c = await JudgeCache.open(p);
    expect(c.size).toBe(2);
    await c.put(entry('c'));
    await c.close();
    const lines = (await readFile(p, 'utf8')).split('\n').filter(Boolean);
    expect(lines.map((l) => JSON.parse(l).key)).toEqual(['a', 'b', 'c']);
  });

  it('reports corruption in the middle of the file with file:line', async () => {
    const p = join(await tmp(), 'c.jsonl');
    await writeFile(p, JSON.stringify(entry('a')) + '\n{garbage\n' + JSON.stringify(entry('b')) + '\n');
    await expect(JudgeCache.open(p)).rejects.toThrow(/c\.jsonl:2: corrupt judge cache line/);
  });

  it('an empty or missing file is an empty cache', async () => {
    const dir = await tmp();
    const c = await JudgeCache.open(join(dir, 'sub', 'new.jsonl'));
    expect(c.size).toBe(0);
    await c.close();
    const p = join(dir, 'empty.jsonl');
    await appendFile(p, '');
    const d = await JudgeCache.open(p);
    expect(d.size).toBe(0);
    await d.close();
  });
});
