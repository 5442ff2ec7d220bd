/**
 * The two-member stacked ensemble of the embedded toxicity classifier (issue 16), folded back
 * into one linear model:
 *
 * - member "plain": logistic regression over the hashed features x;
 * - member "nb": logistic regression over NB-weighted features x * r, where r is the absolute
 *   Naive-Bayes log-count ratio of each bucket on the training split (NBSVM, Wang and Manning
 *   2012: r = |log((p / |p|1) / (q / |q|1))|, p / q = alpha + summed feature values of the
 *   toxic / clean training rows);
 * - a stacker: a small ridge logistic regression of the label on the members' logits, fitted
 *   on the calibration split (the members never saw it, so their logits there are out of sample).
 *
 * Every member is linear in x, so the stack is too: z = sum_k c_k (w_k . (x * s_k) + b_k) + c0
 * = (sum_k c_k w_k * s_k) . x + const. The shipped model is that one folded weight vector
 * (same size and scoring cost as a single logistic regression); the mixing weights c_k / sum c
 * are recorded in model.json, and Platt scaling is fitted on the folded logits as before.
 *
 * Everything here is deterministic (no randomness, fixed iteration counts).
 */
import type { SparseVector } from './features.ts';

function sigmoid(z: number): number {
  return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
}

/** |NB log-count ratio| per bucket over labeled sparse rows (values summed, smoothed by alpha). */
export function nbLogCountRatio(xs: SparseVector[], ys: boolean[], dim: number, alpha: number): Float32Array {
  if (xs.length !== ys.length) throw new Error(`nbLogCountRatio: ${xs.length} rows but ${ys.length} labels`);
  if (!(alpha > 0)) throw new Error(`nbLogCountRatio: alpha must be > 0, got ${alpha}`);
  const p = new Float64Array(dim).fill(alpha);
  const q = new Float64Array(dim).fill(alpha);
  for (let i = 0; i < xs.length; i++) {
    const { idx, val } = xs[i]!;
    const acc = ys[i] ? p : q;
    for (let k = 0; k < idx.length; k++) acc[idx[k]!] += val[k]!;
  }
  let sp = 0;
  let sq = 0;
  for (let j = 0; j < dim; j++) {
    sp += p[j]!;
    sq += q[j]!;
  }
  const r = new Float32Array(dim);
  for (let j = 0; j < dim; j++) r[j] = Math.abs(Math.log(p[j]! / sp / (q[j]! / sq)));
  return r;
}

/** x * s, element-wise (a new vector; indices shared). */
export function scaleFeatures(x: SparseVector, s: Float32Array): SparseVector {
  const val = new Float32Array(x.val.length);
  for (let k = 0; k < val.length; k++) val[k] = x.val[k]! * s[x.idx[k]!]!;
  return { idx: x.idx, val };
}

export interface Stacker {
  /** One coefficient per member logit. */
  weights: number[];
  bias: number;
}

/**
 * Ridge logistic regression on a few dense inputs (the members' logits), by Newton's method:
 * minimizes mean log loss + l2/2 |w|^2 (bias not penalized). Deterministic.
 */
export function fitStacker(features: number[][], labels: boolean[], l2 = 1e-3, iterations = 50): Stacker {
  if (features.length !== labels.length) throw new Error(`fitStacker: ${features.length} rows but ${labels.length} labels`);
  if (features.length === 0) throw new Error('fitStacker: no rows');
  const m = features[0]!.length;
  const d = m + 1;
  const w = new Array<number>(d).fill(0);
  const n = features.length;
  for (let it = 0; it < iterations; it++) {
    const g = new Array<number>(d).fill(0);
    const h = Array.from({ length: d }, () => new Array<number>(d).fill(0));
    for (let i = 0; i < n; i++) {
      const f = features[i]!;
      if (f.length !== m) throw new Error(`fitStacker: row ${i} has ${f.length} inputs, expected ${m}`);
      let z = w[m]!;
      for (let j = 0; j < m; j++) z += w[j]! * f[j]!;
      const p = sigmoid(z);
      const e = p - (labels[i] ? 1 : 0);
      const v = p * (1 - p);
      for (let j = 0; j < d; j++) {
        const xj = j < m ? f[j]! : 1;
        g[j] += e * xj;
        for (let k = 0; k < d; k++) h[j]![k] += v * xj * (k < m ? f[k]! : 1);
      }
    }
    for (let j = 0; j < d; j++) {
      g[j] = g[j]! / n + (j < m ? l2 * w[j]! : 0);
      for (let k = 0; k < d; k++) h[j]![k] = h[j]![k]! / n + (j === k ? (j < m ? l2 : 1e-9) : 0);
    }
    const step = solve(h, g);
    let size = 0;
    for (let j = 0; j < d; j++) {
      w[j] -= step[j]!;
      size += Math.abs(step[j]!);
    }
    if (!(size > 1e-12)) break;
  }
  return { weights: w.slice(0, m), bias: w[m]! };
}

export function applyStacker(s: Stacker, logits: number[]): number {
  let z = s.bias;
  for (let j = 0; j < s.weights.length; j++) z += s.weights[j]! * logits[j]!;
  return z;
}

/** Gaussian elimination with partial pivoting (small, symmetric positive definite systems). */
function solve(a: number[][], b: number[]): number[] {
  const d = b.length;
  const m = a.map((row, j) => [...row, b[j]!]);
  for (let c = 0; c < d; c++) {
    let p = c;
    for (let r = c + 1; r < d; r++) if (Math.abs(m[r]![c]!) > Math.abs(m[p]![c]!)) p = r;
    [m[c], m[p]] = [m[p]!, m[c]!];
    const piv = m[c]![c]!;
    if (piv === 0) continue;
    for (let r = 0; r < d; r++) {
      if (r === c) continue;
      const f = m[r]![c]! / piv;
      if (f === 0) continue;
      for (let k = c; k <= d; k++) m[r]![k] -= f * m[c]![k]!;
    }
  }
  return m.map((row, j) => (row[j] === 0 ? 0 : row[d]! / row[j]!));
}

export interface LinearMember {
  weights: Float32Array;
  bias: number;
  /** Per-bucket feature scale the member was trained on (NB ratio); absent = 1. */
  scale?: Float32Array;
}

/**
 * Folds members into one linear model with mixing weights `mix` (any real numbers):
 * w = sum_k mix_k * w_k * s_k, b = sum_k mix_k * b_k. Then w . x + b = sum_k mix_k * logit_k(x).
 */
export function foldMembers(members: LinearMember[], mix: number[]): { weights: Float32Array; bias: number } {
  if (members.length !== mix.length || members.length === 0) throw new Error(`foldMembers: ${members.length} members but ${mix.length} mixing weights`);
  const dim = members[0]!.weights.length;
  const acc = new Float64Array(dim);
  let bias = 0;
  members.forEach((mem, k) => {
    if (mem.weights.length !== dim) throw new Error(`foldMembers: member ${k} has ${mem.weights.length} weights, expected ${dim}`);
    const c = mix[k]!;
    for (let j = 0; j < dim; j++) acc[j] += c * mem.weights[j]! * (mem.scale ? mem.scale[j]! : 1);
    bias += c * mem.bias;
  });
  return { weights: Float32Array.from(acc), bias };
}

export function memberLogit(mem: LinearMember, x: SparseVector): number {
  let z = mem.bias;
  for (let k = 0; k < x.idx.length; k++) {
    const j = x.idx[k]!;
    z += mem.weights[j]! * x.val[k]! * (mem.scale ? mem.scale[j]! : 1);
  }
  return z;
}
