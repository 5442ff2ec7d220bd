/**
 * Interop with DuckDB, an independent Parquet reader and writer: files DuckDB writes read
 * exactly with our reader, and files we write read exactly in DuckDB, compared row by row.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { readAllRows, writeRows, type Row } from '../../src/data/io.ts';
import { parquetInfo } from '../../src/data/parquet.ts';
import { FIXTURE_SQL, expectedHfChatRows } from '../fixtures/data/make-fixtures.mts';

const dir = mkdtempSync(join(tmpdir(), 'ko-align-duckdb-'));
let con: DuckDBConnection;
let inst: DuckDBInstance;

beforeAll(async () => {
  inst = await DuckDBInstance.create(':memory:');
  con = await inst.connect();
});
afterAll(() => {
  con?.closeSync();
  inst?.closeSync();
});

/** DuckDB's JS values with exact-as-number BIGINTs turned into numbers (as our reader does). */
function plain(v: unknown): unknown {
  if (typeof v === 'bigint') return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === 'object' && !(v instanceof Date)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = plain(x);
    return out;
  }
  return v;
}

async function duckRows(sql: string): Promise<Row[]> {
  const r = await con.runAndReadAll(sql);
  return r.getRowObjectsJS().map((row) => plain(row) as Row);
}

async function duckTypes(path: string): Promise<Record<string, string>> {
  const r = await con.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet('${path}')`);
  return Object.fromEntries(r.getRowObjectsJson().map((x) => [x.column_name as string, x.column_type as string]));
}

describe('DuckDB writes, ko-align reads', () => {
  for (const codec of ['zstd', 'snappy']) {
    it(`reads a DuckDB ${codec} Parquet file (Korean, dictionary-encoded, list<struct> messages) exactly as DuckDB does`, async () => {
      const p = join(dir, `duck.${codec}.parquet`);
      await con.run(`COPY (${FIXTURE_SQL}) TO '${p}' (FORMAT parquet, COMPRESSION ${codec}, ROW_GROUP_SIZE 2048)`);
      const info = await parquetInfo(p);
      const source = info.metadata.row_groups[0]!.columns.find((c) => c.meta_data!.path_in_schema[0] === 'source')!.meta_data!;
      expect(source.codec).toBe(codec.toUpperCase());
      expect(source.encodings.some((e) => e.endsWith('DICTIONARY'))).toBe(true);
      const ours = await readAllRows(p);
      expect(ours).toEqual(await duckRows(`SELECT * FROM read_parquet('${p}')`));
      expect(ours).toEqual(expectedHfChatRows());
    });
  }

  it('reads DuckDB integer widths, doubles, dates-free scalars and deep nesting exactly', async () => {
    const p = join(dir, 'duck-types.parquet');
    await con.run(`COPY (SELECT
        1::TINYINT AS i8, -300::SMALLINT AS i16, 70000::INTEGER AS i32, 9007199254740993::BIGINT AS i64,
        2.5::FLOAT AS f32, 0.1::DOUBLE AS f64, '한국어'::VARCHAR AS s,
        [[1, 2], [], NULL, [3]]::INTEGER[][] AS nested,
        {'a': [{'b': '깊은 값', 'c': NULL}]}::STRUCT(a STRUCT(b VARCHAR, c INTEGER)[]) AS deep
      ) TO '${p}' (FORMAT parquet, COMPRESSION zstd)`);
    expect(await readAllRows(p)).toEqual([
      {
        i8: 1,
        i16: -300,
        i32: 70000,
        i64: 9007199254740993n,
        f32: 2.5,
        f64: 0.1,
        s: '한국어',
        nested: [[1, 2], [], null, [3]],
        deep: { a: [{ b: '깊은 값', c: null }] },
      },
    ]);
  });
});

describe('ko-align writes, DuckDB reads', () => {
  const rows: Row[] = Array.from({ length: 1200 }, (_, i) => ({
    id: i,
    source: ['kullm', 'ko_alpaca'][i % 2]!,
    messages:
      i % 7 === 0
        ? null
        : [
            { role: 'system', content: '한국어로 답하세요.' },
            { role: 'user', content: `${i}번째 질문: 막걸리는 무엇인가요?` },
            { role: 'assistant', content: `${i}번째 답변: 쌀로 빚은 전통주입니다. "따옴표", 쉼표` },
          ],
    score: i % 3 === 0 ? null : i / 8,
    label: i % 2 === 0,
    tags: i % 5 === 0 ? [] : ['태그', `번호${i}`],
    meta: { lang: 'ko', len: i * 3 },
    big: i === 1 ? 2n ** 62n : i,
  }));

  it('DuckDB reads our Parquet with list<struct> types and exactly the same values, row by row', async () => {
    const p = join(dir, 'ours.parquet');
    await writeRows(p, rows);
    const types = await duckTypes(p);
    expect(types).toEqual({
      id: 'BIGINT',
      source: 'VARCHAR',
      messages: 'STRUCT("role" VARCHAR, "content" VARCHAR)[]',
      score: 'DOUBLE',
      label: 'BOOLEAN',
      tags: 'VARCHAR[]',
      meta: 'STRUCT(lang VARCHAR, len BIGINT)',
      big: 'BIGINT',
    });
    const back = await duckRows(`SELECT * FROM read_parquet('${p}')`);
    expect(back.length).toBe(rows.length);
    for (let i = 0; i < rows.length; i++) expect(back[i]).toEqual(rows[i]);
    // And DuckDB's own aggregate over the nested column agrees.
    const [agg] = await duckRows(
      `SELECT count(*) AS n, sum(len(messages)) AS turns, count(*) FILTER (WHERE messages IS NULL) AS null_msgs FROM read_parquet('${p}')`,
    );
    const nullMsgs = rows.filter((r) => r.messages === null).length;
    expect(agg).toEqual({ n: 1200, turns: (1200 - nullMsgs) * 3, null_msgs: nullMsgs });
  });

  it('a DuckDB -> ko-align -> DuckDB round trip changes no value', async () => {
    const src = join(dir, 'rt-src.parquet');
    const mid = join(dir, 'rt-mid.parquet');
    await con.run(`COPY (${FIXTURE_SQL}) TO '${src}' (FORMAT parquet, COMPRESSION zstd)`);
    await writeRows(mid, await readAllRows(src));
    const diff = await duckRows(
      `SELECT count(*) AS n FROM (SELECT * EXCLUDE (meta) FROM read_parquet('${src}') EXCEPT SELECT * EXCLUDE (meta) FROM read_parquet('${mid}'))`,
    );
    expect(diff).toEqual([{ n: 0 }]);
    expect(await duckRows(`SELECT * FROM read_parquet('${mid}')`)).toEqual(expectedHfChatRows());
  });
});
