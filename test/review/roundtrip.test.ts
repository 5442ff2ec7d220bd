/**
 * Export -> a reviewer's tool writes its export -> import, for each format, with Korean text.
 * The "tool" side writes exactly the shapes those tools export (Label Studio JSON export,
 * Argilla Record.to_dict(), a spreadsheet saving the CSV, the page's decisions JSON).
 */
import { describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { exportReview } from '../../src/review/export.ts';
import { importReview, resolveItem } from '../../src/review/import.ts';
import { itemId } from '../../src/review/items.ts';
import { readAllRows } from '../../src/data/io.ts';
import { scoredRows, tempDir, writeJsonl } from './helpers.ts';

const DAEHAN = itemId('대한민국의 수도는 어디인가요?', '대한민국의 수도는 서울입니다.');
const KIMCHI = itemId('김치찌개 끓이는 법을 알려줘', '김치를 볶은 뒤 물을 붓고 돼지고기와 두부를 넣어 끓입니다.');
const MIXED = itemId('영어로 대답해도 되나요?', 'Yes, 물론입니다. 日本語も大丈夫です。');

async function setup() {
  const dir = await tempDir();
  const input = await writeJsonl(join(dir, 'scored.jsonl'), scoredRows());
  return { dir, input };
}

function byId(rows: Array<Record<string, unknown>>): Map<string, Record<string, unknown>> {
  return new Map(rows.map((r) => [r.review_id as string, r]));
}

describe('Label Studio round trip', () => {
  it('exports tasks + a matching labeling config and reads annotations back from its JSON export', async () => {
    const { dir, input } = await setup();
    const exp = await exportReview({ input, output: join(dir, 'ls'), format: 'label-studio' });
    expect(exp.files).toEqual([join(dir, 'ls', 'tasks.json'), join(dir, 'ls', 'label_config.xml')]);
    const tasks = JSON.parse(await readFile(exp.files[0]!, 'utf8'));
    const config = await readFile(exp.files[1]!, 'utf8');
    expect(tasks).toHaveLength(7);
    const daehan = tasks.find((t: { data: { item_id: string } }) => t.data.item_id === DAEHAN);
    expect(daehan.data).toMatchObject({ instruction: '대한민국의 수도는 어디인가요?', judge_score: 9, judge_reason: '정확하고 자연스러운 답변' });
    expect(daehan.predictions[0]).toMatchObject({ model_version: 'heuristic-v1', score: 9 });
    expect(daehan.predictions[0].result[0]).toMatchObject({ from_name: 'decision', to_name: 'answer', type: 'choices', value: { choices: ['accept'] } });
    // Every $variable in the config is a data key of the tasks; every control the reader knows is there.
    for (const m of config.matchAll(/value="\$(\w+)"/g)) expect(Object.keys(daehan.data)).toContain(m[1]);
    expect(config).toMatch(/<Choices name="decision" toName="answer"/);
    expect(config).toMatch(/alias="accept"/);
    expect(config).toMatch(/<Rating name="rating" toName="answer" maxRating="5"\/>/);
    expect(config).toMatch(/<TextArea name="comment" toName="answer"/);
    // The failed judgement has no prediction.
    expect(tasks.find((t: { data: { instruction: string } }) => t.data.instruction === '판정에 실패한 항목').predictions).toEqual([]);

    // Label Studio's JSON export: tasks in another order, with ids and annotations.
    type ExportedTask = { id: number; data: Record<string, unknown>; annotations: unknown[] } & Record<string, unknown>;
    const exported: ExportedTask[] = [...tasks].reverse().map((t: Record<string, unknown>, i: number) => ({ id: 100 + i, ...t, data: t.data as Record<string, unknown>, annotations: [] as unknown[] }));
    const ann = (id: number, who: unknown, choice: string | null, rating?: number, text?: string, extra: Record<string, unknown> = {}) => ({
      id,
      completed_by: who,
      was_cancelled: false,
      created_at: '2026-11-20T10:00:00.000000Z',
      updated_at: `2026-11-20T10:0${id % 10}:00.000000Z`,
      result: [
        ...(choice ? [{ id: `c${id}`, from_name: 'decision', to_name: 'answer', type: 'choices', value: { choices: [choice] }, origin: 'manual' }] : []),
        ...(rating ? [{ id: `r${id}`, from_name: 'rating', to_name: 'answer', type: 'rating', value: { rating } }] : []),
        ...(text ? [{ id: `t${id}`, from_name: 'comment', to_name: 'answer', type: 'textarea', value: { text: [text] } }] : []),
      ],
      ...extra,
    });
    const find = (id: string) => exported.find((t) => (t.data as { item_id: string }).item_id === id)!;
    find(DAEHAN).annotations.push(ann(1, { id: 1, email: '검수자1@example.com' }, 'accept', 5, '완벽합니다'));
    find(KIMCHI).annotations.push(ann(2, 7, 'reject', 2, '두부 넣는 시점이 틀림'));
    find(KIMCHI).annotations.push(ann(3, 8, 'reject', 2));
    find(MIXED).annotations.push(ann(4, 7, 'accept'));
    find(MIXED).annotations.push(ann(5, 8, 'reject'));
    // A cancelled (skipped) annotation is not a decision.
    find(DAEHAN).annotations.push(ann(6, 9, 'reject', undefined, undefined, { was_cancelled: true }));
    // A task that is not in the input (deleted rows, another project).
    exported.push({ id: 999, data: { item_id: 'ffffffffffffffff', instruction: '없는 항목', answer: '없음' }, predictions: [], annotations: [ann(7, 7, 'accept')] });
    const decisions = join(dir, 'ls-export.json');
    await writeFile(decisions, JSON.stringify(exported));

    const out = join(dir, 'reviewed.jsonl');
    const r = await importReview({ decisions, input, output: out });
    expect(r.sources).toEqual([{ file: decisions, format: 'label-studio', decisions: 6 }]);
    expect(r.counts).toEqual({ accepted: 1, rejected: 1, conflict: 1, incomplete: 0, unreviewed: 4 });
    expect(r.unknown).toEqual([{ id: 'ffffffffffffffff', source: `${decisions}: task 8, annotation 7` }]);
    expect(r.conflicts).toHaveLength(1);
    expect(r.conflicts[0]).toMatchObject({ id: MIXED, kind: 'decision' });
    expect(r.conflicts[0]!.decisions.map((d) => [d.reviewer, d.decision])).toEqual([['7', 'accept'], ['8', 'reject']]);

    const rows = byId(await readAllRows(out));
    expect(rows.get(DAEHAN)).toMatchObject({
      review_status: 'accepted',
      review_rating: 5,
      review_comment: '완벽합니다',
      reviewer: '검수자1@example.com',
      reviewed_at: '2026-11-20T10:01:00.000Z',
      label: true,
      label_source: 'review',
      judge_score: 9,
    });
    expect(rows.get(KIMCHI)).toMatchObject({ review_status: 'rejected', review_rating: 2, reviewer: '7, 8', label: false, label_source: 'review' });
    expect(rows.get(KIMCHI)!.review_comment).toBe('7: 두부 넣는 시점이 틀림');
    // A conflict is not resolved: no decision, no human label.
    expect(rows.get(MIXED)).toMatchObject({ review_status: 'conflict', review_decision: null, label: null, label_source: null });
    // Judge accuracy over the two resolved items: judge 9 accept / human accept, judge 8 accept / human reject.
    expect(r.agreement).toMatchObject({ n: 2, accuracy: 0.5 });
    const report = JSON.parse(await readFile(`${out}.review.json`, 'utf8'));
    expect(report.agreement.accuracy).toBe(0.5);
    expect(report.conflicts[0].id).toBe(MIXED);
    expect(report.unknown[0].id).toBe('ffffffffffffffff');
  });
});

describe("Label Studio's other export shapes", () => {
  it('reads the JSON-MIN export (flat objects) and the CSV export (item_id, annotator columns)', async () => {
    const { dir, input } = await setup();
    const min = join(dir, 'ls-min.json');
    await writeFile(
      min,
      JSON.stringify([
        { id: 5, item_id: DAEHAN, instruction: '대한민국의 수도는 어디인가요?', decision: 'accept', rating: 4, comment: '정확', annotator: 'a@예시.kr', annotation_id: 9, updated_at: '2026-11-22T03:00:00.000Z' },
        { id: 6, item_id: KIMCHI, decision: 'reject', annotator: 'a@예시.kr', annotation_id: 10 },
      ]),
    );
    const r1 = await importReview({ decisions: min, input, output: join(dir, 'o1.jsonl') });
    expect(r1.sources[0]).toMatchObject({ format: 'label-studio', decisions: 2 });
    expect(r1.counts).toMatchObject({ accepted: 1, rejected: 1 });
    const rows = byId(await readAllRows(join(dir, 'o1.jsonl')));
    expect(rows.get(DAEHAN)).toMatchObject({ review_rating: 4, review_comment: '정확', reviewer: 'a@예시.kr', reviewed_at: '2026-11-22T03:00:00.000Z' });

    const csv = join(dir, 'ls.csv');
    await writeFile(csv, `annotation_id,annotator,answer,comment,decision,id,item_id,rating\n1,3,답,좋음,accept,17,${DAEHAN},5\n2,3,답,,reject,18,${MIXED},\n`);
    const r2 = await importReview({ decisions: csv, input, output: join(dir, 'o2.jsonl') });
    expect(r2.unknown).toEqual([]);
    expect(r2.counts).toMatchObject({ accepted: 1, rejected: 1 });
    expect(byId(await readAllRows(join(dir, 'o2.jsonl'))).get(MIXED)).toMatchObject({ review_status: 'rejected', reviewer: '3' });
  });
});

describe('Argilla round trip', () => {
  it('exports records with suggestions + settings, and reads submitted responses back', async () => {
    const { dir, input } = await setup();
    const exp = await exportReview({ input, output: join(dir, 'argilla.json'), format: 'argilla' });
    expect(exp.files).toEqual([join(dir, 'argilla.json'), join(dir, 'argilla.settings.json')]);
    const records = JSON.parse(await readFile(exp.files[0]!, 'utf8'));
    const settings = JSON.parse(await readFile(exp.files[1]!, 'utf8'));
    const rec = records.find((x: { id: string }) => x.id === DAEHAN);
    expect(rec.fields).toEqual({ instruction: '대한민국의 수도는 어디인가요?', answer: '대한민국의 수도는 서울입니다.', judge_reason: '정확하고 자연스러운 답변' });
    expect(rec.metadata).toMatchObject({ judge_score: 9, judge_status: 'ok', judge_model: 'heuristic-v1' });
    expect(rec.suggestions).toEqual({ decision: { value: 'accept', score: 8 / 9, agent: 'heuristic-v1' } }); // judge 9 on 1-10 -> [0, 1]
    expect(settings.guidelines).toContain('검수 지침');
    expect(settings.fields.map((f: { name: string }) => f.name)).toEqual(['instruction', 'answer', 'judge_reason']);
    expect(settings.questions.map((q: { name: string; settings: { type: string } }) => [q.name, q.settings.type])).toEqual([
      ['decision', 'label_selection'],
      ['rating', 'rating'],
      ['comment', 'text'],
    ]);
    // Every record field and metadata key is declared in the settings.
    for (const r of records) {
      for (const k of Object.keys(r.fields)) expect(settings.fields.map((f: { name: string }) => f.name)).toContain(k);
      for (const k of Object.keys(r.metadata)) expect(settings.metadata.map((f: { name: string }) => f.name)).toContain(k);
    }

    // Argilla's record export (Record.to_dict()): responses keyed by question, one entry per user.
    const kimchi = records.find((x: { id: string }) => x.id === KIMCHI);
    rec.responses = {
      decision: [{ value: 'accept', user_id: 'u-민지', status: 'submitted' }],
      rating: [{ value: 4, user_id: 'u-민지', status: 'submitted' }],
      comment: [{ value: '좋은 답변', user_id: 'u-민지', status: 'submitted' }],
    };
    kimchi.responses = {
      decision: [
        { value: 'reject', user_id: 'u-민지', status: 'submitted' },
        { value: 'accept', user_id: 'u-draft', status: 'draft' },
      ],
      rating: [{ value: 1, user_id: 'u-민지', status: 'submitted' }],
    };
    const decisions = join(dir, 'argilla-records.json');
    await writeFile(decisions, JSON.stringify(records.reverse()));
    const out = join(dir, 'reviewed.parquet');
    const r = await importReview({ decisions, input, output: out });
    expect(r.sources[0]).toMatchObject({ format: 'argilla', decisions: 2 });
    expect(r.counts).toMatchObject({ accepted: 1, rejected: 1, conflict: 0, unreviewed: 5 });
    const rows = byId(await readAllRows(out));
    expect(rows.get(DAEHAN)).toMatchObject({ review_status: 'accepted', review_rating: 4, review_comment: '좋은 답변', reviewer: 'u-민지', label: true });
    expect(rows.get(KIMCHI)).toMatchObject({ review_status: 'rejected', review_rating: 1, label: false, label_source: 'review' });
    expect(rows.get(MIXED)).toMatchObject({ review_status: 'unreviewed', reviewer: null, label: null });
    expect(rows.size).toBe(7);
  });

  it("reads the server's response list (values per question) as well", async () => {
    const { dir, input } = await setup();
    const decisions = join(dir, 'server.json');
    await writeFile(
      decisions,
      JSON.stringify({
        records: [
          {
            id: DAEHAN,
            fields: { instruction: '대한민국의 수도는 어디인가요?', answer: '대한민국의 수도는 서울입니다.' },
            responses: [
              { user_id: 'a', status: 'submitted', values: { decision: { value: 'reject' }, rating: { value: 2 } }, updated_at: '2026-11-21T09:00:00' },
              { user_id: 'b', status: 'discarded', values: { decision: { value: 'accept' } } },
            ],
          },
        ],
      }),
    );
    const r = await importReview({ decisions, input, output: join(dir, 'out.jsonl') });
    expect(r.counts.rejected).toBe(1);
    expect(r.agreement).toMatchObject({ n: 1, accuracy: 0, table: { judge_accept_human_reject: 1 } });
  });
});

describe('CSV round trip', () => {
  it('exports UTF-8 with BOM and empty decision columns, and reads a filled sheet back', async () => {
    const { dir, input } = await setup();
    const exp = await exportReview({ input, output: join(dir, 'review.csv'), format: 'csv' });
    const bytes = await readFile(exp.files[0]!);
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const sheet = parse(bytes.toString('utf8'), { bom: true }) as string[][];
    expect(sheet[0]).toEqual(['id', 'instruction', 'answer', 'judge_score', 'judge_verdict', 'judge_reason', 'decision', 'rating', 'comment', 'reviewer', 'reviewed_at']);
    expect(sheet).toHaveLength(8);
    for (const row of sheet.slice(1)) expect(row.slice(6)).toEqual(['', '', '', '', '']);
    const chat = sheet.find((r) => r[2]!.includes('엑셀 수식'))!;
    // Formula-looking cells are neutralized for spreadsheets; the id still joins.
    expect(chat[1]).toBe("'=SUM(A1:A9) 이 수식은 무엇인가요?");
    expect(chat[2]).toBe("'+A1부터 A9까지 더하는 엑셀 수식입니다.");
    const payload = sheet.find((r) => r[0] === itemId(scoredRows()[2]!.prompt as string, scoredRows()[2]!.answer as string))!;
    expect(payload[2]).toContain('<img src=x onerror=');

    // A reviewer fills the sheet in Korean, sorts it by score, and saves (with a BOM, CRLF).
    const header = sheet[0]!;
    const body = sheet.slice(1).sort((a, b) => Number(a[3]) - Number(b[3]));
    const set = (id: string, decision: string, rating: string, comment: string) => {
      const row = body.find((r) => r[0] === id)!;
      row[6] = decision;
      row[7] = rating;
      row[8] = comment;
      row[9] = '박검수';
      row[10] = '2026-11-22 14:30:00';
    };
    set(DAEHAN, '수락', '5', '정답');
    set(KIMCHI, '거절', '', '조리 순서 오류, "두부"');
    set(MIXED, 'X', '1', '일본어 혼용');
    const filled = join(dir, 'filled.csv');
    await writeFile(filled, '\uFEFF' + stringify([header, ...body], { record_delimiter: '\r\n' }));
    const r = await importReview({ decisions: filled, input, output: join(dir, 'out.jsonl') });
    expect(r.sources[0]).toMatchObject({ format: 'csv', decisions: 3 });
    expect(r.counts).toMatchObject({ accepted: 1, rejected: 2, unreviewed: 4 });
    const rows = byId(await readAllRows(join(dir, 'out.jsonl')));
    expect(rows.get(KIMCHI)).toMatchObject({ review_status: 'rejected', review_rating: null, review_comment: '조리 순서 오류, "두부"', reviewer: '박검수', label: false });
    expect(rows.get(MIXED)).toMatchObject({ review_status: 'rejected', review_rating: 1 });
    // judge: 9 accept / 8 accept / 4 reject; human: accept / reject / reject -> 2 of 3 agree.
    expect(r.agreement.n).toBe(3);
    expect(r.agreement.accuracy).toBeCloseTo(2 / 3, 12);
    expect(r.agreement.kappa).toBeCloseTo(0.4, 12);
  });

  it('names the line of an unknown decision value', async () => {
    const { dir, input } = await setup();
    const filled = join(dir, 'bad.csv');
    await writeFile(filled, `id,decision\n${DAEHAN},accept\n${KIMCHI},글쎄요\n`);
    await expect(importReview({ decisions: filled, input, output: join(dir, 'o.jsonl') })).rejects.toThrow(
      `${filled}:3: column decision: unknown decision "글쎄요", expected accept or reject (수락 / 거절)`,
    );
  });
});

describe('HTML decisions import', () => {
  it("joins the page's decisions file even when the input was re-ordered and re-written as Parquet", async () => {
    const { dir } = await setup();
    const reordered = join(dir, 'reordered.parquet');
    const { writeRows } = await import('../../src/data/io.ts');
    await writeRows(reordered, scoredRows().reverse());
    const decisions = join(dir, 'decisions.json');
    await writeFile(
      decisions,
      JSON.stringify({
        kind: 'ko-align-review-decisions',
        version: 1,
        export_id: 'abc',
        reviewer: '이서연',
        decisions: [
          { id: DAEHAN, decision: 'accept', rating: 5, comment: null, reviewer: '이서연', reviewed_at: '2026-11-22T01:02:03.000Z' },
          { id: KIMCHI, decision: null, rating: 3, comment: '애매함', reviewer: '이서연', reviewed_at: '2026-11-22T01:03:00.000Z' },
          { id: '0123456789abcdef', decision: 'reject', rating: null, comment: null, reviewer: '이서연', reviewed_at: null },
        ],
      }),
    );
    const out = join(dir, 'out.jsonl');
    const r = await importReview({ decisions, input: reordered, output: out });
    expect(r.sources[0]!.format).toBe('html');
    expect(r.counts).toMatchObject({ accepted: 1, incomplete: 1, unreviewed: 5 });
    expect(r.unknown).toEqual([{ id: '0123456789abcdef', source: `${decisions}: decisions[2]` }]);
    const rows = byId(await readAllRows(out));
    expect(rows.get(KIMCHI)).toMatchObject({ review_status: 'incomplete', review_rating: 3, review_comment: '애매함', label: null });
  });
});

describe('conflicts across reviewers', () => {
  const d = (reviewer: string | null, decision: 'accept' | 'reject' | null, rating: number | null, at: string | null) => ({
    id: DAEHAN,
    decision,
    rating,
    comment: null,
    reviewer,
    reviewed_at: at,
    source: `test ${reviewer}`,
  });

  it('reports accept-vs-reject disagreements and picks no side', () => {
    const r = resolveItem([d('가', 'accept', 4, 't1'), d('나', 'reject', 4, 't2')]);
    expect(r.resolved.status).toBe('conflict');
    expect(r.resolved.decision).toBeNull();
    expect(r.conflicts).toMatchObject([{ kind: 'decision' }]);
  });

  it('keeps an agreed decision but reports and drops disagreeing ratings', () => {
    const r = resolveItem([d('가', 'accept', 5, 't1'), d('나', 'accept', 2, 't2')]);
    expect(r.resolved).toMatchObject({ status: 'accepted', rating: null, reviewer: '가, 나' });
    expect(r.conflicts).toMatchObject([{ kind: 'rating' }]);
  });

  it("lets a reviewer's later decision replace their own earlier one (not a conflict)", () => {
    const r = resolveItem([d('가', 'reject', null, '2026-11-22T10:00:00Z'), d('가', 'accept', null, '2026-11-22T11:00:00Z')]);
    expect(r.resolved.status).toBe('accepted');
    expect(r.superseded).toBe(1);
    expect(r.conflicts).toEqual([]);
  });

  it('reports conflicts between two decisions files (two reviewers of the HTML page)', async () => {
    const { dir, input } = await setup();
    const file = async (name: string, reviewer: string, decision: string) => {
      const p = join(dir, name);
      await writeFile(p, JSON.stringify({ kind: 'ko-align-review-decisions', version: 1, reviewer, decisions: [{ id: DAEHAN, decision, rating: null, comment: null, reviewed_at: null }] }));
      return p;
    };
    const a = await file('a.json', '김', 'accept');
    const b = await file('b.json', '이', 'reject');
    const r = await importReview({ decisions: [a, b], input, output: join(dir, 'o.jsonl') });
    expect(r.counts.conflict).toBe(1);
    expect(r.conflicts[0]!.decisions.map((x) => [x.reviewer, x.decision])).toEqual([['김', 'accept'], ['이', 'reject']]);
    expect(r.agreement.n).toBe(0);
  });
});

describe('export sampling', () => {
  it('draws a stratified, seeded sample and writes only those items', async () => {
    const { dir, input } = await setup();
    const a = await exportReview({ input, output: join(dir, 'a.csv'), format: 'csv', sample: 4, stratifyBy: 'judge_score', seed: 5 });
    const b = await exportReview({ input, output: join(dir, 'b.csv'), format: 'csv', sample: 4, stratifyBy: 'judge_score', seed: 5 });
    expect(a.exported).toBe(4);
    expect(await readFile(join(dir, 'a.csv'), 'utf8')).toBe(await readFile(join(dir, 'b.csv'), 'utf8'));
    expect(Object.values(a.strata!).reduce((s, x) => s + x.drawn, 0)).toBe(4);
    await expect(exportReview({ input, output: join(dir, 'c.csv'), format: 'csv', sample: 3, stratifyBy: '없는_열' })).rejects.toThrow(
      `--stratify-by: column '없는_열' is not in ${input}`,
    );
  });
});
