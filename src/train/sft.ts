/**
 * Supervised fine-tuning (TRL SFTTrainer semantics) on the shared training loop.
 *
 *   rows -> examples: chat rows through the tokenizer's chat template with assistant-only labels
 *           (tokenizeChatForTraining); pre-tokenized rows (input_ids + optional labels) as given
 *   examples -> units: one example per row, or packed into max_length sequences (packing)
 *   loss = sum over trained tokens of -log p(token) / (trained tokens in the optimizer step)
 *   NEFTune noise on the embeddings (training only), LoRA through the linear hook,
 *   staged training through `trainable` / `param_groups`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { join } from 'node:path';
import { applySetOverrides, readConfigFile, validateConfig } from '../config/schema.ts';
import { applyColumns, describeFormatChoice, guessFormat, mappedFormat, toExample, type ColumnMap, type DataFormat } from '../data/formats.ts';
import { readDatasetRows } from '../data/llamafactory.ts';
import { readAllRows } from '../data/io.ts';
import { initBackend } from '../engine/backend.ts';
import { loadModel, saveModel } from '../model/checkpoint.ts';
import type { ForwardOptions, LlamaModel } from '../model/llama.ts';
import { targetLogprobs } from '../model/logprobs.ts';
import { loadTokenizer, type Tokenizer } from '../model/tokenizer.ts';
import { UserError } from '../util/errors.ts';
import { collate, IGNORE_INDEX, packExamples, toUnit, trainedPositions, type Batch, type TokenizedExample, type Unit } from './data.ts';
import { LoraAdapters } from './lora.ts';
import { neftuneHook } from './neftune.ts';
import { checkpointOption, selectParams } from './params.ts';
import { Rng } from './rng.ts';
import { SFT_SCHEMA, type SftConfig } from './sft-config.ts';
import { trainSettingsLine } from './settings.ts';
import { capMessages, tokenizeChatForTraining } from './tokenize.ts';
import { train, type TrainOptions, type TrainResult, type TrainTask } from './trainer.ts';
import { fromTrlConfig } from './trl-compat.ts';
import { checkpointName } from '../model/names.ts';

/**
 * Reads a YAML config, applies `--set` overrides, validates it (errors name the key). TRL
 * SFTConfig / Axolotl key names are read too (trl-compat.ts); the accepted keys that have no
 * effect here end up in `config_warnings`.
 */
export async function loadSftConfig(path: string, sets: string[] = []): Promise<SftConfig> {
  return validateSftConfig(applySetOverrides(await readConfigFile(path), sets), path);
}

/** Validates an already-parsed config object (e.g. built in code). */
export function validateSftConfig(raw: unknown, source = 'config'): SftConfig {
  const compat = raw && typeof raw === 'object' && !Array.isArray(raw) ? fromTrlConfig(raw as Record<string, unknown>, 'sft', source) : { raw, warnings: [] };
  const cfg = checkSftConfig(validateConfig<SftConfig>(SFT_SCHEMA, compat.raw, source), source);
  if (compat.warnings.length) cfg.config_warnings = compat.warnings;
  return cfg;
}

function checkSftConfig(cfg: SftConfig, source: string): SftConfig {
  if (cfg.max_steps <= 0 && !(cfg.num_train_epochs > 0)) {
    throw new UserError(`${source}: key 'max_steps' or 'num_train_epochs' must be > 0 (nothing to train)`);
  }
  return cfg;
}

/**
 * Which tokens SFT trains, as TRL's SFTTrainer decides (trl/trainer/sft_trainer.py, tokenize_fn,
 * lines 1457-1513 at f2cd577): language-modelling text rows train the whole sequence;
 * prompt-completion rows train the completion unless completion_only_loss is false.
 * Conversations train the assistant turns only (assistant_only_loss, default true here: the
 * method trains answers, not user turns; TRL's default false trains the whole conversation).
 */
export interface LossMaskOptions {
  assistantOnlyLoss?: boolean;
  completionOnlyLoss?: boolean;
  /** Column of language-modelling rows (TRL dataset_text_field, default "text"). */
  textField?: string;
}

const CONVERSATIONAL: ReadonlySet<string> = new Set(['messages', 'sharegpt']);

/** A language-modelling row: a string in the text field and none of the structured formats' keys. */
function isTextRow(row: Record<string, unknown>, field: string): boolean {
  return typeof row[field] === 'string' && guessFormat(row) === null;
}

/** Turns dataset rows into tokenized examples; `where` names the file in errors. */
export function tokenizeRows(rows: Record<string, unknown>[], where: string, format: string, tok: Tokenizer | null, maxLength: number, mask: LossMaskOptions = {}, columns?: ColumnMap): TokenizedExample[] {
  const out: TokenizedExample[] = [];
  const textField = mask.textField ?? 'text';
  const asked = format === 'auto' ? mappedFormat(columns) : (format as DataFormat);
  rows.forEach((raw, i) => {
    const at = `${where}: row ${i + 1}`;
    const row = applyColumns(raw, columns, at);
    if (format === 'text' || (format === 'auto' && asked === undefined && isTextRow(row, textField))) {
      const text = row[textField];
      if (typeof text !== 'string') throw new UserError(`${at}: '${textField}' must be a string (dataset_text_field)`);
      if (!tok) throw new UserError(`${at}: text rows need a tokenizer, but the model directory has no tokenizer.json`);
      // TRL appends eos to language-modelling text that lacks it (sft_trainer.py add_eos, 1439-1441)
      const ids = tok.encode(text.endsWith(tok.eosToken) ? text : text + tok.eosToken).slice(0, maxLength);
      out.push({ input_ids: ids, labels: ids.slice() });
      return;
    }
    const ex = toExample(row, asked, at);
    if (ex.inputIds) {
      const ids = ex.inputIds;
      const labels = ex.labels ?? ids.slice();
      if (labels.length !== ids.length) throw new UserError(`${at}: 'labels' has ${labels.length} entries but 'input_ids' has ${ids.length}`);
      out.push({ input_ids: ids.slice(0, maxLength), labels: labels.slice(0, maxLength) });
      return;
    }
    if (!tok) throw new UserError(`${at}: text rows need a tokenizer, but the model directory has no tokenizer.json`);
    if (!ex.messages.some((m) => m.role === 'assistant')) throw new UserError(`${at}: no assistant answer to train on (SFT needs a completion / output / assistant turn)`);
    // Cut huge fields to what max_length can keep before tokenizing (same tokens survive).
    const t = tokenizeChatForTraining(tok, capMessages(ex.messages, maxLength, tok), { maxLength });
    const whole = CONVERSATIONAL.has(ex.format ?? '') ? !mask.assistantOnlyLoss : mask.completionOnlyLoss === false;
    out.push(whole ? { input_ids: t.input_ids, labels: t.input_ids.slice() } : t);
  });
  return out;
}

/** Trained targets of an example (labels != -100 after the first token). */
function trainedCount(ex: TokenizedExample): number {
  let n = 0;
  for (let t = 1; t < ex.labels.length; t++) if (ex.labels[t] !== IGNORE_INDEX) n++;
  return n;
}

export interface SftData {
  train: TokenizedExample[];
  eval: TokenizedExample[];
  /** Examples dropped because no label survived truncation. */
  dropped: number;
  /** The row format the dataset was read as and why (describeFormatChoice). */
  read: string;
}

/** Reads, tokenizes and splits the dataset of a config. */
export async function prepareSftData(cfg: SftConfig, tok: Tokenizer | null): Promise<SftData> {
  const { path, format, columns } = cfg.dataset;
  const rows = await readDatasetRows(cfg.dataset);
  const read = describeFormatChoice(path, applyColumns(rows[0] ?? {}, columns, `${path}: row 1`), format, { columns });
  const mask: LossMaskOptions = { assistantOnlyLoss: cfg.assistant_only_loss, completionOnlyLoss: cfg.completion_only_loss, textField: cfg.dataset_text_field };
  let all = tokenizeRows(rows, path, format, tok, cfg.max_length, mask, columns);
  let evalEx: TokenizedExample[] = [];
  if (cfg.dataset.eval_path) {
    evalEx = tokenizeRows(await readAllRows(cfg.dataset.eval_path), cfg.dataset.eval_path, format, tok, cfg.max_length, mask, columns);
  } else if (cfg.dataset.eval_fraction > 0) {
    const n = Math.max(1, Math.round(all.length * cfg.dataset.eval_fraction));
    if (n >= all.length) throw new UserError(`dataset.eval_fraction: ${cfg.dataset.eval_fraction} of ${all.length} rows leaves nothing to train on`);
    const idx = new Rng(cfg.seed, 0xe7a1).shuffle(all.map((_, i) => i));
    const held = new Set(idx.slice(0, n));
    evalEx = all.filter((_, i) => held.has(i));
    all = all.filter((_, i) => !held.has(i));
  }
  const kept = all.filter((e) => trainedCount(e) > 0);
  return { train: kept, eval: evalEx.filter((e) => trainedCount(e) > 0), dropped: all.length - kept.length, read };
}

/** Shifted targets: target[b, t] = labels[b, t+1] (the token predicted at t), -100 at the end. */
export function shiftedTargets(batch: Batch): Int32Array {
  const { B, T, labels } = batch;
  const out = new Int32Array(B * T).fill(IGNORE_INDEX);
  for (let b = 0; b < B; b++) for (let t = 0; t + 1 < T; t++) out[b * T + t] = labels[b * T + t + 1];
  return out;
}

export interface SftForwardHooks {
  embedHook?: (e: tf.Tensor3D) => tf.Tensor3D;
  linearHook?: (name: string, x: tf.Tensor, y: tf.Tensor) => tf.Tensor;
  checkpoint?: ForwardOptions['checkpoint'];
}

/** Sum over the batch's trained tokens of -log p(token | prefix), as a scalar. */
export function sftLossSum(model: LlamaModel, batch: Batch, hooks: SftForwardHooks = {}): tf.Scalar {
  return tf.tidy(() => {
    const { B, T } = batch;
    const ids = tf.tensor2d(batch.ids, [B, T], 'int32');
    // The lm_head runs only at positions that train (prompt and padding are -100): its logits
    // [n, V] and their gradient are the largest tensors of a step at a real vocabulary.
    const { rows, targets } = trainedPositions(shiftedTargets(batch));
    if (rows.length === 0) return tf.scalar(0);
    const logits = model.forward(ids, {
      embedHook: hooks.embedHook,
      linearHook: hooks.linearHook,
      segmentIds: batch.segmentIds ? tf.tensor2d(batch.segmentIds, [B, T], 'int32') : undefined,
      positionIds: batch.positionIds ? tf.tensor2d(batch.positionIds, [B, T], 'int32') : undefined,
      logitRows: tf.tensor1d(rows, 'int32'),
      checkpoint: hooks.checkpoint,
    });
    return tf.neg(tf.sum(targetLogprobs(logits, tf.tensor2d(targets, [1, rows.length], 'int32')))) as tf.Scalar;
  });
}

/** Mean token cross-entropy over `units` (no NEFTune, no dropout): eval_loss. */
export async function evalLoss(model: LlamaModel, units: Unit[], batchSize: number, padId: number, linearHook?: SftForwardHooks['linearHook']): Promise<number> {
  let sum = 0;
  let n = 0;
  for (let i = 0; i < units.length; i += batchSize) {
    const batch = collate(units.slice(i, i + batchSize), padId);
    const s = sftLossSum(model, batch, { linearHook });
    sum += (await s.data())[0];
    s.dispose();
    n += batch.trainedTokens;
  }
  return n > 0 ? sum / n : Number.NaN;
}

export interface SftTaskParts {
  task: TrainTask<Batch>;
  lora?: LoraAdapters;
  dispose(): void;
}

/** Builds the SFT TrainTask over a loaded model (exported for tests and for reuse). */
export function buildSftTask(model: LlamaModel, cfg: SftConfig, data: SftData, padId: number, source = 'config'): SftTaskParts {
  // `adapter`: continue training a PEFT adapter (its r, alpha, targets, rsLoRA unless lora says otherwise)
  if (cfg.adapter && !cfg.lora) cfg = { ...cfg, lora: LoraAdapters.readConfig(cfg.adapter) };
  const units = cfg.packing ? packExamples(data.train, cfg.max_length) : data.train.map((e) => toUnit(e, cfg.max_length));
  const evalUnits = data.eval.map((e) => toUnit(e, cfg.max_length));
  let lora: LoraAdapters | undefined;
  let params;
  if (cfg.lora) {
    if (cfg.trainable) throw new UserError(`${source}: keys 'lora' and 'trainable' cannot be combined (LoRA trains only the adapters)`);
    if (cfg.param_groups.length > 0) throw new UserError(`${source}: keys 'lora' and 'param_groups' cannot be combined (the adapters use learning_rate)`);
    lora = cfg.adapter ? LoraAdapters.load(cfg.adapter, model) : LoraAdapters.create(model, cfg.lora, cfg.seed);
    params = lora.params(cfg.learning_rate, cfg.weight_decay);
  } else {
    params = selectParams(model.params, {
      trainable: cfg.trainable,
      paramGroups: cfg.param_groups,
      learningRate: cfg.learning_rate,
      weightDecay: cfg.weight_decay,
      tied: model.config.tieWordEmbeddings,
      alias: (n) => checkpointName(n, model.config),
      source,
    });
  }
  const task: TrainTask<Batch> = {
    numUnits: units.length,
    params,
    makeBatch: (idx) => collate(idx.map((i) => units[i]), padId),
    weight: (b) => b.trainedTokens,
    tokens: (b) => b.trainedTokens,
    loss: (b, ctx) => {
      const sum = sftLossSum(model, b, {
        embedHook: neftuneHook(cfg.neftune_noise_alpha, b.tokenSegLen, ctx.rng),
        linearHook: lora?.hook(ctx.rng),
        checkpoint: checkpointOption(cfg.gradient_checkpointing, params, ctx.rng),
      });
      return { loss: tf.div(sum, ctx.normalizer) as tf.Scalar };
    },
    evaluate: evalUnits.length > 0 ? async () => ({ eval_loss: await evalLoss(model, evalUnits, cfg.per_device_train_batch_size, padId, lora?.hook()) }) : undefined,
    saveFinal: async (dir) => {
      if (!lora) return saveModel(model, dir, { tokenizerFrom: cfg.model, dtype: cfg.save_dtype });
      if (!cfg.lora!.merge) return lora.save(dir, cfg.model);
      await lora.save(join(cfg.output_dir, 'adapter'), cfg.model);
      lora.mergeInto(model);
      await saveModel(model, dir, { tokenizerFrom: cfg.model, dtype: cfg.save_dtype });
    },
  };
  return { task, lora, dispose: () => lora?.dispose() };
}

export interface SftRunOptions extends TrainOptions {
  /** Config file name used in error messages (default 'config'). */
  source?: string;
}

/** Runs SFT end to end: backend, tokenizer, data, model, loop, final model. */
export async function trainSft(cfg: SftConfig, opts: SftRunOptions = {}): Promise<TrainResult> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  for (const w of cfg.config_warnings ?? []) log(`sft: warning: ${w}`);
  const backend = await initBackend(cfg.backend, opts.log ? { log } : {});
  log(trainSettingsLine('sft', cfg, backend, { packing: cfg.packing }));
  let tok: Tokenizer | null = null;
  try {
    tok = await loadTokenizer(cfg.model);
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
  }
  const data = await prepareSftData(cfg, tok);
  log(`sft: ${data.read}`);
  if (data.dropped > 0) log(`sft: ${data.dropped} example(s) have no trained token after truncation to max_length ${cfg.max_length}; skipped`);
  log(`sft: ${data.train.length} training example(s)${data.eval.length ? `, ${data.eval.length} eval` : ''}${cfg.packing ? ' (packed)' : ''}`);
  const model = await loadModel(cfg.model);
  const parts = buildSftTask(model, cfg, data, tok?.padTokenId ?? 0, opts.source);
  try {
    return await train(cfg, parts.task, opts);
  } finally {
    parts.dispose();
    model.dispose();
  }
}
