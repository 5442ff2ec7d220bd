/**
 * Tokenization shared by the SFT and KTO trainers.
 *
 * tokenizeChatForTraining: one conversation -> input_ids + labels, where only the assistant turns
 * (their content and their end-of-turn token, e.g. <|im_end|> or <|eot_id|>) carry labels; system,
 * user and template tokens are -100. It works for any chat template: the template is rendered on
 * message prefixes (with and without the generation prompt) to find where each assistant turn
 * starts and ends in the full rendering, and those character positions are turned into token
 * positions by diffing the tokens of the prefix against the tokens of the whole text.
 *
 * tokenizePromptCompletion: a (prompt, completion) pair the way TRL's KTOTrainer tokenizes it:
 * the prompt rendered with the chat template and the generation prompt, the completion = the
 * assistant content through its end-of-turn token (plain-text mode: completion + eos); prompt
 * and completion token ids split where the prompt's own tokens stop matching.
 */
import { UserError } from '../util/errors.ts';
import type { ChatMessage } from '../model/chat-template.ts';
import type { Tokenizer } from '../model/tokenizer.ts';

/** The label of a position that is not trained (PyTorch / HF ignore_index). */
export const IGNORE_INDEX = -100;

export interface ChatTrainingExample {
  input_ids: number[];
  labels: number[];
}

export interface PromptCompletionIds {
  prompt_ids: number[];
  completion_ids: number[];
}

function commonPrefixLength(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

/**
 * Maps character positions of `text` to token positions in `ids` (= encode(text)): the number
 * of tokens that lie wholly before the position. Byte-level tokenizers answer from the tokens'
 * byte lengths (one pass); others by diffing: the number of leading tokens that the prefix text's
 * own encoding shares with the full encoding. A token that straddles the position (BPE merged
 * across it) counts as after it in both.
 */
export function tokenBoundaryFinder(
  tok: Tokenizer,
  text: string,
  ids: readonly number[],
  method: 'auto' | 'diff' = 'auto',
): (charPos: number) => number {
  const byteLens = method === 'auto' ? tok.tokenByteLengths(ids, text) : null;
  if (byteLens) {
    const ends: number[] = [];
    let acc = 0;
    for (const n of byteLens) ends.push((acc += n));
    return (charPos) => {
      if (charPos <= 0) return 0;
      if (charPos >= text.length) return ids.length;
      const bytePos = Buffer.byteLength(text.slice(0, charPos));
      let lo = 0, hi = ends.length; // first token whose end is past bytePos
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (ends[mid] <= bytePos) lo = mid + 1;
        else hi = mid;
      }
      return lo;
    };
  }
  const memo = new Map<number, number>();
  return (charPos) => {
    if (charPos <= 0) return 0;
    if (charPos >= text.length) return ids.length;
    let k = memo.get(charPos);
    if (k === undefined) {
      k = commonPrefixLength(tok.encode(text.slice(0, charPos), { addSpecialTokens: false }), ids);
      memo.set(charPos, k);
    }
    return k;
  };
}

/**
 * In the rendering of one assistant turn (its content plus the template's closing text, e.g.
 * "답변<|im_end|>\n"), the length up to and including the last special token (the end-of-turn
 * token); without any special token (plain templates), up to the last non-whitespace character.
 */
function trainedLength(tok: Tokenizer, rendered: string): number {
  let end = -1;
  for (const s of tok.specialTokens) {
    const at = rendered.lastIndexOf(s);
    if (at >= 0 && at + s.length > end) end = at + s.length;
  }
  return end >= 0 ? end : rendered.trimEnd().length;
}

/** End (exclusive) of the first end-of-turn token at or after `from`: eos if it occurs, else any special token. */
function endOfTurn(tok: Tokenizer, text: string, from: number): number {
  const eosAt = text.indexOf(tok.eosToken, from);
  if (eosAt >= 0) return eosAt + tok.eosToken.length;
  let best = -1;
  for (const s of tok.specialTokens) {
    const at = text.indexOf(s, from);
    if (at >= 0 && (best < 0 || at < best)) best = at + s.length;
  }
  return best >= 0 ? best : text.trimEnd().length;
}

function checkMessages(messages: readonly ChatMessage[], what: string): void {
  if (!Array.isArray(messages) || messages.length === 0) throw new UserError(`${what}: expected a non-empty list of {role, content} messages`);
  messages.forEach((m, i) => {
    if (!m || typeof m.role !== 'string' || typeof m.content !== 'string') {
      throw new UserError(`${what}: message ${i} must have string "role" and "content", got ${JSON.stringify(m)}`);
    }
  });
}

/**
 * Messages with every content longer than `maxTokens` tokens could possibly need cut to a
 * character budget first (maxTokens plus a margin, times the tokenizer's longest token), keeping
 * the head (`keep: 'head'`, for text truncated from the right) or the tail (prompts truncated
 * from the left). A 50 MB field is then never tokenized whole: the tokens that survive the
 * max_length truncation are the same (the margin covers the word cut at the boundary).
 */
export function capMessages<M extends { content: string }>(messages: readonly M[], maxTokens: number, tok: Pick<Tokenizer, 'maxTokenChars'>, keep: 'head' | 'tail' = 'head'): M[] {
  const budget = (maxTokens + 32) * Math.max(1, tok.maxTokenChars ?? 64);
  return messages.map((m) => {
    if (m.content.length <= budget) return m;
    let c = keep === 'head' ? m.content.slice(0, budget) : m.content.slice(m.content.length - budget);
    // Never leave half of a surrogate pair at the cut.
    if (keep === 'head' && /[\uD800-\uDBFF]$/.test(c)) c = c.slice(0, -1);
    if (keep === 'tail' && /^[\uDC00-\uDFFF]/.test(c)) c = c.slice(1);
    return { ...m, content: c };
  });
}

/**
 * Tokenizes a conversation for SFT. Labels are the token ids on every assistant turn's content
 * and end-of-turn token, -100 elsewhere. The result is cut to `maxLength` tokens (from the right).
 * Padding is left to the collator (pad with tok.padTokenId and label -100: see padExample).
 */
export function tokenizeChatForTraining(
  tok: Tokenizer,
  messages: readonly ChatMessage[],
  opts: { maxLength: number; /** 'diff' forces prefix re-encoding (for tests); default 'auto'. */ boundaryMethod?: 'auto' | 'diff' },
): ChatTrainingExample {
  checkMessages(messages, 'conversation');
  const full = tok.applyChatTemplate(messages, { addGenerationPrompt: false });
  const ids = tok.encode(full, { addSpecialTokens: false });
  const labels = new Array<number>(ids.length).fill(IGNORE_INDEX);
  const boundary = tokenBoundaryFinder(tok, full, ids, opts.boundaryMethod);
  for (let i = 0; i < messages.length; i++) {
    if (messages[i].role !== 'assistant') continue;
    const before = tok.applyChatTemplate(messages.slice(0, i), { addGenerationPrompt: true });
    if (!full.startsWith(before)) {
      throw new UserError(
        `chat template: the conversation up to message ${i} rendered with the generation prompt is not the start of the whole ` +
          `rendering, so the assistant tokens cannot be located for masking`,
      );
    }
    const start = before.length;
    const through = tok.applyChatTemplate(messages.slice(0, i + 1), { addGenerationPrompt: false });
    // Prefix-stable templates: the turn ends where the conversation rendered through it ends.
    // Otherwise (e.g. Qwen3 drops the thinking block of turns that later turns follow) the turn is
    // taken as it stands in the whole rendering, up to its first end-of-turn token.
    const end =
      through.startsWith(before) && full.startsWith(through)
        ? start + trainedLength(tok, through.slice(start))
        : endOfTurn(tok, full, start);
    const a = boundary(start);
    const b = boundary(end);
    for (let t = a; t < b; t++) labels[t] = ids[t];
  }
  const n = Math.max(0, Math.floor(opts.maxLength));
  return { input_ids: ids.slice(0, n), labels: labels.slice(0, n) };
}

/** Right-pads an example to `length` with the pad id (labels -100); attention_mask marks real tokens. */
export function padExample(
  ex: ChatTrainingExample,
  length: number,
  padTokenId: number,
): ChatTrainingExample & { attention_mask: number[] } {
  const n = ex.input_ids.length;
  if (n > length) throw new Error(`padExample: example has ${n} tokens, more than ${length}`);
  const pad = length - n;
  return {
    input_ids: [...ex.input_ids, ...new Array<number>(pad).fill(padTokenId)],
    labels: [...ex.labels, ...new Array<number>(pad).fill(IGNORE_INDEX)],
    attention_mask: [...new Array<number>(n).fill(1), ...new Array<number>(pad).fill(0)],
  };
}

export interface PromptCompletionOptions {
  /** Longest prompt + completion. */
  maxLength: number;
  /** Longest prompt; longer prompts lose tokens from the left (keeping a leading BOS). */
  maxPromptLength?: number;
  /** Longest completion; longer completions lose tokens from the right. */
  maxCompletionLength?: number;
  /** Force chat (template) or plain-text mode; default: chat when the tokenizer has a chat template. */
  chat?: boolean;
}

function asMessages(x: string | readonly ChatMessage[], role: 'user' | 'assistant', what: string): ChatMessage[] {
  if (typeof x === 'string') return [{ role, content: x }];
  checkMessages(x, what);
  return [...x];
}

/** Cuts `ids` to its last `n` tokens, keeping a leading BOS if there was one. */
function keepEnd(ids: number[], n: number, bos: number | null): number[] {
  if (ids.length <= n) return ids;
  if (n <= 0) return [];
  if (bos !== null && ids[0] === bos) return n === 1 ? [bos] : [bos, ...ids.slice(ids.length - (n - 1))];
  return ids.slice(ids.length - n);
}

/**
 * Tokenizes one KTO example (TRL KTOTrainer style). Chat mode (the tokenizer has a chat template):
 * prompt = template(prompt messages, add_generation_prompt), completion = the assistant turn's
 * content through its end-of-turn token; a string prompt is one user message, a string completion
 * one assistant message. Plain mode: prompt and completion text as given, BOS before the prompt
 * when the tokenizer has one, EOS after the completion.
 * Truncation: the prompt to maxPromptLength from the left, the completion to maxCompletionLength
 * from the right; a pair still longer than maxLength loses completion tokens, then prompt tokens.
 */
export function tokenizePromptCompletion(
  tok: Tokenizer,
  prompt: string | readonly ChatMessage[],
  completion: string | readonly ChatMessage[],
  opts: PromptCompletionOptions,
): PromptCompletionIds {
  const chat = opts.chat ?? tok.chatTemplate !== null;
  let promptText: string;
  let completionText: string;
  let appendEos: boolean;
  if (chat) {
    const pm = asMessages(prompt, 'user', 'prompt');
    const cm = asMessages(completion, 'assistant', 'completion');
    promptText = tok.applyChatTemplate(pm, { addGenerationPrompt: true });
    const both = tok.applyChatTemplate([...pm, ...cm], { addGenerationPrompt: false });
    if (!both.startsWith(promptText)) {
      throw new UserError('chat template: prompt rendered with the generation prompt is not the start of prompt + completion, so the completion cannot be separated');
    }
    const rest = both.slice(promptText.length);
    completionText = rest.slice(0, trainedLength(tok, rest));
    appendEos = !tok.specialTokens.some((s) => completionText.includes(s));
  } else {
    if (typeof prompt !== 'string' || typeof completion !== 'string') {
      throw new UserError('prompt/completion: the tokenizer has no chat template, so prompt and completion must be plain text, not messages');
    }
    promptText = prompt;
    completionText = completion;
    appendEos = true;
  }

  const text = promptText + completionText;
  const full = tok.encode(text, { addSpecialTokens: false });
  // Where the prompt's tokens stop; a token merged across the seam goes to the completion (as in TRL).
  const split = tokenBoundaryFinder(tok, text, full)(promptText.length);
  let p = full.slice(0, split);
  let c = full.slice(split);
  if (!chat && tok.bosTokenId !== null && p[0] !== tok.bosTokenId) p = [tok.bosTokenId, ...p];
  if (appendEos && c[c.length - 1] !== tok.eosTokenId) c = [...c, tok.eosTokenId];

  if (opts.maxCompletionLength !== undefined) c = c.slice(0, Math.max(0, opts.maxCompletionLength));
  if (opts.maxPromptLength !== undefined) p = keepEnd(p, opts.maxPromptLength, tok.bosTokenId);
  if (p.length + c.length > opts.maxLength) {
    c = c.slice(0, Math.max(0, opts.maxLength - p.length));
    p = keepEnd(p, opts.maxLength - c.length, tok.bosTokenId);
  }
  return { prompt_ids: p, completion_ids: c };
}
