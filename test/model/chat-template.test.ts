import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ChatTemplate, chatTemplateFromConfig } from '../../src/model/chat-template.ts';
import { CHATML_TEMPLATE } from '../../src/model/tokenizer-builder.ts';
import { UserError } from '../../src/util/errors.ts';
import { fixtureDir } from '../fixtures/tokenizer/tokenizers.ts';

interface Case {
  template: string;
  conversation: string;
  add_generation_prompt: boolean;
  extra?: Record<string, unknown>;
  messages: { role: string; content: string }[];
  expected: string;
}
const renderings = JSON.parse(readFileSync(join(fixtureDir, 'chat-renderings.json'), 'utf8')) as { cases: Case[] };

function templateFor(name: string): ChatTemplate {
  if (name === 'chatml') return new ChatTemplate(CHATML_TEMPLATE, { eos_token: '<|im_end|>', pad_token: '<|endoftext|>', bos_token: null });
  if (name === 'exaone-deep' || name === 'exaone-3.5') {
    const src = readFileSync(join(fixtureDir, `${name}.jinja`), 'utf8');
    return new ChatTemplate(src, { bos_token: '[BOS]', eos_token: '[|endofturn|]', pad_token: '[PAD]', unk_token: '[UNK]' });
  }
  if (name === 'deepseek-r1-distill') {
    const t = '<｜end▁of▁sentence｜>';
    return new ChatTemplate(readFileSync(join(fixtureDir, 'deepseek-r1-distill.jinja'), 'utf8'), { bos_token: '<｜begin▁of▁sentence｜>', eos_token: t, pad_token: t });
  }
  if (name === 'solar') return new ChatTemplate(readFileSync(join(fixtureDir, 'solar.jinja'), 'utf8'), { bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>' });
  const file = `${name}.tokenizer_config.json`;
  const cfg = JSON.parse(readFileSync(join(fixtureDir, file), 'utf8')) as Record<string, unknown>;
  const src = chatTemplateFromConfig(cfg, file)!;
  // a special token is a string or an AddedToken dict {content, ...} (DeepSeek-V3's file)
  const s = (k: string) => {
    const v = cfg[k] as string | { content?: string } | null | undefined;
    return typeof v === 'string' ? v : typeof v?.content === 'string' ? v.content : null;
  };
  return new ChatTemplate(src, { bos_token: s('bos_token'), eos_token: s('eos_token'), pad_token: s('pad_token'), unk_token: s('unk_token') }, file);
}

describe('chat templates render byte-identical to Python jinja2 (transformers settings)', () => {
  it('has fixtures for the real Qwen2.5, Qwen3, Llama-3, Gemma-3, DeepSeek-V3, DeepSeek-R1-distill, EXAONE-3.5, EXAONE-Deep and SOLAR templates and our ChatML', () => {
    expect(new Set(renderings.cases.map((c) => c.template))).toEqual(
      new Set(['qwen2.5-instruct', 'llama-3-instruct', 'qwen3', 'gemma-3', 'deepseek-v3', 'deepseek-r1-distill', 'exaone-3.5', 'exaone-deep', 'solar', 'chatml']),
    );
    expect(renderings.cases.length).toBeGreaterThanOrEqual(120);
  });

  it("Qwen3 keeps the indentation of a code answer after </think> (content.lstrip('\\n') strips newlines only)", () => {
    const c = renderings.cases.find((x) => x.template === 'qwen3' && x.conversation === 'thinking_indented_code' && !x.add_generation_prompt && !x.extra)!;
    expect(c.expected).toContain('<|im_start|>assistant\n    def 인사():\n');
    expect(templateFor('qwen3').render(c.messages)).toBe(c.expected);
  });
  for (const c of renderings.cases) {
    it(`${c.template} / ${c.conversation} / add_generation_prompt=${c.add_generation_prompt}${c.extra ? ` / ${JSON.stringify(c.extra)}` : ''}`, () => {
      const got = templateFor(c.template).render(c.messages, { addGenerationPrompt: c.add_generation_prompt, extra: c.extra });
      expect(got).toBe(c.expected);
    });
  }
});

describe('ChatTemplate', () => {
  it('the builder ChatML template is the one the fixtures were rendered from', () => {
    expect(readFileSync(join(fixtureDir, 'chatml.jinja'), 'utf8')).toBe(CHATML_TEMPLATE);
  });

  it('raise_exception in a template becomes a UserError with the template message', () => {
    const t = new ChatTemplate(CHATML_TEMPLATE, {}, 'model/tokenizer_config.json');
    expect(() => t.render([{ role: '도구', content: '안녕' }])).toThrow(UserError);
    expect(() => t.render([{ role: '도구', content: '안녕' }])).toThrow(/model\/tokenizer_config\.json: .*Unknown role: 도구/);
  });

  it('a template that does not parse is a UserError naming where it came from', () => {
    expect(() => new ChatTemplate('{% for m in messages %}', {}, 'x/tokenizer_config.json')).toThrow(/x\/tokenizer_config\.json: chat_template/);
  });

  it('does not let the template mutate the caller messages', () => {
    const msgs = [{ role: 'user', content: '안녕' }];
    new ChatTemplate("{% set x = messages[0] %}{{ x['content'] }}").render(msgs);
    expect(msgs).toEqual([{ role: 'user', content: '안녕' }]);
  });

  it('picks the default template from the list form of chat_template', () => {
    const cfg = { chat_template: [{ name: 'tool_use', template: 'T' }, { name: 'default', template: 'D' }] };
    expect(chatTemplateFromConfig(cfg, 'c.json')).toBe('D');
    expect(chatTemplateFromConfig({}, 'c.json')).toBeNull();
    expect(() => chatTemplateFromConfig({ chat_template: [{ name: 'a', template: 'A' }, { name: 'b', template: 'B' }] }, 'c.json')).toThrow(/no "default"|without a "default"/);
  });
});
