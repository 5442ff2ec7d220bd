/**
 * Chat templates from tokenizer_config.json, rendered with @huggingface/jinja the way
 * `transformers`' apply_chat_template renders them with Python jinja2 (trim_blocks, lstrip_blocks,
 * `messages`, `add_generation_prompt`, the special-token variables, `raise_exception`).
 * Where @huggingface/jinja and Python jinja2 differ (str.strip(chars), printing None / True /
 * lists, `%` formatting, `round`, ...), jinja-python.ts gives Python's behaviour. Renderings are
 * tested byte-identical to Python jinja2 on real templates (test/fixtures/tokenizer/make_expected.py).
 */
import type { Template } from '@huggingface/jinja';
import { pythonTemplate } from './jinja-python.ts';
import { UserError } from '../util/errors.ts';

/** One chat turn (structurally the same as data/formats.ts' Message). */
export interface ChatMessage {
  role: string;
  content: string;
}

export interface RenderOptions {
  /** Append the assistant header so the model continues with the answer. */
  addGenerationPrompt?: boolean;
  /** Extra template variables (e.g. tools, enable_thinking). */
  extra?: Record<string, unknown>;
}

/** A parsed chat template plus the special-token strings it may refer to. */
export class ChatTemplate {
  readonly source: string;
  private readonly template: Template;
  private readonly specialTokens: Record<string, string | null>;
  private readonly origin: string;

  /**
   * @param source the Jinja template text
   * @param specialTokens bos_token, eos_token, pad_token, unk_token strings (null when unset)
   * @param origin where the template came from, for error messages (e.g. "model/tokenizer_config.json")
   */
  constructor(source: string, specialTokens: Record<string, string | null> = {}, origin = 'chat template') {
    this.source = source;
    this.specialTokens = specialTokens;
    this.origin = origin;
    try {
      this.template = pythonTemplate(source);
    } catch (e) {
      throw new UserError(`${origin}: chat_template does not parse as Jinja (${(e as Error).message})`);
    }
  }

  render(messages: readonly ChatMessage[], opts: RenderOptions = {}): string {
    if (!Array.isArray(messages)) throw new UserError(`${this.origin}: messages must be a list of {role, content}`);
    // As transformers does: only the special tokens that are set become variables.
    const vars: Record<string, unknown> = {
      ...Object.fromEntries(Object.entries(this.specialTokens).filter(([, v]) => v !== null && v !== undefined)),
      ...opts.extra,
      // Plain copies: the template must not see or mutate the caller's objects.
      messages: messages.map((m) => ({ ...m })),
      add_generation_prompt: opts.addGenerationPrompt ?? false,
    };
    try {
      return this.template.render(vars);
    } catch (e) {
      throw new UserError(`${this.origin}: chat template failed to render: ${(e as Error).message}`);
    }
  }
}

/** Renders `source` once (convenience for callers that do not keep a ChatTemplate). */
export function renderChatTemplate(
  source: string,
  messages: readonly ChatMessage[],
  opts: RenderOptions & { specialTokens?: Record<string, string | null> } = {},
): string {
  return new ChatTemplate(source, opts.specialTokens ?? {}).render(messages, opts);
}

/**
 * Picks the chat template out of a parsed tokenizer_config.json: a string, or the list form
 * `[{name, template}]` (the "default" entry). Returns null when there is none.
 */
export function chatTemplateFromConfig(config: Record<string, unknown>, file: string): string | null {
  const t = config.chat_template;
  if (t === undefined || t === null) return null;
  if (typeof t === 'string') return t;
  if (Array.isArray(t)) {
    const entries = t as { name?: unknown; template?: unknown }[];
    const def = entries.find((e) => e && e.name === 'default') ?? (entries.length === 1 ? entries[0] : undefined);
    if (def && typeof def.template === 'string') return def.template;
    throw new UserError(`${file}: chat_template is a list without a "default" entry (names: ${entries.map((e) => String(e?.name)).join(', ')})`);
  }
  throw new UserError(`${file}: chat_template must be a string or a list of {name, template}, got ${typeof t}`);
}
