import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pyFloatRepr, pyRound, pyStrRepr, pythonTemplate } from '../../src/model/jinja-python.ts';
import { fixtureDir } from '../fixtures/tokenizer/tokenizers.ts';

// Goldens rendered by Debian's python3-jinja2 with transformers' chat-template environment
// (test/fixtures/tokenizer/make_expected.py, SNIPPETS; transformers utils/chat_template_utils.py
// _compile_jinja_template: ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)).
interface Snippet {
  name: string;
  template: string;
  expected: string;
}
const golden = JSON.parse(readFileSync(join(fixtureDir, 'jinja-semantics.json'), 'utf8')) as { messages: unknown[]; cases: Snippet[] };

describe('template snippets render byte-identical to Python jinja2', () => {
  for (const c of golden.cases) {
    it(c.name, () => {
      expect(pythonTemplate(c.template).render({ messages: golden.messages })).toBe(c.expected);
    });
  }
});

describe('Python semantics helpers', () => {
  it("repr(float) switches to exponent form below 1e-4 and from 1e16, like Python's float_repr", () => {
    expect([1e20, 1e-5, 1e16, 1e15, 0.0001, 1.5, 2, -0, -2.5e-7, 1 / 3].map(pyFloatRepr)).toEqual([
      '1e+20', '1e-05', '1e+16', '1000000000000000.0', '0.0001', '1.5', '2.0', '-0.0', '-2.5e-07', '0.3333333333333333',
    ]);
  });

  it("repr(str) quotes and escapes like Python, keeping Hangul as is", () => {
    expect(pyStrRepr('안녕')).toBe("'안녕'");
    expect(pyStrRepr("it's")).toBe(`"it's"`);
    expect(pyStrRepr(`'"\n\t\\\u0007\u00a0`)).toBe(`'\\'"\\n\\t\\\\\\x07\\xa0'`);
  });

  it('round is half-to-even on the exact binary value (Python round)', () => {
    expect([pyRound(0.5), pyRound(1.5), pyRound(2.5), pyRound(2.675, 2), pyRound(0.125, 2), pyRound(1250, -2), pyRound(-1.5)]).toEqual([0, 2, 2, 2.67, 0.12, 1200, -2]);
  });

  it("'%' formatting errors like Python on a count mismatch", () => {
    const t = pythonTemplate("{{ '%s와 %s' % '하나' }}");
    expect(() => t.render({})).toThrow(/not enough arguments/);
    expect(() => pythonTemplate("{{ '%s' % (1, 2) }}").render({})).toThrow(/not all arguments converted/);
  });
});
