import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { serialize } from 'node:v8';
import { repoRoot } from '../helpers/cli.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeArrowTo } from '../../src/data/arrow.ts';
import { writeCsvTo } from '../../src/data/csv.ts';
import { readAllRows, writeRows, type Row } from '../../src/data/io.ts';
import { parquetInfo, writeParquetTo } from '../../src/data/parquet.ts';
import { bufferRows } from '../../src/data/spill.ts';

function makeRows(n: number, big: boolean): Row[] {
  return Array.from({ length: n }, (_, i) => ({
    id: i,
    text: `${i}번째 문장, "따옴표"`,
    messages: i % 9 === 0 ? null : [{ role: 'user', content: `질문 ${i}` }, { role: 'assistant', content: `답 ${i}` }],
    score: i % 4 === 0 ? null : i / 4,
    ...(big ? { big: 2n ** 60n + BigInt(i) } : {}),
  }));
}

async function* stream(rows: Row[]): AsyncGenerator<Row> {
  for (const r of rows) yield r;
}

describe('writing columnar formats from a stream larger than the in-memory limit', () => {
  const writers = {
    parquet: (p: string, rows: AsyncIterable<Row>) => writeParquetTo(p, rows, { maxInMemory: 50, rowGroupSize: 128 }),
    arrow: (p: string, rows: AsyncIterable<Row>) => writeArrowTo(p, rows, { maxInMemory: 50, batchSize: 128 }),
    csv: (p: string, rows: AsyncIterable<Row>) => writeCsvTo(p, rows, { maxInMemory: 50 }),
  };
  for (const [ext, write] of Object.entries(writers)) {
    it(`${ext}: spills, writes every row exactly, and removes the spill file`, async () => {
      const dir = mkdtempSync(join(tmpdir(), `ko-align-spill-${ext}-`));
      const rows = makeRows(500, ext !== 'csv');
      const p = join(dir, `out.${ext}`);
      expect(await write(p, stream(rows))).toBe(500);
      expect(readdirSync(dir)).toEqual([`out.${ext}`]);
      expect(await readAllRows(p)).toEqual(rows);
      if (ext === 'parquet') expect((await parquetInfo(p)).rowGroups).toBe(4);
    });
  }

  it('a failure after spilling leaves neither output nor spill file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ko-align-spill-fail-'));
    async function* failing(): AsyncGenerator<Row> {
      for (let i = 0; i < 200_001; i++) yield { i, t: '가' };
      throw new Error('입력 중단');
    }
    await expect(writeRows(join(dir, 'out.parquet'), failing())).rejects.toThrow('입력 중단');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('bufferRows replays spilled rows in order with BigInt, Date and bytes intact', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ko-align-spill-raw-'));
    const rows = Array.from({ length: 30 }, (_, i) => ({ i, b: BigInt(i) * 10n ** 18n, d: new Date(i * 1000), u: new Uint8Array([i, 255]) }));
    const buf = await bufferRows(stream(rows), join(dir, 'x.spill'), { maxInMemory: 5 });
    const back: Row[] = [];
    for await (const batch of buf.batches(7)) {
      expect(batch.length).toBeLessThanOrEqual(7);
      back.push(...batch);
    }
    expect(back).toEqual(rows);
    await buf.dispose();
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('spill files are bounded', () => {
  it('are compressed: the bundled Korean sample spills to well under half its serialized size, and replays exactly', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ko-align-spill-size-'));
    const sample = readFileSync(join(repoRoot, 'datasets', 'ko-instruct-sample.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Row);
    const rows = Array.from({ length: 6 }, () => sample).flat();
    const spill = join(dir, 'x.spill');
    const b = await bufferRows(stream(rows), spill, { maxInMemory: 10 });
    const raw = rows.reduce((n, r) => n + 4 + serialize(r).length, 0);
    const size = statSync(spill).size;
    expect(size).toBeLessThan(raw * 0.5);
    const back: Row[] = [];
    for await (const batch of b.batches(97)) back.push(...batch);
    expect(back).toEqual(rows);
    await b.dispose();
    expect(readdirSync(dir)).toEqual([]);
  });
});
