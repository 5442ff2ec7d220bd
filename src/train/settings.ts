/**
 * The one line a trainer logs at the start, saying what is on: NEFTune, LoRA (r, alpha,
 * targets) or full / partial fine-tuning, batch x accumulation, learning rate and schedule,
 * max_length, packing, and the backend that actually loaded.
 */
import type { CommonTrainConfig } from './sft-config.ts';

export interface SettingsExtra {
  /** KTO: beta, loss type, weights, prompt / completion lengths. */
  kto?: { beta: number; loss_type: string; desirable_weight: number; undesirable_weight: number; max_prompt_length?: number; max_completion_length?: number };
  packing?: boolean;
}

export function trainSettingsLine(kind: 'sft' | 'kto', cfg: CommonTrainConfig, backend: string, extra: SettingsExtra = {}): string {
  const parts: string[] = [];
  if (extra.kto) {
    const k = extra.kto;
    parts.push(`${k.loss_type} beta ${k.beta}, weights D ${k.desirable_weight} / U ${k.undesirable_weight}`);
  }
  parts.push(cfg.neftune_noise_alpha > 0 ? `NEFTune alpha ${cfg.neftune_noise_alpha}` : 'NEFTune off');
  if (cfg.lora) {
    parts.push(`LoRA r ${cfg.lora.r} alpha ${cfg.lora.alpha} dropout ${cfg.lora.dropout} on ${cfg.lora.target_modules.join(',')}${cfg.lora.merge ? ' (merged into final)' : ''}`);
  } else if (cfg.trainable && cfg.trainable.length) {
    parts.push(`partial fine-tuning: ${cfg.trainable.join(', ')}`);
  } else {
    parts.push('full fine-tuning');
  }
  if (cfg.param_groups.length) parts.push(`param groups ${cfg.param_groups.map((g) => `${g.pattern}@${g.learning_rate}`).join(', ')}`);
  const b = cfg.per_device_train_batch_size;
  const a = cfg.gradient_accumulation_steps;
  parts.push(`batch ${b} x ${a} accumulation = ${b * a} per step`);
  const warm = cfg.warmup_steps > 0 ? `, warmup ${cfg.warmup_steps} steps` : cfg.warmup_ratio > 0 ? `, warmup ratio ${cfg.warmup_ratio}` : '';
  parts.push(`lr ${cfg.learning_rate} ${cfg.lr_scheduler_type}${warm}, weight decay ${cfg.weight_decay}`);
  const k = extra.kto;
  const len = k && (k.max_prompt_length !== undefined || k.max_completion_length !== undefined)
    ? `max_length ${cfg.max_length} (prompt ${k.max_prompt_length ?? 'whole'}, completion ${k.max_completion_length ?? 'the rest'})`
    : `max_length ${cfg.max_length}`;
  parts.push(extra.packing ? `${len}, packed` : len);
  parts.push(`${cfg.max_steps > 0 ? `max_steps ${cfg.max_steps}` : `${cfg.num_train_epochs} epochs`}, seed ${cfg.seed}`);
  parts.push(`backend ${backend}`);
  return `${kind}: settings: ${parts.join(' | ')}`;
}
