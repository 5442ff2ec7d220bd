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
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { toFile } from 'openai';
import type OpenAI from 'openai';
import type { Row } from '../data/row.ts';
import { readAllRows, writeRows } from '../data/io.ts';
import { UserError } from '../util/errors.ts';
import { sha256, writeFileAtomic } from '../util/fs.ts';
import { JudgeCache, cacheKey, type CacheEntry } from './cache.ts';
import { JudgeClient, type ModelPrice } from './client.ts';
import { detectInjection } from './injection.ts';
import { sampleOf, toOutputRow } from './job.ts';
import { parseJudgeAnswer } from './parse.ts';
import { loadRubric, newNonce, renderMessages, rubricTag } from './rubric.ts';

export interface BatchState {
  kind: 'ko-align-judge-batch';
  /**
   * pending: written before the upload (a kill from here on leaves this state, and the next
   * submit finds the batch by `submitId` instead of paying again); submitted: the batch exists
   * (or no row needed one: every row was already in the cache).
   */
  status: 'pending' | 'submitted';
  /** Random id of this submission, sent as batch metadata `ko_align_submit`. */
  submitId: string;
  /** '' while pending, and when no row had to be sent. */
  batchId: string;
  inputFileId: string;
  input: string;
  inputSha256: string;
  rows: number;
  /** Rows sent in the batch (the others were already scored in the cache). */
  sent: number;
  /** Rows answered from the judge cache at submit time. */
  cached: number;
  cachePath?: string;
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
  /** Judge cache: rows already scored in it are not sent (and collect fills them from it). */
  cachePath?: string;
  /** Submit a new batch even when the state file names a live one. */
  force?: boolean;
}

export interface BatchSubmitResult extends BatchState {
  /** True when an existing batch was reused instead of creating (and paying for) another. */
  reused: boolean;
}

function client(opts: BatchOptions & { model?: string }): JudgeClient {
  return new JudgeClient({ model: opts.model ?? process.env.KO_ALIGN_JUDGE_MODEL ?? 'gpt-4o-mini', baseURL: opts.baseURL, apiKey: opts.apiKey });
}

/** The batch input: one JSONL line per row (or per row index in `only`), custom_id row-<index>. */
export async function buildBatchRequests(rows: Row[], o: { rubricPath: string; model: string; promptField?: string; answerField?: string; source: string; structured?: boolean; only?: number[] }): Promise<string> {
  const rubric = await loadRubric(o.rubricPath);
  const c = new JudgeClient({ model: o.model, apiKey: 'unused' });
  const nonce = newNonce();
  const indices = o.only ?? rows.map((_, i) => i);
  const lines = indices.map((i) => {
    const sample = sampleOf(rows[i], `${o.source}: row ${i + 1}`, o.promptField, o.answerField);
    return JSON.stringify({ custom_id: `row-${i}`, method: 'POST', url: '/v1/chat/completions', body: c.body(rubric, renderMessages(rubric, sample, nonce), o.structured ?? true) });
  });
  return lines.map((l) => l + '\n').join('');
}

const NOT_LIVE = ['failed', 'cancelled', 'expired'];

/** The batch this tool created for `submitId` (found by its metadata), if the server has one. */
async function findSubmitted(c: JudgeClient, submitId: string): Promise<OpenAI.Batch | undefined> {
  try {
    let seen = 0;
    for await (const b of c.api.batches.list({ limit: 100 })) {
      if ((b.metadata as Record<string, string> | null)?.ko_align_submit === submitId) return b;
      if (++seen >= 1000) break;
    }
  } catch (e) {
    throw new UserError(`batch submit: cannot list batches to find the one a killed submit may have created: ${c.describe(e)}`);
  }
  return undefined;
}

/**
 * Submits a batch, idempotently: the state is written (pending) before the upload; a state that
 * names a live batch is reused, a pending one is resolved by finding its batch on the server;
 * rows already scored in the cache are not sent. `force` submits anew.
 */
export async function submitBatch(o: BatchSubmitOptions): Promise<BatchSubmitResult> {
  const rubric = await loadRubric(o.rubricPath);
  const rows = await readAllRows(o.input);
  const c = client(o);
  const inputSha256 = sha256(await readFile(o.input));
  const tag = rubricTag(rubric);
  const save = (st: BatchState) => writeFileAtomic(o.statePath, JSON.stringify(st, null, 2) + '\n');

  if (!o.force && existsSync(o.statePath)) {
    const prev = await readBatchState(o.statePath, { allowPending: true });
    if (prev.inputSha256 !== inputSha256 || prev.rubric !== tag || prev.model !== c.model) {
      throw new UserError(
        `${o.statePath}: holds a batch for another submission (input, rubric or model differ: ${prev.input} ${prev.rubric} ${prev.model}); ` +
          `pass --force to submit anew or choose another --state`,
      );
    }
    if (prev.status === 'submitted' && !prev.batchId) return { ...prev, reused: true };
    if (prev.status === 'submitted') {
      const b = await retrieve(c, prev.batchId);
      if (!NOT_LIVE.includes(b.status)) return { ...prev, reused: true };
      // A failed / cancelled / expired batch: submit again below (cached rows are not re-sent).
    } else {
      const found = await findSubmitted(c, prev.submitId);
      if (found && !NOT_LIVE.includes(found.status)) {
        const st: BatchState = { ...prev, status: 'submitted', batchId: found.id, inputFileId: found.input_file_id };
        await save(st);
        return { ...st, reused: true };
      }
    }
  }

  // Rows already scored (and paid for) in the cache are not sent again.
  const params = { temperature: rubric.params.temperature, max_tokens: rubric.params.max_tokens };
  const only: number[] = [];
  const cache = o.cachePath ? await JudgeCache.open(o.cachePath) : null;
  try {
    rows.forEach((row, i) => {
      const sample = sampleOf(row, `${o.input}: row ${i + 1}`, o.promptField, o.answerField);
      if (!cache?.get(cacheKey({ rubricId: rubric.id, rubricVersion: rubric.version, model: c.model, params, ...sample }))) only.push(i);
    });
  } finally {
    await cache?.close();
  }
  const jsonl = await buildBatchRequests(rows, { ...o, model: c.model, source: o.input, only });
  if (o.requestsPath) await writeFileAtomic(o.requestsPath, jsonl);
  const state: BatchState = {
    kind: 'ko-align-judge-batch',
    status: 'pending',
    submitId: randomBytes(12).toString('hex'),
    batchId: '',
    inputFileId: '',
    input: o.input,
    inputSha256,
    rows: rows.length,
    sent: only.length,
    cached: rows.length - only.length,
    ...(o.cachePath ? { cachePath: o.cachePath } : {}),
    rubricPath: o.rubricPath,
    rubric: tag,
    model: c.model,
    promptField: o.promptField,
    answerField: o.answerField,
    submittedAt: new Date().toISOString(),
  };
  if (only.length === 0) {
    state.status = 'submitted';
    await save(state);
    return { ...state, reused: false };
  }
  // Written before anything is uploaded: a kill from here on is resolved by the next submit.
  await save(state);
  const api = c.api;
  try {
    const file = await api.files.create({ file: await toFile(Buffer.from(jsonl, 'utf8'), 'ko-align-judge-batch.jsonl'), purpose: 'batch' });
    state.inputFileId = file.id;
    const batch = await api.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: o.completionWindow ?? '24h', metadata: { tool: 'ko-align', rubric: tag, ko_align_submit: state.submitId } });
    state.batchId = batch.id;
  } catch (e) {
    throw new UserError(`batch submit failed: ${c.describe(e)}`);
  }
  state.status = 'submitted';
  await save(state);
  return { ...state, reused: false };
}

export async function readBatchState(path: string, opts: { allowPending?: boolean } = {}): Promise<BatchState> {
  let s: BatchState;
  try {
    s = JSON.parse(await readFile(path, 'utf8'));
  } catch (e) {
    throw new UserError(`${path}: cannot read batch state (${(e as Error).message.split('\n')[0]}); expected the file written by 'judge batch submit'`);
  }
  if (s?.kind !== 'ko-align-judge-batch' || typeof s.batchId !== 'string') throw new UserError(`${path}: not a judge batch state file (expected kind: ko-align-judge-batch)`);
  // State files written before submits became idempotent have no status: they were submitted.
  s.status ??= 'submitted';
  s.submitId ??= '';
  s.sent ??= s.rows;
  s.cached ??= 0;
  if (s.status === 'pending' && !opts.allowPending) {
    throw new UserError(`${path}: the batch submission did not finish (state pending); run 'judge batch submit' again with the same --state, it finds or creates the batch without paying twice`);
  }
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
  if (!state.batchId) return { id: '(none)', status: 'completed', total: 0, completed: 0, failed: 0, outputFileId: null, errorFileId: null };
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
  // No batch when every row was already in the cache at submit time.
  const b: Pick<OpenAI.Batch, 'id' | 'status' | 'request_counts' | 'output_file_id' | 'error_file_id'> = state.batchId
    ? await retrieve(c, state.batchId)
    : { id: '(none)', status: 'completed', request_counts: { total: 0, completed: 0, failed: 0 }, output_file_id: undefined, error_file_id: undefined };
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
  const cachePath = o.cachePath ?? state.cachePath;
  const cache = cachePath ? await JudgeCache.open(cachePath) : null;
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
      const hit = r ? undefined : cache?.get(base.key);
      if (hit) {
        // Scored before the submit (not sent in the batch), or by an earlier collect.
        entry = hit;
      } else if (!r) {
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
