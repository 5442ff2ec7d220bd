import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { detectLanguage, formatTokenizerStats, tokenizerStats } from '../../src/eval/tokenizer-stats.ts';
import { buildTokenizer } from '../../src/model/tokenizer-builder.ts';
import { UserError } from '../../src/util/errors.ts';
import { runCli } from '../helpers/cli.ts';
import { koreanCorpus, makeTestTokenizerDir } from '../fixtures/tokenizer/tokenizers.ts';

const TEXTS = [
  { text: '한국어 토크나이저의 효율을 측정합니다.', lang: 'ko' },
  { text: '서울은 대한민국의 수도이며 인구는 약 940만 명이다.', lang: 'ko' },
  { text: 'LLM 학습에는 GPU가 필요합니다. PyTorch와 TensorFlow를 씁니다.', lang: 'ko' },
  { text: 'The quick brown fox jumps over the lazy dog.', lang: 'en' },
  { text: 'Large language models are fine-tuned with instruction data.', lang: 'en' },
  { text: 'def add(a, b):\n    return a + b\n', lang: 'code' },
  { text: 'for (let i = 0; i < n; i++) {\n  total += xs[i];\n}\n', lang: 'code' },
  { text: '```python\nprint("안녕")\n```', lang: 'code' },
] as const;

function writeInput(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ko-align-tokstats-'));
  const p = join(dir, 'texts.jsonl');
  writeFileSync(p, TEXTS.map((t) => JSON.stringify({ text: t.text, id: t.lang })).join('\n') + '\n');
  return p;
}

async function bytesOnlyTokenizer(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'ko-align-bytetok-'));
  await buildTokenizer({ vocabSize: 259, corpus: [], outDir: dir }); // no merges: one token per UTF-8 byte
  return dir;
}

describe('detectLanguage', () => {
  for (const t of TEXTS) it(`${t.lang}: ${JSON.stringify(t.text.slice(0, 24))}`, () => expect(detectLanguage(t.text)).toBe(t.lang));
  it('Korean web text with emoticon symbols (;;;; >>>> ^^) stays Korean, Korean-commented code is code', () => {
    expect(detectLanguage('음방 볼때마다 채널 돌리게됨;;;;')).toBe('ko');
    expect(detectLanguage('토니스타크 >>>>>>>>>> 방탄소년단')).toBe('ko');
    expect(detectLanguage('윤건은 존재감 없었는데;')).toBe('ko');
    expect(detectLanguage('"에이프릴이 한마디 합니다 ""예쁜게 죄"" 구하라님"')).toBe('ko');
    expect(detectLanguage('# 합계를 구한다\ndef total(xs):\n    return sum(xs)  # 합계\n')).toBe('code');
  });

  it('other for non-Korean, non-Latin scripts and for blank text', () => {
    expect(detectLanguage('Привет, как дела? Это русский текст.')).toBe('other');
    expect(detectLanguage('   \n')).toBe('other');
  });
});

describe('tokenizerStats', () => {
  it('counts tokens per character by language, with ratios against the first tokenizer', async () => {
    const input = writeInput();
    const { dir: trained } = await makeTestTokenizerDir('chatml');
    const bytes = await bytesOnlyTokenizer();
    const r = await tokenizerStats({ tokenizers: [trained, bytes], input });
    expect(r.texts).toBe(TEXTS.length);
    expect(r.languages).toEqual({ ko: 3, en: 2, code: 3, other: 0 });
    const row = (tok: string, lang: string) => r.rows.find((x) => x.tokenizer === tok && x.language === lang)!;
    // the byte tokenizer: exactly one token per UTF-8 byte
    const koTexts = TEXTS.filter((t) => t.lang === 'ko').map((t) => t.text);
    expect(row(bytes, 'ko').tokens).toBe(koTexts.reduce((s, t) => s + Buffer.byteLength(t), 0));
    expect(row(bytes, 'ko').chars).toBe(koTexts.reduce((s, t) => s + [...t].length, 0));
    expect(row(bytes, 'all').tokens).toBe(TEXTS.reduce((s, t) => s + Buffer.byteLength(t.text), 0));
    // ratios: the baseline is 1; the byte tokenizer needs more tokens, most of all on Korean (3 bytes a syllable)
    for (const lang of ['all', 'ko', 'en', 'code']) expect(row(trained, lang).ratio).toBe(1);
    expect(row(bytes, 'ko').ratio).toBeCloseTo(row(bytes, 'ko').tokens / row(trained, 'ko').tokens, 12);
    expect(row(bytes, 'ko').ratio).toBeGreaterThan(1.5);
    expect(row(bytes, 'ko').tokens_per_char).toBeGreaterThan(row(bytes, 'en').tokens_per_char);
    expect(r.rows.some((x) => x.language === 'other')).toBe(false);
    const table = formatTokenizerStats(r);
    expect(table).toContain('tokens/char');
    expect(table.split('\n').filter((l) => l.startsWith('ko '))).toHaveLength(2);
  });

  it('a messages column counts as the text of its turns', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ko-align-tokstats-msg-'));
    const input = join(dir, 'chat.jsonl');
    const messages = [{ role: 'user', content: '안녕하세요?' }, { role: 'assistant', content: '네, 반갑습니다.' }];
    writeFileSync(input, JSON.stringify({ messages }) + '\n');
    const bytes = await bytesOnlyTokenizer();
    const r = await tokenizerStats({ tokenizers: [bytes], input, field: 'messages' });
    expect(r.languages.ko).toBe(1);
    expect(r.rows[0].tokens).toBe(Buffer.byteLength('안녕하세요?\n네, 반갑습니다.'));
  });

  it('a missing text field is a UserError naming the file, row and the fields present', async () => {
    const input = writeInput();
    const { dir } = await makeTestTokenizerDir('chatml');
    const p = tokenizerStats({ tokenizers: [dir], input, field: 'content' });
    await expect(p).rejects.toThrow(UserError);
    await expect(tokenizerStats({ tokenizers: [dir], input, field: 'content' })).rejects.toThrow(`${input}: row 1: field 'content' is missing`);
  });
});

describe('ko-align tokenizer (CLI)', () => {
  it('stats prints the table; train writes a tokenizer that stats can read', async () => {
    const input = writeInput();
    const dir = mkdtempSync(join(tmpdir(), 'ko-align-tokcli-'));
    const corpusFile = join(dir, 'corpus.jsonl');
    writeFileSync(corpusFile, koreanCorpus().map((t) => JSON.stringify({ text: t })).join('\n') + '\n');
    const out = join(dir, 'tok');
    const t = runCli(['tokenizer', 'train', '--input', corpusFile, '--out', out, '--vocab-size', '420']);
    expect(t.stderr).toBe('');
    expect(t.code).toBe(0);
    expect(t.stdout).toContain('vocab 420');
    const bytes = await bytesOnlyTokenizer();
    const s = runCli(['tokenizer', 'stats', '--tokenizers', `${out},${bytes}`, '--input', input]);
    expect(s.code).toBe(0);
    expect(s.stdout).toMatch(/^ko\s+tok\s+3\s/m);
    const j = runCli(['tokenizer', 'stats', '--tokenizers', out, '--input', input, '--json']);
    expect(JSON.parse(j.stdout).languages.ko).toBe(3);
  });

  it('a missing tokenizer directory fails with one line naming tokenizer.json', () => {
    const input = writeInput();
    const r = runCli(['tokenizer', 'stats', '--tokenizers', '/없는/경로', '--input', input]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('/없는/경로/tokenizer.json');
  });
});
