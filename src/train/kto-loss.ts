/**
 * The KTO loss as TRL's KTOTrainer computes it (loss_type 'kto' and 'apo_zero_unpaired').
 *
 * Inputs are per-example summed completion log-probs:
 *   logratio_i = policy_logp_i - reference_logp_i,   reward_i = beta * logratio_i
 *   kl = clamp(mean(policy_kl_logp - reference_kl_logp), min 0), detached (no gradient)
 *   desirable:   desirable_weight   * (1 - sigmoid(beta * (logratio - kl)))
 *   undesirable: undesirable_weight * (1 - sigmoid(beta * (kl - logratio)))
 *   loss = mean over the batch (desirable and undesirable together)
 * apo_zero_unpaired has no KL term: desirable 1 - sigmoid(beta*r), undesirable sigmoid(beta*r).
 */
import * as tf from '@tensorflow/tfjs-core';
import { UserError } from '../util/errors.ts';

export type KtoLossType = 'kto' | 'apo_zero_unpaired';

export interface KtoLossParams {
  beta: number;
  desirableWeight: number;
  undesirableWeight: number;
  lossType: KtoLossType;
}

export interface KtoLossInputs {
  /** [B] summed completion log-probs under the policy (carries the gradient). */
  policyLogps: tf.Tensor1D;
  /** [B] the same under the reference model (from the cache). */
  referenceLogps: ArrayLike<number>;
  /** [B] true = desirable, false = undesirable. */
  labels: boolean[];
  /** [B] policy log-probs of the KL pairs (computed without gradient), for loss_type 'kto'. */
  policyKlLogps?: ArrayLike<number>;
  /** [B] reference log-probs of the KL pairs. */
  referenceKlLogps?: ArrayLike<number>;
}

export interface KtoLossOutput {
  /** Scalar loss (mean over the batch). */
  loss: tf.Scalar;
  /** The detached KL estimate used (0 for apo_zero_unpaired). */
  kl: number;
  /** [B] rewards beta * (policy - reference) per example, for logging (not on the loss path). */
  rewards: tf.Tensor1D;
}

/**
 * Computes the KTO loss; call inside tf.variableGrads as usual. Host values are read by the
 * caller after the step (ktoBatchStats), since GPU backends have no synchronous read-back.
 */
export function ktoLoss(inp: KtoLossInputs, p: KtoLossParams): KtoLossOutput {
  const B = inp.labels.length;
  if (inp.policyLogps.shape[0] !== B || inp.referenceLogps.length !== B) {
    throw new Error(`ktoLoss: ${B} labels but ${inp.policyLogps.shape[0]} policy / ${inp.referenceLogps.length} reference log-probs`);
  }
  let kl = 0;
  if (p.lossType === 'kto') {
    if (!inp.policyKlLogps || !inp.referenceKlLogps) throw new Error('ktoLoss: loss_type kto needs KL log-probs');
    let s = 0;
    for (let i = 0; i < inp.policyKlLogps.length; i++) s += inp.policyKlLogps[i] - inp.referenceKlLogps[i];
    kl = Math.max(0, s / inp.policyKlLogps.length);
  }
  const ref = tf.tensor1d(Array.from(inp.referenceLogps));
  const logratio = tf.sub(inp.policyLogps, ref);
  const rewards = tf.mul(logratio, p.beta) as tf.Tensor1D;
  const loss = tf.tidy(() => {
    const sign = tf.tensor1d(inp.labels.map((d) => (d ? 1 : -1)));
    const weight = tf.tensor1d(inp.labels.map((d) => (d ? p.desirableWeight : p.undesirableWeight)));
    // desirable: 1 - sigmoid(beta*(r - kl)); undesirable: 1 - sigmoid(beta*(kl - r)) = 1 - sigmoid(-beta*(r - kl)).
    // apo_zero_unpaired: kl = 0, so desirable 1 - sigmoid(beta*r), undesirable sigmoid(beta*r).
    const perExample = tf.sub(1, tf.sigmoid(tf.mul(sign, tf.mul(p.beta, tf.sub(logratio, kl)))));
    return tf.mean(tf.mul(weight, perExample)) as tf.Scalar;
  });
  ref.dispose();
  logratio.dispose();
  return { loss, kl, rewards };
}

export interface KtoBatchStats {
  rewardsChosen: number[];
  rewardsRejected: number[];
  logpsChosen: number[];
  logpsRejected: number[];
}

/** Splits per-example rewards and policy log-probs by label (host values). */
export function ktoBatchStats(rewards: ArrayLike<number>, policyLogps: ArrayLike<number>, labels: boolean[]): KtoBatchStats {
  const s: KtoBatchStats = { rewardsChosen: [], rewardsRejected: [], logpsChosen: [], logpsRejected: [] };
  labels.forEach((d, i) => {
    (d ? s.rewardsChosen : s.rewardsRejected).push(rewards[i]);
    (d ? s.logpsChosen : s.logpsRejected).push(policyLogps[i]);
  });
  return s;
}

/**
 * KL pairs: inside each batch of size B (consecutive rows in dataset order), prompt i is paired
 * with completion (i-1 mod B). Returns, for each row, the index of the row whose completion it is
 * paired with. The last, shorter batch rotates within itself. Fixed at preparation time (as TRL
 * maps its KL dataset once), so the reference cache can hold every pair.
 */
export function klPairIndex(n: number, batchSize: number): number[] {
  if (!Number.isInteger(batchSize) || batchSize < 2) {
    throw new UserError(`per_device_train_batch_size must be >= 2 for loss_type kto (KL pairs need two examples per batch), got ${batchSize}`);
  }
  const out = new Array<number>(n);
  for (let start = 0; start < n; start += batchSize) {
    const end = Math.min(n, start + batchSize);
    const size = end - start;
    for (let i = start; i < end; i++) out[i] = size === 1 ? i : start + ((i - start - 1 + size) % size);
  }
  return out;
}

/**
 * KTO paper guidance: lambda_D * n_D / (lambda_U * n_U) should lie in [1, 4/3].
 * Returns a warning sentence when it does not, else null.
 */
export function desirableRatioWarning(nDesirable: number, nUndesirable: number, desirableWeight: number, undesirableWeight: number): string | null {
  if (nUndesirable === 0 || nDesirable === 0) {
    return `KTO data has ${nDesirable} desirable and ${nUndesirable} undesirable examples; both classes are needed`;
  }
  const ratio = (desirableWeight * nDesirable) / (undesirableWeight * nUndesirable);
  if (ratio < 1 || ratio > 4 / 3) {
    return `desirable_weight*n_D / (undesirable_weight*n_U) = ${desirableWeight}*${nDesirable} / (${undesirableWeight}*${nUndesirable}) = ${ratio.toFixed(3)} is outside [1, 4/3] (KTO paper guidance); adjust desirable_weight or undesirable_weight`;
  }
  return null;
}
