import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../src/engine/backend.ts';
import { readSafetensors } from '../../src/model/safetensors.ts';
import { trainSft, validateSftConfig } from '../../src/train/sft.ts';
import { listCheckpoints, train, TrainingDivergedError, type TrainLoopConfig, type TrainTask } from '../../src/train/trainer.ts';
import { repoRoot } from '../helpers/cli.ts';

const FIX = join(repoRoot, 'test', 'fixtures', 'train');
const tmp = (p: string) => mkdtempSync(join(tmpdir(), `ko-align-${p}-`));

beforeAll(async () => {
  await initBackend('wasm', { log: () => {} });
});

function sftCfg(out: string, over: Record<string, unknown> = {}) {
  return validateSftConfig({
    model: join(FIX, 'tiny-llama'),
    output_dir: out,
    dataset: { path: join(FIX, 'sft-rows.jsonl') },
    max_steps: 4,
    per_device_train_batch_size: 6,
    learning_rate: 1e-3,
    lr_scheduler_type: 'constant',
    max_grad_norm: 0,
    shuffle: false,
    logging_steps: 1,
    save_steps: 0,
    backend: 'wasm',
    ...over,
  });
}

describe('gradient accumulation', () => {
  it('weights micro-batches by their trained tokens: 3 micro-batches of 2 rows give the full-batch trajectory', async () => {
    const full = await trainSft(sftCfg(tmp('ga-full')), { log: () => {} });
    const acc = await trainSft(sftCfg(tmp('ga-acc'), { per_device_train_batch_size: 2, gradient_accumulation_steps: 3 }), { log: () => {} });
    full.metrics.forEach((m, i) => {
      expect(acc.metrics[i].loss).toBeCloseTo(m.loss!, 4);
      expect(acc.metrics[i].grad_norm).toBeCloseTo(m.grad_norm!, 4);
    });
    const a = readSafetensors(join(full.finalDir, 'model.safetensors'));
    const b = readSafetensors(join(acc.finalDir, 'model.safetensors'));
    for (const [k, t] of a) {
      const u = b.get(k)!.data;
      let maxd = 0;
      t.data.forEach((v, i) => (maxd = Math.max(maxd, Math.abs(v - u[i]))));
      expect(maxd).toBeLessThan(1e-4);
    }
  });
});

describe('memory', () => {
  it('does not leak tensors across steps (NEFTune, LoRA dropout, accumulation, clipping)', async () => {
    const counts: number[] = [];
    await trainSft(
      sftCfg(tmp('mem'), { max_steps: 5, per_device_train_batch_size: 3, gradient_accumulation_steps: 2, neftune_noise_alpha: 5, max_grad_norm: 0.5, lora: { r: 2, dropout: 0.1 } }),
      { log: () => {}, onStep: () => void counts.push(tf.memory().numTensors) },
    );
    expect(counts).toHaveLength(5);
    expect(new Set(counts.slice(1)).size).toBe(1);
  });
});

/** A one-parameter task: loss = (w - 3)^2 per unit, NaN from step `nanAt` on. */
function toyTask(w: tf.Variable, nanAt: number): TrainTask<number[]> {
  let calls = 0;
  return {
    numUnits: 4,
    params: [{ name: 'w', variable: w, lr: 0.1, weightDecay: 0 }],
    makeBatch: (u) => u,
    weight: (b) => b.length,
    tokens: (b) => b.length,
    loss: (b, ctx) => {
      calls++;
      const l = tf.mul(tf.sum(tf.square(tf.sub(w, 3))), b.length / ctx.normalizer) as tf.Scalar;
      return { loss: ctx.step + 1 >= nanAt ? (tf.mul(l, NaN) as tf.Scalar) : l, logs: { calls: { sum: calls, count: 1 } } };
    },
    saveFinal: async (dir) => writeFileSync(join(dir + '.txt'), String(w.dataSync()[0])),
  };
}

const loopCfg = (out: string): TrainLoopConfig => ({
  output_dir: out, max_steps: 6, num_train_epochs: 1, per_device_train_batch_size: 2, gradient_accumulation_steps: 1,
  learning_rate: 0.1, lr_scheduler_type: 'constant', warmup_steps: 0, warmup_ratio: 0, adam_beta1: 0.9, adam_beta2: 0.999,
  adam_epsilon: 1e-8, max_grad_norm: 1, shuffle: true, seed: 1, logging_steps: 1, save_steps: 2, eval_steps: 0,
  save_total_limit: 0, overwrite_output_dir: false,
});

describe('NaN / inf loss', () => {
  it('stops with a clear error naming the step, applies nothing of it and keeps the last good checkpoint', async () => {
    const out = tmp('nan');
    const w = tf.variable(tf.scalar(0));
    const err = await train(loopCfg(out), toyTask(w, 4), { log: () => {} }).catch((e) => e);
    expect(err).toBeInstanceOf(TrainingDivergedError);
    expect(err.message).toMatch(/step 4: loss is NaN/);
    expect(err.message).toContain('checkpoint-2');
    expect(listCheckpoints(out).map((c) => c.step)).toEqual([2]);
    expect(existsSync(join(out, 'final'))).toBe(false);
    expect(Number.isFinite(w.dataSync()[0])).toBe(true);
    w.dispose();
  });

  it('refuses a fresh run into an output_dir with checkpoints unless --resume or overwrite_output_dir', async () => {
    const out = tmp('again');
    const w = tf.variable(tf.scalar(0));
    await train(loopCfg(out), toyTask(w, 99), { log: () => {} });
    await expect(train(loopCfg(out), toyTask(w, 99), { log: () => {} })).rejects.toThrow(/already holds checkpoints.*--resume/);
    w.dispose();
  });
});

describe('schedule, logging and checkpoint rotation', () => {
  it('logs the scheduled learning rate and averaged task metrics, and keeps only save_total_limit checkpoints', async () => {
    const out = tmp('rotate');
    const w = tf.variable(tf.scalar(0));
    const cfg = { ...loopCfg(out), lr_scheduler_type: 'linear' as const, warmup_steps: 2, save_total_limit: 1, logging_steps: 2 };
    const res = await train(cfg, toyTask(w, 99), { log: () => {} });
    expect(res.metrics.map((m) => m.step)).toEqual([2, 4, 6]);
    // lr used at steps 2, 4, 6 (0-based 1, 3, 5): warmup 1/2, then (6 - s) / 4
    [0.05, 0.075, 0.025].forEach((lr, i) => expect(res.metrics[i].learning_rate).toBeCloseTo(lr, 12));
    // 'calls' is averaged over the interval's two micro-batches: (1 + 2) / 2, (3 + 4) / 2, ...
    expect(res.metrics.map((m) => m.calls)).toEqual([1.5, 3.5, 5.5]);
    expect(listCheckpoints(out).map((c) => c.step)).toEqual([4]);
    expect(readFileSync(join(out, 'final.txt'), 'utf8')).toBe(String(w.dataSync()[0]));
    w.dispose();
  });
});

describe('resume', () => {
  it('a run killed with SIGKILL and resumed ends with bit-identical weights and the same metrics as an uninterrupted run', async () => {
    const over = {
      max_steps: 6, per_device_train_batch_size: 2, gradient_accumulation_steps: 2, shuffle: true, neftune_noise_alpha: 8,
      save_steps: 2, lr_scheduler_type: 'cosine', warmup_steps: 1, max_grad_norm: 1, weight_decay: 0.01,
    };
    const ref = await trainSft(sftCfg(tmp('resume-ref'), over), { log: () => {} });

    const out = tmp('resume-kill');
    const cfgPath = join(out, '..', `${out.split('/').pop()}.json`);
    writeFileSync(cfgPath, JSON.stringify({ ...sftCfg(out, over) }));
    const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'test', 'train', 'resume-child.ts'), cfgPath], {
      cwd: repoRoot,
      env: { ...process.env, STEP_SLEEP_MS: '400' },
      stdio: 'ignore',
    });
    const exited = new Promise<string | null>((r) => child.on('exit', (_c, sig) => r(sig)));
    const t0 = Date.now();
    while (!existsSync(join(out, 'checkpoint-2', 'trainer_state.json')) && Date.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(join(out, 'checkpoint-2'))).toBe(true);
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    expect(existsSync(join(out, 'final'))).toBe(false);

    const resumed = await trainSft(sftCfg(out, over), { resume: true, log: () => {} });
    expect(resumed.resumedFrom).toBeGreaterThanOrEqual(2);
    expect(resumed.resumedFrom).toBeLessThan(6);
    const a = readFileSync(join(ref.finalDir, 'model.safetensors'));
    const b = readFileSync(join(resumed.finalDir, 'model.safetensors'));
    expect(Buffer.compare(a, b)).toBe(0);
    const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.step)).toEqual([1, 2, 3, 4, 5, 6]);
    lines.forEach((l, i) => expect(l.loss).toBe(ref.metrics[i].loss));
  });
});
