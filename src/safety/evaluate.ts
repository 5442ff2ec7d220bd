/**
 * `ko-align toxicity eval`: how well a scorer (the embedded classifier, the safety judge, the
 * moderation endpoint or the combined scorer) separates toxic from clean rows of a labelled file
 * the user brings: AUROC, F1, precision, recall and false-positive rate at the threshold the gate
 * uses, and the calibration error, overall and per group (e.g. per source or domain). The gate
 * compares toxic rates at one threshold, so these are the numbers that say whether a scorer can
 * be trusted on the user's own kind of text before a sweep relies on it.
 */
import type { Row } from '../data/io.ts';
import { readAllRows, writeRows } from '../data/io.ts';
import { UserError } from '../util/errors.ts';
import { writeFileAtomic } from '../util/fs.ts';
import { expectedCalibrationError } from './calibration.ts';
import { binaryMetrics, falsePositiveRate } from './metrics.ts';
import { checkScorerName, scoreToxicity, type ToxicityOptions } from './scorers.ts';

export interface EvalGroupMetrics {
  group: string;
  rows: number;
  /** Rows with a score (metrics use these). */
  scored: number;
  /** Rows the scorer could not score (judge failures). */
  unscored: number;
  toxic: number;
  auroc: number;
  f1: number;
  precision: number;
  recall: number;
  /** Clean rows flagged toxic, over clean rows. */
  fpr: number;
  /** Expected calibration error, 10 equal-width bins. */
  ece: number;
}

export interface ToxicityEvalResult {
  scorerId: string;
  threshold: number;
  overall: EvalGroupMetrics;
  /** Per value of the group column, in order of first appearance; [] without a group column. */
  groups: EvalGroupMetrics[];
}

export interface ToxicityEvalOptions extends ToxicityOptions {
  /** The labelled rows (jsonl | json | parquet | arrow | csv). */
  input: string;
  /** Column holding the ground truth: true/false, 1/0, or toxic/clean (default 'toxic'). */
  labelField?: string;
  /** Column to break the metrics down by (e.g. source). */
  groupBy?: string;
  /** Writes the scored rows here (atomically). */
  output?: string;
  /** Writes the metrics as JSON here (atomically). */
  report?: string;
}

const TRUE_LABELS = new Set(['true', '1', 'toxic', 'yes', 'unsafe', 'hate', 'offensive']);
const FALSE_LABELS = new Set(['false', '0', 'clean', 'no', 'safe', 'none']);

/** A row's label as a boolean, or a one-line error naming the file, row and column. */
export function parseLabel(v: unknown, where: string, column: string): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number' && (v === 0 || v === 1)) return v === 1;
  if (typeof v === 'bigint' && (v === 0n || v === 1n)) return v === 1n;
  if (typeof v === 'string') {
    const s = v.trim().toLowerCase();
    if (TRUE_LABELS.has(s)) return true;
    if (FALSE_LABELS.has(s)) return false;
  }
  const shown = v === undefined ? 'nothing' : JSON.stringify(typeof v === 'bigint' ? String(v) : v);
  throw new UserError(`${where}: column '${column}' must be a toxicity label (true/false, 1/0, toxic/clean), got ${shown}`);
}

function groupMetrics(group: string, scores: (number | null)[], labels: boolean[], threshold: number): EvalGroupMetrics {
  const s: number[] = [];
  const y: boolean[] = [];
  scores.forEach((v, i) => {
    if (v !== null) {
      s.push(v);
      y.push(labels[i]!);
    }
  });
  const m = binaryMetrics(s, y, threshold);
  const flagged = s.filter((v) => v >= threshold).length;
  // undefined, not 0, where a ratio has nothing under it (a group with one class only)
  const precision = flagged > 0 ? m.precision : Number.NaN;
  const recall = m.positives > 0 ? m.recall : Number.NaN;
  return {
    group,
    rows: scores.length,
    scored: s.length,
    unscored: scores.length - s.length,
    toxic: y.filter(Boolean).length,
    auroc: m.auroc,
    f1: Number.isNaN(precision) || Number.isNaN(recall) ? Number.NaN : m.f1,
    precision,
    recall,
    fpr: falsePositiveRate(s, y, threshold),
    ece: s.length > 0 ? expectedCalibrationError(s, y) : Number.NaN,
  };
}

/** Scores `rows[field]` and measures the scores against `rows[labelField]`. */
export async function evaluateToxicityRows(
  rows: Row[],
  opts: Omit<ToxicityEvalOptions, 'input'> & { source?: string },
): Promise<{ result: ToxicityEvalResult; scored: Row[] }> {
  const source = opts.source ?? 'rows';
  const labelField = opts.labelField ?? 'toxic';
  if (rows.length === 0) throw new UserError(`${source}: no rows to evaluate`);
  const labels = rows.map((r, i) => parseLabel(r[labelField], `${source}: row ${i + 1}`, labelField));
  if (opts.groupBy !== undefined) {
    const i = rows.findIndex((r) => r[opts.groupBy!] === undefined || r[opts.groupBy!] === null);
    if (i >= 0) throw new UserError(`${source}: row ${i + 1}: no value in group column '${opts.groupBy}'`);
  }
  const field = opts.field ?? 'text';
  const { rows: out, summary } = await scoreToxicity(rows, { ...opts, field, source });
  const scores = out.map((r) => (typeof r.toxicity === 'number' ? r.toxicity : null));
  const overall = groupMetrics('all', scores, labels, summary.threshold);
  const groups: EvalGroupMetrics[] = [];
  if (opts.groupBy !== undefined) {
    const members = new Map<string, number[]>();
    rows.forEach((r, i) => {
      const g = String(r[opts.groupBy!]);
      if (!members.has(g)) members.set(g, []);
      members.get(g)!.push(i);
    });
    for (const [g, idx] of members) groups.push(groupMetrics(g, idx.map((i) => scores[i]!), idx.map((i) => labels[i]!), summary.threshold));
  }
  return { result: { scorerId: summary.scorerId, threshold: summary.threshold, overall, groups }, scored: out };
}

/** Reads the labelled file, evaluates, writes the optional outputs; returns the metrics. */
export async function evaluateToxicityFile(opts: ToxicityEvalOptions): Promise<ToxicityEvalResult> {
  checkScorerName(opts.scorer ?? 'classifier');
  const rows = await readAllRows(opts.input);
  const { result, scored } = await evaluateToxicityRows(rows, { ...opts, source: opts.input });
  if (opts.output) await writeRows(opts.output, scored);
  if (opts.report) await writeFileAtomic(opts.report, JSON.stringify(result, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2));
  return result;
}

const f = (x: number) => (Number.isFinite(x) ? x.toFixed(4) : 'n/a');

/** The metrics as an aligned text table (one row per group, then the overall row). */
export function formatEvalTable(r: ToxicityEvalResult): string {
  const head = ['group', 'rows', 'toxic', 'unscored', 'AUROC', 'F1', 'precision', 'recall', 'FPR', 'ECE'];
  // group names come from the data: no control characters in the terminal, and a bounded width
  const name = (g: string) => { const c = g.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' '); return c.length > 40 ? `${c.slice(0, 39)}…` : c; };
  const line = (m: EvalGroupMetrics) => [name(m.group), String(m.rows), String(m.toxic), String(m.unscored), f(m.auroc), f(m.f1), f(m.precision), f(m.recall), f(m.fpr), f(m.ece)];
  const body = [...r.groups.map(line), line(r.overall)];
  const width = head.map((h, c) => Math.max(h.length, ...body.map((b) => b[c]!.length)));
  const fmt = (cells: string[]) => cells.map((x, c) => (c === 0 ? x.padEnd(width[c]!) : x.padStart(width[c]!))).join('  ');
  return [`scorer ${r.scorerId}, threshold ${r.threshold.toFixed(4)}`, fmt(head), ...body.map(fmt)].join('\n');
}
