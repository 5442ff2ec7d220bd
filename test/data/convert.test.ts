import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { convertFile } from '../../src/data/convert.ts';
import { readAllRows, writeRows, type Format, type Row } from '../../src/data/io.ts';
import { runCli } from '../helpers/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'ko-align-convert-'));

// Every column on every row (columnar formats cannot tell a missing key from null).
const rows: Row[] = [
  {
    id: 1,
    instruction: '다음 문장을 영어로 번역하세요.',
    output: '안녕하세요, "만나서" 반갑습니다,\n또 만나요.',
    score: 8.5,
    count: 42,
    desirable: true,
    note: null,
    messages: [
      { role: 'system', content: '당신은 번역가입니다.' },
      { role: 'user', content: '번역: 감사합니다' },
      { role: 'assistant', content: 'Thank you' },
    ],
    tags: ['번역', '인사'],
    meta: { lang: 'ko', turns: 3 },
  },
  {
    id: 2,
    instruction: '',
    output: '007',
    score: -0.125,
    count: -7,
    desirable: false,
    note: '[참고] 대괄호로 시작하는 글',
    messages: [],
    tags: [],
    meta: { lang: 'ko', turns: 0 },
  },
  {
    id: 3,
    instruction: 'true',
    output: '이모지 🍚 와 한자 漢字, 탭\t',
    score: null,
    count: 9007199254740991,
    desirable: null,
    note: '',
    messages: null,
    tags: null,
    meta: null,
  },
];

const EXTS: Format[] = ['jsonl', 'json', 'parquet', 'arrow', 'csv'];

describe('convertFile: every format to every other, lossless', () => {
  for (const from of EXTS) {
    for (const to of EXTS) {
      it(`${from} -> ${to} keeps every value`, async () => {
        const src = join(dir, `src-${from}-${to}.${from}`);
        const out = join(dir, `out-${from}-${to}.${to}`);
        await writeRows(src, rows);
        const r = await convertFile(src, out);
        expect(r).toEqual({ rows: 3, inputFormat: from, outputFormat: to });
        expect(await readAllRows(out)).toEqual(rows);
      });
    }
  }

  it('keeps values through a chain through every format', async () => {
    let prev = join(dir, 'chain-0.jsonl');
    await writeRows(prev, rows);
    const chain: Format[] = ['parquet', 'csv', 'arrow', 'json', 'parquet', 'jsonl'];
    for (let i = 0; i < chain.length; i++) {
      const next = join(dir, `chain-${i + 1}.${chain[i]}`);
      await convertFile(prev, next);
      prev = next;
    }
    expect(await readAllRows(prev)).toEqual(rows);
  });

  it('honours format overrides for unusual extensions', async () => {
    const src = join(dir, 'raw.txt');
    writeFileSync(src, '{"text":"안녕"}\n');
    const out = join(dir, 'out.bin');
    await convertFile(src, out, { inputFormat: 'jsonl', outputFormat: 'parquet' });
    expect(await readAllRows(out, { format: 'parquet' })).toEqual([{ text: '안녕' }]);
  });
});

describe('ko-align convert (the real binary)', () => {
  function expectOneLineError(r: { code: number; stdout: string; stderr: string }, message: string | RegExp): void {
    expect(r.code).toBe(1);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines.length).toBe(1);
    expect(lines[0]).toMatch(typeof message === 'string' ? new RegExp(`^ko-align: error: ${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`) : message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  }

  it('converts JSONL to Parquet and back, printing the row count', async () => {
    const sub = mkdtempSync(join(dir, 'cli-ok-'));
    const src = join(sub, '입력.jsonl');
    await writeRows(src, rows);
    const pq = join(sub, '출력.parquet');
    const r = runCli(['convert', '--input', src, '--output', pq]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`wrote 3 rows to ${pq} (jsonl -> parquet)\n`);
    expect(await readAllRows(pq)).toEqual(rows);
  });

  it('a broken JSONL line: exit 1, one line naming file:line, no output file', () => {
    const sub = mkdtempSync(join(dir, 'cli-bad-'));
    const src = join(sub, 'broken.jsonl');
    writeFileSync(src, '{"a":"가"}\n{"a":"나"}\n{"a": 다}\n{"a":"라"}\n');
    const out = join(sub, 'out.parquet');
    const r = runCli(['convert', '--input', src, '--output', out]);
    expectOneLineError(r, new RegExp(`^ko-align: error: ${src.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3: invalid JSON \\(.+\\)$`));
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(sub)).toEqual(['broken.jsonl']);
  });

  it('invalid UTF-8: exit 1, one line naming file:line, no output file', () => {
    const sub = mkdtempSync(join(dir, 'cli-utf8-'));
    const src = join(sub, 'latin1.jsonl');
    writeFileSync(src, Buffer.concat([Buffer.from('{"a":"정상"}\n{"a":"caf'), Buffer.from([0xe9]), Buffer.from('"}\n')]));
    const out = join(sub, 'out.csv');
    const r = runCli(['convert', '--input', src, '--output', out]);
    expectOneLineError(r, `${src}:2: invalid UTF-8`);
    expect(readdirSync(sub)).toEqual(['latin1.jsonl']);
  });

  it('invalid UTF-8 in a CSV names its line', () => {
    const sub = mkdtempSync(join(dir, 'cli-csv-utf8-'));
    const src = join(sub, 'bad.csv');
    writeFileSync(src, Buffer.concat([Buffer.from('"a"\n"가"\n"caf'), Buffer.from([0xe9]), Buffer.from('"\n')]));
    const r = runCli(['convert', '--input', src, '--output', join(sub, 'out.jsonl')]);
    expectOneLineError(r, `${src}:3: invalid UTF-8`);
    expect(readdirSync(sub)).toEqual(['bad.csv']);
  });

  it('a missing input: exit 1, one line', () => {
    const sub = mkdtempSync(join(dir, 'cli-missing-'));
    const src = join(sub, '없는파일.jsonl');
    const r = runCli(['convert', '--input', src, '--output', join(sub, 'out.parquet')]);
    expectOneLineError(r, `${src}: file not found`);
    expect(readdirSync(sub)).toEqual([]);
  });

  it('an empty dataset: exit 1, one line, no output file; --allow-empty accepts it', () => {
    const sub = mkdtempSync(join(dir, 'cli-empty-'));
    const src = join(sub, 'empty.jsonl');
    writeFileSync(src, '\n');
    const out = join(sub, 'out.parquet');
    const r = runCli(['convert', '--input', src, '--output', out]);
    expectOneLineError(r, `${src}: no rows`);
    expect(existsSync(out)).toBe(false);
    const ok = runCli(['convert', '--input', src, '--output', join(sub, 'out.jsonl'), '--allow-empty']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('wrote 0 rows');
  });

  it('an unknown output extension: exit 1, one line listing the known ones', () => {
    const sub = mkdtempSync(join(dir, 'cli-ext-'));
    const src = join(sub, 'in.jsonl');
    writeFileSync(src, '{"a":"가"}\n');
    const r = runCli(['convert', '--input', src, '--output', join(sub, 'out.xlsx')]);
    expectOneLineError(r, /^ko-align: error: .*out\.xlsx: unknown data file extension '\.xlsx', expected one of \.jsonl/);
  });
});
