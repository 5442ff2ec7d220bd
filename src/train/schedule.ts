/**
 * Learning-rate schedules with Hugging Face `transformers` semantics (get_scheduler): the
 * multiplier for optimizer step `step` (0-based, the step about to be taken) out of `total`.
 *   constant               1 (warmup ignored, as HF's 'constant')
 *   constant_with_warmup   step/warmup during warmup, then 1
 *   linear                 step/warmup, then (total - step) / (total - warmup), floored at 0
 *   cosine                 step/warmup, then 0.5 * (1 + cos(pi * progress)), progress in [0, 1]
 * warmup = warmup_steps when > 0, else ceil(warmup_ratio * total) (HF get_warmup_steps).
 */
import { UserError } from '../util/errors.ts';

export type SchedulerType = 'constant' | 'constant_with_warmup' | 'linear' | 'cosine';
export const SCHEDULER_TYPES: readonly SchedulerType[] = ['constant', 'constant_with_warmup', 'linear', 'cosine'];

export interface ScheduleConfig {
  lr_scheduler_type: SchedulerType;
  warmup_steps: number;
  warmup_ratio: number;
}

export function warmupSteps(cfg: Pick<ScheduleConfig, 'warmup_steps' | 'warmup_ratio'>, total: number): number {
  return cfg.warmup_steps > 0 ? cfg.warmup_steps : Math.ceil(total * cfg.warmup_ratio);
}

/** Multiplier of the base learning rate at `step` (0-based). */
export function lrMultiplier(cfg: ScheduleConfig, step: number, total: number): number {
  const warmup = warmupSteps(cfg, total);
  switch (cfg.lr_scheduler_type) {
    case 'constant':
      return 1;
    case 'constant_with_warmup':
      return step < warmup ? step / Math.max(1, warmup) : 1;
    case 'linear':
      if (step < warmup) return step / Math.max(1, warmup);
      return Math.max(0, (total - step) / Math.max(1, total - warmup));
    case 'cosine': {
      if (step < warmup) return step / Math.max(1, warmup);
      const progress = (step - warmup) / Math.max(1, total - warmup);
      return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * progress)));
    }
    default:
      throw new UserError(`lr_scheduler_type: unknown schedule '${String(cfg.lr_scheduler_type)}' (expected ${SCHEDULER_TYPES.join(' | ')})`);
  }
}
