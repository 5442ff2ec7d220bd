/**
 * Curation throughput: rows/s of the rules and dedup stages on 200k synthetic Korean rows, and
 * the peak RSS of the process that ran them (a child process, so other benches do not count).
 * Rows are recombined sentences of the bundled sample's answers (~10% near-duplicates, plus some
 * code-switched / short / repetitive rows), streamed through the real pipeline (JSONL stage files).
 *
 *   npm run bench curate            # via bench/run.ts
 *   node --import tsx bench/curate.ts --child [rows]   # the measured child alone
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchRow } from './types.ts';

const here = dirname(fileURLToPath(import.meta.url));
const ROWS = Number(process.env.CURATE_BENCH_ROWS ?? 200_000);

interface ChildResult {
  rows: number;
  stages: { name: string; in: number; kept: number; seconds: number; cpu: number }[];
  total_s: number;
  max_rss_mb: number;
  /** Highest sampled RSS while the stages ran, before the final Parquet outputs were written. */
  stages_rss_mb: number;
}

async function child(n: number): Promise<ChildResult> {
  const { writeRows } = await import('../src/data/io.ts');
  const { runCuration } = await import('../src/curate/pipeline.ts');
  const sample = readFileSync(join(here, '..', 'datasets', 'ko-instruct-sample.jsonl'), 'utf8')
    .trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((r) => r.gt_issue === 'clean' && typeof r.output === 'string');
  const sentences = sample.flatMap((r) => (r.output as string).split(/(?<=[.다요])\s+/)).filter((s) => s.length > 8);
  const prompts = sample.map((r) => r.instruction as string);
  let seed = 12345;
  const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296);
  const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)];
  const dir = mkdtempSync(join(tmpdir(), 'ko-align-bench-curate-'));
  const input = join(dir, 'synthetic.jsonl');
  const made: { instruction: string; output: string }[] = [];
  await writeRows(input, (function* () {
    for (let i = 0; i < n; i++) {
      const u = rnd();
      let row: { instruction: string; output: string };
      if (u < 0.1 && made.length > 0) {
        const src = pick(made); // near-duplicate of an earlier row
        row = { instruction: src.instruction, output: `네, ${src.output}` };
      } else if (u < 0.12) {
        row = { instruction: pick(prompts), output: `${pick(sentences)} 非常 重要한 问题입니다.` };
      } else if (u < 0.14) {
        row = { instruction: pick(prompts), output: '네.' };
      } else {
        const k = 2 + Math.floor(rnd() * 3);
        row = { instruction: `${pick(prompts)} (${i})`, output: Array.from({ length: k }, () => pick(sentences)).join(' ') };
      }
      if (made.length < 5000) made.push(row);
      else if (rnd() < 0.01) made[Math.floor(rnd() * made.length)] = row;
      yield row;
    }
  })());
  let stagesRss = 0;
  let inStages = true;
  const sampler = setInterval(() => {
    if (inStages) stagesRss = Math.max(stagesRss, process.memoryUsage().rss);
  }, 20);
  const t0 = performance.now();
  const m = await runCuration(
    { inputs: [{ path: input }], output_dir: join(dir, 'out'), stages: [{ type: 'rules' }, { type: 'dedup' }], progress: 'off' },
    { log: (line) => { if (line.startsWith('stage 2 dedup:')) inStages = false; } },
  );
  clearInterval(sampler);
  const total = (performance.now() - t0) / 1000;
  rmSync(dir, { recursive: true, force: true });
  return {
    rows: n,
    stages: m.stages.map((s) => ({ name: s.name, in: s.in, kept: s.kept, seconds: s.duration_s, cpu: s.cpu_s })),
    total_s: total,
    max_rss_mb: process.resourceUsage().maxRSS / 1024,
    stages_rss_mb: stagesRss / (1024 * 1024),
  };
}

export async function run(): Promise<BenchRow[]> {
  const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', String(ROWS)], {
    cwd: join(here, '..'),
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  });
  if (r.status !== 0) throw new Error(`bench curate child failed: ${r.stderr}`);
  const res = JSON.parse(r.stdout.trim().split('\n').pop()!) as ChildResult;
  const out: BenchRow[] = [];
  const note = `${res.rows} synthetic rows, JSONL stage files, 1 thread`;
  for (const s of res.stages) {
    if (s.name === 'rules' || s.name === 'dedup') {
      out.push({ bench: 'curate', metric: `${s.name} rows/s (wall)`, value: s.in / s.seconds, unit: 'rows/s', note: `${s.in} in, ${s.kept} kept, ${s.seconds.toFixed(1)} s wall` });
      out.push({ bench: 'curate', metric: `${s.name} rows per CPU-second`, value: s.in / s.cpu, unit: 'rows/s', note: `${s.cpu.toFixed(1)} s CPU (robust to a busy machine)` });
    }
  }
  const rd = res.stages.filter((s) => s.name === 'rules' || s.name === 'dedup');
  out.push({ bench: 'curate', metric: 'rules+dedup rows/s (wall)', value: res.rows / rd.reduce((a, s) => a + s.seconds, 0), unit: 'rows/s', note });
  out.push({ bench: 'curate', metric: 'rules+dedup rows per CPU-second', value: res.rows / rd.reduce((a, s) => a + s.cpu, 0), unit: 'rows/s', note });
  out.push({ bench: 'curate', metric: 'pipeline total (ingest+rules+dedup+parquet)', value: res.total_s, unit: 's', note });
  out.push({ bench: 'curate', metric: 'peak RSS (whole run)', value: res.max_rss_mb, unit: 'MiB', note: 'child process; the final kept/rejected.parquet writes hold their rows in memory' });
  out.push({ bench: 'curate', metric: 'peak RSS (stages only)', value: res.stages_rss_mb, unit: 'MiB', note: 'sampled every 20 ms while ingest, rules and dedup streamed' });
  return out;
}

if (process.argv[2] === '--child') {
  const res = await child(Number(process.argv[3] ?? ROWS));
  process.stdout.write(JSON.stringify(res) + '\n');
}
