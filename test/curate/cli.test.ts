/** `ko-align curate` through the real binary: output summary, --set, one-line config errors. */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readAllRows } from '../../src/data/io.ts';
import { repoRoot, runCli } from '../helpers/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'ko-align-curate-cli-'));
const input = join(dir, 'in.jsonl');
writeFileSync(
  input,
  [
    { instruction: '김치찌개 끓이는 법을 알려주세요.', output: '잘 익은 김치와 돼지고기를 볶은 뒤 물을 붓고 20분 정도 끓이세요. 두부와 대파를 넣고 5분 더 끓이면 완성입니다.' },
    { instruction: '김치찌개 끓이는 법을 알려주세요!', output: '잘 익은 김치와 돼지고기를 볶은 뒤 물을 붓고 20분 정도 끓이세요! 두부와 대파를 넣고 5분 더 끓이면 완성입니다!' },
    { instruction: '오늘 날씨 어때?', output: 'AI 언어 모델로서 저는 실시간 날씨 정보를 알 수 없습니다.' },
    { conversations: [{ from: 'human', value: '연락처 알려줘' }, { from: 'gpt', value: '담당자 메일은 minsu.kim@example.com 이고, 평일 오전 9시부터 오후 6시까지 답장을 드립니다.' }] },
  ].map((r) => JSON.stringify(r)).join('\n') + '\n',
);
const cfg = join(dir, 'curate.yaml');
writeFileSync(cfg, `inputs:\n  - path: ${input}\noutput_dir: ${join(dir, 'out')}\nstages:\n  - type: normalize\n  - type: pii\n  - type: rules\n  - type: dedup\n`);

describe('ko-align curate', () => {
  it('runs the stages and prints per-stage counts with reasons', () => {
    const r = runCli(['curate', '--config', cfg]);
    expect(r.stderr).not.toMatch(/error/);
    // stderr is not a TTY here: plain log lines, no carriage-return progress bar
    expect(r.stderr).toMatch(/stage 3 rules: 4 in, 3 kept, 1 rejected/);
    expect(r.stderr).not.toContain('\r');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('curated 4 rows: 2 kept, 2 rejected');
    expect(r.stdout).toMatch(/rules .*rejected +1 +\(refusal 1\)/);
    expect(r.stdout).toMatch(/dedup .*rejected +1 +\(exact_dup 1\)/);
    for (const f of ['kept.parquet', 'rejected.parquet', 'manifest.json']) expect(existsSync(join(dir, 'out', f))).toBe(true);
  });

  it('--set overrides a key, and a second run reports cached stages', () => {
    const out2 = join(dir, 'out2');
    const r1 = runCli(['curate', '--config', cfg, '--set', `output_dir=${out2}`, '--progress', 'off', '--json']);
    expect(r1.code).toBe(0);
    expect(JSON.parse(r1.stdout).outputs.kept).toBe(join(out2, 'kept.parquet'));
    const r2 = runCli(['curate', '--config', cfg, '--set', `output_dir=${out2}`, '--progress', 'off']);
    expect(r2.stdout.match(/\[cached\]/g)).toHaveLength(5);
  });

  it.each([
    ['stages=[{type: dedupe}]', /stages\[0\]: unknown stage type 'dedupe' \(expected one of .*dedup/],
    ['stages=[{type: rules, params: {min_answer_char: 5}}]', /stages\[0\]: unknown key 'params.min_answer_char' \(did you mean 'params.min_answer_chars'\?\)/],
    [`inputs=[{path: ${join(dir, 'missing.jsonl')}}]`, /inputs\[0\]\.path: .*missing\.jsonl: file not found/],
  ])('a bad config (%s) is one error line naming the key', (set, msg) => {
    const r = runCli(['curate', '--config', cfg, '--set', set, '--progress', 'off']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^ko-align: error: /);
    expect(r.stderr).toMatch(msg);
  });

  it('--help lists the config keys with their help texts', () => {
    const r = runCli(['curate', '--help']);
    expect(r.stdout).toContain('output_dir (string, default "runs/curate")');
    expect(r.stdout).toContain('--set <key=value>');
    expect(r.stdout).toMatch(/rules:\n(.*\n)*\s+max_code_switch_rate \(number, default 0\.02\): /);
    expect(r.stdout).toMatch(/dedup:\n(.*\n)*\s+bands \(integer, default 14\): LSH bands/);
  });
});

describe('ko-align curate on Korean datasets as their authors publish them', () => {
  const PUBLISHED = join(repoRoot, 'test', 'fixtures', 'data', 'published');
  const write = (name: string, body: string) => {
    const p = join(dir, name);
    writeFileSync(p, body);
    return p;
  };

  it('messages rows with a 0/1/2 topic `label` are all kept, with every extra column untouched, and the format choice is named', async () => {
    const data = join(PUBLISHED, 'chat-category.jsonl');
    const out = join(dir, 'published-chat');
    const c = write('chat.yaml', `inputs:\n  - path: ${data}\noutput_dir: ${out}\nstages:\n  - type: normalize\n`);
    const r = runCli(['curate', '--config', c, '--progress', 'off']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('curated 4 rows: 4 kept, 0 rejected');
    expect(r.stderr).toContain(
      `input ${data}: read as messages (auto: column 'messages' is a list of {role, content} turns); passed through untouched: label, id, source, category, score, split`,
    );
    const kept = await readAllRows(join(out, 'kept.parquet'));
    expect(kept.map((k) => [k.label, k.source_id, k.source, k.category, k.score, k.split])).toEqual([
      [0, 'chat-0001', 'chatbot', '일상', 4.5, 'train'],
      [1, 'chat-0002', 'chatbot', '이별', 3, 'train'],
      [2, 'chat-0003', 'chatbot', '사랑', 5, 'validation'],
      [0, 'chat-0004', 'chatbot', '일상', 4, 'train'],
    ]);
  });

  it('columns: {prompt: Q, answer: A} reads songys/Chatbot_data as published (CSV: Q, A, label)', async () => {
    const data = join(PUBLISHED, 'chatbot-data.csv');
    const out = join(dir, 'published-csv');
    const c = write('csv.yaml', `inputs:\n  - path: ${data}\n    columns: {prompt: Q, answer: A}\noutput_dir: ${out}\nstages: []\n`);
    const r = runCli(['curate', '--config', c, '--progress', 'off']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('curated 6 rows: 6 kept, 0 rejected');
    expect(r.stderr).toContain(`input ${data}: read as prompt_completion (columns {prompt: Q, answer: A}); passed through untouched: Q, A, label`);
    const kept = await readAllRows(join(out, 'kept.parquet'));
    expect(kept[2]).toMatchObject({ prompt: '헤어진 지 한 달이 됐어', answer: '아직 마음이 많이 아프겠어요.', Q: '헤어진 지 한 달이 됐어', label: 1 });
  });

  it('--format overrides detection: as kto, the topic label 2 is rejected naming the file, row and key', async () => {
    const data = join(PUBLISHED, 'chat-category.jsonl');
    const out = join(dir, 'published-kto');
    const c = write('kto.yaml', `inputs:\n  - path: ${data}\noutput_dir: ${out}\nstages: []\n`);
    const r = runCli(['curate', '--config', c, '--progress', 'off', '--format', 'kto']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`input ${data}: read as kto (messages rows, label from 'label'; format 'kto' was asked for)`);
    const rejected = await readAllRows(join(out, 'rejected.parquet'));
    expect(rejected.map((x) => x.reason)).toEqual([`invalid_row: ${data}: row 3: 'label' must be true/false (or desirable/undesirable), got 2`]);
  });

  it.each([
    [['--format', 'chatml'], /^ko-align: error: --format: unknown row format 'chatml', expected auto or one of alpaca, /],
    [['--set', 'inputs.0.columns.promt=Q'], /^ko-align: error: .*csv-bad\.yaml: unknown key 'inputs\[0\]\.columns\.promt' \(did you mean 'inputs\[0\]\.columns\.prompt'\?\)$/],
    [['--set', 'inputs.0.columns.prompt=question'], /^ko-align: error: .*chatbot-data\.csv: row 1: column 'question' \(columns\.prompt\) not found \(keys: Q, A, label\)$/],
  ])('bad input (%s) is one error line naming the file, row or key, exit 1', (args, msg) => {
    const c = write('csv-bad.yaml', `inputs:\n  - path: ${join(PUBLISHED, 'chatbot-data.csv')}\n    columns: {answer: A}\noutput_dir: ${join(dir, 'published-bad')}\nstages: []\n`);
    const r = runCli(['curate', '--config', c, '--progress', 'off', ...args]);
    expect(r.code).toBe(1);
    const errLines = r.stderr.trim().split('\n').filter((l) => !l.startsWith('stage ') && !l.startsWith('input '));
    expect(errLines).toHaveLength(1);
    expect(errLines[0]).toMatch(msg);
  });

  it('--help shows the columns keys with their help texts', () => {
    const r = runCli(['curate', '--help']);
    expect(r.stdout).toContain("columns (object): the dataset's own column names, e.g. {prompt: question, answer: answer_text}");
    expect(r.stdout).toMatch(/prompt \(string\): column holding the prompt/);
    expect(r.stdout).toContain('--format <name>');
  });
});
