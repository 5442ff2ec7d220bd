import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ToxicityClassifier } from '../../src/safety/classifier.ts';
import { evaluateToxicityRows, formatEvalTable, parseLabel } from '../../src/safety/evaluate.ts';
import { runCli } from '../helpers/cli.ts';
import { chatReply, startOpenAIServer } from '../helpers/openai-server.ts';

/** A classifier whose score is the number written in the text: metrics can be worked by hand. */
const numeric: ToxicityClassifier = { id: 'numeric', threshold: 0.5, score: (t) => Number(t) };

describe('toxicity eval metrics', () => {
  it('AUROC, F1, precision, recall, FPR and ECE at the threshold, overall and per group', async () => {
    const rows = [
      { text: '0.9', toxic: true, src: 'a' },
      { text: '0.6', toxic: false, src: 'a' },
      { text: '0.4', toxic: true, src: 'a' },
      { text: '0.1', toxic: false, src: 'a' },
      { text: '0.8', toxic: 1, src: 'b' },
      { text: '0.2', toxic: 'clean', src: 'b' },
    ];
    const { result, scored } = await evaluateToxicityRows(rows, { classifier: numeric, labelField: 'toxic', groupBy: 'src' });
    expect(result.threshold).toBe(0.5);
    const [a, b] = result.groups;
    // a: toxic {0.9, 0.4}, clean {0.6, 0.1}: pairs (0.9>0.6, 0.9>0.1, 0.4<0.6, 0.4>0.1) -> 3/4
    expect(a).toMatchObject({ group: 'a', rows: 4, scored: 4, unscored: 0, toxic: 2, auroc: 0.75, precision: 0.5, recall: 0.5, fpr: 0.5 });
    expect(a!.f1).toBeCloseTo(0.5, 12);
    // ECE, 10 bins, one row per bin: mean |p - y| = (0.1 + 0.6 + 0.6 + 0.1) / 4
    expect(a!.ece).toBeCloseTo(0.35, 12);
    expect(b).toMatchObject({ group: 'b', rows: 2, toxic: 1, auroc: 1, precision: 1, recall: 1, fpr: 0 });
    expect(result.overall).toMatchObject({ group: 'all', rows: 6, toxic: 3, precision: 2 / 3, recall: 2 / 3, fpr: 1 / 3 });
    // toxic {0.9, 0.4, 0.8} vs clean {0.6, 0.1, 0.2}: 8 of 9 pairs ordered right
    expect(result.overall.auroc).toBeCloseTo(8 / 9, 12);
    expect(scored.map((r) => r.toxicity)).toEqual([0.9, 0.6, 0.4, 0.1, 0.8, 0.2]);
    const table = formatEvalTable(result).split('\n');
    expect(table[0]).toBe('scorer classifier:numeric, threshold 0.5000');
    expect(table[1]).toMatch(/^group +rows +toxic +unscored +AUROC +F1 +precision +recall +FPR +ECE$/);
    expect(table[4]).toMatch(/^all +6 +3 +0 +0\.8889 +0\.6667 +0\.6667 +0\.6667 +0\.3333 +0\.\d{4}$/);
  });

  it('says n/a, not 0, for ratios a one-class group has nothing under', async () => {
    const { result } = await evaluateToxicityRows([{ text: '0.2', toxic: false }, { text: '0.3', toxic: false }], { classifier: numeric });
    expect(result.overall.auroc).toBeNaN();
    expect(result.overall.recall).toBeNaN();
    expect(result.overall.precision).toBeNaN();
    expect(result.overall.f1).toBeNaN();
    expect(result.overall.fpr).toBe(0);
    expect(formatEvalTable(result)).toMatch(/all +2 +0 +0 +n\/a +n\/a +n\/a +n\/a +0\.0000/);
  });

  it('reads the usual label spellings and names the row and column of any other', () => {
    expect([true, 1, '1', 'toxic', 'TRUE', ' yes ', 'offensive'].map((v) => parseLabel(v, 'f', 'y'))).toEqual(Array(7).fill(true));
    expect([false, 0, '0', 'clean', 'False', 'none', 'safe'].map((v) => parseLabel(v, 'f', 'y'))).toEqual(Array(7).fill(false));
    expect(() => parseLabel('maybe', 'data.jsonl: row 3', 'label')).toThrow("data.jsonl: row 3: column 'label' must be a toxicity label (true/false, 1/0, toxic/clean), got \"maybe\"");
    expect(() => parseLabel(undefined, 'data.jsonl: row 1', 'label')).toThrow(/got nothing$/);
    expect(() => parseLabel(0.5, 'f', 'y')).toThrow(/got 0\.5$/);
  });

  it('counts answers the judge could not score apart and leaves them out of the metrics', async () => {
    const server = await startOpenAIServer({
      handler: (req) => {
        const user = String(req.body.messages.at(-1).content);
        if (user.includes('욕설')) return chatReply('{"harmful": true, "category": "insult", "score": 0.9, "reason": "-"}');
        if (user.includes('인사')) return chatReply('{"harmful": false, "category": "none", "score": 0.1, "reason": "-"}');
        return chatReply('모르겠습니다.');
      },
    });
    try {
      const rows = [{ text: '욕설 한 줄', toxic: true }, { text: '인사 한 줄', toxic: false }, { text: '애매한 줄', toxic: true }];
      const { result } = await evaluateToxicityRows(rows, { scorer: 'judge', baseURL: server.baseURL, apiKey: 'k', model: 'j', maxRetries: 0 });
      expect(result.overall).toMatchObject({ rows: 3, scored: 2, unscored: 1, toxic: 1, auroc: 1, precision: 1, recall: 1, fpr: 0 });
      expect(result.threshold).toBe(0.5);
    } finally {
      await server.close();
    }
  });
});

describe('ko-align toxicity eval', () => {
  it('prints the table with the embedded classifier, and writes the report and the scored rows', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tox-eval-'));
    const input = join(dir, 'labelled.jsonl');
    const rows = [
      { text: '야 이 멍청한 새끼야 꺼져', label: 'toxic', domain: '댓글' },
      { text: '너 같은 쓰레기는 사회에 필요 없어', label: 'toxic', domain: '댓글' },
      { text: '오늘 날씨가 참 좋네요. 산책하기 좋은 날입니다.', label: 'clean', domain: '댓글' },
      { text: '소고기 500그램 기준으로 간장 5큰술이 적당합니다.', label: 'clean', domain: '답변' },
      { text: '창문에 단열 필름을 붙이면 실내 온도가 올라갑니다.', label: 'clean', domain: '답변' },
    ];
    await writeFile(input, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const report = join(dir, 'metrics.json');
    const output = join(dir, 'scored.parquet');
    const r = runCli(['toxicity', 'eval', '--input', input, '--label-field', 'label', '--group-by', 'domain', '--report', report, '--output', output]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^scorer classifier:\S+@[0-9a-f]{12}, threshold 0\.\d{4}$/);
    expect(lines.slice(2).map((l) => l.split(/ +/)[0])).toEqual(['댓글', '답변', 'all']);
    const json = JSON.parse(await readFile(report, 'utf8'));
    expect(json.overall).toMatchObject({ rows: 5, toxic: 2, auroc: 1 });
    expect(json.groups[1]).toMatchObject({ group: '답변', toxic: 0, auroc: null, recall: null });
    expect(existsSync(output)).toBe(true);
  });

  it('fails in one line, writing nothing, on a bad label, an empty file or a missing group column', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tox-eval-'));
    const bad = join(dir, 'bad.jsonl');
    await writeFile(bad, '{"text": "안녕", "toxic": true}\n{"text": "잘 가", "toxic": "글쎄"}\n');
    const report = join(dir, 'm.json');
    let r = runCli(['toxicity', 'eval', '--input', bad, '--report', report]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`ko-align: error: ${bad}: row 2: column 'toxic' must be a toxicity label (true/false, 1/0, toxic/clean), got "글쎄"\n`);
    expect(existsSync(report)).toBe(false);
    const empty = join(dir, 'empty.jsonl');
    await writeFile(empty, '');
    r = runCli(['toxicity', 'eval', '--input', empty]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(empty);
    const ok = join(dir, 'ok.jsonl');
    await writeFile(ok, '{"text": "안녕", "toxic": false}\n');
    r = runCli(['toxicity', 'eval', '--input', ok, '--group-by', 'source']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`ko-align: error: ${ok}: row 1: no value in group column 'source'\n`);
  });
});
