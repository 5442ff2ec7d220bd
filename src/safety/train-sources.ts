/**
 * Trains the embedded toxicity classifier on several Korean sources at once (BEEP! news
 * comments, KODOLI, Curse-detection, KoSBi, ...), with a deterministic per-source split:
 *
 * - every row goes to a split by the sha256 of its normalized text (NFC, lower case, spaces
 *   collapsed, long runs cut): bucket = first 32 bits mod 100; 0-79 train, 80-89 calibration,
 *   90-99 test. Identical texts therefore always land in the same split.
 * - a BEEP!-layout folder (train.tsv + dev.tsv with a `comments` column) keeps its official dev
 *   split as the test split; its train.tsv rows go 0-89 train, 90-99 calibration.
 * - train or calibration rows whose normalized text is also a test text (in any source) are dropped.
 *
 * One logistic regression is fitted on the train split (seeded, so byte-identical weights),
 * Platt scaling is fitted on the calibration split, and the default threshold keeps the
 * false-positive rate on clean calibration rows at `targetFpr` (calibrated scores). The test
 * split only measures: per source AUROC, precision / recall / F1 at the default threshold and
 * the expected calibration error, plus the false-positive rate on clean model answers of the
 * bundled datasets/ko-instruct-sample.jsonl.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../util/errors.ts';
import { sha256, writeFileAtomic } from '../util/fs.ts';
import { JAMO_FEATURES, extractFeatures, normalizeText, type FeatureConfig } from './features.ts';
import { decodeFloat16, encodeFloat16 } from '../util/float16.ts';
import { LinearToxicityClassifier, MODEL_FORMAT, MODEL_HEADER_FILE, MODEL_WEIGHTS_FILE, type ModelHeader, type ToxicityClassifier } from './classifier.ts';
import { auroc, binaryMetrics, bestF1Threshold, falsePositiveRate, thresholdAtFpr, type BinaryMetrics } from './metrics.ts';
import { expectedCalibrationError, fitPlatt } from './calibration.ts';
import { DEFAULT_TRAIN_OPTIONS, fitLogistic, readHateSpeechTsv, type TrainOptions } from './train.ts';
import { fitStacker, foldMembers, memberLogit, nbLogCountRatio, scaleFeatures, type LinearMember, type Stacker } from './ensemble.ts';

export type Split = 'train' | 'calib' | 'test';

export interface SourceRow {
  text: string;
  toxic: boolean;
  source: string;
  split: Split;
}

export interface SourceInfo {
  name: string;
  files: string[];
  sha256: string[];
}

/** Bucket 0..99 of a text: first 32 bits of sha256(normalized text) mod 100. */
export function splitBucket(text: string): number {
  const h = createHash('sha256').update(normalizeText(text, 3), 'utf8').digest();
  return h.readUInt32BE(0) % 100;
}

export function splitOf(text: string, hasOwnTest: boolean): Split {
  const b = splitBucket(text);
  if (hasOwnTest) return b < 90 ? 'train' : 'calib';
  return b < 80 ? 'train' : b < 90 ? 'calib' : 'test';
}

/** Reads a `text<TAB>label` TSV (label 1 = toxic, 0 = clean). */
export async function readLabeledTsv(path: string): Promise<{ text: string; toxic: boolean }[]> {
  let raw: string;
  try {
    raw = await readFile(path, 'utf8');
  } catch {
    throw new UserError(`${path}: file not found (expected a TSV with columns text, label)`);
  }
  const lines = raw.split(/\r?\n/);
  const header = lines[0]!.replace(/^\uFEFF/, '').split('\t');
  const iText = header.indexOf('text');
  const iLabel = header.indexOf('label');
  if (iText < 0 || iLabel < 0) throw new UserError(`${path}:1: expected columns text, label; found ${header.join(', ')}`);
  const rows: { text: string; toxic: boolean }[] = [];
  for (let ln = 1; ln < lines.length; ln++) {
    const line = lines[ln]!;
    if (line.trim() === '') continue;
    const f = line.split('\t');
    if (f.length !== header.length) throw new UserError(`${path}:${ln + 1}: expected ${header.length} tab-separated columns, found ${f.length}`);
    const l = f[iLabel]!.trim();
    if (l !== '0' && l !== '1') throw new UserError(`${path}:${ln + 1}: column "label" must be 0 or 1, got "${l}"`);
    rows.push({ text: f[iText]!, toxic: l === '1' });
  }
  if (rows.length === 0) throw new UserError(`${path}: no labeled rows`);
  return rows;
}

/**
 * Loads sources from paths: a BEEP! folder (train.tsv [+ dev.tsv]) is one source named "beep";
 * any other folder contributes each of its *.tsv files; a .tsv file is one source named after it.
 */
export async function loadSources(paths: string[]): Promise<{ rows: SourceRow[]; sources: SourceInfo[] }> {
  const rows: SourceRow[] = [];
  const sources: SourceInfo[] = [];
  const addFile = async (file: string): Promise<void> => {
    const bytes = await readFile(file).catch(() => {
      throw new UserError(`${file}: file not found`);
    });
    const name = basename(file).replace(/\.tsv$/, '');
    for (const r of await readLabeledTsv(file)) rows.push({ text: r.text, toxic: r.toxic, source: name, split: splitOf(r.text, false) });
    sources.push({ name, files: [file], sha256: [sha256(bytes)] });
  };
  for (const p of paths) {
    if (!existsSync(p)) throw new UserError(`${p}: not found (--data takes folders with train.tsv, folders of text/label .tsv files, or .tsv files)`);
    if (statSync(p).isDirectory()) {
      const train = join(p, 'train.tsv');
      if (existsSync(train)) {
        const dev = join(p, 'dev.tsv');
        const files = [train, ...(existsSync(dev) ? [dev] : [])];
        const hasDev = files.length > 1;
        for (const r of await readHateSpeechTsv(train)) rows.push({ text: r.text, toxic: r.toxic, source: 'beep', split: splitOf(r.text, hasDev) });
        if (hasDev) for (const r of await readHateSpeechTsv(dev)) rows.push({ text: r.text, toxic: r.toxic, source: 'beep', split: 'test' });
        sources.push({ name: 'beep', files, sha256: await Promise.all(files.map(async (f) => sha256(await readFile(f)))) });
      } else {
        const tsvs = readdirSync(p).filter((f) => f.endsWith('.tsv')).sort();
        if (tsvs.length === 0) throw new UserError(`${p}: no train.tsv and no .tsv files`);
        for (const f of tsvs) await addFile(join(p, f));
      }
    } else await addFile(p);
  }
  const names = sources.map((s) => s.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new UserError(`source "${dup}" given twice in --data`);
  // No test text may also be trained or calibrated on.
  const testTexts = new Set(rows.filter((r) => r.split === 'test').map((r) => normalizeText(r.text, 3)));
  return { rows: rows.filter((r) => r.split === 'test' || !testTexts.has(normalizeText(r.text, 3))), sources };
}

/** The bundled sample's model answers: `output` with ground truth `gt_issue` (clean | toxic | ...). */
export async function readSampleAnswers(path: string): Promise<{ text: string; issue: string }[]> {
  const raw = await readFile(path, 'utf8');
  return raw.split('\n').filter((l) => l.trim() !== '').map((l) => {
    const r = JSON.parse(l) as { output?: unknown; gt_issue?: unknown };
    return { text: String(r.output ?? ''), issue: String(r.gt_issue ?? '') };
  });
}

export function defaultSamplePath(): string {
  return fileURLToPath(new URL('../../datasets/ko-instruct-sample.jsonl', import.meta.url));
}

export interface SourceMetrics extends BinaryMetrics {
  source: string;
  ece: number;
}

export interface SampleMetrics {
  /** Clean answers (gt_issue = clean) flagged at the default threshold, over all clean answers. */
  cleanFpr: number;
  clean: number;
  /** Toxic answers (gt_issue = toxic) flagged. */
  toxicRecall: number;
  toxic: number;
  /** AUROC of toxic vs clean answers. */
  auroc: number;
}

export interface Evaluation {
  perSource: SourceMetrics[];
  pooled: SourceMetrics;
  sample?: SampleMetrics;
}

/** Measures a classifier on the test split of each source and on the sample's model answers. */
export function evaluate(c: ToxicityClassifier, rows: SourceRow[], sample?: { text: string; issue: string }[], threshold = c.threshold): Evaluation {
  const test = rows.filter((r) => r.split === 'test');
  const scores = test.map((r) => c.score(r.text));
  const one = (name: string, pick: (r: SourceRow) => boolean): SourceMetrics => {
    const s: number[] = [];
    const y: boolean[] = [];
    test.forEach((r, i) => {
      if (pick(r)) {
        s.push(scores[i]!);
        y.push(r.toxic);
      }
    });
    return { source: name, ...binaryMetrics(s, y, threshold), ece: expectedCalibrationError(s, y) };
  };
  const names = [...new Set(test.map((r) => r.source))];
  const out: Evaluation = { perSource: names.map((n) => one(n, (r) => r.source === n)), pooled: one('all', () => true) };
  if (sample) {
    const rel = sample.filter((r) => r.issue === 'clean' || r.issue === 'toxic');
    const s = rel.map((r) => c.score(r.text));
    const y = rel.map((r) => r.issue === 'toxic');
    const clean = y.filter((v) => !v).length;
    const toxic = y.length - clean;
    const m = binaryMetrics(s, y, threshold);
    out.sample = { cleanFpr: falsePositiveRate(s, y, threshold), clean, toxicRecall: toxic ? m.recall : Number.NaN, toxic, auroc: m.auroc };
  }
  return out;
}

export interface SourcesTrainOptions {
  data: string[];
  outDir: string;
  targetFpr?: number;
  /** Bundled sample for the clean-answer false-positive rate (default datasets/ko-instruct-sample.jsonl). */
  samplePath?: string | null;
  /** Train rows of these sources are repeated this many times (oversampling small sources). */
  repeat?: Record<string, number>;
  /** Keep only every k-th row of each split (tests). */
  stride?: number;
  writeDocs?: boolean;
  commandLine?: string;
  options?: Partial<TrainOptions>;
  /**
   * The stacked ensemble (default true): a plain and an NB-weighted logistic regression, mixed
   * by a stacker fitted on the calibration split and folded into one weight vector (see
   * ensemble.ts). false: the single logistic regression of the previous model.
   */
  ensemble?: boolean;
  /** NB log-count ratio smoothing (default 0.1, chosen on the calibration split). */
  nbAlpha?: number;
  /** Ridge penalty of the stacker (default 1e-3). */
  stackerL2?: number;
  log?: (line: string) => void;
}

export interface SourcesTrainResult {
  header: ModelHeader;
  classifier: LinearToxicityClassifier;
  evaluation: Evaluation;
  /** The uncalibrated model's test ECE, for comparison. */
  uncalibratedEce: number;
  seconds: number;
}

function sigmoid(z: number): number {
  return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
}

function r4(x: number): number {
  return Number.isFinite(x) ? Math.round(x * 1e4) / 1e4 : x;
}

export async function trainOnSources(cmd: SourcesTrainOptions): Promise<SourcesTrainResult> {
  const t0 = performance.now();
  const log = cmd.log ?? (() => {});
  const features: FeatureConfig = { ...JAMO_FEATURES, ...cmd.options?.features };
  const opts: TrainOptions = { ...DEFAULT_TRAIN_OPTIONS, ...cmd.options, features };
  const targetFpr = cmd.targetFpr ?? 0.1;
  let { rows, sources } = await loadSources(cmd.data);
  if (cmd.stride && cmd.stride > 1) rows = rows.filter((_, i) => i % cmd.stride! === 0);
  const part = (s: Split): SourceRow[] => rows.filter((r) => r.split === s);
  const train = part('train').flatMap((r) => Array.from({ length: Math.max(1, Math.floor(cmd.repeat?.[r.source] ?? 1)) }, () => r));
  const calib = part('calib');
  for (const src of sources) {
    const c = (s: Split): number => rows.filter((r) => r.source === src.name && r.split === s).length;
    log(`${src.name}: train ${c('train')}, calibration ${c('calib')}, test ${c('test')}`);
  }
  const trainX = train.map((r) => extractFeatures(r.text, features));
  const trainY = train.map((r) => r.toxic);
  const calY = calib.map((r) => r.toxic);
  const ensembleOn = cmd.ensemble ?? true;
  const nbAlpha = cmd.nbAlpha ?? 0.1;
  const stackerL2 = cmd.stackerL2 ?? 1e-3;
  let weights: Float32Array;
  let bias: number;
  let ensemble: { stacker: Stacker; mix: number[]; calibrationAuroc: Record<string, Record<string, number>> } | undefined;
  if (!ensembleOn) {
    ({ weights, bias } = fitLogistic(trainX, trainY, opts));
  } else {
    const plain: LinearMember = fitLogistic(trainX, trainY, opts);
    const scale = nbLogCountRatio(trainX, trainY, 2 ** features.bucketBits, nbAlpha);
    const nbFit = fitLogistic(trainX.map((x) => scaleFeatures(x, scale)), trainY, opts);
    const nb: LinearMember = { ...nbFit, scale };
    const calX = calib.map((r) => extractFeatures(r.text, features));
    const calMember = calX.map((x) => [memberLogit(plain, x), memberLogit(nb, x)]);
    const stacker = fitStacker(calMember, calY, stackerL2);
    const total = stacker.weights.reduce((a, w) => a + Math.abs(w), 0);
    const mix = total > 0 ? stacker.weights.map((w) => w / total) : [1, 0];
    ({ weights, bias } = foldMembers([plain, nb], mix));
    // In-sample on the calibration split (the stacker has 3 parameters); docs/toxicity.md has the 5-fold numbers.
    const calibrationAuroc: Record<string, Record<string, number>> = {};
    const names = [...new Set(calib.map((r) => r.source)), 'all'];
    for (const [label, pick] of [['plain', 0], ['nb', 1], ['stack', -1]] as const) {
      const s = calMember.map((z) => (pick < 0 ? z[0]! * mix[0]! + z[1]! * mix[1]! : z[pick]!));
      calibrationAuroc[label] = Object.fromEntries(names.map((n) => {
        const k = calib.map((r, i) => (n === 'all' || r.source === n ? i : -1)).filter((i) => i >= 0);
        return [n, r4(auroc(k.map((i) => s[i]!), k.map((i) => calY[i]!)))];
      }));
      log(`calibration AUROC ${label}: ${names.map((n) => `${n} ${calibrationAuroc[label]![n]!.toFixed(4)}`).join(', ')}`);
    }
    ensemble = { stacker, mix, calibrationAuroc };
    log(`stacker: ${stacker.weights.map((w) => w.toFixed(4)).join(' * plain + ')} * nb + ${stacker.bias.toFixed(4)}; mixing weights ${mix.map((m) => m.toFixed(4)).join(', ')}`);
  }
  const bytes = encodeFloat16(weights);
  const shipped = decodeFloat16(bytes);
  const digest = sha256(bytes);
  const raw = new LinearToxicityClassifier('raw', features, shipped, bias, 0.5);
  const calLogits = calib.map((r) => raw.logit(r.text));
  const platt = fitPlatt(calLogits, calY);
  const calScores = calLogits.map((z) => sigmoid(platt.a * z + platt.b));
  const threshold = thresholdAtFpr(calScores, calY, targetFpr);
  const f1Threshold = bestF1Threshold(calScores, calY).threshold;
  const name = ensemble ? 'toxicity-ko-jamo-nbstack' : features.jamo || features.choseong ? 'toxicity-ko-jamo-lr' : 'toxicity-ko-charngram-lr';
  const classifier = new LinearToxicityClassifier(`${name}@${digest.slice(0, 12)}`, features, shipped, bias, threshold, platt);
  const samplePath = cmd.samplePath === undefined ? defaultSamplePath() : cmd.samplePath;
  const sample = samplePath && existsSync(samplePath) ? await readSampleAnswers(samplePath) : undefined;
  const evaluation = evaluate(classifier, rows, sample);
  const test = part('test');
  const uncalibratedEce = expectedCalibrationError(test.map((r) => sigmoid(raw.logit(r.text))), test.map((r) => r.toxic));
  for (const m of [...evaluation.perSource, evaluation.pooled]) {
    log(`test ${m.source}: AUROC ${m.auroc.toFixed(4)} P ${m.precision.toFixed(4)} R ${m.recall.toFixed(4)} F1 ${m.f1.toFixed(4)} ECE ${m.ece.toFixed(4)} (${m.n} rows)`);
  }
  if (evaluation.sample) log(`sample answers: clean FPR ${evaluation.sample.cleanFpr.toFixed(4)} (${evaluation.sample.clean}), toxic recall ${evaluation.sample.toxicRecall.toFixed(4)} (${evaluation.sample.toxic}), AUROC ${evaluation.sample.auroc.toFixed(4)}`);
  const metric = (m: SourceMetrics): Record<string, number> => ({ n: m.n, positives: m.positives, auroc: r4(m.auroc), precision: r4(m.precision), recall: r4(m.recall), f1: r4(m.f1), ece: r4(m.ece) });
  const header: ModelHeader = {
    format: MODEL_FORMAT,
    formatVersion: 2,
    name,
    features,
    bias,
    threshold,
    calibration: platt,
    weights: { file: MODEL_WEIGHTS_FILE, dtype: 'float16', length: weights.length, sha256: digest },
    training: {
      sources: sources.map((s) => ({ name: s.name, files: s.files.map((f) => basename(f)), sha256: s.sha256 })),
      split: 'sha256(normalized text) first 32 bits mod 100: 0-79 train, 80-89 calibration, 90-99 test; a BEEP! folder keeps dev.tsv as test and splits train.tsv 0-89 / 90-99; train/calibration texts equal to a test text are dropped',
      rows: { train: train.length, calibration: calib.length, test: test.length },
      toxicTrainRows: train.filter((r) => r.toxic).length,
      ...(cmd.repeat && Object.keys(cmd.repeat).length > 0 ? { repeat: cmd.repeat } : {}),
      label: 'toxic = 1 in text/label files; BEEP!: hate column in {hate, offensive}',
      method: ensemble
        ? 'stacked ensemble folded into one linear model: logistic regression on x and on NB-weighted x * r (r = |NB log-count ratio| on train), both mini-batch Adam (lazy sparse moments), L2 on touched weights; a ridge logistic stacker on the two logits fitted on the calibration split gives the mixing weights; Platt scaling on the calibration split'
        : 'logistic regression, mini-batch Adam (lazy sparse moments), L2 on touched weights; Platt scaling on the calibration split',
      ...(ensemble
        ? {
            ensemble: {
              members: [
                { name: 'plain', features: 'x' },
                { name: 'nb', features: 'x * r', nbAlpha },
              ],
              stacker: { weights: ensemble.stacker.weights, bias: ensemble.stacker.bias, l2: stackerL2, fittedOn: 'calibration split' },
              mix: ensemble.mix,
            },
          }
        : {}),
      epochs: opts.epochs,
      learningRate: opts.learningRate,
      l2: opts.l2,
      batchSize: opts.batchSize,
      seed: opts.seed,
      thresholdSelection: `false-positive rate ${targetFpr} on clean calibration rows, calibrated scores`,
      maxF1Threshold: f1Threshold,
      ...(cmd.stride && cmd.stride > 1 ? { stride: cmd.stride } : {}),
    },
    metrics: {
      test: Object.fromEntries([...evaluation.perSource, evaluation.pooled].map((m) => [m.source, metric(m)])),
      uncalibratedTestEce: r4(uncalibratedEce),
      ...(ensemble ? { calibrationAurocInSample: ensemble.calibrationAuroc } : {}),
      ...(evaluation.sample ? { sampleAnswers: Object.fromEntries(Object.entries(evaluation.sample).map(([k, v]) => [k, r4(v)])) } : {}),
    },
  };
  await mkdir(cmd.outDir, { recursive: true });
  await writeFileAtomic(join(cmd.outDir, MODEL_WEIGHTS_FILE), bytes);
  await writeFileAtomic(join(cmd.outDir, MODEL_HEADER_FILE), `${JSON.stringify(header, null, 2)}\n`);
  if (cmd.writeDocs ?? true) {
    const beep = sources.find((s) => s.name === 'beep');
    const ccPath = beep ? join(dirname(beep.files[0]!), 'LICENSE.md') : undefined;
    const ccText = ccPath && existsSync(ccPath) ? await readFile(ccPath, 'utf8') : undefined;
    await writeFileAtomic(join(cmd.outDir, 'LICENSE.md'), licenseFile(sources.map((s) => s.name), ccText));
    await writeFileAtomic(join(cmd.outDir, 'README.md'), sourcesReadme(header, evaluation, uncalibratedEce, cmd.commandLine ?? `ko-align toxicity train --data ${cmd.data.join(' ')}`));
  }
  return { header, classifier, evaluation, uncalibratedEce, seconds: (performance.now() - t0) / 1000 };
}

const f4 = (x: number): string => (Number.isFinite(x) ? x.toFixed(4) : 'n/a');

/** The per-source metrics table (markdown). */
export function metricsTable(e: Evaluation): string {
  const rows = [...e.perSource, e.pooled].map((m) => `| ${m.source} | ${m.n} | ${m.positives} | ${f4(m.auroc)} | ${f4(m.precision)} | ${f4(m.recall)} | ${f4(m.f1)} | ${f4(m.ece)} |`);
  const s = e.sample;
  return `| test split | rows | toxic | AUROC | precision | recall | F1 | ECE |
|---|---|---|---|---|---|---|---|
${rows.join('\n')}
${s ? `\nModel answers (datasets/ko-instruct-sample.jsonl): false-positive rate on the ${s.clean} clean answers ${f4(s.cleanFpr)}, recall on the ${s.toxic} toxic answers ${f4(s.toxicRecall)}, AUROC ${f4(s.auroc)}.` : ''}`;
}

function ensembleLine(h: ModelHeader): string {
  const e = (h.training as { ensemble?: { mix: number[]; members: { nbAlpha?: number }[] } }).ensemble;
  if (!e) return '';
  return `a stacked ensemble folded into one linear model: ${f4(e.mix[0]!)} * (logistic regression on x) + ${f4(e.mix[1]!)} * (logistic regression on NB-weighted x * r, r = |Naive-Bayes log-count ratio| per bucket on train, smoothing ${String(e.members[1]!.nbAlpha)}), the mixing weights from a logistic stacker fitted on the calibration split; each member a `;
}

function sourcesReadme(h: ModelHeader, e: Evaluation, uncalEce: number, commandLine: string): string {
  const t = h.training as Record<string, unknown>;
  const f = h.features;
  return `# toxicity-ko: the embedded Korean toxicity classifier

The default \`classifier\` scorer of \`ko-align toxicity score\`, the curation \`toxicity\` stage
and the sweep gate. No network, no GPU; thousands of texts per second on one CPU core.

- **Model**: ${ensembleLine(h)}logistic regression over hashed features of the NFC-normalized, lower-cased text:
  character ${f.minN}-${f.maxN}-grams, word unigrams${f.jamo ? `, jamo ${f.jamo.minN}-${f.jamo.maxN}-grams (Hangul syllables split into 초성/중성/종성, spaces removed)` : ''}${f.choseong ? `, 초성 ${f.choseong.minN}-${f.choseong.maxN}-grams (each syllable's initial consonant, so ㅅㅂ and 시발 share features)` : ''};
  FNV-1a hashed into 2^${f.bucketBits} buckets, log(1 + count), L2-normalized. Weights \`${h.weights.file}\` (${h.weights.length} float16).
- **Calibration**: Platt scaling (score = sigmoid(${f4(h.calibration!.a)} * logit + ${f4(h.calibration!.b)})) fitted on the calibration split.
- **Threshold**: ${h.threshold.toFixed(4)}, ${String(t.thresholdSelection)}.
- **Split**: ${String(t.split)}.
- **Training**: ${String(t.method)}; ${String(t.epochs)} epochs, learning rate ${String(t.learningRate)}, L2 ${String(t.l2)}, batch ${String(t.batchSize)}, seed ${String(t.seed)}.

## Metrics (test splits, default threshold)

\`\`\`
${commandLine}
\`\`\`

${metricsTable(e)}

ECE: expected calibration error, 10 equal-width bins (uncalibrated scores, pooled test: ${f4(uncalEce)}).

## Reproducing

The command above regenerates byte-identical weights: the sha256 of \`${h.weights.file}\` is \`${h.weights.sha256}\`.

## Sources, attribution and license

- **BEEP!** (Moon, Cho and Lee, SocialNLP 2020), kocohub/korean-hate-speech, CC BY-SA 4.0.
- **KODOLI** (Park et al., EACL 2023 Findings), cardy20/KODOLI, CC BY-SA 4.0 (offensiveness OFFEN or LIKELY -> toxic).
- **Curse-detection-data** (2runo), MIT, Copyright (c) 2020 2runo.
- **KoSBi** valid split (Lee et al., ACL 2023 industry track), naver-ai/korean-safety-benchmarks, MIT, Copyright 2023-present NAVER Cloud Corp.

The weights derive from CC BY-SA 4.0 data and are distributed under **CC BY-SA 4.0**, not under
the Apache-2.0 license of the ko-align code. \`LICENSE.md\` holds every source's notice (the MIT
notices with their copyright lines) and the full CC BY-SA 4.0 text. Changes made: texts were
converted to hashed n-gram features and linear classifiers were fitted; no text is stored here.
`;
}

const MIT_BODY = `Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.`;

/** The licence notice of each known training source (name as loadSources gives it). */
export const SOURCE_NOTICES: Record<string, { title: string; license: string; notice: string }> = {
  beep: {
    title: 'BEEP! Korean Corpus of Online News Comments for Toxic Speech Detection',
    license: 'CC BY-SA 4.0',
    notice: `Jihyung Moon, Won Ik Cho and Junbum Lee, SocialNLP 2020. https://github.com/kocohub/korean-hate-speech
(labeled/train.tsv, labeled/dev.tsv, commit f8d05dce). Licensed under the Creative Commons
Attribution-ShareAlike 4.0 International license (full text at the end of this file).`,
  },
  kodoli: {
    title: 'KODOLI: Korean Dataset for Offensive Language Identification',
    license: 'CC BY-SA 4.0',
    notice: `Park et al., EACL 2023 Findings. https://github.com/cardy20/KODOLI
(data/kodoli.csv, commit 1f552f22; label mapping: offensiveness OFFEN or LIKELY -> toxic).
"This work is licensed under a Creative Commons Attribution-ShareAlike 4.0 International
License" (the repository's README; full text at the end of this file).`,
  },
  'curse-detection': {
    title: 'Curse-detection-data',
    license: 'MIT',
    notice: `2runo, https://github.com/2runo/Curse-detection-data (dataset.txt, commit ff241621).

MIT License

Copyright (c) 2020 2runo

${MIT_BODY}`,
  },
  'kosbi-valid': {
    title: 'KoSBi (Korean Social Bias dataset), valid split',
    license: 'MIT',
    notice: `Lee et al., ACL 2023 industry track. https://github.com/naver-ai/korean-safety-benchmarks
(data/KoSBi/kosbi_valid.json, commit e32837cd; sentence_label unsafe -> toxic, context dropped).

MIT License

Copyright 2023-present NAVER Cloud Corp.

${MIT_BODY}`,
  },
};

/** models/toxicity-ko/LICENSE.md: the notice of every training source, then the CC BY-SA 4.0 text. */
export function licenseFile(sourceNames: string[], ccBySaText: string | undefined): string {
  const parts = sourceNames.map((n) => {
    const s = SOURCE_NOTICES[n];
    return s ? `## ${s.title} (${n}): ${s.license}\n\n${s.notice}\n` : `## ${n}\n\nNo licence notice is known to ko-align for this source; check its own terms before distributing weights trained on it.\n`;
  });
  return `# Licences of the training data of these weights

The weights in this folder were fitted to the sources below (texts converted to hashed n-gram
features; no text is stored here). Because some sources are CC BY-SA 4.0, the weights are
distributed under **CC BY-SA 4.0** (not under the Apache-2.0 licence of the ko-align code),
and the notices of the MIT-licensed sources are kept as their licence requires.

${parts.join('\n')}
## Creative Commons Attribution-ShareAlike 4.0 International

${ccBySaText ? ccBySaText.replace(/^\uFEFF/, '') : 'https://creativecommons.org/licenses/by-sa/4.0/legalcode\n'}`;
}
