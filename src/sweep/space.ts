/**
 * Trial expansion for sweeps: a grid (every combination, in key order) or random search
 * (seeded; lists are sampled uniformly, ranges uniformly or log-uniformly).
 */
import { UserError } from '../util/errors.ts';
import { mulberry32 } from '../util/random.ts';

/** A list of values, or a numeric range for random search. */
export type SpaceEntry = unknown[] | { min: number; max: number; log?: boolean; integer?: boolean };
export type SearchSpace = Record<string, SpaceEntry>;
export type Trial = Record<string, unknown>;

/** The keys a sweep may vary (validated against the KTO config schema by the caller as well). */
export const SWEEPABLE_KEYS = ['beta', 'learning_rate', 'desirable_weight', 'undesirable_weight', 'neftune_noise_alpha', 'num_train_epochs', 'max_steps', 'loss_type', 'weight_decay', 'warmup_ratio'] as const;

export function gridTrials(space: SearchSpace, where: string): Trial[] {
  const keys = Object.keys(space);
  let trials: Trial[] = [{}];
  for (const k of keys) {
    const v = space[k];
    if (!Array.isArray(v)) throw new UserError(`${where}: search.space.${k} must be a list of values for grid search`);
    if (v.length === 0) throw new UserError(`${where}: search.space.${k} is an empty list`);
    const next: Trial[] = [];
    for (const t of trials) for (const x of v) next.push({ ...t, [k]: x });
    trials = next;
  }
  return trials;
}

/** A seeded PRNG for sampling hyperparameters reproducibly. */
export const seededRandom = mulberry32;

export function randomTrials(space: SearchSpace, numTrials: number, seed: number, where: string): Trial[] {
  const rnd = seededRandom(seed);
  const trials: Trial[] = [];
  for (let i = 0; i < numTrials; i++) {
    const t: Trial = {};
    for (const [k, v] of Object.entries(space)) {
      if (Array.isArray(v)) {
        if (v.length === 0) throw new UserError(`${where}: search.space.${k} is an empty list`);
        t[k] = v[Math.floor(rnd() * v.length)];
      } else if (v && typeof v === 'object' && typeof v.min === 'number' && typeof v.max === 'number') {
        if (v.max < v.min) throw new UserError(`${where}: search.space.${k}: max < min`);
        if (v.log && v.min <= 0) throw new UserError(`${where}: search.space.${k}: log ranges need min > 0`);
        const u = rnd();
        let x = v.log ? Math.exp(Math.log(v.min) + u * (Math.log(v.max) - Math.log(v.min))) : v.min + u * (v.max - v.min);
        if (v.integer) x = Math.round(x);
        t[k] = Number(x.toPrecision(6));
      } else {
        throw new UserError(`${where}: search.space.${k} must be a list or {min, max, log?}`);
      }
    }
    trials.push(t);
  }
  return trials;
}

export function expandTrials(method: 'grid' | 'random', space: SearchSpace, numTrials: number, seed: number, where: string): Trial[] {
  for (const k of Object.keys(space)) {
    if (!(SWEEPABLE_KEYS as readonly string[]).includes(k)) {
      throw new UserError(`${where}: search.space.${k} is not a sweepable key (one of ${SWEEPABLE_KEYS.join(', ')})`);
    }
  }
  return method === 'grid' ? gridTrials(space, where) : randomTrials(space, numTrials, seed, where);
}
