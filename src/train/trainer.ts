/**
 * The training loop shared by the SFT and KTO trainers. A trainer supplies a `TrainTask` (how to
 * build a micro-batch from dataset units and what its loss is); the loop does the rest:
 *
 *   for each optimizer step:
 *     micro-batches <- the next gradient_accumulation_steps slices of the (per-epoch shuffled) units
 *     normalizer    <- sum of task.weight(batch) over them (SFT: trained tokens; KTO: examples)
 *     grads         <- sum over micro-batches of d task.loss(batch, {normalizer}) / d params
 *     stop with a clear error on a NaN/inf loss or gradient (nothing of the step is applied)
 *     clip to max_grad_norm, AdamW update at learning_rate * schedule(step)
 *     log metrics.jsonl every logging_steps, evaluate every eval_steps, checkpoint every save_steps
 *   final model -> output_dir/final (task.saveFinal)
 *
 * Because each micro-batch loss is divided by the whole step's normalizer, the step loss is the
 * mean over ALL trained tokens (or examples) of the step, however they split into micro-batches.
 *
 * Checkpoints (output_dir/checkpoint-<step>/) hold the trainable tensors, the AdamW moments, the
 * step, the data position and the RNG state; they are written into a temp folder and renamed, so
 * a killed run leaves only complete checkpoints. `resume` continues from the newest one and ends
 * with the same weights, bit for bit, as a run that was never interrupted.
 */
import * as tf from '@tensorflow/tfjs-core';
import { closeSync, existsSync, fsyncSync, openSync, readdirSync, readFileSync, writeSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readSafetensors, writeSafetensors, type HostTensor } from '../model/safetensors.ts';
import { UserError } from '../util/errors.ts';
import { checkTrainingMemory } from '../engine/memory.ts';
import { writeFileAtomicSync } from '../util/fs.ts';
import { EpochOrder, type DataPosition } from './data.ts';
import { AdamW, clipGradNorm, type OptimParam } from './optim.ts';
import { Rng, type RngState } from './rng.ts';
import { lrMultiplier, type SchedulerType } from './schedule.ts';

/** The TrainingArguments keys the loop reads (SFT and KTO configs both carry them). */
export interface TrainLoopConfig {
  output_dir: string;
  /** > 0: train exactly this many optimizer steps (overrides num_train_epochs). */
  max_steps: number;
  num_train_epochs: number;
  per_device_train_batch_size: number;
  gradient_accumulation_steps: number;
  /** Base learning rate (logged; the per-parameter rates live in task.params). */
  learning_rate: number;
  lr_scheduler_type: SchedulerType;
  warmup_steps: number;
  warmup_ratio: number;
  adam_beta1: number;
  adam_beta2: number;
  adam_epsilon: number;
  max_grad_norm: number;
  shuffle: boolean;
  seed: number;
  logging_steps: number;
  save_steps: number;
  eval_steps: number;
  /** Keep at most this many checkpoints (oldest removed); 0 keeps all. */
  save_total_limit: number;
  /** Allow a fresh run into an output_dir that already holds checkpoints (they are removed). */
  overwrite_output_dir: boolean;
}

/** A running sum for a logged metric: the logged value is sum / count over the interval. */
export interface LogStat {
  sum: number;
  count: number;
}

export interface StepContext {
  /** 0-based index of the optimizer step being computed. */
  step: number;
  /** Sum of task.weight over every micro-batch of this step: divide the summed loss by it. */
  normalizer: number;
  /** The trainer's seeded RNG (NEFTune noise, LoRA dropout); its state is checkpointed. */
  rng: Rng;
}

export interface MicroBatchLoss {
  /** Scalar: this micro-batch's summed loss divided by ctx.normalizer. */
  loss: tf.Scalar;
  /** Extra metrics to average over the logging interval (e.g. KTO's rewards/chosen). */
  logs?: Record<string, LogStat>;
  /**
   * Metrics read back after the gradient step (GPU backends cannot read tensors synchronously);
   * `loss` tf.keep()s the tensors it needs and this disposes them.
   */
  deferredLogs?: () => Promise<Record<string, LogStat>>;
}

/** What a trainer (SFT, KTO) plugs into the loop. */
export interface TrainTask<B> {
  /** Number of dataset units (rows, or packed sequences) the loop orders and batches. */
  numUnits: number;
  /** The trainable parameters with their learning rate and weight decay. */
  params: OptimParam[];
  /** Builds a micro-batch from unit indices (host data; tensors are made inside `loss`). */
  makeBatch(units: number[]): B | Promise<B>;
  /** The batch's share of the step normalizer (SFT: trained tokens; KTO: examples). */
  weight(batch: B): number;
  /** Trained tokens in the batch (for tokens_per_second). */
  tokens(batch: B): number;
  /** The training loss of one micro-batch; called inside tf.variableGrads. */
  loss(batch: B, ctx: StepContext): MicroBatchLoss;
  /** Evaluation metrics (e.g. { eval_loss }), without training-only noise. */
  evaluate?(): Promise<Record<string, number>>;
  /** Writes the final model (HF layout, or a PEFT adapter) into `dir`. */
  saveFinal(dir: string): Promise<void>;
}

export interface MetricsLine {
  step: number;
  epoch: number;
  loss?: number;
  learning_rate?: number;
  grad_norm?: number;
  tokens_per_second?: number;
  eval_loss?: number;
  [key: string]: number | undefined;
}

export interface StepInfo {
  step: number;
  total: number;
  loss: number;
  gradNorm: number;
  learningRate: number;
}

export interface TrainOptions {
  /** Continue from the newest checkpoint in output_dir. */
  resume?: boolean;
  /** Progress and log lines (default: stderr). */
  log?: (line: string) => void;
  /** Show the progress bar (default: when stderr is a TTY, else one line per logged step). */
  progress?: boolean;
  /** Called after every optimizer step (tests use it to watch memory or slow a run down). */
  onStep?: (info: StepInfo) => void | Promise<void>;
}

export interface TrainResult {
  /** Optimizer steps taken in total (including those before a resume). */
  steps: number;
  /** Every metrics line written by this call. */
  metrics: MetricsLine[];
  finalDir: string;
  /** Step the run resumed from (0 for a fresh run). */
  resumedFrom: number;
}

/** A NaN or infinite loss/gradient: the run stops; the last checkpoint stays as it was. */
export class TrainingDivergedError extends UserError {}

interface TrainerState {
  step: number;
  position: DataPosition;
  rng: RngState;
  total_steps: number;
  optimizer_step: number;
  version: 1;
}

const CKPT_RE = /^checkpoint-(\d+)$/;

/** Complete checkpoints in output_dir, oldest first. */
export function listCheckpoints(outputDir: string): { step: number; dir: string }[] {
  if (!existsSync(outputDir)) return [];
  return readdirSync(outputDir)
    .map((n) => ({ m: CKPT_RE.exec(n), n }))
    .filter((x) => x.m && existsSync(join(outputDir, x.n, 'trainer_state.json')))
    .map((x) => ({ step: Number(x.m![1]), dir: join(outputDir, x.n) }))
    .sort((a, b) => a.step - b.step);
}

/** Total optimizer steps for a config and dataset size. */
export function totalSteps(cfg: TrainLoopConfig, order: EpochOrder): number {
  if (cfg.max_steps > 0) return cfg.max_steps;
  return Math.ceil(cfg.num_train_epochs * order.stepsPerEpoch(cfg.gradient_accumulation_steps));
}

async function hostOf(v: tf.Variable): Promise<HostTensor> {
  return { shape: v.shape.slice(), data: (await v.data()) as Float32Array };
}

async function saveCheckpoint(cfg: TrainLoopConfig, params: OptimParam[], opt: AdamW, state: TrainerState): Promise<string> {
  const dir = join(cfg.output_dir, `checkpoint-${state.step}`);
  const tmp = join(cfg.output_dir, `.checkpoint-${state.step}.${process.pid}.tmp`);
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  const trainable = new Map<string, HostTensor>();
  for (const p of params) trainable.set(p.name, await hostOf(p.variable));
  await writeSafetensors(join(tmp, 'trainable.safetensors'), trainable);
  await writeSafetensors(join(tmp, 'optimizer.safetensors'), await opt.state());
  const fd = openSync(join(tmp, 'trainer_state.json'), 'w');
  writeSync(fd, `${JSON.stringify(state, null, 2)}\n`);
  fsyncSync(fd);
  closeSync(fd);
  await rm(dir, { recursive: true, force: true });
  await rename(tmp, dir);
  if (cfg.save_total_limit > 0) {
    const all = listCheckpoints(cfg.output_dir);
    for (const old of all.slice(0, Math.max(0, all.length - cfg.save_total_limit))) await rm(old.dir, { recursive: true, force: true });
  }
  return dir;
}

function loadCheckpoint(dir: string, params: OptimParam[], opt: AdamW): TrainerState {
  let state: TrainerState;
  try {
    state = JSON.parse(readFileSync(join(dir, 'trainer_state.json'), 'utf8')) as TrainerState;
  } catch (e) {
    throw new UserError(`${join(dir, 'trainer_state.json')}: cannot read checkpoint state (${(e as Error).message})`);
  }
  const weights = readSafetensors(join(dir, 'trainable.safetensors'));
  for (const p of params) {
    const t = weights.get(p.name);
    if (!t) throw new UserError(`${dir}: checkpoint has no tensor '${p.name}' (was it made with other trainable / lora settings?)`);
    if (t.shape.join(',') !== p.variable.shape.join(',')) throw new UserError(`${dir}: tensor '${p.name}' has shape [${t.shape}], expected [${p.variable.shape}]`);
    tf.tidy(() => p.variable.assign(tf.tensor(t.data, t.shape, 'float32')));
  }
  opt.loadState(readSafetensors(join(dir, 'optimizer.safetensors')), state.optimizer_step);
  return state;
}

function fmtNum(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(2) : v.toFixed(4);
}

/** Runs the loop. Library code: throws UserError / TrainingDivergedError, never exits. */
export async function train<B>(cfg: TrainLoopConfig, task: TrainTask<B>, opts: TrainOptions = {}): Promise<TrainResult> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const tty = opts.progress ?? Boolean(process.stderr.isTTY);
  if (task.numUnits === 0) throw new UserError('the training set is empty (no examples left after tokenization)');
  if (task.params.length === 0) throw new UserError('no trainable parameters (check `trainable` and `lora`)');
  checkTrainingMemory(task.params.reduce((n, p) => n + p.variable.size, 0));
  const GA = cfg.gradient_accumulation_steps;
  const order = new EpochOrder(task.numUnits, cfg.per_device_train_batch_size, cfg.shuffle, cfg.seed);
  const total = totalSteps(cfg, order);
  const opt = new AdamW(task.params, { beta1: cfg.adam_beta1, beta2: cfg.adam_beta2, eps: cfg.adam_epsilon });
  const metricsPath = join(cfg.output_dir, 'metrics.jsonl');
  await mkdir(cfg.output_dir, { recursive: true });

  let step = 0;
  let pos: DataPosition = { epoch: 0, micro: 0 };
  let rng = new Rng(cfg.seed, 0x7a11);
  let resumedFrom = 0;
  const existing = listCheckpoints(cfg.output_dir);
  // A run killed while writing a checkpoint leaves its temp folder behind: never used, removed.
  for (const n of readdirSync(cfg.output_dir)) if (/^\.checkpoint-\d+\..*\.tmp$/.test(n)) await rm(join(cfg.output_dir, n), { recursive: true, force: true });
  try {
    if (opts.resume && existing.length > 0) {
      const last = existing[existing.length - 1];
      const st = loadCheckpoint(last.dir, task.params, opt);
      step = st.step;
      pos = st.position;
      rng = Rng.fromState(st.rng);
      resumedFrom = step;
      // Keep the metrics lines up to the checkpoint; later ones are re-done.
      if (existsSync(metricsPath)) {
        const kept = readFileSync(metricsPath, 'utf8')
          .split('\n')
          .filter((l) => l.trim() !== '')
          .filter((l) => {
            try {
              return (JSON.parse(l) as MetricsLine).step <= step;
            } catch {
              return false;
            }
          });
        writeFileAtomicSync(metricsPath, kept.map((l) => `${l}\n`).join(''));
      }
      log(`resuming from ${last.dir} (step ${step}/${total})`);
    } else {
      if (opts.resume) log(`no checkpoint in ${cfg.output_dir}; starting from step 0`);
      else if (existing.length > 0) {
        if (!cfg.overwrite_output_dir) {
          throw new UserError(
            `output_dir ${cfg.output_dir} already holds checkpoints (${existing.map((c) => `checkpoint-${c.step}`).join(', ')}): pass --resume to continue, or set overwrite_output_dir: true`,
          );
        }
        for (const c of existing) await rm(c.dir, { recursive: true, force: true });
      }
      await writeFile(metricsPath, '');
    }

    const metrics: MetricsLine[] = [];
    const writeMetrics = (m: MetricsLine) => {
      metrics.push(m);
      const fd = openSync(metricsPath, 'a');
      writeSync(fd, `${JSON.stringify(m)}\n`);
      fsyncSync(fd);
      closeSync(fd);
    };

    // Interval accumulators (reset at every logged step).
    let iv = { loss: 0, steps: 0, tokens: 0, t0: performance.now(), logs: {} as Record<string, LogStat> };
    let lastGoodCkpt = existing.length > 0 && opts.resume ? existing[existing.length - 1].dir : undefined;
    const epochOf = (p: DataPosition) => p.epoch + p.micro / order.microPerEpoch;

    while (step < total) {
      const { micros, next } = order.nextStep(pos, GA);
      const batches = await Promise.all(micros.map((m) => task.makeBatch(m)));
      const normalizer = batches.reduce((s, b) => s + task.weight(b), 0);
      const ctx: StepContext = { step, normalizer: Math.max(normalizer, 1e-12), rng };
      const varList = task.params.map((p) => p.variable);
      const grads = new Map<string, tf.Tensor>();
      let stepLoss = 0;
      let stepTokens = 0;
      for (const batch of batches) {
        let logs: Record<string, LogStat> | undefined;
        let deferred: (() => Promise<Record<string, LogStat>>) | undefined;
        const { value, grads: g } = tf.variableGrads(() => {
          const r = task.loss(batch, ctx);
          logs = r.logs;
          deferred = r.deferredLogs;
          return r.loss;
        }, varList);
        if (deferred) logs = { ...(logs ?? {}), ...(await deferred()) };
        stepLoss += (await value.data())[0];
        value.dispose();
        for (const p of task.params) {
          const gi = g[p.variable.name];
          if (!gi) continue;
          const prev = grads.get(p.name);
          if (prev) {
            grads.set(p.name, tf.add(prev, gi));
            prev.dispose();
            gi.dispose();
          } else grads.set(p.name, gi);
        }
        for (const k of Object.keys(g)) if (!task.params.some((p) => p.variable.name === k)) g[k].dispose();
        stepTokens += task.tokens(batch);
        for (const [k, s] of Object.entries(logs ?? {})) {
          const acc = (iv.logs[k] ??= { sum: 0, count: 0 });
          acc.sum += s.sum;
          acc.count += s.count;
        }
      }
      let gradNorm = Number.NaN;
      if (Number.isFinite(stepLoss)) gradNorm = await clipGradNorm(grads, cfg.max_grad_norm);
      if (!Number.isFinite(stepLoss) || !Number.isFinite(gradNorm)) {
        for (const g of grads.values()) g.dispose();
        const what = !Number.isFinite(stepLoss) ? `loss is ${stepLoss}` : `gradient norm is ${gradNorm}`;
        throw new TrainingDivergedError(
          `step ${step + 1}: ${what}; training stopped, nothing of this step was applied. ` +
            (lastGoodCkpt ? `Last good checkpoint: ${lastGoodCkpt}.` : 'No checkpoint was saved yet.') +
            ' Lower learning_rate or set max_grad_norm.',
        );
      }
      const mult = lrMultiplier(cfg, step, total);
      opt.apply(grads, mult);
      for (const g of grads.values()) g.dispose();
      step += 1;
      pos = next;

      iv.loss += stepLoss;
      iv.steps += 1;
      iv.tokens += stepTokens;
      const lr = cfg.learning_rate * mult;
      const info: StepInfo = { step, total, loss: stepLoss, gradNorm, learningRate: lr };

      let line: MetricsLine | undefined;
      if (step % Math.max(1, cfg.logging_steps) === 0 || step === total) {
        const secs = (performance.now() - iv.t0) / 1000;
        line = {
          step,
          epoch: Number(epochOf(pos).toFixed(4)),
          loss: iv.loss / iv.steps,
          learning_rate: lr,
          grad_norm: gradNorm,
          tokens_per_second: secs > 0 ? iv.tokens / secs : 0,
        };
        for (const [k, s] of Object.entries(iv.logs)) if (s.count > 0) line[k] = s.sum / s.count;
      }
      if (task.evaluate && cfg.eval_steps > 0 && (step % cfg.eval_steps === 0 || step === total)) {
        const ev = await task.evaluate();
        line ??= { step, epoch: Number(epochOf(pos).toFixed(4)) };
        Object.assign(line, ev);
      }
      if (line) {
        writeMetrics(line);
        if (line.loss !== undefined) iv = { loss: 0, steps: 0, tokens: 0, t0: performance.now(), logs: {} };
        const width = 24;
        const filled = Math.round((step / total) * width);
        const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${step}/${total}`;
        const parts = Object.entries(line)
          .filter(([k]) => k !== 'step' && k !== 'epoch')
          .map(([k, v]) => `${k} ${fmtNum(v as number)}`);
        const text = `${bar} ${parts.join(' ')}`;
        if (tty) process.stderr.write(`\r${text}${step === total ? '\n' : ''}`);
        else log(text);
      }
      if (cfg.save_steps > 0 && step % cfg.save_steps === 0 && step < total) {
        lastGoodCkpt = await saveCheckpoint(cfg, task.params, opt, {
          step,
          position: pos,
          rng: rng.state(),
          total_steps: total,
          optimizer_step: opt.step,
          version: 1,
        });
      }
      if (opts.onStep) await opts.onStep(info);
    }

    const finalDir = join(cfg.output_dir, 'final');
    await task.saveFinal(finalDir);
    log(`saved ${finalDir}`);
    return { steps: step, metrics, finalDir, resumedFrom };
  } finally {
    opt.dispose();
  }
}
