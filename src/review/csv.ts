/**
 * CSV for spreadsheet review: one row per item, the decision columns left empty for the
 * reviewer, UTF-8 with a byte-order mark so Excel / Numbers / LibreOffice open Korean correctly.
 *
 * Cells of sample text that start with = + - @ (or a tab / carriage return) get a leading
 * apostrophe, so a spreadsheet shows them as text instead of running them as formulas (CSV
 * injection). The text is for reading only: decisions join back on the id column.
 */
import { stringify } from 'csv-stringify/sync';
import { parse } from 'csv-parse/sync';
import type { ReviewItem } from './items.ts';
import type { Decision } from './decisions.ts';
import { normalizeRating, requireDecision, textOrNull, timeOrNull } from './decisions.ts';
import { UserError } from '../util/errors.ts';

export const CSV_COLUMNS = [
  'id',
  'instruction',
  'answer',
  'judge_score',
  'judge_verdict',
  'judge_reason',
  'decision',
  'rating',
  'comment',
  'reviewer',
  'reviewed_at',
] as const;

const BOM = '\uFEFF';

/** Neutralizes spreadsheet formulas in a text cell. */
export function inertCell(s: string): string {
  return /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
}

export function toReviewCsv(items: readonly ReviewItem[]): string {
  const records = items.map((it) => [
    it.id,
    inertCell(it.prompt),
    inertCell(it.answer),
    it.judge_score === null ? '' : String(it.judge_score),
    it.judge_accept === null ? '' : it.judge_accept ? 'accept' : 'reject',
    inertCell(it.judge_reason ?? ''),
    '',
    '',
    '',
    '',
    '',
  ]);
  return BOM + stringify([[...CSV_COLUMNS], ...records], { record_delimiter: '\r\n', quoted_match: /[\r\n",]/ });
}

/**
 * Decisions from a filled review CSV (header row required; column order free; any other
 * columns ignored). Rows whose decision, rating and comment are all empty are not decisions.
 */
export function parseReviewCsv(text: string, file: string): Decision[] {
  let parsed: Array<{ record: string[]; info: { lines: number } }>;
  try {
    parsed = parse(text, { bom: true, relax_column_count: true, skip_empty_lines: true, info: true }) as never;
  } catch (e) {
    const err = e as Error & { lines?: number };
    throw new UserError(`${file}${err.lines ? `:${err.lines}` : ''}: invalid CSV (${err.message.split('\n')[0]})`);
  }
  const records = parsed.map((p) => p.record);
  if (records.length === 0) throw new UserError(`${file}: empty CSV, expected a header row with ${CSV_COLUMNS.join(', ')}`);
  const header = records[0]!.map((h) => h.trim().toLowerCase());
  // Label Studio's CSV export carries our id as item_id (its own task id is 'id') and the
  // reviewer as annotator.
  const col = (name: string): number => {
    if (name === 'id' && header.includes('item_id')) return header.indexOf('item_id');
    const i = header.indexOf(name);
    if (i >= 0) return i;
    if (name === 'reviewer') return header.indexOf('annotator');
    if (name === 'reviewed_at') return header.indexOf('updated_at');
    return -1;
  };
  for (const need of ['id', 'decision']) {
    if (col(need) < 0) throw new UserError(`${file}:1: missing column '${need}' (expected columns ${CSV_COLUMNS.join(', ')}; or Label Studio's CSV export with item_id)`);
  }
  const cell = (r: string[], name: string): string | null => {
    const i = col(name);
    return i < 0 ? null : textOrNull(r[i]);
  };
  const out: Decision[] = [];
  for (let i = 1; i < records.length; i++) {
    const r = records[i]!;
    const where = `${file}:${parsed[i]!.info.lines}`;
    const id = cell(r, 'id');
    const decision = requireDecision(cell(r, 'decision'), `${where}: column decision`);
    const rating = normalizeRating(cell(r, 'rating'), `${where}: column rating`);
    const comment = cell(r, 'comment');
    if (decision === null && rating === null && comment === null) continue;
    if (id === null) throw new UserError(`${where}: empty id in a row that has a decision`);
    out.push({
      id: id.trim(),
      decision,
      rating,
      comment,
      reviewer: cell(r, 'reviewer'),
      reviewed_at: timeOrNull(cell(r, 'reviewed_at')),
      source: where,
    });
  }
  return out;
}
