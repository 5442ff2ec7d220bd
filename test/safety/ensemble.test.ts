import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyStacker, fitStacker, foldMembers, memberLogit, nbLogCountRatio, scaleFeatures } from '../../src/safety/ensemble.ts';
import { auroc } from '../../src/safety/metrics.ts';
import { licenseFile, trainOnSources } from '../../src/safety/train-sources.ts';
import { loadClassifier } from '../../src/safety/classifier.ts';
import { extractFeatures } from '../../src/safety/features.ts';
import { mulberry32 } from '../../src/util/random.ts';
import { sha256 } from '../../src/util/fs.ts';

const sv = (idx: number[], val: number[]) => ({ idx: Uint32Array.from(idx), val: Float32Array.from(val) });

/** Standard normal from a seeded uniform (Box-Muller). */
function gauss(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

describe('NB log-count ratio', () => {
  it('is large for a bucket seen only in toxic rows and about 0 for one seen equally in both', () => {
    const xs = [sv([0, 1], [1, 1]), sv([0, 1], [1, 1]), sv([1, 2], [1, 1]), sv([1, 2], [1, 1])];
    const ys = [true, true, false, false];
    const r = nbLogCountRatio(xs, ys, 4, 0.1);
    // bucket 0: toxic only; bucket 1: both; bucket 2: clean only; bucket 3: never seen.
    expect(r[0]).toBeGreaterThan(2.5);
    expect(r[2]).toBeCloseTo(r[0]!, 6);
    expect(r[1]).toBeLessThan(1e-6);
    expect(r[3]).toBeLessThan(1e-6);
    expect(Array.from(scaleFeatures(xs[0]!, r).val)).toEqual([Math.fround(r[0]!), Math.fround(r[1]!)]);
    expect(() => nbLogCountRatio(xs, ys, 4, 0)).toThrow('alpha must be > 0');
  });
});

describe('the stacker', () => {
  // Two members see the label through independent noise; a third is pure noise.
  function synthetic(n: number, seed: number): { f: number[][]; y: boolean[] } {
    const rand = mulberry32(seed);
    const f: number[][] = [];
    const y: boolean[] = [];
    for (let i = 0; i < n; i++) {
      const t = rand() < 0.4;
      const s = t ? 1 : -1;
      f.push([s + 1.5 * gauss(rand), 2 * (s + 1.5 * gauss(rand)), gauss(rand)]);
      y.push(t);
    }
    return { f, y };
  }

  it('fits weights that beat each member on held-out rows, ignoring the noise member', () => {
    const fit = synthetic(4000, 1);
    const held = synthetic(4000, 2);
    const s = fitStacker(fit.f, fit.y);
    expect(s.weights[0]).toBeGreaterThan(0);
    expect(s.weights[1]).toBeGreaterThan(0);
    // Member 2 has twice the scale of member 0 and the same noise: half the coefficient.
    expect(s.weights[1]! / s.weights[0]!).toBeGreaterThan(0.35);
    expect(s.weights[1]! / s.weights[0]!).toBeLessThan(0.65);
    expect(Math.abs(s.weights[2]!)).toBeLessThan(0.1 * s.weights[0]!);
    const stacked = auroc(held.f.map((f) => applyStacker(s, f)), held.y);
    const single = [0, 1].map((k) => auroc(held.f.map((f) => f[k]!), held.y));
    expect(stacked).toBeGreaterThan(Math.max(...single) + 0.03);
    // Deterministic.
    expect(fitStacker(fit.f, fit.y)).toEqual(s);
  });

  it('folds linear members into one weight vector with the same logits', () => {
    const rand = mulberry32(5);
    const dim = 64;
    const members = [
      { weights: Float32Array.from({ length: dim }, () => gauss(rand)), bias: 0.3 },
      { weights: Float32Array.from({ length: dim }, () => gauss(rand)), bias: -0.7, scale: Float32Array.from({ length: dim }, () => rand() * 3) },
    ];
    const mix = [0.4, 0.6];
    const folded = foldMembers(members, mix);
    for (const text of ['이 배우 정말 쓰레기', '좋은 노래 감사합니다', 'ㅅㅂ']) {
      const x = extractFeatures(text, { bucketBits: 6, minN: 1, maxN: 3, words: true, maxRepeat: 3 });
      const want = mix[0]! * memberLogit(members[0]!, x) + mix[1]! * memberLogit(members[1]!, x);
      expect(memberLogit(folded, x)).toBeCloseTo(want, 5);
    }
    expect(() => foldMembers(members, [1])).toThrow('2 members but 1 mixing weights');
  });
});

describe('training the stacked model', () => {
  const TOXIC = ['멍청한', '쓰레기', '한심한', '꺼져라', '역겹다', '병신'];
  const CLEAN = ['감사합니다', '응원해요', '좋은', '멋진', '재밌어요', '기대됩니다'];
  async function data(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'tox-ens-'));
    await mkdir(join(dir, 'src'));
    const rows = Array.from({ length: 900 }, (_, i) => {
      const toxic = i % 2 === 0;
      return `그 사람 정말 ${(toxic ? TOXIC : CLEAN)[(i >> 1) % 6]} ${i % 5 === 0 ? CLEAN[i % 6] : ''} ${i}\t${toxic ? 1 : 0}`;
    });
    await writeFile(join(dir, 'src', 'synth.tsv'), ['text\tlabel', ...rows].join('\n') + '\n');
    return join(dir, 'src');
  }

  it('records the stacker, reproduces byte for byte, and differs from the single model', async () => {
    const d = await data();
    const outs = await Promise.all(['a', 'b', 'c'].map((t) => mkdtemp(join(tmpdir(), `tox-ens-${t}-`))));
    const opts = { data: [d], samplePath: null, options: { features: { bucketBits: 12 } as never } };
    const r = await trainOnSources({ ...opts, outDir: outs[0]! });
    await trainOnSources({ ...opts, outDir: outs[1]! });
    const single = await trainOnSources({ ...opts, outDir: outs[2]!, ensemble: false });
    const w = await readFile(join(outs[0]!, 'weights.f16'));
    expect(sha256(await readFile(join(outs[1]!, 'weights.f16')))).toBe(sha256(w));
    expect(await readFile(join(outs[1]!, 'model.json'), 'utf8')).toBe(await readFile(join(outs[0]!, 'model.json'), 'utf8'));
    expect(single.header.weights.sha256).not.toBe(r.header.weights.sha256);
    expect(r.header.name).toBe('toxicity-ko-jamo-nbstack');
    expect(single.header.name).toBe('toxicity-ko-jamo-lr');
    const e = (r.header.training as { ensemble: { mix: number[]; stacker: { weights: number[] } } }).ensemble;
    expect(e.mix).toHaveLength(2);
    expect(Math.abs(e.mix[0]!) + Math.abs(e.mix[1]!)).toBeCloseTo(1, 12);
    expect(e.stacker.weights).toHaveLength(2);
    expect((single.header.training as { ensemble?: unknown }).ensemble).toBeUndefined();
    expect(r.evaluation.pooled.auroc).toBeGreaterThan(0.95);
    const c = await loadClassifier(outs[0]!);
    expect(c.id).toMatch(/^toxicity-ko-jamo-nbstack@[0-9a-f]{12}$/);
    expect(c.score('그 사람 정말 쓰레기')).toBeGreaterThan(c.score('그 사람 정말 감사합니다'));
    expect(await readFile(join(outs[0]!, 'README.md'), 'utf8')).toContain('a stacked ensemble folded into one linear model');
  });
});

describe('LICENSE.md of the model folder', () => {
  it('carries every known source notice with its copyright line, and the CC BY-SA text', () => {
    const text = licenseFile(['beep', 'curse-detection', 'kodoli', 'kosbi-valid', 'mystery'], 'Attribution-ShareAlike 4.0 International\n\nFULL TEXT\n');
    expect(text).toContain('Copyright (c) 2020 2runo');
    expect(text).toContain('Copyright 2023-present NAVER Cloud Corp.');
    expect(text).toContain('https://github.com/cardy20/KODOLI');
    expect(text).toContain('https://github.com/kocohub/korean-hate-speech');
    expect(text.match(/Permission is hereby granted/g)).toHaveLength(2);
    expect(text).toContain('## mystery\n\nNo licence notice is known');
    expect(text.endsWith('FULL TEXT\n')).toBe(true);
    expect(licenseFile(['beep'], undefined)).toContain('https://creativecommons.org/licenses/by-sa/4.0/legalcode');
  });
});
