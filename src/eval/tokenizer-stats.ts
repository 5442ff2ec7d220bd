/**
 * Tokenizer efficiency, the measure the GECKO and RedWhale reports use: tokens per character of
 * each tokenizer on the same texts, and its token count relative to the first tokenizer
 * (ratio < 1: fewer tokens than the baseline), broken down by language (Korean / English / code,
 * detected per text with script and symbol heuristics).
 */
import { basename } from 'node:path';
import { readRows } from '../data/io.ts';
import { UserError } from '../util/errors.ts';
import { loadTokenizer, type Tokenizer } from '../model/tokenizer.ts';

export type TextLanguage = 'ko' | 'en' | 'code' | 'other';
export const LANGUAGES: readonly TextLanguage[] = ['ko', 'en', 'code', 'other'];

const CODE_KEYWORDS =
  /(^|\n)\s*(def |class |import |from \S+ import|#include|public |private |static |fn |func |package |SELECT |CREATE TABLE)|\b(function|return|const|let|var|elif|lambda|println|printf|console\.log|self|null|None|true|false)\b|=>|::|[A-Za-z0-9_)\]'"]\s*;\s*(\n|$)|[{}]\s*(\n|$)/g;

/**
 * Classifies one text: code when it has a fenced block, or code keywords with code symbols, or
 * mostly-Latin text dense in code symbols; else Korean when Hangul is at least 30% of its letters
 * (Korean prose mixes in English words); else English when Latin letters are at least half of its
 * letters; else other. Runs of one repeated symbol (Korean web text's ";;;;" or ">>>>") count once.
 */
export function detectLanguage(text: string): TextLanguage {
  let hangul = 0, latin = 0, letters = 0, symbols = 0, visible = 0;
  let prev = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    const repeat = ch === prev;
    prev = ch;
    if (/\s/.test(ch)) continue;
    visible++;
    if ((cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0x1100 && cp <= 0x11ff) || (cp >= 0x3130 && cp <= 0x318f) || (cp >= 0xa960 && cp <= 0xa97f) || (cp >= 0xd7b0 && cp <= 0xd7ff)) {
      hangul++;
      letters++;
    } else if ((cp >= 0x41 && cp <= 0x5a) || (cp >= 0x61 && cp <= 0x7a)) {
      latin++;
      letters++;
    } else if (/\p{L}/u.test(ch)) {
      letters++;
    } else if (!repeat && '{}()[];=<>_*/\\|&$#`+-'.includes(ch)) {
      symbols++;
    }
  }
  if (visible === 0) return 'other';
  const symbolRatio = symbols / visible;
  const keywordHits = (text.match(CODE_KEYWORDS) ?? []).length;
  const mostlyLatin = letters > 0 && latin / letters >= 0.5;
  if (
    text.includes('```') ||
    (keywordHits >= 2 && symbolRatio >= 0.04) ||
    (keywordHits >= 1 && symbolRatio >= 0.08) ||
    (mostlyLatin && symbolRatio >= 0.15)
  ) {
    return 'code';
  }
  if (letters > 0 && hangul / letters >= 0.3) return 'ko';
  if (mostlyLatin) return 'en';
  return 'other';
}

export interface TokenizerStatsRow {
  /** The tokenizer directory as given. */
  tokenizer: string;
  language: TextLanguage | 'all';
  texts: number;
  /** Unicode code points. */
  chars: number;
  tokens: number;
  tokens_per_char: number;
  /** tokens / the first tokenizer's tokens on the same texts (1 for the first). */
  ratio: number;
}

export interface TokenizerStatsResult {
  input: string;
  field: string;
  texts: number;
  /** Texts per detected language. */
  languages: Record<TextLanguage, number>;
  rows: TokenizerStatsRow[];
}

export interface TokenizerStatsOptions {
  /** Tokenizer directories (tokenizer.json + tokenizer_config.json); the first is the baseline. */
  tokenizers: string[];
  /** Dataset file (jsonl | json | parquet | arrow | csv). */
  input: string;
  /** Text field of each row (default 'text'); a list of {role, content} messages counts as its contents joined by newlines. */
  field?: string;
}

/** Counts tokens (without added special tokens) of every text with every tokenizer. */
export async function tokenizerStats(opts: TokenizerStatsOptions): Promise<TokenizerStatsResult> {
  const field = opts.field ?? 'text';
  if (opts.tokenizers.length === 0) throw new UserError('--tokenizers: expected at least one tokenizer directory');
  const toks: Tokenizer[] = [];
  for (const d of opts.tokenizers) toks.push(await loadTokenizer(d));

  const groups: (TextLanguage | 'all')[] = ['all', ...LANGUAGES];
  const chars = new Map<string, number>(groups.map((g) => [g, 0]));
  const texts = new Map<string, number>(groups.map((g) => [g, 0]));
  const tokens = toks.map(() => new Map<string, number>(groups.map((g) => [g, 0])));
  let n = 0;
  for await (const row of readRows(opts.input)) {
    n++;
    const value = row[field];
    // A chat column (list of {role, content}) counts as the text of its turns.
    const text = Array.isArray(value) && value.every((m) => m && typeof (m as { content?: unknown }).content === 'string')
      ? value.map((m) => (m as { content: string }).content).join('\n')
      : value;
    if (typeof text !== 'string') {
      throw new UserError(
        `${opts.input}: row ${n}: field '${field}' is ${text === undefined ? 'missing' : `not a string (${typeof text})`}; ` +
          `expected text (--field names it; row fields: ${Object.keys(row).join(', ')})`,
      );
    }
    const lang = detectLanguage(text);
    const nChars = [...text].length;
    for (const g of ['all', lang]) {
      chars.set(g, chars.get(g)! + nChars);
      texts.set(g, texts.get(g)! + 1);
    }
    toks.forEach((tok, i) => {
      const k = tok.encode(text, { addSpecialTokens: false }).length;
      for (const g of ['all', lang]) tokens[i].set(g, tokens[i].get(g)! + k);
    });
  }
  if (n === 0) throw new UserError(`${opts.input}: no rows`);

  const rows: TokenizerStatsRow[] = [];
  for (const g of groups) {
    if (texts.get(g) === 0) continue;
    const base = tokens[0].get(g)!;
    toks.forEach((_, i) => {
      const t = tokens[i].get(g)!;
      const c = chars.get(g)!;
      rows.push({
        tokenizer: opts.tokenizers[i],
        language: g,
        texts: texts.get(g)!,
        chars: c,
        tokens: t,
        tokens_per_char: c === 0 ? 0 : t / c,
        ratio: base === 0 ? (t === 0 ? 1 : Infinity) : t / base,
      });
    });
  }
  const languages = Object.fromEntries(LANGUAGES.map((l) => [l, texts.get(l)!])) as Record<TextLanguage, number>;
  return { input: opts.input, field, texts: n, languages, rows };
}

/** A fixed-width table for terminals. */
export function formatTokenizerStats(r: TokenizerStatsResult): string {
  const names = new Map<string, string>();
  for (const row of r.rows) {
    const short = basename(row.tokenizer.replace(/\/+$/, '')) || row.tokenizer;
    const clash = r.rows.some((o) => o.tokenizer !== row.tokenizer && (basename(o.tokenizer.replace(/\/+$/, '')) || o.tokenizer) === short);
    names.set(row.tokenizer, clash ? row.tokenizer : short);
  }
  const header = ['language', 'tokenizer', 'texts', 'chars', 'tokens', 'tokens/char', 'ratio'];
  const body = r.rows.map((x) => [x.language, names.get(x.tokenizer)!, String(x.texts), String(x.chars), String(x.tokens), x.tokens_per_char.toFixed(4), x.ratio.toFixed(3)]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const langs = LANGUAGES.filter((l) => r.languages[l] > 0).map((l) => `${l} ${r.languages[l]}`).join(', ');
  return [
    `${r.texts} texts from ${r.input} (field '${r.field}'): ${langs}; ratio = tokens / tokens of ${names.get(r.rows[0]?.tokenizer ?? '') ?? 'the first tokenizer'}`,
    line(header),
    ...body.map(line),
  ].join('\n') + '\n';
}
