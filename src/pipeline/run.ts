/**
 * `ko-align run configs/<name>.yaml`: the whole method in one run directory, runs/<name>/:
 *
 *   model (given, or `model init`) -> curate -> judge -> review export [-> review import]
 *   -> KTO labels -> SFT (NEFTune) -> reference log-prob cache -> KTO sweep with the toxicity
 *   gate -> eval -> report.html / report.md
 *
 * Every stage has a fingerprint (its config and the content hashes of its inputs) recorded in
 * pipeline.json; a stage whose fingerprint and outputs are unchanged is skipped. A killed run
 * resumes: the trainers continue from their checkpoints, the sweep from its finished rounds,
 * the judge from its durable cache, curation from its finished stages.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { loadConfig, validateConfig } from '../config/schema.ts';
import { sweepSchema } from '../sweep/config.ts';
import { readAllRows, readJsonlTolerant, writeRows, type Row } from '../data/io.ts';
import { curateOutputs, runCuration, type Manifest } from '../curate/pipeline.ts';
import { judgeRows } from '../judge/job.ts';
import { labelRows } from '../judge/label.ts';
import { initModelDir } from '../model/init.ts';
import { exportReview } from '../review/export.ts';
import { importReview } from '../review/import.ts';
import { evalMcFile, type EvalMcResult } from '../eval/score.ts';
import { defaultSweepDeps } from '../sweep/deps.ts';
import { runSweep, type SweepDeps, type SweepResult } from '../sweep/runner.ts';
import { precomputeReference, validateKtoConfig } from '../train/kto.ts';
import { hashModelWeights } from '../train/ref-cache.ts';
import { trainSft, validateSftConfig } from '../train/sft.ts';
import { UserError } from '../util/errors.ts';
import { sha256, stableStringify, writeFileAtomic } from '../util/fs.ts';
import { sanitizeUrl, sanitizeUrlsDeep } from '../util/redact.ts';
import { mulberry32 } from '../util/random.ts';
import { pipelineSchema, type PipelineConfig } from './config.ts';
import { renderPipelineReport, type PipelineReportInput } from './report.ts';

interface StageRecord {
  fingerprint: string;
  finished_at: string;
  seconds: number;
  info: Record<string, unknown>;
}

interface PipelineState {
  stages: Record<string, StageRecord>;
}

export interface PipelineOptions {
  sets?: string[];
  log?: (m: string) => void;
  /** Replaces the sweep's heavy steps (tests). */
  sweepDeps?: SweepDeps;
}

export interface PipelineResult {
  runDir: string;
  reportPath: string;
  reportMdPath: string;
  /** Stage name -> whether it was skipped (unchanged) in this invocation. */
  skipped: Record<string, boolean>;
  sweep: SweepResult;
  eval: EvalMcResult[];
}

/**
 * Validates the trainer and sweep sections up front (with the keys the pipeline fills in), so a
 * mistyped KTO key fails in a second, not after curation and SFT.
 */
export function checkSections(pc: PipelineConfig, configPath: string): void {
  const filled = { model: '<model>', output_dir: '<out>', backend: pc.backend };
  validateSftConfig({ ...pc.sft, ...filled, dataset: { ...((pc.sft.dataset as object) ?? {}), path: '<kept>' } }, `${configPath}: sft`);
  validateKtoConfig({ ...pc.kto, ...filled, dataset: { ...((pc.kto.dataset as object) ?? {}), path: '<kto>' } }, `${configPath}: kto`);
  validateConfig(sweepSchema, { output_dir: '<out>', base_config: '<kto.yaml>', ...pc.sweep }, `${configPath}: sweep`);
}

/**
 * runs_dir/name, refusing a name that leaves runs_dir ('../../x', an absolute path) or is
 * runs_dir itself: the run directory's stages are deleted and rebuilt.
 */
export function runDirOf(runsDir: string, name: string, configPath: string): string {
  const root = resolve(runsDir);
  const dir = resolve(root, name);
  const rel = relative(root, dir);
  if (name.trim() === '' || rel === '' || rel.startsWith('..') || isAbsolute(rel) || isAbsolute(name)) {
    throw new UserError(`${configPath}: key 'name' must name a directory inside runs_dir (${runsDir}), got '${name}'`);
  }
  return dir;
}

/**
 * The curate config with every judge stage that names no cache of its own pointed at `cachePath`,
 * the judge cache the pipeline's judge step uses: one cache keyed by rubric, model, params and
 * sample, so rows the curate judge already scored are not paid for again.
 */
export function shareJudgeCache<T extends { stages: unknown[] }>(curate: T, cachePath: string): T {
  const stages = curate.stages.map((s) => {
    if (!s || typeof s !== 'object' || (s as { type?: unknown }).type !== 'judge') return s;
    const spec = s as { params?: Record<string, unknown> };
    const params = spec.params && typeof spec.params === 'object' ? spec.params : {};
    if (params.cache !== undefined) return s;
    return { ...spec, params: { ...params, cache: cachePath } };
  });
  return { ...curate, stages };
}

async function fileSha(path: string): Promise<string> {
  const h = createHash('sha256');
  await new Promise<void>((res, rej) => createReadStream(path).on('data', (c) => h.update(c)).on('end', res).on('error', rej));
  return h.digest('hex');
}

const fp = (...parts: unknown[]) => sha256(stableStringify(parts)).slice(0, 24);

export async function runPipeline(configPath: string, opts: PipelineOptions = {}): Promise<PipelineResult> {
  const log = opts.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const pc = await loadConfig<PipelineConfig>(configPath, pipelineSchema, opts.sets ?? []);
  checkSections(pc, configPath);
  const runDir = runDirOf(pc.runs_dir, pc.name, configPath);
  await mkdir(runDir, { recursive: true });
  const statePath = join(runDir, 'pipeline.json');
  const state: PipelineState = existsSync(statePath) ? JSON.parse(await readFile(statePath, 'utf8')) : { stages: {} };
  const skipped: Record<string, boolean> = {};
  const t00 = Date.now();

  /** Runs `fn` unless the stage's fingerprint and outputs are unchanged. */
  const stage = async (name: string, fingerprint: string, outputs: string[], fn: () => Promise<Record<string, unknown>>): Promise<Record<string, unknown>> => {
    const prev = state.stages[name];
    if (prev && prev.fingerprint === fingerprint && outputs.every((o) => existsSync(o))) {
      log(`[${name}] unchanged, skipped`);
      skipped[name] = true;
      return prev.info;
    }
    log(`[${name}] running`);
    const t0 = Date.now();
    const info = await fn();
    state.stages[name] = { fingerprint, finished_at: new Date().toISOString(), seconds: (Date.now() - t0) / 1000, info };
    await writeFileAtomic(statePath, JSON.stringify(sanitizeUrlsDeep(state), null, 2));
    skipped[name] = false;
    log(`[${name}] done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return info;
  };

  // ---- model ----
  const modelDir = pc.model.path ? resolve(pc.model.path) : join(runDir, 'model-init');
  const modelFp = pc.model.path ? await hashModelWeights(modelDir) : fp('init', pc.model.init);
  await stage('model', modelFp, [join(modelDir, 'config.json')], async () => {
    if (pc.model.path) return { dir: modelDir };
    const i = pc.model.init;
    await rm(modelDir, { recursive: true, force: true });
    const r = await initModelDir({ arch: i.arch as 'llama', vocab: i.vocab, hidden: i.hidden, layers: i.layers, heads: i.heads, kvHeads: i.kv_heads, intermediate: i.intermediate, seed: i.seed, out: modelDir });
    return { dir: modelDir, params: r.params };
  });

  // ---- curate (content-addressed stage cache of its own) ----
  const curateDir = join(runDir, 'curate');
  const judgeCache = join(runDir, 'judge-cache.jsonl');
  const manifest: Manifest = await runCuration(shareJudgeCache({ ...pc.curate, output_dir: curateDir, progress: 'lines' }, judgeCache) as Record<string, unknown>, { log });
  const cur = curateOutputs(curateDir);
  const keptSha = await fileSha(cur.kept);
  const rejectedSha = await fileSha(cur.rejected);
  if (manifest.totals.kept === 0) throw new UserError(`${configPath}: curation kept no rows; loosen the curate stages`);

  // ---- judge ----
  const judged = join(runDir, 'judged.parquet');
  const undesirableFrom = new Set(pc.judge.undesirable_from);
  await stage('judge', fp(pc.judge, keptSha, rejectedSha), [judged], async () => {
    const kept = await readAllRows(cur.kept, { requireRows: false });
    const rejected = (await readAllRows(cur.rejected, { requireRows: false })).filter((r) => undesirableFrom.has(String(r.stage)));
    const rows = [...kept.map((r) => ({ ...r, curation: 'kept' })), ...rejected.map((r) => ({ ...r, curation: `rejected:${r.stage}` }))];
    const { rows: out, summary } = await judgeRows(rows, {
      rubricPath: pc.judge.rubric,
      model: pc.judge.model,
      baseURL: pc.judge.base_url,
      concurrency: pc.judge.concurrency,
      heuristic: pc.judge.heuristic,
      cachePath: judgeCache,
      source: cur.kept,
      maxFailedFraction: pc.judge.max_failed_fraction,
    });
    await writeRows(judged, out);
    return { rows: out.length, summary: summary as unknown as Record<string, unknown> };
  });
  const judgedSha = await fileSha(judged);

  // ---- review export / import ----
  const reviewOut = join(runDir, 'review', pc.review.format === 'html' ? 'review.html' : pc.review.format === 'csv' ? 'review.csv' : pc.review.format);
  if (pc.review.enabled) {
    await stage('review-export', fp(pc.review, judgedSha, pc.labels.desirable_min), [reviewOut], async () => {
      const r = await exportReview({ input: judged, output: reviewOut, format: pc.review.format as 'html', sample: pc.review.sample, stratifyBy: 'judge_score', seed: pc.review.seed, threshold: pc.labels.desirable_min });
      return { files: r.files, exported: r.exported };
    });
  }
  let labelInput = judged;
  if (pc.review.decisions) {
    const reviewed = join(runDir, 'judged-reviewed.parquet');
    await stage('review-import', fp(judgedSha, await fileSha(pc.review.decisions)), [reviewed], async () => {
      const r = await importReview({ decisions: pc.review.decisions!, input: judged, output: reviewed, threshold: pc.labels.desirable_min });
      return { counts: r.counts, conflicts: r.conflicts.length, agreement: r.agreement as unknown as Record<string, unknown> };
    });
    labelInput = reviewed;
  }

  // ---- KTO labels (human review decisions override the judge) ----
  const ktoData = join(runDir, 'kto.jsonl');
  const labelInfo = await stage('labels', fp(pc.labels, await fileSha(labelInput)), [ktoData], async () => {
    const rows = await readAllRows(labelInput);
    const { rows: labelled, summary } = labelRows(rows, { desirableMin: pc.labels.desirable_min, undesirableMax: pc.labels.undesirable_max, source: labelInput });
    // Seeded, stratified shuffle: the judged file lists kept rows before rejected ones, and KTO
    // samples sequentially (as TRL), so unshuffled batches would hold one class only (no margins,
    // and KL pairs drawn from the same class). Each class is shuffled, then the two are
    // interleaved in proportion, so every stretch of rows carries both classes at their ratio
    // (a plain shuffle can still put a whole batch in one class).
    const rnd = mulberry32(pc.labels.seed);
    const shuffled = (idx: number[]) => {
      for (let i = idx.length - 1; i > 0; i--) {
        const j = Math.floor(rnd() * (i + 1));
        [idx[i], idx[j]] = [idx[j], idx[i]];
      }
      return idx;
    };
    const pos = shuffled(labelled.flatMap((r, i) => (r.label === true ? [i] : [])));
    const neg = shuffled(labelled.flatMap((r, i) => (r.label === true ? [] : [i])));
    const order: number[] = [];
    for (let a = 0, b = 0; a < pos.length || b < neg.length; ) {
      // take from the class that is further behind its share
      if (b >= neg.length || (a < pos.length && (a + 0.5) / pos.length <= (b + 0.5) / neg.length)) order.push(pos[a++]);
      else order.push(neg[b++]);
    }
    const all: Row[] = order.map((i) => ({ label_source: 'judge', ...labelled[i] }));
    const nD = all.filter((r) => r.label === true).length;
    if (nD === 0 || nD === all.length) {
      throw new UserError(`${configPath}: KTO needs desirable and undesirable rows, got ${nD} desirable of ${all.length}; adjust labels.desirable_min / labels.undesirable_max`);
    }
    await writeRows(ktoData, all);
    return { ...summary, desirable: nD, undesirable: all.length - nD };
  });
  const ktoSha = await fileSha(ktoData);

  // ---- SFT with NEFTune ----
  const sftDir = join(runDir, 'sft');
  const sftCfgRaw = { ...pc.sft, model: modelDir, dataset: { ...((pc.sft.dataset as object) ?? {}), path: cur.kept }, output_dir: sftDir, backend: pc.backend, overwrite_output_dir: true };
  const sftFp = fp(sftCfgRaw, modelFp, keptSha);
  if (state.stages.sft && state.stages.sft.fingerprint !== sftFp) await rm(sftDir, { recursive: true, force: true });
  await stage('sft', sftFp, [join(sftDir, 'final', 'config.json')], async () => {
    const cfg = validateSftConfig(sftCfgRaw, `${configPath}: sft`);
    const r = await trainSft(cfg, { resume: true, log, progress: false });
    return { steps: r.steps, final: r.finalDir };
  });
  const sftModel = join(sftDir, 'final');

  // ---- KTO base config + reference cache (computed once for every round) ----
  const ktoYaml = join(runDir, 'kto.yaml');
  const ktoCfgRaw = { ...pc.kto, model: sftModel, dataset: { ...((pc.kto.dataset as object) ?? {}), path: ktoData }, output_dir: join(runDir, 'kto'), ref_logps_cache: join(runDir, 'ref_cache'), backend: pc.backend };
  await writeFileAtomic(ktoYaml, toYaml(ktoCfgRaw));
  const refInfo = await stage('reference', fp(ktoCfgRaw, sftFp, ktoSha), [join(runDir, 'ref_cache')], async () => {
    const r = await precomputeReference(validateKtoConfig(ktoCfgRaw, `${configPath}: kto`), { log });
    return { status: r.status, key: r.key };
  });

  // ---- sweep rounds with the toxicity gate ----
  const sweepDir = join(runDir, 'sweep');
  const sweepYaml = join(runDir, 'sweep.yaml');
  const sweepRaw = { name: pc.name, output_dir: sweepDir, base_config: ktoYaml, search: pc.sweep.search, gate: pc.sweep.gate, selection: pc.sweep.selection, backend: pc.backend };
  const sweepSecrets = await writeSweepConfig(sweepYaml, sweepRaw);
  const sweepFp = fp(sweepRaw, ktoCfgRaw, sftFp, ktoSha);
  if (state.stages.sweep && state.stages.sweep.fingerprint !== sweepFp) await rm(sweepDir, { recursive: true, force: true });
  let sweep!: SweepResult;
  await stage('sweep', sweepFp, [join(sweepDir, 'rounds.parquet'), join(sweepDir, 'report.html')], async () => {
    sweep = await runSweep(sweepYaml, opts.sweepDeps ?? defaultSweepDeps(log), { sets: sweepSecrets });
    return { rounds: sweep.rounds.length, passed: sweep.rounds.filter((r) => r.verdict === 'pass').length, best: sweep.best?.round ?? null };
  });
  // A skipped sweep re-reads its finished rounds (nothing is retrained).
  sweep ??= await runSweep(sweepYaml, opts.sweepDeps ?? defaultSweepDeps(log), { sets: sweepSecrets });

  // ---- eval ----
  let evals: EvalMcResult[] = [];
  const evalPath = join(runDir, 'eval.json');
  if (pc.eval.enabled) {
    const bestDir = join(sweepDir, 'best');
    const models = [sftModel, ...(sweep.best && existsSync(bestDir) ? [bestDir] : [])];
    const info = await stage('eval', fp(pc.eval, sftFp, sweepFp, sweep.best?.trial_id ?? null), [evalPath], async () => {
      const results: EvalMcResult[] = [];
      for (const m of models) results.push(await evalMcFile({ model: m, data: pc.eval.data, dev: pc.eval.dev, shots: pc.eval.shots, task: pc.eval.task as 'auto', limit: pc.eval.limit, backend: pc.backend, log }));
      await writeFileAtomic(evalPath, JSON.stringify(results, null, 2));
      return { results };
    });
    evals = info.results as EvalMcResult[];
  }

  // ---- report ----
  const sftMetrics = await readJsonlTolerant(join(sftDir, 'metrics.jsonl')).catch(() => [] as Row[]);
  const curves: Record<number, Row[]> = {};
  for (const r of sweep.rounds) curves[r.round] = await readJsonlTolerant(join(r.model_dir, '..', 'metrics.jsonl')).catch(() => [] as Row[]);
  const judgedRows = await readAllRows(judged, { requireRows: false });
  const input: PipelineReportInput = {
    name: pc.name,
    configPath,
    manifest,
    judgeScores: judgedRows.map((r) => r.judge_score).filter((s): s is number => typeof s === 'number'),
    judgeModel: String(judgedRows[0]?.judge_model ?? ''),
    labels: labelInfo as Record<string, number>,
    reviewFile: pc.review.enabled ? reviewOut : null,
    sftMetrics,
    reference: refInfo as { status: string; key: string },
    sweep,
    curves,
    evals,
    runDir,
    seconds: (Date.now() - t00) / 1000,
    stages: state.stages,
  };
  const { html, md } = renderPipelineReport(input);
  const reportPath = join(runDir, 'report.html');
  const reportMdPath = join(runDir, 'report.md');
  await writeFileAtomic(reportPath, html);
  await writeFileAtomic(reportMdPath, md);
  log(`report: ${reportPath}`);
  return { runDir, reportPath, reportMdPath, skipped, sweep, eval: evals };
}

/**
 * Writes the sweep's config with every URL sanitised (no userinfo, no secret query parameters)
 * and returns the `--set` overrides that give the sweep the real gate URL in memory only.
 */
export async function writeSweepConfig(path: string, raw: { gate?: { base_url?: string } & Record<string, unknown> } & Record<string, unknown>): Promise<string[]> {
  await writeFileAtomic(path, toYaml(sanitizeUrlsDeep(raw)));
  const url = raw.gate?.base_url;
  return url && sanitizeUrl(url) !== url ? [`gate.base_url=${url}`] : [];
}
