/**
 * A reviewer's decision on one item, the common shape every review tool's export is read into,
 * and the small normalizers shared by the format readers.
 */
import { UserError } from '../util/errors.ts';

export type ReviewDecision = 'accept' | 'reject';

export interface Decision {
  /** The item id (content hash), see items.ts. */
  id: string;
  /** accept / reject; null when the reviewer only rated or commented. */
  decision: ReviewDecision | null;
  /** Quality rating 1..5, or null. */
  rating: number | null;
  comment: string | null;
  reviewer: string | null;
  /** ISO 8601 time of the decision, when the tool recorded one. */
  reviewed_at: string | null;
  /** Where it came from, for reports: "decisions.json: task 3, annotation 12". */
  source: string;
}

/** The review tools a decisions file can come from. */
export type DecisionsFormat = 'label-studio' | 'argilla' | 'csv' | 'html';

/** Rating scale used by every export (Label Studio maxRating, Argilla rating values, the page). */
export const RATING_MAX = 5;

const ACCEPT = new Set(['accept', 'accepted', 'yes', 'y', 'o', 'ok', 'true', 'pass', 'keep', '수락', '승인', '통과', '채택', '예', '네']);
const REJECT = new Set(['reject', 'rejected', 'no', 'n', 'x', 'false', 'fail', 'drop', '거절', '거부', '반려', '탈락', '아니오', '아니요']);

/**
 * Reads an accept / reject value as reviewers type it (English or Korean, any case, the label
 * text "수락 (accept)"). Returns null for an empty value and undefined for anything else.
 */
export function normalizeDecision(v: unknown): ReviewDecision | null | undefined {
  if (v === null || v === undefined) return null;
  if (typeof v === 'boolean') return v ? 'accept' : 'reject';
  if (Array.isArray(v)) {
    if (v.length === 0) return null;
    if (v.length === 1) return normalizeDecision(v[0]);
    return undefined;
  }
  if (typeof v !== 'string') return undefined;
  const s = v.trim().toLowerCase();
  if (s === '') return null;
  if (ACCEPT.has(s)) return 'accept';
  if (REJECT.has(s)) return 'reject';
  // "수락 (accept)" / "accept - 수락": any word of the text that is known and unambiguous.
  const words = s.split(/[\s()[\]\/,:;|-]+/).filter(Boolean);
  const a = words.some((w) => ACCEPT.has(w));
  const r = words.some((w) => REJECT.has(w));
  if (a !== r) return a ? 'accept' : 'reject';
  return undefined;
}

/** A rating 1..RATING_MAX from a number or numeric text; null when empty; UserError otherwise. */
export function normalizeRating(v: unknown, where: string): number | null {
  if (v === null || v === undefined || v === '') return null;
  const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v.trim()) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > RATING_MAX) {
    throw new UserError(`${where}: rating must be an integer from 1 to ${RATING_MAX}, got ${JSON.stringify(v)}`);
  }
  return n;
}

/** A decision value or a UserError naming where it is and what is accepted. */
export function requireDecision(v: unknown, where: string): ReviewDecision | null {
  const d = normalizeDecision(v);
  if (d === undefined) {
    throw new UserError(`${where}: unknown decision ${JSON.stringify(v)}, expected accept or reject (수락 / 거절)`);
  }
  return d;
}

export function textOrNull(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  const s = typeof v === 'string' ? v : String(v);
  return s.trim() === '' ? null : s;
}

/** Normalizes a timestamp to ISO 8601 when it parses; keeps the text otherwise. */
export function timeOrNull(v: unknown): string | null {
  const s = textOrNull(v);
  if (s === null) return null;
  const t = Date.parse(s);
  return Number.isFinite(t) ? new Date(t).toISOString() : s;
}
