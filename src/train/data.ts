/**
 * Training data plumbing shared by the SFT and KTO trainers: tokenized examples, packing of short
 * examples into one sequence, collation with right padding, and the epoch / micro-batch order
 * (shuffled per epoch from the seed, so a data position {epoch, micro} is all a checkpoint needs).
 *
 * Labels are aligned with input_ids (Hugging Face convention): label[t] is the token at t, the
 * loss predicts it from position t-1, and -100 means "not trained".
 */
import { Rng } from './rng.ts';

export const IGNORE_INDEX = -100;

export interface TokenizedExample {
  input_ids: number[];
  labels: number[];
}

/** One row of a batch: one example, or several packed back to back. */
export interface Unit {
  input_ids: number[];
  labels: number[];
  /** Lengths of the packed segments (one entry = not packed). */
  segments: number[];
}

/** Truncates to maxLength and wraps one example as an unpacked unit. */
export function toUnit(ex: TokenizedExample, maxLength: number): Unit {
  const n = Math.min(ex.input_ids.length, maxLength);
  return { input_ids: ex.input_ids.slice(0, n), labels: ex.labels.slice(0, n), segments: [n] };
}

/**
 * Packs examples, in the given order, greedily into sequences of at most maxLength tokens
 * (an example that does not fit in the current sequence starts the next one; longer examples are
 * truncated). The first label of every segment is -100: it would otherwise be predicted from the
 * previous example's last token. Attention is kept inside each segment by the segment ids and
 * the restarting position ids that `collate` builds from `segments`.
 */
export function packExamples(examples: TokenizedExample[], maxLength: number): Unit[] {
  const out: Unit[] = [];
  let cur: Unit | undefined;
  for (const ex of examples) {
    const n = Math.min(ex.input_ids.length, maxLength);
    if (n === 0) continue;
    if (!cur || cur.input_ids.length + n > maxLength) {
      cur = { input_ids: [], labels: [], segments: [] };
      out.push(cur);
    }
    cur.input_ids.push(...ex.input_ids.slice(0, n));
    const lab = ex.labels.slice(0, n);
    lab[0] = IGNORE_INDEX;
    cur.labels.push(...lab);
    cur.segments.push(n);
  }
  return out;
}

export interface Batch {
  /** Rows and padded length. */
  B: number;
  T: number;
  /** [B*T] token ids, right-padded with padId. */
  ids: Int32Array;
  /** [B*T] labels aligned with ids; -100 on padding. */
  labels: Int32Array;
  /** [B*T] 1-based segment id of each token, 0 on padding (present when any row is packed). */
  segmentIds?: Int32Array;
  /** [B*T] position of each token inside its segment (present when any row is packed). */
  positionIds?: Int32Array;
  /** [B*T] length of the segment (example) each token belongs to, 0 on padding (NEFTune's L). */
  tokenSegLen: Float32Array;
  /** Number of trained targets: labels[t] != -100 for t >= 1 within a row. */
  trainedTokens: number;
}

/** Right-pads units into one batch. */
export function collate(units: Unit[], padId = 0): Batch {
  const B = units.length;
  const T = Math.max(1, ...units.map((u) => u.input_ids.length));
  const packed = units.some((u) => u.segments.length > 1);
  const ids = new Int32Array(B * T).fill(padId);
  const labels = new Int32Array(B * T).fill(IGNORE_INDEX);
  const segmentIds = packed ? new Int32Array(B * T) : undefined;
  const positionIds = packed ? new Int32Array(B * T) : undefined;
  const tokenSegLen = new Float32Array(B * T);
  let trained = 0;
  units.forEach((u, b) => {
    const base = b * T;
    for (let t = 0; t < u.input_ids.length; t++) {
      ids[base + t] = u.input_ids[t];
      labels[base + t] = u.labels[t];
      if (t >= 1 && u.labels[t] !== IGNORE_INDEX) trained++;
    }
    let t = 0;
    u.segments.forEach((len, s) => {
      for (let k = 0; k < len; k++, t++) {
        tokenSegLen[base + t] = len;
        if (segmentIds) segmentIds[base + t] = s + 1;
        if (positionIds) positionIds[base + t] = k;
      }
    });
  });
  return { B, T, ids, labels, segmentIds, positionIds, tokenSegLen, trainedTokens: trained };
}

/** Where the loader stands: the next micro-batch to read. */
export interface DataPosition {
  epoch: number;
  micro: number;
}

/**
 * The order of units: epoch e is a permutation drawn from Rng(seed, e) when shuffling, the file
 * order otherwise; micro-batches are consecutive slices of `batchSize` (the last one of an epoch
 * may be smaller) and never cross an epoch boundary.
 */
export class EpochOrder {
  private cache: { epoch: number; order: number[] } | undefined;

  constructor(readonly numUnits: number, readonly batchSize: number, readonly shuffle: boolean, readonly seed: number) {}

  get microPerEpoch(): number {
    return Math.ceil(this.numUnits / this.batchSize);
  }

  order(epoch: number): number[] {
    if (this.cache?.epoch === epoch) return this.cache.order;
    const idx = Array.from({ length: this.numUnits }, (_, i) => i);
    if (this.shuffle) new Rng(this.seed, 0x5eed, epoch).shuffle(idx);
    this.cache = { epoch, order: idx };
    return idx;
  }

  /** Unit indices of micro-batch `micro` of `epoch`. */
  micro(pos: DataPosition): number[] {
    const o = this.order(pos.epoch);
    return o.slice(pos.micro * this.batchSize, Math.min(o.length, (pos.micro + 1) * this.batchSize));
  }

  /**
   * The micro-batches of the next optimizer step (up to `accum` of them, stopping at the epoch's
   * end) and the position after them.
   */
  nextStep(pos: DataPosition, accum: number): { micros: number[][]; next: DataPosition } {
    const micros: number[][] = [];
    let p = { ...pos };
    if (p.micro >= this.microPerEpoch) p = { epoch: p.epoch + 1, micro: 0 };
    while (micros.length < accum && p.micro < this.microPerEpoch) {
      micros.push(this.micro(p));
      p = { epoch: p.epoch, micro: p.micro + 1 };
    }
    if (p.micro >= this.microPerEpoch) p = { epoch: p.epoch + 1, micro: 0 };
    return { micros, next: p };
  }

  /** Optimizer steps in one epoch. */
  stepsPerEpoch(accum: number): number {
    return Math.ceil(this.microPerEpoch / accum);
  }
}

/** Flat positions whose target trains (>= 0), and those targets. */
export function trainedPositions(flatTargets: Int32Array): { rows: Int32Array; targets: Int32Array } {
  let n = 0;
  for (const t of flatTargets) if (t >= 0) n++;
  const rows = new Int32Array(n);
  const targets = new Int32Array(n);
  for (let i = 0, j = 0; i < flatTargets.length; i++) {
    if (flatTargets[i] >= 0) {
      rows[j] = i;
      targets[j++] = flatTargets[i];
    }
  }
  return { rows, targets };
}
