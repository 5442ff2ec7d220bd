import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { beforeAll, describe, expect, it } from 'vitest';
import { desirableRatioWarning, klPairIndex, ktoBatchStats, ktoLoss } from '../../src/train/kto-loss.ts';
import { repoRoot } from '../helpers/cli.ts';

interface Case {
  input: Record<string, number[] | number>;
  expected: { loss: number; kl: number; rewards_chosen: number[]; rewards_rejected: number[] };
}

const cases: Case[] = readFileSync(join(repoRoot, 'test/fixtures/kto/loss-cases.jsonl'), 'utf8')
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l));

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('ktoLoss', () => {
  it.each(cases.map((c, i) => [i, c] as const))('matches the PyTorch reference kto_loss on hand-made log-probs (case %i)', (_i, c) => {
    const inp = c.input as Record<string, number[]>;
    // Interleave desirable and undesirable rows to prove the labels, not the order, pick the branch.
    const labels: boolean[] = [];
    const pol: number[] = [];
    const ref: number[] = [];
    const ch = [...inp.policy_chosen.keys()];
    const rj = [...inp.policy_rejected.keys()];
    while (ch.length || rj.length) {
      if (rj.length) {
        const j = rj.shift()!;
        labels.push(false);
        pol.push(inp.policy_rejected[j]);
        ref.push(inp.reference_rejected[j]);
      }
      if (ch.length) {
        const j = ch.shift()!;
        labels.push(true);
        pol.push(inp.policy_chosen[j]);
        ref.push(inp.reference_chosen[j]);
      }
    }
    const out = ktoLoss(
      {
        policyLogps: tf.tensor1d(pol),
        referenceLogps: ref,
        labels,
        policyKlLogps: inp.policy_kl,
        referenceKlLogps: inp.reference_kl,
      },
      {
        beta: c.input.beta as number,
        desirableWeight: c.input.desirable_weight as number,
        undesirableWeight: c.input.undesirable_weight as number,
        lossType: 'kto',
      },
    );
    expect(out.loss.dataSync()[0]).toBeCloseTo(c.expected.loss, 5);
    expect(out.kl).toBeCloseTo(c.expected.kl, 6);
    const stats = ktoBatchStats(out.rewards.dataSync(), pol, labels);
    expect(stats.rewardsChosen).toHaveLength(c.expected.rewards_chosen.length);
    stats.rewardsChosen.forEach((r, k) => expect(r).toBeCloseTo(c.expected.rewards_chosen[k], 5));
    stats.rewardsRejected.forEach((r, k) => expect(r).toBeCloseTo(c.expected.rewards_rejected[k], 5));
  });

  it('apo_zero_unpaired ignores the KL term: desirable 1-sigmoid(beta r), undesirable sigmoid(beta r)', () => {
    const sig = (x: number) => 1 / (1 + Math.exp(-x));
    const out = ktoLoss(
      { policyLogps: tf.tensor1d([-3, -9]), referenceLogps: [-4, -8], labels: [true, false] },
      { beta: 0.5, desirableWeight: 1, undesirableWeight: 1, lossType: 'apo_zero_unpaired' },
    );
    expect(out.loss.dataSync()[0]).toBeCloseTo(((1 - sig(0.5)) + sig(-0.5)) / 2, 6);
    expect(out.kl).toBe(0);
  });

  it('passes gradient only through the policy log-probs, with the KL detached', () => {
    const pol = tf.variable(tf.tensor1d([-5, -6]));
    const { grads } = tf.variableGrads(() =>
      ktoLoss(
        { policyLogps: pol as unknown as tf.Tensor1D, referenceLogps: [-5, -6], labels: [true, false], policyKlLogps: [-1, -1], referenceKlLogps: [-1, -1] },
        { beta: 0.1, desirableWeight: 1, undesirableWeight: 1, lossType: 'kto' },
      ).loss,
      [pol],
    );
    const g = Object.values(grads)[0].dataSync();
    // d/dr (1 - sigmoid(beta r)) at r=0 is -beta/4; halved by the batch mean.
    expect(g[0]).toBeCloseTo(-0.1 / 4 / 2, 6);
    expect(g[1]).toBeCloseTo(+0.1 / 4 / 2, 6);
  });
});

describe('klPairIndex', () => {
  it('pairs prompt i with completion (i-1 mod B) inside each batch', () => {
    expect(klPairIndex(6, 3)).toEqual([2, 0, 1, 5, 3, 4]);
    expect(klPairIndex(5, 2)).toEqual([1, 0, 3, 2, 4]);
  });

  it('refuses batch size 1 for kto with the key named', () => {
    expect(() => klPairIndex(4, 1)).toThrow(/per_device_train_batch_size must be >= 2/);
  });
});

describe('desirableRatioWarning', () => {
  it('warns outside [1, 4/3] and is silent inside', () => {
    expect(desirableRatioWarning(100, 100, 1.375, 1)).toMatch(/outside \[1, 4\/3\]/);
    expect(desirableRatioWarning(100, 100, 1.2, 1)).toBeNull();
    expect(desirableRatioWarning(50, 100, 1, 1)).toMatch(/0\.500/);
  });
});
