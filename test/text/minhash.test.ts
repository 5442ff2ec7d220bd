import { describe, expect, it } from 'vitest';
import { charNgrams, jaccard } from '../../src/text/ngrams.ts';
import { LshIndex, MinHasher, estimateJaccard } from '../../src/text/minhash.ts';

const a = '김치찌개는 잘 익은 김치와 돼지고기를 볶은 뒤 물을 붓고 20분 정도 끓입니다. 두부와 대파를 넣고 5분 더 끓이면 완성입니다.';
const aNear = `네 ${a} 도움이 되셨길 바랍니다`;
const other = '광합성은 식물이 빛에너지를 이용해 이산화탄소와 물로 포도당을 만들고 산소를 내보내는 과정입니다.';

describe('charNgrams', () => {
  it('yields distinct code-point n-grams and keeps short texts as one shingle', () => {
    expect(charNgrams('가나다라마바', 5)).toEqual(['가나다라마', '나다라마바']);
    expect(charNgrams('네', 5)).toEqual(['네']);
    expect(charNgrams('', 5)).toEqual([]);
  });
  it('jaccard of identical sets is 1, of disjoint sets 0', () => {
    expect(jaccard(['a', 'b'], ['b', 'a'])).toBe(1);
    expect(jaccard(['a'], ['b'])).toBe(0);
  });
});

describe('MinHasher', () => {
  it('is deterministic for a seed and differs across seeds', () => {
    const h1 = new MinHasher({ seed: 7 });
    const h2 = new MinHasher({ seed: 7 });
    const h3 = new MinHasher({ seed: 8 });
    expect(Array.from(h1.signature(a))).toEqual(Array.from(h2.signature(a)));
    expect(Array.from(h1.signature(a))).not.toEqual(Array.from(h3.signature(a)));
    expect(h1.signature(a).length).toBe(112);
  });

  it('estimates Jaccard similarity of character 5-grams', () => {
    const h = new MinHasher({ bands: 32, rows: 16 });
    const exact = jaccard(charNgrams(a, 5), charNgrams(aNear, 5));
    expect(Math.abs(estimateJaccard(h.signature(a), h.signature(aNear)) - exact)).toBeLessThan(0.1);
    expect(estimateJaccard(h.signature(a), h.signature(other))).toBeLessThan(0.1);
  });

  it('the LSH index finds a near-duplicate but not an unrelated text', () => {
    const h = new MinHasher();
    const idx = new LshIndex(h);
    idx.insert(h.bandKeys(h.signature(a)), 'row-a');
    expect(idx.query(h.bandKeys(h.signature(aNear)))).toBe('row-a');
    expect(idx.query(h.bandKeys(h.signature(other)))).toBeUndefined();
  });

  it('keeps very short texts comparable: identical short answers collide, different ones do not', () => {
    const h = new MinHasher();
    const idx = new LshIndex(h);
    idx.insert(h.bandKeys(h.signature('네')), 'short');
    expect(idx.query(h.bandKeys(h.signature('네')))).toBe('short');
    expect(idx.query(h.bandKeys(h.signature('아니요')))).toBeUndefined();
  });

  it('detects pairs near 0.9 Jaccard almost always and pairs near 0.4 almost never (14x8 S-curve)', () => {
    // Build pairs by replacing a fraction of a long text's characters.
    const base = Array.from({ length: 400 }, (_, i) => String.fromCharCode(0xac00 + ((i * 7919) % 11000))).join('');
    const mutate = (frac: number, seed: number) => {
      const cs = Array.from(base);
      for (let i = 0; i < cs.length; i++) if (((i * 2654435761 + seed * 97) >>> 0) % 1000 < frac * 1000) cs[i] = String.fromCharCode(0x4e00 + ((i + seed) % 500));
      return cs.join('');
    };
    let hiHits = 0;
    let loHits = 0;
    for (let s = 0; s < 20; s++) {
      const h = new MinHasher({ seed: s });
      const keys = h.bandKeys(h.signature(base));
      const idx = new LshIndex(h);
      idx.insert(keys, 'b');
      const hi = mutate(0.01, s);
      const lo = mutate(0.1, s);
      expect(jaccard(charNgrams(base, 5), charNgrams(hi, 5))).toBeGreaterThan(0.85);
      expect(jaccard(charNgrams(base, 5), charNgrams(lo, 5))).toBeLessThan(0.5);
      if (idx.query(h.bandKeys(h.signature(hi)))) hiHits++;
      if (idx.query(h.bandKeys(h.signature(lo)))) loHits++;
    }
    expect(hiHits).toBeGreaterThanOrEqual(18);
    expect(loHits).toBeLessThanOrEqual(2);
  });
});
