/**
 * Trains a small byte-level BPE tokenizer (the GPT-2 / Qwen2 scheme) on a corpus and writes it
 * in Hugging Face layout: tokenizer.json, tokenizer_config.json, special_tokens_map.json.
 *
 * - 256 byte symbols (GPT-2's bytes_to_unicode alphabet, id = byte value), then merges learned
 *   from the corpus, then the special tokens <|endoftext|>, <|im_start|>, <|im_end|>.
 * - Pre-tokenization: Qwen2's split regex, then ByteLevel (no prefix space); decoder ByteLevel.
 *   No normalizer, so encode -> decode is lossless for any Unicode input (NFC or not).
 * - Training: classic BPE over the corpus' pre-tokenized words, most frequent pair first, ties
 *   broken by the smaller (left id, right id): the same corpus always gives the same file.
 * The files load in `transformers` (PreTrainedTokenizerFast), `tokenizers` and tokenizers.js.
 */
import { join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { UserError } from '../util/errors.ts';
import { writeFileAtomic } from '../util/fs.ts';

export const SPECIAL_TOKENS = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'] as const;

/** ChatML, as Qwen2 writes it, without a default system prompt; unknown roles are refused. */
export const CHATML_TEMPLATE =
  "{%- for message in messages %}" +
  "{%- if message['role'] not in ['system', 'user', 'assistant'] %}" +
  "{{- raise_exception('Unknown role: ' + message['role'] + ' (expected system, user or assistant)') }}" +
  "{%- endif %}" +
  "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}" +
  "{%- endfor %}" +
  "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";

/** Qwen2's pre-tokenization regex (Oniguruma syntax, as stored in tokenizer.json). */
export const QWEN2_SPLIT_REGEX =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/** The same pattern in JavaScript syntax (JS has no inline (?i:...) in Node 20), used for training. */
const SPLIT_RE_JS =
  /'(?:[sS]|[tT]|[rR][eE]|[vV][eE]|[mM]|[lL][lL]|[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+/gu;

export interface BuildTokenizerOptions {
  /** Total vocabulary size, special tokens included (at least 256 + 3). */
  vocabSize: number;
  /** Training texts. */
  corpus: string[];
  /** Directory that receives tokenizer.json, tokenizer_config.json, special_tokens_map.json. */
  outDir: string;
  /** Chat template written into tokenizer_config.json (default 'chatml'). */
  chatTemplate?: 'chatml';
  /** More special tokens after the ChatML ones (e.g. Llama-3's <|begin_of_text|>, <|eot_id|>). */
  additionalSpecialTokens?: string[];
}

export interface BuildTokenizerResult {
  /** Ids in use (bytes + merged tokens + special tokens). Smaller than asked when the corpus ran out of pairs. */
  vocabSize: number;
  merges: number;
  specialTokenIds: Record<string, number>;
}

/** GPT-2's reversible byte -> printable-unicode-char map. */
export function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let b = '!'.charCodeAt(0); b <= '~'.charCodeAt(0); b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const map: string[] = new Array(256);
  for (const b of bs) map[b] = String.fromCharCode(b);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (map[b] === undefined) map[b] = String.fromCharCode(256 + n++);
  }
  return map;
}

/** Splits text the way the tokenizer's pre-tokenizer does (Qwen2 regex). */
export function preTokenize(text: string): string[] {
  return text.match(SPLIT_RE_JS) ?? [];
}

// ---- BPE training -------------------------------------------------------------------------

const KEY_BASE = 2 ** 21; // ids < 2^21, so a*2^21+b < 2^42 is an exact JS number

/** A binary max-heap of [count, key], ordered by count desc then key asc. Stale entries are skipped by the caller. */
class PairHeap {
  private counts: number[] = [];
  private keys: number[] = [];
  get size(): number {
    return this.counts.length;
  }
  private better(i: number, j: number): boolean {
    const ci = this.counts[i], cj = this.counts[j];
    return ci > cj || (ci === cj && this.keys[i] < this.keys[j]);
  }
  private swap(i: number, j: number): void {
    [this.counts[i], this.counts[j]] = [this.counts[j], this.counts[i]];
    [this.keys[i], this.keys[j]] = [this.keys[j], this.keys[i]];
  }
  push(count: number, key: number): void {
    this.counts.push(count);
    this.keys.push(key);
    let i = this.counts.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.better(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }
  pop(): [number, number] {
    const top: [number, number] = [this.counts[0], this.keys[0]];
    const lastC = this.counts.pop()!, lastK = this.keys.pop()!;
    if (this.counts.length > 0) {
      this.counts[0] = lastC;
      this.keys[0] = lastK;
      let i = 0;
      const n = this.counts.length;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < n && this.better(l, m)) m = l;
        if (r < n && this.better(r, m)) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return top;
  }
}

interface TrainedBpe {
  vocab: string[]; // id -> token string (byte-level alphabet)
  merges: [string, string][];
}

/** Learns merges until `targetSize` tokens exist or no pair is left. */
export function trainBpe(corpus: string[], targetSize: number): TrainedBpe {
  const byteChar = bytesToUnicode();
  const vocab: string[] = byteChar.slice();
  const tokenToId = new Map<string, number>(vocab.map((t, i) => [t, i]));
  const merges: [string, string][] = [];

  // Count pre-tokenized words.
  const wordFreq = new Map<string, number>();
  for (const text of corpus) {
    for (const w of preTokenize(text)) wordFreq.set(w, (wordFreq.get(w) ?? 0) + 1);
  }
  const encoder = new TextEncoder();
  const words: number[][] = [];
  const freqs: number[] = [];
  for (const [w, f] of wordFreq) {
    words.push(Array.from(encoder.encode(w)));
    freqs.push(f);
  }

  const pairCount = new Map<number, number>();
  const pairWords = new Map<number, Set<number>>();
  const addPairs = (wi: number, sign: number, touched: Set<number> | null): void => {
    const w = words[wi];
    const f = freqs[wi] * sign;
    for (let i = 0; i + 1 < w.length; i++) {
      const key = w[i] * KEY_BASE + w[i + 1];
      pairCount.set(key, (pairCount.get(key) ?? 0) + f);
      if (sign > 0) {
        let s = pairWords.get(key);
        if (!s) pairWords.set(key, (s = new Set()));
        s.add(wi);
      }
      touched?.add(key);
    }
  };
  for (let wi = 0; wi < words.length; wi++) addPairs(wi, 1, null);
  const heap = new PairHeap();
  for (const [key, c] of pairCount) heap.push(c, key);

  while (vocab.length < targetSize && heap.size > 0) {
    const [count, key] = heap.pop();
    if (count <= 0 || pairCount.get(key) !== count) continue; // stale entry
    const a = Math.floor(key / KEY_BASE), b = key - a * KEY_BASE;
    const merged = vocab[a] + vocab[b];
    let id = tokenToId.get(merged);
    if (id === undefined) {
      id = vocab.length;
      vocab.push(merged);
      tokenToId.set(merged, id);
    }
    merges.push([vocab[a], vocab[b]]);
    const touched = new Set<number>();
    for (const wi of pairWords.get(key) ?? []) {
      const w = words[wi];
      let has = false;
      for (let i = 0; i + 1 < w.length; i++) if (w[i] === a && w[i + 1] === b) { has = true; break; }
      if (!has) continue;
      addPairs(wi, -1, touched);
      const out: number[] = [];
      for (let i = 0; i < w.length; i++) {
        if (i + 1 < w.length && w[i] === a && w[i + 1] === b) { out.push(id); i++; }
        else out.push(w[i]);
      }
      words[wi] = out;
      addPairs(wi, 1, touched);
    }
    pairWords.delete(key);
    for (const k of touched) {
      const c = pairCount.get(k) ?? 0;
      if (c > 0) heap.push(c, k);
      else pairCount.delete(k);
    }
  }
  return { vocab, merges };
}

// ---- file writing -------------------------------------------------------------------------

function byteLevel(): Record<string, unknown> {
  return { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false };
}

/** Builds the tokenizer.json object (the Hugging Face `tokenizers` serialization). */
export function tokenizerJson(
  bpe: TrainedBpe,
  specials: readonly string[] = SPECIAL_TOKENS,
): { json: Record<string, unknown>; specialTokenIds: Record<string, number> } {
  const vocabObj: Record<string, number> = {};
  bpe.vocab.forEach((t, i) => (vocabObj[t] = i));
  const specialTokenIds: Record<string, number> = {};
  const added_tokens = specials.map((content, k) => {
    const id = bpe.vocab.length + k;
    specialTokenIds[content] = id;
    return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
  });
  const json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens,
    normalizer: null,
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: QWEN2_SPLIT_REGEX }, behavior: 'Isolated', invert: false },
        byteLevel(),
      ],
    },
    post_processor: byteLevel(),
    decoder: byteLevel(),
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: vocabObj,
      merges: bpe.merges.map(([x, y]) => `${x} ${y}`),
    },
  };
  return { json, specialTokenIds };
}

/** Trains the tokenizer and writes the three Hugging Face files into `outDir` (each atomically). */
export async function buildTokenizer(opts: BuildTokenizerOptions): Promise<BuildTokenizerResult> {
  const { vocabSize, corpus, outDir } = opts;
  if ((opts.chatTemplate ?? 'chatml') !== 'chatml') {
    throw new UserError(`tokenizer chat template: expected 'chatml', got '${opts.chatTemplate}'`);
  }
  const specials = [...new Set([...SPECIAL_TOKENS, ...(opts.additionalSpecialTokens ?? [])])];
  for (const t of specials) {
    if (typeof t !== 'string' || t.length === 0) throw new UserError(`tokenizer special tokens: expected non-empty strings, got ${JSON.stringify(t)}`);
  }
  const minSize = 256 + specials.length;
  if (!Number.isInteger(vocabSize) || vocabSize < minSize || vocabSize >= KEY_BASE) {
    throw new UserError(`tokenizer vocab size: expected an integer in [${minSize}, ${KEY_BASE - 1}], got ${vocabSize}`);
  }
  const bpe = trainBpe(corpus, vocabSize - specials.length);
  const { json, specialTokenIds } = tokenizerJson(bpe, specials);

  const added_tokens_decoder: Record<string, unknown> = {};
  for (const t of json.added_tokens as { id: number; content: string }[]) {
    added_tokens_decoder[String(t.id)] = { content: t.content, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true };
  }
  const config = {
    add_bos_token: false,
    add_prefix_space: false,
    added_tokens_decoder,
    additional_special_tokens: specials.slice(1),
    bos_token: null,
    chat_template: CHATML_TEMPLATE,
    clean_up_tokenization_spaces: false,
    eos_token: '<|im_end|>',
    errors: 'replace',
    model_max_length: 32768,
    pad_token: '<|endoftext|>',
    split_special_tokens: false,
    tokenizer_class: 'PreTrainedTokenizerFast',
    unk_token: null,
  };
  const specialMap = {
    additional_special_tokens: specials.slice(1),
    eos_token: { content: '<|im_end|>', lstrip: false, normalized: false, rstrip: false, single_word: false },
    pad_token: { content: '<|endoftext|>', lstrip: false, normalized: false, rstrip: false, single_word: false },
  };
  await mkdir(outDir, { recursive: true });
  await writeFileAtomic(join(outDir, 'tokenizer.json'), JSON.stringify(json, null, 2) + '\n');
  await writeFileAtomic(join(outDir, 'tokenizer_config.json'), JSON.stringify(config, null, 2) + '\n');
  await writeFileAtomic(join(outDir, 'special_tokens_map.json'), JSON.stringify(specialMap, null, 2) + '\n');
  return { vocabSize: bpe.vocab.length + specials.length, merges: bpe.merges.length, specialTokenIds };
}
