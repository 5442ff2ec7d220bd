/**
 * OpenAI Batch API mode for large offline judge jobs:
 *   submit  - one /v1/chat/completions body per row, `custom_id` = row-<index>, uploaded through
 *             /v1/files (purpose batch), then a batch created; a state file remembers the batch,
 *             the input (and its hash), rubric and model.
 *   status  - the batch's status and request counts.
 *   collect - downloads the output and error files and joins results back on custom_id: every
 *             input row appears once, ok rows parsed like online answers, rows with an error
 *             line or no result recorded as failed with the reason.
 */
import { readFile } from 'node:fs/promises';
import { toFile } from 'openai';
import type OpenAI from 'openai';
import type { Row } from '../data/row.ts';
import { readAllRows, writeRows } from '../data/io.ts';
import { UserError } from '../util/errors.ts';
import { sha256, writeFileAtomic } from '../util/fs.ts';
import { JudgeCache, cacheKey, type CacheEntry } from './cache.ts';
import { JudgeClient, describeError, type ModelPrice } from './client.ts';
import { detectInjection } from './injection.ts';
import { sampleOf, toOutputRow } from './job.ts';
import { parseJudgeAnswer } from './parse.ts';
import { loadRubric, newNonce, renderMessages, rubricTag } from './rubric.ts';

export interface BatchState {
  kind: 'ko-align-judge-batch';
  batchId: string;
  inputFileId: string;
  input: string;
  inputSha256: string;
  rows: number;
  rubricPath: string;
  rubric: string;
  model: string;
  promptField?: string;
  answerField?: string;
  submittedAt: string;
}

export interface BatchOptions {
  baseURL?: string;
  apiKey?: string;
}

export interface BatchSubmitOptions extends BatchOptions {
  input: string;
  statePath: string;
  rubricPath: string;
  model?: string;
  promptField?: string;
  answerField?: string;
  /** Where the request JSONL is also written (for inspection); optional. */
  requestsPath?: string;
  completionWindow?: '24h';
}

function client(opts: BatchOptions & { model?: string }): JudgeClient {
  return new JudgeClient({ model: opts.model ?? process.env.KO_ALIGN_JUDGE_MODEL ?? 'gpt-4o-mini', baseURL: opts.baseURL, apiKey: opts.apiKey });
}

/** The batch input: one JSONL line per row. */
export async function buildBatchRequests(rows: Row[], o: { rubricPath: string; model: string; promptField?: string; answerField?: string; source: string; structured?: boolean }): Promise<string> {
  const rubric = await loadRubric(o.rubricPath);
  const c = new JudgeClient({ model: o.model, apiKey: 'unused' });
  const nonce = newNonce();
  const lines = rows.map((row, i) => {
    const sample = sampleOf(row, `${o.source}: row ${i + 1}`, o.promptField, o.answerField);
    return JSON.stringify({ custom_id: `row-${i}`, method: 'POST', url: '/v1/chat/completions', body: c.body(rubric, renderMessages(rubric, sample, nonce), o.structured ?? true) });
  });
  return lines.map((l) => l + '\n').join('');
}

export async function submitBatch(o: BatchSubmitOptions): Promise<BatchState> {
  const rubric = await loadRubric(o.rubricPath);
  const rows = await readAllRows(o.input);
  const c = client(o);
  const jsonl = await buildBatchRequests(rows, { ...o, model: c.model, source: o.input });
  if (o.requestsPath) await writeFileAtomic(o.requestsPath, jsonl);
  const api = c.api;
  let file: OpenAI.FileObject;
  let batch: OpenAI.Batch;
  try {
    file = await api.files.create({ file: await toFile(Buffer.from(jsonl, 'utf8'), 'ko-align-judge-batch.jsonl'), purpose: 'batch' });
    batch = await api.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: o.completionWindow ?? '24h', metadata: { tool: 'ko-align', rubric: rubricTag(rubric) } });
  } catch (e) {
    throw new UserError(`batch submit failed: ${c.describe(e)}`);
  }
  const state: BatchState = {
    kind: 'ko-align-judge-batch',
    batchId: batch.id,
    inputFileId: file.id,
    input: o.input,
    inputSha256: sha256(await readFile(o.input)),
    rows: rows.length,
    rubricPath: o.rubricPath,
    rubric: rubricTag(rubric),
    model: c.model,
    promptField: o.promptField,
    answerField: o.answerField,
    submittedAt: new Date().toISOString(),
  };
  await writeFileAtomic(o.statePath, JSON.stringify(state, null, 2) + '\n');
  return state;
}

export async function readBatchState(path: string): Promise<BatchState> {
  let s: BatchState;
  try {
    s = JSON.parse(await readFile(path, 'utf8'));
  } catch (e) {
    throw new UserError(`${path}: cannot read batch state (${(e as Error).message.split('\n')[0]}); expected the file written by 'judge batch submit'`);
  }
  if (s?.kind !== 'ko-align-judge-batch' || typeof s.batchId !== 'string') throw new UserError(`${path}: not a judge batch state file (expected kind: ko-align-judge-batch)`);
  return s;
}

export interface BatchStatus {
  id: string;
  status: string;
  total: number;
  completed: number;
  failed: number;
  outputFileId: string | null;
  errorFileId: string | null;
}

export async function batchStatus(o: BatchOptions & { statePath: string }): Promise<BatchStatus> {
  const state = await readBatchState(o.statePath);
  const b = await retrieve(client({ ...o, model: state.model }), state.batchId);
  return {
    id: b.id,
    status: b.status,
    total: b.request_counts?.total ?? 0,
    completed: b.request_counts?.completed ?? 0,
    failed: b.request_counts?.failed ?? 0,
    outputFileId: b.output_file_id ?? null,
    errorFileId: b.error_file_id ?? null,
  };
}

async function retrieve(c: JudgeClient, id: string): Promise<OpenAI.Batch> {
  try {
    return await c.api.batches.retrieve(id);
  } catch (e) {
    throw new UserError(`batch ${id}: ${c.describe(e)}`);
  }
}

export interface BatchCollectSummary {
  batchId: string;
  status: string;
  rows: number;
  ok: number;
  failed: number;
  missing: number;
  promptTokens: number;
  completionTokens: number;
  costUsd: number | null;
}

export async function collectBatch(o: BatchOptions & { statePath: string; output: string; cachePath?: string; prices?: Record<string, ModelPrice> }): Promise<BatchCollectSummary> {
  const state = await readBatchState(o.statePath);
  const digest = sha256(await readFile(state.input).catch(() => {
    throw new UserError(`${state.input}: batch input file not found (named in ${o.statePath})`);
  }));
  if (digest !== state.inputSha256) throw new UserError(`${state.input}: changed since the batch was submitted (sha256 differs from ${o.statePath}); results cannot be joined back`);
  const rubric = await loadRubric(state.rubricPath);
  const c = client({ ...o, model: state.model });
  const api = c.api;
  const b = await retrieve(c, state.batchId);
  const finished = ['completed', 'expired', 'cancelled', 'failed'];
  if (!finished.includes(b.status)) {
    const rc = b.request_counts;
    throw new UserError(`batch ${b.id} is ${b.status} (${rc?.completed ?? 0}/${rc?.total ?? '?'} done); run 'judge batch status' and collect when it is completed`);
  }
  const download = async (id: string | null | undefined): Promise<string> => {
    if (!id) return '';
    try {
      return await (await api.files.content(id)).text();
    } catch (e) {
      throw new UserError(`batch ${b.id}: cannot download file ${id}: ${c.describe(e)}`);
    }
  };
  const results = new Map<string, { body?: OpenAI.Chat.ChatCompletion; error?: string }>();
  const ingest = (text: string, fileId: string) => {
    text.split('\n').forEach((line, n) => {
      if (!line.trim()) return;
      let item: { custom_id?: string; response?: { status_code?: number; body?: unknown } | null; error?: { code?: string; message?: string } | null };
      try {
        item = JSON.parse(line);
      } catch {
        throw new UserError(`batch file ${fileId}:${n + 1}: invalid JSON line`);
      }
      if (!item.custom_id) return;
      const status = item.response?.status_code ?? 0;
      if (status === 200 && item.response?.body && !item.error) results.set(item.custom_id, { body: item.response.body as OpenAI.Chat.ChatCompletion });
      else {
        const bodyMsg = (item.response?.body as { error?: { message?: string } } | undefined)?.error?.message;
        results.set(item.custom_id, { error: c.redact(`batch error${status ? ` (HTTP ${status})` : ''}: ${item.error?.message ?? bodyMsg ?? 'unknown error'}`) });
      }
    });
  };
  ingest(await download(b.output_file_id), b.output_file_id ?? '');
  ingest(await download(b.error_file_id), b.error_file_id ?? '');

  const rows = await readAllRows(state.input);
  if (rows.length !== state.rows) throw new UserError(`${state.input}: has ${rows.length} rows, the batch was submitted with ${state.rows}`);
  const cache = o.cachePath ? await JudgeCache.open(o.cachePath) : null;
  const params = { temperature: rubric.params.temperature, max_tokens: rubric.params.max_tokens };
  const sum: BatchCollectSummary = { batchId: b.id, status: b.status, rows: rows.length, ok: 0, failed: 0, missing: 0, promptTokens: 0, completionTokens: 0, costUsd: null };
  const out: Row[] = [];
  try {
    for (let i = 0; i < rows.length; i++) {
      const sample = sampleOf(rows[i], `${state.input}: row ${i + 1}`, state.promptField, state.answerField);
      const flags = detectInjection(sample.prompt, sample.answer);
      const r = results.get(`row-${i}`);
      const base = { key: cacheKey({ rubricId: rubric.id, rubricVersion: rubric.version, model: state.model, params, ...sample }), model: state.model, rubric: rubricTag(rubric), at: new Date().toISOString() };
      let entry: CacheEntry;
      if (!r) {
        sum.missing++;
        const msg = `no result for row-${i} in batch ${b.id} (status ${b.status})`;
        entry = { ...base, status: 'failed', reason: msg, raw: msg, prompt_tokens: 0, completion_tokens: 0 };
      } else if (r.error) {
        entry = { ...base, status: 'failed', reason: r.error, raw: r.error, prompt_tokens: 0, completion_tokens: 0 };
      } else {
        const usage = { prompt_tokens: r.body?.usage?.prompt_tokens ?? 0, completion_tokens: r.body?.usage?.completion_tokens ?? 0 };
        sum.promptTokens += usage.prompt_tokens;
        sum.completionTokens += usage.completion_tokens;
        const raw = c.redact(r.body?.choices?.[0]?.message?.content ?? '');
        const parsed = parseJudgeAnswer(raw, rubric);
        entry = parsed
          ? { ...base, ...usage, status: 'ok', score: parsed.score, reason: parsed.reason, ...(parsed.category !== undefined ? { category: parsed.category } : {}) }
          : { ...base, ...usage, status: 'failed', reason: 'unparseable judge answer (batch results are not re-asked)', raw };
        if (cache && !cache.get(entry.key)) await cache.put(entry);
      }
      if (entry.status === 'ok') sum.ok++;
      else sum.failed++;
      out.push(toOutputRow(rows[i], entry, flags, rubric));
    }
  } finally {
    await cache?.close();
  }
  const price = o.prices?.[state.model];
  if (price) sum.costUsd = (sum.promptTokens * price.input + sum.completionTokens * price.output) / 1e6;
  await writeRows(o.output, out);
  return sum;
}
