/**
 * PII detection and masking for Korean text: e-mail addresses, Korean mobile and landline
 * numbers (+82 forms too), resident registration numbers (주민등록번호: birth date + gender digit
 * + checksum), card numbers (Luhn), and IPv4/IPv6 addresses. Masking replaces each span with a
 * typed placeholder: [EMAIL], [PHONE], [RRN], [CARD], [IP].
 */
import { isIPv4, isIPv6 } from 'node:net';

export type PiiType = 'EMAIL' | 'PHONE' | 'RRN' | 'CARD' | 'IP';
export const PII_TYPES: readonly PiiType[] = ['EMAIL', 'PHONE', 'RRN', 'CARD', 'IP'];

export interface PiiSpan {
  type: PiiType;
  start: number;
  end: number;
  text: string;
}

export interface PiiOptions {
  /** Which types to look for (default all). */
  types?: readonly PiiType[];
  /**
   * Resident registration numbers must pass the checksum (default true). Numbers issued since
   * October 2020 have random trailing digits; set false to flag every well-formed
   * `YYMMDD-Gxxxxxx` with a valid date instead.
   */
  rrnChecksum?: boolean;
}

const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g;
// Mobile: 010/011/016/017/018/019; landline: 02, 031-033, 041-044, 051-055, 061-064, 070 (VoIP).
const PHONE =
  /(?<![\d-])(?:(?:\+82[ -]?|\(\+82\)\s?)(?:0?1[016789]|0?2|0?[3-6][1-5]|0?70)|01[016789]|02|0[3-6][1-5]|070)(?:[ .-]?|\)\s?)\d{3,4}[ .-]?\d{4}(?![\d-])/g;
const PHONE_PAREN = /(?<![\d-])\((?:02|0[3-6][1-5]|070|01[016789])\)\s?\d{3,4}[ .-]?\d{4}(?![\d-])/g;
const RRN = /(?<!\d)(\d{2})(\d{2})(\d{2})\s?-?\s?([1-8])(\d{6})(?!\d)/g;
const CARD = /(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])/g;
const IPV4 = /(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.]|\.\d)/g;
const IPV6 = /(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{0,4}|(?:\d{1,3}\.){3}\d{1,3})(?![0-9A-Fa-f:])/g;

export function luhnValid(digits: string): boolean {
  let sum = 0;
  let dbl = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (dbl) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    dbl = !dbl;
  }
  return digits.length >= 13 && sum % 10 === 0;
}

/** 주민등록번호 checksum: weights 2,3,4,5,6,7,8,9,2,3,4,5 over the first 12 digits. */
export function rrnChecksumValid(digits13: string): boolean {
  if (!/^\d{13}$/.test(digits13)) return false;
  const w = [2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5];
  let sum = 0;
  for (let i = 0; i < 12; i++) sum += (digits13.charCodeAt(i) - 48) * w[i];
  return (11 - (sum % 11)) % 10 === digits13.charCodeAt(12) - 48;
}

function rrnDateValid(yy: string, mm: string, dd: string, g: string): boolean {
  const century = g === '1' || g === '2' || g === '5' || g === '6' ? 1900 : g === '9' || g === '0' ? 1800 : 2000;
  const y = century + Number(yy);
  const m = Number(mm);
  const d = Number(dd);
  if (m < 1 || m > 12 || d < 1) return false;
  const days = new Date(Date.UTC(y, m, 0)).getUTCDate();
  return d <= days;
}

/** All PII spans, sorted by position, overlaps resolved (earlier type in EMAIL>RRN>CARD>PHONE>IP wins). */
export function findPii(text: string, opts: PiiOptions = {}): PiiSpan[] {
  const want = new Set(opts.types ?? PII_TYPES);
  const requireChecksum = opts.rrnChecksum ?? true;
  const found: PiiSpan[] = [];
  const add = (type: PiiType, m: RegExpExecArray) => found.push({ type, start: m.index, end: m.index + m[0].length, text: m[0] });
  const scan = (re: RegExp, fn: (m: RegExpExecArray) => void) => {
    re.lastIndex = 0;
    for (let m = re.exec(text); m; m = re.exec(text)) fn(m);
  };
  if (want.has('EMAIL')) scan(EMAIL, (m) => add('EMAIL', m));
  if (want.has('RRN')) {
    scan(RRN, (m) => {
      const [, yy, mm, dd, g, rest] = m;
      if (!rrnDateValid(yy, mm, dd, g)) return;
      const hyphen = /-/.test(m[0]);
      const ok = rrnChecksumValid(`${yy}${mm}${dd}${g}${rest}`) || (!requireChecksum && hyphen);
      if (ok) add('RRN', m);
    });
  }
  if (want.has('CARD')) {
    scan(CARD, (m) => {
      const digits = m[0].replace(/[ -]/g, '');
      if (digits.length >= 13 && digits.length <= 19 && luhnValid(digits)) add('CARD', m);
    });
  }
  if (want.has('PHONE')) {
    scan(PHONE, (m) => add('PHONE', m));
    scan(PHONE_PAREN, (m) => add('PHONE', m));
  }
  if (want.has('IP')) {
    scan(IPV4, (m) => {
      if (isIPv4(m[0])) add('IP', m);
    });
    scan(IPV6, (m) => {
      // Require at least one hex letter or "::" so times like 12:30:45 are not addresses.
      // At least three non-empty groups, so "::", "[::-1]" slices or times like 12:30:45 are not addresses.
      const groups = m[0].split(':').filter((g) => g.length > 0).length;
      if (isIPv6(m[0]) && groups >= 3 && (/::/.test(m[0]) || m[0].split(':').length === 8)) add('IP', m);
    });
  }
  const order: Record<PiiType, number> = { EMAIL: 0, RRN: 1, CARD: 2, PHONE: 3, IP: 4 };
  found.sort((a, b) => a.start - b.start || order[a.type] - order[b.type] || b.end - a.end);
  const out: PiiSpan[] = [];
  for (const s of found) {
    const last = out[out.length - 1];
    if (last && s.start < last.end) {
      if (order[s.type] < order[last.type]) out[out.length - 1] = s;
      continue;
    }
    out.push(s);
  }
  return out;
}

/** Replaces every PII span with its typed placeholder ([EMAIL], [PHONE], ...). */
export function maskPii(text: string, opts: PiiOptions = {}): { text: string; spans: PiiSpan[] } {
  const spans = findPii(text, opts);
  if (spans.length === 0) return { text, spans };
  let out = '';
  let pos = 0;
  for (const s of spans) {
    out += text.slice(pos, s.start) + `[${s.type}]`;
    pos = s.end;
  }
  return { text: out + text.slice(pos), spans };
}
