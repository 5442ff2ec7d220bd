import { describe, expect, it } from 'vitest';
import { labelRows } from '../../src/judge/label.ts';
import { UserError } from '../../src/util/errors.ts';

describe('labelRows', () => {
  const o = { desirableMin: 8, undesirableMax: 4 };

  it('labels by judge score and leaves the middle and failed rows out', () => {
    const { rows, summary } = labelRows(
      [
        { prompt: '김치찌개 끓이는 법', answer: '돼지고기와 김치를 볶은 뒤 물을 붓고 끓입니다.', judge_score: 9, judge_status: 'ok' },
        { prompt: '수도는?', answer: 'ㅋ', judge_score: 2, judge_status: 'ok' },
        { prompt: '날씨', answer: '맑아요', judge_score: 6, judge_status: 'ok' },
        { prompt: '요약', answer: '...', judge_score: null, judge_status: 'failed' },
      ],
      o,
    );
    expect(rows.map((r) => r.label)).toEqual([true, false]);
    expect(summary).toMatchObject({ desirable: 1, undesirable: 1, middle: 1, unscored: 1, human: 0 });
  });

  it('keeps a human review decision over the judge score', () => {
    const { rows, summary } = labelRows(
      [
        { prompt: '인사말', answer: '안녕하세요!', judge_score: 9, judge_status: 'ok', label: false, label_source: 'review' },
        { prompt: '설명', answer: '자세한 설명입니다.', judge_score: 5, judge_status: 'ok', label: true, label_source: 'review' },
      ],
      o,
    );
    expect(rows.map((r) => [r.label, r.label_source])).toEqual([
      [false, 'review'],
      [true, 'review'],
    ]);
    expect(summary).toMatchObject({ desirable: 1, undesirable: 1, human: 2, middle: 0 });
  });

  it('reads a judge_score written as a numeric string (CSV, spreadsheets) instead of dropping the row', () => {
    const { rows, summary } = labelRows(
      [
        { prompt: '김치찌개 끓이는 법', answer: '김치와 돼지고기를 볶아 끓입니다.', judge_score: '8', judge_status: 'ok' },
        { prompt: '수도는?', answer: 'ㅋ', judge_score: ' 2.5 ', judge_status: 'ok' },
        { prompt: '요약', answer: '...', judge_score: '', judge_status: 'ok' },
      ],
      o,
    );
    expect(rows.map((r) => [r.label, r.judge_score])).toEqual([[true, 8], [false, 2.5]]);
    expect(summary).toMatchObject({ desirable: 1, undesirable: 1, unscored: 1 });
  });

  it('refuses a judge_score that is not a number, naming the row and the value', () => {
    const bad = [
      { prompt: '인사', answer: '안녕하세요', judge_score: 9, judge_status: 'ok' },
      { prompt: '설명', answer: '설명입니다', judge_score: '여덟', judge_status: 'ok' },
    ];
    expect(() => labelRows(bad, { ...o, source: 'judged.csv' })).toThrow(UserError);
    expect(() => labelRows(bad, { ...o, source: 'judged.csv' })).toThrow(/^judged\.csv: row 2: judge_score must be a number, got "여덟"$/);
  });
});
