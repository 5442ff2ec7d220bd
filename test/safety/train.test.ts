import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadClassifier, defaultModelDir } from '../../src/safety/classifier.ts';
import { decodeFloat16, encodeFloat16, fromHalfBits, toHalfBits } from '../../src/util/float16.ts';
import { auroc, bestF1Threshold, binaryMetrics, thresholdAtFpr } from '../../src/safety/metrics.ts';
import { readHateSpeechTsv, trainToxicityModel } from '../../src/safety/train.ts';
import { trainOnSources } from '../../src/safety/train-sources.ts';
import { sha256 } from '../../src/util/fs.ts';
import { repoRoot } from '../helpers/cli.ts';

const dataDir = join(repoRoot, '..', 'shared', 'data', 'korean-hate-speech');

/** A small labeled corpus in the korean-hate-speech layout, built from word lists. */
function syntheticTsv(n: number): string {
  const toxicWords = ['멍청한', '쓰레기', '한심한', '꺼져라', '역겹다', '병신'];
  const cleanWords = ['감사합니다', '응원해요', '좋은', '멋진', '재밌어요', '기대됩니다'];
  const subjects = ['이 배우', '그 가수', '감독', '작가', '이 선수', '그 사람'];
  const lines = ['comments\tcontain_gender_bias\tbias\thate'];
  for (let i = 0; i < n; i++) {
    const toxic = i % 3 !== 0;
    const w = (toxic ? toxicWords : cleanWords)[(i * 7) % 6]!;
    const w2 = (i % 5 === 0 ? cleanWords : toxicWords)[(i * 11) % 6]!;
    const text = `${subjects[i % 6]} 정말 ${w} ${i % 4 === 0 ? w2 : ''} ${i}`;
    lines.push(`${text}\t${i % 9 === 0 ? 'True' : 'False'}\t${i % 9 === 0 ? 'gender' : 'none'}\t${toxic ? (i % 2 ? 'hate' : 'offensive') : 'none'}`);
  }
  return `${lines.join('\n')}\n`;
}

async function tinyData(n = 300): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tox-data-'));
  await writeFile(join(dir, 'train.tsv'), syntheticTsv(n));
  await writeFile(join(dir, 'dev.tsv'), syntheticTsv(60));
  return dir;
}

describe('training the toxicity classifier', () => {
  it('gives byte-identical weights and header when run twice, and different weights with another seed', async () => {
    const data = await tinyData();
    const out1 = await mkdtemp(join(tmpdir(), 'tox-a-'));
    const out2 = await mkdtemp(join(tmpdir(), 'tox-b-'));
    const out3 = await mkdtemp(join(tmpdir(), 'tox-c-'));
    const opts = { options: { features: { bucketBits: 14, minN: 1, maxN: 3, words: true, maxRepeat: 3 } }, folds: 2 };
    await trainToxicityModel({ dataDir: data, outDir: out1, ...opts });
    await trainToxicityModel({ dataDir: data, outDir: out2, ...opts });
    await trainToxicityModel({ dataDir: data, outDir: out3, ...opts, options: { ...opts.options, seed: 7 } });
    const w1 = await readFile(join(out1, 'weights.f16'));
    expect(w1.length).toBe(2 * 2 ** 14);
    expect(sha256(await readFile(join(out2, 'weights.f16')))).toBe(sha256(w1));
    expect(await readFile(join(out2, 'model.json'), 'utf8')).toBe(await readFile(join(out1, 'model.json'), 'utf8'));
    expect(sha256(await readFile(join(out3, 'weights.f16')))).not.toBe(sha256(w1));
    // The written model loads and separates the synthetic classes.
    const c = await loadClassifier(out1);
    expect(c.score('이 배우 정말 쓰레기')).toBeGreaterThan(c.score('이 배우 정말 감사합니다'));
    const readme = await readFile(join(out1, 'README.md'), 'utf8');
    expect(readme).toContain('| **dev.tsv, default threshold** |');
    expect(readme).toContain('CC BY-SA 4.0');
  });

  // Trains on all ~56k rows twice (about 45 s), so it runs only when asked: KO_ALIGN_FULL_TRAIN=1.
  it.skipIf(!process.env.KO_ALIGN_FULL_TRAIN || !existsSync(join(dataDir, 'train.tsv')))('regenerates the committed weights exactly from all sources', async () => {
    const out = await mkdtemp(join(tmpdir(), 'tox-full-'));
    const commandLine = 'ko-align toxicity train --data ../shared/data/korean-hate-speech ../shared/data/toxicity-ko';
    const r = await trainOnSources({ data: [dataDir, join(dataDir, '..', 'toxicity-ko')], outDir: out, commandLine });
    const committed = JSON.parse(await readFile(join(defaultModelDir(), 'model.json'), 'utf8'));
    expect(r.header.weights.sha256).toBe(committed.weights.sha256);
    expect(r.header.weights.sha256).toBe('6955a62c55eb8d67a75957a6a05226903fe11d105c48921859275cdaa4ad8aa8');
    for (const f of ['weights.f16', 'model.json', 'README.md', 'LICENSE.md']) {
      expect(sha256(await readFile(join(out, f))), f).toBe(sha256(await readFile(join(defaultModelDir(), f))));
    }
    // The single logistic regression (ensemble: false) is the previous committed model, bit for bit.
    const single = await trainOnSources({ data: [dataDir, join(dataDir, '..', 'toxicity-ko')], outDir: await mkdtemp(join(tmpdir(), 'tox-single-')), writeDocs: false, ensemble: false });
    expect(single.header.weights.sha256).toBe('fe0aca47faa347aef23087af5479606041f8bcc5db59a83ea9cb25456bb8efc7');
  });

  it('rejects a malformed corpus file with file:line messages', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tox-bad-'));
    const p = join(dir, 'train.tsv');
    await writeFile(p, 'comments\tcontain_gender_bias\tbias\thate\n좋아요\tFalse\tnone\tnone\n나빠요\tFalse\tnone\tmaybe\n');
    await expect(readHateSpeechTsv(p)).rejects.toThrow(`${p}:3: column "hate" must be hate, offensive or none, got "maybe"`);
    await writeFile(p, 'comments\tcontain_gender_bias\tbias\thate\n좋아요\tFalse\n');
    await expect(readHateSpeechTsv(p)).rejects.toThrow(`${p}:2: expected 4 tab-separated columns, found 2`);
    await writeFile(p, 'text\tlabel\n좋아요\t0\n');
    await expect(readHateSpeechTsv(p)).rejects.toThrow(`${p}:1: missing column "comments"`);
    await expect(trainToxicityModel({ dataDir: join(dir, 'nope'), outDir: dir })).rejects.toThrow(
      `${join(dir, 'nope', 'train.tsv')}: file not found (--data must be a folder with the korean-hate-speech train.tsv)`,
    );
  });
});

describe('metrics', () => {
  it('computes AUROC with ties as one half', () => {
    expect(auroc([0.1, 0.4, 0.35, 0.8], [false, false, true, true])).toBeCloseTo(0.75, 12);
    expect(auroc([0.5, 0.5], [true, false])).toBe(0.5);
    expect(auroc([1, 2, 3], [false, true, true])).toBe(1);
    expect(Number.isNaN(auroc([1, 2], [true, true]))).toBe(true);
  });

  it('computes precision, recall and F1 at a threshold', () => {
    const m = binaryMetrics([0.9, 0.8, 0.3, 0.7, 0.1], [true, true, true, false, false], 0.5);
    expect(m.precision).toBeCloseTo(2 / 3, 12);
    expect(m.recall).toBeCloseTo(2 / 3, 12);
    expect(m.f1).toBeCloseTo(2 / 3, 12);
    expect(m.accuracy).toBeCloseTo(3 / 5, 12);
  });

  it('picks the max-F1 threshold and the threshold for a target false-positive rate', () => {
    const s = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05];
    const y = [true, true, false, true, false, false, false, false, false, false];
    expect(bestF1Threshold(s, y).threshold).toBe(0.6);
    // 7 clean examples; 10% allows none flagged -> threshold just above the top clean score 0.7.
    const t = thresholdAtFpr(s, y, 0.1);
    expect(t).toBeGreaterThan(0.7);
    expect(binaryMetrics(s, y, t).recall).toBeCloseTo(2 / 3, 12);
    // 30% allows 2 of 7: threshold just above the third-highest clean score (0.4).
    const t3 = thresholdAtFpr(s, y, 0.3);
    expect(t3).toBeGreaterThan(0.4);
    expect(t3).toBeLessThan(0.5);
  });
});

describe('float16 weights', () => {
  it('round-trips representable values and rounds to nearest even', () => {
    for (const v of [0, 1, -2, 0.5, 65504, -(2 ** -14), 2 ** -24, 3 * 2 ** -24]) expect(fromHalfBits(toHalfBits(v))).toBe(v);
    expect(toHalfBits(1 + 2 ** -11)).toBe(0x3c00); // tie -> even
    expect(toHalfBits(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(toHalfBits(1e6)).toBe(0x7c00);
    const x = Float32Array.from([0.1, -3.14159, 1e-3, 2.5e-6]);
    const y = decodeFloat16(encodeFloat16(x));
    for (let i = 0; i < x.length; i++) expect(Math.abs(y[i]! - x[i]!)).toBeLessThanOrEqual(Math.abs(x[i]!) * 2 ** -11 + 2 ** -25);
  });
});
