import { describe, expect, it } from 'vitest';
import {
  duplicateLineFraction, duplicateNgramCharFraction, longestCharRun, tandemRepeatFraction, topNgramCharFraction,
} from '../../src/text/repetition.ts';

const clean = '김치찌개는 잘 익은 김치와 돼지고기를 볶은 뒤 물을 붓고 20분 정도 끓입니다. 두부와 대파를 넣고 5분 더 끓이면 완성입니다.';
const loop = '운동은 건강에 좋습니다. 운동은 건강에 좋습니다. 운동은 건강에 좋습니다. 운동은 건강에 좋습니다.';

describe('repetition measures', () => {
  it('duplicateLineFraction counts lines that repeat an earlier line, not table separators', () => {
    expect(duplicateLineFraction('봄\n여름\n봄\n봄')).toBe(0.5);
    expect(duplicateLineFraction('| 가 | 나 |\n|---|---|\n| 1 | 2 |\n|---|---|')).toBe(0);
  });

  it('duplicateNgramCharFraction is high for a looping answer and 0 for a clean one', () => {
    expect(duplicateNgramCharFraction(clean, 3)).toBe(0);
    expect(duplicateNgramCharFraction(loop, 3)).toBe(1);
  });

  it('topNgramCharFraction finds one phrase dominating the answer', () => {
    expect(topNgramCharFraction(clean, 2)).toBe(0);
    expect(topNgramCharFraction('나비, 나비, 나비, 나비, 나비, 나비, 나비, 나비', 2)).toBeGreaterThan(0.8);
  });

  it('longestCharRun measures ㅋㅋㅋ-style runs, skipping spaces', () => {
    expect(longestCharRun('좋아요 ㅋㅋㅋㅋㅋ')).toBe(5);
    expect(longestCharRun('아 아 아 아')).toBe(4);
  });

  it('tandemRepeatFraction finds a phrase repeated back to back without spaces', () => {
    expect(tandemRepeatFraction('감사합니다감사합니다감사합니다감사합니다')).toBe(1);
    expect(tandemRepeatFraction(clean)).toBe(0);
  });
});
