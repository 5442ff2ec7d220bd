import { describe, expect, it } from 'vitest';
import { lrMultiplier, type ScheduleConfig } from '../../src/train/schedule.ts';

// transformers src/transformers/optimization.py: _get_cosine_with_hard_restarts_schedule_with_warmup_lr_lambda,
// _get_polynomial_decay_schedule_with_warmup_lr_lambda, _get_inverse_sqrt_schedule_lr_lambda,
// _get_cosine_schedule_with_warmup_lr_lambda with min_lr_rate, _get_wsd_scheduler_lambda. The expected
// values are those formulas evaluated in python3 for warmup 2 of 10 steps.
const at = (cfg: Partial<ScheduleConfig>) => Array.from({ length: 11 }, (_, s) => lrMultiplier({ warmup_steps: 2, warmup_ratio: 0, lr_scheduler_type: 'linear', ...cfg }, s, 10));
const close = (got: number[], want: number[]) => got.forEach((g, i) => expect(g).toBeCloseTo(want[i], 10));

describe('Hugging Face scheduler types', () => {
  it('cosine_with_restarts (num_cycles 2)', () => {
    close(at({ lr_scheduler_type: 'cosine_with_restarts', lr_scheduler_kwargs: { num_cycles: 2 } }), [0, 0.5, 1, 0.853553390593, 0.5, 0.146446609407, 1, 0.853553390593, 0.5, 0.146446609407, 0]);
  });

  it('polynomial (lr 1e-3, lr_end 1e-4, power 2): lr_end is absolute', () => {
    close(at({ lr_scheduler_type: 'polynomial', learning_rate: 1e-3, lr_scheduler_kwargs: { lr_end: 1e-4, power: 2 } }), [0, 0.5, 1, 0.7890625, 0.60625, 0.4515625, 0.325, 0.2265625, 0.15625, 0.1140625, 0.1]);
    expect(() => at({ lr_scheduler_type: 'polynomial', learning_rate: 1e-8 })).toThrow(/lr_end \(1e-7\) must be smaller than learning_rate/);
  });

  it('inverse_sqrt (timescale = warmup)', () => {
    close(at({ lr_scheduler_type: 'inverse_sqrt' }), [0, 0.5, 1, 0.816496580928, 0.707106781187, 0.632455532034, 0.57735026919, 0.534522483825, 0.5, 0.471404520791, 0.4472135955]);
  });

  it('cosine_with_min_lr (min_lr_rate 0.1, or min_lr over the learning rate)', () => {
    const want = [0, 0.5, 1, 0.96574578963, 0.868198051534, 0.722207544564, 0.55, 0.377792455436, 0.231801948466, 0.13425421037, 0.1];
    close(at({ lr_scheduler_type: 'cosine_with_min_lr', lr_scheduler_kwargs: { min_lr_rate: 0.1 } }), want);
    close(at({ lr_scheduler_type: 'cosine_with_min_lr', learning_rate: 2e-5, lr_scheduler_kwargs: { min_lr: 2e-6 } }), want);
    expect(() => at({ lr_scheduler_type: 'cosine_with_min_lr' })).toThrow(/needs exactly one of min_lr, min_lr_rate/);
  });

  it('warmup_stable_decay (4 linear decay steps)', () => {
    close(at({ lr_scheduler_type: 'warmup_stable_decay', lr_scheduler_kwargs: { num_decay_steps: 4, decay_type: 'linear' } }), [0, 0.5, 1, 1, 1, 1, 1, 0.75, 0.5, 0.25, 0]);
    expect(() => at({ lr_scheduler_type: 'warmup_stable_decay' })).toThrow(/needs 'num_decay_steps'/);
  });

  it('reduce_lr_on_plateau is refused by name', () => {
    expect(() => at({ lr_scheduler_type: 'reduce_lr_on_plateau' as ScheduleConfig['lr_scheduler_type'] })).toThrow(/unknown schedule 'reduce_lr_on_plateau'/);
  });
});
