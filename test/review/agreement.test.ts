import { describe, expect, it } from 'vitest';
import { agreement, formatAgreement } from '../../src/review/agreement.ts';

function pairs(aa: number, ar: number, ra: number, rr: number): Array<[boolean, boolean]> {
  const out: Array<[boolean, boolean]> = [];
  for (let i = 0; i < aa; i++) out.push([true, true]);
  for (let i = 0; i < ar; i++) out.push([true, false]);
  for (let i = 0; i < ra; i++) out.push([false, true]);
  for (let i = 0; i < rr; i++) out.push([false, false]);
  return out;
}

describe("judge-reviewer agreement (accuracy, Cohen's kappa)", () => {
  it('matches the textbook 2x2 example: p_o 0.7, p_e 0.5, kappa 0.4', () => {
    const a = agreement(pairs(20, 5, 10, 15), 7);
    expect(a.n).toBe(50);
    expect(a.accuracy).toBeCloseTo(0.7, 12);
    expect(a.kappa).toBeCloseTo(0.4, 12);
    expect(a.table).toEqual({ judge_accept_human_accept: 20, judge_accept_human_reject: 5, judge_reject_human_accept: 10, judge_reject_human_reject: 15 });
  });

  it('is 1 for perfect agreement and negative for systematic disagreement', () => {
    expect(agreement(pairs(3, 0, 0, 2), 7).kappa).toBeCloseTo(1, 12);
    // All disagree, balanced: p_o = 0, p_e = 0.5 -> kappa = -1.
    expect(agreement(pairs(0, 2, 2, 0), 7).kappa).toBeCloseTo(-1, 12);
  });

  it('leaves kappa undefined when both raters used one class, and everything undefined without pairs', () => {
    const one = agreement(pairs(4, 0, 0, 0), 7);
    expect(one.accuracy).toBe(1);
    expect(one.kappa).toBeNull();
    const none = agreement([], 7);
    expect(none).toMatchObject({ n: 0, accuracy: null, kappa: null });
    expect(formatAgreement(none)).toMatch(/no item/);
    expect(formatAgreement(agreement(pairs(20, 5, 10, 15), 8))).toContain("accuracy 70.0%, Cohen's kappa 0.400");
  });
});
