import { describe, expect, it } from 'vitest';
import { codeSwitch, countScripts, dominantScript, hangulRatio, scriptOf, stripCodeAndUrls } from '../../src/text/script.ts';

describe('scriptOf', () => {
  it('classifies Hangul, Han, kana, Latin, Cyrillic, Thai and non-letters', () => {
    const s = (c: string) => scriptOf(c.codePointAt(0)!);
    expect([s('한'), s('ㄱ'), s('漢'), s('の'), s('カ'), s('a'), s('Ж'), s('ก'), s('1'), s('!'), s(' ')]).toEqual([
      'hangul', 'hangul', 'han', 'kana', 'kana', 'latin', 'cyrillic', 'thai', null, null, null,
    ]);
  });
});

describe('hangulRatio', () => {
  it('is the share of Hangul among letters, ignoring digits and punctuation', () => {
    expect(hangulRatio('한국어 123!')).toBe(1);
    expect(hangulRatio('한국 ab')).toBe(0.5);
    expect(hangulRatio('1234')).toBe(0);
  });

  it('ignores code blocks, inline code, URLs and e-mail addresses', () => {
    const answer = '리스트를 뒤집으려면 `nums.reverse()`를 쓰세요. 자세한 내용은 https://docs.python.org/ko/ 참고.\n```python\nnums = [1, 2, 3]\nprint(nums[::-1])\n```';
    expect(hangulRatio(answer)).toBe(1);
  });
});

describe('codeSwitch', () => {
  it('measures Chinese characters mixed into a Korean answer', () => {
    const cs = codeSwitch('이 문제는 非常 重要한 问题입니다.');
    expect(cs.byScript.han).toBe(6);
    expect(cs.rate).toBeCloseTo(6 / 14, 5);
    expect(cs.samples).toEqual(['非常', '重要', '问题']);
  });

  it('catches Japanese kana and Cyrillic as well', () => {
    expect(codeSwitch('휴식이 とても 중요합니다').byScript.kana).toBe(3);
    expect(codeSwitch('업데이트 Обновление 필요').byScript.cyrillic).toBe(10);
  });

  it('does not count English terms unless countLatin is set', () => {
    expect(codeSwitch('Python으로 API 서버를 만듭니다').rate).toBe(0);
    expect(codeSwitch("Python으로 API 서버를 만듭니다", { countLatin: true }).rate).toBe(0.5);
  });

  it('is 0 for clean Korean prose and ignores Hanja glosses in parentheses', () => {
    expect(codeSwitch('김치찌개는 돼지고기와 김치로 끓입니다.').rate).toBe(0);
    const text = '훈민정음(訓民正音)은 세종이 만든 문자이고, 실학 (實學)은 조선 후기의 학문입니다.';
    expect(codeSwitch(text).rate).toBe(0);
    expect(codeSwitch(text, { allowHanjaGloss: false }).byScript.han).toBe(6);
    // Hanja standing in the sentence itself is still code-switching.
    expect(codeSwitch('이 문제는 訓民正音 때문입니다').byScript.han).toBe(4);
  });
});

describe('countScripts / dominantScript / stripCodeAndUrls', () => {
  it('counts letters per script and finds the dominant one', () => {
    const c = countScripts('한국어 text 日本');
    expect(c.counts).toEqual({ hangul: 3, latin: 4, han: 2 });
    expect(c.letters).toBe(9);
    expect(dominantScript('hello 안녕')).toBe('latin');
    expect(dominantScript('123')).toBeNull();
  });

  it('drops PII placeholders so masked rows keep their Hangul ratio', () => {
    expect(stripCodeAndUrls('연락처 [PHONE], 메일 [EMAIL]').includes('PHONE')).toBe(false);
  });
});
