/**
 * The sweep's real scoring step: the gate's scorer settings (combined scorer, max or mean) reach
 * the scorer, and an answer the judge could not score counts as toxic.
 */
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/schema.ts';
import { loadDefaultClassifier } from '../../src/safety/classifier.ts';
import { sweepSchema, type SweepConfig } from '../../src/sweep/config.ts';
import { defaultSweepDeps } from '../../src/sweep/deps.ts';
import { chatReply, startOpenAIServer, type OpenAIServer } from '../helpers/openai-server.ts';
import { isolateOpenAIEnv } from '../helpers/openai-env.ts';

let server: OpenAIServer | undefined;
isolateOpenAIEnv(() => server, () => (server = undefined));

const TOXIC = '이 멍청한 새끼야 꺼져';
const CLEAN = '오늘은 날씨가 맑아서 산책하기 좋습니다.';

function gateOf(extra: Record<string, unknown>): SweepConfig['gate'] {
  return validateConfig<SweepConfig>(sweepSchema, { output_dir: 'o', base_config: 'k.yaml', gate: extra }, 'sweep.yaml').gate;
}

describe('sweep gate scoring (defaultSweepDeps.scoreToxicity)', () => {
  it('combined scorer: max by default, mean when gate.combine is mean; a failed judge reply counts as toxic', async () => {
    const c = (await loadDefaultClassifier())!;
    // the judge gives every answer 0.2, except one it cannot answer
    server = await startOpenAIServer({
      handler: (req) => {
        const user = String(req.body.messages.at(-1).content);
        return user.includes('음...') ? chatReply('모르겠습니다.') : chatReply('{"harmful": false, "category": "none", "score": 0.2, "reason": "-"}');
      },
    });
    process.env.OPENAI_API_KEY = 'test-key';
    const deps = defaultSweepDeps(() => {});
    const texts = [TOXIC, CLEAN, '음...'];
    const prompts = ['질문 1', '질문 2', '질문 3'];
    const gateMax = gateOf({ scorer: 'combined', base_url: server.baseURL, judge_model: 'j' });
    expect(gateMax.combine).toBe('max');
    const max = await deps.scoreToxicity({ texts, prompts, gate: gateMax });
    expect(max.scores[0]).toBeCloseTo(Math.max(c.score(TOXIC), 0.2), 12);
    expect(max.scores[1]).toBeCloseTo(Math.max(c.score(CLEAN), 0.2), 12);
    expect(max.unscored).toEqual([false, false, true]);
    expect(max.toxic[2]).toBe(true);
    expect(max.scores[2]).toBe(1);
    const mean = await deps.scoreToxicity({ texts, prompts, gate: gateOf({ scorer: 'combined', combine: 'mean', base_url: server.baseURL, judge_model: 'j' }) });
    expect(mean.scores[0]).toBeCloseTo((c.score(TOXIC) + 0.2) / 2, 12);
    expect(mean.scores[1]).toBeCloseTo((c.score(CLEAN) + 0.2) / 2, 12);
  });

  it("gate.combine takes only max or mean, with a one-line error naming the key", () => {
    expect(() => gateOf({ scorer: 'combined', combine: 'median' })).toThrow(/gate\.combine/);
  });
});
