import { describe, expect, it } from 'vitest';
import { allocate, itemId, rowToItem, stratifiedSample, stratumOf, type ReviewItem } from '../../src/review/items.ts';
import { manyRows, scoredRows } from './helpers.ts';

describe('review item ids', () => {
  it('are a content hash of prompt and answer, independent of other columns and of row position', () => {
    const a = rowToItem({ prompt: '안녕하세요', answer: '반갑습니다', judge_score: 9 }, 1, 7);
    const b = rowToItem({ answer: '반갑습니다', judge_score: 2, prompt: '안녕하세요', extra: '무시' }, 42, 7);
    expect(a.id).toBe(b.id);
    expect(a.id).toMatch(/^[0-9a-f]{16}$/);
    expect(a.id).toBe(itemId('안녕하세요', '반갑습니다'));
  });

  it('differ when the text moves between prompt and answer', () => {
    expect(itemId('가나', '다라')).not.toBe(itemId('가나다', '라'));
    expect(itemId('가나', '다라')).not.toBe(itemId('다라', '가나'));
  });

  it('read prompt and answer from plain columns, chat messages and alpaca rows alike', () => {
    const chat = rowToItem(scoredRows()[6]!, 7, 7);
    expect(chat.prompt).toBe('=SUM(A1:A9) 이 수식은 무엇인가요?');
    expect(chat.answer).toBe('+A1부터 A9까지 더하는 엑셀 수식입니다.');
    const alpaca = rowToItem({ instruction: '번역하세요', input: '', output: '번역문' }, 1, 7);
    expect(alpaca.answer).toBe('번역문');
    const plain = rowToItem({ prompt: '질문', answer: '답', judge_score: '8', judge_status: 'ok' }, 1, 7);
    expect(plain).toMatchObject({ prompt: '질문', answer: '답', judge_score: 8, judge_accept: true });
  });

  it('give the judge a verdict only with a usable score', () => {
    expect(rowToItem({ prompt: '가', answer: '나', judge_score: 6.9, judge_status: 'ok' }, 1, 7).judge_accept).toBe(false);
    expect(rowToItem({ prompt: '가', answer: '나', judge_score: 7, judge_status: 'ok' }, 1, 7).judge_accept).toBe(true);
    expect(rowToItem({ prompt: '가', answer: '나', judge_score: 9, judge_status: 'failed' }, 1, 7).judge_accept).toBe(null);
    expect(rowToItem({ prompt: '가', answer: '나', judge_score: null }, 1, 7).judge_accept).toBe(null);
  });
});

describe('stratified sampling', () => {
  const items = (): ReviewItem[] =>
    manyRows(500).map((r, i) => {
      const it = rowToItem(r, i + 1, 7);
      it.stratum = stratumOf(r.judge_score);
      return it;
    });

  it('is deterministic for a seed and changes with the seed', () => {
    const a = stratifiedSample(items(), { n: 40, stratifyBy: 'judge_score', seed: 11 }, (x) => x.stratum);
    const b = stratifiedSample(items(), { n: 40, stratifyBy: 'judge_score', seed: 11 }, (x) => x.stratum);
    const c = stratifiedSample(items(), { n: 40, stratifyBy: 'judge_score', seed: 12 }, (x) => x.stratum);
    expect(a.sample.map((x) => x.id)).toEqual(b.sample.map((x) => x.id));
    expect(new Set(c.sample.map((x) => x.id))).not.toEqual(new Set(a.sample.map((x) => x.id)));
  });

  it('draws the same items when the input rows are reordered', () => {
    const shuffled = items().reverse();
    shuffled.push(...shuffled.splice(0, 123));
    const a = stratifiedSample(items(), { n: 40, stratifyBy: 'judge_score', seed: 'k' }, (x) => x.stratum);
    const b = stratifiedSample(shuffled, { n: 40, stratifyBy: 'judge_score', seed: 'k' }, (x) => x.stratum);
    expect(b.sample.map((x) => x.id)).toEqual(a.sample.map((x) => x.id));
  });

  it('covers every score bucket in proportion, the rare low scores included', () => {
    const { sample, strata } = stratifiedSample(items(), { n: 50, stratifyBy: 'judge_score', seed: 1 }, (x) => x.stratum);
    expect(sample).toHaveLength(50);
    expect(new Set(sample.map((x) => x.id)).size).toBe(50);
    // 500 rows: 300 at 9, 100 at 7, 50 at 5, 50 at 2 -> one each first, then 46 shared by size.
    expect(strata).toEqual({
      '2': { available: 50, drawn: 5 },
      '5': { available: 50, drawn: 5 },
      '7': { available: 100, drawn: 10 },
      '9': { available: 300, drawn: 30 },
    });
    const counts: Record<string, number> = {};
    for (const x of sample) counts[x.stratum!] = (counts[x.stratum!] ?? 0) + 1;
    expect(counts).toEqual({ '2': 5, '5': 5, '7': 10, '9': 30 });
  });

  it('does not hand reviewers the sample sorted by score', () => {
    const { sample } = stratifiedSample(items(), { n: 40, stratifyBy: 'judge_score', seed: 3 }, (x) => x.stratum);
    const scores = sample.map((x) => x.judge_score!);
    const sorted = [...scores].sort((a, b) => a - b);
    expect(scores).not.toEqual(sorted);
    expect(scores).not.toEqual([...sorted].reverse());
  });

  it('allocates proportionally with a floor of one, or equally, never beyond a bucket', () => {
    expect(allocate([300, 100, 50, 50], 50, 'proportional')).toEqual([30, 10, 5, 5]);
    expect(allocate([1000, 1, 1], 10, 'proportional')).toEqual([8, 1, 1]);
    expect(allocate([300, 100, 50, 2], 40, 'equal')).toEqual([13, 13, 12, 2]);
    expect(allocate([3, 2], 10, 'equal')).toEqual([3, 2]);
    expect(allocate([5, 5, 5], 2, 'proportional').reduce((a, b) => a + b, 0)).toBe(2);
  });

  it('puts missing scores in their own bucket', () => {
    expect(stratumOf(null)).toBe('(none)');
    expect(stratumOf(7.5)).toBe('7');
    expect(stratumOf('8')).toBe('8');
    expect(stratumOf('좋음')).toBe('좋음');
  });
});
