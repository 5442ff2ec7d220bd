/** End to end: the real `ko-align review export|import` binary. */
import { describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.ts';
import { manyRows, tempDir, writeJsonl } from './helpers.ts';

describe('ko-align review (CLI)', () => {
  it('exports a stratified sample as CSV and imports the filled sheet with agreement printed and stored', async () => {
    const dir = await tempDir();
    const input = await writeJsonl(join(dir, 'scored.jsonl'), manyRows(200));
    const csv = join(dir, 'review.csv');
    const e = runCli(['review', 'export', '--input', input, '--output', csv, '--format', 'csv', '--sample', '20', '--stratify-by', 'judge_score', '--seed', '42']);
    expect(e.stderr).toBe('');
    expect(e.code).toBe(0);
    expect(e.stdout).toContain('exported 20 of 200 items (200 rows) as csv');
    expect(e.stdout).toContain('strata (judge_score): 2: 2/20, 5: 2/20, 7: 4/40, 9: 12/120');

    // The reviewer accepts everything scored 7 or more except one, rejects the rest.
    const text = (await readFile(csv, 'utf8')).replace(/^\uFEFF/, '');
    const lines = text.trimEnd().split('\r\n');
    let flipped = false;
    const filled = lines.map((line, i) => {
      if (i === 0) return line;
      const score = Number(line.split(',')[3]);
      let decision = score >= 7 ? '수락' : '거절';
      if (score === 9 && !flipped) {
        decision = '거절';
        flipped = true;
      }
      return line.replace(/,,,,,$/, `,${decision},3,,박검수,`);
    });
    // A row whose item is not in the input (e.g. deleted since the export) is reported.
    filled.push('deadbeefdeadbeef,삭제된 질문,삭제된 답,,,,수락,,,박검수,');
    await writeFile(csv, '\uFEFF' + filled.join('\r\n') + '\r\n');
    const out = join(dir, 'reviewed.jsonl');
    const r = runCli(['review', 'import', '--decisions', csv, '--input', input, '--output', out]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`read 21 decisions from ${csv} (csv)`);
    expect(r.stdout).toContain('unknown ids (1 decisions match no input row):');
    expect(r.stdout).toContain(`deadbeefdeadbeef (${csv}:22)`);
    expect(r.stdout).toContain('200 rows, 200 items: 15 accepted, 5 rejected, 0 in conflict, 0 rated or commented only, 180 not reviewed');
    // 19 of 20 agree; judge accepts 16, humans 15: p_e = (16*15 + 4*5) / 400 = 0.65, kappa = (0.95 - 0.65) / 0.35.
    expect(r.stdout).toContain(`accuracy 95.0%, Cohen's kappa ${((0.95 - 0.65) / 0.35).toFixed(3)}`);
    const report = JSON.parse(await readFile(`${out}.review.json`, 'utf8'));
    expect(report.agreement.n).toBe(20);
    expect(report.agreement.kappa).toBeCloseTo((0.95 - 0.65) / 0.35, 12);
  });

  it('fails with one line naming the problem, and writes nothing', async () => {
    const dir = await tempDir();
    const input = await writeJsonl(join(dir, 'scored.jsonl'), manyRows(5));
    const bad = runCli(['review', 'export', '--input', input, '--output', join(dir, 'x'), '--format', 'excel']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("unknown review format 'excel', expected one of label-studio, argilla, csv, html");
    const notDecisions = join(dir, 'rows.json');
    await writeFile(notDecisions, JSON.stringify([{ prompt: '질문', answer: '답' }]));
    const out = join(dir, 'o.jsonl');
    const r = runCli(['review', 'import', '--decisions', notDecisions, '--input', input, '--output', out]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^ko-align: error: .*rows\.json: not a decisions file/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(existsSync(out)).toBe(false);
  });
});
