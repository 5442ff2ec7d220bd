/**
 * Judge jobs: score rows with a rubric through the judge client (or the embedded heuristic when
 * no endpoint is configured), with the durable cache in front, and account for it all in a
 * summary. Output rows keep every input column and add:
 *   judge_score (number; null on failure), judge_reason, judge_status (ok | failed),
 *   judge_raw (failures only), judge_model, judge_rubric (id@version), judge_flags (string[]),
 *   judge_category (rubrics with a category field, e.g. safety-ko).
 */
import type { Row } from '../data/row.ts';
import { readAllRows, writeRows } from '../data/io.ts';
import { answerText, guessFormat, promptText, toExample } from '../data/formats.ts';
import { UserError } from '../util/errors.ts';
import { JudgeCache, cacheKey, type CacheEntry } from './cache.ts';
import { JudgeClient, endpointConfigured, type ClientStats, type ModelPrice } from './client.ts';
import { HEURISTIC_MODEL, heuristicJudge, loadClassifierIfPresent, type TextScorer } from './heuristic.ts';
import { detectInjection } from './injection.ts';
import { loadRubric, newNonce, renderMessages, rubricTag, type Rubric } from './rubric.ts';

export interface JudgeOptions {
  /** Rubric YAML (judges/quality-ko.yaml, judges/safety-ko.yaml, ...). */
  rubricPath: string;
  /** Judge model name (default gpt-4o-mini; ignored by the heuristic judge). */
  model?: string;
  /** OpenAI-compatible base URL (default OPENAI_BASE_URL). */
  baseURL?: string;
  /** API key (default OPENAI_API_KEY). Never logged. */
  apiKey?: string;
  concurrency?: number;
  maxRetries?: number;
  timeoutMs?: number;
  /** Durable cache file (append-only JSONL). Without it nothing is cached across runs. */
  cachePath?: string;
  /** Column holding the prompt (default: prompt | instruction(+input) | question | messages). */
  promptField?: string;
  /** Column holding the answer (default: answer | output | completion | response | messages). */
  answerField?: string;
  /** Extra requests for an unparseable answer (default 2). */
  maxParseRetries?: number;
  structured?: 'auto' | 'json_schema' | 'off';
  /** max_completion_tokens (default) or max_tokens for servers that know only that. */
  tokenLimitParam?: 'max_completion_tokens' | 'max_tokens';
  /** Send temperature: auto (not to models that reject it), always, never. */
  temperature?: 'auto' | 'always' | 'never';
  /** USD per 1M tokens, per model. */
  prices?: Record<string, ModelPrice>;
  /** Use the embedded heuristic even when an endpoint is configured. */
  heuristic?: boolean;
  /** Ask again for samples whose cached judgement is a failure (default: a cached failure is final). */
  retryFailed?: boolean;
  /** First retry backoff in ms (default 500). */
  backoffBaseMs?: number;
  /** Called after each row is judged. */
  onProgress?: (done: number, total: number) => void;
  /** Names the data in error messages (e.g. the input file). */
  source?: string;
  /**
   * Fail when more than this fraction of rows failed; a job where every row failed always
   * fails. judgeFile writes what was scored first and defaults to 0.5; judgeRows checks only
   * when it is set.
   */
  maxFailedFraction?: number;
}

/** Default of max_failed_fraction / --max-failed-fraction. */
export const DEFAULT_MAX_FAILED_FRACTION = 0.5;

/** Transport counters a job reports, as the client counts them. */
type TransportStats = Pick<ClientStats, 'httpRequests' | 'retries' | 'rateLimited' | 'serverErrors' | 'timeouts' | 'parseRetries' | 'promptTokens' | 'completionTokens'>;

export interface JudgeSummary extends TransportStats {
  rubric: string;
  model: string;
  /** True when the embedded heuristic judge scored the rows. */
  heuristic: boolean;
  rows: number;
  ok: number;
  failed: number;
  /** Rows answered from the cache (not paid again). */
  cached: number;
  /** Tokens of the cached judgements reused by this run (what the cache saved). */
  cachedTokens: number;
  /** Samples sent to the judge in this run. */
  judged: number;
  /** USD for this run's tokens, null when no price is known for the model. */
  costUsd: number | null;
  /** Rows with at least one judge_flags entry. */
  flagged: number;
  /** The server rejected response_format json_schema; answers were parsed from text. */
  structuredFallback: boolean;
  meanScore: number | null;
  elapsedMs: number;
  requestsPerSecond: number;
}

export interface Sample {
  prompt: string;
  answer: string;
}

/** The prompt and answer of one row: explicit fields, canonical prompt/answer columns, any data
 * format src/data/formats.ts knows (alpaca, sharegpt, messages, kto, prompt/completion), or a
 * bare `text` column (answer only, as the toxicity scorers pass). */
export function sampleOf(row: Row, where: string, promptField?: string, answerField?: string): Sample {
  const str = (v: unknown) => (typeof v === 'string' ? v : v === null || v === undefined || typeof v === 'object' ? '' : String(v));
  if (promptField !== undefined && !(promptField in row)) throw new UserError(`${where}: no '${promptField}' field (set by --prompt-field)`);
  if (answerField !== undefined && !(answerField in row)) throw new UserError(`${where}: no '${answerField}' field (set by --answer-field)`);
  let prompt = promptField !== undefined ? str(row[promptField]) : undefined;
  let answer = answerField !== undefined ? str(row[answerField]) : undefined;
  if (prompt === undefined || answer === undefined) {
    let derived: Sample | undefined;
    if (typeof row.answer === 'string') {
      derived = { prompt: typeof row.prompt === 'string' ? row.prompt : '', answer: row.answer };
    } else {
      const f = guessFormat(row);
      if (f && f !== 'pretokenized') {
        const ex = toExample(row, f, where);
        if (ex.messages.some((m) => m.role === 'assistant')) derived = { prompt: promptText(ex), answer: answerText(ex) };
      } else if (typeof row.text === 'string') {
        derived = { prompt: '', answer: row.text };
      }
    }
    if (!derived && answer === undefined) {
      throw new UserError(`${where}: no answer to judge (expected prompt/answer, alpaca instruction/output, messages or conversations with an assistant turn, prompt/completion, or text; or pass --answer-field)`);
    }
    prompt ??= derived?.prompt ?? '';
    answer ??= derived!.answer;
  }
  return { prompt, answer };
}

/**
 * A judging session: one rubric, one client, one cache, reused over many batches of rows (the
 * curation stage feeds it chunk by chunk). `judgeRows` is a session over one array.
 */
export class JudgeSession {
  readonly heuristic: boolean;
  readonly model: string;
  private client: JudgeClient | null = null;
  private cache: JudgeCache | null = null;
  private classifier: TextScorer | null = null;
  private inflight = new Map<string, Promise<CacheEntry>>();
  private nonce = newNonce();
  private t0 = Date.now();
  private counts = { rows: 0, ok: 0, failed: 0, cached: 0, cachedTokens: 0, judged: 0, flagged: 0, scoreSum: 0 };

  private constructor(readonly rubric: Rubric, private opts: JudgeOptions) {
    this.heuristic = opts.heuristic === true || !endpointConfigured(opts);
    this.model = this.heuristic ? HEURISTIC_MODEL : (opts.model ?? process.env.KO_ALIGN_JUDGE_MODEL ?? 'gpt-4o-mini');
  }

  static async open(opts: JudgeOptions): Promise<JudgeSession> {
    const rubric = await loadRubric(opts.rubricPath);
    const s = new JudgeSession(rubric, opts);
    if (s.heuristic) {
      s.classifier = await loadClassifierIfPresent();
    } else {
      s.client = new JudgeClient({
        model: s.model,
        baseURL: opts.baseURL,
        apiKey: opts.apiKey,
        concurrency: opts.concurrency,
        maxRetries: opts.maxRetries,
        timeoutMs: opts.timeoutMs,
        maxParseRetries: opts.maxParseRetries,
        structured: opts.structured,
        tokenLimitParam: opts.tokenLimitParam,
        temperature: opts.temperature,
        prices: opts.prices,
        backoffBaseMs: opts.backoffBaseMs,
      });
      if (opts.cachePath) s.cache = await JudgeCache.open(opts.cachePath);
    }
    return s;
  }

  /** The request parameters that enter the cache key. */
  private params(): Record<string, unknown> {
    return { temperature: this.rubric.params.temperature, max_tokens: this.rubric.params.max_tokens };
  }

  keyOf(sample: Sample): string {
    return cacheKey({ rubricId: this.rubric.id, rubricVersion: this.rubric.version, model: this.model, params: this.params(), ...sample });
  }

  /** Judges `rows` (input order kept); `offset` numbers rows in error messages. */
  async judge(rows: Row[], offset = 0, onProgress?: (done: number) => void): Promise<Row[]> {
    const where = (i: number) => `${this.opts.source ?? 'input'}: row ${offset + i + 1}`;
    const samples = rows.map((r, i) => sampleOf(r, where(i), this.opts.promptField, this.opts.answerField));
    const out: Row[] = new Array(rows.length);
    let next = 0;
    let done = 0;
    const workers = this.heuristic ? 1 : Math.max(1, this.opts.concurrency ?? 8);
    const worker = async () => {
      for (let i = next++; i < rows.length; i = next++) {
        out[i] = await this.judgeOne(rows[i], samples[i]);
        done++;
        onProgress?.(done);
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.min(workers, rows.length) }, worker));
    } finally {
      await this.settleWrites();
    }
    return out;
  }

  private async judgeOne(row: Row, sample: Sample): Promise<Row> {
    const flags = detectInjection(sample.prompt, sample.answer);
    this.counts.rows++;
    if (flags.length) this.counts.flagged++;
    let entry: CacheEntry;
    if (this.heuristic) {
      const h = heuristicJudge(this.rubric, sample, flags, this.classifier);
      entry = h.status === 'ok'
        ? { key: '', status: 'ok', score: h.score, reason: h.reason, category: h.category, model: this.model, rubric: rubricTag(this.rubric), prompt_tokens: 0, completion_tokens: 0, at: '' }
        : { key: '', status: 'failed', reason: h.error, raw: h.raw, model: this.model, rubric: rubricTag(this.rubric), prompt_tokens: 0, completion_tokens: 0, at: '' };
      this.counts.judged++;
    } else {
      const key = this.keyOf(sample);
      const hit = this.cache?.get(key);
      if (hit && (hit.status === 'ok' || !this.opts.retryFailed)) {
        this.counts.cached++;
        this.counts.cachedTokens += (hit.prompt_tokens ?? 0) + (hit.completion_tokens ?? 0);
        entry = hit;
      } else {
        let p = this.inflight.get(key);
        if (p) {
          this.counts.cached++;
        } else {
          p = this.request(key, sample).finally(() => this.inflight.delete(key));
          this.inflight.set(key, p);
          this.counts.judged++;
        }
        entry = await p;
      }
    }
    if (entry.status === 'ok') {
      this.counts.ok++;
      this.counts.scoreSum += entry.score!;
    } else {
      this.counts.failed++;
      this.firstFailure ??= String(entry.reason ?? entry.raw ?? 'failed');
    }
    return toOutputRow(row, entry, flags, this.rubric);
  }

  private firstFailure: string | undefined;

  /**
   * A UserError when every row judged so far failed, or more than `maxFraction` of them (an
   * unreachable judge, a wrong key, a bad port must not pass as a finished job), else null.
   */
  failureError(maxFraction = DEFAULT_MAX_FAILED_FRACTION, what = this.opts.source ?? 'input'): UserError | null {
    const { rows, failed } = this.counts;
    if (rows === 0 || failed === 0) return null;
    if (failed < rows && failed / rows <= maxFraction) return null;
    const share = failed === rows ? 'every judge call failed' : `${failed} of ${rows} judge calls failed (more than max_failed_fraction ${maxFraction})`;
    return new UserError(
      `${what}: ${share}${failed === rows ? ` (${rows} rows)` : ''}; first: ${this.firstFailure ?? 'failed'}; ` +
        `check the judge's base_url, model and OPENAI_API_KEY${this.cache ? '; what was scored is kept in the judge cache' : ''}`,
    );
  }

  private pendingWrites = new Set<Promise<void>>();
  private writeError: unknown = null;

  private track(p: Promise<void>): void {
    const q = p.catch((e) => {
      this.writeError ??= e;
    }).finally(() => this.pendingWrites.delete(q));
    this.pendingWrites.add(q);
  }

  /** Waits until every cache write of this session is on disk; rethrows the first write error. */
  private async settleWrites(): Promise<void> {
    while (this.pendingWrites.size) await Promise.all([...this.pendingWrites]);
    if (this.writeError) {
      const e = this.writeError;
      this.writeError = null;
      throw e;
    }
  }

  private async request(key: string, sample: Sample): Promise<CacheEntry> {
    const r = await this.client!.judge(this.rubric, renderMessages(this.rubric, sample, this.nonce));
    const base = { key, model: this.model, rubric: rubricTag(this.rubric), prompt_tokens: r.usage.prompt_tokens, completion_tokens: r.usage.completion_tokens, at: new Date().toISOString() };
    const entry: CacheEntry = r.status === 'ok'
      ? { ...base, status: 'ok', score: r.parsed.score, reason: r.parsed.reason, ...(r.parsed.category !== undefined ? { category: r.parsed.category } : {}) }
      : { ...base, status: 'failed', reason: r.error, raw: r.raw };
    // A paid answer is final work: cache it (failures too, with their raw text). A transport
    // failure (retries exhausted, nothing delivered) is not cached, so a re-run tries again.
    // The worker moves on while the fsync group commit runs; `judge()` waits for every write
    // before it returns, so no result is reported done before it is durable.
    if (this.cache && (r.status === 'ok' || r.paid)) this.track(this.cache.put(entry));
    return entry;
  }

  summary(): JudgeSummary {
    const st = this.client?.stats;
    const elapsedMs = Date.now() - this.t0;
    const cost = this.client?.costUsd();
    return {
      rubric: rubricTag(this.rubric),
      model: this.model,
      heuristic: this.heuristic,
      rows: this.counts.rows,
      ok: this.counts.ok,
      failed: this.counts.failed,
      cached: this.counts.cached,
      cachedTokens: this.counts.cachedTokens,
      judged: this.counts.judged,
      httpRequests: st?.httpRequests ?? 0,
      retries: st?.retries ?? 0,
      rateLimited: st?.rateLimited ?? 0,
      serverErrors: st?.serverErrors ?? 0,
      timeouts: st?.timeouts ?? 0,
      parseRetries: st?.parseRetries ?? 0,
      promptTokens: st?.promptTokens ?? 0,
      completionTokens: st?.completionTokens ?? 0,
      costUsd: cost === undefined ? (this.heuristic ? 0 : null) : cost,
      flagged: this.counts.flagged,
      structuredFallback: st?.structuredFallback ?? false,
      meanScore: this.counts.ok ? this.counts.scoreSum / this.counts.ok : null,
      elapsedMs,
      requestsPerSecond: elapsedMs > 0 ? ((st?.answers ?? this.counts.judged) * 1000) / elapsedMs : 0,
    };
  }

  async close(): Promise<void> {
    await this.settleWrites().catch(() => {});
    await this.cache?.close();
  }
}

/** The output row: every input column, then the judge_* columns. */
export function toOutputRow(row: Row, entry: CacheEntry, flags: string[], rubric: Pick<Rubric, 'id' | 'version' | 'output'>): Row {
  const out: Row = { ...row };
  out.judge_score = entry.status === 'ok' ? entry.score! : null;
  out.judge_reason = entry.reason ?? '';
  out.judge_status = entry.status;
  if (entry.status === 'failed') out.judge_raw = entry.raw ?? '';
  out.judge_model = entry.model;
  out.judge_rubric = rubricTag(rubric);
  out.judge_flags = flags;
  if (rubric.output.category_field) out.judge_category = entry.status === 'ok' ? (entry.category ?? null) : null;
  return out;
}

/** Judges every row; output rows keep every input column and add the judge_* columns. */
export async function judgeRows(rows: Row[], opts: JudgeOptions): Promise<{ rows: Row[]; summary: JudgeSummary }> {
  const session = await JudgeSession.open(opts);
  try {
    const out = await session.judge(rows, 0, opts.onProgress ? (d) => opts.onProgress!(d, rows.length) : undefined);
    // Only when asked (judgeFile and the pipeline ask): a caller may want the failed rows.
    if (opts.maxFailedFraction !== undefined) {
      const failure = session.failureError(opts.maxFailedFraction);
      if (failure) throw failure;
    }
    return { rows: out, summary: session.summary() };
  } finally {
    await session.close();
  }
}

/** Reads `input`, judges it, writes `output` atomically (in input order, each row exactly once). */
export async function judgeFile(input: string, output: string, opts: JudgeOptions): Promise<JudgeSummary> {
  const rows = await readAllRows(input);
  const session = await JudgeSession.open({ source: input, ...opts });
  let out: Row[];
  let failure: UserError | null;
  try {
    out = await session.judge(rows, 0, opts.onProgress ? (d) => opts.onProgress!(d, rows.length) : undefined);
    failure = session.failureError(opts.maxFailedFraction);
  } finally {
    await session.close();
  }
  // What was scored is written (and cached) either way; too many failures then fail the job.
  await writeRows(output, out);
  if (failure) throw new UserError(`${failure.message}; rows written to ${output}`);
  return session.summary();
}
