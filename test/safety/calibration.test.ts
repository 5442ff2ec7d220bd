import { describe, expect, it } from 'vitest';
import { applyPlatt, expectedCalibrationError, fitPlatt } from '../../src/safety/calibration.ts';
import { mulberry32 } from '../../src/util/random.ts';

const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

/** Logits x uniform in [-4, 4], labels drawn with P(toxic) = sigmoid(2x - 1). */
function synthetic(n: number, seed: number): { x: number[]; y: boolean[] } {
  const r = mulberry32(seed);
  const x: number[] = [];
  const y: boolean[] = [];
  for (let i = 0; i < n; i++) {
    const v = r() * 8 - 4;
    x.push(v);
    y.push(r() < sigmoid(2 * v - 1));
  }
  return { x, y };
}

describe('Platt scaling', () => {
  it('recovers the true scale and offset and brings held-out calibration error down', () => {
    const fit = synthetic(20000, 1);
    const c = fitPlatt(fit.x, fit.y);
    expect(c.a).toBeGreaterThan(1.85);
    expect(c.a).toBeLessThan(2.15);
    expect(c.b).toBeGreaterThan(-1.15);
    expect(c.b).toBeLessThan(-0.85);
    const held = synthetic(20000, 2);
    const raw = expectedCalibrationError(held.x.map(sigmoid), held.y);
    const cal = expectedCalibrationError(held.x.map((v) => applyPlatt(c, v)), held.y);
    expect(raw).toBeGreaterThan(0.08);
    expect(cal).toBeLessThan(0.02);
  });

  it('is deterministic, stays finite on separable data and is the identity without both classes', () => {
    const s = synthetic(500, 3);
    expect(fitPlatt(s.x, s.y)).toEqual(fitPlatt(s.x, s.y));
    const sep = fitPlatt([-2, -1, 1, 2], [false, false, true, true]);
    expect(Number.isFinite(sep.a) && Number.isFinite(sep.b)).toBe(true);
    expect(sep.a).toBeGreaterThan(0);
    expect(fitPlatt([1, 2], [true, true])).toEqual({ a: 1, b: 0 });
  });
});

describe('expected calibration error', () => {
  it('weights each bin by its rows', () => {
    // Bin [0.9, 1): mean 0.9, 1 of 2 toxic -> 0.4; bin [0.1, 0.2): mean 0.1, 0 of 2 -> 0.1.
    expect(expectedCalibrationError([0.9, 0.9, 0.1, 0.1], [true, false, false, false])).toBeCloseTo((2 * 0.4 + 2 * 0.1) / 4, 12);
    expect(expectedCalibrationError([1, 0], [true, false])).toBe(0);
    expect(Number.isNaN(expectedCalibrationError([], []))).toBe(true);
  });
});
