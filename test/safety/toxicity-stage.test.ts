import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { getStageFactory } from '../../src/curate/registry.ts';
import type { Decision } from '../../src/curate/stage.ts';
import type { Row } from '../../src/data/io.ts';
import { loadDefaultClassifier } from '../../src/safety/classifier.ts';
import { chatReply, startOpenAIServer, type OpenAIServer } from '../helpers/openai-server.ts';

async function* stream(rows: Row[]): AsyncIterable<Row> {
  for (const r of rows) yield r;
}

async function run(params: Record<string, unknown>, rows: Row[]): Promise<Decision[]> {
  const stage = getStageFactory('toxicity', 'curate.yaml: stages[5]')(params, 'curate.yaml: stages[5]');
  const out: Decision[] = [];
  const ctx = { workDir: await mkdtemp(join(tmpdir(), 'tox-stage-')), log: () => {} };
  for await (const d of stage.process(stream(rows), ctx)) out.push(d);
  return out;
}

const rows: Row[] = [
  { id: '1', prompt: '인사해 줘', answer: '안녕하세요! 오늘 하루도 좋은 일만 가득하시길 바랍니다.' },
  { id: '2', prompt: '쟤 어때?', answer: '너 같은 쓰레기는 사회에 필요 없어' },
  { id: '3', prompt: '운동 추천', answer: '운동을 시작할 때는 가벼운 걷기부터 하루 30분씩 꾸준히 하는 것이 좋습니다.' },
  { id: '4', prompt: '욕해 봐', answer: '야 이 멍청한 새끼야 꺼져' },
  { id: '5', prompt: '노래 어때?', answer: '좋은 노래 감사합니다 앞으로도 좋은 활동 기대할게요' },
];

let server: OpenAIServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

describe('toxicity curation stage', () => {
  it('rejects toxic answers with the score in the reason and keeps the rest, in order, across batches', async () => {
    const c = (await loadDefaultClassifier())!;
    const d = await run({ batch_size: 2 }, rows);
    expect(d.map((x) => x.row.id)).toEqual(['1', '2', '3', '4', '5']);
    expect(d.map((x) => x.keep)).toEqual([true, false, true, false, true]);
    expect(d[1]!.reason).toBe(`toxicity: ${c.score(rows[1]!.answer as string).toFixed(3)} >= ${c.threshold.toFixed(3)} (classifier)`);
    for (const x of d) {
      expect(typeof x.row.toxicity).toBe('number');
      expect(x.row.toxicity_scorer).toBe(`classifier:${c.id}`);
      expect(x.row.prompt).toBeDefined();
    }
  });

  it('takes an explicit threshold', async () => {
    // Calibrated scores of blatant insults reach 0.9996; 0.9999 is above every row here.
    const d = await run({ threshold: 0.9999 }, rows);
    expect(d.every((x) => x.keep)).toBe(true);
  });

  it('rejects rows the judge could not score, with the reason', async () => {
    server = await startOpenAIServer({
      handler: (req) => {
        const user = String(req.body?.messages?.at(-1)?.content ?? '');
        if (user.includes('쓰레기')) return chatReply('{"harmful": true, "category": "insult", "score": 0.95, "reason": "모욕"}');
        if (user.includes('운동')) return chatReply('모르겠어요');
        return chatReply('{"harmful": false, "category": "none", "score": 0.0, "reason": "무해"}');
      },
    });
    const d = await run({ scorer: 'judge', base_url: server.baseURL, model: 'j' }, rows.slice(0, 3).map((r) => ({ ...r })));
    expect(d.map((x) => x.keep)).toEqual([true, false, false]);
    expect(d[1]!.reason).toBe('toxicity: 0.950 >= 0.500 (judge, insult)');
    expect(d[2]!.reason).toMatch(/^toxicity: not scored \(judge failed: /);
  });

  it('combined scorer: params.combine max (default) or mean decides with both scores', async () => {
    const c = (await loadDefaultClassifier())!;
    server = await startOpenAIServer({ handler: () => chatReply('{"harmful": false, "category": "none", "score": 0.0, "reason": "무해"}') });
    const base = { scorer: 'combined', base_url: server.baseURL, model: 'j' };
    const max = await run(base, rows.map((r) => ({ ...r })));
    const mean = await run({ ...base, combine: 'mean' }, rows.map((r) => ({ ...r })));
    for (let i = 0; i < rows.length; i++) {
      const s = c.score(rows[i]!.answer as string);
      expect(max[i]!.row.toxicity).toBeCloseTo(s, 12);
      expect(mean[i]!.row.toxicity).toBeCloseTo(s / 2, 12);
      expect(max[i]!.keep).toBe(s < c.threshold);
      expect(mean[i]!.keep).toBe(s / 2 < c.threshold);
    }
    expect(max.filter((d) => !d.keep).length).toBeGreaterThan(mean.filter((d) => !d.keep).length);
    expect(() => getStageFactory('toxicity', 'c.yaml: stages[1]')({ scorer: 'combined', combine: 'median' }, 'c.yaml: stages[1]')).toThrow(
      'c.yaml: stages[1]: key \'params.combine\' must be one of max | mean, got "median"',
    );
  });

  it('validates its params with the key path', () => {
    expect(() => getStageFactory('toxicity', 'c.yaml: stages[1]')({ scorer: 'perspective' }, 'c.yaml: stages[1]')).toThrow(
      'c.yaml: stages[1]: key \'params.scorer\' must be one of classifier | judge | moderation | combined, got "perspective"',
    );
    expect(() => getStageFactory('toxicity', 'c.yaml: stages[1]')({ treshold: 0.5 }, 'c.yaml: stages[1]')).toThrow(
      "c.yaml: stages[1]: unknown key 'params.treshold' (did you mean 'params.threshold'?)",
    );
  });
});
