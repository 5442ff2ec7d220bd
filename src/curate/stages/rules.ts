/**
 * rules: cheap per-row quality filters, streaming. Checks run in a fixed order and the first
 * failing check names the rejection ("<code>: <detail>"):
 *   empty_answer, refusal, too_short / too_long (chars), too_few_tokens / too_many_tokens,
 *   code_switch, low_hangul (answer), low_prompt_hangul, repetition, truncated.
 * Every limit can be switched off (a null / 0 / false value).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import type { Schema } from '../../config/schema.ts';
import type { Row } from '../../data/io.ts';
import { codeSwitch, hangulRatio, stripCodeAndUrls } from '../../text/script.ts';
import { findRefusal } from '../../text/refusal.ts';
import {
  duplicateLineFraction, duplicateNgramCharFraction, longestCharRun, tandemRepeatFraction, topNgramCharFraction,
} from '../../text/repetition.ts';
import { UserError } from '../../util/errors.ts';
import { answerOf, promptOf } from '../rows.ts';
import type { Decision, Stage, StageContext, StageFactory } from '../stage.ts';
import { stageParams } from './params.ts';

export const rulesSchema: Schema = {
  min_answer_chars: { type: 'integer', default: 10, min: 0, help: 'reject answers shorter than this many characters (code points)' },
  max_answer_chars: { type: 'integer', default: 20000, min: 0, help: 'reject answers longer than this many characters; 0 = no limit' },
  min_prompt_chars: { type: 'integer', default: 2, min: 0, help: 'reject prompts shorter than this many characters' },
  max_prompt_chars: { type: 'integer', default: 20000, min: 0, help: 'reject prompts longer than this many characters; 0 = no limit' },
  tokenizer: { type: 'string', optional: true, help: 'model dir (or tokenizer.json) for token counts; without it token limits count characters' },
  min_answer_tokens: { type: 'integer', default: 0, min: 0, help: 'reject answers with fewer tokens; 0 = off' },
  max_answer_tokens: { type: 'integer', default: 0, min: 0, help: 'reject answers with more tokens; 0 = off' },
  min_answer_hangul_ratio: { type: 'number', default: 0.5, min: 0, max: 1, help: 'minimum Hangul letters / all letters in the answer (code and URLs ignored); 0 = off' },
  min_prompt_hangul_ratio: { type: 'number', default: 0, min: 0, max: 1, help: 'minimum Hangul ratio of the prompt; 0 = off' },
  max_code_switch_rate: { type: 'number', default: 0.02, min: 0, max: 1, help: 'maximum share of answer letters in a foreign script (Hanja/CJK, kana, Cyrillic, Thai, ...; "단어(漢字)" glosses excepted); 1 = off' },
  code_switch_count_latin: { type: 'boolean', default: false, help: 'count Latin letters as code-switching too (off: English terms are normal in Korean)' },
  max_dup_line_fraction: { type: 'number', default: 0.3, min: 0, max: 1, help: 'maximum share of answer lines that repeat an earlier line; 1 = off' },
  max_dup_ngram_fraction: { type: 'number', default: 0.4, min: 0, max: 1, help: 'maximum share of answer characters inside repeated word 3-grams; 1 = off' },
  max_top_ngram_fraction: { type: 'number', default: 0.3, min: 0, max: 1, help: 'maximum share of answer characters taken by the most frequent word 2-gram; 1 = off' },
  max_tandem_repeat_fraction: { type: 'number', default: 0.3, min: 0, max: 1, help: 'maximum share of the answer inside a phrase repeated 3+ times back to back; 1 = off' },
  max_char_run: { type: 'integer', default: 20, min: 0, help: 'maximum run of one repeated character (ㅋㅋㅋ...); 0 = off' },
  refusal: { type: 'boolean', default: true, help: 'reject refusals and AI boilerplate ("AI 언어 모델로서", "As an AI language model")' },
  truncated: { type: 'boolean', default: true, help: 'reject answers that look cut off (unclosed code block, trailing comma / conjunction / open bracket)' },
};

export interface RulesParams {
  min_answer_chars: number;
  max_answer_chars: number;
  min_prompt_chars: number;
  max_prompt_chars: number;
  tokenizer?: string;
  min_answer_tokens: number;
  max_answer_tokens: number;
  min_answer_hangul_ratio: number;
  min_prompt_hangul_ratio: number;
  max_code_switch_rate: number;
  code_switch_count_latin: boolean;
  max_dup_line_fraction: number;
  max_dup_ngram_fraction: number;
  max_top_ngram_fraction: number;
  max_tandem_repeat_fraction: number;
  max_char_run: number;
  refusal: boolean;
  truncated: boolean;
}

function cpLength(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdbff) n++;
  }
  return n;
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/** Heuristic cut-off detection: an unclosed fence, or an ending that cannot end a sentence. */
export function looksTruncated(answer: string): string | null {
  const fences = answer.match(/^\s{0,3}```/gm)?.length ?? 0;
  if (fences % 2 === 1) return 'unclosed code block';
  const t = answer.trimEnd();
  if (/[,(\[{:;·、，]$/.test(t) && !/:\)$/.test(t)) return `ends with '${t.slice(-1)}'`;
  if (/(?:^|\s)(?:그리고|그러나|하지만|또는|및|그래서|따라서|예를\s*들어|and|or|but|the|of|to)$/i.test(t)) return `ends with '${t.split(/\s+/).pop()}'`;
  const opens = (t.match(/\(/g)?.length ?? 0) - (t.match(/\)/g)?.length ?? 0);
  if (opens > 0 && /\([^)]*$/.test(t.slice(-40))) return 'unclosed parenthesis at the end';
  return null;
}

/** Evaluates the rules on one row; returns the rejection reason or null to keep it. */
export function checkRules(p: RulesParams, prompt: string, answer: string, countTokens: (s: string) => number): string | null {
  if (answer.trim() === '') return 'empty_answer: the answer is empty';
  if (p.refusal) {
    const r = findRefusal(answer);
    if (r) return `refusal: ${r.name} ("${r.match.slice(0, 40)}")`;
  }
  const aLen = cpLength(answer);
  if (aLen < p.min_answer_chars) return `too_short: answer ${aLen} chars < ${p.min_answer_chars}`;
  if (p.max_answer_chars > 0 && aLen > p.max_answer_chars) return `too_long: answer ${aLen} chars > ${p.max_answer_chars}`;
  const pLen = cpLength(prompt);
  if (pLen < p.min_prompt_chars) return `too_short: prompt ${pLen} chars < ${p.min_prompt_chars}`;
  if (p.max_prompt_chars > 0 && pLen > p.max_prompt_chars) return `too_long: prompt ${pLen} chars > ${p.max_prompt_chars}`;
  if (p.min_answer_tokens > 0 || p.max_answer_tokens > 0) {
    const n = countTokens(answer);
    if (p.min_answer_tokens > 0 && n < p.min_answer_tokens) return `too_few_tokens: answer ${n} tokens < ${p.min_answer_tokens}`;
    if (p.max_answer_tokens > 0 && n > p.max_answer_tokens) return `too_many_tokens: answer ${n} tokens > ${p.max_answer_tokens}`;
  }
  if (p.max_code_switch_rate < 1) {
    const cs = codeSwitch(answer, { countLatin: p.code_switch_count_latin });
    if (cs.rate > p.max_code_switch_rate) {
      const scripts = Object.keys(cs.byScript).join('+');
      return `code_switch: ${pct(cs.rate)} ${scripts} letters > ${pct(p.max_code_switch_rate)} (${cs.samples.slice(0, 3).join(', ')})`;
    }
  }
  if (p.min_answer_hangul_ratio > 0) {
    const h = hangulRatio(answer);
    if (h < p.min_answer_hangul_ratio) return `low_hangul: answer Hangul ratio ${pct(h)} < ${pct(p.min_answer_hangul_ratio)}`;
  }
  if (p.min_prompt_hangul_ratio > 0) {
    const h = hangulRatio(prompt);
    if (h < p.min_prompt_hangul_ratio) return `low_prompt_hangul: prompt Hangul ratio ${pct(h)} < ${pct(p.min_prompt_hangul_ratio)}`;
  }
  // Repetition is measured on prose: code legitimately repeats lines ("}", "end").
  const prose = stripCodeAndUrls(answer);
  if (p.max_char_run > 0) {
    const r = longestCharRun(prose);
    if (r > p.max_char_run) return `repetition: one character repeated ${r} times > ${p.max_char_run}`;
  }
  if (p.max_dup_line_fraction < 1) {
    const f = duplicateLineFraction(prose);
    if (f > p.max_dup_line_fraction) return `repetition: ${pct(f)} duplicate lines > ${pct(p.max_dup_line_fraction)}`;
  }
  if (p.max_dup_ngram_fraction < 1) {
    const f = duplicateNgramCharFraction(prose, 3);
    if (f > p.max_dup_ngram_fraction) return `repetition: ${pct(f)} of characters in repeated 3-grams > ${pct(p.max_dup_ngram_fraction)}`;
  }
  if (p.max_top_ngram_fraction < 1) {
    const f = topNgramCharFraction(prose, 2);
    if (f > p.max_top_ngram_fraction) return `repetition: top 2-gram covers ${pct(f)} > ${pct(p.max_top_ngram_fraction)}`;
  }
  if (p.max_tandem_repeat_fraction < 1) {
    const f = tandemRepeatFraction(prose);
    if (f > p.max_tandem_repeat_fraction) return `repetition: ${pct(f)} inside a back-to-back repeated phrase > ${pct(p.max_tandem_repeat_fraction)}`;
  }
  if (p.truncated) {
    const t = looksTruncated(answer);
    if (t) return `truncated: ${t}`;
  }
  return null;
}

/** Loads tokenizer.json (+ tokenizer_config.json when present) from a model dir or a file path. */
export async function loadTokenCounter(pathOrDir: string, where: string): Promise<(s: string) => number> {
  const file = pathOrDir.endsWith('.json') ? pathOrDir : join(pathOrDir, 'tokenizer.json');
  let json: unknown;
  let cfg: unknown = {};
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    throw new UserError(`${where}: key 'params.tokenizer': cannot read ${file} (${(e as Error).message.split('\n')[0]})`);
  }
  if (!pathOrDir.endsWith('.json')) {
    try {
      cfg = JSON.parse(await readFile(join(pathOrDir, 'tokenizer_config.json'), 'utf8'));
    } catch {
      cfg = {};
    }
  }
  const tok = new Tokenizer(json as object, cfg as object);
  return (s: string) => tok.encode(s, { add_special_tokens: false }).ids.length;
}

export const rulesStage: StageFactory = (params, where): Stage => {
  const p = stageParams<RulesParams>(rulesSchema, params, where);
  return {
    name: 'rules',
    async *process(rows: AsyncIterable<Row>, ctx: StageContext): AsyncIterable<Decision> {
      let count: (s: string) => number = cpLength;
      if (p.tokenizer && (p.min_answer_tokens > 0 || p.max_answer_tokens > 0)) count = await loadTokenCounter(p.tokenizer, where);
      else if (p.min_answer_tokens > 0 || p.max_answer_tokens > 0) ctx.log('rules: no tokenizer configured; token limits count characters');
      for await (const row of rows) {
        const reason = checkRules(p, promptOf(row), answerOf(row), count);
        yield reason === null ? { row, keep: true } : { row, keep: false, reason };
      }
    },
  };
};
