import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadClassifier, loadDefaultClassifier } from '../../src/safety/classifier.ts';
import { evaluate, loadSources, readLabeledTsv, readSampleAnswers, defaultSamplePath, splitBucket, splitOf, trainOnSources } from '../../src/safety/train-sources.ts';
import { sha256 } from '../../src/util/fs.ts';
import { repoRoot } from '../helpers/cli.ts';

const shared = join(repoRoot, '..', 'shared', 'data');
const realData = [join(shared, 'korean-hate-speech'), join(shared, 'toxicity-ko')];
const haveReal = realData.every((d) => existsSync(d));

const TOXIC = ['멍청한', '쓰레기', '한심한', '꺼져라', '역겹다', '병신'];
const CLEAN = ['감사합니다', '응원해요', '좋은', '멋진', '재밌어요', '기대됩니다'];
const SUBJ = ['이 배우', '그 가수', '감독', '작가', '이 선수', '그 사람'];
const text = (i: number, toxic: boolean, tag: string): string => `${SUBJ[i % 6]} 정말 ${(toxic ? TOXIC : CLEAN)[(i * 7) % 6]} ${tag}${i}`;

/** A BEEP!-layout folder and a folder with two text/label sources. */
async function syntheticData(): Promise<string[]> {
  const root = await mkdtemp(join(tmpdir(), 'tox-src-'));
  const beep = join(root, 'beep');
  const other = join(root, 'other');
  await mkdir(beep);
  await mkdir(other);
  const beepTsv = (n: number, tag: string): string =>
    ['comments\tcontain_gender_bias\tbias\thate', ...Array.from({ length: n }, (_, i) => `${text(i, i % 3 !== 0, tag)}\tFalse\tnone\t${i % 3 !== 0 ? 'hate' : 'none'}`)].join('\n') + '\n';
  await writeFile(join(beep, 'train.tsv'), beepTsv(400, 'b'));
  await writeFile(join(beep, 'dev.tsv'), beepTsv(60, 'd'));
  for (const name of ['alpha', 'beta']) {
    await writeFile(join(other, `${name}.tsv`), ['text\tlabel', ...Array.from({ length: 500 }, (_, i) => `${text(i, i % 2 === 0, name)}\t${i % 2 === 0 ? 1 : 0}`)].join('\n') + '\n');
  }
  return [beep, other];
}

describe('per-source split', () => {
  it('is a function of the normalized text: stable, about 80/10/10, BEEP! dev kept as test', () => {
    expect(splitBucket('이 배우 정말 멋진')).toBe(splitBucket('  이 배우   정말 멋진 '.normalize('NFD')));
    const counts = { train: 0, calib: 0, test: 0 };
    for (let i = 0; i < 5000; i++) counts[splitOf(`문장 번호 ${i}`, false)]++;
    expect(counts.train / 5000).toBeGreaterThan(0.77);
    expect(counts.train / 5000).toBeLessThan(0.83);
    expect(counts.test / 5000).toBeGreaterThan(0.08);
    expect(counts.test / 5000).toBeLessThan(0.12);
    for (let i = 0; i < 500; i++) expect(splitOf(`문장 번호 ${i}`, true)).not.toBe('test');
  });

  it('loads every source, keeps BEEP! dev as its test split and drops training copies of test texts', async () => {
    const [beep, other] = await syntheticData();
    await writeFile(join(other!, 'alpha.tsv'), `${await readFile(join(other!, 'alpha.tsv'), 'utf8')}${text(1, true, 'd')}\t1\n`);
    const { rows, sources } = await loadSources([beep!, other!]);
    expect(sources.map((s) => s.name)).toEqual(['beep', 'alpha', 'beta']);
    expect(rows.filter((r) => r.source === 'beep' && r.split === 'test')).toHaveLength(60);
    // The alpha copy of a BEEP! dev text is not trained on.
    expect(rows.filter((r) => r.text === text(1, true, 'd'))).toEqual([{ text: text(1, true, 'd'), toxic: true, source: 'beep', split: 'test' }]);
    await expect(loadSources([beep!, beep!])).rejects.toThrow('source "beep" given twice in --data');
  });

  it('rejects malformed text/label files with file:line messages', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tox-bad-'));
    const p = join(dir, 'x.tsv');
    await writeFile(p, 'text\tlabel\n좋아요\t0\n나빠요\t2\n');
    await expect(readLabeledTsv(p)).rejects.toThrow(`${p}:3: column "label" must be 0 or 1, got "2"`);
    await writeFile(p, 'comment\tlabel\n좋아요\t0\n');
    await expect(readLabeledTsv(p)).rejects.toThrow(`${p}:1: expected columns text, label`);
  });
});

describe('training on several sources', () => {
  it('writes calibrated, byte-identical models twice and reports metrics per source', async () => {
    const data = await syntheticData();
    const outs = [await mkdtemp(join(tmpdir(), 'tox-m1-')), await mkdtemp(join(tmpdir(), 'tox-m2-'))];
    const opts = { data, samplePath: null, options: { features: { bucketBits: 14 } as never } };
    const r1 = await trainOnSources({ ...opts, outDir: outs[0]! });
    await trainOnSources({ ...opts, outDir: outs[1]! });
    expect(sha256(await readFile(join(outs[1]!, 'weights.f16')))).toBe(sha256(await readFile(join(outs[0]!, 'weights.f16'))));
    expect(await readFile(join(outs[1]!, 'model.json'), 'utf8')).toBe(await readFile(join(outs[0]!, 'model.json'), 'utf8'));
    expect(r1.header.formatVersion).toBe(2);
    expect(r1.evaluation.perSource.map((m) => m.source)).toEqual(['beep', 'alpha', 'beta']);
    for (const m of r1.evaluation.perSource) expect(m.auroc).toBeGreaterThan(0.9);
    const c = await loadClassifier(outs[0]!);
    expect(c.calibration).toEqual(r1.header.calibration);
    expect(c.score('이 배우 정말 쓰레기')).toBeGreaterThan(c.threshold);
    expect(c.score('이 배우 정말 감사합니다')).toBeLessThan(0.1);
    expect(await readFile(join(outs[0]!, 'README.md'), 'utf8')).toContain('| beep | 60 |');
  });

  it.skipIf(!haveReal)('on a 1-in-10 sample of the real sources, calibrates held-out scores (ECE < 0.05)', async () => {
    const out = await mkdtemp(join(tmpdir(), 'tox-real-'));
    const r = await trainOnSources({ data: realData, outDir: out, stride: 10, writeDocs: false, options: { features: { bucketBits: 16 } as never } });
    expect(r.evaluation.pooled.n).toBeGreaterThan(400);
    expect(r.evaluation.pooled.ece).toBeLessThan(0.05);
    expect(r.evaluation.pooled.auroc).toBeGreaterThan(0.8);
  });
});

describe('the committed multi-source model', () => {
  // Floors a little under the measured values (docs/toxicity.md).
  // Measured: beep 0.8526, curse-detection 0.9131, kodoli 0.9441, kosbi-valid 0.6166, pooled 0.9111.
  const FLOORS: Record<string, number> = { beep: 0.85, 'curse-detection': 0.91, kodoli: 0.94, 'kosbi-valid': 0.61 };
  it.skipIf(!haveReal)('keeps per-source held-out AUROC above its floors, a calibrated pooled score and few false positives on clean answers', async () => {
    const c = (await loadDefaultClassifier())!;
    const { rows } = await loadSources(realData);
    const e = evaluate(c, rows, await readSampleAnswers(defaultSamplePath()));
    expect(e.perSource.map((m) => m.source).sort()).toEqual(Object.keys(FLOORS).sort());
    for (const m of e.perSource) expect(m.auroc, m.source).toBeGreaterThanOrEqual(FLOORS[m.source]!);
    expect(e.pooled.auroc).toBeGreaterThanOrEqual(0.91);
    expect(e.pooled.ece).toBeLessThan(0.02);
    expect(e.sample!.clean).toBe(168);
    expect(e.sample!.cleanFpr).toBeLessThanOrEqual(0.02);
    expect(e.sample!.auroc).toBeGreaterThanOrEqual(0.93);
  });
});
