import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { appendJsonl, formatFromPath, readAllRows, readJsonlTolerant, readRows, writeRows, type Row } from '../../src/data/io.ts';
import { UserError } from '../../src/util/errors.ts';
import { errorOf } from '../helpers/errors.ts';

const dir = mkdtempSync(join(tmpdir(), 'ko-align-io-'));

const rows: Row[] = [
  { id: 1, instruction: '한국의 수도는?', output: '서울입니다.', score: 8.5, ok: true, note: null },
  { id: 2, instruction: '김치를 설명해 줘', output: '김치는 발효 음식입니다.', score: 3, ok: false, note: '검토 필요' },
];

describe('formatFromPath', () => {
  it('maps every supported extension, case-insensitively', () => {
    expect(formatFromPath('a.jsonl')).toBe('jsonl');
    expect(formatFromPath('a.NDJSON')).toBe('jsonl');
    expect(formatFromPath('a.json')).toBe('json');
    expect(formatFromPath('dir/a.Parquet')).toBe('parquet');
    expect(formatFromPath('a.arrow')).toBe('arrow');
    expect(formatFromPath('a.feather')).toBe('arrow');
    expect(formatFromPath('a.ipc')).toBe('arrow');
    expect(formatFromPath('a.csv')).toBe('csv');
  });

  it('refuses an unknown extension naming the file and the known ones', () => {
    expect(() => formatFromPath('데이터.xlsx')).toThrow(UserError);
    expect(() => formatFromPath('데이터.xlsx')).toThrow(/^데이터\.xlsx: unknown data file extension '\.xlsx', expected one of \.jsonl/);
  });
});

describe('readRows / readAllRows / writeRows', () => {
  it('round-trips JSONL and JSON rows exactly', async () => {
    for (const ext of ['jsonl', 'json']) {
      const p = join(dir, `rt.${ext}`);
      expect(await writeRows(p, rows)).toBe(2);
      expect(await readAllRows(p)).toEqual(rows);
    }
    expect(readFileSync(join(dir, 'rt.json'), 'utf8').startsWith('[\n{"id":1,')).toBe(true);
  });

  it('accepts an async iterable as the rows to write', async () => {
    async function* gen() {
      for (const r of rows) yield r;
    }
    const p = join(dir, 'async.jsonl');
    expect(await writeRows(p, gen())).toBe(2);
    expect(await readAllRows(p)).toEqual(rows);
  });

  it('reads a .json file holding JSON Lines (as many Hugging Face datasets ship) and a single object', async () => {
    const p = join(dir, 'lines.json');
    writeFileSync(p, '{"a":"가"}\n{"a":"나"}\n');
    expect(await readAllRows(p)).toEqual([{ a: '가' }, { a: '나' }]);
    const q = join(dir, 'one.json');
    writeFileSync(q, '{\n  "a": "하나"\n}\n');
    expect(await readAllRows(q)).toEqual([{ a: '하나' }]);
  });

  it('names the line of a JSON array syntax error', async () => {
    const p = join(dir, 'broken.json');
    writeFileSync(p, '[\n{"a":"가"},\n{"a": 나}\n]\n');
    const e = await errorOf(readAllRows(p));
    expect(e).toBeInstanceOf(UserError);
    expect(e.message).toMatch(/broken\.json:3: invalid JSON \(/);
  });

  it('rejects a JSON array element that is not an object', async () => {
    const p = join(dir, 'arr.json');
    writeFileSync(p, '[{"a":1}, 2]');
    expect((await errorOf(readAllRows(p))).message).toBe(`${p}:1: element 1 of the JSON array is not an object`);
  });

  it('readAllRows rejects an empty dataset by default and allows it on request', async () => {
    const p = join(dir, 'empty.jsonl');
    writeFileSync(p, '\n\n');
    const e = await errorOf(readAllRows(p));
    expect(e).toBeInstanceOf(UserError);
    expect(e.message).toBe(`${p}: no rows`);
    expect(await readAllRows(p, { requireRows: false })).toEqual([]);
  });

  it('readRows yields nothing for an empty file unless requireRows is set', async () => {
    const p = join(dir, 'empty2.jsonl');
    writeFileSync(p, '');
    const seen: Row[] = [];
    for await (const r of readRows(p)) seen.push(r);
    expect(seen).toEqual([]);
    const it2 = readRows(p, { requireRows: true })[Symbol.asyncIterator]();
    expect((await errorOf(it2.next())).message).toBe(`${p}: no rows`);
  });

  it('reports a missing file as one UserError line for every format', async () => {
    for (const ext of ['jsonl', 'json', 'parquet', 'arrow', 'csv']) {
      const p = join(dir, `없음.${ext}`);
      const e = await errorOf(readAllRows(p));
      expect(e).toBeInstanceOf(UserError);
      expect(e.message).toBe(`${p}: file not found`);
    }
  });

  it('format option overrides the extension', async () => {
    const p = join(dir, 'data.txt');
    writeFileSync(p, '{"a":"텍스트"}\n');
    expect(await readAllRows(p, { format: 'jsonl' })).toEqual([{ a: '텍스트' }]);
  });

  it('leaves no output (and no temp file) when writing fails midway', async () => {
    const sub = mkdtempSync(join(dir, 'atomic-'));
    const target = join(sub, 'out.jsonl');
    async function* failing() {
      yield rows[0]!;
      throw new UserError('원본.jsonl:2: invalid JSON (테스트)');
    }
    for (const ext of ['jsonl', 'json', 'parquet', 'arrow', 'csv']) {
      const out = target.replace(/jsonl$/, ext);
      const e = await errorOf(writeRows(out, failing()));
      expect(e.message).toBe('원본.jsonl:2: invalid JSON (테스트)');
      expect(existsSync(out)).toBe(false);
    }
    expect(readdirSync(sub)).toEqual([]);
  });

  it('keeps the previous file intact when a rewrite fails', async () => {
    const p = join(dir, 'keep.jsonl');
    await writeRows(p, rows);
    async function* failing(): AsyncGenerator<Row> {
      yield { id: 9 };
      throw new Error('중단');
    }
    await errorOf(writeRows(p, failing()));
    expect(await readAllRows(p)).toEqual(rows);
  });
});

describe('appendJsonl under concurrency', () => {
  it('keeps every line whole when many appends run at once', async () => {
    const p = join(dir, 'concurrent.jsonl');
    await Promise.all(Array.from({ length: 50 }, (_, i) => appendJsonl(p, { i, text: `동시 기록 ${i}`.repeat(20) })));
    const back = await readJsonlTolerant(p);
    expect(back.length).toBe(50);
    expect(new Set(back.map((r) => r.i))).toEqual(new Set(Array.from({ length: 50 }, (_, i) => i)));
  });
});

describe('Hugging Face dataset folders', () => {
  // push_to_hub's layout (huggingface datasets docs, "Structure your repository" / "Splits and
  // configurations"): data/<split>-<shard>-of-<total>.parquet; a folder reads as its train split.
  const ko = (i: number): Row => ({ instruction: `질문 ${i}`, output: `답 ${i}` });
  it('reads data/train-0000x-of-0000N.parquet as one dataset, shard by shard; a glob picks shards', async () => {
    const repo = mkdtempSync(join(tmpdir(), 'ko-align-hf-'));
    const data = join(repo, 'data');
    await writeRows(join(data, 'train-00000-of-00002.parquet'), [ko(1), ko(2)]);
    await writeRows(join(data, 'train-00001-of-00002.parquet'), [ko(3)]);
    await writeRows(join(data, 'test-00000-of-00001.parquet'), [ko(99)]);
    writeFileSync(join(repo, 'README.md'), '---\nconfigs: []\n---\n');
    expect((await readAllRows(repo)).map((r) => r.instruction)).toEqual(['질문 1', '질문 2', '질문 3']);
    expect((await readAllRows(data)).map((r) => r.instruction)).toEqual(['질문 1', '질문 2', '질문 3']);
    expect((await readAllRows(join(data, 'test-*.parquet'))).map((r) => r.instruction)).toEqual(['질문 99']);
    expect((await readAllRows(join(data, '*.parquet'))).length).toBe(4);
    expect((await errorOf(readAllRows(join(data, 'validation-*.parquet')))).message).toMatch(/validation-\*\.parquet: no data files match/);
    const empty = mkdtempSync(join(tmpdir(), 'ko-align-hf-empty-'));
    expect((await errorOf(readAllRows(empty))).message).toMatch(/is a directory without data files/);
  });
});
