/**
 * Review items: the reviewer's view of one curated / scored row (prompt, answer, the judge's
 * score, reason and verdict) under a stable id, plus deterministic stratified sampling.
 *
 * The id is a content hash of (prompt, answer), so decisions join back to the rows even after
 * the file was re-sorted, filtered or re-written in another format.
 */
import { createHash } from 'node:crypto';
import type { Row } from '../data/io.ts';
import { toExample, promptText, answerText } from '../data/formats.ts';
import { UserError } from '../util/errors.ts';

export interface ReviewItem {
  /** Content hash of (prompt, answer): `sha256(prompt \0 answer)`, first 16 hex digits. */
  id: string;
  prompt: string;
  answer: string;
  /** The judge's score, or null when the row was not scored or the judge failed. */
  judge_score: number | null;
  judge_reason: string | null;
  judge_status: string | null;
  judge_model: string | null;
  /** The judge's verdict at the review threshold; null without a usable score. */
  judge_accept: boolean | null;
  /** The row's label before review (KTO), when it has one. */
  label: boolean | null;
  /** 1-based position of the (first) row with this content in the input file. */
  row: number;
  /** The value the sample was stratified on (for the export's summary). */
  stratum?: string;
}

/** Default judge threshold on the 1-10 rubric scale: the judge "accepts" at score >= 7. */
export const DEFAULT_THRESHOLD = 7;

/** The stable id of a (prompt, answer) pair. */
export function itemId(prompt: string, answer: string): string {
  return createHash('sha256').update(prompt).update('\u0000').update(answer).digest('hex').slice(0, 16);
}

/** A finite number from a score column (numbers, numeric strings, bigint); null otherwise. */
export function scoreOf(v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string' && v.trim() !== '') {
    const n = Number(v);
    return Number.isFinite(n) ? n : null;
  }
  return null;
}

/** The judge's verdict for a row: accept when the score is usable and >= threshold. */
export function judgeVerdict(score: number | null, status: string | null, threshold: number): boolean | null {
  if (score === null) return null;
  if (status !== null && status !== 'ok') return null;
  return score >= threshold;
}

/** A row's label as a boolean (TRL bool, LLaMA-Factory kto_tag, 'desirable'/'undesirable'). */
export function labelOf(row: Row): boolean | null {
  const v = row.label ?? row.kto_tag;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v === 1 ? true : v === 0 ? false : null;
  if (typeof v === 'string') {
    const s = v.trim().toLowerCase();
    if (['true', 'desirable', '1', 'yes'].includes(s)) return true;
    if (['false', 'undesirable', '0', 'no'].includes(s)) return false;
  }
  return null;
}

function textOrNull(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  return typeof v === 'string' ? v : String(v);
}

const PROMPT_KEYS = ['prompt', 'instruction', 'question', 'query'];
const ANSWER_KEYS = ['answer', 'output', 'completion', 'response', 'chosen'];

/**
 * Prompt and answer texts of a row: the dataset formats of src/data/formats.ts (alpaca,
 * sharegpt, messages, kto, prompt/completion) through toExample / promptText / answerText, and
 * for scored rows with plain columns (prompt + answer, as the judge writes them) those columns.
 */
export function rowTexts(row: Row, source: string): { prompt: string; answer: string } {
  let err: unknown = null;
  try {
    const ex = toExample(row, undefined, source);
    const answer = answerText(ex);
    if (answer !== '' || typeof row.answer !== 'string') return { prompt: promptText(ex), answer };
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    err = e;
  }
  const p = PROMPT_KEYS.find((k) => typeof row[k] === 'string');
  const a = ANSWER_KEYS.find((k) => typeof row[k] === 'string');
  if (a === undefined) {
    if (err) throw err;
    throw new UserError(`${source}: no answer text (expected ${ANSWER_KEYS.join(' | ')}, or messages with an assistant turn)`);
  }
  return { prompt: p === undefined ? '' : (row[p] as string), answer: row[a] as string };
}

/** The review item for one row. `rowNo` is 1-based; `source` names the row in errors. */
export function rowToItem(row: Row, rowNo: number, threshold: number, source = `row ${rowNo}`): ReviewItem {
  const { prompt, answer } = rowTexts(row, source);
  const judge_score = scoreOf(row.judge_score);
  const judge_status = textOrNull(row.judge_status);
  return {
    id: itemId(prompt, answer),
    prompt,
    answer,
    judge_score,
    judge_reason: textOrNull(row.judge_reason),
    judge_status,
    judge_model: textOrNull(row.judge_model),
    judge_accept: judgeVerdict(judge_score, judge_status, threshold),
    label: labelOf(row),
    row: rowNo,
  };
}

// ---------------------------------------------------------------------------------------------
// Deterministic stratified sampling.

export interface SampleOptions {
  /** Number of items to draw (all items when n >= the item count). */
  n: number;
  /** Column to stratify on; numbers are bucketed by their integer part. Omit for a simple sample. */
  stratifyBy?: string;
  /** Any string or number; the same seed and items give the same sample. */
  seed: string | number;
  /** 'proportional' (default): each bucket in proportion to its size, at least one per bucket;
   *  'equal': the same number per bucket (the rest to the bigger buckets). */
  allocation?: 'proportional' | 'equal';
}

/** The bucket of a stratum value: integer part for numbers, the text otherwise, '(none)' when missing. */
export function stratumOf(v: unknown): string {
  const n = scoreOf(v);
  if (n !== null) return String(Math.floor(n));
  if (v === null || v === undefined || v === '') return '(none)';
  return String(v);
}

/** The rank of an id under a seed: a hash, so the draw does not depend on the input order. */
function rank(seed: string | number, salt: string, id: string): string {
  return createHash('sha256').update(`${String(seed)}\u0000${salt}\u0000${id}`).digest('hex');
}

/**
 * Draws `n` items, stratified by `stratifyBy` when given. Within a bucket the items with the
 * smallest seeded hash of their id are taken, so the draw depends only on the seed and the set
 * of items, never on their order in the file. The sample comes back in a seeded shuffled order
 * (reviewers should not see the items sorted by score).
 */
export function stratifiedSample<T extends { id: string }>(
  items: readonly T[],
  opts: SampleOptions,
  valueOf: (item: T) => unknown,
): { sample: T[]; strata: Record<string, { available: number; drawn: number }> } {
  if (!Number.isInteger(opts.n) || opts.n < 1) throw new UserError(`--sample: expected a positive integer, got ${opts.n}`);
  const buckets = new Map<string, T[]>();
  for (const it of items) {
    const key = opts.stratifyBy === undefined ? 'all' : stratumOf(valueOf(it));
    let b = buckets.get(key);
    if (!b) buckets.set(key, (b = []));
    b.push(it);
  }
  const keys = [...buckets.keys()].sort(compareStrata);
  const sizes = keys.map((k) => buckets.get(k)!.length);
  const quota = allocate(sizes, Math.min(opts.n, items.length), opts.allocation ?? 'proportional');
  const sample: T[] = [];
  const strata: Record<string, { available: number; drawn: number }> = {};
  keys.forEach((k, i) => {
    const ranked = buckets
      .get(k)!
      .map((it) => ({ it, r: rank(opts.seed, 'draw', it.id) }))
      .sort((a, b) => (a.r < b.r ? -1 : a.r > b.r ? 1 : 0));
    const take = ranked.slice(0, quota[i]).map((x) => x.it);
    sample.push(...take);
    strata[k] = { available: sizes[i]!, drawn: take.length };
  });
  const ordered = sample
    .map((it) => ({ it, r: rank(opts.seed, 'order', it.id) }))
    .sort((a, b) => (a.r < b.r ? -1 : a.r > b.r ? 1 : 0))
    .map((x) => x.it);
  return { sample: ordered, strata };
}

/** Numeric strata in numeric order, then the others alphabetically. */
function compareStrata(a: string, b: string): number {
  const na = Number(a);
  const nb = Number(b);
  const fa = a !== '' && Number.isFinite(na);
  const fb = b !== '' && Number.isFinite(nb);
  if (fa && fb) return na - nb;
  if (fa) return -1;
  if (fb) return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Splits `n` draws over buckets of the given sizes (never more than a bucket holds).
 * proportional: largest-remainder shares of n, with every non-empty bucket getting at least one
 * while n allows; equal: n / buckets each, leftovers of small buckets passed to the others.
 */
export function allocate(sizes: readonly number[], n: number, mode: 'proportional' | 'equal'): number[] {
  const total = sizes.reduce((a, b) => a + b, 0);
  n = Math.min(n, total);
  const q = sizes.map(() => 0);
  if (n === 0) return q;
  if (mode === 'equal') {
    let left = n;
    let open = sizes.map((s, i) => i).filter((i) => sizes[i]! > 0);
    while (left > 0 && open.length > 0) {
      const share = Math.max(1, Math.floor(left / open.length));
      for (const i of open) {
        if (left === 0) break;
        const add = Math.min(share, sizes[i]! - q[i]!, left);
        q[i]! += add;
        left -= add;
      }
      open = open.filter((i) => q[i]! < sizes[i]!);
    }
    return q;
  }
  // Proportional: largest-remainder shares of n, then a floor of one per non-empty bucket
  // (taken from the biggest allocations) when n covers every bucket.
  const exact = sizes.map((s) => (s * n) / total);
  exact.forEach((e, i) => (q[i] = Math.floor(e)));
  let rem = n - q.reduce((a, b) => a + b, 0);
  const order = exact.map((e, i) => ({ i, frac: e - Math.floor(e) })).sort((a, b) => b.frac - a.frac || a.i - b.i);
  for (const { i } of order) {
    if (rem === 0) break;
    if (q[i]! < sizes[i]!) {
      q[i]! += 1;
      rem--;
    }
  }
  const nonEmpty = sizes.map((s, i) => i).filter((i) => sizes[i]! > 0);
  if (n >= nonEmpty.length) {
    for (const i of nonEmpty) {
      if (q[i]! > 0) continue;
      let donor = -1;
      for (const j of nonEmpty) if (q[j]! > 1 && (donor < 0 || q[j]! > q[donor]!)) donor = j;
      if (donor < 0) break;
      q[donor]! -= 1;
      q[i] = 1;
    }
  }
  return q;
}
