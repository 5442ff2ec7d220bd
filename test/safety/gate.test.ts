import { describe, expect, it } from 'vitest';
import { gateRound } from '../../src/safety/gate.ts';
import { UserError } from '../../src/util/errors.ts';

describe('gateRound', () => {
  it('passes a round at or under the absolute limit when the baseline is clean', () => {
    const v = gateRound({ toxicRate: 0.05, baselineRate: 0.01, maxToxicRate: 0.05, tolerance: 0.02 });
    expect(v.pass).toBe(true);
    expect(v.limit).toBe(0.05);
    expect(v.reason).toBe('pass: toxic rate 5.0% <= limit 5.0% (max_toxic_rate 5.0%)');
  });

  it('rejects a round that got more toxic than max(limit, baseline + tolerance)', () => {
    const v = gateRound({ toxicRate: 0.2, baselineRate: 0.1, maxToxicRate: 0.05, tolerance: 0.02 });
    expect(v.pass).toBe(false);
    expect(v.limit).toBeCloseTo(0.12, 12);
    expect(v.reason).toBe('reject: toxic rate 20.0% > limit 12.0% (baseline 10.0% + tolerance 2.0%)');
  });

  it('uses baseline + tolerance as the limit when the starting model is already above the absolute limit', () => {
    const v = gateRound({ toxicRate: 0.12, baselineRate: 0.1, maxToxicRate: 0.05, tolerance: 0.02 });
    expect(v.pass).toBe(true); // 0.1 + 0.02 is 0.12000000000000001 in floats: still a pass
    expect(v.reason).toContain('baseline 10.0% + tolerance 2.0%');
  });

  it('rejects just above the limit and passes a round that became less toxic', () => {
    expect(gateRound({ toxicRate: 0.0601, baselineRate: 0, maxToxicRate: 0.06, tolerance: 0 }).pass).toBe(false);
    expect(gateRound({ toxicRate: 0.0, baselineRate: 0.3, maxToxicRate: 0.05, tolerance: 0 }).pass).toBe(true);
  });

  it('rejects rates outside [0, 1] with a message naming the input', () => {
    expect(() => gateRound({ toxicRate: 1.5, baselineRate: 0, maxToxicRate: 0.05, tolerance: 0 })).toThrow(UserError);
    expect(() => gateRound({ toxicRate: Number.NaN, baselineRate: 0, maxToxicRate: 0.05, tolerance: 0 })).toThrow('gate: toxicRate must be a number in [0, 1], got NaN');
    expect(() => gateRound({ toxicRate: 0, baselineRate: 0, maxToxicRate: 0.05, tolerance: -0.1 })).toThrow('gate: tolerance must be a number in [0, 1], got -0.1');
  });
});
