/** Character n-grams (shingles). Korean has no reliable word boundaries, so dedup works on characters. */

/**
 * The distinct character n-grams of `text` (code points, not UTF-16 units). A text shorter than
 * n yields itself as its single shingle, so short items stay comparable instead of being dropped.
 */
export function charNgrams(text: string, n: number): string[] {
  const cps = Array.from(text);
  if (cps.length === 0) return [];
  if (cps.length <= n) return [text];
  const out = new Set<string>();
  for (let i = 0; i + n <= cps.length; i++) out.add(cps.slice(i, i + n).join(''));
  return [...out];
}

/** Jaccard similarity of two shingle sets. */
export function jaccard(a: Iterable<string>, b: Iterable<string>): number {
  const sa = new Set(a);
  const sb = new Set(b);
  if (sa.size === 0 && sb.size === 0) return 1;
  let inter = 0;
  for (const x of sa) if (sb.has(x)) inter++;
  return inter / (sa.size + sb.size - inter);
}
