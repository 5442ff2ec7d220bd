/** Binary classification metrics for toxicity scores (1 = toxic). */

export interface BinaryMetrics {
  n: number;
  positives: number;
  threshold: number;
  precision: number;
  recall: number;
  f1: number;
  accuracy: number;
  auroc: number;
}

/** Precision / recall / F1 / accuracy of `score >= threshold`, plus AUROC of the raw scores. */
export function binaryMetrics(scores: ArrayLike<number>, labels: ArrayLike<boolean>, threshold: number): BinaryMetrics {
  if (scores.length !== labels.length) throw new Error(`binaryMetrics: ${scores.length} scores but ${labels.length} labels`);
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let tn = 0;
  for (let i = 0; i < scores.length; i++) {
    const pred = scores[i]! >= threshold;
    if (labels[i]) pred ? tp++ : fn++;
    else pred ? fp++ : tn++;
  }
  const precision = tp + fp > 0 ? tp / (tp + fp) : 0;
  const recall = tp + fn > 0 ? tp / (tp + fn) : 0;
  const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
  return {
    n: scores.length,
    positives: tp + fn,
    threshold,
    precision,
    recall,
    f1,
    accuracy: scores.length > 0 ? (tp + tn) / scores.length : 0,
    auroc: auroc(scores, labels),
  };
}

/** Clean examples flagged (score >= threshold) over all clean examples; NaN without any. */
export function falsePositiveRate(scores: ArrayLike<number>, labels: ArrayLike<boolean>, threshold: number): number {
  let clean = 0;
  let fp = 0;
  for (let i = 0; i < scores.length; i++) {
    if (labels[i]) continue;
    clean++;
    if (scores[i]! >= threshold) fp++;
  }
  return clean > 0 ? fp / clean : Number.NaN;
}

/**
 * Area under the ROC curve: the probability that a random toxic example scores above a random
 * clean one (ties count one half). Mann-Whitney U with average ranks. NaN without both classes.
 */
export function auroc(scores: ArrayLike<number>, labels: ArrayLike<boolean>): number {
  const order = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let rankSumPos = 0;
  let nPos = 0;
  let i = 0;
  while (i < order.length) {
    let j = i;
    while (j + 1 < order.length && scores[order[j + 1]!] === scores[order[i]!]) j++;
    const avgRank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) {
      if (labels[order[k]!]) {
        rankSumPos += avgRank;
        nPos++;
      }
    }
    i = j + 1;
  }
  const nNeg = order.length - nPos;
  if (nPos === 0 || nNeg === 0) return Number.NaN;
  return (rankSumPos - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}

/** The threshold (one of the scores) that maximizes F1; ties go to the higher threshold. */
export function bestF1Threshold(scores: ArrayLike<number>, labels: ArrayLike<boolean>): { threshold: number; f1: number } {
  const order = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]!);
  const totalPos = Array.from(labels as ArrayLike<boolean>).filter(Boolean).length;
  let tp = 0;
  let fp = 0;
  let best = { threshold: 0.5, f1: -1 };
  for (let k = 0; k < order.length; k++) {
    if (labels[order[k]!]) tp++;
    else fp++;
    // Only cut between distinct scores.
    if (k + 1 < order.length && scores[order[k + 1]!] === scores[order[k]!]) continue;
    const precision = tp / (tp + fp);
    const recall = totalPos > 0 ? tp / totalPos : 0;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    if (f1 > best.f1) best = { threshold: scores[order[k]!]!, f1 };
  }
  return best;
}

/**
 * The smallest threshold whose false-positive rate on the clean examples is at most `fpr`
 * (toxic when score >= threshold). With no clean examples, returns 0.5.
 */
export function thresholdAtFpr(scores: ArrayLike<number>, labels: ArrayLike<boolean>, fpr: number): number {
  const neg: number[] = [];
  for (let i = 0; i < scores.length; i++) if (!labels[i]) neg.push(scores[i]!);
  if (neg.length === 0) return 0.5;
  neg.sort((a, b) => b - a);
  const allowed = Math.floor(fpr * neg.length);
  // Flagging scores >= neg[allowed] would flag neg[0..allowed] (allowed + 1 of them, plus ties):
  // go just above it.
  if (allowed >= neg.length) return neg[neg.length - 1]!;
  const t = neg[allowed]!;
  return Math.min(1, t + Number.EPSILON * Math.max(1, t) * 4);
}
