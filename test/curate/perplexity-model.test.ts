/**
 * The perplexity stage wired to a real model directory (a tiny random Llama written by
 * initModelDir): the stage's scores equal the mean per-token log-prob computed here directly
 * from the model's logits with a plain log-softmax, and rows get buckets.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initModelDir } from '../../src/model/init.ts';
import { loadModel } from '../../src/model/checkpoint.ts';
import { loadTokenizer } from '../../src/model/tokenizer.ts';
import { makeScoreFn } from '../../src/curate/model-score.ts';
import { perplexityStage } from '../../src/curate/stages/perplexity.ts';
import { rulesStage } from '../../src/curate/stages/rules.ts';
import type { Decision } from '../../src/curate/stage.ts';

const dir = join(mkdtempSync(join(tmpdir(), 'ko-align-ppl-')), 'tiny');
const texts = ['김치찌개는 돼지고기와 김치로 끓입니다.', '광합성은 빛으로 포도당을 만드는 과정입니다.', '네.', '서울은 대한민국의 수도입니다. 인구가 많습니다.'];

beforeAll(async () => {
  await initModelDir({ out: dir, arch: 'llama', vocab: 300, hidden: 32, layers: 1, heads: 2, kvHeads: 1, intermediate: 64, seed: 3, corpus: texts.concat(texts) });
});

describe('perplexity stage with a model dir', () => {
  it('makeScoreFn returns the mean per-token log-prob of each text', async () => {
    const score = await makeScoreFn(dir, { maxTokens: 512, backend: 'cpu', log: () => {} });
    const got = await score(texts);
    const tok = await loadTokenizer(dir);
    const model = await loadModel(dir, { trainable: false });
    for (const [i, t] of texts.entries()) {
      const ids = tok.encode(t);
      const want = tf.tidy(() => {
        const logits = model.forward(tf.tensor2d([ids], [1, ids.length], 'int32')) as tf.Tensor3D;
        const lsm = tf.logSoftmax(logits.squeeze([0]) as tf.Tensor2D).arraySync() as number[][];
        let s = 0;
        for (let k = 1; k < ids.length; k++) s += lsm[k - 1][ids[k]];
        return s / (ids.length - 1);
      });
      expect(got[i]).toBeCloseTo(want, 4);
    }
  });

  it('the stage built from params scores, buckets and keeps head + middle', async () => {
    const stage = perplexityStage({ model: dir, backend: 'cpu', percentiles: [30, 60] }, 'test: stages[0]');
    const rows = texts.map((t, i) => ({ id: `r${i}`, prompt: '질문', answer: t, messages: [] }));
    const out: Decision[] = [];
    for await (const d of stage.process((async function* () { yield* rows; })(), { workDir: dir, log: () => {} })) out.push(d);
    expect(out).toHaveLength(4);
    expect(out.every((d) => typeof d.row.perplexity === 'number' && (d.row.perplexity as number) > 1)).toBe(true);
    // 4 rows: p30 lies between the 1st and 2nd lowest perplexity, p60 between the 2nd and 3rd.
    expect(out.map((d) => d.row.ppl_bucket).sort()).toEqual(['head', 'middle', 'tail', 'tail']);
    expect(out.filter((d) => !d.keep).map((d) => d.row.ppl_bucket)).toEqual(['tail', 'tail']);
    const byPpl = [...out].sort((a, b) => (a.row.perplexity as number) - (b.row.perplexity as number));
    expect(byPpl.map((d) => d.row.ppl_bucket)).toEqual(['head', 'middle', 'tail', 'tail']);
  });

  it('the rules stage counts tokens with the model dir tokenizer when one is given', async () => {
    const tok = await loadTokenizer(dir);
    const n = tok.encode(texts[0], { addSpecialTokens: false }).length;
    expect(n).not.toBe(Array.from(texts[0]).length);
    const run = async (params: Record<string, unknown>) => {
      const out: Decision[] = [];
      const rows = [{ id: 'a', prompt: '질문입니다', answer: texts[0], messages: [] }];
      for await (const d of rulesStage(params, 'test: stages[1]').process((async function* () { yield* rows; })(), { workDir: dir, log: () => {} })) out.push(d);
      return out[0];
    };
    expect((await run({ tokenizer: dir, max_answer_tokens: n })).keep).toBe(true);
    const d = await run({ tokenizer: dir, max_answer_tokens: n - 1 });
    expect(d.reason).toBe(`too_many_tokens: answer ${n} tokens > ${n - 1}`);
  });
});
