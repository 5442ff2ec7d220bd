/**
 * Judge throughput: judgeRows against a local OpenAI-compatible server that answers every
 * request after 200 ms, at concurrency 8 / 32 / 128. The ceiling is concurrency / latency
 * requests per second; the goal is >= 90% of it. The server runs in its own process (as a real
 * endpoint would), so this process measures the judge client alone. The durable cache is on
 * (as in the CLI): the fsync group commit is part of the path.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { judgeRows } from '../src/judge/job.ts';
import { defaultRubricPath } from '../src/judge/rubric.ts';
import type { BenchRow } from './types.ts';

const LATENCY_MS = 200;
const WAVES = 15;

export async function run(): Promise<BenchRow[]> {
  const serverFile = fileURLToPath(new URL('../test/helpers/openai-server.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', serverFile, String(LATENCY_MS)], { cwd: fileURLToPath(new URL('..', import.meta.url)), stdio: ['pipe', 'pipe', 'inherit'] });
  const baseURL = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.once('line', (l) => resolve(JSON.parse(l).baseURL));
    child.once('exit', (code) => reject(new Error(`bench judge: server process exited with code ${code}`)));
  });
  const stats = async () => (await (await fetch(baseURL.replace(/\/v1$/, '/__stats'))).json()) as { delivered: number };
  const dir = await mkdtemp(join(tmpdir(), 'ko-align-bench-judge-'));
  const rows: BenchRow[] = [];
  try {
    for (const concurrency of [8, 32, 128]) {
      const n = concurrency * WAVES;
      const data = Array.from({ length: n }, (_, i) => ({
        prompt: `벤치마크 질문 ${concurrency}-${i}: 한국의 전통 음식을 소개해 주세요.`,
        answer: `답변 ${i}: 비빔밥은 밥에 나물과 고추장을 넣어 비벼 먹는 음식입니다.`,
      }));
      // Warm-up (not timed): opens the keep-alive connections and JITs the path; steady state is measured.
      const warm = data.slice(0, concurrency).map((r) => ({ ...r, prompt: `워밍업 ${r.prompt}` }));
      await judgeRows(warm, { rubricPath: defaultRubricPath, baseURL, apiKey: 'sk-bench', model: 'bench-judge', concurrency });
      const before = (await stats()).delivered;
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const { summary } = await judgeRows(data, { rubricPath: defaultRubricPath, baseURL, apiKey: 'sk-bench', model: 'bench-judge', concurrency, cachePath: join(dir, `cache-${concurrency}.jsonl`) });
      const seconds = (performance.now() - t0) / 1000;
      const cpu = process.cpuUsage(cpu0);
      const delivered = (await stats()).delivered - before;
      if (summary.ok !== n || delivered !== n) throw new Error(`bench judge: expected ${n} ok answers, got ${summary.ok} (${delivered} delivered)`);
      const rps = n / seconds;
      const ceiling = concurrency / (LATENCY_MS / 1000);
      const cpuMs = (cpu.user + cpu.system) / 1000 / n;
      rows.push({ bench: `judge c=${concurrency}`, metric: 'throughput', value: rps, unit: 'req/s', note: `${n} requests, ${LATENCY_MS} ms latency, ceiling ${ceiling.toFixed(0)} req/s, client CPU ${cpuMs.toFixed(2)} ms/req` });
      rows.push({ bench: `judge c=${concurrency}`, metric: 'fraction of ceiling', value: rps / ceiling, unit: 'ratio', note: 'goal >= 0.90' });
    }
  } finally {
    child.stdin!.end();
    await new Promise((r) => child.once('exit', r));
    await rm(dir, { recursive: true, force: true });
  }
  return rows;
}
