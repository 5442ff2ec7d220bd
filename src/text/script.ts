/**
 * Script detection for Korean text: Hangul ratio, and code-switching (Hanja/Chinese,
 * Japanese kana, Cyrillic, Thai, ... inside a Korean answer — the known failure of multilingual
 * models answering in Korean). Code blocks, inline code and URLs are ignored, so a Korean
 * answer that contains a Python snippet is not counted as "Latin".
 */

export type Script =
  | 'hangul'
  | 'han'
  | 'kana'
  | 'latin'
  | 'cyrillic'
  | 'greek'
  | 'thai'
  | 'arabic'
  | 'hebrew'
  | 'devanagari'
  | 'other';

/** Script of one code point, or null for a non-letter (digit, punctuation, space, symbol, mark). */
export function scriptOf(cp: number): Script | null {
  if (cp < 0x80) {
    return (cp >= 0x41 && cp <= 0x5a) || (cp >= 0x61 && cp <= 0x7a) ? 'latin' : null;
  }
  if ((cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0x1100 && cp <= 0x11ff) || (cp >= 0x3131 && cp <= 0x318e) ||
      (cp >= 0xa960 && cp <= 0xa97f) || (cp >= 0xd7b0 && cp <= 0xd7ff)) return 'hangul';
  if ((cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf) || (cp >= 0xf900 && cp <= 0xfaff) ||
      (cp >= 0x20000 && cp <= 0x2ffff)) return 'han';
  if ((cp >= 0x3041 && cp <= 0x309f) || (cp >= 0x30a0 && cp <= 0x30ff && cp !== 0x30fb) || (cp >= 0x31f0 && cp <= 0x31ff) ||
      (cp >= 0xff66 && cp <= 0xff9d)) return 'kana';
  if ((cp >= 0xc0 && cp <= 0x24f && cp !== 0xd7 && cp !== 0xf7) || (cp >= 0x1e00 && cp <= 0x1eff) ||
      (cp >= 0xff21 && cp <= 0xff3a) || (cp >= 0xff41 && cp <= 0xff5a)) return 'latin';
  if (cp >= 0x400 && cp <= 0x52f) return 'cyrillic';
  if (cp >= 0x370 && cp <= 0x3ff) return 'greek';
  if (cp >= 0xe00 && cp <= 0xe7f) return 'thai';
  if ((cp >= 0x600 && cp <= 0x6ff) || (cp >= 0x750 && cp <= 0x77f)) return 'arabic';
  if (cp >= 0x590 && cp <= 0x5ff) return 'hebrew';
  if (cp >= 0x900 && cp <= 0x97f) return 'devanagari';
  // Other letters (Unicode property check only for the rare remainder).
  return /\p{L}/u.test(String.fromCodePoint(cp)) ? 'other' : null;
}

/**
 * Removes fenced code blocks, inline code, URLs, e-mail addresses and PII placeholders
 * ([EMAIL], [PHONE], ...): they are not prose, and their Latin letters say nothing about the
 * language of the answer.
 */
export function stripCodeAndUrls(text: string): string {
  return text
    .replace(/(^|\n)\s{0,3}(```|~~~)[^\n]*\n[\s\S]*?(\n\s{0,3}\2[^\n]*(?=\n|$)|$)/g, '\n')
    .replace(/`[^`\n]+`/g, ' ')
    .replace(/\b(?:https?|ftp):\/\/[^\s)>\]]+/g, ' ')
    .replace(/\bwww\.[^\s)>\]]+/g, ' ')
    .replace(/[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g, ' ')
    .replace(/\[(?:EMAIL|PHONE|RRN|CARD|IP)\]/g, ' ');
}

export interface ScriptCounts {
  /** Letters per script. */
  counts: Partial<Record<Script, number>>;
  /** All letters counted. */
  letters: number;
}

export function countScripts(text: string, opts: { ignoreCode?: boolean } = {}): ScriptCounts {
  const t = opts.ignoreCode === false ? text : stripCodeAndUrls(text);
  const counts: Partial<Record<Script, number>> = {};
  let letters = 0;
  for (let i = 0; i < t.length; i++) {
    let cp = t.charCodeAt(i);
    if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < t.length) {
      cp = t.codePointAt(i)!;
      i++;
    }
    const s = scriptOf(cp);
    if (s === null) continue;
    letters++;
    counts[s] = (counts[s] ?? 0) + 1;
  }
  return { counts, letters };
}

/** Hangul letters / all letters (code and URLs ignored). 0 for text without letters. */
export function hangulRatio(text: string): number {
  const { counts, letters } = countScripts(text);
  return letters === 0 ? 0 : (counts.hangul ?? 0) / letters;
}

/** The most frequent script among letters, or null for text without letters. */
export function dominantScript(text: string): Script | null {
  const { counts } = countScripts(text);
  let best: Script | null = null;
  let n = 0;
  for (const [s, c] of Object.entries(counts) as [Script, number][]) {
    if (c > n) {
      n = c;
      best = s;
    }
  }
  return best;
}

export interface CodeSwitch {
  /** Foreign-script letters / all letters. */
  rate: number;
  /** Foreign letters per script. */
  byScript: Partial<Record<Script, number>>;
  /** The foreign runs found (first few), e.g. ["非常", "ですね"]. */
  samples: string[];
}

export interface CodeSwitchOptions {
  /** Count Latin letters as foreign too (off by default: English terms are normal in Korean prose). */
  countLatin?: boolean;
  /** Scripts that are never foreign (default: hangul). */
  allow?: Script[];
  /**
   * Ignore Hanja glosses in parentheses right after a Korean word, as in "훈민정음(訓民正音)":
   * standard Korean style, not a model drifting into Chinese (default true).
   */
  allowHanjaGloss?: boolean;
}

/** "단어(漢字)" glosses: Han characters (and spaces / middle dots) in parentheses after Hangul. */
const HANJA_GLOSS = /([\uAC00-\uD7A3])\s?[(（][\p{Script=Han}\s·,]+[)）]/gu;

/**
 * Code-switching inside a Korean text: the share of letters written in a script other than
 * Hangul (and Latin, unless countLatin) — Hanja/Chinese, Japanese kana, Cyrillic, Thai, etc.
 */
export function codeSwitch(text: string, opts: CodeSwitchOptions = {}): CodeSwitch {
  const allow = new Set<Script>(opts.allow ?? ['hangul']);
  if (!opts.countLatin) allow.add('latin');
  let t = stripCodeAndUrls(text);
  if (opts.allowHanjaGloss !== false) t = t.replace(HANJA_GLOSS, '$1');
  const byScript: Partial<Record<Script, number>> = {};
  const samples: string[] = [];
  let letters = 0;
  let foreign = 0;
  let run = '';
  const flush = () => {
    if (run && samples.length < 5) samples.push(run);
    run = '';
  };
  for (const ch of t) {
    const s = scriptOf(ch.codePointAt(0)!);
    if (s === null) {
      if (run && /\s/.test(ch)) flush();
      continue;
    }
    letters++;
    if (allow.has(s)) {
      flush();
      continue;
    }
    foreign++;
    byScript[s] = (byScript[s] ?? 0) + 1;
    run += ch;
  }
  flush();
  return { rate: letters === 0 ? 0 : foreign / letters, byScript, samples };
}
