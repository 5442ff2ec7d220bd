/** Helpers for canonical curated rows: `{ id, prompt, answer, messages, ...original columns }`. */
import type { Row } from '../data/io.ts';
import { sha256 } from '../util/fs.ts';

export interface CuratedRow extends Row {
  id: string;
  prompt: string;
  answer: string;
  messages: { role: string; content: string }[];
}

/** sha256 of prompt + NUL + answer, first 16 hex digits. */
export function contentId(prompt: string, answer: string): string {
  return sha256(`${prompt}\u0000${answer}`).slice(0, 16);
}

export function promptOf(row: Row): string {
  return typeof row.prompt === 'string' ? row.prompt : '';
}

export function answerOf(row: Row): string {
  return typeof row.answer === 'string' ? row.answer : '';
}

/**
 * Columns that are bookkeeping, never text to rewrite (plus every `*_id` column): the runner's
 * own, and class-like columns published datasets carry (`label`, `category`, `split`), which
 * pass through byte for byte. Free text such as `source` is still rewritten (PII masking).
 */
const META_KEYS = new Set(['id', 'dup_cluster', 'stage', 'reason', 'gt_issue', 'label', 'kto_tag', 'category', 'split', 'source_path', 'pii_types', 'ppl_bucket']);
const isMeta = (k: string) => META_KEYS.has(k) || k.endsWith('_id');

/**
 * Applies `fn` to every string in the row (nested arrays/objects too, e.g. messages contents and
 * the original alpaca/sharegpt columns) except bookkeeping columns and message roles, so a
 * rewrite (normalization, PII masking) leaves no unrewritten copy behind.
 */
export function mapRowStrings(row: Row, fn: (s: string) => string): Row {
  const out: Row = {};
  for (const [k, v] of Object.entries(row)) out[k] = isMeta(k) ? v : mapValue(v, fn);
  return out;
}

function mapValue(v: unknown, fn: (s: string) => string): unknown {
  if (typeof v === 'string') return fn(v);
  if (Array.isArray(v)) return v.map((x) => mapValue(x, fn));
  if (v && typeof v === 'object' && !ArrayBuffer.isView(v) && !(v instanceof Date)) {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      o[k] = k === 'role' || k === 'from' ? x : mapValue(x, fn);
    }
    return o;
  }
  return v;
}
