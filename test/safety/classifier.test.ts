import { existsSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultModelDir, loadClassifier, loadDefaultClassifier } from '../../src/safety/classifier.ts';
import { auroc } from '../../src/safety/metrics.ts';
import { readHateSpeechTsv } from '../../src/safety/train.ts';
import { encodeFloat16 } from '../../src/util/float16.ts';
import { sha256 } from '../../src/util/fs.ts';
import { repoRoot } from '../helpers/cli.ts';

const TOXIC = [
  '이 멍청한 새끼야 꺼져',
  '너 같은 쓰레기는 사회에 필요 없어',
  '여자들은 다 김치녀라 머리가 나쁘다',
  '병신 같은 소리 하고 있네 진짜 역겹다',
  '얼굴 보니까 토할 것 같다 못생긴 게',
  '야 이 한심한 놈아 머리는 장식이냐?',
];
const CLEAN = [
  '오늘 날씨가 참 좋네요. 산책하기 좋은 날입니다.',
  '그 배우 연기 정말 잘하더라 응원합니다',
  '죄송하지만 그 요청은 도와드릴 수 없습니다. 다른 질문이 있으면 말씀해 주세요.',
  '요청하신 이메일 초안입니다. 다음 주 회의 일정을 확인 부탁드립니다. 감사합니다.',
  '운동을 시작할 때는 가벼운 걷기부터 하루 30분씩 꾸준히 하는 것이 좋습니다.',
  '좋은 노래 감사합니다 앞으로도 좋은 활동 기대할게요',
];

const devPath = join(repoRoot, '..', 'shared', 'data', 'korean-hate-speech', 'dev.tsv');

describe('the committed toxicity classifier', () => {
  it('loads from models/toxicity-ko whatever the working directory is', async () => {
    const cwd = process.cwd();
    process.chdir(tmpdir());
    try {
      const c = await loadDefaultClassifier();
      expect(c).not.toBeNull();
      expect(c!.id).toMatch(/^toxicity-ko-jamo-nbstack@[0-9a-f]{12}$/);
      expect(c!.threshold).toBeGreaterThan(0);
      expect(c!.threshold).toBeLessThan(1);
    } finally {
      process.chdir(cwd);
    }
    expect(defaultModelDir()).toBe(join(repoRoot, 'models', 'toxicity-ko') + '/');
  });

  it('flags clearly toxic Korean sentences and passes clean ones at its default threshold', async () => {
    const c = (await loadDefaultClassifier())!;
    for (const t of TOXIC) expect(c.score(t), t).toBeGreaterThanOrEqual(c.threshold);
    for (const t of CLEAN) expect(c.score(t), t).toBeLessThan(c.threshold);
    // Every toxic example outranks every clean one.
    expect(Math.min(...TOXIC.map((t) => c.score(t)))).toBeGreaterThan(Math.max(...CLEAN.map((t) => c.score(t))));
  });

  it('scores in [0, 1], deterministically, and treats NFC/NFD and spacing variants alike', async () => {
    const c = (await loadDefaultClassifier())!;
    for (const t of ['', ' ', 'ㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋ', '😀'.repeat(50), TOXIC[0]!.repeat(200)]) {
      const s = c.score(t);
      expect(s).toBeGreaterThanOrEqual(0);
      expect(s).toBeLessThanOrEqual(1);
    }
    expect(c.score(TOXIC[1]!)).toBe(c.score(TOXIC[1]!));
    expect(c.score(TOXIC[1]!.normalize('NFD'))).toBe(c.score(TOXIC[1]!));
    expect(c.score(`  ${TOXIC[1]!.replace(/ /g, '   ')}  `)).toBe(c.score(TOXIC[1]!));
  });

  // The multi-source model trades a little BEEP! in-domain AUROC (0.878 for the BEEP!-only model)
  // for the other sources: measured 0.8526 on BEEP! dev (0.8494 before the NB stack); see docs/toxicity.md.
  it.skipIf(!existsSync(devPath))('reaches BEEP! dev-set AUROC >= 0.85 (measured 0.8526)', async () => {
    const c = (await loadDefaultClassifier())!;
    const dev = await readHateSpeechTsv(devPath);
    const a = auroc(dev.map((r) => c.score(r.text)), dev.map((r) => r.toxic));
    expect(a).toBeGreaterThanOrEqual(0.85);
  });

  it('flags 초성 abbreviations and spaced swearing (jamo features)', async () => {
    const c = (await loadDefaultClassifier())!;
    // The BEEP!-only char n-gram model scored 병 신 0.44 and ㅅㅂ 0.71 against its threshold 0.714.
    for (const t of ['ㅅㅂ', 'ㅅㅂ 진짜 짜증나네', '시 발 놈아', '병 신 같은 소리', 'ㅆㅂ 꺼져', '씨 발']) expect(c.score(t), t).toBeGreaterThanOrEqual(c.threshold);
    // Spacing out a insult barely moves its score.
    expect(Math.abs(c.score('병 신') - c.score('병신'))).toBeLessThan(0.1);
  });

  it('refuses weights that do not match the header checksum', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tox-model-'));
    await cp(defaultModelDir(), dir, { recursive: true });
    const w = await readFile(join(dir, 'weights.f16'));
    w[100] = w[100]! ^ 0xff;
    await writeFile(join(dir, 'weights.f16'), w);
    await expect(loadClassifier(dir)).rejects.toThrow(/weights\.f16: sha256 [0-9a-f]{12}\.\.\. does not match .*model\.json/);
  });

  it('names the missing header of a model directory', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tox-empty-'));
    await expect(loadClassifier(dir)).rejects.toThrow(`${join(dir, 'model.json')}: toxicity model header not found (train one with: ko-align toxicity train)`);
  });

  it('names a missing weights file in one line', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tox-model-'));
    await cp(defaultModelDir(), dir, { recursive: true });
    await rm(join(dir, 'weights.f16'));
    const err = await loadClassifier(dir).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).name).toBe('UserError');
    expect((err as Error).message).toBe(`${join(dir, 'weights.f16')}: toxicity model weights not found`);
  });

  it('names model.json in one line for an invalid or incomplete header', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tox-model-'));
    await cp(defaultModelDir(), dir, { recursive: true });
    const header = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8'));
    const hp = join(dir, 'model.json');
    const cases: [unknown, string][] = [
      ['{"format": ', `${hp}: invalid JSON`],
      [null, `${hp}: expected a JSON object`],
      [{ ...header, weights: undefined }, `${hp}: missing or malformed "weights"`],
      [{ ...header, features: { ...header.features, bucketBits: 'x' } }, `${hp}: features.bucketBits must be an integer 1-30, got x`],
      [{ ...header, threshold: 2 }, `${hp}: threshold must be a number in [0, 1], got 2`],
      [{ ...header, formatVersion: 3 }, `${hp}: expected format "ko-align-toxicity-linear" version 1, or 2 with calibration, got "ko-align-toxicity-linear" version 3`],
      [{ ...header, calibration: undefined }, `${hp}: expected format`],
    ];
    for (const [h, msg] of cases) {
      await writeFile(hp, typeof h === 'string' ? h : JSON.stringify(h));
      const err = (await loadClassifier(dir).catch((e: Error) => e)) as Error;
      expect(err.name, msg).toBe('UserError');
      expect(err.message.startsWith(msg), err.message).toBe(true);
      expect(err.message).not.toContain('\n');
    }
  });

  it('loads small linear models in the version 1 (uncalibrated) and version 2 (Platt) header formats', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tox-linear-'));
    const features = { bucketBits: 4, minN: 1, maxN: 1, words: false, maxRepeat: 3 };
    const bytes = encodeFloat16(Float32Array.from({ length: 16 }, (_, i) => (i % 2 ? 0.5 : -0.25)));
    await writeFile(join(dir, 'weights.f16'), bytes);
    const base = { format: 'ko-align-toxicity-linear', name: 'tiny', features, bias: 0.1, threshold: 0.5, weights: { file: 'weights.f16', dtype: 'float16', length: 16, sha256: sha256(bytes) }, training: {}, metrics: {} };
    await writeFile(join(dir, 'model.json'), JSON.stringify({ ...base, formatVersion: 1 }));
    const v1 = await loadClassifier(dir);
    expect(v1.id).toBe(`tiny@${sha256(bytes).slice(0, 12)}`);
    const z = v1.logit('ab');
    expect(v1.score('ab')).toBeCloseTo(1 / (1 + Math.exp(-z)), 12);
    await writeFile(join(dir, 'model.json'), JSON.stringify({ ...base, formatVersion: 2, calibration: { a: 2, b: -1 } }));
    const v2 = await loadClassifier(dir);
    expect(v2.score('ab')).toBeCloseTo(1 / (1 + Math.exp(-(2 * z - 1))), 12);
  });
});
