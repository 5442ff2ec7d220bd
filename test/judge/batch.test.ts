/**
 * Batch submit is idempotent: the same --state never pays for a second batch, a submit killed
 * during batch creation is resolved by the next one, and rows already in the cache are not sent.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { collectBatch, readBatchState, submitBatch } from '../../src/judge/batch.ts';
import { judgeRows } from '../../src/judge/job.ts';
import { readAllRows } from '../../src/data/io.ts';
import { repoRoot } from '../helpers/cli.ts';
import { errorOf } from '../helpers/errors.ts';
import { chatReply, startOpenAIServer, type OpenAIServer } from '../helpers/openai-server.ts';
import { isolateOpenAIEnv } from '../helpers/openai-env.ts';

let server: OpenAIServer | undefined;
isolateOpenAIEnv(() => server, () => (server = undefined));

const rubricPath = join(repoRoot, 'judges', 'quality-ko.yaml');
const key = 'sk-batch-idem-test';

async function setup(n = 4): Promise<{ dir: string; input: string; statePath: string }> {
  server = await startOpenAIServer({ handler: (req) => (req.path === '/v1/chat/completions' ? chatReply(JSON.stringify({ reason: '배치 평가', score: 8 })) : undefined) });
  const dir = await mkdtemp(join(tmpdir(), 'ko-align-batch-'));
  const input = join(dir, 'in.jsonl');
  await writeFile(input, Array.from({ length: n }, (_, i) => JSON.stringify({ id: i, prompt: `질문 ${i}: 한국의 명절은?`, answer: `답변 ${i}: 설날과 추석이 있습니다.` }) + '\n').join(''));
  return { dir, input, statePath: join(dir, 'batch.json') };
}

const opts = (o: { input: string; statePath: string }) => ({ ...o, rubricPath, baseURL: server!.baseURL, apiKey: key, model: 'batch-judge' });
const batchCreates = () => server!.requests.filter((r) => r.method === 'POST' && r.path === '/v1/batches').length;

describe('judge batch submit is idempotent', () => {
  it('run twice with the same --state: one batch, the second run reuses it', async () => {
    const o = await setup();
    const a = await submitBatch(opts(o));
    const b = await submitBatch(opts(o));
    expect(a.reused).toBe(false);
    expect(b).toMatchObject({ reused: true, batchId: a.batchId });
    expect(batchCreates()).toBe(1);
    expect(server!.batches.size).toBe(1);
  });

  it('--force submits anew', async () => {
    const o = await setup();
    const a = await submitBatch(opts(o));
    const b = await submitBatch({ ...opts(o), force: true });
    expect(b.batchId).not.toBe(a.batchId);
    expect(batchCreates()).toBe(2);
  });

  it('killed after the batch was created but before the state said so: the next submit finds that batch', async () => {
    const o = await setup();
    const a = await submitBatch(opts(o));
    // What a SIGKILL during batch creation leaves: the pending state written before the upload.
    const st = JSON.parse(await readFile(o.statePath, 'utf8'));
    await writeFile(o.statePath, JSON.stringify({ ...st, status: 'pending', batchId: '', inputFileId: '' }));
    await expect(readBatchState(o.statePath)).rejects.toThrow(/did not finish \(state pending\); run 'judge batch submit' again/);
    const b = await submitBatch(opts(o));
    expect(b).toMatchObject({ reused: true, batchId: a.batchId, status: 'submitted' });
    expect(batchCreates()).toBe(1);
    expect((await readBatchState(o.statePath)).batchId).toBe(a.batchId);
  });

  it('killed before the upload: the pending state is there, and the next submit creates exactly one batch', async () => {
    const o = await setup();
    server!.requests.length = 0;
    // A handler that fails the upload stands in for the kill: the state is already written.
    const failing = await errorOf(submitBatch({ ...opts(o), baseURL: 'http://127.0.0.1:1/v1' }));
    expect(failing.message).toMatch(/^batch submit failed/);
    expect((await readBatchState(o.statePath, { allowPending: true })).status).toBe('pending');
    const b = await submitBatch(opts(o));
    expect(b.reused).toBe(false);
    expect(batchCreates()).toBe(1);
  });

  it('rows already scored in the cache are not sent; collect fills them from the cache', async () => {
    const o = await setup(5);
    const cachePath = join(o.dir, 'cache.jsonl');
    const rows = await readAllRows(o.input);
    await judgeRows(rows.slice(0, 2), { rubricPath, baseURL: server!.baseURL, apiKey: key, model: 'batch-judge', cachePath });
    const s = await submitBatch({ ...opts(o), cachePath });
    expect(s).toMatchObject({ sent: 3, cached: 2 });
    const uploaded = [...server!.files.values()].find((f) => f.purpose === 'batch')!;
    expect(uploaded.content.trim().split('\n').map((l) => JSON.parse(l).custom_id)).toEqual(['row-2', 'row-3', 'row-4']);
    const out = join(o.dir, 'out.jsonl');
    const sum = await collectBatch({ statePath: o.statePath, output: out, baseURL: server!.baseURL, apiKey: key });
    expect(sum).toMatchObject({ rows: 5, ok: 5, missing: 0 });
    expect((await readAllRows(out)).map((r) => r.judge_score)).toEqual([8, 8, 8, 8, 8]);
  });

  it('a state for another input is refused, naming --force', async () => {
    const o = await setup();
    await submitBatch(opts(o));
    await writeFile(o.input, JSON.stringify({ prompt: '다른 질문', answer: '다른 답' }) + '\n');
    await expect(submitBatch(opts(o))).rejects.toThrow(/holds a batch for another submission .*pass --force/);
  });
});
