/**
 * The single-corpus trainer (BEEP! only, threshold from 5-fold out-of-fold scores) and the
 * shared fitting code. The committed model is trained on every source by train-sources.ts
 * (`ko-align toxicity train`), which reuses fitLogistic and readHateSpeechTsv from here.
 *
 * trainToxicityModel trains on the Korean hate-speech corpus (BEEP!, kocohub/
 * korean-hate-speech): toxic = hate label in {hate, offensive}. Logistic regression over hashed
 * character n-grams, fitted by mini-batch Adam with sparse ("lazy") moment updates in plain
 * TypeScript. Deterministic: a fixed seed drives every shuffle, so the same data and options
 * give byte-identical weights.
 *
 * The decision threshold is chosen on the training data only (5-fold out-of-fold scores,
 * maximizing F1); the dev split is used only to report metrics.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { UserError } from '../util/errors.ts';
import { sha256, writeFileAtomic } from '../util/fs.ts';
import { DEFAULT_FEATURES, extractFeatures, type FeatureConfig, type SparseVector } from './features.ts';
import { decodeFloat16, encodeFloat16 } from '../util/float16.ts';
import {
  LinearToxicityClassifier,
  MODEL_FORMAT,
  MODEL_HEADER_FILE,
  MODEL_WEIGHTS_FILE,
  type ModelHeader,
} from './classifier.ts';
import { binaryMetrics, bestF1Threshold, thresholdAtFpr, type BinaryMetrics } from './metrics.ts';
import { mulberry32 } from '../util/random.ts';
export { mulberry32 };

export interface LabeledComment {
  text: string;
  toxic: boolean;
  /** The original 3-way label: hate | offensive | none. */
  hate: string;
  /** contain_gender_bias column. */
  genderBias: boolean;
  /** bias column: gender | others | none. */
  bias: string;
}

const HATE_VALUES = new Set(['hate', 'offensive', 'none']);

/** Reads a korean-hate-speech TSV (comments, contain_gender_bias, bias, hate). */
export async function readHateSpeechTsv(path: string): Promise<LabeledComment[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new UserError(`${path}: file not found (expected the korean-hate-speech TSV with columns comments, contain_gender_bias, bias, hate)`);
  }
  const lines = text.split(/\r?\n/);
  const header = lines[0]!.replace(/^\uFEFF/, '').split('\t');
  const col = (name: string): number => {
    const i = header.indexOf(name);
    if (i < 0) throw new UserError(`${path}:1: missing column "${name}" (expected columns comments, contain_gender_bias, bias, hate; found ${header.join(', ')})`);
    return i;
  };
  const iText = col('comments');
  const iHate = col('hate');
  const iGender = header.indexOf('contain_gender_bias');
  const iBias = header.indexOf('bias');
  const rows: LabeledComment[] = [];
  for (let ln = 1; ln < lines.length; ln++) {
    const line = lines[ln]!;
    if (line.trim() === '') continue;
    const f = line.split('\t');
    if (f.length !== header.length) {
      throw new UserError(`${path}:${ln + 1}: expected ${header.length} tab-separated columns, found ${f.length}`);
    }
    const hate = f[iHate]!.trim();
    if (!HATE_VALUES.has(hate)) throw new UserError(`${path}:${ln + 1}: column "hate" must be hate, offensive or none, got "${hate}"`);
    rows.push({
      text: f[iText]!,
      toxic: hate !== 'none',
      hate,
      genderBias: iGender >= 0 && f[iGender]!.trim() === 'True',
      bias: iBias >= 0 ? f[iBias]!.trim() : 'none',
    });
  }
  if (rows.length === 0) throw new UserError(`${path}: no labeled rows`);
  return rows;
}

export interface TrainOptions {
  features: FeatureConfig;
  epochs: number;
  learningRate: number;
  /** L2 penalty on the weights (not the bias), applied to the weights a batch touches. */
  l2: number;
  batchSize: number;
  seed: number;
}

export const DEFAULT_TRAIN_OPTIONS: TrainOptions = {
  features: DEFAULT_FEATURES,
  epochs: 5,
  learningRate: 0.01,
  l2: 1e-5,
  batchSize: 32,
  seed: 20240611,
};


function shuffleInPlace(a: number[], rand: () => number): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
}

function sigmoid(z: number): number {
  return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
}

/** Fits logistic regression with sparse Adam; returns float32 weights and the bias. */
export function fitLogistic(xs: SparseVector[], ys: boolean[], opts: TrainOptions): { weights: Float32Array; bias: number } {
  const dim = 2 ** opts.features.bucketBits;
  const w = new Float32Array(dim);
  const m = new Float32Array(dim);
  const v = new Float32Array(dim);
  let b = 0;
  let mb = 0;
  let vb = 0;
  const beta1 = 0.9;
  const beta2 = 0.999;
  const eps = 1e-8;
  const rand = mulberry32(opts.seed);
  const order = xs.map((_, i) => i);
  const grad = new Float32Array(dim);
  const touched: number[] = [];
  const seen = new Uint8Array(dim);
  let step = 0;
  for (let epoch = 0; epoch < opts.epochs; epoch++) {
    shuffleInPlace(order, rand);
    for (let start = 0; start < order.length; start += opts.batchSize) {
      const end = Math.min(order.length, start + opts.batchSize);
      const n = end - start;
      let gb = 0;
      for (let p = start; p < end; p++) {
        const i = order[p]!;
        const { idx, val } = xs[i]!;
        let z = b;
        for (let k = 0; k < idx.length; k++) z += w[idx[k]!]! * val[k]!;
        const err = (sigmoid(z) - (ys[i] ? 1 : 0)) / n;
        gb += err;
        for (let k = 0; k < idx.length; k++) {
          const j = idx[k]!;
          if (!seen[j]) {
            seen[j] = 1;
            touched.push(j);
          }
          grad[j] = grad[j]! + err * val[k]!;
        }
      }
      step++;
      const lr = (opts.learningRate * Math.sqrt(1 - beta2 ** step)) / (1 - beta1 ** step);
      for (const j of touched) {
        const g = grad[j]! + opts.l2 * w[j]!;
        m[j] = beta1 * m[j]! + (1 - beta1) * g;
        v[j] = beta2 * v[j]! + (1 - beta2) * g * g;
        w[j] = w[j]! - (lr * m[j]!) / (Math.sqrt(v[j]!) + eps);
        grad[j] = 0;
        seen[j] = 0;
      }
      touched.length = 0;
      mb = beta1 * mb + (1 - beta1) * gb;
      vb = beta2 * vb + (1 - beta2) * gb * gb;
      b -= (lr * mb) / (Math.sqrt(vb) + eps);
    }
  }
  return { weights: w, bias: b };
}

/** Rounds weights through float16 so in-training evaluation sees exactly the shipped model. */
function asShipped(weights: Float32Array): Float32Array {
  return decodeFloat16(encodeFloat16(weights));
}

function scoreAll(weights: Float32Array, bias: number, xs: SparseVector[]): Float64Array {
  const out = new Float64Array(xs.length);
  for (let i = 0; i < xs.length; i++) {
    const { idx, val } = xs[i]!;
    let z = bias;
    for (let k = 0; k < idx.length; k++) z += weights[idx[k]!]! * val[k]!;
    out[i] = sigmoid(z);
  }
  return out;
}

/** k-fold out-of-fold scores on the training rows (folds from a seeded shuffle). */
export function crossValidatedScores(xs: SparseVector[], ys: boolean[], opts: TrainOptions, folds = 5): Float64Array {
  const order = xs.map((_, i) => i);
  shuffleInPlace(order, mulberry32(opts.seed ^ 0x5eed));
  const oof = new Float64Array(xs.length);
  for (let f = 0; f < folds; f++) {
    const held = new Set(order.filter((_, p) => p % folds === f));
    const trX: SparseVector[] = [];
    const trY: boolean[] = [];
    for (let i = 0; i < xs.length; i++) {
      if (!held.has(i)) {
        trX.push(xs[i]!);
        trY.push(ys[i]!);
      }
    }
    const { weights, bias } = fitLogistic(trX, trY, opts);
    const shipped = asShipped(weights);
    const heldIdx = [...held];
    const s = scoreAll(shipped, bias, heldIdx.map((i) => xs[i]!));
    heldIdx.forEach((i, k) => (oof[i] = s[k]!));
  }
  return oof;
}

export interface TrainResult {
  outDir: string;
  header: ModelHeader;
  classifier: LinearToxicityClassifier;
  crossValidation: BinaryMetrics;
  crossValidationAtF1: BinaryMetrics;
  dev?: DevReport;
  seconds: number;
}

export interface DevReport {
  path: string;
  /** At the shipped threshold. */
  all: BinaryMetrics;
  /** At the max-F1 threshold chosen on train (out-of-fold). */
  atF1Threshold: BinaryMetrics;
  /** Recall on toxic dev comments flagged as gender-biased / other-group-biased. */
  recallGenderBias: number;
  recallOtherBias: number;
  /** Recall split by the original label. */
  recallHate: number;
  recallOffensive: number;
}

export interface TrainCommandOptions {
  /** Folder with train.tsv (and optionally dev.tsv, LICENSE.md). */
  dataDir: string;
  /** Output model directory. */
  outDir: string;
  /** Use only the first N training rows (tests). */
  limit?: number;
  /** Cross-validation folds for the threshold (0 = keep 0.5). */
  folds?: number;
  /**
   * The default threshold keeps the out-of-fold false-positive rate on clean training comments
   * at this value (default 0.1). Model answers are mostly clean, so false positives are what
   * a gate and a curation filter pay for; the max-F1 threshold is reported beside it.
   */
  targetFpr?: number;
  /** Write README.md and copy LICENSE.md into outDir (default true). */
  writeDocs?: boolean;
  /** The command line shown in the README as the one that produced the numbers. */
  commandLine?: string;
  options?: Partial<TrainOptions>;
  log?: (line: string) => void;
}

function recallOf(scores: Float64Array, rows: LabeledComment[], threshold: number, pick: (r: LabeledComment) => boolean): number {
  let tp = 0;
  let pos = 0;
  rows.forEach((r, i) => {
    if (r.toxic && pick(r)) {
      pos++;
      if (scores[i]! >= threshold) tp++;
    }
  });
  return pos > 0 ? tp / pos : Number.NaN;
}

/** `ko-align toxicity train`: fit, pick the threshold on train, write the model dir, report dev. */
export async function trainToxicityModel(cmd: TrainCommandOptions): Promise<TrainResult> {
  const t0 = performance.now();
  const log = cmd.log ?? (() => {});
  const opts: TrainOptions = { ...DEFAULT_TRAIN_OPTIONS, ...cmd.options, features: { ...DEFAULT_TRAIN_OPTIONS.features, ...cmd.options?.features } };
  const trainPath = join(cmd.dataDir, 'train.tsv');
  const trainBytes = await readFile(trainPath).catch(() => {
    throw new UserError(`${trainPath}: file not found (--data must be a folder with the korean-hate-speech train.tsv)`);
  });
  let rows = await readHateSpeechTsv(trainPath);
  if (cmd.limit !== undefined) rows = rows.slice(0, cmd.limit);
  const xs = rows.map((r) => extractFeatures(r.text, opts.features));
  const ys = rows.map((r) => r.toxic);
  log(`train: ${rows.length} rows (${ys.filter(Boolean).length} toxic) from ${trainPath}`);

  const folds = cmd.folds ?? 5;
  const targetFpr = cmd.targetFpr ?? 0.1;
  let threshold = 0.5;
  let f1Threshold = 0.5;
  let cv: BinaryMetrics;
  let cvAtF1: BinaryMetrics;
  if (folds >= 2) {
    const oof = crossValidatedScores(xs, ys, opts, folds);
    threshold = thresholdAtFpr(oof, ys, targetFpr);
    f1Threshold = bestF1Threshold(oof, ys).threshold;
    cv = binaryMetrics(oof, ys, threshold);
    cvAtF1 = binaryMetrics(oof, ys, f1Threshold);
    log(`train: ${folds}-fold out-of-fold AUROC ${cv.auroc.toFixed(4)}; threshold ${threshold.toFixed(4)} (FPR ${targetFpr} on clean comments): P ${cv.precision.toFixed(4)} R ${cv.recall.toFixed(4)} F1 ${cv.f1.toFixed(4)}; max-F1 threshold ${f1Threshold.toFixed(4)}: F1 ${cvAtF1.f1.toFixed(4)}`);
  } else {
    const { weights, bias } = fitLogistic(xs, ys, opts);
    cv = binaryMetrics(scoreAll(asShipped(weights), bias, xs), ys, threshold);
    cvAtF1 = cv;
  }
  const { weights, bias } = fitLogistic(xs, ys, opts);
  const bytes = encodeFloat16(weights);
  const digest = sha256(bytes);
  const name = 'toxicity-ko-charngram-lr';
  const classifier = new LinearToxicityClassifier(`${name}@${digest.slice(0, 12)}`, opts.features, decodeFloat16(bytes), bias, threshold);

  let dev: DevReport | undefined;
  const devPath = join(cmd.dataDir, 'dev.tsv');
  if (existsSync(devPath)) {
    const devRows = await readHateSpeechTsv(devPath);
    const s = Float64Array.from(devRows, (r) => classifier.score(r.text));
    dev = {
      path: devPath,
      all: binaryMetrics(s, devRows.map((r) => r.toxic), threshold),
      atF1Threshold: binaryMetrics(s, devRows.map((r) => r.toxic), f1Threshold),
      recallGenderBias: recallOf(s, devRows, threshold, (r) => r.genderBias),
      recallOtherBias: recallOf(s, devRows, threshold, (r) => r.bias === 'others'),
      recallHate: recallOf(s, devRows, threshold, (r) => r.hate === 'hate'),
      recallOffensive: recallOf(s, devRows, threshold, (r) => r.hate === 'offensive'),
    };
    log(`dev: precision ${dev.all.precision.toFixed(4)} recall ${dev.all.recall.toFixed(4)} F1 ${dev.all.f1.toFixed(4)} AUROC ${dev.all.auroc.toFixed(4)} (${devRows.length} rows)`);
  }

  const header: ModelHeader = {
    format: MODEL_FORMAT,
    formatVersion: 1,
    name,
    features: opts.features,
    bias,
    threshold,
    weights: { file: MODEL_WEIGHTS_FILE, dtype: 'float16', length: weights.length, sha256: digest },
    training: {
      data: 'kocohub/korean-hate-speech labeled/train.tsv (BEEP!, Moon, Cho and Lee, SocialNLP 2020), CC BY-SA 4.0',
      dataSha256: sha256(trainBytes),
      rows: rows.length,
      toxicRows: ys.filter(Boolean).length,
      label: 'toxic = hate column in {hate, offensive}',
      method: 'logistic regression, mini-batch Adam (lazy sparse moments), L2 on touched weights',
      epochs: opts.epochs,
      learningRate: opts.learningRate,
      l2: opts.l2,
      batchSize: opts.batchSize,
      seed: opts.seed,
      thresholdSelection: folds >= 2 ? `false-positive rate ${targetFpr} on clean comments, ${folds}-fold out-of-fold scores on train` : 'fixed 0.5',
      maxF1Threshold: f1Threshold,
    },
    metrics: {
      trainCrossValidation: round(cv),
      trainCrossValidationAtMaxF1Threshold: round(cvAtF1),
      ...(dev ? { dev: round(dev.all), devAtMaxF1Threshold: round(dev.atF1Threshold), devRecall: round({ hate: dev.recallHate, offensive: dev.recallOffensive, genderBias: dev.recallGenderBias, otherBias: dev.recallOtherBias }) } : {}),
    },
  };
  await mkdir(cmd.outDir, { recursive: true });
  await writeFileAtomic(join(cmd.outDir, MODEL_WEIGHTS_FILE), bytes);
  await writeFileAtomic(join(cmd.outDir, MODEL_HEADER_FILE), `${JSON.stringify(header, null, 2)}\n`);
  if (cmd.writeDocs ?? true) {
    const lic = join(cmd.dataDir, 'LICENSE.md');
    if (existsSync(lic)) await writeFileAtomic(join(cmd.outDir, 'LICENSE.md'), await readFile(lic));
    await writeFileAtomic(join(cmd.outDir, 'README.md'), modelReadme(header, cv, cvAtF1, dev, cmd.commandLine ?? `ko-align toxicity train --data ${cmd.dataDir} --out ${relative(process.cwd(), cmd.outDir) || '.'}`));
  }
  return { outDir: cmd.outDir, header, classifier, crossValidation: cv, crossValidationAtF1: cvAtF1, dev, seconds: (performance.now() - t0) / 1000 };
}

function round<T extends object>(o: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) out[k] = typeof v === 'number' && !Number.isInteger(v) ? Math.round(v * 1e4) / 1e4 : v;
  return out as T;
}

const f4 = (x: number): string => (Number.isNaN(x) ? 'n/a' : x.toFixed(4));

function modelReadme(h: ModelHeader, cv: BinaryMetrics, cvAtF1: BinaryMetrics, dev: DevReport | undefined, commandLine: string): string {
  const t = h.training;
  const row = (label: string, m: BinaryMetrics): string =>
    `| ${label} | ${m.threshold.toFixed(4)} | ${m.n} | ${m.positives} | ${f4(m.precision)} | ${f4(m.recall)} | ${f4(m.f1)} | ${f4(m.accuracy)} | ${f4(m.auroc)} |`;
  const head = `| split | threshold | rows | toxic | precision | recall | F1 | accuracy | AUROC |
|---|---|---|---|---|---|---|---|---|`;
  const cvRows = `${row('train, out-of-fold, default threshold', cv)}
${row('train, out-of-fold, max-F1 threshold', cvAtF1)}`;
  const devBlock = dev
    ? `${head}
${row('**dev.tsv, default threshold**', dev.all)}
${row('dev.tsv, max-F1 threshold (chosen on train)', dev.atF1Threshold)}
${cvRows}

Dev recall at the default threshold by kind of toxic comment: hate ${f4(dev.recallHate)}, offensive
${f4(dev.recallOffensive)}, gender-biased ${f4(dev.recallGenderBias)}, biased against other groups ${f4(dev.recallOtherBias)}.`
    : `No dev.tsv was found beside train.tsv, so no held-out metrics were measured.

${head}
${cvRows}`;
  return `# toxicity-ko: the embedded Korean toxicity classifier

The default \`classifier\` scorer of \`ko-align toxicity score\`, the curation \`toxicity\` stage
and the sweep gate. A small, fully reproducible model: no network, no GPU, scores thousands of
texts per second on one CPU core.

- **Model**: logistic regression over hashed features of the NFC-normalized, lower-cased text:
  character n-grams of length ${h.features.minN}-${h.features.maxN} (code points, a space added at each end, runs of one
  character cut to ${h.features.maxRepeat})${h.features.words ? ' plus whitespace-separated word unigrams' : ''}, FNV-1a hashed into 2^${h.features.bucketBits}
  buckets, values log(1 + count), L2-normalized. Weights: \`${h.weights.file}\` (${h.weights.length} little-endian
  float16), header and threshold: \`${MODEL_HEADER_FILE}\`.
- **Label**: toxic = the corpus's \`hate\` column is \`hate\` or \`offensive\`; clean = \`none\`.
- **Training**: ${t.method}; ${t.epochs} epochs, learning rate ${t.learningRate}, L2 ${t.l2},
  batch ${t.batchSize}, seed ${t.seed}; ${t.rows} rows (${t.toxicRows} toxic); train.tsv sha256 \`${String(t.dataSha256)}\`.
  The n-gram range, bucket count, epochs, learning rate and L2 were chosen by 5-fold
  cross-validated AUROC / F1 on train.tsv (n-grams 1-3 beat 1-4 and 1-5; more epochs overfit).
- **Threshold**: ${h.threshold.toFixed(4)}, chosen by ${t.thresholdSelection}.
  Model answers and curated data are mostly clean, so false positives are what a gate or a
  filter pays for; the corpus is 56% toxic, so its max-F1 threshold (${Number(t.maxF1Threshold).toFixed(4)}, also chosen on
  train) favours recall and flags many neutral, explanatory sentences. Pass \`--threshold\` to
  \`ko-align toxicity score\` to use another. The dev split is never used to choose anything;
  it only measures.

## Metrics

Produced by (run from the repository root; the data folder is the default \`--data\`):

\`\`\`
${commandLine}
\`\`\`

${devBlock}

The corpus is online news comments (entertainment news, 2018-2019). Model answers in a chat
format are a different domain: treat absolute toxic rates as indicative and compare rounds
against a baseline scored by the same classifier (the sweep gate does exactly this).

## Reproducing

The command above regenerates byte-identical weights (fixed seed, deterministic shuffles,
one thread, no platform-dependent arithmetic): the sha256 of \`${h.weights.file}\` is \`${h.weights.sha256}\`.

## Source, attribution and license

Trained on the labeled split of **BEEP! Korean Corpus of Online News Comments for Toxic Speech
Detection**: Jihyung Moon, Won Ik Cho and Junbum Lee, *Proceedings of the Eighth International
Workshop on Natural Language Processing for Social Media (SocialNLP 2020)*.
Data: https://github.com/kocohub/korean-hate-speech (labeled/train.tsv, labeled/dev.tsv).

The data is licensed under the Creative Commons Attribution-ShareAlike 4.0 International
license. These weights are derived from it and are distributed under the same license,
**CC BY-SA 4.0** (full text in \`LICENSE.md\` in this folder), not under the Apache-2.0 license
of the ko-align code. Changes made: the comments were converted to hashed n-gram features and
a linear classifier was fitted to them; no comment text is stored in this folder.
`;
}
