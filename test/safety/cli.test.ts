import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';

describe('ko-align toxicity score', () => {
  it('writes every row with toxicity and toxic and prints the toxic rate', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tox-cli-'));
    const input = join(dir, 'answers.jsonl');
    const output = join(dir, 'scored.jsonl');
    await writeFile(input, [
      { id: 1, answer: '야 이 멍청한 새끼야 꺼져' },
      { id: 2, answer: '오늘 날씨가 참 좋네요. 산책하기 좋은 날입니다.' },
    ].map((r) => JSON.stringify(r)).join('\n') + '\n');
    const r = runCli(['toxicity', 'score', '--input', input, '--output', output, '--field', 'answer']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^toxicity: 1\/2 toxic \(50\.0%\), mean 0\.\d{4}, scorer classifier:toxicity-ko-jamo-nbstack@[0-9a-f]{12}, threshold 0\.\d{4} -> /);
    const out = (await readFile(output, 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(out.map((o) => [o.id, o.toxic])).toEqual([[1, true], [2, false]]);
    expect(out[0].toxicity).toBeGreaterThan(out[1].toxicity);
  });

  it('fails with one line naming a missing input file, and writes nothing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tox-cli-'));
    const missing = join(dir, 'nope.jsonl');
    const r = runCli(['toxicity', 'score', '--input', missing, '--output', join(dir, 'o.jsonl')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`ko-align: error: ${missing}: file not found\n`);
    expect(existsSync(join(dir, 'o.jsonl'))).toBe(false);
  });

  it('fails with one line on an unknown scorer', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tox-cli-'));
    const input = join(dir, 'a.jsonl');
    await writeFile(input, '{"text": "안녕하세요"}\n');
    const r = runCli(['toxicity', 'score', '--input', input, '--output', join(dir, 'o.jsonl'), '--scorer', 'perspective']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("ko-align: error: --scorer: unknown scorer 'perspective' (expected one of classifier, judge, moderation, combined)\n");
  });

  it('fails with one line when the text field is absent', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tox-cli-'));
    const input = join(dir, 'a.jsonl');
    await writeFile(input, '{"text": "안녕하세요"}\n{"answer": "반갑습니다"}\n');
    const r = runCli(['toxicity', 'score', '--input', input, '--output', join(dir, 'o.jsonl')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`ko-align: error: ${input}: row 2: field 'text' must be a string (no such field); pass --field to name the column holding the text\n`);
  });

  it('rejects a threshold outside [0, 1]', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tox-cli-'));
    const input = join(dir, 'a.jsonl');
    await writeFile(input, '{"text": "안녕하세요"}\n');
    const r = runCli(['toxicity', 'score', '--input', input, '--output', join(dir, 'o.jsonl'), '--threshold', '1.5']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('ko-align: error: --threshold: must be a number in [0, 1], got 1.5\n');
  });
});

describe('ko-align toxicity train', () => {
  it('fails with one line when a data folder has no train.tsv and no .tsv files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tox-cli-'));
    const r = runCli(['toxicity', 'train', '--data', dir, '--out', join(dir, 'model')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`ko-align: error: ${dir}: no train.tsv and no .tsv files\n`);
  });

  it('trains on several .tsv sources given to --data and writes a calibrated model with per-source metrics', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tox-cli-'));
    const bad = ['멍청한', '쓰레기', '한심한', '역겹다'];
    const good = ['고마워요', '멋져요', '응원해요', '좋아요'];
    for (const name of ['news', 'chat']) {
      const lines = ['text\tlabel'];
      for (let i = 0; i < 300; i++) lines.push(`${name} ${i % 2 ? bad[i % 4] : good[i % 4]} 문장 ${i}\t${i % 2}`);
      await writeFile(join(dir, `${name}.tsv`), `${lines.join('\n')}\n`);
    }
    const out = join(dir, 'model');
    const r = runCli(['toxicity', 'train', '--data', join(dir, 'news.tsv'), join(dir, 'chat.tsv'), '--out', out]);
    expect(r.stderr).toContain('news: train ');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^toxicity train: wrote .* \(1048576 float16 weights, sha256 [0-9a-f]{12}, threshold 0\.\d{4}\) in [\d.]+ s; test AUROC 1\.0000 /);
    const header = JSON.parse(await readFile(join(out, 'model.json'), 'utf8'));
    expect(header.formatVersion).toBe(2);
    expect(Object.keys(header.metrics.test)).toEqual(['news', 'chat', 'all']);
    expect(await readFile(join(out, 'README.md'), 'utf8')).toContain(`ko-align toxicity train --data ${join(dir, 'news.tsv')} ${join(dir, 'chat.tsv')} --out ${out}`);
  });
});
