/**
 * Multiple-choice evaluation by log-likelihood (lm-evaluation-harness style): each option is a
 * continuation of the prompt; the prediction is the option with the highest summed log-prob
 * (acc) or the highest log-prob per character (acc_norm). Task layouts follow the Hugging Face
 * datasets as their authors publish them:
 *
 *   generic      question|query|prompt, choices|options: [...] (any number), answer|label|gold:
 *                the choice text, a letter (A / (A)), or a 0- or 1-based index; an optional
 *                passage in paragraph|context|passage (CLIcK, EunsuKim/CLIcK; many harness tasks)
 *   haerae       query (options inside as (A) ... (E)), answer "(A)".."(E)" (HAERAE-HUB/HAE_RAE_BENCH)
 *   kmmlu        question, A-D, answer 1-indexed (HAERAE-HUB/KMMLU)
 *   kormedmcqa   question, A-E, answer 1-indexed (sean0042/KorMedMCQA)
 *   kobest_*     boolq, copa, hellaswag, sentineg, wic (skt/kobest_v1)
 */
import type { Row } from '../data/io.ts';
import { UserError } from '../util/errors.ts';
import { seededRandom } from '../sweep/space.ts';

export type McTask = 'generic' | 'haerae' | 'kmmlu' | 'kormedmcqa' | 'kobest_boolq' | 'kobest_copa' | 'kobest_hellaswag' | 'kobest_sentineg' | 'kobest_wic';
export const MC_TASKS: readonly McTask[] = ['generic', 'haerae', 'kmmlu', 'kormedmcqa', 'kobest_boolq', 'kobest_copa', 'kobest_hellaswag', 'kobest_sentineg', 'kobest_wic'];

export interface McItem {
  /** The prompt the options continue (without few-shot examples). */
  context: string;
  /** Continuations, scored after the context. */
  choices: string[];
  /** Index of the correct choice. */
  gold: number;
}

/** How a generic row's numeric answer counts: 0 = the first choice is 0, 1 = it is 1. */
export type AnswerBase = 0 | 1;

export interface McOptions {
  /** Base of numeric answers in the generic layout (default 0, lm-evaluation-harness's convention). */
  answerBase?: AnswerBase;
}

/** Column aliases of the generic layout, first match wins. */
const QUESTION_KEYS = ['question', 'query', 'prompt'];
const CHOICES_KEYS = ['choices', 'options'];
const ANSWER_KEYS = ['answer', 'label', 'gold', 'answer_idx'];
const PASSAGE_KEYS = ['paragraph', 'context', 'passage'];
const LETTERS = 'ABCDEFGHIJ';
const HAERAE_ANSWER = /^\(?([A-E])\)?$/;

const present = (row: Row, k: string) => row[k] !== undefined && row[k] !== null;
const firstKey = (row: Row, keys: string[]) => keys.find((k) => present(row, k));
const choicesKey = (row: Row) => CHOICES_KEYS.find((k) => Array.isArray(row[k]));

/** The generic layout's columns in a row, or null when it is not that layout. */
function genericColumns(row: Row): { question: string; choices: string; answer: string; passage?: string } | null {
  const choices = choicesKey(row);
  const question = firstKey(row, QUESTION_KEYS);
  const answer = firstKey(row, ANSWER_KEYS);
  if (!choices || !question || !answer) return null;
  const passage = firstKey(row, PASSAGE_KEYS.filter((k) => k !== question));
  return { question, choices, answer, passage };
}

export interface McLayout {
  task: McTask;
  /** Base of numeric answers (generic layout only). */
  answerBase?: AnswerBase;
  /** One line: the layout, the columns it was told from, how the answer is read. */
  reason: string;
}

function detectOne(row: Row, where: string): { task: McTask; reason: string } {
  const has = (...k: string[]) => k.every((x) => x in row);
  const g = genericColumns(row);
  if (g) {
    const cols = [g.question, `${g.choices} (a list)`, g.answer, ...(g.passage ? [`${g.passage} (passage)`] : [])];
    return { task: 'generic', reason: `columns ${cols.join(', ')}` };
  }
  if (has('query', 'answer') && HAERAE_ANSWER.test(String(row.answer).trim())) return { task: 'haerae', reason: "columns query, answer as '(A)'..'(E)' (HAE-RAE Bench)" };
  if (has('question', 'A', 'B', 'C', 'D', 'E', 'answer')) return { task: 'kormedmcqa', reason: 'columns question, A-E, answer (1-indexed)' };
  if (has('question', 'A', 'B', 'C', 'D', 'answer')) return { task: 'kmmlu', reason: 'columns question, A-D, answer (1-indexed)' };
  if (has('word', 'context_1', 'context_2', 'label')) return { task: 'kobest_wic', reason: 'columns word, context_1, context_2, label' };
  if (has('paragraph', 'question', 'label')) return { task: 'kobest_boolq', reason: 'columns paragraph, question, label' };
  if (has('premise', 'question', 'alternative_1', 'alternative_2', 'label')) return { task: 'kobest_copa', reason: 'columns premise, question, alternative_1, alternative_2, label' };
  if (has('context', 'ending_1', 'ending_2', 'ending_3', 'ending_4', 'label')) return { task: 'kobest_hellaswag', reason: 'columns context, ending_1..ending_4, label' };
  if (has('sentence', 'label')) return { task: 'kobest_sentineg', reason: 'columns sentence, label' };
  throw new UserError(
    `${where}: cannot tell the task from columns ${Object.keys(row).join(', ')}; expected question + choices [...] + answer (generic), ` +
      `query + answer '(A)' (haerae), question + A-D + answer (kmmlu), or a KoBEST layout; or pass --task (${MC_TASKS.join(' | ')})`,
  );
}

/** Guesses the task from a row's columns. */
export function detectTask(row: Row, where: string): McTask {
  return detectOne(row, where).task;
}

/**
 * The base of the numeric answers of generic rows: 0 when some answer is 0, 1 when some answer
 * equals its row's number of choices, 0 (the harness convention) when no row tells. A file
 * with both is an error naming a row of each.
 */
export function answerBaseOf(rows: Row[], where: string): { base: AnswerBase; told: boolean } {
  let zero = -1;
  let top = -1;
  rows.forEach((row, i) => {
    const g = genericColumns(row);
    if (!g) return;
    const v = row[g.answer];
    const n = (row[g.choices] as unknown[]).length;
    if (typeof v === 'string' && (choiceIndex(row[g.choices] as unknown[], v) >= 0 || letterIndex(v) >= 0)) return;
    const k = Number(v);
    if (!Number.isInteger(k)) return;
    if (k === 0 && zero < 0) zero = i;
    if (k === n && top < 0) top = i;
  });
  if (zero >= 0 && top >= 0) {
    throw new UserError(`${where}: answers are neither all 0-based nor all 1-based (row ${zero + 1} has 0, row ${top + 1} has ${rows[top][genericColumns(rows[top])!.answer]} of ${(rows[top][genericColumns(rows[top])!.choices] as unknown[]).length} choices)`);
  }
  if (zero >= 0) return { base: 0, told: true };
  if (top >= 0) return { base: 1, told: true };
  return { base: 0, told: false };
}

/**
 * The layout of a file's rows (told from row 1; numeric answers from all rows), with a
 * sentence saying which layout and why, for `--task auto`.
 */
export function detectLayout(rows: Row[], where: string, task: McTask | 'auto' = 'auto', answerBase?: AnswerBase): McLayout {
  if (rows.length === 0) throw new UserError(`${where}: no rows`);
  const d = task === 'auto' ? detectOne(rows[0], `${where}: row 1`) : { task, reason: 'as asked by --task' };
  if (d.task !== 'generic') return { task: d.task, reason: `${d.task} (${d.reason})` };
  const g = genericColumns(rows[0]);
  const counts = new Set(rows.map((r) => (g && Array.isArray(r[g.choices]) ? (r[g.choices] as unknown[]).length : 0)));
  const n = [...counts].sort((a, b) => a - b);
  const opts = n.length === 1 ? `${n[0]} options` : `${n[0]}-${n[n.length - 1]} options`;
  const a = g ? rows[0][g.answer] : undefined;
  let how: string;
  let base: AnswerBase | undefined;
  if (typeof a === 'string' && g && choiceIndex(rows[0][g.choices] as unknown[], a) >= 0) how = 'answer is the choice text';
  else if (typeof a === 'string' && letterIndex(a) >= 0) how = 'answer is a letter';
  else {
    const found = answerBase === undefined ? answerBaseOf(rows, where) : { base: answerBase, told: true };
    base = found.base;
    how = `answer is a ${base}-based index${answerBase !== undefined ? ' (--answer-base)' : found.told ? '' : ' (no row has 0 or the last index + 1; 0-based assumed, pass --answer-base 1 if not)'}`;
  }
  return { task: 'generic', answerBase: base ?? answerBase, reason: `generic (${d.reason}; ${opts}; ${how})` };
}

function str(row: Row, key: string, where: string): string {
  const v = row[key];
  if (v === undefined || v === null) throw new UserError(`${where}: missing column '${key}'`);
  return String(v).trim();
}

function int(row: Row, key: string, where: string): number {
  const v = Number(row[key]);
  if (!Number.isInteger(v)) throw new UserError(`${where}: column '${key}' must be an integer, got ${JSON.stringify(row[key])}`);
  return v;
}

/** Index of the choice whose text is `answer` (trimmed, NFC), or -1. */
function choiceIndex(choices: unknown[], answer: string): number {
  const a = answer.trim().normalize('NFC');
  return choices.findIndex((c) => String(c).trim().normalize('NFC') === a);
}

/** Index of an option letter: "B", "(B)", "B." -> 1; -1 when it is not one. */
function letterIndex(s: string): number {
  const m = /^\(?([A-J])[).]?$/.exec(s.trim());
  return m ? LETTERS.indexOf(m[1]) : -1;
}

function genericItem(row: Row, where: string, base: AnswerBase): McItem {
  const g = genericColumns(row);
  if (!g) throw new UserError(`${where}: expected question (or query), choices (or options) as a list, and answer (keys: ${Object.keys(row).join(', ')})`);
  const choices = (row[g.choices] as unknown[]).map((c, i) => {
    if (c === null || c === undefined || typeof c === 'object') throw new UserError(`${where}: ${g.choices}[${i}] must be text, got ${JSON.stringify(c)}`);
    return String(c).trim();
  });
  if (choices.length < 2) throw new UserError(`${where}: '${g.choices}' needs at least 2 options, got ${choices.length}`);
  if (choices.length > LETTERS.length) throw new UserError(`${where}: '${g.choices}' has ${choices.length} options; at most ${LETTERS.length} are supported`);
  const a = row[g.answer];
  let gold = typeof a === 'string' ? choiceIndex(choices, a) : -1;
  if (gold < 0 && typeof a === 'string') gold = letterIndex(a);
  if (gold < 0) {
    const k = typeof a === 'number' || (typeof a === 'string' && a.trim() !== '') ? Number(a) : NaN;
    if (!Number.isInteger(k)) {
      throw new UserError(`${where}: '${g.answer}' must be one of the ${g.choices} (text), a letter A-${LETTERS[choices.length - 1]}, or an index, got ${JSON.stringify(a)}`);
    }
    gold = k - base;
    if (gold < 0 || gold >= choices.length) {
      throw new UserError(`${where}: '${g.answer}' must be ${base}..${choices.length - 1 + base} (${base}-based index over ${choices.length} options), got ${k}`);
    }
  }
  const letters = choices.map((c, i) => `${LETTERS[i]}. ${c}`).join('\n');
  const passage = g.passage ? String(row[g.passage]).trim() : '';
  const context = `${passage ? `${passage}\n` : ''}${str(row, g.question, where)}\n${letters}\n정답:`;
  return { context, choices: choices.map((c) => ` ${c}`), gold };
}

/** HAE-RAE: the options are inside the query as (A) ... ; the continuations are the labels. */
function haeraeItem(row: Row, where: string): McItem {
  const query = str(row, 'query', where);
  const m = HAERAE_ANSWER.exec(str(row, 'answer', where));
  if (!m) throw new UserError(`${where}: 'answer' must be one of (A)..(E), got ${JSON.stringify(row.answer)}`);
  const gold = LETTERS.indexOf(m[1]);
  // As many options as the query labels, (A)..(E) when it labels none (the harness's fixed five).
  let n = 0;
  while (n < 5 && query.includes(`(${LETTERS[n]})`)) n++;
  if (n === 0) n = 5;
  if (gold >= n) throw new UserError(`${where}: 'answer' is (${m[1]}) but the query lists options (A)..(${LETTERS[n - 1]}) only`);
  return { context: query, choices: Array.from({ length: n }, (_, i) => ` (${LETTERS[i]})`), gold };
}

function binaryLabel(row: Row, where: string): number {
  const v = int(row, 'label', where);
  if (v !== 0 && v !== 1) throw new UserError(`${where}: 'label' must be 0 or 1, got ${v}`);
  return v;
}

/** Turns one dataset row into a scored item (prompts as lm-evaluation-harness's Korean tasks). */
export function toMcItem(row: Row, task: McTask, where: string, opts: McOptions = {}): McItem {
  switch (task) {
    case 'generic':
      return genericItem(row, where, opts.answerBase ?? 0);
    case 'haerae':
      return haeraeItem(row, where);
    case 'kmmlu':
    case 'kormedmcqa': {
      const letters = task === 'kmmlu' ? ['A', 'B', 'C', 'D'] : ['A', 'B', 'C', 'D', 'E'];
      const opts = letters.map((l) => `${l}. ${str(row, l, where)}`).join('\n');
      const answer = int(row, 'answer', where);
      if (answer < 1 || answer > letters.length) throw new UserError(`${where}: answer must be 1..${letters.length} (1-indexed), got ${answer}`);
      return { context: `${str(row, 'question', where)}\n${opts}\n정답:`, choices: letters.map((l) => ` ${l}`), gold: answer - 1 };
    }
    case 'kobest_boolq':
      return { context: `${str(row, 'paragraph', where)} 질문: ${str(row, 'question', where)} 답변:`, choices: [' 아니오', ' 예'], gold: binaryLabel(row, where) };
    case 'kobest_copa': {
      const q = str(row, 'question', where);
      const connector = q === '원인' ? ' 왜냐하면' : ' 그래서';
      const premise = str(row, 'premise', where).replace(/[.。]\s*$/, '');
      return { context: `${premise}${connector}`, choices: [` ${str(row, 'alternative_1', where)}`, ` ${str(row, 'alternative_2', where)}`], gold: binaryLabel(row, where) };
    }
    case 'kobest_hellaswag': {
      const gold = int(row, 'label', where);
      if (gold < 0 || gold > 3) throw new UserError(`${where}: 'label' must be 0..3, got ${gold}`);
      return { context: str(row, 'context', where), choices: [1, 2, 3, 4].map((i) => ` ${str(row, `ending_${i}`, where)}`), gold };
    }
    case 'kobest_sentineg':
      return { context: `문장: ${str(row, 'sentence', where)} 긍부정:`, choices: [' 부정', ' 긍정'], gold: binaryLabel(row, where) };
    case 'kobest_wic':
      return {
        context: `문장1: ${str(row, 'context_1', where)} 문장2: ${str(row, 'context_2', where)} 두 문장에서 ${str(row, 'word', where)}가 같은 뜻으로 쓰였나?`,
        choices: [' 아니오', ' 예'],
        gold: binaryLabel(row, where),
      };
  }
}

/** Few-shot prefix: k solved examples drawn (seeded) from the dev split. */
export function fewShotPrefix(dev: McItem[], k: number, seed: number): string {
  if (k <= 0) return '';
  if (dev.length < k) throw new UserError(`--shots ${k} needs at least ${k} dev examples, got ${dev.length}`);
  const rnd = seededRandom(seed);
  const idx = dev.map((_, i) => i);
  for (let i = idx.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  return idx
    .slice(0, k)
    .map((i) => `${dev[i].context}${dev[i].choices[dev[i].gold]}\n\n`)
    .join('');
}

/** Scores (context, continuation) pairs: returns the summed log-prob of each continuation. */
export type ContinuationScorer = (pairs: { context: string; continuation: string }[]) => Promise<number[]>;

export interface McResult {
  n: number;
  acc: number;
  acc_norm: number;
  /** Per item: predicted index (acc) and whether it was right. */
  predictions: { pred: number; pred_norm: number; gold: number; logps: number[] }[];
}

export async function evaluateMc(items: McItem[], prefix: string, score: ContinuationScorer): Promise<McResult> {
  if (items.length === 0) throw new UserError('no evaluation items');
  const pairs = items.flatMap((it) => it.choices.map((c) => ({ context: prefix + it.context, continuation: c })));
  const logps = await score(pairs);
  let k = 0;
  let right = 0;
  let rightNorm = 0;
  const predictions: McResult['predictions'] = [];
  for (const it of items) {
    const lp = it.choices.map(() => logps[k++]);
    const norm = lp.map((v, i) => v / Math.max(1, [...it.choices[i]].length));
    const pred = argmax(lp);
    const predNorm = argmax(norm);
    if (pred === it.gold) right++;
    if (predNorm === it.gold) rightNorm++;
    predictions.push({ pred, pred_norm: predNorm, gold: it.gold, logps: lp });
  }
  return { n: items.length, acc: right / items.length, acc_norm: rightNorm / items.length, predictions };
}

function argmax(v: number[]): number {
  let b = 0;
  for (let i = 1; i < v.length; i++) if (v[i] > v[b]) b = i;
  return b;
}
