/**
 * SFT training throughput on the 7M bench model (vocab 8192, hidden 256, 4 layers, 8 heads /
 * 4 kv heads, intermediate 688), batch 8 x 256, beside the PyTorch reference's `bench` on the same
 * model and machine (2 threads). Our side runs the real trainer loop (trainSft on pre-tokenized
 * rows: forward, cross-entropy, backward, AdamW) in a child process so its peak RSS is its own.
 * tokens/s counts batch x seq per step, as the reference does; the first step is warm-up. The
 * machine is shared, so both sides report their best: our fastest timed step, PyTorch's best of 2 runs.
 *
 * Also profiles one training step by tfjs kernel (KO_ALIGN_BENCH_PROFILE=1 prints the top ops).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchRow } from './types.ts';

const here = dirname(fileURLToPath(import.meta.url));
const PY = '/usr/bin/python3';
const REF = process.env.KO_ALIGN_LLAMA_REF ?? '/work/shared/reference/llama_ref.py';
const B = 8;
const T = 256;
const STEPS = Number(process.env.KO_ALIGN_BENCH_SFT_STEPS ?? 3);
const BACKEND = process.env.KO_ALIGN_BENCH_BACKEND ?? 'auto';

interface ChildResult {
  tokensPerSecond: number;
  stepSeconds: number[];
  peakRssMiB: number;
  backend: string;
  profile?: { kernel: string; ms: number; calls: number }[];
  /** tf.profile's peak tensor bytes of one forward+backward (MiB). */
  peakTensorMiB?: number;
}

/** Runs inside the child: trains STEPS+1 steps and prints one JSON line. */
async function child(modelDir: string, workDir: string): Promise<void> {
  const tf = await import('@tensorflow/tfjs-core');
  const { Rng } = await import('../src/train/rng.ts');
  const { trainSft, validateSftConfig } = await import('../src/train/sft.ts');
  const { currentBackend } = await import('../src/engine/backend.ts');
  const rng = new Rng(0);
  const rows: string[] = [];
  for (let i = 0; i < B * (STEPS + 1); i++) rows.push(JSON.stringify({ input_ids: Array.from({ length: T }, () => rng.int(8192)) }));
  const data = join(workDir, 'rows.jsonl');
  writeFileSync(data, rows.join('\n') + '\n');
  const cfg = validateSftConfig({
    model: modelDir, output_dir: join(workDir, 'out'), dataset: { path: data, format: 'pretokenized' }, max_steps: STEPS + 1,
    per_device_train_batch_size: B, learning_rate: 1e-4, lr_scheduler_type: 'constant', max_length: T, shuffle: false,
    logging_steps: 1, save_steps: 0, backend: BACKEND, max_grad_norm: 0,
  });
  const stamps: number[] = [performance.now()];
  let profile: ChildResult['profile'];
  let peakTensorMiB: number | undefined;
  await trainSft(cfg, {
    log: () => {},
    onStep: () => void stamps.push(performance.now()),
  });
  if (process.env.KO_ALIGN_BENCH_PROFILE) {
    // One more forward+backward under tf.profile, grouped by kernel.
    const { loadModel } = await import('../src/model/checkpoint.ts');
    const { collate, toUnit } = await import('../src/train/data.ts');
    const { sftLossSum } = await import('../src/train/sft.ts');
    const model = await loadModel(modelDir);
    const batch = collate(rows.slice(0, B).map((r) => toUnit({ input_ids: JSON.parse(r).input_ids, labels: JSON.parse(r).input_ids }, T)));
    const vars = [...model.params.values()];
    const info = await tf.profile(() => {
      const { value, grads } = tf.variableGrads(() => sftLossSum(model, batch), vars);
      value.dispose();
      tf.dispose(Object.values(grads));
    });
    const agg = new Map<string, { ms: number; calls: number }>();
    for (const k of info.kernels) {
      const a = agg.get(k.name) ?? { ms: 0, calls: 0 };
      a.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
      a.calls += 1;
      agg.set(k.name, a);
    }
    peakTensorMiB = info.peakBytes / 2 ** 20;
    profile = [...agg.entries()].map(([kernel, a]) => ({ kernel, ...a })).sort((x, y) => y.ms - x.ms).slice(0, 15);
  }
  const steps = stamps.slice(1).map((t, i) => (t - stamps[i]) / 1000);
  const timed = steps.slice(1); // the first step is warm-up (as the reference's untimed step)
  const res: ChildResult = {
    // Best timed step: on a shared machine the other load only ever slows a step down.
    tokensPerSecond: (B * T) / Math.min(...timed),
    stepSeconds: steps,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
    backend: currentBackend(),
    profile,
    peakTensorMiB,
  };
  process.stdout.write(`BENCH_RESULT ${JSON.stringify(res)}\n`);
}

function makeModel(dir: string): void {
  if (existsSync(join(dir, 'config.json'))) return;
  const r = spawnSync(PY, [REF, 'make', '--out', dir, '--vocab', '8192', '--hidden', '256', '--layers', '4', '--heads', '8', '--kv-heads', '4', '--inter', '688', '--seed', '0'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`llama_ref.py make failed: ${r.stderr}`);
}

/** The reference's tokens/s and peak RSS (MiB), or undefined when torch is not available. */
function reference(modelDir: string): { tokensPerSecond: number; peakRssMiB: number } | undefined {
  const code = [
    'import resource, runpy, sys, json, io, contextlib',
    `sys.argv = ['llama_ref.py', 'bench', '--model', ${JSON.stringify(modelDir)}, '--batch', '${B}', '--seq', '${T}', '--steps', '${STEPS}', '--threads', '2']`,
    `runpy.run_path(${JSON.stringify(REF)}, run_name='__main__')`,
    "print('RSS', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)",
  ].join('\n');
  const r = spawnSync(PY, ['-c', code], { encoding: 'utf8' });
  if (r.status !== 0) return undefined;
  const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
  const rss = /RSS (\d+)/.exec(r.stdout);
  if (!line || !rss) return undefined;
  return { tokensPerSecond: (JSON.parse(line) as { tokens_per_s: number }).tokens_per_s, peakRssMiB: Number(rss[1]) / 1024 };
}

export async function run(): Promise<BenchRow[]> {
  const work = mkdtempSync(join(tmpdir(), 'ko-align-bench-sft-'));
  const modelDir = process.env.KO_ALIGN_BENCH_MODEL ?? join(work, 'bench-7m');
  makeModel(modelDir);
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(here, 'sft.ts')], {
    encoding: 'utf8',
    env: { ...process.env, KO_ALIGN_BENCH_SFT_CHILD: JSON.stringify({ modelDir, work }) },
    maxBuffer: 1 << 24,
  });
  const line = r.stdout.split('\n').find((l) => l.startsWith('BENCH_RESULT '));
  if (r.status !== 0 || !line) throw new Error(`bench sft child failed: ${r.stderr.slice(-2000)}`);
  const ours = JSON.parse(line.slice('BENCH_RESULT '.length)) as ChildResult;
  if (ours.profile) {
    process.stderr.write(`bench sft: one forward+backward: peak tensor memory ${ours.peakTensorMiB?.toFixed(0)} MiB; time by kernel (ms, calls):\n`);
    for (const p of ours.profile) process.stderr.write(`  ${p.kernel.padEnd(24)} ${p.ms.toFixed(0).padStart(7)} ${String(p.calls).padStart(5)}\n`);
  }
  // The reference is run twice and its best kept, for the same reason as our best step.
  const refs = [reference(modelDir), reference(modelDir)].filter((r) => r !== undefined);
  const ref = refs.length ? { tokensPerSecond: Math.max(...refs.map((r) => r.tokensPerSecond)), peakRssMiB: Math.max(...refs.map((r) => r.peakRssMiB)) } : undefined;
  const note = `7M model, batch ${B}x${T}, ${ours.backend}, steps ${ours.stepSeconds.map((s) => s.toFixed(2)).join('/')} s (first = warm-up; best timed step counted); PyTorch: 2 threads, best of 2 runs of ${STEPS} steps`;
  return [
    { bench: 'sft 7M', metric: 'train tokens/s', value: ours.tokensPerSecond, unit: 'tok/s', reference: ref?.tokensPerSecond, note },
    { bench: 'sft 7M', metric: 'peak RSS', value: ours.peakRssMiB, unit: 'MiB', reference: ref?.peakRssMiB, note: 'whole process (lower is better)' },
  ];
}

if (process.env.KO_ALIGN_BENCH_SFT_CHILD) {
  const { modelDir, work } = JSON.parse(process.env.KO_ALIGN_BENCH_SFT_CHILD) as { modelDir: string; work: string };
  await child(modelDir, work);
}
