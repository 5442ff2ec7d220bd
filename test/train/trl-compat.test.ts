import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { fromTrlConfig } from '../../src/train/trl-compat.ts';
import { validateSftConfig } from '../../src/train/sft.ts';
import { validateKtoConfig } from '../../src/train/kto.ts';

// A KTOConfig as TRL users write it for `trl kto --config kto.yaml`: TrainingArguments names plus
// trl/trainer/kto_config.py fields (at f2cd577: train_sampling_strategy line 119, disable_dropout 153,
// max_length 163, precompute_ref_log_probs 174, precompute_ref_batch_size 182, loss_type 192,
// beta 199, desirable_weight 206, undesirable_weight 213) and ScriptArguments/ModelConfig names
// (model_name_or_path, dataset_name, use_peft, lora_r, lora_alpha, lora_target_modules).
const TRL_KTO_YAML = `
model_name_or_path: runs/sft-ko/final
dataset_name: data/kto-ko.jsonl
output_dir: runs/kto-ko
learning_rate: 5.0e-7
lr_scheduler_type: cosine
num_train_epochs: 1
per_device_train_batch_size: 16
gradient_accumulation_steps: 8
gradient_checkpointing: true
bf16: true
logging_steps: 25
eval_strategy: steps
eval_steps: 500
report_to: wandb
warmup_ratio: 0.1
beta: 0.1
desirable_weight: 1.375
undesirable_weight: 1.0
max_length: 1024
max_prompt_length: 512
precompute_ref_log_probs: true
precompute_ref_batch_size: 4
train_sampling_strategy: sequential
disable_dropout: true
use_liger_kernel: true
use_peft: true
lora_r: 16
lora_alpha: 32
lora_target_modules: [q_proj, v_proj]
`;

// An SFTConfig (trl/trainer/sft_config.py at f2cd577: max_length 205, packing 225, packing_strategy 232,
// completion_only_loss 261, assistant_only_loss 273) as pasted from a TRL 0.19 script (max_seq_length).
const TRL_SFT_YAML = `
model_name_or_path: models/qwen2.5-0.5b
dataset_name: data/ko-chat.jsonl
output_dir: runs/sft-ko
max_seq_length: 2048
packing: true
packing_strategy: bfd
assistant_only_loss: true
completion_only_loss: false
dataset_text_field: text
learning_rate: 2.0e-5
lr_scheduler_type: cosine_with_min_lr
lr_scheduler_kwargs: { min_lr_rate: 0.1 }
warmup_ratio: 0.03
optim: adamw_torch_fused
per_device_train_batch_size: 2
per_device_eval_batch_size: 2
gradient_accumulation_steps: 16
fp16: false
bf16: true
save_strategy: steps
save_steps: 200
report_to: none
seed: 42
`;

// Axolotl (docs/config.qmd names): base_model, datasets [{path, type}], sequence_len, micro_batch_size, ...
const AXOLOTL_YAML = `
base_model: models/llama-3.2-1b
datasets:
  - path: data/ko-alpaca.jsonl
    type: alpaca
val_set_size: 0.05
output_dir: ./outputs/lora-out
adapter: lora
lora_r: 32
lora_alpha: 16
lora_dropout: 0.05
lora_target_modules: [q_proj, k_proj, v_proj, o_proj]
sequence_len: 4096
sample_packing: true
micro_batch_size: 2
gradient_accumulation_steps: 4
num_epochs: 4
optimizer: adamw_torch
lr_scheduler: cosine
learning_rate: 0.0002
train_on_inputs: false
bf16: auto
tf32: false
gradient_checkpointing: true
flash_attention: true
warmup_steps: 10
wandb_project:
`;

describe('TRL KTOConfig pasted as YAML', () => {
  it('trains with our names, and says in one line per key which accepted keys change nothing', () => {
    const cfg = validateKtoConfig(parseYaml(TRL_KTO_YAML), 'kto.yaml');
    expect(cfg.model).toBe('runs/sft-ko/final');
    expect(cfg.dataset.path).toBe('data/kto-ko.jsonl');
    expect(cfg.ref_batch_size).toBe(4);
    expect(cfg.shuffle).toBe(false);
    expect(cfg.eval_steps).toBe(500);
    expect(cfg.max_prompt_length).toBe(512);
    expect(cfg.lora).toMatchObject({ r: 16, alpha: 32, target_modules: ['q_proj', 'v_proj'] });
    const w = cfg.config_warnings ?? [];
    for (const k of ['bf16', 'report_to', 'use_liger_kernel']) {
      expect(w.filter((l) => l.startsWith(`kto.yaml: '${k}' is accepted but has no effect here`))).toHaveLength(1);
    }
    // gradient_checkpointing is a real key here (layers recompute their activations in backward)
    expect(cfg.gradient_checkpointing).toBe(true);
    // precompute_ref_log_probs true and disable_dropout true are what happens here: no warning
    expect(w.some((l) => l.includes('precompute_ref_log_probs') || l.includes('disable_dropout'))).toBe(false);
    expect(w).toHaveLength(3);
  });

  it('refuses what would train differently: sync_ref_model, another optimizer, an unknown sampling strategy', () => {
    const base = parseYaml(TRL_KTO_YAML) as Record<string, unknown>;
    expect(() => validateKtoConfig({ ...base, sync_ref_model: true }, 'k.yaml')).toThrow(/k\.yaml: 'sync_ref_model' true is not implemented/);
    expect(() => validateKtoConfig({ ...base, optim: 'adafactor' }, 'k.yaml')).toThrow(/'optim' "adafactor" is not implemented/);
    expect(() => validateKtoConfig({ ...base, train_sampling_strategy: 'group_by_length' }, 'k.yaml')).toThrow(/'train_sampling_strategy' "group_by_length"/);
    expect(validateKtoConfig({ ...base, precompute_ref_log_probs: false }, 'k.yaml').config_warnings).toContainEqual(expect.stringMatching(/'precompute_ref_log_probs' is accepted but has no effect here: reference log-probs are always computed once/));
  });
});

describe('TRL SFTConfig pasted as YAML', () => {
  it('maps max_seq_length, the loss-mask switches, the schedule and its kwargs', () => {
    const cfg = validateSftConfig(parseYaml(TRL_SFT_YAML), 'sft.yaml');
    expect(cfg.max_length).toBe(2048);
    expect(cfg.assistant_only_loss).toBe(true);
    expect(cfg.completion_only_loss).toBe(false);
    expect(cfg.packing).toBe(true);
    expect(cfg.lr_scheduler_type).toBe('cosine_with_min_lr');
    expect(cfg.lr_scheduler_kwargs).toEqual({ min_lr_rate: 0.1 });
    expect(cfg.save_steps).toBe(200);
    const w = cfg.config_warnings ?? [];
    expect(w.map((l) => l.split("'")[1]).sort()).toEqual(['bf16', 'per_device_eval_batch_size']);
  });

  it("reads transformers' fractional warmup_steps as a ratio and TRL's max_length null as no truncation", () => {
    const base = parseYaml(TRL_SFT_YAML) as Record<string, unknown>;
    const { warmup_ratio: _w, ...noRatio } = base;
    const cfg = validateSftConfig({ ...noRatio, warmup_steps: 0.1, packing: false, max_seq_length: undefined, max_length: null }, 's.yaml');
    expect([cfg.warmup_ratio, cfg.warmup_steps]).toEqual([0.1, 0]);
    expect(cfg.max_length).toBe(Number.MAX_SAFE_INTEGER);
    expect(() => validateSftConfig({ ...noRatio, max_seq_length: undefined, max_length: null }, 's.yaml')).toThrow(/'max_length' null cannot be combined with packing/);
  });

  it('refuses an SFT loss_type that is not plain cross-entropy', () => {
    expect(() => validateSftConfig({ ...(parseYaml(TRL_SFT_YAML) as object), loss_type: 'dft' }, 's.yaml')).toThrow(/'loss_type' "dft" is not implemented/);
    expect(validateSftConfig({ ...(parseYaml(TRL_SFT_YAML) as object), loss_type: 'nll' }, 's.yaml').max_length).toBe(2048);
  });

  it('a key that is neither ours nor a known TRL / TrainingArguments one is still an error', () => {
    expect(() => validateSftConfig({ ...(parseYaml(TRL_SFT_YAML) as object), learnig_rate: 1 }, 's.yaml')).toThrow(/unknown key 'learnig_rate'/);
  });
});

describe('Axolotl config', () => {
  it('maps the names that have a meaning here and warns for the rest', () => {
    const { raw, warnings } = fromTrlConfig(parseYaml(AXOLOTL_YAML) as Record<string, unknown>, 'sft', 'axolotl.yaml');
    expect(raw).toMatchObject({
      model: 'models/llama-3.2-1b',
      dataset: { path: 'data/ko-alpaca.jsonl', format: 'alpaca', eval_fraction: 0.05 },
      max_length: 4096,
      packing: true,
      per_device_train_batch_size: 2,
      num_train_epochs: 4,
      lr_scheduler_type: 'cosine',
      lora: { r: 32, alpha: 16, dropout: 0.05, target_modules: ['q_proj', 'k_proj', 'v_proj', 'o_proj'] },
    });
    expect('completion_only_loss' in raw).toBe(false); // train_on_inputs false = completion only, the default
    expect(warnings.map((l) => l.split("'")[1]).sort()).toEqual(['bf16', 'flash_attention']);
    expect(raw.gradient_checkpointing).toBe(true);
    const cfg = validateSftConfig(parseYaml(AXOLOTL_YAML), 'axolotl.yaml');
    expect(cfg.lora?.r).toBe(32);
    expect(validateSftConfig({ ...(parseYaml(AXOLOTL_YAML) as object), train_on_inputs: true }, 'a.yaml').completion_only_loss).toBe(false);
  });
});
