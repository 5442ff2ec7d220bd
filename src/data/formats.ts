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
 *
 * Columns an adapter does not read pass through untouched in `Example.row` (a category column
 * named `label`, `id`, `source`, `category`, `score`, `split`, ...). A `label` / `kto_tag` is
 * read as a KTO label only where one is wanted: format 'kto' (asked for, or detected from a
 * prompt/completion row whose label is a KTO value) or `{ kto: true }` (the KTO trainer).
 * `explainFormat` says which format a row was read as and why; `applyColumns` renames a
 * dataset's own column names (`columns: {prompt: question, answer: answer_text}`).
 */
import type { Field } from '../config/schema.ts';
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

/** True for the values a KTO label takes: a boolean, 0/1, "true"/"false", "desirable"/"undesirable". */
export function isKtoLabelValue(v: unknown): boolean {
  if (typeof v === 'boolean' || v === 0 || v === 1) return true;
  return typeof v === 'string' && ['true', 'false', 'desirable', 'undesirable', '1', '0'].includes(v.trim().toLowerCase());
}

/** The column a row's KTO label would come from ('label' wins over 'kto_tag'), or undefined. */
function labelKey(row: Row): 'label' | 'kto_tag' | undefined {
  return has(row, 'label') ? 'label' : has(row, 'kto_tag') ? 'kto_tag' : undefined;
}

/** A format and the reason it was chosen (see explainFormat). */
export interface FormatChoice {
  format: DataFormat | null;
  reason: string;
}

/**
 * Which format a row is in and why, in words ("column 'messages' is a list of turns"). A
 * prompt/completion row is 'kto' only when its label holds a KTO value; any other 'label' (a
 * topic class 0/1/2, say) is named as a column passed through.
 */
export function explainFormat(row: Row): FormatChoice {
  if (Array.isArray(row.input_ids)) return { format: 'pretokenized', reason: "column 'input_ids' is a list of token ids" };
  if (Array.isArray(row.messages)) return { format: 'messages', reason: "column 'messages' is a list of {role, content} turns" };
  if (Array.isArray(row.conversations)) return { format: 'sharegpt', reason: "column 'conversations' is a list of {from, value} turns" };
  if (has(row, 'prompt')) {
    const k = labelKey(row);
    if (has(row, 'completion') && k && isKtoLabelValue(row[k])) {
      return { format: 'kto', reason: `columns 'prompt', 'completion' and a KTO label '${k}' (${JSON.stringify(row[k])})` };
    }
    const why = has(row, 'completion') ? "columns 'prompt' and 'completion'" : "column 'prompt' (no 'completion')";
    return { format: 'prompt_completion', reason: k ? `${why}; '${k}' (${JSON.stringify(row[k])}) is not a KTO label, passed through` : why };
  }
  if (has(row, 'instruction')) return { format: 'alpaca', reason: `column 'instruction'${has(row, 'output') ? " and 'output'" : ''}` };
  return { format: null, reason: `no known columns (keys: ${keysOf(row)})` };
}

/** Which format a row is in, or null when it fits none (see detectFormat for the throwing variant). */
export function guessFormat(row: Row): DataFormat | null {
  return explainFormat(row).format;
}

/** Columns each format's adapter reads; every other column passes through untouched. */
const READS: Record<Exclude<DataFormat, 'kto'>, readonly string[]> = {
  alpaca: ['instruction', 'input', 'output', 'system', 'history'],
  sharegpt: ['conversations', 'system'],
  messages: ['messages', 'system'],
  prompt_completion: ['prompt', 'completion', 'system'],
  pretokenized: ['input_ids', 'labels'],
};

/** The chat shape under a KTO row: the asked format, else the detected one. */
function ktoInner(row: Row, format: DataFormat | undefined): Exclude<DataFormat, 'kto'> {
  const f = format && format !== 'kto' ? format : guessFormat(row);
  return !f || f === 'kto' ? 'prompt_completion' : f;
}

/**
 * The columns of `row` the adapter for `format` does not read: they pass through untouched.
 * A KTO row (format 'kto', or `kto: true`) also reads its label column.
 */
export function passThroughColumns(row: Row, format: DataFormat, opts: ExampleOptions = {}): string[] {
  const kto = format === 'kto' || (opts.kto === true && format !== 'pretokenized');
  const reads = new Set<string>(READS[kto ? ktoInner(row, format) : (format as Exclude<DataFormat, 'kto'>)]);
  const k = labelKey(row);
  if (kto && k) reads.add(k);
  return Object.keys(row).filter((c) => !reads.has(c));
}

/**
 * One line for a run log: the format a dataset was read as, why, and the columns passed
 * through. `asked` is the configured format ('auto' or undefined = implied by `columns`, else
 * detected from `first`, the first row after the column mapping).
 */
export function describeFormatChoice(path: string, first: Row, asked?: string, opts: ExampleOptions & { columns?: ColumnMap } = {}): string {
  const detected = explainFormat(first);
  const explicit = asked !== undefined && asked !== 'auto';
  const mapped = explicit ? undefined : mappedFormat(opts.columns);
  const f = explicit ? (asked as DataFormat) : (mapped ?? detected.format);
  const mapping = Object.entries(opts.columns ?? {}).map(([k, v]) => `${k}: ${v}`).join(', ');
  const why = explicit ? `format '${asked}' was asked for` : mapped ? `columns {${mapping}}` : `auto: ${detected.reason}`;
  if (!f || !DATA_FORMATS.includes(f)) return `${path}: row 1 fits no known format (${detected.reason})`;
  const extra = passThroughColumns(first, f, opts);
  const tail = extra.length ? `; passed through untouched: ${extra.join(', ')}` : '';
  if (f === 'kto' || (opts.kto && f !== 'pretokenized')) {
    return `${path}: read as kto (${ktoInner(first, f)} rows, label from '${labelKey(first) ?? 'label'}'; ${why})${tail}`;
  }
  return `${path}: read as ${f} (${why})${tail}`;
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
  const k = labelKey(row);
  return k ? parseLabel(row[k], where, k) : undefined;
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

export interface ExampleOptions {
  /**
   * A KTO dataset is being built: the row is read as format 'kto' whatever its chat shape, and
   * its label ('label' or 'kto_tag') is required and validated. Without it, a label is read only
   * when the format is 'kto'; otherwise 'label' / 'kto_tag' are columns like any other.
   */
  kto?: boolean;
}

/**
 * Converts a row to an Example. With `format` given, the row must be in that format; without
 * it the format is detected. `where` names the row in errors ("data.jsonl: row 17").
 */
export function toExample(row: Row, format?: DataFormat, where = 'row', opts: ExampleOptions = {}): Example {
  if (format !== undefined && !DATA_FORMATS.includes(format)) {
    throw new UserError(`${where}: unknown data format '${String(format)}', expected one of ${DATA_FORMATS.join(', ')}`);
  }
  const f = opts.kto && format !== 'pretokenized' ? 'kto' : (format ?? detectFormat(row, where));
  let ex: Example;
  if (f === 'kto') {
    const inner = format && format !== 'kto' ? format : guessFormat(row);
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
  return structural(row, f, where);
}

/**
 * A dataset's own column names, mapped onto the fields the adapters read (`columns:` in the
 * curate and train configs). Each key names the column that holds that field.
 */
export interface ColumnMap {
  prompt?: string;
  answer?: string;
  system?: string;
  messages?: string;
  conversations?: string;
  label?: string;
}

/** The field each ColumnMap key fills, and a one-line help text for the config schema. */
export const COLUMN_FIELDS: Record<keyof ColumnMap, { field: string; help: string }> = {
  prompt: { field: 'prompt', help: "column holding the prompt / question (text or a message list), e.g. 'question'" },
  answer: { field: 'completion', help: "column holding the answer / completion, e.g. 'answer_text'" },
  system: { field: 'system', help: 'column holding a system prompt' },
  messages: { field: 'messages', help: 'column holding a chat as [{role, content}] turns' },
  conversations: { field: 'conversations', help: 'column holding a ShareGPT chat as [{from, value}] turns' },
  label: { field: 'label', help: 'column holding the KTO label (read by KTO only; elsewhere it passes through)' },
};

/** The `columns:` config key (curate inputs[i], train dataset): unknown keys stay errors. */
export const COLUMNS_FIELD: Field = {
  type: 'object',
  optional: true,
  fields: Object.fromEntries(Object.entries(COLUMN_FIELDS).map(([k, v]) => [k, { type: 'string', optional: true, help: v.help }])),
  help: "the dataset's own column names, e.g. {prompt: question, answer: answer_text}; other columns pass through untouched",
};

/** The format a column mapping implies (undefined when it implies none, e.g. only `system`). */
export function mappedFormat(columns: ColumnMap | undefined): DataFormat | undefined {
  if (!columns) return undefined;
  if (columns.messages) return 'messages';
  if (columns.conversations) return 'sharegpt';
  if (columns.prompt || columns.answer) return 'prompt_completion';
  return undefined;
}

/**
 * Applies a column mapping to a row: each mapped column is copied under the field name the
 * adapters read; every original column stays as it was (so it still passes through). A mapped
 * column the row lacks is an error naming `where`, the mapping key and the row's keys.
 */
export function applyColumns(row: Row, columns: ColumnMap | undefined, where = 'row'): Row {
  if (!columns) return row;
  const out: Row = { ...row };
  for (const [key, spec] of Object.entries(COLUMN_FIELDS) as [keyof ColumnMap, { field: string }][]) {
    const src = columns[key];
    if (src === undefined) continue;
    if (!(src in row)) throw new UserError(`${where}: column '${src}' (columns.${key}) not found (keys: ${keysOf(row)})`);
    out[spec.field] = row[src];
  }
  return out;
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
export async function* readExamples(path: string, format?: DataFormat, opts: ExampleOptions & { columns?: ColumnMap } = {}): AsyncGenerator<Example> {
  const { readRows } = await import('./io.ts');
  let i = 0;
  for await (const row of readRows(path, { requireRows: true })) {
    i++;
    const where = `${path}: row ${i}`;
    yield toExample(applyColumns(row, opts.columns, where), format ?? mappedFormat(opts.columns), where, opts);
  }
}
