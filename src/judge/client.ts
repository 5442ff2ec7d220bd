/**
 * The judge client: chat completions through the `openai` package against any OpenAI-compatible
 * base URL (OpenAI, vLLM, Ollama, llama.cpp server).
 *
 * - structured output: response_format json_schema; when the server rejects it with a 400 before
 *   any structured request succeeded, the client drops it for the rest of the job and relies on
 *   parsing (`[[8]]`, `Rating: 8`, `점수: 8`).
 * - retries: the openai client's own retries are off (maxRetries 0); this client retries 429,
 *   408/409, 5xx, timeouts and connection errors with exponential backoff + jitter, honouring
 *   retry-after / retry-after-ms, up to `maxRetries` times.
 * - an unparseable answer is asked again up to `maxParseRetries` times, then reported as a failure
 *   with its raw text (never a score).
 * - a concurrency limit, and token / cost accounting.
 * The API key comes from options or OPENAI_API_KEY and is never logged or written anywhere:
 * every text that comes back from the server (answers, reasons, error messages) has the key,
 * `Bearer ...` and `sk-...` patterns redacted before the caller sees it.
 */
import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError } from 'openai';
import { nodeFetch } from './http-fetch.ts';
import { parseJudgeAnswer, type ParsedJudgement } from './parse.ts';
import { redactSecrets } from '../util/redact.ts';
import type { ChatMessage, Rubric } from './rubric.ts';

export interface ModelPrice {
  /** USD per 1M prompt tokens. */
  input: number;
  /** USD per 1M completion tokens. */
  output: number;
}

export interface JudgeClientOptions {
  model: string;
  baseURL?: string;
  apiKey?: string;
  /** Requests in flight at once (default 8). */
  concurrency?: number;
  /** Retries of one request on 429 / 5xx / timeouts (default 4). */
  maxRetries?: number;
  /** Per-request timeout in ms (default 60000). */
  timeoutMs?: number;
  /** Extra requests when an answer cannot be parsed (default 2). */
  maxParseRetries?: number;
  /** 'auto' (json_schema, dropped on a 400), 'json_schema' (always) or 'off' (parse text only). */
  structured?: 'auto' | 'json_schema' | 'off';
  /** First backoff delay in ms (default 500), doubled per retry up to backoffMaxMs (default 20000). */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Largest retry-after honoured, in ms (default 60000). */
  retryAfterMaxMs?: number;
  /** Prices per model name, for the cost in the summary. */
  prices?: Record<string, ModelPrice>;
  /** 'node' (default): a lean keep-alive node:http fetch; 'global': the platform fetch (undici). */
  fetch?: 'node' | 'global';
  /**
   * How the answer length limit is sent: 'max_completion_tokens' (default; OpenAI's current
   * name, the only one its reasoning models take) or 'max_tokens' (servers that know only the
   * old name). Either way a 400 naming the parameter switches to the other one once.
   */
  tokenLimitParam?: 'max_completion_tokens' | 'max_tokens';
  /**
   * Send the rubric's temperature: 'auto' (default) leaves it out for models that only take
   * their default (OpenAI o1 / o3 / o4 / gpt-5 reasoning models) and after a 400 that rejects it.
   */
  temperature?: 'auto' | 'always' | 'never';
  /** Injected sleep (tests). */
  sleep?: (ms: number) => Promise<void>;
}

/**
 * OpenAI reasoning models accept only their default temperature (a 400 "Unsupported value:
 * 'temperature' does not support 0 with this model"); the name may carry a provider prefix.
 */
export function rejectsTemperature(model: string): boolean {
  const m = model.toLowerCase().split('/').pop()!;
  return /^(o\d|gpt-5)/.test(m) && !/^gpt-5[.\d]*-chat/.test(m);
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
}

export type JudgeCallResult =
  | { status: 'ok'; parsed: ParsedJudgement; raw: string; usage: Usage }
  /** `paid`: at least one answer was delivered (tokens spent), so the failure is final and cacheable. */
  | { status: 'failed'; raw: string; error: string; usage: Usage; paid: boolean };

export interface ClientStats {
  /** HTTP attempts sent. */
  httpRequests: number;
  /** Answers delivered (status 200). */
  answers: number;
  retries: number;
  rateLimited: number;
  serverErrors: number;
  timeouts: number;
  parseRetries: number;
  promptTokens: number;
  completionTokens: number;
  /** True once the server rejected response_format json_schema and parsing took over. */
  structuredFallback: boolean;
}

/** A counting semaphore. */
export class Limiter {
  private active = 0;
  private waiting: Array<() => void> = [];
  constructor(readonly limit: number) {
    if (!(limit >= 1)) throw new Error(`concurrency must be >= 1, got ${limit}`);
  }
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((r) => this.waiting.push(r));
    else this.active++;
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}

/** Whether options or the environment name a judge endpoint (else the heuristic judge is used). */
export function endpointConfigured(opts: { baseURL?: string; apiKey?: string } = {}): boolean {
  return Boolean(opts.baseURL || opts.apiKey || process.env.OPENAI_BASE_URL || process.env.OPENAI_API_KEY);
}

export class JudgeClient {
  readonly model: string;
  readonly stats: ClientStats = {
    httpRequests: 0, answers: 0, retries: 0, rateLimited: 0, serverErrors: 0, timeouts: 0, parseRetries: 0,
    promptTokens: 0, completionTokens: 0, structuredFallback: false,
  };
  private openai: OpenAI;
  private limiter: Limiter;
  private structured: 'auto' | 'json_schema' | 'off';
  private structuredConfirmed = false;
  private tokenParam: 'max_completion_tokens' | 'max_tokens';
  private tokenParamSwitched = false;
  private sendTemperature: boolean;
  private temperatureMode: 'auto' | 'always' | 'never';
  private opts: Required<Pick<JudgeClientOptions, 'maxRetries' | 'timeoutMs' | 'maxParseRetries' | 'backoffBaseMs' | 'backoffMaxMs' | 'retryAfterMaxMs'>>;
  private sleep: (ms: number) => Promise<void>;
  private prices: Record<string, ModelPrice>;
  /** Credentials to scrub from server text (never logged or stored). */
  readonly #secrets: string[];

  constructor(o: JudgeClientOptions) {
    this.model = o.model;
    this.opts = {
      maxRetries: o.maxRetries ?? 4,
      timeoutMs: o.timeoutMs ?? 60_000,
      maxParseRetries: o.maxParseRetries ?? 2,
      backoffBaseMs: o.backoffBaseMs ?? 500,
      backoffMaxMs: o.backoffMaxMs ?? 20_000,
      retryAfterMaxMs: o.retryAfterMaxMs ?? 60_000,
    };
    this.structured = o.structured ?? 'auto';
    this.tokenParam = o.tokenLimitParam ?? 'max_completion_tokens';
    this.temperatureMode = o.temperature ?? 'auto';
    this.sendTemperature = this.temperatureMode === 'always' || (this.temperatureMode === 'auto' && !rejectsTemperature(o.model));
    this.limiter = new Limiter(o.concurrency ?? 8);
    this.sleep = o.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.prices = o.prices ?? {};
    this.#secrets = [o.apiKey, process.env.OPENAI_API_KEY].filter((k): k is string => Boolean(k));
    this.openai = new OpenAI({
      baseURL: o.baseURL ?? process.env.OPENAI_BASE_URL ?? undefined,
      // Local servers (vLLM, Ollama, llama.cpp) accept any key; the package insists on one.
      apiKey: o.apiKey ?? process.env.OPENAI_API_KEY ?? 'sk-no-key-required',
      maxRetries: 0,
      timeout: this.opts.timeoutMs,
      ...(o.fetch === 'global' ? {} : { fetch: nodeFetch }),
    });
  }

  /** The underlying openai client (batch API). */
  get api(): OpenAI {
    return this.openai;
  }

  /** `text` (from the server) with this client's key and credential-looking patterns redacted. */
  redact(text: string): string {
    return redactSecrets(text, this.#secrets);
  }

  /** describeError, redacted with this client's key. */
  describe(e: unknown): string {
    return this.redact(describeError(e));
  }

  /** Cost in USD of the tokens used so far, or undefined when no price is known for the model. */
  costUsd(): number | undefined {
    const p = this.prices[this.model];
    if (!p) return undefined;
    return (this.stats.promptTokens * p.input + this.stats.completionTokens * p.output) / 1e6;
  }

  /** The request body for `messages` (also used to build batch files). */
  body(rubric: Rubric, messages: ChatMessage[], structured = this.structured !== 'off'): OpenAI.Chat.ChatCompletionCreateParamsNonStreaming {
    const b: OpenAI.Chat.ChatCompletionCreateParamsNonStreaming = { model: this.model, messages };
    if (this.sendTemperature) b.temperature = rubric.params.temperature;
    b[this.tokenParam] = rubric.params.max_tokens;
    if (structured) b.response_format = responseFormat(rubric);
    return b;
  }

  /** Judges one sample: request (with retries), parse (with bounded re-asks). Never throws for server trouble. */
  judge(rubric: Rubric, messages: ChatMessage[]): Promise<JudgeCallResult> {
    return this.limiter.run(async () => {
      const usage: Usage = { prompt_tokens: 0, completion_tokens: 0 };
      let raw = '';
      let paid = false;
      for (let attempt = 0; attempt <= this.opts.maxParseRetries; attempt++) {
        if (attempt > 0) this.stats.parseRetries++;
        let resp: OpenAI.Chat.ChatCompletion;
        try {
          resp = await this.request(rubric, messages);
        } catch (e) {
          const error = this.describe(e);
          return { status: 'failed', raw: raw || error, error, usage, paid };
        }
        paid = true;
        const u = resp.usage;
        usage.prompt_tokens += u?.prompt_tokens ?? 0;
        usage.completion_tokens += u?.completion_tokens ?? 0;
        raw = this.redact(resp.choices?.[0]?.message?.content ?? '');
        const parsed = parseJudgeAnswer(raw, rubric);
        if (parsed) return { status: 'ok', parsed, raw, usage };
      }
      return { status: 'failed', raw, error: `unparseable judge answer after ${this.opts.maxParseRetries + 1} attempts`, usage, paid };
    });
  }

  private async request(rubric: Rubric, messages: ChatMessage[]): Promise<OpenAI.Chat.ChatCompletion> {
    for (let attempt = 0; ; attempt++) {
      const structured = this.structured === 'json_schema' || (this.structured === 'auto' && !this.stats.structuredFallback);
      try {
        this.stats.httpRequests++;
        const resp = await this.openai.chat.completions.create(this.body(rubric, messages, structured), { maxRetries: 0, timeout: this.opts.timeoutMs });
        this.stats.answers++;
        this.stats.promptTokens += resp.usage?.prompt_tokens ?? 0;
        this.stats.completionTokens += resp.usage?.completion_tokens ?? 0;
        if (structured) this.structuredConfirmed = true;
        return resp;
      } catch (e) {
        const msg = e instanceof APIError && e.status === 400 ? `${e.message} ${JSON.stringify(e.error ?? '')}` : '';
        if (msg && !this.tokenParamSwitched && msg.includes(this.tokenParam)) {
          // "Unsupported parameter: 'max_tokens' ... Use 'max_completion_tokens' instead" (or the reverse on an old server)
          this.tokenParam = this.tokenParam === 'max_tokens' ? 'max_completion_tokens' : 'max_tokens';
          this.tokenParamSwitched = true;
          attempt--;
          continue;
        }
        if (msg && this.sendTemperature && this.temperatureMode === 'auto' && /temperature/.test(msg)) {
          this.sendTemperature = false;
          attempt--;
          continue;
        }
        if (e instanceof APIError && e.status === 400 && structured && this.structured === 'auto' && !this.structuredConfirmed) {
          // The server does not take response_format json_schema: parse plain answers from now on.
          this.stats.structuredFallback = true;
          attempt--;
          continue;
        }
        const retryable = isRetryable(e);
        if (!retryable || attempt >= this.opts.maxRetries) throw e;
        if (e instanceof APIConnectionTimeoutError) this.stats.timeouts++;
        else if (e instanceof APIError && e.status === 429) this.stats.rateLimited++;
        else if (e instanceof APIError && (e.status ?? 0) >= 500) this.stats.serverErrors++;
        this.stats.retries++;
        const hinted = retryAfterMs(e);
        const backoff = Math.min(this.opts.backoffMaxMs, this.opts.backoffBaseMs * 2 ** attempt) * (0.5 + Math.random() / 2);
        await this.sleep(hinted !== undefined ? Math.min(hinted, this.opts.retryAfterMaxMs) : backoff);
      }
    }
  }
}

export function responseFormat(rubric: Rubric): OpenAI.ResponseFormatJSONSchema {
  return {
    type: 'json_schema',
    json_schema: { name: rubric.id.replace(/[^A-Za-z0-9_-]/g, '_'), schema: rubric.output.schema, strict: true },
  };
}

export function isRetryable(e: unknown): boolean {
  if (e instanceof APIConnectionError) return true; // includes timeouts
  if (e instanceof APIError) {
    const s = e.status ?? 0;
    return s === 408 || s === 409 || s === 429 || s >= 500;
  }
  return false;
}

/** The server's retry hint in ms (retry-after-ms, or retry-after in seconds or as an HTTP date). */
export function retryAfterMs(e: unknown): number | undefined {
  if (!(e instanceof APIError) || !e.headers) return undefined;
  const h = e.headers as Headers;
  const ms = Number(h.get?.('retry-after-ms'));
  if (h.get?.('retry-after-ms') && Number.isFinite(ms) && ms >= 0) return ms;
  const ra = h.get?.('retry-after');
  if (!ra) return undefined;
  const secs = Number(ra);
  if (Number.isFinite(secs) && secs >= 0) return secs * 1000;
  const date = Date.parse(ra);
  if (Number.isFinite(date)) return Math.max(0, date - Date.now());
  return undefined;
}

/**
 * One line about what went wrong, with no request headers and credential-looking text
 * (`Bearer ...`, `sk-...`) redacted; JudgeClient.describe also redacts the configured key.
 */
export function describeError(e: unknown): string {
  if (e instanceof APIConnectionTimeoutError) return 'request timed out';
  if (e instanceof APIError) return redactSecrets(`HTTP ${e.status ?? 'connection error'}: ${(e.message ?? '').split('\n')[0].slice(0, 300)}`);
  return redactSecrets((e as Error)?.message?.split('\n')[0] ?? String(e));
}
