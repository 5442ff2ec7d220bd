/**
 * The SFT config: Hugging Face TrainingArguments / TRL SFTConfig key names, each with a type, a
 * default and a one-line help text (shown by `ko-align train sft --help` and in config errors).
 * `TRAIN_LOOP_SCHEMA` is the part every trainer shares (the KTO config spreads it in).
 */
import type { Schema } from '../config/schema.ts';
import { COLUMNS_FIELD, type ColumnMap } from '../data/formats.ts';
import { SCHEDULER_TYPES, type SchedulerType } from './schedule.ts';
import type { TrainLoopConfig } from './trainer.ts';
import type { SaveDtype } from '../model/checkpoint.ts';

export const LORA_TARGETS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const;

export interface LoraConfig {
  r: number;
  alpha: number;
  dropout: number;
  target_modules: string[];
  merge: boolean;
  /** rsLoRA: scale alpha / sqrt(r) instead of alpha / r (PEFT use_rslora). */
  use_rslora?: boolean;
}

export interface ParamGroupConfig {
  pattern: string;
  learning_rate: number;
}

export interface DatasetConfig {
  path: string;
  /** LLaMA-Factory: the entry of the dataset_info.json at `path`. */
  name?: string;
  format: string;
  eval_fraction: number;
  eval_path?: string;
  columns?: ColumnMap;
}

/** Keys shared by every trainer: model, data order, optimizer, schedule, logging, saving. */
export interface CommonTrainConfig extends TrainLoopConfig {
  model: string;
  max_length: number;
  neftune_noise_alpha: number;
  gradient_checkpointing: boolean;
  weight_decay: number;
  backend: string;
  lora?: LoraConfig;
  trainable?: string[];
  param_groups: ParamGroupConfig[];
  save_dtype: SaveDtype;
  lr_scheduler_kwargs: Record<string, unknown>;
  /** Warnings from reading a TRL / Axolotl config (accepted keys with no effect); logged by the trainer. */
  config_warnings?: string[];
}

export interface SftConfig extends CommonTrainConfig {
  dataset: DatasetConfig;
  /** A PEFT LoRA adapter directory to continue training. */
  adapter?: string;
  packing: boolean;
  assistant_only_loss: boolean;
  completion_only_loss?: boolean;
  dataset_text_field: string;
}

export const LORA_SCHEMA: Schema = {
  r: { type: 'integer', min: 1, default: 8, help: 'LoRA rank (PEFT r)' },
  alpha: { type: 'number', min: 0, default: 16, help: 'LoRA scaling numerator: the update is (alpha / r) * B A x (PEFT lora_alpha)' },
  dropout: { type: 'number', min: 0, max: 0.99, default: 0.05, help: 'dropout on the LoRA input during training (PEFT lora_dropout)' },
  target_modules: {
    type: 'string|string[]',
    default: ['q_proj', 'k_proj', 'v_proj', 'o_proj'],
    help: `projections that get adapters: ${LORA_TARGETS.join(', ')}`,
  },
  merge: { type: 'boolean', default: false, help: 'write output_dir/final as a full model with the adapters merged (the adapter goes to output_dir/adapter); false: final is the PEFT adapter' },
  use_rslora: { type: 'boolean', default: false, help: 'rank-stabilised LoRA: scale alpha / sqrt(r) instead of alpha / r (PEFT use_rslora)' },
};

export const TRAIN_LOOP_SCHEMA: Schema = {
  model: { type: 'string', help: 'Hugging Face model directory to start from (config.json, *.safetensors, tokenizer.json)' },
  output_dir: { type: 'string', help: 'run directory: checkpoints, metrics.jsonl and the final model (output_dir/final)' },
  overwrite_output_dir: { type: 'boolean', default: false, help: 'allow a fresh (non --resume) run into an output_dir that holds checkpoints; they are deleted' },
  max_steps: { type: 'integer', default: -1, help: 'optimizer steps to train; > 0 overrides num_train_epochs' },
  num_train_epochs: { type: 'number', min: 0, default: 3, help: 'passes over the training set (may be fractional) when max_steps <= 0' },
  per_device_train_batch_size: { type: 'integer', min: 1, default: 8, help: 'examples (or packed sequences) per micro-batch' },
  gradient_accumulation_steps: { type: 'integer', min: 1, default: 1, help: 'micro-batches per optimizer step; the loss is the mean over all their trained tokens' },
  learning_rate: { type: 'number', min: 0, default: 2e-5, help: 'peak AdamW learning rate' },
  lr_scheduler_type: { type: 'string', enum: SCHEDULER_TYPES, default: 'linear', help: 'learning-rate schedule after warmup (HF semantics; constant ignores warmup, constant_with_warmup does not)' },
  lr_scheduler_kwargs: { type: 'any', default: {}, help: 'extra schedule arguments as in HF: num_cycles, lr_end, power, timescale, min_lr, min_lr_rate, num_decay_steps, num_stable_steps, decay_type, min_lr_ratio' },
  warmup_steps: { type: 'integer', min: 0, default: 0, help: 'linear warmup steps from 0 (wins over warmup_ratio when > 0)' },
  warmup_ratio: { type: 'number', min: 0, max: 1, default: 0, help: 'warmup as a fraction of the total steps (rounded up)' },
  weight_decay: { type: 'number', min: 0, default: 0, help: 'AdamW decoupled weight decay (never applied to biases and norm weights)' },
  adam_beta1: { type: 'number', min: 0, max: 1, default: 0.9, help: 'AdamW beta1' },
  adam_beta2: { type: 'number', min: 0, max: 1, default: 0.999, help: 'AdamW beta2' },
  adam_epsilon: { type: 'number', min: 0, default: 1e-8, help: 'AdamW epsilon' },
  max_grad_norm: { type: 'number', min: 0, default: 1, help: 'clip the global gradient norm to this; 0 turns clipping off' },
  max_length: { type: 'integer', min: 2, default: 1024, help: 'longest tokenized example (or packed sequence); longer ones are truncated' },
  neftune_noise_alpha: { type: 'number', min: 0, default: 0, help: 'NEFTune noise alpha on the embeddings during training (0 = off; the Llama-3-Motif SFT recipe uses 8)' },
  gradient_checkpointing: { type: 'boolean', default: false, help: 'keep only each layer\'s input and recompute its activations in the backward pass: less memory for long sequences, ~30% more compute' },
  shuffle: { type: 'boolean', default: true, help: 'shuffle the training set every epoch (seeded); false keeps file order' },
  seed: { type: 'integer', default: 42, help: 'seed for shuffling, the eval split, NEFTune noise and LoRA init/dropout' },
  logging_steps: { type: 'integer', min: 1, default: 10, help: 'write a metrics.jsonl line every this many steps' },
  save_steps: { type: 'integer', min: 0, default: 500, help: 'save a resumable checkpoint every this many steps (0 = only the final model)' },
  save_total_limit: { type: 'integer', min: 0, default: 0, help: 'keep only the newest this many checkpoints (0 = keep all)' },
  eval_steps: { type: 'integer', min: 0, default: 0, help: 'compute eval_loss every this many steps and at the end (0 = never)' },
  backend: { type: 'string', enum: ['auto', 'tensorflow', 'webgpu', 'native', 'wasm', 'cpu'], default: 'auto', help: 'tensor backend' },
  save_dtype: { type: 'string', enum: ['auto', 'float32', 'bfloat16', 'float16'], default: 'auto', help: "dtype of the saved model's weights; auto keeps the base model's (config.json dtype / torch_dtype)" },
  lora: { type: 'object', optional: true, fields: LORA_SCHEMA, help: 'train LoRA adapters instead of full weights (present = on)' },
  trainable: {
    type: 'string|string[]',
    optional: true,
    help: 'train only parameters matching these patterns (embed_tokens, lm_head, norm, layers.odd, layers.even, layers.N, layers.N-M, or a regex on HF names); the rest stay frozen',
  },
  param_groups: {
    type: 'array',
    default: [],
    items: {
      type: 'object',
      help: 'one group',
      fields: {
        pattern: { type: 'string', help: 'parameter pattern (same syntax as trainable)' },
        learning_rate: { type: 'number', min: 0, help: 'learning rate for matching parameters' },
      },
    },
    help: 'per-pattern learning rates [{pattern, learning_rate}]; the first matching group wins, others use learning_rate',
  },
};

export const SFT_SCHEMA: Schema = {
  ...TRAIN_LOOP_SCHEMA,
  dataset: {
    type: 'object',
    help: 'training data',
    fields: {
      path: { type: 'string', help: 'dataset file (jsonl, json, parquet, arrow, csv), a Hugging Face dataset folder or shard glob, or a LLaMA-Factory dataset_info.json (with name)' },
      name: { type: 'string', optional: true, help: 'entry of the LLaMA-Factory dataset_info.json given as path' },
      format: {
        type: 'string',
        enum: ['auto', 'alpaca', 'sharegpt', 'messages', 'prompt_completion', 'pretokenized', 'text'],
        default: 'auto',
        help: 'row format (auto detects per row); pretokenized rows carry input_ids and optional labels; text rows ({dataset_text_field}) train as language modelling',
      },
      eval_fraction: { type: 'number', min: 0, max: 0.9, default: 0, help: 'hold out this seeded random fraction of rows for eval_loss' },
      eval_path: { type: 'string', optional: true, help: 'a separate eval dataset file (wins over eval_fraction)' },
      columns: COLUMNS_FIELD,
    },
  },
  adapter: { type: 'string', optional: true, help: 'PEFT LoRA adapter directory to continue training (train sft --adapter DIR); its r / alpha / targets / use_rslora unless lora is given' },
  packing: { type: 'boolean', default: false, help: 'pack short examples into max_length sequences; attention stays inside each example' },
  assistant_only_loss: {
    type: 'boolean',
    default: true,
    help: 'conversations (messages / sharegpt): train only the assistant turns (default); false trains the whole rendered conversation (TRL\'s default)',
  },
  completion_only_loss: {
    type: 'boolean',
    optional: true,
    help: 'prompt-completion rows (alpaca / prompt_completion): train only the completion; unset = true (TRL default); false trains prompt and completion',
  },
  dataset_text_field: { type: 'string', default: 'text', help: 'column of language-modelling rows: the text (plus eos) is trained whole, no chat template' },
};

export type { SchedulerType };
