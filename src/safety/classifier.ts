/**
 * The embedded toxicity classifier: hashed character n-gram + word (+ jamo, 초성) features, a
 * linear model (a single logistic regression, or the stacked plain + NB-weighted ensemble of
 * ensemble.ts folded into one weight vector: same format), weights stored as float16 in
 * models/toxicity-ko/ (trained by `ko-align toxicity train`). Header format
 * "ko-align-toxicity-linear": version 1 (no calibration) or 2 (Platt calibration). Loading resolves the model directory from this module's URL,
 * never from the working directory.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../util/errors.ts';
import { sha256 } from '../util/fs.ts';
import { extractFeatures, type FeatureConfig } from './features.ts';
import { decodeFloat16 } from '../util/float16.ts';
import { applyPlatt, type PlattScaling } from './calibration.ts';

export interface ToxicityClassifier {
  /** Probability-like toxicity in 0..1. */
  score(text: string): number;
  /** Default decision threshold: toxic when score >= threshold. */
  threshold: number;
  /** Identifies the model and its weights (changes when the weights change). */
  id: string;
}

export const MODEL_FORMAT = 'ko-align-toxicity-linear';
export const MODEL_HEADER_FILE = 'model.json';
export const MODEL_WEIGHTS_FILE = 'weights.f16';

/** The header written beside the weights (model.json). */
export interface ModelHeader {
  format: typeof MODEL_FORMAT;
  /** 2 when `calibration` is present. */
  formatVersion: 1 | 2;
  name: string;
  features: FeatureConfig;
  bias: number;
  /** On the calibrated scale when `calibration` is present. */
  threshold: number;
  /** Platt scaling fitted on a held-out calibration split: score = sigmoid(a * logit + b). */
  calibration?: PlattScaling;
  weights: { file: string; dtype: 'float16'; length: number; sha256: string };
  training: Record<string, unknown>;
  metrics: Record<string, unknown>;
}

/** models/toxicity-ko/ of this checkout, found from this file's location. */
export function defaultModelDir(): string {
  return fileURLToPath(new URL('../../models/toxicity-ko/', import.meta.url));
}

function sigmoid(z: number): number {
  return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
}

/** A linear classifier over hashed features (used for the loaded model and during training). */
export class LinearToxicityClassifier implements ToxicityClassifier {
  constructor(
    readonly id: string,
    readonly features: FeatureConfig,
    readonly weights: Float32Array,
    readonly bias: number,
    public threshold: number,
    readonly calibration?: PlattScaling,
  ) {
    if (weights.length !== 2 ** features.bucketBits) {
      throw new Error(`weights length ${weights.length} does not match 2^${features.bucketBits} buckets`);
    }
  }

  logit(text: string): number {
    const { idx, val } = extractFeatures(text, this.features);
    let z = this.bias;
    for (let k = 0; k < idx.length; k++) z += this.weights[idx[k]!]! * val[k]!;
    return z;
  }

  score(text: string): number {
    const z = this.logit(text);
    return this.calibration ? applyPlatt(this.calibration, z) : sigmoid(z);
  }
}

/** What is wrong with a parsed header's fields (null when usable). */
function headerProblem(h: ModelHeader): string | null {
  const w = h.weights as Partial<ModelHeader['weights']> | undefined;
  if (!w || typeof w.file !== 'string' || w.file === '' || typeof w.sha256 !== 'string' || typeof w.length !== 'number') return 'missing or malformed "weights" (expected file, dtype, length, sha256)';
  if (w.dtype !== 'float16') return `weights dtype must be "float16", got "${String(w.dtype)}"`;
  const bits = h.features?.bucketBits;
  if (typeof bits !== 'number' || !Number.isInteger(bits) || bits < 1 || bits > 30) return `features.bucketBits must be an integer 1-30, got ${String(bits)}`;
  if (typeof h.bias !== 'number' || !Number.isFinite(h.bias)) return `bias must be a finite number, got ${String(h.bias)}`;
  if (typeof h.threshold !== 'number' || !(h.threshold >= 0 && h.threshold <= 1)) return `threshold must be a number in [0, 1], got ${String(h.threshold)}`;
  const c = h.calibration;
  if (c !== undefined && (typeof c.a !== 'number' || typeof c.b !== 'number' || !Number.isFinite(c.a) || !Number.isFinite(c.b))) return 'calibration must be {"a": number, "b": number}';
  return null;
}

/** Loads a classifier from a model directory (model.json + weights.f16); UserError when broken. */
export async function loadClassifier(dir: string): Promise<LinearToxicityClassifier> {
  const headerPath = join(dir, MODEL_HEADER_FILE);
  let header: ModelHeader;
  try {
    header = JSON.parse(await readFile(headerPath, 'utf8')) as ModelHeader;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') throw new UserError(`${headerPath}: toxicity model header not found (train one with: ko-align toxicity train)`);
    throw new UserError(`${headerPath}: invalid JSON (${err.message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new UserError(`${headerPath}: expected a JSON object (the toxicity model header)`);
  if (header.format !== MODEL_FORMAT || (header.formatVersion !== 1 && header.formatVersion !== 2) || (header.formatVersion === 2) !== (header.calibration !== undefined)) {
    throw new UserError(`${headerPath}: expected format "${MODEL_FORMAT}" version 1, or 2 with calibration, got "${String(header.format)}" version ${String(header.formatVersion)}`);
  }
  const bad = headerProblem(header);
  if (bad) throw new UserError(`${headerPath}: ${bad}`);
  const weightsPath = join(dir, header.weights.file);
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(weightsPath));
  } catch {
    throw new UserError(`${weightsPath}: toxicity model weights not found`);
  }
  const digest = sha256(bytes);
  if (digest !== header.weights.sha256) {
    throw new UserError(`${weightsPath}: sha256 ${digest.slice(0, 12)}... does not match ${headerPath} (${header.weights.sha256.slice(0, 12)}...); the weights are corrupt or from another model`);
  }
  const weights = decodeFloat16(bytes);
  if (weights.length !== header.weights.length || weights.length !== 2 ** header.features.bucketBits) {
    throw new UserError(`${weightsPath}: expected ${header.weights.length} float16 weights (2^${header.features.bucketBits}), found ${weights.length}`);
  }
  return new LinearToxicityClassifier(`${header.name}@${digest.slice(0, 12)}`, header.features, weights, header.bias, header.threshold, header.calibration);
}

/** The committed classifier in models/toxicity-ko/, or null when its weights file is absent. */
export async function loadDefaultClassifier(): Promise<ToxicityClassifier | null> {
  const dir = defaultModelDir();
  if (!existsSync(join(dir, MODEL_HEADER_FILE)) || !existsSync(join(dir, MODEL_WEIGHTS_FILE))) return null;
  return loadClassifier(dir);
}
