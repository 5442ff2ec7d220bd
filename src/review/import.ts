/**
 * `review import`: reviewers' decisions (Label Studio export, Argilla records, the filled CSV,
 * or the review page's decisions JSON) joined back onto the rows by content id. Human
 * decisions override the judge; conflicting decisions are reported and left unresolved; ids
 * that match no row are reported; the agreement between judge and reviewers is measured.
 */
import { readFile } from 'node:fs/promises';
import { statSync } from 'node:fs';
import { extname } from 'node:path';
import { readAllRows, readRows, writeRows, type Row } from '../data/io.ts';
import { UserError } from '../util/errors.ts';
import { writeFileAtomic } from '../util/fs.ts';
import { DEFAULT_THRESHOLD, labelOf, rowToItem } from './items.ts';
import type { Decision, DecisionsFormat, ReviewDecision } from './decisions.ts';
import { isLabelStudioExport, isLabelStudioMinExport, parseLabelStudioExport, parseLabelStudioMinExport } from './labelstudio.ts';
import { isArgillaExport, parseArgillaExport } from './argilla.ts';
import { parseReviewCsv } from './csv.ts';
import { isHtmlDecisions, parseHtmlDecisions } from './html.ts';
import { agreement, type Agreement } from './agreement.ts';

export interface ImportReviewOptions {
  /** One or more decisions files (formats detected from their content; .csv by extension). */
  decisions: string | string[];
  /** The rows that were exported (or a superset, e.g. the whole curated file). */
  input: string;
  /** Rows with the review columns added; the report goes to `<output>.review.json`. */
  output: string;
  /** The judge accepts at judge_score >= threshold (default 7), for the agreement. */
  threshold?: number;
}

export type ReviewStatus = 'accepted' | 'rejected' | 'conflict' | 'incomplete' | 'unreviewed';

export interface Conflict {
  id: string;
  /** 'decision': reviewers disagree on accept / reject; 'rating': they agree but rate differently. */
  kind: 'decision' | 'rating';
  decisions: Array<Pick<Decision, 'reviewer' | 'decision' | 'rating' | 'reviewed_at' | 'source'>>;
}

export interface ImportReviewResult {
  output: string;
  report: string;
  sources: Array<{ file: string; format: DecisionsFormat; decisions: number }>;
  rows: number;
  /** Distinct items in the input. */
  items: number;
  counts: Record<ReviewStatus, number>;
  conflicts: Conflict[];
  /** Decisions whose id matches no input row. */
  unknown: Array<{ id: string; source: string }>;
  /** Earlier decisions of a reviewer replaced by their own later one on the same item. */
  superseded: number;
  agreement: Agreement;
}

/** Reads one decisions file into decisions, detecting which tool wrote it. */
export async function readDecisions(file: string): Promise<{ format: DecisionsFormat; decisions: Decision[] }> {
  // Argilla's Hugging Face export (dataset.to_hub / to_datasets): Parquet (a file, a shard folder
  // or glob) with flattened "<question>.responses", ".responses.users", ".responses.status" columns
  if (/\.(parquet|arrow)$/i.test(file) || /[*?]/.test(file) || isDirectory(file)) {
    const rows = await readAllRows(file);
    if (isArgillaExport(rows)) return { format: 'argilla', decisions: parseArgillaExport(rows, file) };
    throw new UserError(`${file}: not an Argilla Hugging Face export (expected "<question>.responses" columns)`);
  }
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(code === 'ENOENT' ? `${file}: decisions file not found` : `${file}: cannot read (${code ?? (e as Error).message})`);
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (extname(file).toLowerCase() === '.csv') return { format: 'csv', decisions: parseReviewCsv(text, file) };
  const v = parseJsonOrLines(text, file);
  if (isHtmlDecisions(v)) return { format: 'html', decisions: parseHtmlDecisions(v, file) };
  if (isLabelStudioExport(v)) return { format: 'label-studio', decisions: parseLabelStudioExport(v, file) };
  if (isLabelStudioMinExport(v)) return { format: 'label-studio', decisions: parseLabelStudioMinExport(v, file) };
  if (isArgillaExport(v)) return { format: 'argilla', decisions: parseArgillaExport(v, file) };
  if (Array.isArray(v) && v.length === 0) throw new UserError(`${file}: no decisions (empty list)`);
  throw new UserError(
    `${file}: not a decisions file: expected the review page's decisions JSON, a Label Studio JSON export ` +
      `(tasks with annotations), Argilla records with responses, or the review CSV`,
  );
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function parseJsonOrLines(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const lines = text.split('\n');
    if (lines.filter((l) => l.trim() !== '').length > 1 && text.trimStart().startsWith('{')) {
      return lines.flatMap((l, i) => {
        if (l.trim() === '') return [];
        try {
          return [JSON.parse(l)];
        } catch (err) {
          throw new UserError(`${file}:${i + 1}: invalid JSON (${(err as Error).message.split('\n')[0]})`);
        }
      });
    }
    throw new UserError(`${file}: invalid JSON (${(e as Error).message.split('\n')[0]})`);
  }
}

interface Resolved {
  status: ReviewStatus;
  decision: ReviewDecision | null;
  rating: number | null;
  comment: string | null;
  reviewer: string | null;
  reviewed_at: string | null;
}

/**
 * Resolves the decisions on one item. A reviewer who decided twice counts once (the later
 * decision). Reviewers who disagree on accept / reject make a decision conflict: nothing is
 * chosen for them. Equal decisions with different ratings keep the decision and leave the
 * rating empty (a rating conflict).
 */
export function resolveItem(ds: readonly Decision[]): { resolved: Resolved; conflicts: Conflict[]; superseded: number } {
  const byReviewer = new Map<string, Decision>();
  let superseded = 0;
  ds.forEach((d, i) => {
    const key = d.reviewer ?? `\u0000anonymous-${i}`;
    const prev = byReviewer.get(key);
    if (prev) {
      superseded++;
      if ((d.reviewed_at ?? '') < (prev.reviewed_at ?? '')) return;
    }
    byReviewer.set(key, d);
  });
  const final = [...byReviewer.values()];
  const id = final[0]!.id;
  const brief = (d: Decision) => ({ reviewer: d.reviewer, decision: d.decision, rating: d.rating, reviewed_at: d.reviewed_at, source: d.source });
  const conflicts: Conflict[] = [];
  const decisions = new Set(final.map((d) => d.decision).filter((x): x is ReviewDecision => x !== null));
  const ratings = new Set(final.map((d) => d.rating).filter((x): x is number => x !== null));
  const reviewers = [...new Set(final.map((d) => d.reviewer).filter((x): x is string => x !== null))];
  const times = final.map((d) => d.reviewed_at).filter((x): x is string => x !== null).sort();
  const comments = final
    .filter((d) => d.comment !== null)
    .map((d) => (final.length > 1 && d.reviewer ? `${d.reviewer}: ${d.comment}` : d.comment!));
  let status: ReviewStatus;
  let decision: ReviewDecision | null = null;
  if (decisions.size > 1) {
    status = 'conflict';
    conflicts.push({ id, kind: 'decision', decisions: final.map(brief) });
  } else if (decisions.size === 1) {
    decision = [...decisions][0]!;
    status = decision === 'accept' ? 'accepted' : 'rejected';
  } else {
    status = 'incomplete';
  }
  let rating: number | null = null;
  if (ratings.size > 1) {
    if (status !== 'conflict') conflicts.push({ id, kind: 'rating', decisions: final.map(brief) });
  } else if (ratings.size === 1) {
    rating = [...ratings][0]!;
  }
  return {
    resolved: {
      status,
      decision,
      rating: status === 'conflict' ? null : rating,
      comment: comments.length ? comments.join('\n') : null,
      reviewer: reviewers.length ? reviewers.join(', ') : null,
      reviewed_at: times.length ? times[times.length - 1]! : null,
    },
    conflicts,
    superseded,
  };
}

/** The review columns every output row gets (null when the item was not reviewed). */
export const REVIEW_COLUMNS = ['review_id', 'review_status', 'review_decision', 'review_rating', 'review_comment', 'reviewer', 'reviewed_at', 'label', 'label_source'] as const;

export async function importReview(opts: ImportReviewOptions): Promise<ImportReviewResult> {
  const threshold = opts.threshold ?? DEFAULT_THRESHOLD;
  if (!Number.isFinite(threshold)) throw new UserError(`--threshold: expected a number, got ${opts.threshold}`);
  const files = Array.isArray(opts.decisions) ? opts.decisions : [opts.decisions];
  if (files.length === 0) throw new UserError('--decisions: give at least one decisions file');

  const sources: ImportReviewResult['sources'] = [];
  const byId = new Map<string, Decision[]>();
  for (const file of files) {
    const { format, decisions } = await readDecisions(file);
    sources.push({ file, format, decisions: decisions.length });
    for (const d of decisions) {
      let list = byId.get(d.id);
      if (!list) byId.set(d.id, (list = []));
      list.push(d);
    }
  }

  const resolved = new Map<string, Resolved>();
  const conflicts: Conflict[] = [];
  let superseded = 0;
  for (const [id, ds] of byId) {
    const r = resolveItem(ds);
    resolved.set(id, r.resolved);
    conflicts.push(...r.conflicts);
    superseded += r.superseded;
  }

  const counts: Record<ReviewStatus, number> = { accepted: 0, rejected: 0, conflict: 0, incomplete: 0, unreviewed: 0 };
  const seen = new Set<string>();
  const pairs: Array<[boolean, boolean]> = [];
  let rows = 0;
  const input = opts.input;

  async function* joined(): AsyncGenerator<Row> {
    for await (const row of readRows(input, { requireRows: true }) as AsyncIterable<Row>) {
      rows++;
      const it = rowToItem(row, rows, threshold, `${input}: row ${rows}`);
      const r = resolved.get(it.id);
      const first = !seen.has(it.id);
      seen.add(it.id);
      const status: ReviewStatus = r ? r.status : 'unreviewed';
      if (first) {
        counts[status]++;
        if (r && r.decision !== null && status !== 'conflict' && it.judge_accept !== null) {
          pairs.push([it.judge_accept, r.decision === 'accept']);
        }
      }
      const inputLabel = labelOf(row);
      const byHuman = r && r.decision !== null && status !== 'conflict';
      const out: Row = { ...row };
      out.review_id = it.id;
      out.review_status = status;
      out.review_decision = r?.decision ?? null;
      out.review_rating = r?.rating ?? null;
      out.review_comment = r?.comment ?? null;
      out.reviewer = r?.reviewer ?? null;
      out.reviewed_at = r?.reviewed_at ?? null;
      out.label = byHuman ? r!.decision === 'accept' : inputLabel;
      out.label_source = byHuman ? 'review' : inputLabel !== null ? 'input' : null;
      if (byHuman && 'kto_tag' in row) out.kto_tag = out.label;
      yield out;
    }
  }

  await writeRows(opts.output, joined());

  const unknown: ImportReviewResult['unknown'] = [];
  for (const [id, ds] of byId) {
    if (!seen.has(id)) for (const d of ds) unknown.push({ id, source: d.source });
  }
  const agree = agreement(pairs, threshold);
  const report = `${opts.output}.review.json`;
  const result: ImportReviewResult = {
    output: opts.output,
    report,
    sources,
    rows,
    items: seen.size,
    counts,
    conflicts,
    unknown,
    superseded,
    agreement: agree,
  };
  await writeFileAtomic(
    report,
    JSON.stringify({ kind: 'ko-align-review-import', version: 1, input, threshold, ...result }, null, 2) + '\n',
  );
  return result;
}
