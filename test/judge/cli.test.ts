/**
 * End-to-end: the real `ko-align judge ...` binary against a real local HTTP server. The child
 * is spawned asynchronously (the server lives in this process).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chatReply, errorReply, startOpenAIServer, type OpenAIServer } from '../helpers/openai-server.ts';
import { repoRoot, runCli } from '../helpers/cli.ts';
import { collectBatch, submitBatch } from '../../src/judge/batch.ts';
import { labelRows } from '../../src/judge/label.ts';
import { judgeRows } from '../../src/judge/job.ts';
import { readAllRows } from '../../src/data/io.ts';

let server: OpenAIServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const cleanEnv = () => {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('OPENAI_')) env[k] = v;
  return env;
};

function start(args: string[], env: Record<string, string> = {}): { child: ChildProcess; done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> } {
  const child = spawn(process.execPath, [join(repoRoot, 'bin', 'ko-align.mjs'), ...args], { cwd: repoRoot, env: { ...cleanEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { child, done };
}

const readJsonl = async (p: string) => (await readFile(p, 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l));

async function makeInput(n: number): Promise<{ dir: string; input: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'ko-align-judge-cli-'));
  const input = join(dir, 'in.jsonl');
  const lines = Array.from({ length: n }, (_, i) => JSON.stringify({ id: i, prompt: `질문 ${i}: 한국의 전통 음식을 하나 소개해 주세요.`, answer: `답변 ${i}: 비빔밥은 밥 위에 나물과 고추장을 얹어 비벼 먹는 음식입니다.` }));
  await writeFile(input, lines.join('\n') + '\n');
  return { dir, input };
}

/** Scores by the sample number so every row's score is checkable. */
const scoreOf = (req: { body: { messages: Array<{ content: string }> } }) => {
  const m = req.body.messages[1].content.match(/질문 (\d+):/);
  return m ? (Number(m[1]) % 10) + 1 : 5;
};

describe('ko-align judge score (end to end)', () => {
  it('scores a file against a local endpoint, recovering from 429 and 500; failure rows carry the error; the API key is never written', async () => {
    const key = 'sk-never-print-me-4242';
    server = await startOpenAIServer({
      handler: (req) => {
        if (req.index === 0) return errorReply(429, 'slow down', { 'retry-after': '0' });
        if (req.index === 1) return errorReply(500, 'oops');
        if (scoreOf(req) === 6) return errorReply(401, 'Incorrect API key provided');
        return chatReply(`평가 근거입니다. Rating: [[${scoreOf(req)}]]`);
      },
    });
    const { dir, input } = await makeInput(6);
    const output = join(dir, 'out.jsonl');
    const r = await start(['judge', 'score', '--input', input, '--output', output, '--base-url', server.baseURL, '--model', 'local-judge', '--concurrency', '2', '--price-input', '0.5', '--price-output', '1.5'], { OPENAI_API_KEY: key, KO_ALIGN_DEBUG: '1' }).done;
    expect(r.code, r.stderr).toBe(0);
    expect(server.requests[0].headers.authorization).toBe(`Bearer ${key}`);
    const summary = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(summary).toMatchObject({ rows: 6, ok: 5, failed: 1, retries: 2, rateLimited: 1, serverErrors: 1, model: 'local-judge', heuristic: false });
    expect(summary.costUsd).toBeCloseTo((500 * 0.5 + 100 * 1.5) / 1e6, 12);
    const out = await readJsonl(output);
    expect(out.map((r) => r.id)).toEqual([0, 1, 2, 3, 4, 5]);
    for (const row of out.filter((r) => r.id !== 5)) expect(row).toMatchObject({ judge_score: (row.id % 10) + 1, judge_status: 'ok', judge_model: 'local-judge', judge_rubric: 'quality-ko@1', judge_flags: [] });
    expect(out[5]).toMatchObject({ judge_status: 'failed', judge_score: null });
    expect(out[5].judge_raw).toMatch(/HTTP 401/);
    // the key is nowhere: not on stdout / stderr, not in the output rows, not in the cache
    const texts = [r.stdout, r.stderr, await readFile(output, 'utf8'), await readFile(`${output}.cache.jsonl`, 'utf8')];
    for (const text of texts) expect(text).not.toContain(key);
  });

  it('killed with SIGKILL mid-job and restarted: scores only what is missing, each sample once, paid requests == samples', async () => {
    const N = 40;
    const K = 15;
    let phase: 'first' | 'second' = 'first';
    let answeredFirst = 0;
    server = await startOpenAIServer({
      handler: async (req) => {
        if (phase === 'first') {
          // The first K requests are answered; the rest hang until the job is killed, so they are never delivered (never paid).
          if (answeredFirst >= K) return { hang: true };
          answeredFirst++;
        }
        return { ...chatReply(JSON.stringify({ reason: '적절함', score: scoreOf(req) })), delayMs: 10 };
      },
    });
    const { dir, input } = await makeInput(N);
    const output = join(dir, 'out.jsonl');
    const cache = `${output}.cache.jsonl`;
    const args = ['judge', 'score', '--input', input, '--output', output, '--base-url', server.baseURL, '--concurrency', '4'];
    const first = start(args);
    // Wait until all K delivered answers are durable in the cache, then kill hard.
    const t0 = Date.now();
    while (true) {
      const lines = existsSync(cache) ? (await readFile(cache, 'utf8')).split('\n').filter(Boolean).length : 0;
      if (lines >= K) break;
      if (Date.now() - t0 > 60_000) throw new Error(`cache never reached ${K} lines (has ${lines})`);
      await new Promise((r) => setTimeout(r, 25));
    }
    first.child.kill('SIGKILL');
    const r1 = await first.done;
    expect(r1.signal).toBe('SIGKILL');
    expect(existsSync(output)).toBe(false); // never a half-written output
    expect(server.delivered()).toBe(K);

    phase = 'second';
    const r2 = await start(args).done;
    expect(r2.code, r2.stderr).toBe(0);
    const summary = JSON.parse(r2.stdout.trim().split('\n').pop()!);
    expect(summary).toMatchObject({ rows: N, ok: N, cached: K, judged: N - K });
    const out = await readJsonl(output);
    expect(out).toHaveLength(N);
    expect(out.map((r) => r.id)).toEqual(Array.from({ length: N }, (_, i) => i));
    for (const row of out) expect(row.judge_score).toBe((row.id % 10) + 1);
    // Every sample paid for exactly once across both runs.
    expect(server.delivered()).toBe(N);
    const cacheLines = await readJsonl(cache);
    expect(new Set(cacheLines.map((e) => e.key)).size).toBe(N);
    expect(cacheLines).toHaveLength(N);
  });

  it('a bad port exits 1 with one line (not 0 with every row judge: failed), and keeps the rows it wrote', async () => {
    const closed = await startOpenAIServer({});
    const url = closed.baseURL;
    await closed.close();
    const { dir, input } = await makeInput(3);
    const output = join(dir, 'out.jsonl');
    const r = await start(['judge', 'score', '--input', input, '--output', output, '--base-url', url, '--max-retries', '0'], { OPENAI_API_KEY: 'sk-bad-port-test' }).done;
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n').filter((l) => l.startsWith('ko-align:'))).toEqual([expect.stringMatching(/^ko-align: error: .*every judge call failed \(3 rows\)/)]);
    expect((await readJsonl(output)).map((row) => row.judge_status)).toEqual(['failed', 'failed', 'failed']);
  });

  it('uses the embedded heuristic judge when no endpoint is configured', () => {
    return (async () => {
      const { dir, input } = await makeInput(3);
      const output = join(dir, 'out.parquet');
      const r = runCli(['judge', 'score', '--input', input, '--output', output], { env: cleanEnv() });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain('embedded heuristic judge');
      expect(JSON.parse(r.stdout.trim())).toMatchObject({ heuristic: true, model: 'heuristic@1', rows: 3 });
      const rows = await readAllRows(output);
      expect(rows.map((r) => r.id)).toEqual([0, 1, 2]);
      expect(rows.every((r) => r.judge_model === 'heuristic@1' && typeof r.judge_score === 'number' && Array.isArray(r.judge_flags))).toBe(true);
    })();
  });

  it('a broken rubric is one error line naming the file and key', async () => {
    const { dir, input } = await makeInput(1);
    const rubric = join(dir, 'bad.yaml');
    await writeFile(rubric, (await readFile(join(repoRoot, 'judges', 'quality-ko.yaml'), 'utf8')).replace('version: 1', 'version: "one"'));
    const r = runCli(['judge', 'score', '--input', input, '--output', join(dir, 'o.jsonl'), '--rubric', rubric], { env: cleanEnv() });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^ko-align: error: .*bad\.yaml: key 'version' must be an integer/);
  });
});

describe('ko-align judge label', () => {
  it('makes prompt/completion/label rows from scores and prints the class ratio', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ko-align-label-'));
    const input = join(dir, 'scored.jsonl');
    const scored = [
      { prompt: '질문1', answer: '좋은 답1', judge_score: 9, judge_status: 'ok' },
      { prompt: '질문2', answer: '좋은 답2', judge_score: 8, judge_status: 'ok' },
      { prompt: '질문3', answer: '애매한 답', judge_score: 6, judge_status: 'ok' },
      { prompt: '질문4', answer: '나쁜 답', judge_score: 2, judge_status: 'ok' },
      { prompt: '질문5', answer: '실패', judge_score: null, judge_status: 'failed', judge_raw: '???' },
      { prompt: '질문6', answer: '좋은 답3', judge_score: 10, judge_status: 'ok' },
    ];
    await writeFile(input, scored.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const output = join(dir, 'kto.jsonl');
    const r = runCli(['judge', 'label', '--input', input, '--output', output, '--desirable-min', '8', '--undesirable-max', '4'], { env: cleanEnv() });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('desirable 3 (75.0%)');
    expect(r.stdout).toContain('undesirable 1 (25.0%)');
    expect(r.stdout).toContain('ratio 3.00:1');
    const out = await readJsonl(output);
    expect(out).toEqual([
      { prompt: '질문1', completion: '좋은 답1', label: true, judge_score: 9 },
      { prompt: '질문2', completion: '좋은 답2', label: true, judge_score: 8 },
      { prompt: '질문4', completion: '나쁜 답', label: false, judge_score: 2 },
      { prompt: '질문6', completion: '좋은 답3', label: true, judge_score: 10 },
    ]);
    expect(() => labelRows(scored, { desirableMin: 4, undesirableMax: 8 })).toThrow(/--undesirable-max \(8\) must be below --desirable-min \(4\)/);
  });
});

describe('ko-align judge batch submit | status | collect', () => {
  it('uploads a JSONL of chat-completion bodies, and joins output and error files back on custom_id', async () => {
    server = await startOpenAIServer({
      handler: (req) => {
        if (req.path !== '/v1/chat/completions') return undefined;
        const n = scoreOf(req) - 1;
        if (n === 2) return errorReply(500, 'batch item failed');
        if (n === 3) return chatReply('점수를 매길 수 없습니다');
        return chatReply(JSON.stringify({ reason: '배치 평가', score: n + 1 }));
      },
    });
    const { dir, input } = await makeInput(5);
    const state = join(dir, 'batch.json');
    const requests = join(dir, 'requests.jsonl');
    const env = { OPENAI_API_KEY: 'sk-batch-test' };
    const sub = await start(['judge', 'batch', 'submit', '--input', input, '--state', state, '--base-url', server.baseURL, '--model', 'batch-judge', '--requests', requests], env).done;
    expect(sub.code, sub.stderr).toBe(0);
    expect(sub.stdout).toMatch(/submitted batch batch-\S+ \(5 requests/);
    const reqLines = await readJsonl(requests);
    expect(reqLines.map((l) => l.custom_id)).toEqual(['row-0', 'row-1', 'row-2', 'row-3', 'row-4']);
    expect(reqLines[0]).toMatchObject({ method: 'POST', url: '/v1/chat/completions', body: { model: 'batch-judge', temperature: 0 } });
    expect(reqLines[0].body.response_format.type).toBe('json_schema');
    const uploaded = [...server.files.values()].find((f) => f.purpose === 'batch')!;
    expect(uploaded.content.trim().split('\n')).toHaveLength(5);

    const st = await start(['judge', 'batch', 'status', '--state', state, '--base-url', server.baseURL], env).done;
    expect(st.code, st.stderr).toBe(0);
    expect(st.stdout).toMatch(/completed, 3\/5 completed, 2 failed|completed, 4\/5 completed, 1 failed/);

    const output = join(dir, 'out.jsonl');
    const col = await start(['judge', 'batch', 'collect', '--state', state, '--output', output, '--base-url', server.baseURL, '--cache', join(dir, 'cache.jsonl')], env).done;
    expect(col.code, col.stderr).toBe(0);
    const out = await readJsonl(output);
    expect(out.map((r) => r.id)).toEqual([0, 1, 2, 3, 4]);
    expect(out[0]).toMatchObject({ judge_status: 'ok', judge_score: 1, judge_model: 'batch-judge', judge_reason: '배치 평가' });
    expect(out[4]).toMatchObject({ judge_status: 'ok', judge_score: 5 });
    expect(out[2]).toMatchObject({ judge_status: 'failed', judge_score: null });
    expect(out[2].judge_raw).toMatch(/HTTP 500/);
    expect(out[3]).toMatchObject({ judge_status: 'failed', judge_raw: '점수를 매길 수 없습니다' });
    expect(col.stdout).toContain('3 ok, 2 failed');

    // Online scoring afterwards reuses the batch results from the cache: only the failed error row is asked again.
    const before = server.requests.filter((r) => r.path === '/v1/chat/completions').length;
    const again = await judgeRows(await readAllRows(input), { rubricPath: join(repoRoot, 'judges', 'quality-ko.yaml'), baseURL: server.baseURL, apiKey: 'sk-batch-test', model: 'batch-judge', cachePath: join(dir, 'cache.jsonl'), maxRetries: 0, maxParseRetries: 0 });
    expect(again.summary).toMatchObject({ cached: 4, judged: 1 });
    const after = server.requests.filter((r) => r.path === '/v1/chat/completions').length;
    expect(after - before).toBe(1);
  });

  it('collect refuses when the input changed since submit (library call)', async () => {
    server = await startOpenAIServer({});
    const { dir, input } = await makeInput(2);
    const statePath = join(dir, 'batch.json');
    await submitBatch({ input, statePath, rubricPath: join(repoRoot, 'judges', 'quality-ko.yaml'), baseURL: server.baseURL, apiKey: 'sk-batch-test' });
    await writeFile(input, (await readFile(input, 'utf8')) + JSON.stringify({ id: 9, prompt: '추가', answer: '행' }) + '\n');
    await expect(collectBatch({ statePath, output: join(dir, 'o.jsonl'), baseURL: server.baseURL, apiKey: 'sk-batch-test' })).rejects.toThrow(/changed since the batch was submitted/);
    expect(existsSync(join(dir, 'o.jsonl'))).toBe(false);
  });
});
