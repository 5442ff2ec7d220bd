/**
 * Forward and training-step throughput of the 7M-parameter bench model (vocab 8192, hidden 256,
 * 4 layers, 8 heads / 4 KV heads, intermediate 688, 256 tokens) on KO_ALIGN_BENCH_BACKEND (auto), with the
 * same quantities measured by the PyTorch reference (llama_ref.py's Model, float32, one thread
 * with as many threads as ours) when /usr/bin/python3 with torch is available.
 *
 *   npm run bench forward               (KO_ALIGN_BENCH_NAIVE=1 also times tfjs's own matMul gradient)
 */
import * as tf from '@tensorflow/tfjs-core';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../src/engine/backend.ts';
import { loadNative } from '../src/engine/native/lib.ts';
import { LlamaModel, engineOptions } from '../src/model/llama.ts';
import { randomModelTensors, type TinyModelSpec } from '../src/model/init.ts';
import { tokenLogprobs } from '../src/model/logprobs.ts';
import { generate } from '../src/model/generate.ts';
import { writeSafetensors } from '../src/model/safetensors.ts';
import type { BenchRow } from './types.ts';

export const BENCH_7M: TinyModelSpec = { arch: 'llama', vocab: 8192, hidden: 256, layers: 4, heads: 8, kvHeads: 4, intermediate: 688 };
const SEQ = 256;
const PYTHON = '/usr/bin/python3';
const REF = '/work/shared/reference/llama_ref.py';

function randomIds(B: number, T: number, V: number, seed: number): tf.Tensor2D {
  let s = seed;
  const data = new Int32Array(B * T);
  for (let i = 0; i < data.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    data[i] = s % V;
  }
  return tf.tensor2d(data, [B, T], 'int32');
}

const peakRssMiB = () => process.resourceUsage().maxRSS / 1024;

/**
 * Seconds per call of `fn`: the fastest of `reps` calls after one warm-up call (the minimum is
 * the least disturbed by other processes on a shared machine).
 */
async function timeIt(fn: () => Promise<void>, reps: number): Promise<number> {
  await fn();
  let best = Infinity;
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    best = Math.min(best, (performance.now() - t0) / 1000);
  }
  return best;
}

export async function forwardSeconds(model: LlamaModel, B: number, T: number, reps: number): Promise<number> {
  const ids = randomIds(B, T, model.config.vocabSize, 7);
  const s = await timeIt(async () => {
    const out = model.forward(ids);
    await out.data();
    out.dispose();
  }, reps);
  ids.dispose();
  return s;
}

/** One training step's forward + backward (mean next-token NLL; gradients of every parameter). */
export async function trainStepSeconds(model: LlamaModel, B: number, T: number, reps: number): Promise<number> {
  const ids = randomIds(B, T, model.config.vocabSize, 11);
  const vars = [...model.params.values()];
  const s = await timeIt(async () => {
    const { value, grads } = tf.variableGrads(() => tf.neg(tf.mean(tokenLogprobs(model.forward(ids), ids))) as tf.Scalar, vars);
    await value.data();
    await Promise.all(Object.values(grads).map((g) => g.data()));
    value.dispose();
    tf.dispose(grads);
  }, reps);
  ids.dispose();
  return s;
}

/** Seconds to generate `newTokens` greedy tokens for B prompts of `promptLen` tokens (KV cache). */
export async function decodeSeconds(model: LlamaModel, B: number, promptLen: number, newTokens: number): Promise<number> {
  const V = model.config.vocabSize;
  const prompts = Array.from({ length: B }, (_, i) => Array.from({ length: promptLen }, (_, j) => (i * 131 + j * 17) % V));
  await generate(model, prompts.slice(0, 1), { maxNewTokens: 2, eosTokenIds: [] });
  const t0 = performance.now();
  await generate(model, prompts, { maxNewTokens: newTokens, eosTokenIds: [], batchSize: B });
  return (performance.now() - t0) / 1000;
}

interface TorchNumbers {
  forward_b1: number;
  forward_b8: number;
  train_b8: number;
  peak_rss_mib: number;
  threads: number;
}

function torchReference(dir: string, threads: number): TorchNumbers | string {
  if (!existsSync(PYTHON) || !existsSync(REF)) return `no ${PYTHON} or ${REF}`;
  const code = `
import sys, json, time, resource
sys.path.insert(0, ${JSON.stringify(join(REF, '..'))})
import torch, llama_ref as R
torch.set_num_threads(${threads})
m = R.load(${JSON.stringify(dir)}); m.float()
V = m.cfg["vocab_size"]; T = ${SEQ}
g = torch.Generator().manual_seed(0)
def fwd(B, reps):
    ids = torch.randint(0, V, (B, T), generator=g)
    with torch.no_grad():
        m(ids)
        best = 1e9
        for _ in range(reps):
            t0 = time.time(); m(ids); best = min(best, time.time() - t0)
    return B * T / best
def train(B, reps):
    ids = torch.randint(0, V, (B, T), generator=g)
    def step():
        logits = m(ids)
        loss = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, V), ids[:, 1:].reshape(-1))
        m.zero_grad(); loss.backward()
    step(); best = 1e9
    for _ in range(reps):
        t0 = time.time(); step(); best = min(best, time.time() - t0)
    return B * T / best
out = {"forward_b1": fwd(1, 5), "forward_b8": fwd(8, 3), "train_b8": train(8, 3)}
out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
out["threads"] = torch.get_num_threads()
print(json.dumps(out))
`;
  const r = spawnSync(PYTHON, ['-c', code], { encoding: 'utf8', timeout: 600_000 });
  if (r.status !== 0) return `PyTorch reference failed: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}`;
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as TorchNumbers;
}

export async function run(): Promise<BenchRow[]> {
  const backend = await initBackend(process.env.KO_ALIGN_BENCH_BACKEND ?? 'auto');
  // PyTorch gets as many threads as our backend uses (native: its BLAS threads; wasm: one).
  const threads = backend === 'native' ? loadNative().threads : 1;
  const { config, tensors } = randomModelTensors(BENCH_7M, 0);
  const dir = mkdtempSync(join(tmpdir(), 'ko-align-bench-'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config.raw, null, 2));
  await writeSafetensors(join(dir, 'model.safetensors'), tensors);
  const model = LlamaModel.fromHost(config, tensors, 'bench');
  const params = (model.numParams() / 1e6).toFixed(1);
  const name = `forward ${params}M`;
  const rows: BenchRow[] = [];
  const note = `${backend}, ${threads} thread${threads > 1 ? 's' : ''}, T=${SEQ}`;

  const f1 = await forwardSeconds(model, 1, SEQ, 5);
  const f8 = await forwardSeconds(model, 8, SEQ, 3);
  const rssFwd = peakRssMiB();
  const tr = await trainStepSeconds(model, 8, SEQ, 3);
  const rssTrain = peakRssMiB();
  const dec = await decodeSeconds(model, 8, 64, 32);
  let naive: number | undefined;
  if (process.env.KO_ALIGN_BENCH_NAIVE === '1') {
    engineOptions.explicitTransposeGrads = false;
    naive = await trainStepSeconds(model, 8, SEQ, 1);
    engineOptions.explicitTransposeGrads = true;
  }
  model.dispose();

  const ref = torchReference(dir, threads);
  rmSync(dir, { recursive: true, force: true });
  const refNote = typeof ref === 'string' ? ref : `pytorch float32, ${ref.threads} thread`;
  const r = typeof ref === 'string' ? undefined : ref;
  rows.push({ bench: name, metric: 'forward tokens/s (batch 1)', value: SEQ / f1, unit: 'tok/s', reference: r?.forward_b1, note: `${note}; ${refNote}` });
  rows.push({ bench: name, metric: 'forward tokens/s (batch 8)', value: (8 * SEQ) / f8, unit: 'tok/s', reference: r?.forward_b8, note: `${note}; ${refNote}` });
  rows.push({ bench: name, metric: 'peak RSS after forward', value: rssFwd, unit: 'MiB', reference: r?.peak_rss_mib, note: 'process max RSS (pytorch: its whole run)' });
  rows.push({ bench: name, metric: 'train step tokens/s (batch 8, fwd+bwd)', value: (8 * SEQ) / tr, unit: 'tok/s', reference: r?.train_b8, note: `${note}; explicit-transpose matMul grads; ${refNote}` });
  rows.push({ bench: name, metric: 'peak RSS after train step', value: rssTrain, unit: 'MiB', note: 'process max RSS' });
  rows.push({ bench: name, metric: 'greedy decode tokens/s (batch 8, KV cache)', value: (8 * 32) / dec, unit: 'tok/s', note: `${backend}; 64-token prompts, 32 new tokens each, prompt pass included` });
  if (naive !== undefined) {
    rows.push({ bench: name, metric: 'train step tokens/s, tfjs matMul grads', value: (8 * SEQ) / naive, unit: 'tok/s', note: `${note}; transposeA/B flags (before the custom gradient)` });
  }
  return rows;
}
