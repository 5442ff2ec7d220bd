import { mkdtempSync, writeFileSync, appendFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { appendJsonl, readJsonl, readJsonlTolerant, readJsonlTolerantDetailed, readLines } from '../../src/data/jsonl.ts';
import { UserError } from '../../src/util/errors.ts';
import { errorOf } from '../helpers/errors.ts';

const dir = mkdtempSync(join(tmpdir(), 'ko-align-jsonl-'));
let n = 0;
function file(content: string | Uint8Array, ext = 'jsonl'): string {
  const p = join(dir, `f${n++}.${ext}`);
  writeFileSync(p, content);
  return p;
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe('readLines (byte-level line reader)', () => {
  it('numbers lines exactly, strips CRLF and a leading BOM', async () => {
    const p = file('\uFEFF{"a":"가"}\r\n\r\n{"a":"나"}\n{"a":"다"}');
    const lines = await collect(readLines(p));
    expect(lines).toEqual([
      { line: 1, text: '{"a":"가"}' },
      { line: 2, text: '' },
      { line: 3, text: '{"a":"나"}' },
      { line: 4, text: '{"a":"다"}' },
    ]);
  });

  it('keeps multi-byte Korean characters intact across 1 MiB read chunks', async () => {
    // Lines of 3-byte Hangul so that chunk boundaries fall inside characters.
    const line = JSON.stringify({ t: '한국어 문장입니다'.repeat(50) });
    const count = 3000; // ~1.9 MB
    const p = file(Array(count).fill(line).join('\n') + '\n');
    let seen = 0;
    for await (const l of readLines(p)) {
      expect(l.text).toBe(line);
      seen++;
    }
    expect(seen).toBe(count);
  });

  it('reports invalid UTF-8 with the exact line number, deep into a large file', async () => {
    const good = Buffer.from(JSON.stringify({ t: '가나다라마바사'.repeat(40) }) + '\n');
    const bad = Buffer.concat([Buffer.from('{"t":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}\n')]); // a UTF-16 surrogate: invalid UTF-8
    const parts: Buffer[] = [];
    for (let i = 0; i < 5000; i++) parts.push(good);
    parts.push(bad, good);
    const p = file(Buffer.concat(parts));
    const e = await errorOf(collect(readLines(p)));
    expect(e).toBeInstanceOf(UserError);
    expect(e.message).toBe(`${p}:5001: invalid UTF-8`);
  });

  it('is lazy: the first line arrives before a broken line at the end is read', async () => {
    const big = JSON.stringify({ t: '스트리밍'.repeat(100) });
    const p = file(Array(8000).fill(big).join('\n') + '\n{깨진 줄\n'); // ~9.6 MB
    const it = readJsonl(p)[Symbol.asyncIterator]();
    const first = await it.next();
    expect(first.value).toEqual({ t: '스트리밍'.repeat(100) });
    await it.return?.(undefined);
  });
});

describe('readJsonl', () => {
  it('skips blank lines and keeps ints, floats, booleans, nulls and nested values', async () => {
    const p = file('{"id":1,"x":0.25,"ok":true,"n":null,"messages":[{"role":"user","content":"안녕"}]}\n\n   \n{"id":2}\n');
    expect(await collect(readJsonl(p))).toEqual([
      { id: 1, x: 0.25, ok: true, n: null, messages: [{ role: 'user', content: '안녕' }] },
      { id: 2 },
    ]);
  });

  it('names file:line for a broken JSON line', async () => {
    const p = file('{"a":"가"}\n{"a":"나"}\n{"a": 나}\n');
    const e = await errorOf(collect(readJsonl(p)));
    expect(e).toBeInstanceOf(UserError);
    expect(e.message).toMatch(new RegExp(`^${escape(p)}:3: invalid JSON \\(.+\\)$`));
    expect(e.message).not.toContain('\n');
  });

  it('rejects a line that is valid JSON but not an object', async () => {
    const p = file('{"a":1}\n["가", "나"]\n');
    const e = await errorOf(collect(readJsonl(p)));
    expect(e.message).toBe(`${p}:2: expected a JSON object per line, got an array`);
    const q = file('"문자열"\n');
    expect((await errorOf(collect(readJsonl(q)))).message).toBe(`${q}:1: expected a JSON object per line, got a string`);
  });

  it('says file not found for a missing file', async () => {
    const p = join(dir, '없는-파일.jsonl');
    const e = await errorOf(collect(readJsonl(p)));
    expect(e).toBeInstanceOf(UserError);
    expect(e.message).toBe(`${p}: file not found`);
  });
});

describe('appendJsonl + readJsonlTolerant (durable caches)', () => {
  it('appends one fsynced line per row and reads them back', async () => {
    const p = join(dir, 'cache-a.jsonl');
    await appendJsonl(p, { key: 'k1', score: 8, text: '좋은 답변' });
    await appendJsonl(p, { key: 'k2', score: 3, text: '나쁜 답변' });
    expect(readFileSync(p, 'utf8')).toBe('{"key":"k1","score":8,"text":"좋은 답변"}\n{"key":"k2","score":3,"text":"나쁜 답변"}\n');
    expect(await readJsonlTolerant(p)).toEqual([
      { key: 'k1', score: 8, text: '좋은 답변' },
      { key: 'k2', score: 3, text: '나쁜 답변' },
    ]);
  });

  it('skips a torn last line (a crash mid-append); the next append cuts it off', async () => {
    const p = join(dir, 'cache-b.jsonl');
    await appendJsonl(p, { key: 'k1', v: '첫째' });
    appendFileSync(p, '{"key":"k2","v":"둘'); // torn: no closing quote, no newline
    const r = await readJsonlTolerantDetailed(p);
    expect(r.rows).toEqual([{ key: 'k1', v: '첫째' }]);
    expect(r.skippedLines).toEqual([2]);
    await appendJsonl(p, { key: 'k3', v: '셋째' });
    const r2 = await readJsonlTolerantDetailed(p);
    expect(r2.rows).toEqual([{ key: 'k1', v: '첫째' }, { key: 'k3', v: '셋째' }]);
    expect(r2.skippedLines).toEqual([]);
    expect(readFileSync(p, 'utf8')).toBe('{"key":"k1","v":"첫째"}\n{"key":"k3","v":"셋째"}\n');
  });

  it('skips a torn last line that ends inside a multi-byte character', async () => {
    const p = join(dir, 'cache-c.jsonl');
    await appendJsonl(p, { key: 'k1' });
    const partial = Buffer.from('{"key":"한');
    appendFileSync(p, partial.subarray(0, partial.length - 1)); // cut the 3-byte 한 after 2 bytes
    expect(await readJsonlTolerant(p)).toEqual([{ key: 'k1' }]);
  });

  it('still refuses corruption that is not the last line', async () => {
    const p = file('{"key":"k1"}\n{"key": 깨짐\n{"key":"k3"}\n');
    const e = await errorOf(readJsonlTolerant(p));
    expect(e.message).toMatch(new RegExp(`^${escape(p)}:2: invalid JSON`));
  });

  it('reads a missing cache as empty', async () => {
    expect(await readJsonlTolerant(join(dir, '아직-없음.jsonl'))).toEqual([]);
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
