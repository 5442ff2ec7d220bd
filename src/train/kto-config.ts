/**
 * The KTO config: TRL KTOConfig key names over the shared training-loop keys, each with a
 * one-line help text. Defaults follow TRL (beta 0.1, sequential sampling, lr 1e-6) and the
 * KTO recipe of Llama-3-Motif (NEFTune off for KTO).
 */
import type { Schema } from '../config/schema.ts';
import { COLUMNS_FIELD, type ColumnMap } from '../data/formats.ts';
import { TRAIN_LOOP_SCHEMA, type CommonTrainConfig } from './sft-config.ts';
import type { KtoLossType } from './kto-loss.ts';

export interface KtoConfig extends CommonTrainConfig {
  dataset: { path: string; name?: string; format: string; eval_fraction: number; eval_path?: string; columns?: ColumnMap };
  beta: number;
  desirable_weight: number;
  undesirable_weight: number;
  loss_type: KtoLossType;
  /** Unset: current TRL (the whole sequence is cut at max_length, prompts that fill it are dropped). */
  max_prompt_length?: number;
  max_completion_length?: number;
  ref_model?: string;
  ref_logps_cache: string;
  ref_batch_size: number;
}

export const KTO_SCHEMA: Schema = {
  ...TRAIN_LOOP_SCHEMA,
  learning_rate: { ...TRAIN_LOOP_SCHEMA.learning_rate, default: 1e-6 } as Schema[string],
  shuffle: { type: 'boolean', default: false, help: 'shuffle the training set every epoch; false (the default, as TRL) samples sequentially' },
  max_length: { type: 'integer', min: 2, default: 1024, help: 'longest prompt + completion in tokens' },
  per_device_train_batch_size: { type: 'integer', min: 1, default: 8, help: 'examples per micro-batch; it also fixes the KL pairs (prompt i with completion i-1 mod B), so loss_type kto needs >= 2' },
  dataset: {
    type: 'object',
    help: 'KTO data: {prompt, completion, label} (text or messages), chats with kto_tag, or pre-tokenized {prompt_input_ids, completion_input_ids, label}',
    fields: {
      path: { type: 'string', help: 'dataset file (jsonl, json, parquet, arrow, csv), a Hugging Face dataset folder or shard glob, or a LLaMA-Factory dataset_info.json (with name)' },
      name: { type: 'string', optional: true, help: 'entry of the LLaMA-Factory dataset_info.json given as path (kto_tag column for the label)' },
      format: { type: 'string', enum: ['auto', 'kto', 'alpaca', 'sharegpt', 'messages', 'pretokenized'], default: 'auto', help: 'row format (auto detects per row); every row needs a label or kto_tag' },
      eval_fraction: { type: 'number', min: 0, max: 0.9, default: 0, help: 'hold out this seeded random fraction of rows for eval metrics (eval_loss = KTO loss)' },
      eval_path: { type: 'string', optional: true, help: 'a separate eval dataset file (wins over eval_fraction)' },
      columns: COLUMNS_FIELD,
    },
  },
  beta: { type: 'number', min: 0, default: 0.1, help: 'KTO beta: reward scale beta * (log pi - log ref)' },
  desirable_weight: { type: 'number', min: 0, default: 1, help: 'lambda_D: weight of desirable examples (Llama-3-Motif: 1.375)' },
  undesirable_weight: { type: 'number', min: 0, default: 1, help: 'lambda_U: weight of undesirable examples (Llama-3-Motif: 1)' },
  loss_type: { type: 'string', enum: ['kto', 'apo_zero_unpaired'], default: 'kto', help: 'kto (with the KL term) or apo_zero_unpaired (no KL)' },
  max_prompt_length: {
    type: 'integer',
    min: 1,
    optional: true,
    help: 'longest prompt, longer ones lose tokens from the left (TRL < 0.20); unset, as current TRL: prompt + completion are cut at max_length from the right and rows whose prompt alone fills max_length are dropped',
  },
  max_completion_length: { type: 'integer', min: 1, optional: true, help: 'longest completion; longer completions lose tokens from the right (TRL < 0.20; unset: only max_length)' },
  ref_model: { type: 'string', optional: true, help: 'reference model directory (default: model); not loaded at all when the cache holds its log-probs' },
  ref_logps_cache: { type: 'string', default: '.ko-align/ref_logps', help: 'directory of the reference log-prob cache, shared by every round/run with the same key' },
  ref_batch_size: { type: 'integer', min: 1, default: 8, help: 'batch size for computing reference log-probs once' },
};
