/**
 * Unicode and whitespace normalization for Korean text.
 *
 * Always NFC, never NFKC: NFKC rewrites compatibility characters (full-width forms, circled
 * numbers, compatibility jamo) which changes what a Korean BPE tokenizer sees. Whitespace and
 * control characters are cleaned line by line, but markdown structure is kept: indentation
 * (nested lists, code), table rows, and everything inside fenced code blocks stay as they are.
 */

/**
 * Invisible characters that carry no meaning in Korean text: zero-width space / no-break,
 * invisible operators, soft hyphen, bidi marks and embeddings / isolates (used to hide or
 * reorder text), the combining grapheme joiner and the Hangul fillers.
 */
const ZERO_WIDTH = /[\u200B\u2060-\u2064\uFEFF\u00AD\u180E\u034F\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069\u115F\u1160\u3164\uFFA0]/g;
/**
 * ZWJ / ZWNJ are kept only where they join something: next to an emoji (👩‍💻) or inside a
 * script that uses them (Persian, Indic); between Hangul, Latin, digits or spaces they only hide
 * text from matching, and are removed.
 */
const JOINS = /[\p{Extended_Pictographic}\p{Emoji_Modifier}\uFE0F\u20E3\p{Script=Arabic}\p{Script=Devanagari}\p{Script=Bengali}\p{Script=Tamil}\p{Script=Telugu}\p{Script=Kannada}\p{Script=Malayalam}\p{Script=Gujarati}\p{Script=Gurmukhi}\p{Script=Oriya}\p{Script=Sinhala}]/u;

function dropLooseJoiners(s: string): string {
  if (!/[\u200C\u200D]/.test(s)) return s;
  return s.replace(/[\u200C\u200D]/g, (m, at: number) => {
    const lo = s.charCodeAt(at - 1);
    const before = at > 0 ? (lo >= 0xdc00 && lo <= 0xdfff && at > 1 ? s.slice(at - 2, at) : s[at - 1]!) : '';
    const cp = s.codePointAt(at + 1);
    const after = cp === undefined ? '' : String.fromCodePoint(cp);
    return JOINS.test(before) || JOINS.test(after) ? m : '';
  });
}

/** C0 controls except tab/newline/CR, DEL, and C1 controls. */
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/g;
/** Unicode space separators (NBSP, en/em spaces, ideographic space, ...) become a plain space. */
const ODD_SPACE = /[\u00A0\u1680\u2000-\u200A\u202F\u205F\u3000]/g;
const FENCE = /^\s{0,3}(```|~~~)/;

export function nfc(text: string): string {
  return text.normalize('NFC');
}

export interface CleanOptions {
  /** Collapse runs of more than this many blank lines (outside code blocks). Default 1. */
  maxBlankLines?: number;
}

/**
 * NFC + control/zero-width removal + line ending normalization + trailing whitespace removal
 * + blank-line collapsing. Lines inside ``` / ~~~ fences are kept byte for byte (after NFC and
 * control removal); leading indentation is never touched.
 */
export function cleanText(text: string, opts: CleanOptions = {}): string {
  const maxBlank = opts.maxBlankLines ?? 1;
  let s = dropLooseJoiners(nfc(text).replace(/\r\n?/g, '\n').replace(CONTROL, '').replace(ZERO_WIDTH, ''));
  const lines = s.split('\n');
  const out: string[] = [];
  let inFence = false;
  let blankRun = 0;
  for (const raw of lines) {
    if (FENCE.test(raw)) {
      inFence = !inFence;
      blankRun = 0;
      out.push(raw.replace(/[ \t]+$/, ''));
      continue;
    }
    if (inFence) {
      out.push(raw);
      continue;
    }
    const line = raw.replace(ODD_SPACE, ' ').replace(/[ \t]+$/, '');
    if (line === '') {
      blankRun++;
      if (blankRun > maxBlank) continue;
    } else {
      blankRun = 0;
    }
    out.push(line);
  }
  s = out.join('\n');
  // Trim blank lines at both ends, but keep the first line's indentation.
  return s.replace(/^(?:[ \t]*\n)+/, '').replace(/\s+$/, '');
}

/**
 * Text form used for hashing and near-duplicate detection: NFC, lowercase, punctuation and
 * symbols removed, whitespace collapsed. Two answers that differ only in spacing, punctuation or
 * case map to the same key.
 */
export function simplifyForDedup(text: string): string {
  return nfc(text)
    .toLowerCase()
    .replace(/[\p{P}\p{S}]+/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}
