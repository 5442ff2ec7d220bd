/**
 * Text generation: greedy or sampled (temperature, top-p, seeded), with a KV cache, for a batch
 * of prompts left-padded to one length (attention mask + per-row RoPE positions make padding
 * invisible). Stops a row at an EOS token or after maxNewTokens.
 */
import * as tf from '@tensorflow/tfjs-core';
import { join } from 'node:path';
import { KVCache, type LlamaModel } from './llama.ts';
import { SeededRandom } from './init.ts';
import { loadConfig } from './config.ts';
import { loadModel } from './checkpoint.ts';
import { weightFiles } from './safetensors.ts';
import { loadTokenizer, type Tokenizer } from './tokenizer.ts';
import type { ChatMessage } from './chat-template.ts';
import { readAllRows, writeRows } from '../data/io.ts';
import { initBackend } from '../engine/backend.ts';
import { UserError } from '../util/errors.ts';

export interface GenerateOptions {
  /** Most tokens to generate per prompt (default 64). */
  maxNewTokens?: number;
  /** 0 (default) = greedy; > 0 samples from softmax(logits / temperature). */
  temperature?: number;
  /** Nucleus sampling: sample among the smallest set of tokens whose probability reaches top_p (default 1). */
  topP?: number;
  /** Seed of the sampler; row i of the whole input uses its own stream, so results do not depend on batch size. */
  seed?: number;
  /** Token ids that end a row (default: the config's eos_token_id). */
  eosTokenIds?: number[];
  /** Id used for left padding (never attended to; default 0). */
  padId?: number;
  /** Use the KV cache (default true); false recomputes the whole prefix each step. */
  useCache?: boolean;
  /** Prompts per forward batch (default 8). */
  batchSize?: number;
}

export interface Generation {
  /** Generated token ids, without the prompt and without the final EOS. */
  tokens: number[];
  finishReason: 'eos' | 'length';
}

/** Picks the next token from one row of logits. */
export function pickToken(logits: Float32Array | number[], temperature: number, topP: number, rng: SeededRandom | null): number {
  const V = logits.length;
  if (temperature <= 0 || rng === null) {
    let best = 0;
    for (let i = 1; i < V; i++) if (logits[i] > logits[best]) best = i;
    return best;
  }
  let max = -Infinity;
  for (let i = 0; i < V; i++) max = Math.max(max, logits[i]);
  const probs = new Float64Array(V);
  let z = 0;
  for (let i = 0; i < V; i++) {
    probs[i] = Math.exp((logits[i] - max) / temperature);
    z += probs[i];
  }
  for (let i = 0; i < V; i++) probs[i] /= z;
  let candidates: number[];
  if (topP < 1) {
    const order = Array.from({ length: V }, (_, i) => i).sort((a, b) => probs[b] - probs[a] || a - b);
    candidates = [];
    let cum = 0;
    for (const i of order) {
      candidates.push(i);
      cum += probs[i];
      if (cum >= topP) break;
    }
  } else {
    candidates = Array.from({ length: V }, (_, i) => i);
  }
  let mass = 0;
  for (const i of candidates) mass += probs[i];
  let u = rng.next() * mass;
  for (const i of candidates) {
    u -= probs[i];
    if (u <= 0) return i;
  }
  return candidates[candidates.length - 1];
}

/** Generates continuations for one batch of prompts (all rows advance together). */
async function generateBatch(model: LlamaModel, prompts: number[][], rowOffset: number, o: Required<Omit<GenerateOptions, 'eosTokenIds'>> & { eos: Set<number> }): Promise<Generation[]> {
  const B = prompts.length;
  const L = Math.max(...prompts.map((p) => p.length));
  if (prompts.some((p) => p.length === 0)) throw new Error('generate: every prompt needs at least one token');
  const rngs = prompts.map((_, i) => (o.temperature > 0 ? new SeededRandom(o.seed * 1000003 + rowOffset + i) : null));
  // Left-padded ids, mask and positions for the prompt.
  const ids: number[][] = prompts.map((p) => [...new Array(L - p.length).fill(o.padId), ...p]);
  const mask: number[][] = prompts.map((p) => [...new Array(L - p.length).fill(0), ...new Array(p.length).fill(1)]);
  const pos: number[][] = prompts.map((p) => [...new Array(L - p.length).fill(0), ...p.map((_, i) => i)]);
  const out: Generation[] = prompts.map(() => ({ tokens: [], finishReason: 'length' }));
  const done = new Array(B).fill(false);
  const cache = o.useCache ? new KVCache(model.config.numLayers) : null;
  try {
    for (let step = 0; step < o.maxNewTokens; step++) {
      const first = step === 0;
      const logits = tf.tidy(() => {
        const feed = cache && !first ? ids.map((r) => [r[r.length - 1]]) : ids;
        const feedPos = cache && !first ? pos.map((r) => [r[r.length - 1]]) : pos;
        const lg = model.forward(tf.tensor2d(feed, undefined, 'int32'), {
          attentionMask: tf.tensor2d(mask, undefined, 'int32'),
          positionIds: tf.tensor2d(feedPos, undefined, 'int32'),
          cache: cache ?? undefined,
          lastOnly: true,
        });
        return tf.reshape(lg, [B, -1]);
      });
      const data = (await logits.data()) as Float32Array;
      const V = logits.shape[1] as number;
      logits.dispose();
      for (let b = 0; b < B; b++) {
        let next = o.padId;
        if (!done[b]) {
          next = pickToken(data.subarray(b * V, (b + 1) * V), o.temperature, o.topP, rngs[b]);
          if (o.eos.has(next)) {
            done[b] = true;
            out[b].finishReason = 'eos';
          } else {
            out[b].tokens.push(next);
          }
        }
        ids[b].push(next);
        mask[b].push(1);
        pos[b].push(pos[b][pos[b].length - 1] + 1);
      }
      if (done.every(Boolean)) break;
    }
  } finally {
    cache?.dispose();
  }
  return out;
}

/** Generates a continuation for each prompt (token ids), in batches of `batchSize`. */
export async function generate(model: LlamaModel, prompts: number[][], opts: GenerateOptions = {}): Promise<Generation[]> {
  const o = {
    maxNewTokens: opts.maxNewTokens ?? 64,
    temperature: opts.temperature ?? 0,
    topP: opts.topP ?? 1,
    seed: opts.seed ?? 0,
    padId: opts.padId ?? 0,
    useCache: opts.useCache ?? true,
    batchSize: Math.max(1, opts.batchSize ?? 8),
    eos: new Set(opts.eosTokenIds ?? model.config.eosTokenIds),
  };
  const results: Generation[] = [];
  for (let s = 0; s < prompts.length; s += o.batchSize) {
    results.push(...(await generateBatch(model, prompts.slice(s, s + o.batchSize), s, o)));
  }
  return results;
}

/* ------------------------------------------------------------------------------------------ */
/* Text in, text out                                                                           */
/* ------------------------------------------------------------------------------------------ */

/** A prompt as plain text (one user turn when the tokenizer has a chat template) or chat messages. */
export type PromptInput = string | readonly ChatMessage[];

export interface TextGeneration extends Generation {
  /** The generated text (special tokens skipped). */
  text: string;
}

/** Prompt token ids: the chat template with the generation prompt, or plain text (+ BOS). */
export function encodePrompt(tok: Tokenizer, prompt: PromptInput): number[] {
  if (tok.chatTemplate !== null) {
    let messages: ChatMessage[] = typeof prompt === 'string' ? [{ role: 'user', content: prompt }] : [...prompt];
    while (messages.length > 0 && messages[messages.length - 1].role === 'assistant') messages = messages.slice(0, -1);
    if (messages.length === 0) throw new UserError('prompt: the messages hold no turn before the assistant answer');
    return tok.encode(tok.applyChatTemplate(messages, { addGenerationPrompt: true }), { addSpecialTokens: false });
  }
  if (typeof prompt !== 'string') throw new UserError(`${tok.dir}: the tokenizer has no chat template, so prompts must be plain text, not messages`);
  return tok.encode(prompt);
}

/** Generates text for each prompt; EOS = the tokenizer's eos plus the model config's. */
export async function generateTexts(model: LlamaModel, tok: Tokenizer, prompts: readonly PromptInput[], opts: GenerateOptions = {}): Promise<TextGeneration[]> {
  const ids = prompts.map((p) => encodePrompt(tok, p));
  const eos = opts.eosTokenIds ?? [...new Set([tok.eosTokenId, ...model.config.eosTokenIds])];
  const gens = await generate(model, ids, { padId: tok.padTokenId, ...opts, eosTokenIds: eos });
  return gens.map((g) => ({ ...g, text: tok.decode(g.tokens, { skipSpecialTokens: true }) }));
}

export interface GenerateFileOptions extends Omit<GenerateOptions, 'eosTokenIds' | 'padId'> {
  model: string;
  input: string;
  output: string;
  backend?: string;
}

/**
 * Reads rows with `prompt` (text) or `messages`, generates, and writes each row back with
 * `generation` (text) and `finish_reason` ('eos' | 'length'), atomically.
 */
export async function generateFile(o: GenerateFileOptions): Promise<{ rows: number; backend: string }> {
  loadConfig(join(o.model, 'config.json'));
  weightFiles(o.model);
  const rows = await readAllRows(o.input);
  const prompts: PromptInput[] = rows.map((r, i) => {
    if (typeof r.prompt === 'string') return r.prompt;
    if (Array.isArray(r.prompt) || Array.isArray(r.messages)) {
      const m = (Array.isArray(r.prompt) ? r.prompt : r.messages) as ChatMessage[];
      if (!m.every((x) => x && typeof x.role === 'string' && typeof x.content === 'string')) {
        throw new UserError(`${o.input}: row ${i + 1}: messages must be {role, content} objects with string values`);
      }
      return m;
    }
    throw new UserError(`${o.input}: row ${i + 1}: expected "prompt" (text) or "messages" (row fields: ${Object.keys(r).join(', ') || 'none'})`);
  });
  const tok = await loadTokenizer(o.model);
  const backend = await initBackend(o.backend ?? 'auto');
  const model = await loadModel(o.model, { trainable: false });
  try {
    const { model: _m, input: _i, output: _o, backend: _b, ...gopts } = o;
    const gens = await generateTexts(model, tok, prompts, gopts);
    await writeRows(o.output, rows.map((r, i) => ({ ...r, generation: gens[i].text, finish_reason: gens[i].finishReason })));
    return { rows: rows.length, backend };
  } finally {
    model.dispose();
  }
}
