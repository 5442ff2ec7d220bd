import { describe, expect, it } from 'vitest';
import type { Row } from '../../src/data/io.ts';
import { contentId } from '../../src/curate/rows.ts';
import type { Decision, Stage } from '../../src/curate/stage.ts';
import { normalizeStage } from '../../src/curate/stages/normalize.ts';
import { checkRules, looksTruncated, rulesSchema, rulesStage, type RulesParams } from '../../src/curate/stages/rules.ts';
import { piiStage } from '../../src/curate/stages/pii.ts';
import { dedupStage } from '../../src/curate/stages/dedup.ts';
import { bucketOf, createPerplexityStage, percentile, perplexityStage } from '../../src/curate/stages/perplexity.ts';
import { validateConfig } from '../../src/config/schema.ts';
import { getStageFactory } from '../../src/curate/registry.ts';

const where = 'test.yaml: stages[0]';
const ctx = { workDir: '/tmp', log: () => {} };

function row(prompt: string, answer: string, extra: Row = {}): Row {
  return { id: contentId(prompt, answer), prompt, answer, messages: [{ role: 'user', content: prompt }, { role: 'assistant', content: answer }], ...extra };
}

async function run(stage: Stage, rows: Row[]): Promise<Decision[]> {
  const out: Decision[] = [];
  async function* src() {
    yield* rows;
  }
  for await (const d of stage.process(src(), ctx)) out.push(d);
  return out;
}

const GOOD = '김치찌개는 잘 익은 김치와 돼지고기를 볶은 뒤 물을 붓고 20분 정도 끓입니다. 두부와 대파를 넣고 5분 더 끓이면 완성입니다.';

describe('normalize stage', () => {
  it('cleans every text column, nested message contents included, and keeps every row', async () => {
    const r = row('김치찌개\u200B 레시피'.normalize('NFD'), `${GOOD}   \r\n\r\n\r\n\r\n끝.`, { instruction: '김치찌개\u200B 레시피' });
    const [d] = await run(normalizeStage({}, where), [r]);
    expect(d.keep).toBe(true);
    expect(d.row.prompt).toBe('김치찌개 레시피');
    expect(d.row.instruction).toBe('김치찌개 레시피');
    expect(d.row.answer).toBe(`${GOOD}\n\n끝.`);
    expect((d.row.messages as { role: string; content: string }[])[0]).toEqual({ role: 'user', content: '김치찌개 레시피' });
    expect(d.row.id).toBe(r.id);
  });

  it('rejects unknown params with the key path and a hint', () => {
    expect(() => normalizeStage({ max_blank_line: 2 }, where)).toThrow("test.yaml: stages[0]: unknown key 'params.max_blank_line' (did you mean 'params.max_blank_lines'?)");
  });
});

describe('rules stage', () => {
  const p = validateConfig<RulesParams>(rulesSchema, {}, 'defaults');
  const chars = (s: string) => Array.from(s).length;
  const check = (answer: string, prompt = '김치찌개 끓이는 법을 알려주세요.', params: Partial<RulesParams> = {}) =>
    checkRules({ ...p, ...params }, prompt, answer, chars);

  it('keeps a good Korean answer, including one with a code block', () => {
    expect(check(GOOD)).toBeNull();
    expect(check('리스트를 뒤집으려면 슬라이싱을 쓰면 됩니다.\n```python\nfor x in xs:\n    print(x)\n    print(x)\n    print(x)\n```')).toBeNull();
  });

  it.each([
    ['', 'empty_answer'],
    ['네.', 'too_short'],
    ['AI 언어 모델로서 저는 요리를 해 본 경험이 없어서 레시피를 알려드리기 어렵습니다.', 'refusal'],
    ['김치찌개는 먼저 돼지고기를 볶은 후 김치를 넣고 充分히 볶아야 합니다. 그러면 味道가 非常 깊어집니다.', 'code_switch'],
    ['김치찌개는 とても おいしい です. 돼지고기를 넣고 끓이세요 ね.', 'code_switch'],
    ['Kimchi stew is made by frying kimchi and pork, then simmering with water for twenty minutes.', 'low_hangul'],
    ['맛있습니다. 맛있습니다. 맛있습니다. 맛있습니다. 맛있습니다. 맛있습니다. 맛있습니다.', 'repetition'],
    ['정말 맛있어요 ㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋ', 'repetition'],
    ['김치와 돼지고기를 볶은 뒤 물을 붓고 끓입니다. 그리고', 'truncated'],
  ])('rejects %j as %s', (answer, code) => {
    expect(check(answer)?.split(':')[0]).toBe(code);
  });

  it('checks the prompt Hangul ratio only when asked', () => {
    expect(check(GOOD, 'How do I cook kimchi stew?')).toBeNull();
    expect(check(GOOD, 'How do I cook kimchi stew?', { min_prompt_hangul_ratio: 0.5 })?.split(':')[0]).toBe('low_prompt_hangul');
  });

  it('applies token limits with the given counter, and they are off by default', () => {
    expect(check(GOOD, undefined, { max_answer_tokens: 10 })?.split(':')[0]).toBe('too_many_tokens');
    expect(check(GOOD, undefined, { min_answer_tokens: 1000 })?.split(':')[0]).toBe('too_few_tokens');
  });

  it('looksTruncated spots unclosed code blocks and dangling endings', () => {
    expect(looksTruncated('예시는 다음과 같습니다.\n```python\nprint(1)')).toBe('unclosed code block');
    expect(looksTruncated('재료는 김치, 돼지고기,')).toMatch(/ends with ','/);
    expect(looksTruncated(GOOD)).toBeNull();
  });

  it('as a stage, streams a decision per row with the reason', async () => {
    const ds = await run(rulesStage({}, where), [row('질문', GOOD), row('질문', '네.')]);
    expect(ds.map((d) => d.keep)).toEqual([true, false]);
    expect(ds[1].reason).toBe('too_short: answer 2 chars < 10');
  });
});

describe('pii stage', () => {
  const answer = '담당자 이메일은 minsu.kim@example.com, 휴대전화는 010-1234-5678입니다.';

  it('mask mode replaces PII in every text column and keeps the row', async () => {
    const r = row('연락처 알려줘', answer, { output: answer });
    const [d] = await run(piiStage({ mode: 'mask' }, where), [r]);
    expect(d.keep).toBe(true);
    expect(d.row.answer).toBe('담당자 이메일은 [EMAIL], 휴대전화는 [PHONE]입니다.');
    expect(d.row.output).toBe(d.row.answer);
    expect(JSON.stringify(d.row)).not.toContain('010-1234-5678');
    expect(d.row.pii_types).toEqual(['EMAIL', 'PHONE']);
  });

  it('drop mode rejects rows with PII and keeps the others untouched', async () => {
    const ds = await run(piiStage({ mode: 'drop' }, where), [row('연락처', answer), row('요리', GOOD)]);
    expect(ds.map((d) => d.keep)).toEqual([false, true]);
    expect(ds[0].reason).toBe('pii: EMAIL, PHONE');
    expect(ds[1].row.pii_types).toEqual([]);
  });

  it('rejects an unknown PII type in params', () => {
    expect(() => piiStage({ types: ['EMAIL', 'PASSPORT'] }, where)).toThrow(/unknown type 'PASSPORT'/);
  });
});

describe('dedup stage', () => {
  const a = row('김치찌개 끓이는 법을 알려주세요.', GOOD);
  const exact = row('김치찌개 끓이는 법을 알려주세요!', GOOD.replace(/\./g, '!'));
  const near = row('혹시 김치찌개 끓이는 법을 알려주세요.', `네, ${GOOD} 도움이 되셨길 바랍니다.`);
  const other = row('광합성이란?', '광합성은 식물이 빛에너지를 이용해 이산화탄소와 물로 포도당을 만들고 산소를 내보내는 과정입니다.');

  it('keeps the first of each cluster and records dup_cluster on every row', async () => {
    const ds = await run(dedupStage({}, where), [a, exact, near, other]);
    expect(ds.map((d) => d.keep)).toEqual([true, false, false, true]);
    expect(ds[1].reason).toMatch(/^exact_dup: same text as /);
    expect(ds[2].reason).toMatch(/^near_dup: MinHash LSH match with /);
    expect(ds.map((d) => d.row.dup_cluster)).toEqual([a.id, a.id, a.id, other.id]);
  });

  it('compares only the configured field', async () => {
    const samePrompt = row(a.prompt as string, other.answer as string);
    expect((await run(dedupStage({ field: 'answer' }, where), [a, samePrompt])).map((d) => d.keep)).toEqual([true, true]);
    expect((await run(dedupStage({ field: 'prompt' }, where), [a, samePrompt])).map((d) => d.keep)).toEqual([true, false]);
  });

  it('keeps short answers comparable instead of skipping them', async () => {
    const ds = await run(dedupStage({ field: 'answer' }, where), [row('질문1', '네'), row('질문2', '네!'), row('질문3', '아니요')]);
    expect(ds.map((d) => d.keep)).toEqual([true, false, true]);
  });

  it('near dedup can be turned off', async () => {
    expect((await run(dedupStage({ near: false }, where), [a, near])).map((d) => d.keep)).toEqual([true, true]);
  });
});

describe('perplexity stage', () => {
  // Deterministic fake model: longer answers are "more fluent" (higher mean log-prob).
  const fake = async (texts: string[]) => texts.map((t) => -10 / Math.max(1, Array.from(t).length));
  const rows = Array.from({ length: 10 }, (_, i) => row(`질문 ${i}`, '가'.repeat(i + 1)));

  it('percentile interpolates like numpy and buckets by cut points', () => {
    expect(percentile([1, 2, 3, 4], 50)).toBe(2.5);
    expect(percentile([1, 2, 3, 4], 0)).toBe(1);
    expect(bucketOf(1, [2, 3])).toBe('head');
    expect(bucketOf(2.5, [2, 3])).toBe('middle');
    expect(bucketOf(4, [2, 3])).toBe('tail');
  });

  it('keeps head and middle buckets by default and records perplexity and bucket', async () => {
    const ds = await run(createPerplexityStage({}, where, fake), rows);
    expect(ds).toHaveLength(10);
    // ppl = exp(10 / len): the 3 shortest answers are the highest-perplexity tail (above p60).
    expect(ds.map((d) => d.row.ppl_bucket)).toEqual(['tail', 'tail', 'tail', 'tail', 'middle', 'middle', 'middle', 'head', 'head', 'head']);
    expect(ds.filter((d) => !d.keep).map((d) => d.row.answer)).toEqual(['가', '가가', '가가가', '가가가가']);
    expect(ds[0].reason).toMatch(/^perplexity_tail: perplexity 22026/);
    expect(ds[9].row.perplexity).toBeCloseTo(Math.exp(1), 6);
  });

  it('keeps only the configured buckets and batches the scorer calls', async () => {
    const calls: number[] = [];
    const spy = async (t: string[]) => {
      calls.push(t.length);
      return fake(t);
    };
    const ds = await run(createPerplexityStage({ keep: 'head', batch_size: 4 }, where, spy), rows);
    expect(ds.filter((d) => d.keep)).toHaveLength(3);
    expect(calls).toEqual([4, 4, 2]);
  });

  it('requires a model dir when built from the config, and validates params', () => {
    expect(() => perplexityStage({}, where)).toThrow("test.yaml: stages[0]: missing required key 'params.model'");
    expect(() => createPerplexityStage({ keep: ['top'] }, where, fake)).toThrow(/unknown bucket 'top'/);
    expect(() => createPerplexityStage({ percentiles: [60, 30] }, where, fake)).toThrow(/two ascending percentiles/);
  });
});

describe('registry', () => {
  it('names the known types when a stage type is unknown', () => {
    expect(() => getStageFactory('dedupe', 'c.yaml: stages[2]')).toThrow(/c\.yaml: stages\[2\]: unknown stage type 'dedupe' \(expected one of .*dedup/);
  });
});

describe('curation config errors (in process)', () => {
  it('name the key, the bound, and suggest close keys', async () => {
    const { loadCurateConfig, runCuration } = await import('../../src/curate/pipeline.ts');
    await expect(loadCurateConfig({ inputs: [{ path: 'x.jsonl' }], outputdir: 'x' })).rejects.toThrow("<config>: unknown key 'outputdir' (did you mean 'output_dir'?)");
    await expect(loadCurateConfig({ inputs: [] })).rejects.toThrow("<config>: key 'inputs' must list at least one dataset");
    await expect(
      runCuration({ inputs: [{ path: 'x.jsonl' }], output_dir: '/tmp/never', stages: [{ type: 'rules', params: { max_code_switch_rate: 2 } }] }, { log: () => {} }),
    ).rejects.toThrow("<config>: stages[0]: key 'params.max_code_switch_rate' must be <= 1, got 2");
  });
});

describe('row rewriting leaves bookkeeping columns alone', () => {
  it('pii masking does not touch id-like columns that look like phone numbers', async () => {
    const r = row('연락처', '전화는 010-1234-5678입니다. 언제든 편하게 연락 주세요.', { source_id: '01012345678', gt_issue: 'pii' });
    const [d] = await run(piiStage({}, where), [r]);
    expect(d.row.answer).toBe('전화는 [PHONE]입니다. 언제든 편하게 연락 주세요.');
    expect(d.row.source_id).toBe('01012345678');
    expect(d.row.id).toBe(r.id);
  });
});

describe('class-like columns of published datasets pass through byte for byte', () => {
  it('normalize rewrites the text but not label, category or split', async () => {
    const nfd = (t: string) => t.normalize('NFD');
    const r = row(nfd('주말에 뭐 할까?'), nfd('가까운 공원으로 산책을 가 보세요. 날씨가 좋으면 자전거도 좋아요.'), { label: 0, category: nfd('일상'), split: nfd('학습'), score: 4.5 });
    const [d] = await run(normalizeStage({}, where), [r]);
    expect(d.row.prompt).toBe('주말에 뭐 할까?');
    expect(d.row.category).toBe(nfd('일상'));
    expect(d.row.split).toBe(nfd('학습'));
    expect([d.row.label, d.row.score]).toEqual([0, 4.5]);
  });
});

describe('ingest', () => {
  it('rejects rows that fit no format with the row named, and fails when no row fits', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { runCuration } = await import('../../src/curate/pipeline.ts');
    const { readAllRows } = await import('../../src/data/io.ts');
    const dir = mkdtempSync(join(tmpdir(), 'ko-align-ingest-'));
    const mixed = join(dir, 'mixed.jsonl');
    writeFileSync(mixed, `${JSON.stringify({ instruction: '인사해 줘', output: '안녕하세요, 만나서 반갑습니다.' })}\n${JSON.stringify({ 질문: '형식이 없는 행' })}\n`);
    const m = await runCuration({ inputs: [{ path: mixed }], output_dir: join(dir, 'out') }, { log: () => {} });
    expect(m.stages[0]).toMatchObject({ in: 2, kept: 1, rejected: 1, reasons: { invalid_row: 1 } });
    const [bad] = await readAllRows(join(dir, 'out', 'rejected.parquet'));
    expect(bad.reason).toMatch(new RegExp(`^invalid_row: .*mixed\\.jsonl: row 2: row fits no known format`));
    const allBad = join(dir, 'bad.jsonl');
    writeFileSync(allBad, `${JSON.stringify({ 질문: '형식이 없는 행' })}\n`);
    await expect(runCuration({ inputs: [{ path: allBad }], output_dir: join(dir, 'out2') }, { log: () => {} })).rejects.toThrow(/bad\.jsonl: row 1: row fits no known format/);
  });
});
