/**
 * Format adapters: every supported dataset shape becomes one internal record, `Example`
 * (a chat: system/user/assistant messages, plus a KTO label when the row has one).
 *
 *   alpaca             instruction, input?, output, system?, history? ([[q, a], ...])
 *   sharegpt           conversations: [{from: human|gpt|system, value}], system?
 *   messages           messages: [{role: system|user|assistant, content}] (OpenAI style too:
 *                      content may be a list of {type: 'text', text} parts)
 *   kto                prompt, completion, label (TRL; bool or "desirable"/"undesirable"),
 *                      or LLaMA-Factory's kto_tag on any chat row
 *   prompt_completion  prompt, completion? (strings or message lists)
 *   pretokenized       input_ids (+ labels): passed through, no messages
 */
import { UserError } from '../util/errors.ts';
import type { Row } from './row.ts';

export type Role = 'system' | 'user' | 'assistant' | 'tool';

export interface Message {
  role: Role;
  content: string;
}

export interface Example {
  messages: Message[];
  /** KTO label: true = desirable, false = undesirable; absent when the row has none. */
  label?: boolean;
  /** The row this example came from (every original column, untouched). */
  row: Row;
  /** The format it was read as. */
  format?: DataFormat;
  /** Pre-tokenized rows only. */
  inputIds?: number[];
  /** Pre-tokenized rows only: per-token labels (-100 = not trained on), when the row has them. */
  labels?: number[];
}

export type DataFormat = 'alpaca' | 'sharegpt' | 'messages' | 'kto' | 'pretokenized' | 'prompt_completion';
export const DATA_FORMATS: readonly DataFormat[] = ['alpaca', 'sharegpt', 'messages', 'kto', 'pretokenized', 'prompt_completion'];

const EXPECTED =
  'expected one of: instruction/output (alpaca), conversations [{from, value}] (sharegpt), ' +
  'messages [{role, content}], prompt/completion/label or kto_tag (kto), prompt/completion, input_ids (pre-tokenized)';

const has = (row: Row, k: string): boolean => row[k] !== undefined && row[k] !== null;

function keysOf(row: Row): string {
  const ks = Object.keys(row);
  return ks.length ? ks.join(', ') : '(none)';
}

/** Which format a row is in, or null when it fits none (see detectFormat for the throwing variant). */
export function guessFormat(row: Row): DataFormat | null {
  if (Array.isArray(row.input_ids)) return 'pretokenized';
  if (Array.isArray(row.messages)) return 'messages';
  if (Array.isArray(row.conversations)) return 'sharegpt';
  if (has(row, 'prompt') && has(row, 'completion') && (has(row, 'label') || has(row, 'kto_tag'))) return 'kto';
  if (has(row, 'prompt')) return 'prompt_completion';
  if (has(row, 'instruction')) return 'alpaca';
  return null;
}

/** Which format a row is in; a UserError naming `where` and the row's keys when none fits. */
export function detectFormat(row: Row, where = 'row'): DataFormat {
  const f = guessFormat(row);
  if (!f) throw new UserError(`${where}: row fits no known format (keys: ${keysOf(row)}); ${EXPECTED}`);
  return f;
}

const ROLE_ALIASES: Record<string, Role> = {
  system: 'system',
  user: 'user',
  human: 'user',
  assistant: 'assistant',
  gpt: 'assistant',
  model: 'assistant',
  bot: 'assistant',
  chatgpt: 'assistant',
  // LLaMA-Factory sharegpt tags (data/README.md: function_tag function_call, observation_tag
  // observation) and OpenAI's tool role: a function call is assistant output, its result a tool turn
  function_call: 'assistant',
  observation: 'tool',
  tool: 'tool',
};

function toRole(raw: unknown, where: string, what: string): Role {
  const r = typeof raw === 'string' ? ROLE_ALIASES[raw.toLowerCase()] : undefined;
  if (!r) {
    throw new UserError(
      `${where}: ${what} has role ${JSON.stringify(raw)}, expected one of system, user, assistant, tool (or human, gpt, function_call, observation)`,
    );
  }
  return r;
}

function toText(v: unknown, where: string, what: string): string {
  if (typeof v === 'string') return v;
  if (v === null || v === undefined) return '';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) {
    // OpenAI content parts: [{type: 'text', text}, ...]
    const parts: string[] = [];
    for (const p of v) {
      if (typeof p === 'string') parts.push(p);
      else if (p && typeof p === 'object' && typeof (p as Row).text === 'string') parts.push((p as Row).text as string);
      else throw new UserError(`${where}: ${what} has a content part that is not text (${JSON.stringify(p)?.slice(0, 80)})`);
    }
    return parts.join('');
  }
  throw new UserError(`${where}: ${what} must be text, got ${typeof v}`);
}

function chatList(list: unknown, where: string, field: string, roleKey: string, contentKey: string): Message[] {
  if (!Array.isArray(list)) throw new UserError(`${where}: '${field}' must be a list of turns`);
  return list.map((t, i) => {
    const what = `${field}[${i}]`;
    if (!t || typeof t !== 'object' || Array.isArray(t)) throw new UserError(`${where}: ${what} must be an object with ${roleKey} and ${contentKey}`);
    const o = t as Row;
    // Accept both spellings inside either list (some ShareGPT dumps use role/content).
    const role = o[roleKey] ?? o.role ?? o.from;
    const content = contentKey in o ? o[contentKey] : 'content' in o ? o.content : o.value;
    return { role: toRole(role, where, what), content: toText(content, where, what) };
  });
}

/** A prompt or completion field: a string, or a list of messages (TRL conversational style). */
function promptOrCompletion(v: unknown, defaultRole: Role, where: string, field: string): Message[] {
  if (v === null || v === undefined) return [];
  if (Array.isArray(v)) return chatList(v, where, field, 'role', 'content');
  return [{ role: defaultRole, content: toText(v, where, field) }];
}

/** Parses a KTO label: booleans, "true"/"false", "desirable"/"undesirable", 1/0. */
export function parseLabel(v: unknown, where: string, field: string): boolean {
  if (typeof v === 'boolean') return v;
  if (v === 1 || v === 0) return v === 1;
  if (typeof v === 'string') {
    const s = v.trim().toLowerCase();
    if (s === 'true' || s === 'desirable' || s === '1') return true;
    if (s === 'false' || s === 'undesirable' || s === '0') return false;
  }
  throw new UserError(`${where}: '${field}' must be true/false (or desirable/undesirable), got ${JSON.stringify(v)}`);
}

function rowLabel(row: Row, where: string): boolean | undefined {
  if (has(row, 'label')) return parseLabel(row.label, where, 'label');
  if (has(row, 'kto_tag')) return parseLabel(row.kto_tag, where, 'kto_tag');
  return undefined;
}

function numberList(v: unknown, where: string, field: string): number[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isInteger(x))) {
    throw new UserError(`${where}: '${field}' must be a list of integer token ids`);
  }
  return v as number[];
}

function withSystem(row: Row, msgs: Message[], where: string): Message[] {
  if (has(row, 'system') && typeof row.system === 'string' && row.system !== '' && msgs[0]?.role !== 'system') {
    return [{ role: 'system', content: toText(row.system, where, 'system') }, ...msgs];
  }
  return msgs;
}

function structural(row: Row, f: Exclude<DataFormat, 'kto'>, where: string): Example {
  switch (f) {
    case 'pretokenized': {
      const ex: Example = { messages: [], row, format: f, inputIds: numberList(row.input_ids, where, 'input_ids') };
      if (has(row, 'labels')) ex.labels = numberList(row.labels, where, 'labels');
      if (ex.labels && ex.labels.length !== ex.inputIds!.length) {
        throw new UserError(`${where}: 'labels' has ${ex.labels.length} entries but 'input_ids' has ${ex.inputIds!.length}`);
      }
      return ex;
    }
    case 'messages':
      if (!Array.isArray(row.messages)) throw new UserError(`${where}: expected 'messages' [{role, content}] (keys: ${keysOf(row)})`);
      return { messages: withSystem(row, chatList(row.messages, where, 'messages', 'role', 'content'), where), row, format: f };
    case 'sharegpt':
      if (!Array.isArray(row.conversations)) throw new UserError(`${where}: expected 'conversations' [{from, value}] (keys: ${keysOf(row)})`);
      return { messages: withSystem(row, chatList(row.conversations, where, 'conversations', 'from', 'value'), where), row, format: f };
    case 'prompt_completion': {
      if (!has(row, 'prompt')) throw new UserError(`${where}: expected 'prompt' and 'completion' (keys: ${keysOf(row)})`);
      const msgs = [
        ...promptOrCompletion(row.prompt, 'user', where, 'prompt'),
        ...promptOrCompletion(row.completion, 'assistant', where, 'completion'),
      ];
      return { messages: withSystem(row, msgs, where), row, format: f };
    }
    case 'alpaca': {
      if (!has(row, 'instruction')) throw new UserError(`${where}: expected 'instruction' and 'output' (keys: ${keysOf(row)})`);
      const msgs: Message[] = [];
      if (Array.isArray(row.history)) {
        row.history.forEach((pair, i) => {
          if (!Array.isArray(pair) || pair.length !== 2) throw new UserError(`${where}: history[${i}] must be a [question, answer] pair`);
          msgs.push({ role: 'user', content: toText(pair[0], where, `history[${i}][0]`) });
          msgs.push({ role: 'assistant', content: toText(pair[1], where, `history[${i}][1]`) });
        });
      }
      const instruction = toText(row.instruction, where, 'instruction');
      const input = toText(row.input, where, 'input');
      msgs.push({ role: 'user', content: input ? `${instruction}\n${input}` : instruction });
      if (has(row, 'output')) msgs.push({ role: 'assistant', content: toText(row.output, where, 'output') });
      return { messages: withSystem(row, msgs, where), row, format: f };
    }
  }
}

/**
 * Converts a row to an Example. With `format` given, the row must be in that format; without
 * it the format is detected. `where` names the row in errors ("data.jsonl: row 17").
 */
export function toExample(row: Row, format?: DataFormat, where = 'row'): Example {
  const f = format ?? detectFormat(row, where);
  if (!DATA_FORMATS.includes(f)) throw new UserError(`${where}: unknown data format '${String(f)}', expected one of ${DATA_FORMATS.join(', ')}`);
  let ex: Example;
  if (f === 'kto') {
    const inner = guessFormat(row);
    if (!inner || inner === 'pretokenized') {
      throw new UserError(`${where}: expected a KTO row: prompt, completion and label (or a chat with kto_tag) (keys: ${keysOf(row)})`);
    }
    ex = structural(row, inner === 'kto' ? 'prompt_completion' : inner, where);
    ex.format = 'kto';
    const label = rowLabel(row, where);
    if (label === undefined) throw new UserError(`${where}: KTO row has no 'label' (or 'kto_tag') (keys: ${keysOf(row)})`);
    ex.label = label;
    if (!ex.messages.some((m) => m.role === 'assistant')) throw new UserError(`${where}: KTO row has no completion`);
    return ex;
  }
  ex = structural(row, f, where);
  const label = rowLabel(row, where);
  if (label !== undefined) ex.label = label;
  return ex;
}

function lastAssistantIndex(ex: Example): number {
  for (let i = ex.messages.length - 1; i >= 0; i--) if (ex.messages[i]!.role === 'assistant') return i;
  return -1;
}

/** The last assistant turn's text ('' when the example has no assistant turn). */
export function answerText(ex: Example): string {
  const i = lastAssistantIndex(ex);
  return i < 0 ? '' : ex.messages[i]!.content;
}

/** The messages before the last assistant turn (all of them when there is none). */
export function promptMessages(ex: Example): Message[] {
  const i = lastAssistantIndex(ex);
  return i < 0 ? ex.messages.slice() : ex.messages.slice(0, i);
}

/**
 * The prompt as plain text: the content of the turns before the last assistant turn. A single
 * user turn is its content alone; several turns are written one per block as "role: content".
 */
export function promptText(ex: Example): string {
  const msgs = promptMessages(ex);
  if (msgs.length === 1) return msgs[0]!.content;
  return msgs.map((m) => `${m.role}: ${m.content}`).join('\n\n');
}

/** Reads a dataset file as Examples, naming `path: row N` (1-based) in every error. */
export async function* readExamples(path: string, format?: DataFormat): AsyncGenerator<Example> {
  const { readRows } = await import('./io.ts');
  let i = 0;
  for await (const row of readRows(path, { requireRows: true })) {
    i++;
    yield toExample(row, format, `${path}: row ${i}`);
  }
}
