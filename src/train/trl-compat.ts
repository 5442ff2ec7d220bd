/**
 * Configs pasted from TRL (SFTConfig / KTOConfig, which extend transformers' TrainingArguments),
 * TRL's script ModelConfig (model_name_or_path, use_peft, lora_r, ...) and Axolotl YAML: the keys
 * are mapped onto this project's names before validation. A key that has an effect here is
 * translated; a key that is accepted but changes nothing here gives one warning line naming it;
 * a key whose value would change the training in a way not implemented here is refused.
 *
 * Sources (huggingface/trl at f2cd577): trl/trainer/sft_config.py (max_length 205, packing 225,
 * packing_strategy 232, padding_free 241, completion_only_loss 261, assistant_only_loss 273,
 * loss_type 283), trl/trainer/kto_config.py (train_sampling_strategy 119, disable_dropout 153,
 * precompute_ref_log_probs 174, precompute_ref_batch_size 182, sync_ref_model 224); TRL before
 * 0.20 named SFT's max_length `max_seq_length`; KTOConfig's max_prompt_length /
 * max_completion_length are gone from current TRL (still read here). Axolotl names:
 * docs/config.qmd (base_model, sequence_len, micro_batch_size, num_epochs, lr_scheduler, ...).
 */
import { UserError } from '../util/errors.ts';

export type TrainerKind = 'sft' | 'kto';

export interface CompatResult {
  raw: Record<string, unknown>;
  /** One line per accepted key that has no effect here. */
  warnings: string[];
}

/** TrainingArguments / TRL keys accepted with no effect, and why. */
const NO_EFFECT: Record<string, string> = {
  bf16: 'training computes in float32; the checkpoint keeps the model dtype (save_dtype chooses)',
  fp16: 'training computes in float32; the checkpoint keeps the model dtype (save_dtype chooses)',
  tf32: 'no CUDA matmul settings here',
  bf16_full_eval: 'evaluation computes in float32',
  fp16_full_eval: 'evaluation computes in float32',
  gradient_checkpointing_kwargs: 'gradient_checkpointing recomputes whole layers; there are no options',
  use_liger_kernel: 'no Liger kernels here',
  liger_kernel_config: 'no Liger kernels here',
  report_to: 'metrics go to output_dir/metrics.jsonl',
  logging_dir: 'metrics go to output_dir/metrics.jsonl',
  run_name: 'metrics go to output_dir/metrics.jsonl',
  logging_first_step: 'logging follows logging_steps',
  logging_nan_inf_filter: 'every logged loss is the real one',
  include_tokens_per_second: 'tokens_per_second is always logged',
  include_num_input_tokens_seen: 'not logged here',
  disable_tqdm: 'no progress bars here',
  push_to_hub: 'nothing is uploaded',
  hub_model_id: 'nothing is uploaded',
  hub_strategy: 'nothing is uploaded',
  hub_token: 'nothing is uploaded',
  hub_private_repo: 'nothing is uploaded',
  dataloader_num_workers: 'data is read in process',
  dataloader_pin_memory: 'data is read in process',
  dataloader_drop_last: 'the last partial batch is kept',
  dataloader_persistent_workers: 'data is read in process',
  dataloader_prefetch_factor: 'data is read in process',
  remove_unused_columns: 'only the columns a format uses are read',
  dataset_num_proc: 'data is prepared in process',
  dataset_kwargs: 'data is always prepared here',
  model_init_kwargs: 'models load from config.json as they are',
  trust_remote_code: 'only the built-in architectures load',
  torch_dtype: 'models load in float32 for training',
  dtype: 'models load in float32 for training',
  model_revision: 'the model is the local directory given',
  bnb_4bit_quant_type: 'no quantized training here (weights train in float32)',
  use_bnb_nested_quant: 'no quantized training here (weights train in float32)',
  attn_implementation: 'one attention implementation here',
  ddp_find_unused_parameters: 'single process',
  ddp_backend: 'single process',
  ddp_timeout: 'single process',
  local_rank: 'single process',
  deepspeed: 'single process',
  fsdp: 'single process',
  fsdp_config: 'single process',
  torch_compile: 'no torch here',
  torch_compile_backend: 'no torch here',
  torch_compile_mode: 'no torch here',
  use_cpu: 'the device follows backend',
  no_cuda: 'the device follows backend',
  full_determinism: 'runs are seeded and deterministic already',
  data_seed: 'seed orders the data',
  log_level: 'one log level here',
  save_safetensors: 'checkpoints are always safetensors',
  save_only_model: 'checkpoints keep what resuming needs',
  per_device_eval_batch_size: 'evaluation uses per_device_train_batch_size',
  eval_accumulation_steps: 'evaluation is not accumulated',
  activation_offloading: 'the engine keeps activations as it does',
  average_tokens_across_devices: 'single process',
  pad_to_multiple_of: 'batches pad to their longest example',
  padding_free: 'batches are padded (packing avoids the padding)',
  eval_packing: 'evaluation examples are not packed',
  shuffle_dataset: 'shuffle orders the data every epoch',
  chat_template_path: "the model directory's chat template is used",
  eos_token: "the tokenizer's eos token is used",
  pad_token: "the tokenizer's pad token is used",
  router_aux_loss_coef: 'no mixture-of-experts models here',
  generate_during_eval: 'no generation during evaluation',
  dataset_test_split: 'dataset.eval_path / eval_fraction choose the eval data',
  dataset_train_split: 'dataset.path is the training data',
  do_train: 'the command says what to do',
  do_eval: 'eval_steps turns evaluation on',
  do_predict: 'the command says what to do',
  resume_from_checkpoint: 'pass --resume',
  ignore_data_skip: 'resuming continues at the saved position',
  load_best_model_at_end: 'the final model is the last step',
  metric_for_best_model: 'the final model is the last step',
  greater_is_better: 'the final model is the last step',
  label_names: 'labels come from the data format',
  label_smoothing_factor: 'no label smoothing here',
  group_by_length: 'batches follow the data order',
  length_column_name: 'batches follow the data order',
  optim_args: 'AdamW takes the adam_* keys',
  ref_model_init_kwargs: 'models load from config.json as they are',
  // KTO (trl/trainer/kto_config.py) and Axolotl no-ops
  ref_model_mixup_alpha: 'sync_ref_model is not implemented',
  ref_model_sync_steps: 'sync_ref_model is not implemented',
  flash_attention: 'one attention implementation here',
  xformers_attention: 'one attention implementation here',
  sdp_attention: 'one attention implementation here',
  sample_packing_eff_est: 'packing is exact',
  pad_to_sequence_len: 'batches pad to their longest example',
  strict: 'unknown keys are always errors here',
  dataset_prepared_path: 'data is prepared in memory',
  wandb_project: 'metrics go to output_dir/metrics.jsonl',
  wandb_entity: 'metrics go to output_dir/metrics.jsonl',
  wandb_name: 'metrics go to output_dir/metrics.jsonl',
  wandb_watch: 'metrics go to output_dir/metrics.jsonl',
  wandb_log_model: 'metrics go to output_dir/metrics.jsonl',
  special_tokens: "the tokenizer's special tokens are used",
  chat_template: "the model directory's chat template is used",
  load_in_8bit: 'no quantized training here (weights train in float32)',
  load_in_4bit: 'no quantized training here (weights train in float32)',
  early_stopping_patience: 'training runs its max_steps / epochs',
  rl: 'the command (train sft / train kto) says which trainer',
  type_of_model: 'the architecture comes from config.json',
  tokenizer_type: 'the tokenizer comes from the model directory',
  model_type: 'the architecture comes from config.json',
};

const ADAMW = new Set(['adamw_torch', 'adamw_torch_fused', 'adamw_hf', 'adamw', 'adamw_torch_xla', 'adamw_apex_fused']);

/** Renames that keep their meaning: source key -> our key (dotted for nested). */
const RENAMES: Record<string, string> = {
  max_seq_length: 'max_length', // TRL < 0.20 SFTConfig
  model_name_or_path: 'model', // TRL ModelConfig / scripts
  precompute_ref_batch_size: 'ref_batch_size', // TRL KTOConfig
  // Axolotl
  base_model: 'model',
  sequence_len: 'max_length',
  micro_batch_size: 'per_device_train_batch_size',
  num_epochs: 'num_train_epochs',
  lr_scheduler: 'lr_scheduler_type',
  sample_packing: 'packing',
  optimizer: 'optim',
};

/** Maps TRL / TrainingArguments / Axolotl keys onto this project's config names. */
export function fromTrlConfig(input: Record<string, unknown>, kind: TrainerKind, source: string): CompatResult {
  const raw: Record<string, unknown> = { ...input };
  const warnings: string[] = [];
  const warn = (key: string, why: string) => warnings.push(`${source}: '${key}' is accepted but has no effect here: ${why}`);
  const refuse = (key: string, why: string) => {
    throw new UserError(`${source}: '${key}' ${why}`);
  };
  const take = (key: string): unknown => {
    const v = raw[key];
    delete raw[key];
    return v;
  };
  const setIfAbsent = (key: string, value: unknown, from: string) => {
    if (raw[key] !== undefined && raw[key] !== value) refuse(from, `conflicts with '${key}' (${JSON.stringify(raw[key])})`);
    raw[key] = value;
  };

  for (const [from, to] of Object.entries(RENAMES)) {
    if (!(from in raw)) continue;
    const v = take(from);
    if (v !== undefined) setIfAbsent(to, v, from);
  }

  // transformers >= 4.5x: warmup_steps in [0, 1) is a ratio of the total steps (TrainingArguments docs)
  if (typeof raw.warmup_steps === 'number' && raw.warmup_steps > 0 && raw.warmup_steps < 1) setIfAbsent('warmup_ratio', take('warmup_steps'), 'warmup_steps');
  // TRL: max_length None = no truncation (SFTConfig line 205; KTOConfig line 163)
  if ('max_length' in raw && raw.max_length === null) {
    if (raw.packing === true) refuse('max_length', 'null cannot be combined with packing (packing needs a sequence length)');
    raw.max_length = Number.MAX_SAFE_INTEGER;
  }

  // optimizer: AdamW is what runs
  if ('optim' in raw) {
    const o = take('optim');
    if (typeof o !== 'string' || !ADAMW.has(o)) refuse('optim', `${JSON.stringify(o)} is not implemented (this trainer runs AdamW: adamw_torch)`);
  }

  // sampling order (KTOConfig.train_sampling_strategy; TrainingArguments in recent transformers)
  if ('train_sampling_strategy' in raw) {
    const s = take('train_sampling_strategy');
    if (s === 'sequential') setIfAbsent('shuffle', false, 'train_sampling_strategy');
    else if (s === 'random') setIfAbsent('shuffle', true, 'train_sampling_strategy');
    else refuse('train_sampling_strategy', `${JSON.stringify(s)} is not implemented (sequential or random)`);
  }

  // strategies: "steps" is what the *_steps keys do; "no" turns it off
  for (const [key, steps] of [['eval_strategy', 'eval_steps'], ['evaluation_strategy', 'eval_steps'], ['save_strategy', 'save_steps'], ['logging_strategy', 'logging_steps']] as const) {
    if (!(key in raw)) continue;
    const v = take(key);
    if (v === 'no' && steps !== 'logging_steps') raw[steps] = 0;
    else if (v !== 'steps' && v !== 'no') refuse(key, `${JSON.stringify(v)} is not implemented (steps or no; set ${steps})`);
  }

  // TRL's reference-model options
  if ('precompute_ref_log_probs' in raw) {
    const v = take('precompute_ref_log_probs');
    if (kind === 'kto' && v !== true) warn('precompute_ref_log_probs', 'reference log-probs are always computed once and cached (ref_logps_cache)');
    if (kind === 'sft') warn('precompute_ref_log_probs', 'SFT has no reference model');
  }
  if ('sync_ref_model' in raw) {
    const v = take('sync_ref_model');
    if (v === true) refuse('sync_ref_model', 'true is not implemented (the reference model stays fixed, its log-probs cached)');
  }
  if ('disable_dropout' in raw) {
    const v = take('disable_dropout');
    if (v === false) warn('disable_dropout', 'the models here have no dropout (LoRA dropout is lora.dropout)');
  }

  // SFT-only keys with their own meaning
  if (kind === 'sft') {
    if ('loss_type' in raw) {
      const v = take('loss_type');
      if (v !== 'nll' && v !== 'chunked_nll' && v != null) refuse('loss_type', `${JSON.stringify(v)} is not implemented (nll: mean token cross-entropy)`);
    }
    if ('packing_strategy' in raw) {
      const v = take('packing_strategy');
      if (v !== 'bfd') warn('packing_strategy', `${JSON.stringify(v)}: packing here is one strategy (examples are never split)`);
    }
    if ('truncation_mode' in raw) {
      const v = take('truncation_mode');
      if (v !== 'keep_start') refuse('truncation_mode', `${JSON.stringify(v)} is not implemented (keep_start: long examples lose their end)`);
    }
    for (const k of ['max_prompt_length', 'max_completion_length']) if (k in raw) (take(k), warn(k, 'SFT truncates the whole example at max_length'));
  } else if ('truncation_mode' in raw) {
    const v = take('truncation_mode');
    if (v !== 'keep_end') warn('truncation_mode', 'prompts lose tokens from the left, completions from the right (max_prompt_length / max_completion_length)');
  }

  if ('use_dora' in raw) {
    if (take('use_dora') === true) refuse('use_dora', 'true is not implemented (DoRA; use LoRA)');
  }
  // TRL ModelConfig / Axolotl LoRA keys -> lora: {...}
  const peftKeys: Record<string, string> = { lora_r: 'r', lora_alpha: 'alpha', lora_dropout: 'dropout', lora_target_modules: 'target_modules', use_rslora: 'use_rslora' };
  const usePeft = take('use_peft');
  // Axolotl `adapter: lora | qlora` names the method; our `adapter` is a PEFT adapter directory
  const adapter = raw.adapter === 'lora' || raw.adapter === 'qlora' ? take('adapter') : undefined;
  if (adapter === 'qlora') refuse('adapter', '"qlora" is not implemented (no quantized training; use lora)');
  if ('lora_model_dir' in raw) setIfAbsent('adapter', take('lora_model_dir'), 'lora_model_dir'); // Axolotl: an adapter to continue
  const lora: Record<string, unknown> = {};
  for (const [from, to] of Object.entries(peftKeys)) if (from in raw) lora[to] = take(from);
  if (usePeft === true || adapter === 'lora' || (Object.keys(lora).length > 0 && usePeft !== false)) {
    if (raw.lora !== undefined && (typeof raw.lora !== 'object' || raw.lora === null)) refuse('lora', 'must be a mapping');
    raw.lora = { ...lora, ...(raw.lora as Record<string, unknown> | undefined) };
  }
  for (const k of ['lora_task_type', 'lora_modules_to_save', 'lora_fan_in_fan_out']) if (k in raw) (take(k), warn(k, 'not used by the LoRA here'));

  // TRL ScriptArguments: dataset_name (a local file or folder here; Hub names are not downloaded)
  if ('dataset_name' in raw) {
    const v = take('dataset_name');
    raw.dataset = { ...(raw.dataset as Record<string, unknown> | undefined), path: v };
  }
  // Axolotl data keys
  if ('datasets' in raw) {
    const ds = take('datasets');
    if (!Array.isArray(ds) || ds.length !== 1 || typeof ds[0] !== 'object' || ds[0] === null) refuse('datasets', 'must list exactly one dataset here ({path, type})');
    const d = (ds as Record<string, unknown>[])[0];
    const types: Record<string, string> = { alpaca: 'alpaca', sharegpt: 'sharegpt', chat_template: 'messages', completion: 'prompt_completion' };
    const t = d.type === undefined ? 'auto' : types[String(d.type)];
    if (!t) refuse('datasets[0].type', `${JSON.stringify(d.type)} is not implemented (${Object.keys(types).join(', ')})`);
    raw.dataset = { ...(raw.dataset as Record<string, unknown> | undefined), path: d.path, format: t };
  }
  if ('val_set_size' in raw) {
    const v = take('val_set_size');
    raw.dataset = { ...(raw.dataset as Record<string, unknown> | undefined), eval_fraction: v };
  }
  if ('train_on_inputs' in raw) {
    const v = take('train_on_inputs');
    if (kind === 'sft' && v === true) raw.completion_only_loss = false;
  }

  for (const [key, why] of Object.entries(NO_EFFECT)) {
    if (key in raw) {
      const v = take(key);
      if (v === false || v === null || v === 'none' || (Array.isArray(v) && v.length === 0)) continue; // off is what happens here
      warn(key, why);
    }
  }
  return { raw, warnings };
}
