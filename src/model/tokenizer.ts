/**
 * A Hugging Face tokenizer directory as one object: tokenizer.json through
 * @huggingface/tokenizers, special tokens and the chat template from tokenizer_config.json
 * (or chat_template.jinja beside it, which transformers writes and prefers).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { UserError } from '../util/errors.ts';
import { sha256, stableStringify } from '../util/fs.ts';
import { ChatTemplate, chatTemplateFromConfig, type ChatMessage } from './chat-template.ts';

export interface Tokenizer {
  /** Token ids of `text`; addSpecialTokens (default true, as in transformers) runs the post-processor (e.g. Llama-3's BOS). */
  encode(text: string, opts?: { addSpecialTokens?: boolean }): number[];
  decode(ids: number[], opts?: { skipSpecialTokens?: boolean }): string;
  /** The chat template rendered to text (UserError when the tokenizer has none). */
  applyChatTemplate(messages: readonly ChatMessage[], opts?: { addGenerationPrompt?: boolean; extra?: Record<string, unknown> }): string;
  eosTokenId: number;
  /** pad_token's id, or eos when the tokenizer has no pad token (Llama-3). */
  padTokenId: number;
  bosTokenId: number | null;
  /** Number of ids in use: max id (vocab and added tokens) + 1. */
  vocabSize: number;
  /** sha256 over tokenizer.json, the chat template and the special tokens: for cache keys. */
  hash: string;
  /** The chat template source, or null (then prompts are plain text). */
  chatTemplate: string | null;
  eosToken: string;
  padToken: string;
  bosToken: string | null;
  /** Ids of every special added token (e.g. <|im_end|>, <|endoftext|>). */
  specialTokenIds: ReadonlySet<number>;
  /** Strings of every special added token. */
  specialTokens: readonly string[];
  /**
   * UTF-8 byte length of each token's text, for byte-level BPE tokenizers (GPT-2 / Qwen / Llama-3
   * style) whose normalizer keeps `text` as it is; null when that cannot be known for this text.
   * Lets callers map token positions to text positions without re-encoding prefixes.
   */
  tokenByteLengths(ids: readonly number[], text: string): number[] | null;
  tokenToId(token: string): number | undefined;
  idToToken(id: number): string | undefined;
  /** The directory it was loaded from. */
  dir: string;
  /**
   * The most text characters one token can stand for (the longest vocabulary entry): text of
   * `n * maxTokenChars` characters is at least `n` tokens, so trainers cut huge fields before
   * tokenizing. Optional for tokenizers built elsewhere (64 is assumed).
   */
  maxTokenChars?: number;
}

interface AddedTokenJson {
  id: number;
  content: string;
  special?: boolean;
}

async function readJson(path: string, required: boolean): Promise<{ obj: Record<string, unknown>; text: string } | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      if (!required) return null;
      throw new UserError(`${path}: tokenizer file not found (expected a Hugging Face tokenizer.json in the model directory)`);
    }
    throw new UserError(`${path}: cannot read (${(e as Error).message})`);
  }
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (e) {
    throw new UserError(`${path}: invalid JSON (${(e as Error).message})`);
  }
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) throw new UserError(`${path}: expected a JSON object`);
  return { obj: obj as Record<string, unknown>, text };
}

/** tokenizer_config.json writes special tokens as strings or as AddedToken dicts {content, ...}. */
function tokenString(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return null;
}

/** GPT-2's byte-level alphabet, inverted: char -> byte. */
function byteLevelDecoder(): Map<string, number> {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const m = new Map<string, number>(bs.map((b) => [String.fromCharCode(b), b]));
  let n = 0;
  for (let b = 0; b < 256; b++) if (!bs.includes(b)) m.set(String.fromCharCode(256 + n++), b);
  return m;
}

function hasByteLevel(node: unknown): boolean {
  if (!node || typeof node !== 'object') return false;
  const n = node as { type?: unknown; pretokenizers?: unknown[]; decoders?: unknown[] };
  if (n.type === 'ByteLevel') return true;
  return [...(n.pretokenizers ?? []), ...(n.decoders ?? [])].some(hasByteLevel);
}

const EOS_FALLBACKS = ['<|endoftext|>', '</s>', '<|end_of_text|>', '<eos>'];

/** Loads tokenizer.json (+ tokenizer_config.json, chat_template.jinja when present) from `dir`. */
export async function loadTokenizer(dir: string): Promise<Tokenizer> {
  const tokPath = join(dir, 'tokenizer.json');
  const cfgPath = join(dir, 'tokenizer_config.json');
  const tok = (await readJson(tokPath, true))!;
  const cfg = (await readJson(cfgPath, false))?.obj ?? {};
  const tj = tok.obj;
  const model = tj.model as { vocab?: unknown } | undefined;
  if (!model || typeof model !== 'object' || !model.vocab || typeof model.vocab !== 'object') {
    throw new UserError(`${tokPath}: "model.vocab" is missing (expected a Hugging Face tokenizers serialization)`);
  }
  if (!Array.isArray(tj.added_tokens)) tj.added_tokens = [];
  const added = tj.added_tokens as AddedTokenJson[];

  let hf: HfTokenizer;
  try {
    // tokenizers.js reads clean_up_tokenization_spaces etc. from the config; pass it as is.
    hf = new HfTokenizer(tj, cfg);
  } catch (e) {
    throw new UserError(`${tokPath}: cannot build the tokenizer (${(e as Error).message})`);
  }

  let templateSource: string | null = null;
  let templateOrigin = cfgPath;
  try {
    templateSource = await readFile(join(dir, 'chat_template.jinja'), 'utf8');
    templateOrigin = join(dir, 'chat_template.jinja');
  } catch {
    templateSource = chatTemplateFromConfig(cfg, cfgPath);
  }

  const idOf = (t: string, key: string): number => {
    const id = hf.token_to_id(t);
    if (id === undefined) throw new UserError(`${cfgPath}: ${key} '${t}' is not in the vocabulary of ${tokPath}`);
    return id;
  };

  let eosToken = tokenString(cfg.eos_token);
  if (eosToken === null) eosToken = EOS_FALLBACKS.find((t) => hf.token_to_id(t) !== undefined) ?? null;
  if (eosToken === null) {
    throw new UserError(`${cfgPath}: eos_token is not set and none of ${EOS_FALLBACKS.join(', ')} is in ${tokPath}`);
  }
  const eosTokenId = idOf(eosToken, 'eos_token');
  const bosToken = tokenString(cfg.bos_token);
  const bosTokenId = bosToken === null ? null : idOf(bosToken, 'bos_token');
  const padCfg = tokenString(cfg.pad_token);
  const padToken = padCfg ?? eosToken;
  const padTokenId = idOf(padToken, 'pad_token');
  const unkToken = tokenString(cfg.unk_token);

  let maxId = -1;
  for (const v of Object.values(model.vocab as Record<string, number>)) if (v > maxId) maxId = v;
  for (const t of added) if (t.id > maxId) maxId = t.id;
  let maxTokenChars = 1;
  for (const k of Object.keys(model.vocab as Record<string, number>)) if (k.length > maxTokenChars) maxTokenChars = k.length;
  for (const t of added) if (t.content.length > maxTokenChars) maxTokenChars = t.content.length;

  // Byte-level tokenizers: every vocab token is a string over GPT-2's 256-char byte alphabet.
  const normType = (tj.normalizer as { type?: unknown } | null)?.type ?? null;
  const byteLevel = hasByteLevel(tj.decoder) && hasByteLevel(tj.pre_tokenizer) && (normType === null || normType === 'NFC');
  const byteOf = byteLevel ? byteLevelDecoder() : null;
  const addedBytes = new Map(added.map((t) => [t.id, Buffer.byteLength(t.content)]));
  const tokenBytes = new Map<number, number>();
  const tokenByteLength = (id: number): number => {
    let n = tokenBytes.get(id);
    if (n !== undefined) return n;
    n = addedBytes.get(id);
    if (n === undefined) {
      const t = hf.id_to_token(id);
      n = -1;
      if (t !== undefined && [...t].every((ch) => byteOf!.has(ch))) n = [...t].length;
    }
    tokenBytes.set(id, n);
    return n;
  };

  const specialTokens = added.filter((t) => t.special).map((t) => t.content);
  const specialTokenIds = new Set(added.filter((t) => t.special).map((t) => t.id));
  const specials = { bos_token: bosToken, eos_token: eosToken, pad_token: padCfg, unk_token: unkToken };
  const template = templateSource === null ? null : new ChatTemplate(templateSource, specials, templateOrigin);
  const hash = sha256(`${tok.text}\u0000${templateSource ?? ''}\u0000${stableStringify(specials)}`);

  return {
    encode(text, opts = {}) {
      if (text.length === 0) return opts.addSpecialTokens === false ? [] : hf.encode('', { add_special_tokens: true }).ids;
      return hf.encode(text, { add_special_tokens: opts.addSpecialTokens ?? true }).ids;
    },
    decode(ids, opts = {}) {
      if (ids.length === 0) return '';
      return hf.decode(ids, { skip_special_tokens: opts.skipSpecialTokens ?? false });
    },
    applyChatTemplate(messages, opts = {}) {
      if (!template) throw new UserError(`${cfgPath}: the tokenizer has no chat_template; use plain-text prompts or add a chat template`);
      return template.render(messages, opts);
    },
    eosTokenId,
    padTokenId,
    bosTokenId,
    vocabSize: maxId + 1,
    hash,
    chatTemplate: templateSource,
    eosToken,
    padToken,
    bosToken,
    specialTokenIds,
    specialTokens,
    tokenByteLengths(ids, text) {
      if (!byteOf) return null;
      if (normType === 'NFC' && text.normalize('NFC') !== text) return null;
      const out = ids.map(tokenByteLength);
      if (out.some((n) => n < 0)) return null;
      // Self-check: the tokens must spell exactly the text's bytes.
      if (out.reduce((a, b) => a + b, 0) !== Buffer.byteLength(text)) return null;
      return out;
    },
    maxTokenChars,
    tokenToId: (t) => hf.token_to_id(t),
    idToToken: (id) => hf.id_to_token(id),
    dir,
  };
}
