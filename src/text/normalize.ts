/**
 * Unicode and whitespace normalization for Korean text.
 *
 * Always NFC, never NFKC: NFKC rewrites compatibility characters (full-width forms, circled
 * numbers, compatibility jamo) which changes what a Korean BPE tokenizer sees. Whitespace and
 * control characters are cleaned line by line, but markdown structure is kept: indentation
 * (nested lists, code), table rows, and everything inside fenced code blocks stay as they are.
 */

/** Zero-width characters that carry no meaning in text (ZWNJ/ZWJ are kept: emoji sequences use them). */
const ZERO_WIDTH = /[\u200B\u2060\uFEFF\u00AD]/g;
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
  let s = nfc(text).replace(/\r\n?/g, '\n').replace(CONTROL, '').replace(ZERO_WIDTH, '');
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
