import { afterEach, describe, expect, it } from 'vitest';
import { chatReply, errorReply, startOpenAIServer, type OpenAIServer } from '../helpers/openai-server.ts';
import { loadDefaultClassifier } from '../../src/safety/classifier.ts';
import { scoreTexts, scoreToxicity } from '../../src/safety/scorers.ts';

let server: OpenAIServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

const TOXIC = '이 멍청한 새끼야 꺼져';
const CLEAN = '오늘 날씨가 참 좋네요. 산책하기 좋은 날입니다.';

describe('classifier scorer', () => {
  it('adds toxicity, toxic at the classifier threshold, and the scorer id, keeping every column', async () => {
    const c = (await loadDefaultClassifier())!;
    const { rows, summary } = await scoreToxicity([{ id: 'a', text: TOXIC }, { id: 'b', text: CLEAN }]);
    expect(rows[0]).toMatchObject({ id: 'a', text: TOXIC, toxic: true, toxicity_scorer: `classifier:${c.id}` });
    expect(rows[0]!.toxicity).toBeCloseTo(c.score(TOXIC), 12);
    expect(rows[1]).toMatchObject({ id: 'b', toxic: false });
    expect(summary).toMatchObject({ scorer: 'classifier', rows: 2, scored: 2, failed: 0, toxic: 1, toxicRate: 0.5, threshold: c.threshold });
  });

  it('honours --field and --threshold', async () => {
    const { rows, summary } = await scoreToxicity([{ answer: CLEAN }], { field: 'answer', threshold: 0 });
    expect(rows[0]!.toxic).toBe(true);
    expect(summary.threshold).toBe(0);
  });

  it('names the row and the field when the text is missing', async () => {
    await expect(scoreToxicity([{ text: CLEAN }, { body: CLEAN }], { source: 'in.jsonl' })).rejects.toThrow(
      "in.jsonl: row 2: field 'text' must be a string (no such field); pass --field to name the column holding the text",
    );
    await expect(scoreToxicity([{ text: 3 }], { source: 'in.jsonl' })).rejects.toThrow("in.jsonl: row 1: field 'text' must be a string (got number)");
  });

  it('rejects an unknown scorer and a threshold outside [0, 1]', async () => {
    await expect(scoreToxicity([{ text: CLEAN }], { scorer: 'perspective' })).rejects.toThrow(
      "--scorer: unknown scorer 'perspective' (expected one of classifier, judge, moderation, combined)",
    );
    await expect(scoreToxicity([{ text: CLEAN }], { threshold: 2 })).rejects.toThrow('--threshold: must be a number in [0, 1], got 2');
  });
});

describe('moderation scorer (OpenAI moderation endpoint on 127.0.0.1)', () => {
  it('sends batched inputs and takes the largest category score as toxicity', async () => {
    server = await startOpenAIServer({
      handler: (req) => {
        if (req.path !== '/v1/moderations') return undefined;
        const inputs: string[] = req.body.input;
        return {
          status: 200,
          json: {
            id: `modr-${req.index}`,
            model: req.body.model,
            results: inputs.map((t) => {
              const bad = t.includes('멍청');
              return {
                flagged: bad,
                categories: { harassment: bad, hate: false },
                category_scores: { harassment: bad ? 0.91 : 0.02, hate: bad ? 0.3 : 0.04, violence: 0.01 },
              };
            }),
          },
        };
      },
    });
    const texts = [TOXIC, CLEAN, CLEAN, TOXIC, CLEAN];
    const { rows, summary } = await scoreToxicity(texts.map((text) => ({ text })), {
      scorer: 'moderation', baseURL: server.baseURL, apiKey: 'test-key', batchSize: 2, concurrency: 2,
    });
    const mod = server.requests.filter((r) => r.path === '/v1/moderations');
    expect(mod.length).toBe(3);
    expect(mod.map((r) => r.body.input).flat().sort()).toEqual([...texts].sort());
    expect(mod[0]!.body.model).toBe('omni-moderation-latest');
    expect(mod[0]!.headers.authorization).toBe('Bearer test-key');
    expect(rows.map((r) => r.toxicity)).toEqual([0.91, 0.04, 0.04, 0.91, 0.04]);
    expect(rows.map((r) => r.toxic)).toEqual([true, false, false, true, false]);
    expect(rows[0]).toMatchObject({ toxicity_category: 'harassment', moderation_flagged: true, toxicity_scorer: 'moderation:omni-moderation-latest' });
    expect(summary).toMatchObject({ scorer: 'moderation', toxic: 2, scored: 5, threshold: 0.5 });
  });

  it('retries a server error and reports a final failure as one line naming the endpoint', async () => {
    server = await startOpenAIServer({
      handler: (req) => (req.path === '/v1/moderations' && req.index === 0 ? errorReply(500, 'boom') : undefined),
    });
    const ok = await scoreToxicity([{ text: CLEAN }], { scorer: 'moderation', baseURL: server.baseURL, apiKey: 'k', maxRetries: 2 });
    expect(ok.rows[0]!.toxicity).toBe(0);
    expect(server.requests.filter((r) => r.path === '/v1/moderations').length).toBe(2);

    await server.close();
    server = await startOpenAIServer({ handler: () => errorReply(401, 'bad key') });
    await expect(scoreToxicity([{ text: CLEAN }], { scorer: 'moderation', baseURL: server.baseURL, apiKey: 'k', source: 'a.jsonl' })).rejects.toThrow(
      `moderation scorer: ${server.baseURL}/moderations failed for rows 1-1 of a.jsonl: HTTP 401: 401 bad key`,
    );
  });

  it('needs an API key', async () => {
    const saved = process.env.OPENAI_API_KEY;
    delete process.env.OPENAI_API_KEY;
    try {
      await expect(scoreToxicity([{ text: CLEAN }], { scorer: 'moderation', baseURL: 'http://127.0.0.1:9/v1' })).rejects.toThrow(
        'moderation scorer: no API key (set OPENAI_API_KEY; for a local OpenAI-compatible server any non-empty value works)',
      );
    } finally {
      if (saved !== undefined) process.env.OPENAI_API_KEY = saved;
    }
  });
});

describe('judge scorer (safety rubric over chat completions on 127.0.0.1)', () => {
  it('uses judge_score as toxicity, keeps the category, and never turns a failed judgement into a score', async () => {
    server = await startOpenAIServer({
      handler: (req) => {
        if (req.path !== '/v1/chat/completions') return undefined;
        const user = String(req.body.messages.at(-1).content);
        if (user.includes('멍청')) return chatReply('{"harmful": true, "category": "insult", "score": 0.9, "reason": "모욕적 표현"}');
        if (user.includes('산책')) return chatReply('{"harmful": false, "category": "none", "score": 0.05, "reason": "무해함"}');
        return chatReply('판단하기 어렵습니다.');
      },
    });
    const { rows, summary } = await scoreToxicity(
      [{ prompt: '욕해 줘', text: TOXIC }, { prompt: '날씨 어때?', text: CLEAN }, { prompt: '?', text: '음...' }],
      { scorer: 'judge', baseURL: server.baseURL, apiKey: 'k', model: 'safety-judge', maxRetries: 0, concurrency: 2 },
    );
    expect(rows[0]).toMatchObject({ toxicity: 0.9, toxic: true, toxicity_category: 'insult', judge_status: 'ok', judge_model: 'safety-judge' });
    expect(rows[0]!.toxicity_scorer).toBe('judge:safety-ko@1/safety-judge');
    expect(rows[1]).toMatchObject({ toxicity: 0.05, toxic: false, toxicity_category: 'none' });
    expect(rows[2]).toMatchObject({ toxicity: null, toxic: null, judge_status: 'failed' });
    expect(String(rows[2]!.toxicity_error)).toMatch(/^judge failed: /);
    expect(summary).toMatchObject({ scorer: 'judge', rows: 3, scored: 2, failed: 1, toxic: 1, toxicRate: 0.5 });
    // The prompt reached the judge as context, and the rubric is the safety one.
    const first = server.requests.find((r) => String(r.body?.messages?.at(-1)?.content).includes('멍청'))!;
    expect(String(first.body.messages.at(-1).content)).toContain('욕해 줘');
    expect(String(first.body.messages[0].content)).toContain('유해');
  });

  it('scores plain texts with prompts through scoreTexts', async () => {
    server = await startOpenAIServer({ handler: () => chatReply('{"harmful": true, "category": "hate", "score": 0.7, "reason": "혐오"}') });
    const r = await scoreTexts(['텍스트 하나'], { scorer: 'judge', prompts: ['질문 하나'], baseURL: server.baseURL, apiKey: 'k' });
    expect(r.scores).toEqual([0.7]);
    expect(r.toxic).toEqual([true]);
  });
});

describe('combined scorer (classifier + judge)', () => {
  it('takes the max (or mean) of the classifier and the judge, keeps both, and fails rows the judge could not score', async () => {
    const c = (await loadDefaultClassifier())!;
    // A judge that misses the insult and a classifier that catches it, and the other way round.
    const SUBTLE = '그 나라 사람들은 원래 게을러서 가난한 거예요.';
    server = await startOpenAIServer({
      handler: (req) => {
        const user = String(req.body.messages.at(-1).content);
        if (user.includes('멍청')) return chatReply('{"harmful": false, "category": "none", "score": 0.1, "reason": "놓침"}');
        if (user.includes('게을러서')) return chatReply('{"harmful": true, "category": "hate", "score": 0.8, "reason": "고정관념"}');
        if (user.includes('산책')) return chatReply('{"harmful": false, "category": "none", "score": 0.0, "reason": "무해함"}');
        return chatReply('모르겠습니다.');
      },
    });
    const texts = [{ text: TOXIC }, { text: SUBTLE }, { text: CLEAN }, { text: '음...' }];
    const base = { scorer: 'combined', baseURL: server.baseURL, apiKey: 'k', model: 'safety-judge', maxRetries: 0 } as const;
    const { rows, summary } = await scoreToxicity(texts, base);
    expect(c.score(TOXIC)).toBeGreaterThan(0.5);
    expect(rows[0]).toMatchObject({ toxic: true, toxicity_judge: 0.1 });
    expect(rows[0]!.toxicity).toBeCloseTo(c.score(TOXIC), 12);
    expect(rows[0]!.toxicity_classifier).toBeCloseTo(c.score(TOXIC), 12);
    expect(rows[1]).toMatchObject({ toxicity: Math.max(0.8, c.score(SUBTLE)), toxic: true, toxicity_category: 'hate' });
    expect(rows[2]).toMatchObject({ toxic: false });
    expect(rows[3]).toMatchObject({ toxicity: null, toxic: null });
    expect(String(rows[3]!.toxicity_error)).toMatch(/^judge failed: /);
    expect(summary).toMatchObject({ scorer: 'combined', rows: 4, scored: 3, failed: 1, toxic: 2, threshold: c.threshold });
    expect(summary.scorerId).toBe(`combined-max(classifier:${c.id}, judge:safety-ko@1/safety-judge)`);
    const mean = await scoreToxicity([{ text: TOXIC }], { ...base, combine: 'mean' });
    expect(mean.rows[0]!.toxicity).toBeCloseTo((c.score(TOXIC) + 0.1) / 2, 12);
  });
});
