/**
 * Sweep rounds: every round trains KTO from the shared reference cache with one trial's
 * hyperparameters, answers the red-team prompts with a fixed seed, scores the answers for
 * toxicity and passes the gate only if toxic_rate <= max(max_toxic_rate, baseline + tolerance),
 * baseline = the starting (SFT) model. Rejected rounds keep their metrics and are never promoted;
 * the best passing round by the selection metric is copied to output_dir/best.
 *
 * Resumable: finished rounds are appended (fsynced) to rounds.jsonl; a killed sweep re-runs
 * only the rounds that did not finish.
 */
import { cp, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { loadConfig } from '../config/schema.ts';
import { appendJsonl, readAllRows, readJsonlTolerant, writeRows, type Row } from '../data/io.ts';
import { gateRound } from '../safety/gate.ts';
import { UserError } from '../util/errors.ts';
import { fileExists, sha256, stableStringify, tempPathFor, writeFileAtomic } from '../util/fs.ts';
import { sweepSchema, type SweepConfig } from './config.ts';
import { toRedteamAnswers, type RedteamAnswer } from '../report/redteam.ts';
import { renderSweepReport } from './report.ts';
import { expandTrials, type SearchSpace, type Trial } from './space.ts';

export interface RoundTraining {
  /** HF-layout directory of the trained model. */
  modelDir: string;
  /** metrics.jsonl rows of the run (TRL names). */
  metrics: Row[];
  /** Whether the reference cache was hit or built. */
  cache: 'hit' | 'built';
}

/** The heavy steps, injectable so the round logic is tested without training real models. */
export interface SweepDeps {
  trainRound(input: { baseConfig: string; overrides: Record<string, unknown>; outputDir: string; backend: string }): Promise<RoundTraining>;
  generate(input: { modelDir: string; prompts: string[]; maxNewTokens: number; temperature: number; seed: number; backend: string }): Promise<string[]>;
  /**
   * Toxicity of each text and whether it counts as toxic (at the gate's or the scorer's
   * threshold). `unscored[i]` marks a text the scorer failed on (it counts as toxic).
   */
  scoreToxicity(input: { texts: string[]; prompts: string[]; gate: SweepConfig['gate'] }): Promise<{ scores: number[]; toxic: boolean[]; unscored?: boolean[] }>;
  /** Mean judge score of the round's answers, for selection.metric judge_score. */
  judgeScore?(input: { prompts: string[]; answers: string[] }): Promise<number>;
  log?(msg: string): void;
}

export interface RoundRecord extends Row {
  round: number;
  trial_id: string;
  params: string;
  loss: number | null;
  eval_loss: number | null;
  kl: number | null;
  'rewards/chosen': number | null;
  'rewards/rejected': number | null;
  'rewards/margins': number | null;
  judge_score: number | null;
  toxic_rate: number;
  baseline_toxic_rate: number;
  gate_limit: number;
  verdict: 'pass' | 'reject';
  gate_reason: string;
  reference_cache: 'hit' | 'built';
  model_dir: string;
  duration_s: number;
}

export interface SweepResult {
  rounds: RoundRecord[];
  baselineToxicRate: number;
  /** Every red-team answer with its toxicity: the baseline's and each round's (by round number). */
  redteam: { baseline: RedteamAnswer[]; rounds: Record<number, RedteamAnswer[]> };
  best: RoundRecord | null;
  reportPath: string;
  roundsPath: string;
}

function lastMetric(metrics: Row[], key: string): number | null {
  for (let i = metrics.length - 1; i >= 0; i--) {
    const v = metrics[i][key];
    if (typeof v === 'number' && Number.isFinite(v)) return v;
  }
  return null;
}

export function trialId(trial: Trial): string {
  return sha256(stableStringify(trial)).slice(0, 12);
}

async function loadPrompts(cfg: SweepConfig): Promise<string[]> {
  const rows = await readAllRows(cfg.gate.prompts);
  const prompts = rows.map((r, i) => {
    const p = r[cfg.gate.prompt_field];
    if (typeof p !== 'string' || !p.trim()) throw new UserError(`${cfg.gate.prompts}: row ${i + 1} has no '${cfg.gate.prompt_field}' text`);
    return p;
  });
  return cfg.gate.max_prompts > 0 ? prompts.slice(0, cfg.gate.max_prompts) : prompts;
}

/** The starting model of the sweep: the base KTO config's `model` (the SFT checkpoint). */
async function baseModelDir(cfg: SweepConfig, configPath: string): Promise<string> {
  let raw: Record<string, unknown>;
  try {
    raw = (parseYaml(await readFile(cfg.base_config, 'utf8')) ?? {}) as Record<string, unknown>;
  } catch {
    throw new UserError(`${configPath}: base_config ${cfg.base_config} not found or not YAML`);
  }
  const model = (cfg.base_overrides as Record<string, unknown>).model ?? raw.model;
  if (typeof model !== 'string') throw new UserError(`${cfg.base_config}: key 'model' (the starting model directory) is required`);
  return model;
}

/** Generates and scores the red-team answers of one model; records them (the report shows them). */
async function toxicRateOf(deps: SweepDeps, cfg: SweepConfig, modelDir: string, prompts: string[], outFile: string) {
  const answers = await deps.generate({ modelDir, prompts, maxNewTokens: cfg.gate.max_new_tokens, temperature: cfg.gate.temperature, seed: cfg.gate.seed, backend: cfg.backend });
  const { scores, toxic, unscored } = await deps.scoreToxicity({ texts: answers, prompts, gate: cfg.gate });
  const rows = prompts.map((p, i) => ({ prompt: p, answer: answers[i], toxicity: unscored?.[i] ? null : scores[i], scored: !unscored?.[i], toxic: toxic[i] }));
  await writeRows(outFile, rows);
  return { answers, rate: toxic.filter(Boolean).length / Math.max(1, prompts.length), recorded: toRedteamAnswers(rows) };
}

/** The red-team answers a finished round (or the baseline) recorded; [] when the file is missing. */
async function readRedteam(path: string): Promise<RedteamAnswer[]> {
  return fileExists(path) ? toRedteamAnswers(await readJsonlTolerant(path)) : [];
}

export async function runSweep(configPath: string, deps: SweepDeps, opts: { sets?: string[] } = {}): Promise<SweepResult> {
  const cfg = await loadConfig<SweepConfig>(configPath, sweepSchema, opts.sets ?? []);
  const log = deps.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const trials = expandTrials(cfg.search.method, cfg.search.space as SearchSpace, cfg.search.num_trials, cfg.search.seed, configPath);
  const prompts = await loadPrompts(cfg);
  const out = cfg.output_dir;
  await mkdir(join(out, 'rounds'), { recursive: true });

  // Baseline: the starting model's toxic rate, computed once and kept across resumes.
  const baselinePath = join(out, 'baseline.json');
  const gateKey = sha256(stableStringify({ gate: cfg.gate, base: cfg.base_config, overrides: cfg.base_overrides }));
  let baseline: { rate: number; key: string } | null = null;
  const baselineRedteamPath = join(out, 'baseline-redteam.jsonl');
  let baselineAnswers: RedteamAnswer[] | null = null;
  if (fileExists(baselinePath)) {
    const b = JSON.parse(await readFile(baselinePath, 'utf8'));
    if (b.key === gateKey) baseline = b;
  }
  if (!baseline) {
    const model = await baseModelDir(cfg, configPath);
    log(`sweep: baseline toxic rate of ${model} on ${prompts.length} red-team prompts`);
    const { rate, recorded } = await toxicRateOf(deps, cfg, model, prompts, baselineRedteamPath);
    baselineAnswers = recorded;
    baseline = { rate, key: gateKey };
    await writeFileAtomic(baselinePath, JSON.stringify(baseline, null, 2));
  }
  log(`sweep: baseline toxic rate ${baseline.rate.toFixed(3)}`);

  const journal = join(out, 'rounds.jsonl');
  const done = new Map<string, RoundRecord>();
  if (fileExists(journal)) for (const r of await readJsonlTolerant(journal)) done.set(String(r.trial_id), r as RoundRecord);

  const rounds: RoundRecord[] = [];
  const curves: Record<number, Row[]> = {};
  const redteam: SweepResult['redteam'] = { baseline: baselineAnswers ?? (await readRedteam(baselineRedteamPath)), rounds: {} };
  for (let i = 0; i < trials.length; i++) {
    const trial = trials[i];
    const id = trialId(trial);
    const roundDir = join(out, 'rounds', `round-${String(i).padStart(3, '0')}-${id}`);
    const prev = done.get(id);
    if (prev) {
      log(`sweep: round ${i} ${JSON.stringify(trial)} already finished (${prev.verdict}), skipped`);
      rounds.push(prev);
      curves[i] = await readJsonlTolerant(join(roundDir, 'train', 'metrics.jsonl')).catch(() => []);
      redteam.rounds[i] = await readRedteam(join(roundDir, 'redteam.jsonl'));
      continue;
    }
    log(`sweep: round ${i} ${JSON.stringify(trial)}`);
    const t0 = Date.now();
    const overrides = { ...(cfg.base_overrides as Record<string, unknown>), ...trial };
    const trained = await deps.trainRound({ baseConfig: cfg.base_config, overrides, outputDir: join(roundDir, 'train'), backend: cfg.backend });
    const { answers, rate, recorded } = await toxicRateOf(deps, cfg, trained.modelDir, prompts, join(roundDir, 'redteam.jsonl'));
    redteam.rounds[i] = recorded;
    const gate = gateRound({ toxicRate: rate, baselineRate: baseline.rate, maxToxicRate: cfg.gate.max_toxic_rate, tolerance: cfg.gate.tolerance });
    const judgeScore = cfg.selection.metric === 'judge_score' && deps.judgeScore ? await deps.judgeScore({ prompts, answers }) : null;
    const rec: RoundRecord = {
      round: i,
      trial_id: id,
      params: JSON.stringify(trial),
      ...Object.fromEntries(Object.entries(trial).map(([k, v]) => [`param_${k}`, v as never])),
      loss: lastMetric(trained.metrics, 'loss'),
      eval_loss: lastMetric(trained.metrics, 'eval_loss'),
      kl: lastMetric(trained.metrics, 'kl'),
      'rewards/chosen': lastMetric(trained.metrics, 'rewards/chosen'),
      'rewards/rejected': lastMetric(trained.metrics, 'rewards/rejected'),
      'rewards/margins': lastMetric(trained.metrics, 'rewards/margins'),
      judge_score: judgeScore,
      toxic_rate: rate,
      baseline_toxic_rate: baseline.rate,
      gate_limit: gate.limit,
      verdict: gate.pass ? 'pass' : 'reject',
      gate_reason: gate.reason,
      reference_cache: trained.cache,
      model_dir: trained.modelDir,
      duration_s: (Date.now() - t0) / 1000,
    };
    log(`sweep: round ${i} toxic rate ${rate.toFixed(3)} (limit ${gate.limit.toFixed(3)}): ${rec.verdict}`);
    await appendJsonl(journal, rec);
    rounds.push(rec);
    curves[i] = trained.metrics;
  }

  const best = selectBest(rounds, cfg.selection.metric, cfg.selection.mode);
  if (best) await promote(best, join(out, 'best'));
  const roundsPath = join(out, 'rounds.parquet');
  await writeRows(roundsPath, rounds);
  const reportPath = join(out, 'report.html');
  await writeFileAtomic(reportPath, renderSweepReport({ name: cfg.name, rounds, curves, baselineToxicRate: baseline.rate, best, selection: cfg.selection, redteam }));
  log(best ? `sweep: best round ${best.round} promoted to ${join(out, 'best')}` : 'sweep: no round passed the gate; nothing promoted');
  log(`sweep: report ${reportPath}`);
  return { rounds, baselineToxicRate: baseline.rate, redteam, best, reportPath, roundsPath };
}

/** Best passing round by the metric; rounds without the metric rank last; rejected rounds never. */
export function selectBest(rounds: RoundRecord[], metric: string, mode: 'min' | 'max'): RoundRecord | null {
  let best: RoundRecord | null = null;
  for (const r of rounds) {
    if (r.verdict !== 'pass') continue;
    const v = r[metric] as number | null | undefined;
    if (best === null) {
      best = r;
      continue;
    }
    const b = best[metric] as number | null | undefined;
    if (typeof v !== 'number') continue;
    if (typeof b !== 'number' || (mode === 'min' ? v < b : v > b)) best = r;
  }
  return best;
}

/**
 * Copies the round's model to `to` (atomically). A re-run that selects the same round finds its
 * marker and copies nothing: a real checkpoint is many GB.
 */
async function promote(round: RoundRecord, to: string): Promise<void> {
  const marker = join(to, 'promoted_round.json');
  if (fileExists(marker)) {
    const prev = JSON.parse(await readFile(marker, 'utf8')) as { trial_id?: string };
    if (prev.trial_id === round.trial_id) return;
  }
  const tmp = tempPathFor(to);
  await cp(round.model_dir, tmp, { recursive: true });
  await writeFile(join(tmp, 'promoted_round.json'), JSON.stringify({ round: round.round, trial_id: round.trial_id, params: round.params }, null, 2));
  await rm(to, { recursive: true, force: true });
  await rename(tmp, to);
}
