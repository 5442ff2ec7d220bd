import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { argillaAgent, argillaScore, parseArgillaExport, toArgillaRecords } from '../../src/review/argilla.ts';
import { importReview } from '../../src/review/import.ts';
import { itemId, rowToItem } from '../../src/review/items.ts';
import { writeRows } from '../../src/data/io.ts';
import { scoredRows, tempDir, writeJsonl } from './helpers.ts';

// argilla-server src/argilla_server/api/schemas/v1/suggestions.py lines 30-36: agent must match
// ^(?=.*[a-zA-Z0-9])[a-zA-Z0-9-_:\.\/\s]+$ (1-200 characters) and score lie in [0, 1], else 422.
const AGENT_REGEX = /^(?=.*[a-zA-Z0-9])[a-zA-Z0-9\-_:./\s]+$/;

describe('Argilla suggestions the server accepts', () => {
  it('agents are cleaned to the server pattern, scores scaled from the rubric into [0, 1]', () => {
    for (const name of ['gpt-4o@2024-08-06', 'qwen2.5:7b-instruct (ollama)', '한국어-판정기', 'org/model.v1', '', null, '🙂'.repeat(300)]) {
      const a = argillaAgent(name);
      expect(a).toMatch(AGENT_REGEX);
      expect(a.length).toBeLessThanOrEqual(200);
    }
    expect(argillaAgent('gpt-4o@2024-08-06')).toBe('gpt-4o-2024-08-06');
    expect(argillaAgent('org/model.v1')).toBe('org/model.v1');
    expect(argillaAgent('한국어-판정기')).toBe('judge');
    expect([argillaScore(1), argillaScore(10), argillaScore(7), argillaScore(12), argillaScore(null)]).toEqual([0, 1, 6 / 9, 1, null]);
    expect(argillaScore(3, { min: 0, max: 5 })).toBe(0.6);
  });

  it('every exported suggestion passes the server validation', () => {
    const items = scoredRows().map((r, i) => rowToItem({ ...r, judge_model: `${r.judge_model}@사내` }, i, 7));
    for (const rec of toArgillaRecords(items)) {
      const s = rec.suggestions.decision;
      if (!s) continue;
      expect(s.agent).toMatch(AGENT_REGEX);
      expect(s.score === null || (s.score >= 0 && s.score <= 1)).toBe(true);
    }
  });
});

describe('Argilla response status', () => {
  const fields = { instruction: '대한민국의 수도는 어디인가요?', answer: '대한민국의 수도는 서울입니다.' };
  const id = itemId(fields.instruction, fields.answer);
  it('only submitted responses are decisions; without per-response status a pending record has none', () => {
    const server = [{ id, fields, responses: [
      { user_id: 'a', status: 'submitted', values: { decision: { value: 'accept' } } },
      { user_id: 'b', status: 'draft', values: { decision: { value: 'reject' } } },
      { user_id: 'c', status: 'discarded', values: { decision: { value: 'reject' } } },
    ] }];
    expect(parseArgillaExport(server, 'x.json').map((d) => [d.reviewer, d.decision])).toEqual([['a', 'accept']]);
    // Record.to_dict() writes responses as {value, user_id} only (records/_resource.py RecordResponses.to_dict)
    const toDict = (status: string) => [{ id, fields, status, responses: { decision: [{ value: 'reject', user_id: '민지' }] } }];
    expect(parseArgillaExport(toDict('pending'), 'x.json')).toEqual([]);
    expect(parseArgillaExport(toDict('completed'), 'x.json').map((d) => d.decision)).toEqual(['reject']);
  });
});

describe("Argilla's Hugging Face export (Parquet)", () => {
  // argilla src/argilla/records/_io/_generic.py GenericIO._record_to_dict(flatten=True), what
  // dataset.to_hub() writes: fields and metadata as columns, "<question>.responses",
  // "<question>.responses.users", "<question>.responses.status", "<question>.suggestion(.score|.agent)".
  it('imports the flattened records from a Parquet file or a data/ shard folder', async () => {
    const dir = await tempDir();
    const input = await writeJsonl(join(dir, 'scored.jsonl'), scoredRows());
    const f = scoredRows()[0]!;
    const g = scoredRows()[1]!;
    const rows = [
      {
        id: itemId(f.prompt as string, f.answer as string), status: 'completed', _server_id: '0b1c', instruction: f.prompt, answer: f.answer, judge_score: 9,
        'decision.responses': ['accept', 'reject'], 'decision.responses.users': ['u-1', 'u-2'], 'decision.responses.status': ['submitted', 'draft'],
        'rating.responses': [5], 'rating.responses.users': ['u-1'], 'rating.responses.status': ['submitted'],
        'decision.suggestion': 'accept', 'decision.suggestion.score': 0.89, 'decision.suggestion.agent': 'heuristic-v1',
      },
      {
        id: itemId(g.prompt as string, g.answer as string), status: 'completed', _server_id: '0b1d', instruction: g.prompt, answer: g.answer, judge_score: 8,
        'decision.responses': ['reject'], 'decision.responses.users': ['u-1'], 'decision.responses.status': ['submitted'],
        'rating.responses': [2], 'rating.responses.users': ['u-1'], 'rating.responses.status': ['submitted'],
        'decision.suggestion': 'accept', 'decision.suggestion.score': 0.78, 'decision.suggestion.agent': 'heuristic-v1',
      },
    ];
    await writeRows(join(dir, 'hub', 'data', 'train-00000-of-00001.parquet'), rows);
    for (const decisions of [join(dir, 'hub', 'data', 'train-00000-of-00001.parquet'), join(dir, 'hub')]) {
      const r = await importReview({ decisions, input, output: join(dir, 'out.jsonl') });
      expect(r.sources[0]).toMatchObject({ format: 'argilla', decisions: 2 });
      expect(r.counts).toMatchObject({ accepted: 1, rejected: 1 });
    }
  });
});
