/**
 * Multiple-choice evaluation by log-likelihood (lm-evaluation-harness style): each option is a
 * continuation of the prompt; the prediction is the option with the highest summed log-prob
 * (acc) or the highest log-prob per character (acc_norm). Task layouts follow the Hugging Face
 * datasets: KMMLU (question, A-D, answer 1-indexed), KoBEST (boolq, copa, hellaswag, sentineg),
 * KorMedMCQA (question, A-E, answer 1-indexed).
 */
import type { Row } from '../data/io.ts';
import { UserError } from '../util/errors.ts';
import { seededRandom } from '../sweep/space.ts';

export type McTask = 'kmmlu' | 'kormedmcqa' | 'kobest_boolq' | 'kobest_copa' | 'kobest_hellaswag' | 'kobest_sentineg';
export const MC_TASKS: readonly McTask[] = ['kmmlu', 'kormedmcqa', 'kobest_boolq', 'kobest_copa', 'kobest_hellaswag', 'kobest_sentineg'];

export interface McItem {
  /** The prompt the options continue (without few-shot examples). */
  context: string;
  /** Continuations, scored after the context. */
  choices: string[];
  /** Index of the correct choice. */
  gold: number;
}

/** Guesses the task from a row's columns. */
export function detectTask(row: Row, where: string): McTask {
  const has = (...k: string[]) => k.every((x) => x in row);
  if (has('question', 'A', 'B', 'C', 'D', 'E', 'answer')) return 'kormedmcqa';
  if (has('question', 'A', 'B', 'C', 'D', 'answer')) return 'kmmlu';
  if (has('paragraph', 'question', 'label')) return 'kobest_boolq';
  if (has('premise', 'question', 'alternative_1', 'alternative_2', 'label')) return 'kobest_copa';
  if (has('context', 'ending_1', 'ending_2', 'ending_3', 'ending_4', 'label')) return 'kobest_hellaswag';
  if (has('sentence', 'label')) return 'kobest_sentineg';
  throw new UserError(`${where}: cannot tell the task from columns ${Object.keys(row).join(', ')}; pass --task (${MC_TASKS.join(' | ')})`);
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

/** Turns one dataset row into a scored item (prompts as lm-evaluation-harness's Korean tasks). */
export function toMcItem(row: Row, task: McTask, where: string): McItem {
  switch (task) {
    case 'kmmlu':
    case 'kormedmcqa': {
      const letters = task === 'kmmlu' ? ['A', 'B', 'C', 'D'] : ['A', 'B', 'C', 'D', 'E'];
      const opts = letters.map((l) => `${l}. ${str(row, l, where)}`).join('\n');
      const answer = int(row, 'answer', where);
      if (answer < 1 || answer > letters.length) throw new UserError(`${where}: answer must be 1..${letters.length} (1-indexed), got ${answer}`);
      return { context: `${str(row, 'question', where)}\n${opts}\n정답:`, choices: letters.map((l) => ` ${l}`), gold: answer - 1 };
    }
    case 'kobest_boolq':
      return { context: `${str(row, 'paragraph', where)} 질문: ${str(row, 'question', where)} 답변:`, choices: [' 아니오', ' 예'], gold: int(row, 'label', where) };
    case 'kobest_copa': {
      const q = str(row, 'question', where);
      const connector = q === '원인' ? ' 왜냐하면' : ' 그래서';
      const premise = str(row, 'premise', where).replace(/[.。]\s*$/, '');
      return { context: `${premise}${connector}`, choices: [` ${str(row, 'alternative_1', where)}`, ` ${str(row, 'alternative_2', where)}`], gold: int(row, 'label', where) };
    }
    case 'kobest_hellaswag':
      return { context: str(row, 'context', where), choices: [1, 2, 3, 4].map((i) => ` ${str(row, `ending_${i}`, where)}`), gold: int(row, 'label', where) };
    case 'kobest_sentineg':
      return { context: `문장: ${str(row, 'sentence', where)} 긍부정:`, choices: [' 부정', ' 긍정'], gold: int(row, 'label', where) };
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
