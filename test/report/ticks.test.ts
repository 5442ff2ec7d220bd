import { describe, expect, it } from 'vitest';
import { formatTick, isNiceMultiple, niceTicks } from '../../src/report/ticks.ts';
import { mulberry32 } from '../../src/util/random.ts';

/** The property every axis must have: nice step, multiples of it, inside [lo, hi], 2..max ticks. */
function expectNice(lo: number, hi: number, opts: { integer?: boolean; maxTicks?: number } = {}) {
  const t = niceTicks(lo, hi, opts);
  const max = opts.maxTicks ?? 6;
  expect(t.values.length, `[${lo}, ${hi}]`).toBeGreaterThanOrEqual(2);
  expect(t.values.length, `[${lo}, ${hi}]`).toBeLessThanOrEqual(max);
  const tol = (hi - lo) * 1e-9;
  for (const v of t.values) {
    expect(v).toBeGreaterThanOrEqual(lo - tol);
    expect(v).toBeLessThanOrEqual(hi + tol);
    expect(isNiceMultiple(v, t.step), `${v} on step ${t.step}`).toBe(true);
    if (opts.integer) expect(Number.isInteger(v)).toBe(true);
  }
  for (let i = 1; i < t.values.length; i++) expect(t.values[i] - t.values[i - 1]).toBeCloseTo(t.step, 12);
  t.labels.forEach((l, i) => expect(Number(l)).toBeCloseTo(t.values[i], 12));
  return t;
}

describe('niceTicks', () => {
  it('fixes the ticks the issue reported (SFT steps 10..420, losses 2.71..4.94, KTO steps 2..12)', () => {
    expect(niceTicks(10, 420, { integer: true }).labels).toEqual(['100', '200', '300', '400']);
    expect(niceTicks(2.71, 4.94).labels).toEqual(['3.0', '3.5', '4.0', '4.5']);
    expect(niceTicks(2, 12, { integer: true }).labels).toEqual(['2', '4', '6', '8', '10', '12']);
    expect(niceTicks(1.5, 7).values).toEqual([2, 3, 4, 5, 6, 7]);
  });

  it('gives integer steps on step and count axes, even for short ranges', () => {
    expect(niceTicks(1, 2, { integer: true }).values).toEqual([1, 2]);
    expect(niceTicks(1, 4, { integer: true }).values).toEqual([1, 2, 3, 4]);
    expect(niceTicks(0, 3, { integer: true }).step).toBe(1);
    expect(niceTicks(0, 318, { integer: true }).values).toEqual([0, 100, 200, 300]);
    // A fractional range without an integer inside has no integer tick at all.
    expect(niceTicks(1.2, 1.8, { integer: true }).values).toEqual([]);
  });

  it('writes every tick on an axis with the same decimals, free of float noise', () => {
    expect(niceTicks(0.1, 0.3).labels).toEqual(['0.10', '0.15', '0.20', '0.25', '0.30']);
    expect(niceTicks(0, 0.125).labels).toEqual(['0.00', '0.05', '0.10']);
    expect(niceTicks(-0.0032, 0.0041).labels).toEqual(['-0.002', '0.000', '0.002', '0.004']);
    expect(niceTicks(0.7, 1.0).values).toEqual([0.7, 0.8, 0.9, 1]);
    for (const v of niceTicks(0.30000000000000004, 0.9).values) expect(String(v).length).toBeLessThan(6);
  });

  it('uses e-notation only for tiny or huge axes', () => {
    expect(niceTicks(1e-6, 3.2e-5).labels).toEqual(['5e-6', '1e-5', '1.5e-5', '2e-5', '2.5e-5', '3e-5']);
    expect(niceTicks(0, 1e7).labels).toEqual(['0', '2e6', '4e6', '6e6', '8e6', '1e7']);
    expect(niceTicks(0.693, 0.6931).labels[0]).toBe('0.69300');
    expect(formatTick(2.5, 0.5)).toBe('2.5');
  });

  it('gives a constant series its one value as the only tick', () => {
    expect(niceTicks(0.5, 0.5)).toEqual({ values: [0.5], step: 0, labels: ['0.5'] });
    expect(niceTicks(7, 7, { integer: true }).values).toEqual([7]);
    expect(niceTicks(2.713456, 2.713456).labels).toEqual(['2.713']);
  });

  it('holds the property on random ranges of every scale and sign', () => {
    const rnd = mulberry32(17);
    for (let i = 0; i < 2000; i++) {
      const scale = 10 ** Math.floor(rnd() * 16 - 8);
      const a = (rnd() * 2 - 1) * scale * 10;
      const b = a + rnd() * scale * 10 + scale * 1e-3;
      const maxTicks = 5 + Math.floor(rnd() * 6);
      expectNice(a, b, { maxTicks });
    }
    for (let i = 0; i < 500; i++) {
      const a = Math.floor(rnd() * 1000);
      expectNice(a, a + 1 + Math.floor(rnd() * 5000), { integer: true });
    }
  });

  it('swaps a reversed range and returns nothing for non-finite input', () => {
    expect(niceTicks(4.94, 2.71).values).toEqual([3, 3.5, 4, 4.5]);
    expect(niceTicks(Number.NaN, 1).values).toEqual([]);
  });
});

describe('isNiceMultiple', () => {
  it('accepts multiples of 1, 2, 5 x 10^k only', () => {
    expect(isNiceMultiple(0.3, 0.1)).toBe(true);
    expect(isNiceMultiple(2.5, 0.5)).toBe(true);
    expect(isNiceMultiple(97.75, 0.25)).toBe(false); // 0.25 is not a nice step
    expect(isNiceMultiple(205, 107.25)).toBe(false);
    expect(isNiceMultiple(3, 2)).toBe(false);
  });
});
