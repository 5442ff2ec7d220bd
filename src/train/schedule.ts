/**
 * Learning-rate schedules with Hugging Face `transformers` semantics (get_scheduler): the
 * multiplier for optimizer step `step` (0-based, the step about to be taken) out of `total`.
 *   constant               1 (warmup ignored, as HF's 'constant')
 *   constant_with_warmup   step/warmup during warmup, then 1
 *   linear                 step/warmup, then (total - step) / (total - warmup), floored at 0
 *   cosine                 step/warmup, then 0.5 * (1 + cos(pi * progress)), progress in [0, 1]
 *   cosine_with_restarts   cosine restarted num_cycles times (lr_scheduler_kwargs, default 1)
 *   polynomial             (lr - lr_end) * (1 - progress)^power + lr_end, over lr (lr_end 1e-7, power 1)
 *   inverse_sqrt           1 / sqrt((step + timescale - warmup) / timescale), timescale = warmup or 10000
 *   cosine_with_min_lr     cosine from 1 down to min_lr / lr (min_lr or min_lr_rate required)
 *   warmup_stable_decay    warmup, flat, then num_decay_steps of linear / cosine / 1-sqrt decay to min_lr_ratio
 * (transformers optimization.py, the _get_*_lr_lambda functions.) reduce_lr_on_plateau needs an
 * eval metric every step and is refused. warmup = warmup_steps when > 0, else
 * ceil(warmup_ratio * total) (HF get_warmup_steps).
 */
import { UserError } from '../util/errors.ts';

export type SchedulerType =
  | 'constant'
  | 'constant_with_warmup'
  | 'linear'
  | 'cosine'
  | 'cosine_with_restarts'
  | 'polynomial'
  | 'inverse_sqrt'
  | 'cosine_with_min_lr'
  | 'warmup_stable_decay';
export const SCHEDULER_TYPES: readonly SchedulerType[] = [
  'constant',
  'constant_with_warmup',
  'linear',
  'cosine',
  'cosine_with_restarts',
  'polynomial',
  'inverse_sqrt',
  'cosine_with_min_lr',
  'warmup_stable_decay',
];

export interface ScheduleConfig {
  lr_scheduler_type: SchedulerType;
  warmup_steps: number;
  warmup_ratio: number;
  /** HF lr_scheduler_kwargs (num_cycles, lr_end, power, timescale, min_lr, min_lr_rate, num_decay_steps, ...). */
  lr_scheduler_kwargs?: Record<string, unknown>;
  /** The base learning rate (polynomial's lr_end and cosine_with_min_lr's min_lr are absolute). */
  learning_rate?: number;
}

function kw(cfg: ScheduleConfig, key: string, fallback?: number): number {
  const v = cfg.lr_scheduler_kwargs?.[key];
  if (v === undefined || v === null) {
    if (fallback === undefined) throw new UserError(`lr_scheduler_kwargs: ${cfg.lr_scheduler_type} needs '${key}'`);
    return fallback;
  }
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new UserError(`lr_scheduler_kwargs: '${key}' must be a number, got ${JSON.stringify(v)}`);
  return v;
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
    case 'cosine_with_restarts': {
      if (step < warmup) return step / Math.max(1, warmup);
      const progress = (step - warmup) / Math.max(1, total - warmup);
      if (progress >= 1) return 0;
      return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * ((kw(cfg, 'num_cycles', 1) * progress) % 1))));
    }
    case 'polynomial': {
      const lr = cfg.learning_rate ?? 1;
      const lrEnd = kw(cfg, 'lr_end', 1e-7);
      if (!(lr > lrEnd)) throw new UserError(`lr_scheduler_kwargs: lr_end (${lrEnd}) must be smaller than learning_rate (${lr})`);
      if (step < warmup) return step / Math.max(1, warmup);
      if (step > total) return lrEnd / lr;
      const remaining = 1 - (step - warmup) / (total - warmup);
      return ((lr - lrEnd) * remaining ** kw(cfg, 'power', 1) + lrEnd) / lr;
    }
    case 'inverse_sqrt': {
      const timescale = kw(cfg, 'timescale', warmup || 10000);
      if (step < warmup) return step / Math.max(1, warmup);
      return 1 / Math.sqrt((step + timescale - warmup) / timescale);
    }
    case 'cosine_with_min_lr': {
      const k = cfg.lr_scheduler_kwargs ?? {};
      if ((k.min_lr == null) === (k.min_lr_rate == null)) throw new UserError('lr_scheduler_kwargs: cosine_with_min_lr needs exactly one of min_lr, min_lr_rate');
      const rate = k.min_lr != null ? kw(cfg, 'min_lr') / (cfg.learning_rate ?? 1) : kw(cfg, 'min_lr_rate');
      if (step < warmup) return step / Math.max(1, warmup);
      const progress = (step - warmup) / Math.max(1, total - warmup);
      const f = 0.5 * (1 + Math.cos(Math.PI * kw(cfg, 'num_cycles', 0.5) * 2 * progress));
      return Math.max(0, f * (1 - rate) + rate);
    }
    case 'warmup_stable_decay': {
      const decay = kw(cfg, 'num_decay_steps');
      const stable = kw(cfg, 'num_stable_steps', total - warmup - decay);
      const minRatio = kw(cfg, 'min_lr_ratio', 0);
      const type = String(cfg.lr_scheduler_kwargs?.decay_type ?? 'cosine');
      if (step < warmup) return step / Math.max(1, warmup);
      if (step < warmup + stable) return 1;
      if (step < warmup + stable + decay) {
        const p = (step - warmup - stable) / Math.max(1, decay);
        let v: number;
        if (type === 'linear') v = 1 - p;
        else if (type === 'cosine') v = 0.5 * (1 + Math.cos(Math.PI * p));
        else if (type === '1-sqrt') v = 1 - Math.sqrt(p);
        else throw new UserError(`lr_scheduler_kwargs: decay_type '${type}' (expected linear, cosine or 1-sqrt)`);
        return v * (1 - minRatio) + minRatio;
      }
      return minRatio;
    }
    default:
      throw new UserError(`lr_scheduler_type: unknown schedule '${String(cfg.lr_scheduler_type)}' (expected ${SCHEDULER_TYPES.join(' | ')})`);
  }
}
