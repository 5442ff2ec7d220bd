/**
 * Score calibration for the toxicity classifier: Platt scaling (p = sigmoid(a * logit + b),
 * fitted by Newton's method on a held-out calibration split) and the expected calibration
 * error (ECE) of probabilities against labels.
 */

export interface PlattScaling {
  a: number;
  b: number;
}

function sigmoid(z: number): number {
  return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
}

export function applyPlatt(c: PlattScaling, logit: number): number {
  return sigmoid(c.a * logit + c.b);
}

/**
 * Fits Platt scaling to (logit, label) pairs by Newton's method on the log loss, with Platt's
 * smoothed targets ((N+ + 1) / (N+ + 2), 1 / (N- + 2)) so separable data stays finite.
 * Deterministic: no randomness, a fixed number of iterations at most.
 */
export function fitPlatt(logits: ArrayLike<number>, labels: ArrayLike<boolean>, iterations = 100): PlattScaling {
  if (logits.length !== labels.length) throw new Error(`fitPlatt: ${logits.length} logits but ${labels.length} labels`);
  let nPos = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i]) nPos++;
  const nNeg = labels.length - nPos;
  if (nPos === 0 || nNeg === 0) return { a: 1, b: 0 };
  const tPos = (nPos + 1) / (nPos + 2);
  const tNeg = 1 / (nNeg + 2);
  let a = 1;
  let b = 0;
  const loss = (a: number, b: number): number => {
    let l = 0;
    for (let i = 0; i < logits.length; i++) {
      const t = labels[i] ? tPos : tNeg;
      const z = a * logits[i]! + b;
      // log(1 + e^z) - t z, stably
      l += (z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z))) - t * z;
    }
    return l;
  };
  let cur = loss(a, b);
  for (let it = 0; it < iterations; it++) {
    let ga = 0;
    let gb = 0;
    let haa = 1e-12;
    let hab = 0;
    let hbb = 1e-12;
    for (let i = 0; i < logits.length; i++) {
      const x = logits[i]!;
      const p = sigmoid(a * x + b);
      const d = p - (labels[i] ? tPos : tNeg);
      const w = p * (1 - p);
      ga += d * x;
      gb += d;
      haa += w * x * x;
      hab += w * x;
      hbb += w;
    }
    const det = haa * hbb - hab * hab;
    if (!(Math.abs(det) > 0)) break;
    let da = (hbb * ga - hab * gb) / det;
    let db = (haa * gb - hab * ga) / det;
    // Backtracking keeps every step a descent step.
    let step = 1;
    let next = loss(a - da, b - db);
    while (next > cur && step > 1e-6) {
      step /= 2;
      next = loss(a - step * da, b - step * db);
    }
    da *= step;
    db *= step;
    a -= da;
    b -= db;
    const improved = cur - next;
    cur = next;
    if (Math.abs(da) + Math.abs(db) < 1e-10 || improved < 1e-12) break;
  }
  return { a, b };
}

/**
 * Expected calibration error: rows binned by predicted probability into `bins` equal-width bins;
 * the row-weighted mean over bins of |mean prediction - toxic fraction|.
 */
export function expectedCalibrationError(probs: ArrayLike<number>, labels: ArrayLike<boolean>, bins = 10): number {
  if (probs.length !== labels.length) throw new Error(`expectedCalibrationError: ${probs.length} probabilities but ${labels.length} labels`);
  if (probs.length === 0) return Number.NaN;
  const sumP = new Float64Array(bins);
  const sumY = new Float64Array(bins);
  const count = new Float64Array(bins);
  for (let i = 0; i < probs.length; i++) {
    const p = probs[i]!;
    const k = Math.min(bins - 1, Math.max(0, Math.floor(p * bins)));
    sumP[k] += p;
    sumY[k] += labels[i] ? 1 : 0;
    count[k]++;
  }
  let e = 0;
  for (let k = 0; k < bins; k++) if (count[k]! > 0) e += Math.abs(sumP[k]! - sumY[k]!);
  return e / probs.length;
}
