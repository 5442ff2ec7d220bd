import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { JudgeClient, Limiter, rejectsTemperature, retryAfterMs } from '../../src/judge/client.ts';
import { loadRubric, renderMessages, type Rubric } from '../../src/judge/rubric.ts';
import { chatReply, errorReply, startOpenAIServer, type OpenAIServer } from '../helpers/openai-server.ts';
import { repoRoot } from '../helpers/cli.ts';

const sample = { prompt: '한국의 수도는 어디인가요?', answer: '한국의 수도는 서울입니다.' };
let server: OpenAIServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function quality(): Promise<Rubric> {
  return loadRubric(join(repoRoot, 'judges', 'quality-ko.yaml'));
}

function client(extra: Partial<ConstructorParameters<typeof JudgeClient>[0]> = {}) {
  const sleeps: number[] = [];
  const c = new JudgeClient({
    model: 'test-judge',
    baseURL: server!.baseURL,
    apiKey: 'sk-test-secret-key-123',
    backoffBaseMs: 1,
    sleep: async (ms) => {
      sleeps.push(ms);
      await new Promise((r) => setTimeout(r, Math.min(ms, 5)));
    },
    ...extra,
  });
  return { c, sleeps };
}

describe('JudgeClient against a real local HTTP server', () => {
  it('sends response_format json_schema and parses the structured answer', async () => {
    server = await startOpenAIServer({ handler: () => chatReply('{"reason": "정확하고 자연스러운 답변", "score": 9}') });
    const rubric = await quality();
    const { c } = client();
    const r = await c.judge(rubric, renderMessages(rubric, sample));
    expect(r.status).toBe('ok');
    if (r.status === 'ok') expect(r.parsed).toMatchObject({ score: 9, reason: '정확하고 자연스러운 답변', via: 'json' });
    const body = server.requests[0].body;
    expect(body.response_format.type).toBe('json_schema');
    expect(body.response_format.json_schema.schema.required).toEqual(['reason', 'score']);
    expect(body.model).toBe('test-judge');
    expect(body.temperature).toBe(0);
    expect(server.requests[0].headers.authorization).toBe('Bearer sk-test-secret-key-123');
  });

  it('retries a 429 honouring retry-after, then succeeds', async () => {
    server = await startOpenAIServer({
      handler: (req) => (req.index < 2 ? errorReply(429, 'rate limited', { 'retry-after': '2' }) : chatReply('{"reason": "좋음", "score": 8}')),
    });
    const rubric = await quality();
    const { c, sleeps } = client();
    const r = await c.judge(rubric, renderMessages(rubric, sample));
    expect(r.status).toBe('ok');
    expect(server.requests.length).toBe(3);
    expect(sleeps).toEqual([2000, 2000]);
    expect(c.stats).toMatchObject({ retries: 2, rateLimited: 2, httpRequests: 3, answers: 1 });
  });

  it('retries 500s with exponential backoff and gives up after maxRetries as a failure (never a score)', async () => {
    server = await startOpenAIServer({ handler: () => errorReply(500, 'boom') });
    const rubric = await quality();
    const { c, sleeps } = client({ maxRetries: 3, backoffBaseMs: 100 });
    const r = await c.judge(rubric, renderMessages(rubric, sample));
    expect(r.status).toBe('failed');
    if (r.status === 'failed') {
      expect(r.error).toMatch(/HTTP 500/);
      expect(r.paid).toBe(false);
    }
    expect(server.requests.length).toBe(4);
    expect(sleeps.length).toBe(3);
    // backoff doubles (with jitter in [0.5, 1])
    expect(sleeps[0]).toBeGreaterThanOrEqual(50);
    expect(sleeps[0]).toBeLessThanOrEqual(100);
    expect(sleeps[2]).toBeGreaterThanOrEqual(200);
    expect(sleeps[2]).toBeLessThanOrEqual(400);
    expect(c.stats.serverErrors).toBe(3);
  });

  it('does not retry a 401 and keeps the API key out of the error text', async () => {
    server = await startOpenAIServer({ handler: () => errorReply(401, 'invalid api key') });
    const rubric = await quality();
    const { c } = client({ structured: 'off' });
    const r = await c.judge(rubric, renderMessages(rubric, sample));
    expect(r.status).toBe('failed');
    expect(server.requests.length).toBe(1);
    expect(JSON.stringify(r)).not.toContain('sk-test-secret-key-123');
  });

  it('a 401 that quotes the Authorization header has the key redacted from error and raw text', async () => {
    server = await startOpenAIServer({
      handler: (req) => errorReply(401, `잘못된 키: header 'Authorization: ${req.headers.authorization}' rejected (key sk-test-secret-key-123)`),
    });
    const rubric = await quality();
    const { c } = client({ structured: 'off' });
    const r = await c.judge(rubric, renderMessages(rubric, sample));
    expect(r.status).toBe('failed');
    const text = JSON.stringify(r);
    expect(text).not.toContain('sk-test-secret-key-123');
    expect(text).not.toContain('secret-key');
    expect(r.status === 'failed' && r.error).toMatch(/^HTTP 401: .*잘못된 키: header 'Authorization: Bearer \[redacted\]' rejected \(key sk-\[redacted\]\)/);
  });

  it('an answer that echoes the key is stored redacted', async () => {
    server = await startOpenAIServer({ handler: () => chatReply('키 sk-test-secret-key-123 를 받았습니다. 판단 불가') });
    const rubric = await quality();
    const { c } = client({ structured: 'off', maxParseRetries: 0 });
    const r = await c.judge(rubric, renderMessages(rubric, sample));
    expect(r.status).toBe('failed');
    expect(r.raw).toBe('키 [redacted] 를 받았습니다. 판단 불가');
  });

  it('retries a hanging request after its timeout', async () => {
    server = await startOpenAIServer({ handler: (req) => (req.index === 0 ? { hang: true } : chatReply('Rating: [[7]]')) });
    const rubric = await quality();
    const { c } = client({ timeoutMs: 300 });
    const t0 = Date.now();
    const r = await c.judge(rubric, renderMessages(rubric, sample));
    expect(r.status).toBe('ok');
    if (r.status === 'ok') expect(r.parsed.score).toBe(7);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(280);
    expect(c.stats.timeouts).toBe(1);
    expect(server.requests.length).toBe(2);
  });

  it('falls back to text parsing when the server rejects json_schema with 400', async () => {
    server = await startOpenAIServer({
      handler: (req) =>
        req.body.response_format ? errorReply(400, "response_format 'json_schema' is not supported") : chatReply('평가: 간결하고 정확합니다.\n점수: 8'),
    });
    const rubric = await quality();
    const { c } = client();
    const a = await c.judge(rubric, renderMessages(rubric, sample));
    const b = await c.judge(rubric, renderMessages(rubric, sample));
    expect(a.status).toBe('ok');
    if (a.status === 'ok') expect(a.parsed).toMatchObject({ score: 8, via: 'korean' });
    expect(b.status).toBe('ok');
    expect(c.stats.structuredFallback).toBe(true);
    // one rejected structured request, then plain requests only
    expect(server.requests.map((r) => Boolean(r.body.response_format))).toEqual([true, false, false]);
    expect(c.stats.retries).toBe(0);
  });

  it('re-asks an unparseable answer a bounded number of times, then fails with the raw text', async () => {
    server = await startOpenAIServer({ handler: () => chatReply('이 답변은 꽤 괜찮아 보입니다. 점수는 잘 모르겠네요.') });
    const rubric = await quality();
    const { c } = client({ maxParseRetries: 2 });
    const r = await c.judge(rubric, renderMessages(rubric, sample));
    expect(r.status).toBe('failed');
    if (r.status === 'failed') {
      expect(r.raw).toBe('이 답변은 꽤 괜찮아 보입니다. 점수는 잘 모르겠네요.');
      expect(r.error).toMatch(/unparseable/);
      expect(r.paid).toBe(true);
      expect(r.usage.prompt_tokens).toBe(300);
    }
    expect(server.requests.length).toBe(3);
    expect(c.stats.parseRetries).toBe(2);
  });

  it('recovers when a re-asked answer parses', async () => {
    server = await startOpenAIServer({ handler: (req) => chatReply(req.index === 0 ? '음...' : 'Rating: 6') });
    const rubric = await quality();
    const { c } = client();
    const r = await c.judge(rubric, renderMessages(rubric, sample));
    expect(r.status).toBe('ok');
    if (r.status === 'ok') expect(r.parsed).toMatchObject({ score: 6, via: 'rating' });
  });

  it('keeps at most `concurrency` requests in flight and accounts tokens and cost', async () => {
    let open = 0;
    let peak = 0;
    server = await startOpenAIServer({
      handler: async () => {
        open++;
        peak = Math.max(peak, open);
        await new Promise((r) => setTimeout(r, 30));
        open--;
        return chatReply('{"reason": "좋음", "score": 7}', { prompt_tokens: 1000, completion_tokens: 50 });
      },
    });
    const rubric = await quality();
    const { c } = client({ concurrency: 3, prices: { 'test-judge': { input: 0.15, output: 0.6 } } });
    const results = await Promise.all(Array.from({ length: 12 }, () => c.judge(rubric, renderMessages(rubric, sample))));
    expect(results.every((r) => r.status === 'ok')).toBe(true);
    expect(peak).toBe(3);
    expect(c.stats.promptTokens).toBe(12_000);
    expect(c.stats.completionTokens).toBe(600);
    expect(c.costUsd()).toBeCloseTo((12_000 * 0.15 + 600 * 0.6) / 1e6, 12);
  });
});

describe('OpenAI parameters current models take', () => {
  // OpenAI Chat Completions API reference: max_tokens is deprecated in favour of
  // max_completion_tokens and not compatible with o-series models; reasoning models answer a
  // non-default temperature with 400 "Unsupported value: 'temperature' does not support 0 with this model".
  it('sends max_completion_tokens by default, max_tokens when configured, and switches once on a 400 naming it', async () => {
    server = await startOpenAIServer({ handler: () => chatReply('{"reason": "좋음", "score": 8}') });
    const rubric = await quality();
    await client().c.judge(rubric, renderMessages(rubric, sample));
    expect(server.requests[0].body.max_completion_tokens).toBe(rubric.params.max_tokens);
    expect('max_tokens' in server.requests[0].body).toBe(false);
    await client({ tokenLimitParam: 'max_tokens' }).c.judge(rubric, renderMessages(rubric, sample));
    expect(server.requests[1].body.max_tokens).toBe(rubric.params.max_tokens);
    expect('max_completion_tokens' in server.requests[1].body).toBe(false);
    await server.close();
    // an older server that knows only max_tokens
    server = await startOpenAIServer({
      handler: (req) => ('max_completion_tokens' in req.body ? errorReply(400, "Unrecognized request argument supplied: max_completion_tokens") : chatReply('{"reason": "좋음", "score": 7}')),
    });
    const { c } = client({ structured: 'off' });
    const r = await c.judge(rubric, renderMessages(rubric, sample));
    expect(r.status).toBe('ok');
    await c.judge(rubric, renderMessages(rubric, sample));
    expect(server.requests.map((q) => ('max_tokens' in q.body ? 'max_tokens' : 'max_completion_tokens'))).toEqual(['max_completion_tokens', 'max_tokens', 'max_tokens']);
  });

  it('leaves temperature out for reasoning models, and after a 400 that rejects it', async () => {
    expect(['o1', 'o3-mini', 'o4-mini-2025-04-16', 'gpt-5', 'gpt-5-mini', 'openai/o3'].map(rejectsTemperature)).toEqual([true, true, true, true, true, true]);
    expect(['gpt-4o-mini', 'gpt-4.1', 'qwen2.5:7b', 'gpt-5-chat-latest'].map(rejectsTemperature)).toEqual([false, false, false, false]);
    server = await startOpenAIServer({
      handler: (req) =>
        'temperature' in req.body
          ? { status: 400, json: { error: { message: "Unsupported value: 'temperature' does not support 0 with this model. Only the default (1) value is supported.", type: 'invalid_request_error', param: 'temperature', code: 'unsupported_value' } } }
          : chatReply('{"reason": "정확", "score": 9}'),
    });
    const rubric = await quality();
    const o = client({ model: 'o4-mini' });
    expect((await o.c.judge(rubric, renderMessages(rubric, sample))).status).toBe('ok');
    expect('temperature' in server.requests[0].body).toBe(false);
    const custom = client({ model: 'my-reasoner', structured: 'off' });
    expect((await custom.c.judge(rubric, renderMessages(rubric, sample))).status).toBe('ok');
    expect(server.requests.slice(1).map((q) => 'temperature' in q.body)).toEqual([true, false]);
    expect(custom.c.stats.retries).toBe(0);
  });
});

describe('transport', () => {
  it('the platform fetch (fetch: global) behaves the same: 429 retry-after, then a parsed answer', async () => {
    server = await startOpenAIServer({ handler: (req) => (req.index === 0 ? errorReply(429, 'slow', { 'retry-after': '1' }) : chatReply('점수: 9')) });
    const rubric = await quality();
    const { c, sleeps } = client({ fetch: 'global' });
    const r = await c.judge(rubric, renderMessages(rubric, sample));
    expect(r.status).toBe('ok');
    expect(sleeps).toEqual([1000]);
  });

  it('the lean node:http fetch reuses keep-alive connections', async () => {
    server = await startOpenAIServer({ handler: () => chatReply('[[5]]') });
    const rubric = await quality();
    const { c } = client({ concurrency: 4 });
    await Promise.all(Array.from({ length: 40 }, () => c.judge(rubric, renderMessages(rubric, sample))));
    expect(server.requests.length).toBe(40);
    expect(server.connections()).toBeLessThanOrEqual(8);
  });

  it('a connection refused is retried and then reported, not thrown', async () => {
    server = await startOpenAIServer({});
    const baseURL = server.baseURL;
    await server.close();
    server = undefined;
    const rubric = await quality();
    const c = new JudgeClient({ model: 'm', baseURL, apiKey: 'k', maxRetries: 2, sleep: async () => {} });
    const r = await c.judge(rubric, renderMessages(rubric, sample));
    expect(r.status).toBe('failed');
    expect(c.stats.retries).toBe(2);
  });
});

describe('retry helpers', () => {
  it('reads retry-after seconds, retry-after-ms and HTTP dates', async () => {
    const { APIError } = await import('openai');
    const mk = (h: Record<string, string>) => APIError.generate(429, { message: 'x' }, 'x', new Headers(h));
    expect(retryAfterMs(mk({ 'retry-after': '3' }))).toBe(3000);
    expect(retryAfterMs(mk({ 'retry-after-ms': '250', 'retry-after': '3' }))).toBe(250);
    const d = retryAfterMs(mk({ 'retry-after': new Date(Date.now() + 5000).toUTCString() }))!;
    expect(d).toBeGreaterThan(3000);
    expect(d).toBeLessThanOrEqual(5000);
    expect(retryAfterMs(mk({}))).toBeUndefined();
  });

  it('Limiter never exceeds its limit', async () => {
    const lim = new Limiter(2);
    let open = 0;
    let peak = 0;
    await Promise.all(
      Array.from({ length: 10 }, () =>
        lim.run(async () => {
          open++;
          peak = Math.max(peak, open);
          await new Promise((r) => setTimeout(r, 2));
          open--;
        }),
      ),
    );
    expect(peak).toBe(2);
  });
});
