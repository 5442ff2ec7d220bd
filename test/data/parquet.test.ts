import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readAllRows, readRows, writeRows, type Row } from '../../src/data/io.ts';
import { encodeParquet, JSON_COLUMNS_KEY, parquetInfo } from '../../src/data/parquet.ts';
import { UserError } from '../../src/util/errors.ts';
import { expectedHfChatRows } from '../fixtures/data/make-fixtures.mts';
import { errorOf } from '../helpers/errors.ts';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'data');
const dir = mkdtempSync(join(tmpdir(), 'ko-align-parquet-'));

describe('reading Parquet written by another tool (DuckDB fixtures)', () => {
  for (const codec of ['zstd', 'snappy'] as const) {
    it(`reads a ${codec} file with dictionary-encoded text, list<struct> messages, structs and nulls exactly`, async () => {
      const path = join(fixtures, `hf-chat.${codec}.parquet`);
      const info = await parquetInfo(path);
      expect(info.numRows).toBe(5000);
      expect(info.rowGroups).toBe(3);
      const chunks = info.metadata.row_groups[0]!.columns.map((c) => c.meta_data!);
      expect(new Set(chunks.map((c) => c.codec))).toEqual(new Set([codec.toUpperCase()]));
      const source = chunks.find((c) => c.path_in_schema.join('.') === 'source')!;
      expect(source.encodings.some((e) => e === 'RLE_DICTIONARY' || e === 'PLAIN_DICTIONARY')).toBe(true);
      expect(await readAllRows(path)).toEqual(expectedHfChatRows());
    });
  }

  it('streams row groups: rows come in file order across all groups', async () => {
    let i = 0;
    for await (const row of readRows(join(fixtures, 'hf-chat.zstd.parquet'))) {
      expect(row.id).toBe(i);
      i++;
    }
    expect(i).toBe(5000);
  });
});

const sample: Row[] = [
  {
    id: 1,
    text: '안녕하세요, 반갑습니다.',
    score: 0.5,
    ok: true,
    note: null,
    messages: [
      { role: 'user', content: '서울의 인구는?' },
      { role: 'assistant', content: '약 940만 명입니다.' },
    ],
    tags: ['지리', '인구'],
    ids: [101, 2045, 7],
    meta: { lang: 'ko', turns: 2, extra: null },
  },
  {
    id: -2,
    text: '',
    score: 3,
    ok: false,
    note: '두 번째',
    messages: [],
    tags: null,
    ids: [],
    meta: { lang: 'ko', turns: 0, extra: '추가' },
  },
  {
    id: 9007199254740991,
    text: '이모지 🍚 와 한자 漢字',
    score: null,
    ok: null,
    note: null,
    messages: null,
    tags: [],
    ids: null,
    meta: null,
  },
];

describe('writing Parquet (hyparquet-writer)', () => {
  it('round-trips strings, ints, floats, booleans, nulls, lists, lists of structs and structs exactly', async () => {
    const p = join(dir, 'sample.parquet');
    expect(await writeRows(p, sample)).toBe(3);
    expect(await readAllRows(p)).toEqual(sample);
  });

  it('writes ints as INT64, fractions as DOUBLE, text as STRING and messages as a 3-level LIST of structs', async () => {
    const p = join(dir, 'types.parquet');
    await writeRows(p, sample);
    const { metadata } = await parquetInfo(p);
    const byName = new Map(metadata.schema.map((e) => [e.name, e]));
    expect(byName.get('id')!.type).toBe('INT64');
    expect(byName.get('score')!.type).toBe('DOUBLE');
    expect(byName.get('text')!.converted_type).toBe('UTF8');
    expect(byName.get('ok')!.type).toBe('BOOLEAN');
    const names = metadata.schema.map((e) => e.name);
    const m = names.indexOf('messages');
    expect(names.slice(m, m + 5)).toEqual(['messages', 'list', 'element', 'role', 'content']);
    expect(metadata.schema[m]!.converted_type).toBe('LIST');
    expect(metadata.schema[m + 1]!.repetition_type).toBe('REPEATED');
  });

  it('keeps 64-bit integers beyond 2^53 exact (as BigInt)', async () => {
    const p = join(dir, 'big.parquet');
    await writeRows(p, [{ n: 2n ** 60n + 1n }, { n: -(2n ** 62n) }, { n: 5 }]);
    expect(await readAllRows(p)).toEqual([{ n: 2n ** 60n + 1n }, { n: -(2n ** 62n) }, { n: 5 }]);
  });

  it('stores a column without one shape as JSON text and restores it', async () => {
    const rows = [{ v: '문자열' }, { v: { a: 1, b: ['가'] } }, { v: 3 }, { v: null }, { v: [1, '둘'] }, { v: {} }];
    const p = join(dir, 'mixed.parquet');
    await writeRows(p, rows);
    const { metadata } = await parquetInfo(p);
    expect(metadata.key_value_metadata).toContainEqual({ key: JSON_COLUMNS_KEY, value: '["v"]' });
    expect(await readAllRows(p)).toEqual(rows);
  });

  it('widens a column mixing ints and fractions to float without changing the values', async () => {
    const p = join(dir, 'widen.parquet');
    await writeRows(p, [{ x: 1 }, { x: 2.5 }, { x: -3 }]);
    const { metadata } = await parquetInfo(p);
    expect(metadata.schema.find((e) => e.name === 'x')!.type).toBe('DOUBLE');
    expect(await readAllRows(p)).toEqual([{ x: 1 }, { x: 2.5 }, { x: -3 }]);
  });

  it('gives a column missing from some rows null there (columnar files have every column on every row)', async () => {
    const p = join(dir, 'sparse.parquet');
    await writeRows(p, [{ a: '가' }, { b: 2 }]);
    expect(await readAllRows(p)).toEqual([
      { a: '가', b: null },
      { a: null, b: 2 },
    ]);
  });

  it('splits large outputs into row groups and reads them all back in order', async () => {
    const rows = Array.from({ length: 2500 }, (_, i) => ({ i, text: `문장 ${i}`, messages: [{ role: 'user', content: `질문 ${i}` }] }));
    const bytes = await encodeParquet(rows, { rowGroupSize: 1000 });
    const p = join(dir, 'groups.parquet');
    writeFileSync(p, bytes);
    expect((await parquetInfo(p)).rowGroups).toBe(3);
    expect(await readAllRows(p)).toEqual(rows);
  });

  it('refuses a file that is not Parquet with one line naming it', async () => {
    const p = join(dir, '가짜.parquet');
    writeFileSync(p, '{"이것은":"parquet가 아님"}\n');
    const e = await errorOf(readAllRows(p));
    expect(e).toBeInstanceOf(UserError);
    expect(e.message).toMatch(new RegExp(`^${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not a readable Parquet file \\(`));
  });

  it('an empty dataset writes a valid Parquet file that reads back as no rows', async () => {
    const p = join(dir, 'empty.parquet');
    expect(await writeRows(p, [])).toBe(0);
    expect(await readAllRows(p, { requireRows: false })).toEqual([]);
    expect((await errorOf(readAllRows(p))).message).toBe(`${p}: no rows`);
  });
});
