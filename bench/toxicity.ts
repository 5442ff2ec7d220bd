/**
 * `ko-align toxicity score` throughput with the embedded classifier: rows/s end to end (read
 * JSONL, score, write JSONL) and of the classifier alone, on synthetic Korean rows recombined
 * from the bundled sample's answers (clean and toxic).
 *
 *   npm run bench toxicity          # via bench/run.ts
 *   TOXICITY_BENCH_ROWS=5000 npm run bench toxicity
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchRow } from './types.ts';

const here = dirname(fileURLToPath(import.meta.url));
const ROWS = Number(process.env.TOXICITY_BENCH_ROWS ?? 50_000);

export async function run(): Promise<BenchRow[]> {
  const { loadDefaultClassifier } = await import('../src/safety/classifier.ts');
  const { scoreToxicityFile } = await import('../src/safety/scorers.ts');
  const answers = readFileSync(join(here, '..', 'datasets', 'ko-instruct-sample.jsonl'), 'utf8')
    .trim().split('\n').map((l) => JSON.parse(l) as { output?: unknown })
    .map((r) => String(r.output ?? '')).filter((t) => t.length > 0);
  const sentences = answers.flatMap((t) => t.split(/(?<=[.다요!?])\s+/)).filter((s) => s.length > 0);
  let seed = 777;
  const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296);
  const texts: string[] = [];
  for (let i = 0; i < ROWS; i++) {
    const k = 1 + Math.floor(rnd() * 4);
    texts.push(Array.from({ length: k }, () => sentences[Math.floor(rnd() * sentences.length)]!).join(' '));
  }
  const chars = texts.reduce((a, t) => a + t.length, 0);
  const dir = mkdtempSync(join(tmpdir(), 'ko-align-bench-tox-'));
  try {
    const input = join(dir, 'in.jsonl');
    writeFileSync(input, texts.map((t, i) => JSON.stringify({ id: i, text: t })).join('\n') + '\n');
    const c = (await loadDefaultClassifier())!;
    c.score(texts[0]!); // warm up
    let t0 = performance.now();
    let cpu0 = process.cpuUsage();
    let sum = 0;
    for (const t of texts) sum += c.score(t);
    const clfWall = (performance.now() - t0) / 1000;
    const clfCpu = (() => { const u = process.cpuUsage(cpu0); return (u.user + u.system) / 1e6; })();
    t0 = performance.now();
    cpu0 = process.cpuUsage();
    const s = await scoreToxicityFile(input, join(dir, 'out.jsonl'), {});
    const fileWall = (performance.now() - t0) / 1000;
    const fileCpu = (() => { const u = process.cpuUsage(cpu0); return (u.user + u.system) / 1e6; })();
    const note = `${ROWS} rows, ${(chars / ROWS).toFixed(0)} chars/row, ${c.id}, mean score ${(sum / ROWS).toFixed(3)}, ${s.toxic} toxic`;
    return [
      { bench: 'toxicity', metric: 'toxicity score rows/s (wall, JSONL in and out)', value: ROWS / fileWall, unit: 'rows/s', note },
      { bench: 'toxicity', metric: 'toxicity score rows per CPU-second', value: ROWS / fileCpu, unit: 'rows/s', note: `${fileCpu.toFixed(1)} s CPU` },
      { bench: 'toxicity', metric: 'classifier.score rows/s (wall)', value: ROWS / clfWall, unit: 'rows/s', note: `${clfCpu.toFixed(1)} s CPU, one thread` },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
