/**
 * Hashed text features for the embedded toxicity classifier: character n-grams (minN..maxN; 1-3 by default, chosen by 5-fold CV on train) over
 * the NFC-normalized, lower-cased text with a space at each end, plus whitespace-separated word
 * unigrams, optionally Hangul jamo n-grams and 초성 n-grams (see FeatureConfig), hashed (FNV-1a,
 * 32 bit) into a fixed number of buckets. Values are log(1 + count),
 * and the vector is L2-normalized, so long and short comments live on the same scale.
 *
 * The same function is used in training and in scoring; the model header records the config,
 * so a model always scores with the features it was trained on.
 */

export interface FeatureConfig {
  /** log2 of the number of hash buckets (e.g. 18 -> 262,144 weights). */
  bucketBits: number;
  /** Smallest character n-gram length. */
  minN: number;
  /** Largest character n-gram length. */
  maxN: number;
  /** Add whitespace-separated word unigrams. */
  words: boolean;
  /** Runs of the same character longer than this are cut to this length (ㅋㅋㅋㅋㅋ -> ㅋㅋㅋ). */
  maxRepeat: number;
  /**
   * Jamo n-grams: Hangul syllables decomposed into 초성/중성/종성 (as compatibility jamo, so
   * 시발 and ㅅㅣㅂㅏㄹ share features), spaces removed (시 발 = 시발), n = minN..maxN.
   */
  jamo?: { minN: number; maxN: number };
  /**
   * 초성 n-grams: each Hangul syllable reduced to its initial consonant, lone consonant jamo kept
   * (ㅅㅂ = 시발 = 시 발 = 씨 발 minus the tense ㅆ), spaces removed, other characters cut the run.
   */
  choseong?: { minN: number; maxN: number };
}

export const DEFAULT_FEATURES: FeatureConfig = { bucketBits: 18, minN: 1, maxN: 3, words: true, maxRepeat: 3 };

/** The features of the committed model: char 1-3-grams, words, jamo 2-4-grams, 초성 2-3-grams, 2^20 buckets. */
export const JAMO_FEATURES: FeatureConfig = { ...DEFAULT_FEATURES, bucketBits: 20, jamo: { minN: 2, maxN: 4 }, choseong: { minN: 2, maxN: 3 } };

const CHO = [0x3131, 0x3132, 0x3134, 0x3137, 0x3138, 0x3139, 0x3141, 0x3142, 0x3143, 0x3145, 0x3146, 0x3147, 0x3148, 0x3149, 0x314a, 0x314b, 0x314c, 0x314d, 0x314e];
const JONG = [0, 0x3131, 0x3132, 0x3133, 0x3134, 0x3135, 0x3136, 0x3137, 0x3139, 0x313a, 0x313b, 0x313c, 0x313d, 0x313e, 0x313f, 0x3140, 0x3141, 0x3142, 0x3144, 0x3145, 0x3146, 0x3147, 0x3148, 0x314a, 0x314b, 0x314c, 0x314d, 0x314e];

/** Decomposes Hangul syllables into compatibility jamo (초성, 중성, 종성); other characters pass. */
export function toJamo(text: string): string {
  let out = '';
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    if (c >= 0xac00 && c <= 0xd7a3) {
      const s = c - 0xac00;
      out += String.fromCharCode(CHO[Math.floor(s / 588)]!, 0x314f + Math.floor((s % 588) / 28));
      const t = s % 28;
      if (t > 0) out += String.fromCharCode(JONG[t]!);
    } else out += ch;
  }
  return out;
}

/** The 초성 skeleton: syllable -> initial consonant, consonant jamo kept, spaces dropped, else '|'. */
export function toChoseong(text: string): string {
  let out = '';
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    if (c >= 0xac00 && c <= 0xd7a3) out += String.fromCharCode(CHO[Math.floor((c - 0xac00) / 588)]!);
    else if (c >= 0x3131 && c <= 0x314e) out += ch;
    else if (ch !== ' ' && !out.endsWith('|')) out += '|';
  }
  return out;
}

export interface SparseVector {
  /** Bucket ids, ascending, unique. */
  idx: Uint32Array;
  /** Values, same length as idx. */
  val: Float32Array;
}

/** NFC, lower case, whitespace collapsed to one space, long character runs shortened. */
export function normalizeText(text: string, maxRepeat: number): string {
  const s = text.normalize('NFC').toLowerCase().replace(/\s+/gu, ' ').trim();
  let out = '';
  let prev = '';
  let run = 0;
  for (const ch of s) {
    run = ch === prev ? run + 1 : 1;
    prev = ch;
    if (run <= maxRepeat) out += ch;
  }
  return out;
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

function fnvStep(h: number, code: number): number {
  // Two bytes per UTF-16 code unit.
  h ^= code & 0xff;
  h = Math.imul(h, FNV_PRIME);
  h ^= code >>> 8;
  h = Math.imul(h, FNV_PRIME);
  return h >>> 0;
}

/** Extracts the hashed, L2-normalized feature vector of one text. */
export function extractFeatures(text: string, cfg: FeatureConfig = DEFAULT_FEATURES): SparseVector {
  const norm = normalizeText(text, cfg.maxRepeat);
  const mask = (1 << cfg.bucketBits) - 1;
  const counts = new Map<number, number>();
  const add = (h: number): void => {
    const b = h & mask;
    counts.set(b, (counts.get(b) ?? 0) + 1);
  };
  // Code points, not UTF-16 units, so an emoji is one character.
  const chars = Array.from(` ${norm} `);
  const codes = chars.map((c) => c.codePointAt(0)!);
  for (let i = 0; i < codes.length; i++) {
    // Seed with a marker so char n-grams never share a hash with word features.
    let h = fnvStep(FNV_OFFSET, 0x0001);
    for (let n = 1; n <= cfg.maxN && i + n <= codes.length; n++) {
      const c = codes[i + n - 1]!;
      h = fnvStep(h, c & 0xffff);
      if (c > 0xffff) h = fnvStep(h, c >>> 16);
      if (n >= cfg.minN) add(h);
    }
  }
  if (cfg.words && norm.length > 0) {
    for (const w of norm.split(' ')) {
      let h = fnvStep(FNV_OFFSET, 0x0002);
      for (let k = 0; k < w.length; k++) h = fnvStep(h, w.charCodeAt(k));
      add(h);
    }
  }
  const grams = (codes: number[], marker: number, minN: number, maxN: number): void => {
    for (let i = 0; i < codes.length; i++) {
      let h = fnvStep(FNV_OFFSET, marker);
      for (let n = 1; n <= maxN && i + n <= codes.length; n++) {
        h = fnvStep(h, codes[i + n - 1]!);
        if (n >= minN) add(h);
      }
    }
  };
  if (cfg.jamo) {
    const j = toJamo(norm.replace(/ /g, ''));
    grams(Array.from(j, (c) => c.charCodeAt(0)), 0x0003, cfg.jamo.minN, cfg.jamo.maxN);
  }
  if (cfg.choseong) {
    const j = toChoseong(norm);
    grams(Array.from(j, (c) => c.charCodeAt(0)), 0x0004, cfg.choseong.minN, cfg.choseong.maxN);
  }
  const keys = [...counts.keys()].sort((a, b) => a - b);
  const idx = new Uint32Array(keys);
  const val = new Float32Array(keys.length);
  let sq = 0;
  for (let k = 0; k < keys.length; k++) {
    const v = Math.log1p(counts.get(keys[k]!)!);
    val[k] = v;
    sq += v * v;
  }
  const inv = sq > 0 ? 1 / Math.sqrt(sq) : 0;
  for (let k = 0; k < val.length; k++) val[k] = val[k]! * inv;
  return { idx, val };
}
