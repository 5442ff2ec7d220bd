/**
 * Data io throughput (not part of the test suite):
 *   node --import tsx test/data/bench-io.mts [rows=200000]
 * Writes and reads N chat rows (Korean text, list<struct> messages) as JSONL and Parquet,
 * then streams a 1M-row JSONL file and reports the heap it needed.
 */
import { mkdtempSync, statSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readRows, writeRows, type Row } from '../../src/data/io.ts';

const N = Number(process.argv[2] ?? 200_000);
const dir = mkdtempSync(join(tmpdir(), 'ko-align-bench-'));

function* makeRows(n: number): Generator<Row> {
  for (let i = 0; i < n; i++) {
    yield {
      id: i,
      source: i % 3 === 0 ? 'kullm' : 'ko_alpaca',
      messages: [
        { role: 'user', content: `${i}번째 질문: 한국의 전통 음식에는 무엇이 있나요?` },
        { role: 'assistant', content: `${i}번째 답변: 김치, 불고기, 비빔밥, 떡볶이 등이 있습니다.` },
      ],
      score: (i % 10) / 2,
      label: i % 2 === 0,
    };
  }
}

async function time<T>(f: () => Promise<T>): Promise<[T, number]> {
  const t = performance.now();
  const r = await f();
  return [r, (performance.now() - t) / 1000];
}

const rows = [...makeRows(N)];
for (const ext of ['jsonl', 'parquet']) {
  const p = join(dir, `bench.${ext}`);
  const [, w] = await time(() => writeRows(p, rows));
  const [count, r] = await time(async () => {
    let c = 0;
    for await (const _ of readRows(p)) c++;
    return c;
  });
  if (count !== N) throw new Error(`read ${count} rows, expected ${N}`);
  const mb = statSync(p).size / 1e6;
  console.log(`${ext.padEnd(8)} ${N} rows, ${mb.toFixed(1)} MB: write ${(N / w).toFixed(0)} rows/s (${w.toFixed(2)} s), read ${(N / r).toFixed(0)} rows/s (${r.toFixed(2)} s)`);
}

// Streaming: 1M-row JSONL read with readRows must not hold the rows.
const big = join(dir, 'big.jsonl');
await writeRows(big, makeRows(1_000_000));
rows.length = 0;
global.gc?.();
const base = process.memoryUsage().heapUsed;
let peak = base;
let c = 0;
const [, s] = await time(async () => {
  for await (const _ of readRows(big)) {
    if (++c % 50_000 === 0) peak = Math.max(peak, process.memoryUsage().heapUsed);
  }
});
console.log(
  `stream   1000000 rows, ${(statSync(big).size / 1e6).toFixed(0)} MB JSONL: ${(c / s).toFixed(0)} rows/s, heap growth while reading ${((peak - base) / 1e6).toFixed(0)} MB`,
);
rmSync(dir, { recursive: true, force: true });
