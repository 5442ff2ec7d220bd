/**
 * MinHash signatures over character n-grams and banded LSH (datatrove defaults: 14 bands x 8 rows
 * on 5-grams, which puts the 50% detection point near Jaccard 0.72). Seeded and deterministic:
 * the same seed and text always give the same signature, on every machine.
 *
 * Each shingle is hashed once to 32 bits (FNV-1a over code points, then murmur3's finalizer);
 * permutation i is a cheap xor-multiply-xorshift of (h ^ salt_i), salts drawn from a seeded PRNG.
 */

export interface MinHashOptions {
  bands?: number;
  rows?: number;
  ngram?: number;
  seed?: number;
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** splitmix32-style PRNG for the salts. */
function saltsFor(seed: number, n: number): Uint32Array {
  const out = new Uint32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (s + 0x9e3779b9) >>> 0;
    out[i] = fmix32(s ^ 0x5bd1e995);
  }
  return out;
}

export class MinHasher {
  readonly bands: number;
  readonly rows: number;
  readonly ngram: number;
  readonly numPerm: number;
  private readonly salts: Uint32Array;

  constructor(opts: MinHashOptions = {}) {
    this.bands = opts.bands ?? 14;
    this.rows = opts.rows ?? 8;
    this.ngram = opts.ngram ?? 5;
    this.numPerm = this.bands * this.rows;
    this.salts = saltsFor(opts.seed ?? 42, this.numPerm);
  }

  /**
   * The signature of a text's character n-grams. Shingles are taken over code points with a
   * rolling window; a text shorter than n is one shingle (kept comparable, never skipped).
   */
  signature(text: string): Uint32Array {
    const sig = new Uint32Array(this.numPerm).fill(0xffffffff);
    const cps = new Int32Array(text.length);
    let len = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.codePointAt(i)!;
      cps[len++] = c;
      if (c > 0xffff) i++;
    }
    if (len === 0) return sig;
    const n = Math.min(this.ngram, len);
    const salts = this.salts;
    const P = this.numPerm;
    // A repeated shingle cannot lower any minimum, so no de-duplication pass is needed.
    for (let i = 0; i + n <= len; i++) {
      let h = 0x811c9dc5;
      for (let k = i; k < i + n; k++) {
        h ^= cps[k];
        h = Math.imul(h, 0x01000193);
      }
      h = fmix32(h);
      for (let p = 0; p < P; p++) {
        let v = Math.imul(h ^ salts[p], 0x9e3779b1);
        v = (v ^ (v >>> 15)) >>> 0;
        if (v < sig[p]) sig[p] = v;
      }
    }
    return sig;
  }

  /** One numeric key per band (53-bit, from two independent 32-bit mixes of the band's rows). */
  bandKeys(sig: Uint32Array): number[] {
    const keys: number[] = new Array(this.bands);
    for (let b = 0; b < this.bands; b++) {
      let h1 = 0x9747b28c ^ b;
      let h2 = 0x1b873593 ^ b;
      for (let r = 0; r < this.rows; r++) {
        const v = sig[b * this.rows + r];
        h1 = fmix32(h1 ^ v);
        h2 = fmix32(Math.imul(h2, 31) + v);
      }
      keys[b] = (h1 & 0x1fffff) * 0x100000000 + h2;
    }
    return keys;
  }
}

/** Fraction of equal signature slots: an unbiased estimate of Jaccard similarity. */
export function estimateJaccard(a: Uint32Array, b: Uint32Array): number {
  let eq = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) eq++;
  return eq / a.length;
}

/**
 * Open-addressing hash table from a 53-bit band key to an item index, on typed arrays: one
 * table per band holds hundreds of thousands of keys without boxing a number per entry (a JS
 * Map with non-Smi keys allocates each key).
 */
class BandTable {
  private hi: Uint32Array;
  private lo: Uint32Array;
  private val: Int32Array;
  private mask: number;
  size = 0;

  constructor(capacity = 1024) {
    this.hi = new Uint32Array(capacity);
    this.lo = new Uint32Array(capacity);
    this.val = new Int32Array(capacity).fill(-1);
    this.mask = capacity - 1;
  }

  private slot(h: number, l: number): number {
    let i = fmix32(l ^ Math.imul(h, 0x9e3779b1)) & this.mask;
    while (this.val[i] !== -1 && (this.hi[i] !== h || this.lo[i] !== l)) i = (i + 1) & this.mask;
    return i;
  }

  get(key: number): number {
    const h = Math.floor(key / 0x100000000) >>> 0;
    const l = key >>> 0;
    return this.val[this.slot(h, l)];
  }

  /** Sets key -> value unless the key is present. */
  setIfAbsent(key: number, value: number): void {
    const h = Math.floor(key / 0x100000000) >>> 0;
    const l = key >>> 0;
    const i = this.slot(h, l);
    if (this.val[i] !== -1) return;
    this.hi[i] = h;
    this.lo[i] = l;
    this.val[i] = value;
    if (++this.size * 2 > this.val.length) this.grow();
  }

  private grow(): void {
    const { hi, lo, val } = this;
    const cap = val.length * 2;
    this.hi = new Uint32Array(cap);
    this.lo = new Uint32Array(cap);
    this.val = new Int32Array(cap).fill(-1);
    this.mask = cap - 1;
    for (let k = 0; k < val.length; k++) {
      if (val[k] === -1) continue;
      const i = this.slot(hi[k], lo[k]);
      this.hi[i] = hi[k];
      this.lo[i] = lo[k];
      this.val[i] = val[k];
    }
  }
}

/**
 * Streaming LSH index: `query` returns the cluster of the first earlier item sharing any band
 * bucket (or undefined); `insert` adds an item under its cluster id. One table per band.
 */
export class LshIndex {
  private readonly tables: BandTable[];
  private readonly clusterIds: string[] = [];

  constructor(readonly hasher: MinHasher) {
    this.tables = Array.from({ length: hasher.bands }, () => new BandTable());
  }

  query(keys: number[]): string | undefined {
    for (let b = 0; b < keys.length; b++) {
      const hit = this.tables[b].get(keys[b]);
      if (hit !== -1) return this.clusterIds[hit];
    }
    return undefined;
  }

  insert(keys: number[], clusterId: string): void {
    const idx = this.clusterIds.length;
    this.clusterIds.push(clusterId);
    for (let b = 0; b < keys.length; b++) this.tables[b].setIfAbsent(keys[b], idx);
  }

  get size(): number {
    return this.clusterIds.length;
  }
}
