import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { answerBaseOf, detectLayout, detectTask, evaluateMc, fewShotPrefix, toMcItem, type ContinuationScorer } from '../../src/eval/mc.ts';
import { mcItemsOf, evalMcFile } from '../../src/eval/score.ts';
import { UserError } from '../../src/util/errors.ts';
import { repoRoot } from '../helpers/cli.ts';
import { errorOf } from '../helpers/errors.ts';

const PUBLISHED = join(repoRoot, 'test', 'fixtures', 'data', 'published');
const fixture = (name: string) => join(PUBLISHED, name);
const rowsOf = (name: string) => readFileSync(fixture(name), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

const kmmlu = { question: '대한민국의 수도는?', A: '부산', B: '서울', C: '대구', D: '광주', answer: 2 };

describe('multiple-choice evaluation', () => {
  it('detects KMMLU, KorMedMCQA and KoBEST layouts from their columns', () => {
    expect(detectTask(kmmlu, 'x')).toBe('kmmlu');
    expect(detectTask({ ...kmmlu, E: '인천' }, 'x')).toBe('kormedmcqa');
    expect(detectTask({ paragraph: '문단', question: '질문', label: 1 }, 'x')).toBe('kobest_boolq');
    expect(detectTask({ premise: '비가 왔다.', question: '결과', alternative_1: '우산을 썼다', alternative_2: '햇볕이 났다', label: 0 }, 'x')).toBe('kobest_copa');
    expect(detectTask({ sentence: '정말 좋았다', label: 1 }, 'x')).toBe('kobest_sentineg');
    expect(() => detectTask({ 질문: '?' }, 'data.jsonl:3')).toThrow(/data.jsonl:3: cannot tell the task/);
  });

  it('maps the 1-indexed KMMLU answer to the option letter continuations', () => {
    const item = toMcItem(kmmlu, 'kmmlu', 'x');
    expect(item.gold).toBe(1);
    expect(item.choices).toEqual([' A', ' B', ' C', ' D']);
    expect(item.context).toBe('대한민국의 수도는?\nA. 부산\nB. 서울\nC. 대구\nD. 광주\n정답:');
    expect(() => toMcItem({ ...kmmlu, answer: 5 }, 'kmmlu', 'kmmlu.jsonl:7')).toThrow(/kmmlu.jsonl:7: answer must be 1..4/);
  });

  it('uses the COPA connector that matches the question type', () => {
    expect(toMcItem({ premise: '비가 왔다.', question: '결과', alternative_1: '우산을 썼다', alternative_2: '해가 떴다', label: 0 }, 'kobest_copa', 'x').context).toBe('비가 왔다 그래서');
    expect(toMcItem({ premise: '바닥이 젖었다.', question: '원인', alternative_1: '비가 왔다', alternative_2: '눈이 왔다', label: 0 }, 'kobest_copa', 'x').context).toBe('바닥이 젖었다 왜냐하면');
  });

  it('scores acc by summed log-prob and acc_norm by log-prob per character', async () => {
    const items = [
      { context: 'q1', choices: [' 짧', ' 아주 긴 답'], gold: 1 },
      { context: 'q2', choices: [' 가', ' 나'], gold: 0 },
    ];
    // The long option has the lower sum but the higher per-character log-prob.
    const table: Record<string, number> = { 'q1| 짧': -2, 'q1| 아주 긴 답': -3, 'q2| 가': -1, 'q2| 나': -4 };
    const scorer: ContinuationScorer = async (pairs) => pairs.map((p) => table[`${p.context}| ${p.continuation.trim()}`]);
    const r = await evaluateMc(items, '', scorer);
    expect(r.acc).toBe(0.5);
    expect(r.acc_norm).toBe(1);
  });

  it('builds a reproducible few-shot prefix with solved examples', () => {
    const dev = [0, 1, 2, 3].map((i) => toMcItem({ ...kmmlu, question: `문제 ${i}` }, 'kmmlu', 'x'));
    const a = fewShotPrefix(dev, 2, 1);
    expect(a).toBe(fewShotPrefix(dev, 2, 1));
    expect(a.split('정답: B').length - 1).toBe(2);
    expect(() => fewShotPrefix(dev, 5, 1)).toThrow(/--shots 5 needs at least 5/);
  });
});

describe('published multiple-choice layouts', () => {
  it('CLIcK (EunsuKim/CLIcK: id, paragraph, question, choices, answer = the choice text), 4 or 5 options', () => {
    // Columns as lm-evaluation-harness's click task reads them: doc["choices"].index(doc["answer"]).
    const rows = rowsOf('click.jsonl');
    const layout = detectLayout(rows, 'click.jsonl');
    expect(layout.task).toBe('generic');
    expect(layout.reason).toBe('generic (columns question, choices (a list), answer, paragraph (passage); 4-5 options; answer is the choice text)');
    const { items } = mcItemsOf(rows, 'click.jsonl');
    expect(items.map((it) => it.gold)).toEqual([0, 1, 1]);
    expect(items[1].choices).toHaveLength(5);
    expect(items[1].choices[1]).toBe(' 서로 일을 도와주며 품을 갚는 풍습');
    expect(items[1].context.startsWith('봄이 오면 마을 사람들은')).toBe(true);
    expect(items[2].context).toBe('훈민정음을 반포한 왕은?\nA. 태조\nB. 세종\nC. 정조\nD. 고종\n정답:');
  });

  it('the generic shape with a 0-based index and a context passage', () => {
    const rows = rowsOf('mc-index0.jsonl');
    const layout = detectLayout(rows, 'mc.jsonl');
    expect(layout.reason).toBe('generic (columns question, choices (a list), answer, context (passage); 3-5 options; answer is a 0-based index)');
    const { items } = mcItemsOf(rows, 'mc.jsonl');
    expect(items.map((it) => it.choices[it.gold])).toEqual([' 추수감사절', ' 사과', ' 한강']);
    expect(items[1].context).toBe('민수는 시장에서 사과 세 개를 샀다.\n윗글에서 민수가 산 과일은?\nA. 사과\nB. 배\nC. 감\nD. 귤\nE. 포도\n정답:');
  });

  it('a 1-based index is told from a row whose answer is the last option; --answer-base overrides', () => {
    const rows = rowsOf('mc-index1.jsonl');
    expect(answerBaseOf(rows, 'x')).toEqual({ base: 1, told: true });
    expect(detectLayout(rows, 'x').reason).toBe('generic (columns question, options (a list), answer; 4 options; answer is a 1-based index)');
    expect(mcItemsOf(rows, 'x').items.map((it) => it.choices[it.gold])).toEqual([' 한라산', ' 원', ' 태극']);
    expect(detectLayout(rows, 'x', 'auto', 0).reason).toContain('answer is a 0-based index (--answer-base)');
    expect(() => mcItemsOf(rows, 'x', 'auto', 0)).toThrow("x: row 2: 'answer' must be 0..3 (0-based index over 4 options), got 4");
  });

  it('says when no row tells the base, and refuses a file that mixes both', () => {
    const untold = [{ question: '1+1은?', choices: ['1', '3', '2', '4'], answer: 2 }];
    // No row answers 0 or 4 (= its number of choices): the base is not told, the harness's 0 is used.
    expect(detectLayout(untold, 'x').reason).toContain('answer is a 0-based index (no row has 0 or the last index + 1; 0-based assumed, pass --answer-base 1 if not)');
    expect(mcItemsOf(untold, 'x').items[0].gold).toBe(2);
    const mixed = [
      { question: '가', choices: ['ㄱ', 'ㄴ'], answer: 0 },
      { question: '나', choices: ['ㄱ', 'ㄴ'], answer: 2 },
    ];
    expect(() => answerBaseOf(mixed, 'mixed.jsonl')).toThrow('mixed.jsonl: answers are neither all 0-based nor all 1-based (row 1 has 0, row 2 has 2 of 2 choices)');
    expect(() => toMcItem({ question: '가', choices: ['ㄱ', 'ㄴ'], answer: 5 }, 'generic', 'mc.jsonl: row 9')).toThrow(
      "mc.jsonl: row 9: 'answer' must be 0..1 (0-based index over 2 options), got 5",
    );
    expect(() => toMcItem({ question: '가', choices: ['ㄱ', 'ㄴ'], answer: '다' }, 'generic', 'mc.jsonl: row 2')).toThrow(
      "mc.jsonl: row 2: 'answer' must be one of the choices (text), a letter A-B, or an index, got \"다\"",
    );
  });

  it('HAE-RAE Bench (HAERAE-HUB/HAE_RAE_BENCH: query with (A)..(E) inside, answer "(A)")', () => {
    // lm-evaluation-harness haerae: doc_to_text "{{query}}", doc_to_choice ["(A)", ..., "(E)"], doc_to_target "{{answer}}".
    const rows = rowsOf('haerae.jsonl');
    const { items, task, layout } = mcItemsOf(rows, 'haerae.jsonl');
    expect(task).toBe('haerae');
    expect(layout).toBe("haerae (columns query, answer as '(A)'..'(E)' (HAE-RAE Bench))");
    expect(items[0].choices).toEqual([' (A)', ' (B)', ' (C)', ' (D)', ' (E)']);
    expect(items.map((it) => it.gold)).toEqual([0, 1, 2]);
    // A query that lists four options is scored over four.
    expect(items[2].choices).toHaveLength(4);
  });

  it('KMMLU (HAERAE-HUB/KMMLU: question, answer 1-based, A-D, Category, Human Accuracy)', () => {
    const { items, layout } = mcItemsOf(rowsOf('kmmlu.jsonl'), 'kmmlu.jsonl');
    expect(layout).toBe('kmmlu (columns question, A-D, answer (1-indexed))');
    expect(items.map((it) => it.gold)).toEqual([1, 2]);
  });

  it('KoBEST (skt/kobest_v1): wic, copa and boolq as published', () => {
    const wic = mcItemsOf(rowsOf('kobest-wic.jsonl'), 'wic.jsonl');
    expect(wic.layout).toBe('kobest_wic (columns word, context_1, context_2, label)');
    // lm-evaluation-harness utils.wic_doc_to_text
    expect(wic.items[0].context).toBe('문장1: 배가 고파서 밥을 먹었다. 문장2: 배를 타고 섬에 갔다. 두 문장에서 배가 같은 뜻으로 쓰였나?');
    expect(wic.items.map((it) => it.gold)).toEqual([0, 1]);
    expect(mcItemsOf(rowsOf('kobest-copa.jsonl'), 'copa.jsonl').items[1]).toEqual({ context: '길이 젖어 있었다 왜냐하면', choices: [' 해가 쨍쨍했다.', ' 밤새 비가 왔다.'], gold: 1 });
    expect(mcItemsOf(rowsOf('kobest-boolq.jsonl'), 'boolq.jsonl').task).toBe('kobest_boolq');
    expect(() => toMcItem({ sentence: '좋다', label: 2 }, 'kobest_sentineg', 'sn.jsonl: row 1')).toThrow("sn.jsonl: row 1: 'label' must be 0 or 1, got 2");
  });

  it('a layout it cannot tell names the row, the columns and what it reads', () => {
    expect(() => detectLayout([{ 문제: '?', 보기: '가나다' }], 'odd.jsonl')).toThrow(
      /^odd\.jsonl: row 1: cannot tell the task from columns 문제, 보기; expected question \+ choices \[\.\.\.\] \+ answer \(generic\)/,
    );
  });

  it('evalMcFile says which layout --task auto detected before it loads the model', async () => {
    const lines: string[] = [];
    const err = await errorOf(evalMcFile({ model: join(PUBLISHED, 'no-such-model'), data: fixture('click.jsonl'), backend: 'cpu', log: (l) => lines.push(l) }));
    expect(lines).toEqual([`eval: ${fixture('click.jsonl')}: task generic (columns question, choices (a list), answer, paragraph (passage); 4-5 options; answer is the choice text)`]);
    expect(err).toBeInstanceOf(UserError);
  });
});
