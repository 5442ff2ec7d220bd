/**
 * KTO (Kahneman-Tversky Optimization) on the shared training loop, as TRL's KTOTrainer, with the
 * reference model's log-probs computed once and cached:
 *
 *   rows -> (prompt ids, completion ids, label); KL pair of row i = the completion of row
 *           (i-1 mod B) inside its batch of B consecutive rows (fixed once, in dataset order)
 *   reference: logp(completion_i | prompt_i) and logp(completion_kl(i) | prompt_i) for every row,
 *           read from ref_logps_cache (built on a miss, rebuilt when corrupt)
 *   each micro-batch: policy logp with gradient; policy KL logp without gradient;
 *           loss = ktoLoss(...) (kto-loss.ts), summed over examples / examples in the step
 */
import * as tf from '@tensorflow/tfjs-core';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { applySetOverrides, readConfigFile, validateConfig } from '../config/schema.ts';
import { applyColumns, describeFormatChoice, mappedFormat, promptMessages, toExample, type ColumnMap, type DataFormat, type Message } from '../data/formats.ts';
import { readDatasetRows } from '../data/llamafactory.ts';
import { readAllRows, type Row } from '../data/io.ts';
import { initBackend } from '../engine/backend.ts';
import { loadModel, saveModel } from '../model/checkpoint.ts';
import type { ForwardOptions, LlamaModel } from '../model/llama.ts';
import { sequenceLogprobs, targetLogprobs } from '../model/logprobs.ts';
import { loadTokenizer, type Tokenizer } from '../model/tokenizer.ts';
import { UserError } from '../util/errors.ts';
import { trainSettingsLine } from './settings.ts';
import { IGNORE_INDEX, trainedPositions } from './data.ts';
import { KTO_SCHEMA, type KtoConfig } from './kto-config.ts';
import { desirableRatioWarning, klPairIndex, ktoBatchStats, ktoLoss } from './kto-loss.ts';
import { LoraAdapters } from './lora.ts';
import { neftuneHook } from './neftune.ts';
import { checkpointOption, selectParams } from './params.ts';
import { resolveReferenceHash, hashTokenizedRows, lookupRefCache, refCacheKey, writeRefCache, type RefCacheParts, type RefLogps } from './ref-cache.ts';
import { Rng } from './rng.ts';
import { capMessages, tokenizePromptCompletion } from './tokenize.ts';
import { train, type LogStat, type TrainOptions, type TrainResult, type TrainTask } from './trainer.ts';
import { fromTrlConfig } from './trl-compat.ts';
import { checkpointName } from '../model/names.ts';

/** Reads a YAML config (our keys, or TRL KTOConfig / Axolotl names: trl-compat.ts), applies `--set`, validates. */
export async function loadKtoConfig(path: string, sets: string[] = []): Promise<KtoConfig> {
  return validateKtoConfig(applySetOverrides(await readConfigFile(path), sets), path);
}

export function validateKtoConfig(raw: unknown, source = 'config'): KtoConfig {
  const compat = raw && typeof raw === 'object' && !Array.isArray(raw) ? fromTrlConfig(raw as Record<string, unknown>, 'kto', source) : { raw, warnings: [] };
  const cfg = checkKtoConfig(validateConfig<KtoConfig>(KTO_SCHEMA, compat.raw, source), source);
  if (compat.warnings.length) cfg.config_warnings = compat.warnings;
  return cfg;
}

/**
 * Preference rows {prompt, chosen, rejected} become two unpaired KTO rows each, as TRL's
 * unpair_preference_dataset does (trl/data_utils.py _unpair_row, lines 440-451 at f2cd577):
 * within each batch of 1000 rows (datasets' map batch size) all chosen completions
 * (label true) come first, then all rejected ones (label false); other columns are copied.
 * Rows that are not preference rows pass through unchanged.
 */
export function unpairPreferenceRows(rows: Row[], where = 'dataset'): Row[] {
  const isPref = (r: Row) => r.chosen !== undefined && r.rejected !== undefined;
  if (!rows.some(isPref)) return rows;
  const out: Row[] = [];
  for (let b = 0; b < rows.length; b += 1000) {
    const batch = rows.slice(b, b + 1000);
    const pref = batch.filter(isPref);
    if (pref.length !== batch.length) throw new UserError(`${where}: rows ${b + 1}-${b + batch.length} mix preference rows (prompt/chosen/rejected) with other rows`);
    const split = (r: Row, completion: unknown, label: boolean): Row => {
      const { chosen: _c, rejected: _r, ...rest } = r;
      if (rest.prompt === undefined) throw new UserError(`${where}: preference rows need a 'prompt' column here (implicit prompts are not split out)`);
      return { ...rest, completion, label };
    };
    for (const r of batch) out.push(split(r, r.chosen, true));
    for (const r of batch) out.push(split(r, r.rejected, false));
  }
  return out;
}

function checkKtoConfig(cfg: KtoConfig, source: string): KtoConfig {
  if (cfg.max_steps <= 0 && !(cfg.num_train_epochs > 0)) throw new UserError(`${source}: key 'max_steps' or 'num_train_epochs' must be > 0 (nothing to train)`);
  if (cfg.loss_type === 'kto' && cfg.per_device_train_batch_size < 2) {
    throw new UserError(`${source}: key 'per_device_train_batch_size' must be >= 2 for loss_type kto (the KL term pairs each prompt with another example's completion); got ${cfg.per_device_train_batch_size}`);
  }
  return cfg;
}

/** One tokenized KTO example. */
export interface KtoExample {
  prompt_ids: number[];
  completion_ids: number[];
  label: boolean;
}

function idList(v: unknown, at: string, key: string): number[] {
  if (!Array.isArray(v) || v.length === 0 || !v.every((x) => Number.isInteger(x) && x >= 0)) throw new UserError(`${at}: '${key}' must be a non-empty list of token ids`);
  return v as number[];
}

/**
 * Rows -> tokenized KTO examples; `where` names the file in errors. With max_prompt_length set
 * the prompt keeps its last tokens and the completion its first (TRL before 0.20). Unset, as
 * current TRL does (trl/trainer/kto_trainer.py at f2cd577: the collator cuts the sequence at
 * max_length, lines 377-380, after rows whose prompt alone reaches max_length are dropped,
 * lines 1088-1094): the prompt stays whole and a row with no completion token left is dropped.
 * `columns` maps the dataset's own column names first.
 */
export function tokenizeKtoRows(rows: Row[], where: string, format: string, tok: Tokenizer | null, cfg: Pick<KtoConfig, 'max_length' | 'max_prompt_length' | 'max_completion_length'>, columns?: ColumnMap): KtoExample[] {
  const currentTrl = cfg.max_prompt_length === undefined;
  const asked = format === 'auto' ? mappedFormat(columns) : (format as DataFormat);
  const out = rows.map((raw, i): KtoExample | null => {
    const at = `${where}: row ${i + 1}`;
    const row = applyColumns(raw, columns, at);
    if (format === 'pretokenized' || (format === 'auto' && Array.isArray(row.prompt_input_ids))) {
      const label = row.label;
      if (typeof label !== 'boolean') throw new UserError(`${at}: 'label' must be true or false`);
      let p = idList(row.prompt_input_ids, at, 'prompt_input_ids');
      let c = idList(row.completion_input_ids, at, 'completion_input_ids');
      if (currentTrl) {
        if (p.length >= cfg.max_length) return null;
        c = c.slice(0, Math.min(cfg.max_completion_length ?? Infinity, cfg.max_length - p.length));
        return { prompt_ids: p, completion_ids: c, label };
      }
      p = p.slice(Math.max(0, p.length - cfg.max_prompt_length!));
      c = c.slice(0, Math.min(cfg.max_completion_length ?? Infinity, Math.max(1, cfg.max_length - p.length)));
      return { prompt_ids: p, completion_ids: c, label };
    }
    const ex = toExample(row, asked, at, { kto: true });
    if (ex.label === undefined) throw new UserError(`${at}: KTO rows need a 'label' (true = desirable) or 'kto_tag'`);
    if (!tok) throw new UserError(`${at}: text rows need a tokenizer, but the model directory has no tokenizer.json`);
    const prompt: Message[] = promptMessages(ex);
    const completion = ex.messages.slice(prompt.length);
    if (completion.length === 0) throw new UserError(`${at}: no completion`);
    // Cut huge fields before tokenizing: prompts keep their tail (truncated from the left),
    // completions their head; the tokens that survive truncation are the same.
    const cappedCompletion = capMessages(completion, Math.max(cfg.max_length, cfg.max_completion_length ?? 0), tok, 'head');
    if (currentTrl) {
      // the prompt stays whole here (a prompt that fills max_length drops the row)
      const ids = tokenizePromptCompletion(tok, prompt, cappedCompletion, { maxLength: Number.MAX_SAFE_INTEGER, maxCompletionLength: cfg.max_completion_length });
      if (ids.prompt_ids.length >= cfg.max_length) return null;
      return { prompt_ids: ids.prompt_ids, completion_ids: ids.completion_ids.slice(0, cfg.max_length - ids.prompt_ids.length), label: ex.label };
    }
    const cappedPrompt = capMessages(prompt, Math.max(cfg.max_length, cfg.max_prompt_length ?? 0), tok, 'tail');
    const ids = tokenizePromptCompletion(tok, cappedPrompt, cappedCompletion, { maxLength: cfg.max_length, maxPromptLength: cfg.max_prompt_length, maxCompletionLength: cfg.max_completion_length });
    if (ids.completion_ids.length === 0) throw new UserError(`${at}: the completion is empty after truncation (max_length ${cfg.max_length})`);
    return { prompt_ids: ids.prompt_ids, completion_ids: ids.completion_ids, label: ex.label };
  });
  return out.filter((e): e is KtoExample => e !== null);
}

export interface KtoData {
  train: KtoExample[];
  eval: KtoExample[];
  /** KL pair of each training row (index of the row whose completion it borrows). */
  klIndex: number[];
  evalKlIndex: number[];
  /** The row format the dataset was read as and why (describeFormatChoice). */
  read?: string;
  /** Training rows dropped because the prompt alone fills max_length (current-TRL truncation). */
  dropped: number;
}

export async function prepareKtoData(cfg: KtoConfig, tok: Tokenizer | null): Promise<KtoData> {
  const { path, format, columns } = cfg.dataset;
  const rows = unpairPreferenceRows(await readDatasetRows(cfg.dataset), path);
  const first = applyColumns(rows[0] ?? {}, columns, `${path}: row 1`);
  const read = Array.isArray(first.prompt_input_ids) ? `${path}: read as pre-tokenized KTO rows (column 'prompt_input_ids')` : describeFormatChoice(path, first, format, { kto: true, columns });
  let all = tokenizeKtoRows(rows, path, format, tok, cfg, columns);
  const dropped = rows.length - all.length;
  let evalEx: KtoExample[] = [];
  if (cfg.dataset.eval_path) {
    evalEx = tokenizeKtoRows(unpairPreferenceRows(await readAllRows(cfg.dataset.eval_path), cfg.dataset.eval_path), cfg.dataset.eval_path, format, tok, cfg, columns);
  } else if (cfg.dataset.eval_fraction > 0) {
    const n = Math.max(2, Math.round(all.length * cfg.dataset.eval_fraction));
    if (n >= all.length) throw new UserError(`dataset.eval_fraction: ${cfg.dataset.eval_fraction} of ${all.length} rows leaves nothing to train on`);
    const held = new Set(new Rng(cfg.seed, 0xe7a1).shuffle(all.map((_, i) => i)).slice(0, n));
    evalEx = all.filter((_, i) => held.has(i));
    all = all.filter((_, i) => !held.has(i));
  }
  const B = cfg.per_device_train_batch_size;
  const pairs = (n: number) => (cfg.loss_type === 'kto' ? klPairIndex(n, B) : Array.from({ length: n }, (_, i) => i));
  return { train: all, eval: evalEx, klIndex: pairs(all.length), evalKlIndex: pairs(evalEx.length), read, dropped };
}

/** Reference log-probs of every row and KL pair, computed with `model` in batches. */
export async function computeReferenceLogps(model: LlamaModel, examples: KtoExample[], klIndex: number[], withKl: boolean, batchSize: number, padId: number): Promise<RefLogps> {
  const main = await sequenceLogprobs(model, examples.map((e) => ({ ids: [...e.prompt_ids, ...e.completion_ids], start: e.prompt_ids.length })), { batchSize, padId });
  const logps = Float64Array.from(main.map((s) => s.logp));
  let klLogps = new Float64Array(examples.length).fill(Number.NaN);
  if (withKl) {
    const kl = await sequenceLogprobs(model, examples.map((e, i) => ({ ids: [...e.prompt_ids, ...examples[klIndex[i]].completion_ids], start: e.prompt_ids.length })), { batchSize, padId });
    klLogps = Float64Array.from(kl.map((s) => s.logp));
  }
  return { logps, klLogps };
}

export interface RefCacheOutcome {
  status: 'hit' | 'built' | 'rebuilt';
  key: string;
  dir: string;
  data: RefLogps;
}

/**
 * Returns the reference log-probs for `examples`, from the cache when its key matches (the
 * reference model is then never loaded), else computed once and stored.
 */
export async function ensureReferenceCache(cfg: KtoConfig, examples: KtoExample[], klIndex: number[], tok: Tokenizer | null, log: (m: string) => void): Promise<RefCacheOutcome> {
  const refDir = cfg.ref_model ?? cfg.model;
  const cacheDir = resolve(cfg.ref_logps_cache);
  const parts: RefCacheParts = {
    referenceWeights: await resolveReferenceHash(cacheDir, refDir),
    tokenizer: tok?.hash ?? 'pretokenized',
    maxLength: cfg.max_length,
    maxPromptLength: cfg.max_prompt_length ?? null,
    maxCompletionLength: cfg.max_completion_length ?? null,
    batchSize: cfg.per_device_train_batch_size,
    lossType: cfg.loss_type,
    rows: hashTokenizedRows(examples, klIndex),
  };
  const key = refCacheKey(parts);
  const found = await lookupRefCache(cacheDir, key, examples.length);
  if (found.status === 'hit') {
    log(`kto: reference cache hit (key ${key}); the reference model is not loaded`);
    return { status: 'hit', key, dir: found.dir, data: found.data };
  }
  if (found.status === 'corrupt') log(`kto: reference cache ${found.dir} is corrupt (${found.reason}); rebuilding`);
  else log(`kto: reference cache miss (key ${key}); computing reference log-probs for ${examples.length} rows with ${refDir}`);
  if (!existsSync(refDir)) throw new UserError(`${refDir}: reference model directory not found and no cached log-probs for key ${key}`);
  const ref = await loadModel(refDir);
  let data: RefLogps;
  try {
    data = await computeReferenceLogps(ref, examples, klIndex, cfg.loss_type === 'kto', cfg.ref_batch_size, tok?.padTokenId ?? 0);
  } finally {
    ref.dispose();
  }
  const dir = await writeRefCache(cacheDir, key, parts, data);
  log(`kto: reference cache built (key ${key}) in ${dir}`);
  return { status: found.status === 'corrupt' ? 'rebuilt' : 'built', key, dir, data };
}

/** A micro-batch on the host: padded prompt+completion sequences and their targets. */
export interface KtoBatch {
  B: number;
  T: number;
  ids: Int32Array;
  /** targets[b, t] = token predicted at t when it is a completion token, else -100. */
  targets: Int32Array;
  tokenSegLen: Float32Array;
  labels: boolean[];
  refLogps: number[];
  refKlLogps: number[];
  /** Policy log-probs of the KL pairs at the step's weights (no gradient). */
  policyKlLogps: number[];
  completionTokens: number;
}

function padSequences(seqs: { prompt: number[]; completion: number[] }[], padId: number) {
  const B = seqs.length;
  const T = Math.max(2, ...seqs.map((s) => s.prompt.length + s.completion.length));
  const ids = new Int32Array(B * T).fill(padId);
  const targets = new Int32Array(B * T).fill(IGNORE_INDEX);
  const tokenSegLen = new Float32Array(B * T);
  let completionTokens = 0;
  seqs.forEach((s, b) => {
    const full = [...s.prompt, ...s.completion];
    ids.set(full, b * T);
    for (let t = 0; t < full.length; t++) tokenSegLen[b * T + t] = full.length;
    // The token at position t+1 is predicted at t; completion tokens start at prompt.length.
    for (let t = s.prompt.length; t < full.length; t++) {
      targets[b * T + t - 1] = full[t];
      completionTokens++;
    }
  });
  return { B, T, ids, targets, tokenSegLen, completionTokens };
}

/** Summed completion log-probs per row, [B], from a forward pass (carries the gradient). */
export function completionLogps(model: LlamaModel, p: { B: number; T: number; ids: Int32Array; targets: Int32Array }, opts: Pick<ForwardOptions, 'embedHook' | 'linearHook' | 'checkpoint'> = {}): tf.Tensor1D {
  return tf.tidy(() => {
    const ids = tf.tensor2d(p.ids, [p.B, p.T], 'int32');
    // Logits only at completion positions; each one's log-prob is summed into its row by a
    // [B, n] 0/1 matrix product (works on every backend, gradient included).
    const { rows, targets } = trainedPositions(p.targets);
    if (rows.length === 0) return tf.zeros([p.B]) as tf.Tensor1D;
    const logits = model.forward(ids, { ...opts, logitRows: tf.tensor1d(rows, 'int32') });
    const lp = targetLogprobs(logits, tf.tensor2d(targets, [1, rows.length], 'int32')); // [1, n]
    const member = new Float32Array(p.B * rows.length);
    rows.forEach((r, j) => (member[Math.floor(r / p.T) * rows.length + j] = 1));
    return tf.reshape(tf.matMul(tf.tensor2d(member, [p.B, rows.length]), tf.reshape(lp, [rows.length, 1])), [p.B]) as tf.Tensor1D;
  });
}

function stat(values: number[]): LogStat {
  return { sum: values.reduce((a, b) => a + b, 0), count: values.length };
}

export interface KtoTaskParts {
  task: TrainTask<KtoBatch>;
  lora?: LoraAdapters;
  dispose(): void;
}

export function buildKtoTask(model: LlamaModel, cfg: KtoConfig, data: KtoData, ref: RefLogps, evalRef: RefLogps | null, padId: number, source = 'config'): KtoTaskParts {
  let lora: LoraAdapters | undefined;
  let params;
  if (cfg.lora) {
    if (cfg.trainable) throw new UserError(`${source}: keys 'lora' and 'trainable' cannot be combined (LoRA trains only the adapters)`);
    lora = LoraAdapters.create(model, cfg.lora, cfg.seed);
    params = lora.params(cfg.learning_rate, cfg.weight_decay);
  } else {
    params = selectParams(model.params, { trainable: cfg.trainable, paramGroups: cfg.param_groups, learningRate: cfg.learning_rate, weightDecay: cfg.weight_decay, tied: model.config.tieWordEmbeddings, source, alias: (n) => checkpointName(n, model.config) });
  }
  const withKl = cfg.loss_type === 'kto';
  const lossParams = { beta: cfg.beta, desirableWeight: cfg.desirable_weight, undesirableWeight: cfg.undesirable_weight, lossType: cfg.loss_type };

  const makeBatch = async (examples: KtoExample[], klIndex: number[], r: RefLogps, idx: number[], linearHook?: (n: string, x: tf.Tensor, y: tf.Tensor) => tf.Tensor): Promise<KtoBatch> => {
    const main = padSequences(idx.map((i) => ({ prompt: examples[i].prompt_ids, completion: examples[i].completion_ids })), padId);
    let policyKlLogps: number[] = [];
    if (withKl) {
      // The policy's KL log-probs at this step's weights, without gradient (TRL computes them under no_grad).
      const kl = padSequences(idx.map((i) => ({ prompt: examples[i].prompt_ids, completion: examples[klIndex[i]].completion_ids })), padId);
      const t = completionLogps(model, kl, { linearHook });
      policyKlLogps = Array.from(await t.data());
      t.dispose();
    }
    return {
      ...main,
      labels: idx.map((i) => examples[i].label),
      refLogps: idx.map((i) => r.logps[i]),
      refKlLogps: idx.map((i) => r.klLogps[i]),
      policyKlLogps,
    };
  };

  const batchLoss = (b: KtoBatch, opts: Pick<ForwardOptions, 'embedHook' | 'linearHook' | 'checkpoint'>) => {
    const pol = completionLogps(model, b, opts);
    const out = ktoLoss({ policyLogps: pol, referenceLogps: b.refLogps, labels: b.labels, policyKlLogps: withKl ? b.policyKlLogps : undefined, referenceKlLogps: withKl ? b.refKlLogps : undefined }, lossParams);
    return { ...out, pol };
  };

  const task: TrainTask<KtoBatch> = {
    numUnits: data.train.length,
    params,
    makeBatch: (idx) => makeBatch(data.train, data.klIndex, ref, idx, lora?.hook()),
    weight: (b) => b.B,
    tokens: (b) => b.completionTokens,
    loss: (b, ctx) => {
      const out = batchLoss(b, { embedHook: neftuneHook(cfg.neftune_noise_alpha, b.tokenSegLen, ctx.rng), linearHook: lora?.hook(ctx.rng), checkpoint: checkpointOption(cfg.gradient_checkpointing, params, ctx.rng) });
      // Kept past variableGrads' scope; read and disposed in deferredLogs.
      const pol = tf.keep(out.pol);
      const rewards = tf.keep(out.rewards);
      return {
        // ktoLoss is the micro-batch mean; the loop wants sum / (examples in the whole step).
        loss: tf.tidy(() => tf.div(tf.mul(out.loss, b.B), ctx.normalizer) as tf.Scalar),
        deferredLogs: async () => {
          const [r, p] = await Promise.all([rewards.data(), pol.data()]);
          tf.dispose([rewards, pol]);
          const s = ktoBatchStats(r, p, b.labels);
          const logs: Record<string, LogStat> = {
            kl: { sum: out.kl, count: 1 },
            'rewards/chosen': stat(s.rewardsChosen),
            'rewards/rejected': stat(s.rewardsRejected),
            'logps/chosen': stat(s.logpsChosen),
            'logps/rejected': stat(s.logpsRejected),
          };
          if (s.rewardsChosen.length && s.rewardsRejected.length) {
            const mean = (v: number[]) => v.reduce((a, c) => a + c, 0) / v.length;
            logs['rewards/margins'] = { sum: mean(s.rewardsChosen) - mean(s.rewardsRejected), count: 1 };
          }
          return logs;
        },
      };
    },
    evaluate:
      data.eval.length > 0 && evalRef
        ? async () => {
            let sum = 0;
            const hook = lora?.hook();
            for (let s = 0; s < data.eval.length; s += cfg.per_device_train_batch_size) {
              const idx = Array.from({ length: Math.min(cfg.per_device_train_batch_size, data.eval.length - s) }, (_, k) => s + k);
              const b = await makeBatch(data.eval, data.evalKlIndex, evalRef, idx, hook);
              const out = batchLoss(b, { linearHook: hook });
              sum += (await out.loss.data())[0] * b.B;
              tf.dispose([out.loss, out.rewards, out.pol]);
            }
            return { eval_loss: sum / data.eval.length };
          }
        : undefined,
    saveFinal: async (dir) => {
      if (!lora) return saveModel(model, dir, { tokenizerFrom: cfg.model, dtype: cfg.save_dtype });
      if (!cfg.lora!.merge) return lora.save(dir, cfg.model);
      lora.mergeInto(model);
      await saveModel(model, dir, { tokenizerFrom: cfg.model, dtype: cfg.save_dtype });
    },
  };
  return { task, lora, dispose: () => lora?.dispose() };
}

export interface KtoRunOptions extends TrainOptions {
  source?: string;
}

export interface KtoRunResult extends TrainResult {
  referenceCache: RefCacheOutcome['status'];
  referenceCacheKey: string;
}

async function maybeTokenizer(dir: string): Promise<Tokenizer | null> {
  try {
    return await loadTokenizer(dir);
  } catch (e) {
    if (e instanceof UserError) return null;
    throw e;
  }
}

/** Fills the reference cache for a config without training (`ko-align kto precompute-ref`). */
export async function precomputeReference(cfg: KtoConfig, opts: { log?: (m: string) => void } = {}): Promise<RefCacheOutcome> {
  const log = opts.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  await initBackend(cfg.backend, opts.log ? { log } : {});
  const tok = await maybeTokenizer(cfg.model);
  const data = await prepareKtoData(cfg, tok);
  const out = await ensureReferenceCache(cfg, data.train, data.klIndex, tok, log);
  if (data.eval.length) await ensureReferenceCache(cfg, data.eval, data.evalKlIndex, tok, log);
  return out;
}

/** Runs KTO end to end: backend, data, reference cache, model, loop, final model. */
export async function trainKto(cfg: KtoConfig, opts: KtoRunOptions = {}): Promise<KtoRunResult> {
  const log = opts.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  for (const w of cfg.config_warnings ?? []) log(`kto: warning: ${w}`);
  const backend = await initBackend(cfg.backend, opts.log ? { log } : {});
  log(trainSettingsLine('kto', cfg, backend, { kto: cfg }));
  const tok = await maybeTokenizer(cfg.model);
  const data = await prepareKtoData(cfg, tok);
  if (data.dropped > 0) log(`kto: ${data.dropped} row(s) dropped: the prompt alone fills max_length ${cfg.max_length} (as TRL drops them)`);
  if (data.train.length === 0) throw new UserError(`${cfg.dataset.path}: no rows`);
  if (data.read) log(`kto: ${data.read}`);
  const nD = data.train.filter((e) => e.label).length;
  const warn = desirableRatioWarning(nD, data.train.length - nD, cfg.desirable_weight, cfg.undesirable_weight);
  if (warn) log(`kto: warning: ${warn}`);
  log(`kto: ${data.train.length} training rows (${nD} desirable, ${data.train.length - nD} undesirable)${data.eval.length ? `, ${data.eval.length} eval` : ''}`);
  const ref = await ensureReferenceCache(cfg, data.train, data.klIndex, tok, log);
  const evalRef = data.eval.length ? (await ensureReferenceCache(cfg, data.eval, data.evalKlIndex, tok, log)).data : null;
  const model = await loadModel(cfg.model);
  const parts = buildKtoTask(model, cfg, data, ref.data, evalRef, tok?.padTokenId ?? 0, opts.source);
  try {
    const res = await train(cfg, parts.task, opts);
    return { ...res, referenceCache: ref.status, referenceCacheKey: ref.key };
  } finally {
    parts.dispose();
    model.dispose();
  }
}
