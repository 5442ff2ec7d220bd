/**
 * KTO labels from judge scores: judge_score >= desirableMin -> desirable (label true),
 * judge_score <= undesirableMax -> undesirable (label false); rows in between, failed rows and
 * unscored rows are left out. Output rows: prompt, completion, label (TRL's KTO format), and
 * judge_score for traceability.
 */
import type { Row } from '../data/row.ts';
import { readAllRows, writeRows } from '../data/io.ts';
import { UserError } from '../util/errors.ts';
import { sampleOf } from './job.ts';

export interface LabelOptions {
  desirableMin: number;
  undesirableMax: number;
  promptField?: string;
  answerField?: string;
  source?: string;
}

export interface LabelSummary {
  rows: number;
  desirable: number;
  undesirable: number;
  /** Scored between the thresholds. */
  middle: number;
  /** judge_status failed or no judge_score. */
  unscored: number;
  /** Labels taken from human review decisions (label_source: review), not from the score. */
  human: number;
  /** desirable / undesirable (Infinity when there are no undesirable rows). */
  ratio: number;
}

/**
 * A row's judge_score as a number: numbers as they are, numeric strings ("8", " 7.5 ") parsed
 * (CSV and spreadsheet round trips make them); null / "" mean unscored. Anything else
 * ("여덟", NaN, true) is refused with the row and the value, never silently dropped.
 */
export function scoreOf(v: unknown, where: string): number | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'number') {
    if (Number.isFinite(v)) return v;
    throw new UserError(`${where}: judge_score must be a finite number, got ${String(v)}`);
  }
  if (typeof v === 'string') {
    const t = v.trim();
    if (t === '') return null;
    const n = Number(t);
    if (/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(t) && Number.isFinite(n)) return n;
  }
  throw new UserError(`${where}: judge_score must be a number, got ${JSON.stringify(v)}`);
}

export function labelRows(rows: Row[], o: LabelOptions): { rows: Row[]; summary: LabelSummary } {
  if (!(o.undesirableMax < o.desirableMin)) {
    throw new UserError(`--undesirable-max (${o.undesirableMax}) must be below --desirable-min (${o.desirableMin})`);
  }
  const src = o.source ?? 'input';
  const out: Row[] = [];
  const s: LabelSummary = { rows: rows.length, desirable: 0, undesirable: 0, middle: 0, unscored: 0, human: 0, ratio: 0 };
  rows.forEach((row, i) => {
    if (!('judge_score' in row) && !('judge_status' in row) && row.label_source !== 'review') {
      throw new UserError(`${src}: row ${i + 1}: no judge_score column (run 'ko-align judge score' first)`);
    }
    const score = row.judge_status === 'failed' ? null : scoreOf(row.judge_score, `${src}: row ${i + 1}`);
    // A human reviewer's decision (ko-align review import) is final: it overrides the judge.
    if (row.label_source === 'review' && typeof row.label === 'boolean') {
      const sample = sampleOf(row, `${src}: row ${i + 1}`, o.promptField, o.answerField);
      if (row.label) s.desirable++;
      else s.undesirable++;
      s.human++;
      out.push({ prompt: sample.prompt, completion: sample.answer, label: row.label, judge_score: typeof score === 'number' ? score : null, label_source: 'review' });
      return;
    }
    if (row.judge_status === 'failed' || score === null) {
      s.unscored++;
      return;
    }
    let label: boolean;
    if (score >= o.desirableMin) label = true;
    else if (score <= o.undesirableMax) label = false;
    else {
      s.middle++;
      return;
    }
    const sample = sampleOf(row, `${src}: row ${i + 1}`, o.promptField, o.answerField);
    if (label) s.desirable++;
    else s.undesirable++;
    out.push({ prompt: sample.prompt, completion: sample.answer, label, judge_score: score });
  });
  s.ratio = s.undesirable === 0 ? (s.desirable === 0 ? 0 : Infinity) : s.desirable / s.undesirable;
  return { rows: out, summary: s };
}

export async function labelFile(input: string, output: string, o: LabelOptions): Promise<LabelSummary> {
  const { rows, summary } = labelRows(await readAllRows(input), { source: input, ...o });
  if (rows.length === 0) throw new UserError(`${input}: no row scored >= ${o.desirableMin} or <= ${o.undesirableMax}; nothing to label`);
  await writeRows(output, rows);
  return summary;
}
