/**
 * Repetition measures (after Gopher / RefinedWeb quality filters), adapted to Korean where
 * words are whitespace-separated eojeol: duplicated lines, characters covered by duplicated
 * word n-grams, the share of the most frequent n-gram, and the longest run of one character.
 */

function nonEmptyLines(text: string): string[] {
  return text.split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
}

/** Fraction of non-empty lines that repeat an earlier line. Table separator rows are ignored. */
export function duplicateLineFraction(text: string): number {
  const lines = nonEmptyLines(text).filter((l) => !/^\|?[\s:|-]+\|?$/.test(l) && !/^(```|~~~)/.test(l));
  if (lines.length < 2) return 0;
  const seen = new Set<string>();
  let dup = 0;
  for (const l of lines) {
    if (seen.has(l)) dup++;
    else seen.add(l);
  }
  return dup / lines.length;
}

export function words(text: string): string[] {
  return text.split(/\s+/).filter((w) => w.length > 0);
}

/**
 * Fraction of characters (of all word characters) covered by word n-grams that occur more than
 * once (Gopher's "duplicate n-gram character fraction"). Overlapping duplicate n-grams count
 * each word once.
 */
export function duplicateNgramCharFraction(text: string, n: number): number {
  const ws = words(text);
  if (ws.length < n + 1) return 0;
  const total = ws.reduce((a, w) => a + w.length, 0);
  const firstSeen = new Map<string, number>();
  const covered = new Uint8Array(ws.length);
  for (let i = 0; i + n <= ws.length; i++) {
    const key = ws.slice(i, i + n).join(' ');
    const prev = firstSeen.get(key);
    if (prev === undefined) {
      firstSeen.set(key, i);
    } else {
      for (let j = i; j < i + n; j++) covered[j] = 1;
      for (let j = prev; j < prev + n; j++) covered[j] = 1;
    }
  }
  let dupChars = 0;
  for (let i = 0; i < ws.length; i++) if (covered[i]) dupChars += ws[i].length;
  return total === 0 ? 0 : dupChars / total;
}

/** Characters of the most frequent word n-gram times its count, over all word characters. */
export function topNgramCharFraction(text: string, n: number): number {
  const ws = words(text);
  if (ws.length < n * 2) return 0;
  const total = ws.reduce((a, w) => a + w.length, 0);
  const counts = new Map<string, number>();
  let best = 0;
  let bestLen = 0;
  for (let i = 0; i + n <= ws.length; i++) {
    const key = ws.slice(i, i + n).join(' ');
    const c = (counts.get(key) ?? 0) + 1;
    counts.set(key, c);
    const len = key.length - (n - 1);
    if (c > 1 && c * len > best * bestLen) {
      best = c;
      bestLen = len;
    }
  }
  return total === 0 ? 0 : (best * bestLen) / total;
}

/** Longest run of one repeated character, ignoring whitespace ("ㅋㅋㅋㅋㅋ" -> 5). */
export function longestCharRun(text: string): number {
  let best = 0;
  let run = 0;
  let prev = '';
  for (const ch of text) {
    if (/\s/.test(ch)) continue;
    if (ch === prev) run++;
    else {
      run = 1;
      prev = ch;
    }
    if (run > best) best = run;
  }
  return best;
}

/**
 * Fraction of the text covered by a substring (at least `minLen` characters) that immediately
 * repeats itself back to back: the degenerate loop of a model stuck on one phrase
 * ("좋습니다. 좋습니다. 좋습니다."), found without relying on whitespace.
 */
export function tandemRepeatFraction(text: string, minLen = 4, maxLen = 80): number {
  const t = text.replace(/\s+/g, ' ');
  const n = t.length;
  if (n < minLen * 3) return 0;
  const codes = new Uint16Array(n);
  for (let i = 0; i < n; i++) codes[i] = t.charCodeAt(i);
  const covered = new Uint8Array(n);
  const top = Math.min(maxLen, Math.floor(n / 3));
  for (let L = minLen; L <= top; L++) {
    // run = how many consecutive positions j satisfy t[j] == t[j+L]; once run >= 2L the span
    // [i-run+1, i+L] has period L and length >= 3L: a phrase repeated 3+ times back to back.
    let run = 0;
    let markedTo = -1;
    for (let i = 0; i + L < n; i++) {
      if (codes[i] === codes[i + L]) {
        run++;
        if (run >= 2 * L) {
          const from = Math.max(i - run + 1, markedTo + 1);
          const to = i + L;
          if (from <= to) covered.fill(1, from, to + 1);
          markedTo = to;
        }
      } else {
        run = 0;
      }
    }
  }
  let c = 0;
  for (let k = 0; k < n; k++) c += covered[k];
  return c / n;
}
