import { describe, expect, it } from 'vitest';
import { DEFAULT_FEATURES, JAMO_FEATURES, extractFeatures, toChoseong, toJamo } from '../../src/safety/features.ts';

function shared(a: string, b: string, cfg = JAMO_FEATURES): number {
  const x = new Set(extractFeatures(a, cfg).idx);
  return [...extractFeatures(b, cfg).idx].filter((i) => x.has(i)).length;
}

describe('Hangul jamo decomposition', () => {
  it('splits syllables into 초성/중성/종성 compatibility jamo and passes other characters', () => {
    expect(toJamo('시발')).toBe('ㅅㅣㅂㅏㄹ');
    expect(toJamo('닭')).toBe('ㄷㅏㄺ');
    expect(toJamo('값 ok ㅋㅋ')).toBe('ㄱㅏㅄ ok ㅋㅋ');
    expect(toJamo('')).toBe('');
  });

  it('reduces text to its 초성 skeleton, dropping spaces and cutting at other characters', () => {
    expect(toChoseong('시발')).toBe('ㅅㅂ');
    expect(toChoseong('시 발 놈')).toBe('ㅅㅂㄴ');
    expect(toChoseong('ㅅㅂ')).toBe('ㅅㅂ');
    expect(toChoseong('병신 123 새끼')).toBe('ㅂㅅ|ㅅㄲ');
  });
});

describe('jamo features', () => {
  it('let ㅅㅂ share features with 시발 and 시 발, which plain char n-grams do not', () => {
    // Plain n-grams share only the space around the text.
    expect(shared('ㅅㅂ', '시발', DEFAULT_FEATURES)).toBe(shared('ㅋㅋ', '시발', DEFAULT_FEATURES));
    expect(shared('ㅅㅂ', '시발')).toBeGreaterThan(shared('ㅋㅋ', '시발'));
    // Spaced swearing keeps every jamo n-gram of the unspaced word.
    const spaced = new Set(extractFeatures('시 발', JAMO_FEATURES).idx);
    const word = extractFeatures('시발', { ...JAMO_FEATURES, minN: 1, maxN: 0, words: false });
    for (const i of word.idx) expect(spaced.has(i)).toBe(true);
  });

  it('leave the features of a config without jamo unchanged (older model headers)', () => {
    const a = extractFeatures('이 배우 정말 멋지다', DEFAULT_FEATURES);
    const b = extractFeatures('이 배우 정말 멋지다', { ...DEFAULT_FEATURES, jamo: undefined, choseong: undefined });
    expect([...b.idx]).toEqual([...a.idx]);
    expect([...b.val]).toEqual([...a.val]);
    const j = extractFeatures('이 배우 정말 멋지다', { ...JAMO_FEATURES, bucketBits: DEFAULT_FEATURES.bucketBits });
    expect(j.idx.length).toBeGreaterThan(a.idx.length);
    let sq = 0;
    for (const v of j.val) sq += v * v;
    expect(sq).toBeCloseTo(1, 6);
  });
});
