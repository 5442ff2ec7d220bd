/**
 * Token log-probabilities from logits, and helpers that score whole sequences / completions.
 *
 * log p(t | ...) = logits[t] - logsumexp(logits). The gradient is written by hand
 * (d/dlogits = onehot(t) - softmax(logits), times dy) so it needs neither the full
 * log-softmax nor gather's gradient (which the wasm backend lacks).
 */
import * as tf from '@tensorflow/tfjs-core';
import { join } from 'node:path';
import { customGrad2, type LlamaModel } from './llama.ts';
import { loadConfig } from './config.ts';
import { loadModel } from './checkpoint.ts';
import { weightFiles } from './safetensors.ts';
import { loadTokenizer, type Tokenizer } from './tokenizer.ts';
import type { ChatMessage } from './chat-template.ts';
import { IGNORE_INDEX, tokenizeChatForTraining, tokenizePromptCompletion } from '../train/tokenize.ts';
import { readAllRows, writeRows, type Row } from '../data/io.ts';
import { guessFormat, toExample } from '../data/formats.ts';
import { initBackend } from '../engine/backend.ts';
import { fusedPickLogprobs } from '../engine/fused.ts';
import { UserError } from '../util/errors.ts';

/**
 * lp[n] = log softmax(logits[n])[targets[n]] for logits [N, V], targets [N] int32 (all valid).
 */
export const pickLogprobs = customGrad2((logits, targets, save) => {
  const [N, V] = logits.shape;
  const idx = tf.stack([tf.range(0, N, 1, 'int32'), tf.cast(targets, 'int32')], 1) as tf.Tensor2D; // [N, 2]
  const lse = tf.logSumExp(logits, 1); // [N]
  const value = tf.sub(tf.gatherND(logits, idx), lse);
  save([logits, lse, idx]);
  return {
    value,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [lg, l, ix] = saved;
      const soft = tf.exp(tf.sub(lg, tf.expandDims(l, 1))); // [N, V]
      const d = tf.sub(tf.scatterND(ix, dy, [N, V]), tf.mul(soft, tf.expandDims(dy, 1)));
      return [d, tf.zerosLike(targets)];
    },
  };
}) as (logits: tf.Tensor2D, targets: tf.Tensor1D) => tf.Tensor1D;

/**
 * log p(targets[b, t] | logits[b, t]) -> [B, T]. Negative targets (e.g. -100, ignored labels)
 * give 0 and no gradient.
 */
export function targetLogprobs(logits: tf.Tensor3D, targets: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const [B, T, V] = logits.shape;
    const flat = tf.reshape(targets, [-1]);
    const fused = fusedPickLogprobs(tf.reshape(logits, [B * T, V]) as tf.Tensor2D, flat as tf.Tensor1D);
    if (fused) return tf.reshape(fused, [B, T]) as tf.Tensor2D;
    const valid = tf.greaterEqual(flat, 0);
    const safe = tf.where(valid, flat, tf.zerosLike(flat)) as tf.Tensor1D;
    const lp = pickLogprobs(tf.reshape(logits, [B * T, V]) as tf.Tensor2D, safe);
    return tf.reshape(tf.mul(lp, tf.cast(valid, 'float32')), [B, T]) as tf.Tensor2D;
  });
}

/**
 * log p(ids[b, t] | ids[b, <t]) for t = 1..T-1 -> [B, T-1], from logits [B, T, V] of ids [B, T].
 */
export function tokenLogprobs(logits: tf.Tensor3D, ids: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const [B, T] = logits.shape;
    if (T < 2) return tf.zeros([B, 0]) as tf.Tensor2D;
    // Targets shifted left by one, -1 (ignored) at the last position: this scores the logits in
    // place instead of copying logits[:, :-1] (a [B, T-1, V] copy, and another in the backward).
    const next = tf.concat([tf.slice(ids, [0, 1], [B, T - 1]), tf.fill([B, 1], -1, 'int32')], 1) as tf.Tensor2D;
    return tf.slice(targetLogprobs(logits, next), [0, 0], [B, T - 1]) as tf.Tensor2D;
  });
}

export interface ScoredSequence {
  /** log p(ids[i] | ids[<i]) for i = 1..n-1. */
  tokenLogprobs: number[];
  /** Sum of tokenLogprobs over the scored positions (>= start, or where `scored`). */
  logp: number;
  /** How many tokens were summed into logp. */
  nTokens: number;
}

export interface ScoreInput {
  ids: number[];
  /** First token index that counts toward logp (the completion start); default 1. */
  start?: number;
  /** Which positions count toward logp (overrides start), e.g. assistant tokens of a chat. */
  scored?: boolean[];
}

/**
 * Scores sequences with the model, batched with right padding (a causal model's log-probs of
 * the real tokens do not depend on padding to the right). Sequences are grouped by length so a
 * batch wastes little padding, and a batch is cut so its logits stay under maxLogitElements.
 */
export async function sequenceLogprobs(
  model: LlamaModel,
  seqs: ScoreInput[],
  opts: { batchSize?: number; padId?: number; maxLogitElements?: number } = {},
): Promise<ScoredSequence[]> {
  const batchSize = Math.max(1, opts.batchSize ?? 8);
  const padId = opts.padId ?? 0;
  const cap = opts.maxLogitElements ?? 64 * 1024 * 1024;
  const V = model.config.vocabSize;
  const order = seqs.map((_, i) => i).sort((a, b) => seqs[a].ids.length - seqs[b].ids.length);
  const out: ScoredSequence[] = new Array(seqs.length);
  let s = 0;
  while (s < order.length) {
    // ascending lengths: the last sequence taken sets the batch's length T
    let e = s + 1;
    while (e < order.length && e - s < batchSize && (e - s + 1) * seqs[order[e]].ids.length * V <= cap) e++;
    const idx = order.slice(s, e);
    s = e;
    const T = Math.max(...idx.map((i) => seqs[i].ids.length));
    let rows: number[][];
    if (T < 2) {
      rows = idx.map(() => []);
    } else {
      const flat = new Int32Array(idx.length * T).fill(padId);
      idx.forEach((i, r) => flat.set(seqs[i].ids, r * T));
      const lpT = tf.tidy(() => {
        const ids = tf.tensor2d(flat, [idx.length, T], 'int32');
        return tokenLogprobs(model.forward(ids), ids);
      });
      rows = (await lpT.array()) as number[][];
      lpT.dispose();
    }
    idx.forEach((i, r) => {
      const n = seqs[i].ids.length;
      const tl = n >= 2 ? rows[r].slice(0, n - 1) : [];
      let logp = 0;
      let cnt = 0;
      const scored = seqs[i].scored;
      const start = Math.max(1, seqs[i].start ?? 1);
      for (let t = 1; t < n; t++) {
        if (scored ? !scored[t] : t < start) continue;
        logp += tl[t - 1];
        cnt++;
      }
      out[i] = { tokenLogprobs: tl, logp, nTokens: cnt };
    });
  }
  return out;
}

/* ------------------------------------------------------------------------------------------ */
/* `ko-align logprobs`: score a file of rows                                                   */
/* ------------------------------------------------------------------------------------------ */

export interface LogprobsFileOptions {
  model: string;
  input: string;
  output: string;
  backend?: string;
  batchSize?: number;
}

/**
 * Turns each row into token ids + the positions that count: `input_ids` (all tokens after the
 * first), `prompt` + `completion` (the completion tokens, TRL KTO tokenization) or `messages`
 * (the assistant turns, as SFT trains them). Needs the tokenizer only for text rows.
 */
export async function rowsToScoreInputs(rows: Row[], where: string, modelDir: string, vocabSize: number): Promise<ScoreInput[]> {
  let tok: Tokenizer | undefined;
  const tokenizer = async () => (tok ??= await loadTokenizer(modelDir));
  const out: ScoreInput[] = [];
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    const at = `${where}: row ${i + 1}`;
    let item: ScoreInput;
    if (r.input_ids !== undefined) {
      const ids = r.input_ids;
      if (!Array.isArray(ids) || !ids.every((x) => Number.isInteger(x))) throw new UserError(`${at}: "input_ids" must be a list of integers`);
      item = { ids: ids as number[] };
    } else if (r.prompt !== undefined && r.completion !== undefined) {
      const ok = (v: unknown) => typeof v === 'string' || Array.isArray(v);
      if (!ok(r.prompt) || !ok(r.completion)) throw new UserError(`${at}: "prompt" and "completion" must be strings or message lists`);
      const pc = tokenizePromptCompletion(await tokenizer(), r.prompt as string | ChatMessage[], r.completion as string | ChatMessage[], { maxLength: Number.MAX_SAFE_INTEGER });
      item = { ids: [...pc.prompt_ids, ...pc.completion_ids], start: Math.max(1, pc.prompt_ids.length) };
    } else if (guessFormat(r) !== null) {
      // every other format read everywhere (messages, sharegpt, alpaca, kto_tag chats, LLaMA-Factory
      // roles): the assistant turns are scored, as SFT trains them
      const ex = toExample(r, undefined, at);
      const t = tokenizeChatForTraining(await tokenizer(), ex.messages, { maxLength: Number.MAX_SAFE_INTEGER });
      item = { ids: t.input_ids, scored: t.labels.map((l) => l !== IGNORE_INDEX) };
    } else {
      throw new UserError(
        `${at}: expected "input_ids", "prompt" + "completion", "messages", sharegpt "conversations" or alpaca "instruction" (row fields: ${Object.keys(r).join(', ') || 'none'})`,
      );
    }
    const bad = item.ids.find((t) => t < 0 || t >= vocabSize);
    if (bad !== undefined) throw new UserError(`${at}: token id ${bad} is outside the model's vocabulary [0, ${vocabSize})`);
    out.push(item);
  }
  return out;
}

/**
 * Reads rows, scores them, and writes each row back with token_logprobs (log p(t_i | t_<i),
 * i = 1..n-1), logp (sum over the completion / assistant tokens / all tokens after the first)
 * and n_tokens (how many tokens logp sums). The output is written atomically.
 */
export async function logprobsFile(o: LogprobsFileOptions): Promise<{ rows: number; backend: string }> {
  const config = loadConfig(join(o.model, 'config.json'));
  weightFiles(o.model); // fail on a missing weights file before reading any data
  const rows = await readAllRows(o.input);
  const inputs = await rowsToScoreInputs(rows, o.input, o.model, config.vocabSize);
  const backend = await initBackend(o.backend ?? 'auto');
  const model = await loadModel(o.model, { trainable: false });
  try {
    const scored = await sequenceLogprobs(model, inputs, { batchSize: o.batchSize });
    const outRows = rows.map((r, i) => ({ ...r, token_logprobs: scored[i].tokenLogprobs, logp: scored[i].logp, n_tokens: scored[i].nTokens }));
    await writeRows(o.output, outRows);
    return { rows: outRows.length, backend };
  } finally {
    model.dispose();
  }
}
