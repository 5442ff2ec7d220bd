/**
 * GPU benchmark for issue 10 (runs on the webgpu backend; see docs/gpu.md and bench/gpu/run.sh).
 *
 *   parity    token log-probs of every committed golden fixture (test/fixtures/model/<name>/
 *             expected.jsonl, made by the PyTorch reference) vs ours: max abs diff, pass <= 2e-3
 *   sft-7m    SFT training tokens/s, 7M bench model (vocab 8192, hidden 256, 4 layers, 8 heads /
 *             4 kv heads, intermediate 688), batch 8 x 256
 *   kto-7m    KTO training tokens/s, same model, batch 8 x (128 prompt + 128 completion)
 *   sft-100m  SFT tokens/s, ~110M Llama (vocab 32000, hidden 768, 12 layers, 12 heads / 12 kv
 *             heads, intermediate 2048, tied embeddings), batch 8 x 512
 *   kto-100m  KTO tokens/s, same model, batch 8 x (256 + 256)
 *
 * The training phases run the real trainers (trainSft / trainKto: forward, loss, backward, AdamW
 * on every parameter; gradient clipping off, as in the PyTorch step of torch_ref.py). tokens/s =
 * batch x seq / (median seconds of the timed steps); the first `warmup` steps (shader compilation,
 * KTO reference cache) are not timed. GPU memory is tf.memory().numBytesInGPU where the backend
 * exposes it (webgpu), sampled after each step, and tf.profile's peak tensor bytes of one
 * forward+backward. One extra forward+backward under tf.profile counts kernel launches.
 *
 *   node --import tsx bench/gpu/bench.ts [--phase all|parity|sft-7m|...] [--out results.jsonl]
 *   node --import tsx bench/gpu/bench.ts --summary results.jsonl [torch.jsonl]   (table + ratio)
 *
 * Env: KO_ALIGN_GPU_BENCH_BACKEND (default webgpu), KO_ALIGN_GPU_BENCH_SMOKE=1 (tiny models on
 * wasm, for checking the code path on a CPU machine), KO_ALIGN_GPU_BENCH_STEPS (timed steps),
 * KO_ALIGN_GPU_BENCH_PROFILE=0 (skip the tf.profile pass), KO_ALIGN_GPU_BENCH_BATCH_100M (batch
 * of the ~110M model, default 8; torch_ref.py reads the same variable so the ratio stays fair).
 */
import * as tf from '@tensorflow/tfjs-core';
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend } from '../../src/engine/backend.ts';
import { loadModel } from '../../src/model/checkpoint.ts';
import { parseConfig, countParams } from '../../src/model/config.ts';
import { randomWeights, tinyConfigJson, type TinyModelSpec } from '../../src/model/init.ts';
import { sequenceLogprobs } from '../../src/model/logprobs.ts';
import { writeSafetensors } from '../../src/model/safetensors.ts';
import { collate, toUnit } from '../../src/train/data.ts';
import { sftLossSum, trainSft, validateSftConfig } from '../../src/train/sft.ts';
import { trainKto, validateKtoConfig } from '../../src/train/kto.ts';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '..', '..');

export const SMOKE = process.env.KO_ALIGN_GPU_BENCH_SMOKE === '1';
export const BACKEND = process.env.KO_ALIGN_GPU_BENCH_BACKEND ?? (SMOKE ? 'wasm' : 'webgpu');
export const PARITY_TOLERANCE = 2e-3;

export interface BenchModel {
  name: string;
  spec: TinyModelSpec;
  batch: number;
  seq: number;
  warmup: number;
  timed: number;
}

const timedEnv = process.env.KO_ALIGN_GPU_BENCH_STEPS ? Number(process.env.KO_ALIGN_GPU_BENCH_STEPS) : undefined;

/** The two benchmark models of issue 10 (tiny stand-ins in smoke mode). */
export const MODELS: Record<'7m' | '100m', BenchModel> = SMOKE
  ? {
      '7m': { name: 'smoke-7m', spec: { arch: 'llama', vocab: 256, hidden: 32, layers: 2, heads: 4, kvHeads: 2, intermediate: 64 }, batch: 2, seq: 16, warmup: 1, timed: timedEnv ?? 1 },
      '100m': { name: 'smoke-100m', spec: { arch: 'llama', vocab: 320, hidden: 48, layers: 2, heads: 4, kvHeads: 4, intermediate: 96, tie: true }, batch: 2, seq: 32, warmup: 1, timed: timedEnv ?? 1 },
    }
  : {
      '7m': { name: '7M', spec: { arch: 'llama', vocab: 8192, hidden: 256, layers: 4, heads: 8, kvHeads: 4, intermediate: 688 }, batch: 8, seq: 256, warmup: 2, timed: timedEnv ?? 5 },
      '100m': { name: '~110M', spec: { arch: 'llama', vocab: 32000, hidden: 768, layers: 12, heads: 12, kvHeads: 12, intermediate: 2048, tie: true }, batch: Number(process.env.KO_ALIGN_GPU_BENCH_BATCH_100M ?? 8), seq: 512, warmup: 1, timed: timedEnv ?? 3 },
    };

export const PHASES = ['parity', 'sft-7m', 'kto-7m', 'sft-100m', 'kto-100m'] as const;
export type Phase = (typeof PHASES)[number];

/** One result line (results.jsonl). */
export interface Result {
  phase: string;
  backend: string;
  ok: boolean;
  smoke: boolean;
  [key: string]: unknown;
}

/* ----------------------------------------------------------------------------------------- */

function jsonl(path: string): Record<string, unknown>[] {
  return readFileSync(path, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

/** Fixture folders that hold expected.jsonl (every committed golden model). */
export function fixtureDirs(root = join(repoRoot, 'test', 'fixtures', 'model')): string[] {
  return readdirSync(root)
    .filter((n) => existsSync(join(root, n, 'expected.jsonl')) && existsSync(join(root, n, 'input.jsonl')))
    .sort()
    .map((n) => join(root, n));
}

async function parity(backend: string): Promise<Result> {
  const fixtures: { name: string; maxAbsDiff: number; rows: number; ok: boolean }[] = [];
  for (const dir of fixtureDirs()) {
    const model = await loadModel(dir);
    try {
      const inputs = jsonl(join(dir, 'input.jsonl')).map((r) => ({ ids: r.input_ids as number[] }));
      const expected = jsonl(join(dir, 'expected.jsonl')).map((r) => r.token_logprobs as number[]);
      const got = await sequenceLogprobs(model, inputs, { batchSize: 3 });
      let max = 0;
      for (let i = 0; i < inputs.length; i++) {
        if (got[i].tokenLogprobs.length !== expected[i].length) {
          max = Infinity;
          continue;
        }
        for (let t = 0; t < expected[i].length; t++) max = Math.max(max, Math.abs(got[i].tokenLogprobs[t] - expected[i][t]));
      }
      fixtures.push({ name: dir.split('/').pop()!, maxAbsDiff: max, rows: inputs.length, ok: max <= PARITY_TOLERANCE });
    } finally {
      model.dispose();
    }
  }
  const worst = Math.max(...fixtures.map((f) => f.maxAbsDiff));
  return { phase: 'parity', backend, smoke: SMOKE, ok: fixtures.length > 0 && fixtures.every((f) => f.ok), tolerance: PARITY_TOLERANCE, maxAbsDiff: worst, fixtures };
}

/* ----------------------------------------------------------------------------------------- */

/** A deterministic LCG over [0, n). */
function idStream(seed: number, n: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s % n;
  };
}

/** Writes config.json + model.safetensors of a random model for `m` into `dir`. */
export async function writeBenchModel(m: BenchModel, dir: string): Promise<number> {
  const raw = tinyConfigJson({ ...m.spec, bosTokenId: 1, eosTokenId: 2, padTokenId: 0, maxPositionEmbeddings: Math.max(2048, m.seq) });
  const config = parseConfig(raw, 'bench model');
  writeFileSync(join(dir, 'config.json'), `${JSON.stringify(raw, null, 2)}\n`);
  await writeSafetensors(join(dir, 'model.safetensors'), randomWeights(config, 0, 0.02));
  return countParams(config);
}

const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

interface MemSample {
  numBytesInGPU?: number;
  numBytesAllocatedInGPU?: number;
  numTensors: number;
}

function memSample(): MemSample {
  const m = tf.memory() as tf.MemoryInfo & { numBytesInGPU?: number; numBytesAllocatedInGPU?: number };
  return { numBytesInGPU: m.numBytesInGPU, numBytesAllocatedInGPU: m.numBytesAllocatedInGPU, numTensors: m.numTensors };
}

/** Kernel launches and time of one SFT forward+backward under tf.profile. */
async function profileStep(modelDir: string, m: BenchModel): Promise<Record<string, unknown>> {
  const model = await loadModel(modelDir);
  try {
    const next = idStream(99, m.spec.vocab);
    const units = Array.from({ length: m.batch }, () => {
      const ids = Array.from({ length: m.seq }, next);
      return toUnit({ input_ids: ids, labels: ids }, m.seq);
    });
    const batch = collate(units);
    const vars = [...model.params.values()];
    // Async reads only: the webgpu backend's dataSync needs OffscreenCanvas, which Node lacks.
    const run = async () => {
      const { value, grads } = tf.variableGrads(() => sftLossSum(model, batch), vars);
      await value.data();
      tf.dispose([value, ...Object.values(grads)]);
    };
    await run(); // warm (shaders compiled)
    const t0 = performance.now();
    const info = await tf.profile(run);
    const wallMs = performance.now() - t0;
    const agg = new Map<string, { ms: number; calls: number }>();
    let timed = 0;
    for (const k of info.kernels) {
      const a = agg.get(k.name) ?? { ms: 0, calls: 0 };
      if (typeof k.kernelTimeMs === 'number') {
        a.ms += k.kernelTimeMs;
        timed++;
      }
      a.calls++;
      agg.set(k.name, a);
    }
    const top = [...agg.entries()].map(([kernel, a]) => ({ kernel, ms: Number(a.ms.toFixed(3)), calls: a.calls })).sort((x, y) => y.ms - x.ms || y.calls - x.calls).slice(0, 12);
    const kernelMs = [...agg.values()].reduce((s, a) => s + a.ms, 0);
    return {
      kernelLaunches: info.kernels.length,
      kernelsWithTime: timed,
      kernelMsSum: timed ? Number(kernelMs.toFixed(2)) : null,
      profiledWallMs: Number(wallMs.toFixed(1)),
      peakTensorBytes: info.peakBytes,
      newBytes: info.newBytes,
      top,
    };
  } finally {
    model.dispose();
  }
}

async function trainPhase(method: 'sft' | 'kto', size: '7m' | '100m', backend: string): Promise<Result> {
  const m = MODELS[size];
  const work = mkdtempSync(join(tmpdir(), `ko-align-gpu-${method}-${size}-`));
  try {
    const modelDir = join(work, 'model');
    await import('node:fs/promises').then((f) => f.mkdir(modelDir));
    const params = await writeBenchModel(m, modelDir);
    const steps = m.warmup + m.timed;
    const next = idStream(size === '7m' ? 1 : 2, m.spec.vocab - 3);
    const ids = (n: number) => Array.from({ length: n }, () => 3 + next());
    const rows: string[] = [];
    const half = m.seq / 2;
    for (let i = 0; i < m.batch * steps; i++) {
      rows.push(JSON.stringify(method === 'sft' ? { input_ids: ids(m.seq) } : { prompt_input_ids: ids(half), completion_input_ids: ids(half), label: i % 2 === 0 }));
    }
    const data = join(work, 'rows.jsonl');
    writeFileSync(data, rows.join('\n') + '\n');
    const common = {
      model: modelDir, output_dir: join(work, 'out'), max_steps: steps, per_device_train_batch_size: m.batch,
      lr_scheduler_type: 'constant', max_length: m.seq, shuffle: false, logging_steps: 1, save_steps: 0, backend, max_grad_norm: 0,
    };
    const stamps: number[] = [];
    const mem: MemSample[] = [];
    const onStep = async () => {
      stamps.push(performance.now());
      mem.push(memSample());
    };
    const t0 = performance.now();
    stamps.push(t0);
    if (method === 'sft') {
      const cfg = validateSftConfig({ ...common, dataset: { path: data, format: 'pretokenized' }, learning_rate: 1e-4, neftune_noise_alpha: 0 }, 'gpu bench');
      await trainSft(cfg, { log: () => {}, progress: false, onStep });
    } else {
      const cfg = validateKtoConfig(
        { ...common, dataset: { path: data, format: 'pretokenized' }, learning_rate: 1e-6, beta: 0.1, max_prompt_length: half, max_completion_length: half, ref_logps_cache: join(work, 'cache'), ref_batch_size: m.batch },
        'gpu bench',
      );
      await trainKto(cfg, { log: () => {}, progress: false, onStep });
    }
    const stepSeconds = stamps.slice(1).map((t, i) => (t - stamps[i]) / 1000);
    const timed = stepSeconds.slice(m.warmup);
    const tokens = m.batch * m.seq;
    const gpuBytes = mem.map((s) => s.numBytesInGPU).filter((v): v is number => typeof v === 'number');
    const gpuAlloc = mem.map((s) => s.numBytesAllocatedInGPU).filter((v): v is number => typeof v === 'number');
    const profile = process.env.KO_ALIGN_GPU_BENCH_PROFILE === '0' || method !== 'sft' ? undefined : await profileStep(modelDir, m);
    return {
      phase: `${method}-${size}`, backend, smoke: SMOKE, ok: timed.length > 0 && timed.every((s) => s > 0 && Number.isFinite(s)),
      method, model: m.name, params, spec: m.spec, batch: m.batch, seq: m.seq,
      tokensPerStep: tokens,
      tokensPerSecond: tokens / median(timed),
      bestTokensPerSecond: tokens / Math.min(...timed),
      stepSeconds: stepSeconds.map((s) => Number(s.toFixed(4))),
      warmupSteps: m.warmup,
      gpuBytesPeak: gpuBytes.length ? Math.max(...gpuBytes) : null,
      gpuBytesAllocatedPeak: gpuAlloc.length ? Math.max(...gpuAlloc) : null,
      // A leak shows as numTensors growing from one step to the next.
      numTensorsPerStep: mem.map((s) => s.numTensors),
      profile,
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/* ----------------------------------------------------------------------------------------- */

function adapterInfo(): Record<string, unknown> | undefined {
  let b: { adapterInfo?: Record<string, unknown> };
  try {
    b = tf.backend() as unknown as typeof b;
  } catch {
    return undefined; // no backend could be initialised
  }
  if (!b.adapterInfo) return undefined;
  const out: Record<string, unknown> = {};
  for (const k of ['vendor', 'architecture', 'device', 'description', 'intelGPUGeneration', 'isIntel']) {
    const v = (b.adapterInfo as Record<string, unknown>)[k];
    if (v !== undefined && typeof v !== 'function') out[k] = v;
  }
  return out;
}

export async function runPhase(phase: Phase): Promise<Result> {
  const started = performance.now();
  let backend = BACKEND;
  let res: Result;
  try {
    backend = await initBackend(BACKEND, { log: (l) => process.stderr.write(`${l}\n`) });
    if (phase === 'parity') res = await parity(backend);
    else {
      const [method, size] = phase.split('-') as ['sft' | 'kto', '7m' | '100m'];
      res = await trainPhase(method, size, backend);
    }
  } catch (e) {
    const err = e as Error;
    res = { phase, backend, smoke: SMOKE, ok: false, error: `${err.name}: ${err.message}`.split('\n')[0], stack: err.stack?.split('\n').slice(1, 8).map((l) => l.trim()) };
    if (phase !== 'parity') {
      const m = MODELS[phase.split('-')[1] as '7m' | '100m'];
      Object.assign(res, { model: m.name, batch: m.batch, seq: m.seq });
    }
  }
  res.seconds = Number(((performance.now() - started) / 1000).toFixed(1));
  const info = adapterInfo();
  if (info) res.adapter = info;
  return res;
}

/* ----------------------------------------------------------------------------------------- */

const fmt = (v: unknown, d = 0) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(d) : '-');
const mib = (v: unknown) => (typeof v === 'number' ? (v / 2 ** 20).toFixed(0) : '-');

/** A PyTorch result line (bench/gpu/torch_ref.py). */
export interface TorchResult {
  method: string;
  model: string;
  mode: string;
  tokens_per_s: number;
  [key: string]: unknown;
}

/** The markdown table of our results beside PyTorch's (ratio = ours / PyTorch float32). */
export function summaryTable(results: Result[], torch: TorchResult[]): string {
  const lines: string[] = [];
  const parityRes = results.filter((r) => r.phase === 'parity');
  for (const p of parityRes) {
    lines.push(`parity on ${p.backend}: ${p.ok ? 'PASS' : 'FAIL'} (max abs diff ${typeof p.maxAbsDiff === 'number' ? p.maxAbsDiff.toExponential(2) : '-'}, tolerance ${PARITY_TOLERANCE})${p.error ? ` error: ${p.error}` : ''}`);
    for (const f of (p.fixtures as { name: string; maxAbsDiff: number; ok: boolean }[] | undefined) ?? []) {
      lines.push(`  ${f.name.padEnd(22)} ${f.maxAbsDiff.toExponential(2)} ${f.ok ? 'ok' : 'FAIL'}`);
    }
  }
  lines.push('');
  lines.push('| phase | backend | model | batch x seq | tokens/s (median) | step s | PyTorch fp32 tok/s | ratio | PyTorch tf32 | PyTorch bf16 autocast | GPU MiB (live / pool) | kernels per fwd+bwd |');
  lines.push('| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |');
  for (const r of results.filter((x) => x.phase !== 'parity')) {
    const [method, size] = String(r.phase).split('-');
    const t = (mode: string) => torch.find((x) => x.method === method && x.model === size && x.mode === mode)?.tokens_per_s;
    const fp32 = t('fp32');
    const ratio = typeof r.tokensPerSecond === 'number' && fp32 ? `${((100 * r.tokensPerSecond) / fp32).toFixed(1)}%` : '-';
    const stepS = typeof r.tokensPerSecond === 'number' ? (Number(r.tokensPerStep) / r.tokensPerSecond).toFixed(3) : '-';
    const prof = r.profile as { kernelLaunches?: number } | undefined;
    lines.push(
      `| ${r.phase} | ${r.backend}${r.ok ? '' : ' (FAILED)'} | ${r.model ?? size} ${r.params ? `(${(Number(r.params) / 1e6).toFixed(1)}M)` : ''} | ${r.batch ?? '-'} x ${r.seq ?? '-'} | ${fmt(r.tokensPerSecond)} | ${stepS} | ${fmt(fp32)} | ${ratio} | ${fmt(t('tf32'))} | ${fmt(t('bf16'))} | ${mib(r.gpuBytesPeak)} / ${mib(r.gpuBytesAllocatedPeak)} | ${prof?.kernelLaunches ?? '-'} |`,
    );
    if (r.error) lines.push(`|  | error: ${String(r.error).replaceAll('|', '/').slice(0, 300)} | | | | | | | | | | |`);
  }
  // PyTorch rows with no matching phase of ours still get shown.
  for (const x of torch.filter((x) => !results.some((r) => r.phase === `${x.method}-${x.model}`))) {
    lines.push(`| ${x.method}-${x.model} | (not run) | ${x.model} | - | - | - | ${x.mode === 'fp32' ? fmt(x.tokens_per_s) : '-'} | - | ${x.mode === 'tf32' ? fmt(x.tokens_per_s) : '-'} | ${x.mode === 'bf16' ? fmt(x.tokens_per_s) : '-'} | - | - |`);
  }
  return lines.join('\n');
}

function readJsonl<T>(path: string): T[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').split('\n').filter((l) => l.trim().startsWith('{')).map((l) => JSON.parse(l) as T);
}

async function main(argv: string[]): Promise<number> {
  const arg = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const summary = arg('--summary');
  if (summary) {
    const torchPath = argv[argv.indexOf('--summary') + 2];
    process.stdout.write(`${summaryTable(readJsonl<Result>(summary), torchPath ? readJsonl<TorchResult>(torchPath) : [])}\n`);
    return 0;
  }
  const phaseArg = arg('--phase') ?? 'all';
  const phases = phaseArg === 'all' ? [...PHASES] : phaseArg.split(',');
  for (const p of phases) if (!(PHASES as readonly string[]).includes(p)) throw new Error(`--phase: unknown phase '${p}' (expected all or ${PHASES.join(', ')})`);
  const out = arg('--out');
  const results: Result[] = [];
  for (const p of phases as Phase[]) {
    const r = await runPhase(p);
    results.push(r);
    const line = JSON.stringify(r);
    if (out) appendFileSync(out, line + '\n');
    process.stdout.write(`GPU_BENCH_RESULT ${line}\n`);
  }
  process.stdout.write(`\n${summaryTable(results, [])}\n`);
  return results.every((r) => r.ok) ? 0 : 1;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
