/**
 * The curation runner. Input files are read (any file format, any row format) into canonical
 * rows `{ id, prompt, answer, messages, ...original columns }`, then each enabled stage streams
 * the previous stage's kept rows into its own kept / rejected files.
 *
 * Every step writes to output_dir/.stages/<NN>-<name>-<hash>/ where the hash chains the input
 * files' content, every earlier stage and this stage's type + params. The directory is built
 * under a temp name and renamed when the stage finishes, so a directory that exists is a
 * finished stage: an unchanged stage is skipped, and a killed run resumes at the first
 * unfinished stage. Each stage also gets a persistent work dir (output_dir/.work/<NN>-<name>-<hash>/)
 * for its own caches (the judge's request cache), which survives a kill.
 *
 * Outputs: kept.parquet (the last stage's kept rows), rejected.parquet (every rejected row with
 * `stage` and `reason`), manifest.json (counts per stage, reasons histogram, config hash, durations).
 */
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';

const gzipAsync = promisify(gzip);
import { applySetOverrides, readConfigFile, validateConfig } from '../config/schema.ts';
import { applyColumns, describeFormatChoice, mappedFormat, toExample, promptText, answerText, DATA_FORMATS, type ColumnMap, type DataFormat } from '../data/formats.ts';
import { readRows, writeRows, toJsonText, type Format, type Row } from '../data/io.ts';
import { UserError } from '../util/errors.ts';
import { sanitizeUrlsDeep } from '../util/redact.ts';
import { sha256, stableStringify, writeFileAtomic, fileExists } from '../util/fs.ts';
import { curateSchema, type CurateConfig } from './config.ts';
import { Progress, type ProgressMode } from './progress.ts';
import { getStageFactory } from './registry.ts';
import { contentId } from './rows.ts';
import type { Stage } from './stage.ts';

/** Bump when the runner's row layout changes, so old stage caches are not reused (2: gzipped stage files). */
export const CURATE_FORMAT_VERSION = 2;

export interface StageReport {
  index: number;
  name: string;
  type: string;
  hash: string;
  dir: string;
  in: number;
  kept: number;
  rejected: number;
  reasons: Record<string, number>;
  duration_s: number;
  /** CPU time (user + system) of this process while the stage ran: wall time minus waiting. */
  cpu_s: number;
  /** True when this run reused the finished stage output instead of recomputing it. */
  cached: boolean;
}

export interface Manifest {
  version: number;
  config_hash: string;
  config: CurateConfig;
  inputs: { path: string; format: string; sha256: string }[];
  stages: StageReport[];
  totals: { in: number; kept: number; rejected: number };
  /** "<stage>/<reason code>" -> rows. */
  reasons: Record<string, number>;
  outputs: { kept: string; rejected: string; manifest: string };
  started_at: string;
  finished_at: string;
  duration_s: number;
}

export interface RunOptions {
  /** `--set key=value` overrides applied to the config file (or object) before validation. */
  sets?: string[];
  /** Log lines (stage summaries); default: stderr. */
  log?: (msg: string) => void;
  /** Overrides the config's progress mode. */
  progress?: ProgressMode;
  /** Overrides every input's row format (`ko-align curate --format`). */
  format?: string;
}

/** Loads, overrides and validates a curation config from a file or an object. */
export async function loadCurateConfig(config: string | Record<string, unknown>, sets: string[] = []): Promise<{ config: CurateConfig; source: string }> {
  const source = typeof config === 'string' ? config : '<config>';
  const raw = typeof config === 'string' ? await readConfigFile(config) : structuredClone(config);
  const cfg = validateConfig<CurateConfig>(curateSchema, applySetOverrides(raw, sets), source);
  if (cfg.inputs.length === 0) throw new UserError(`${source}: key 'inputs' must list at least one dataset`);
  return { config: cfg, source };
}

async function fileSha256(path: string): Promise<string> {
  const h = createHash('sha256');
  await new Promise<void>((resolve, reject) => {
    createReadStream(path)
      .on('data', (d) => h.update(d))
      .on('end', () => resolve())
      .on('error', reject);
  });
  return h.digest('hex');
}

/**
 * Stage outputs are gzipped JSONL (level 1, one gzip member per ~1 MB flush): every stage keeps
 * its kept and rejected rows for resuming, and uncompressed they cost several times the input.
 */
const KEPT = 'kept.jsonl.gz';
const REJECTED = 'rejected.jsonl.gz';

/** Buffered, fsynced, gzipped JSONL writer for stage outputs. */
class JsonlSink {
  private buf: string[] = [];
  private size = 0;
  private wrote = false;
  count = 0;
  private constructor(private readonly fh: Awaited<ReturnType<typeof open>>) {}
  static async create(path: string): Promise<JsonlSink> {
    return new JsonlSink(await open(path, 'w'));
  }
  async write(row: Row): Promise<void> {
    const s = toJsonText(row) + '\n';
    this.buf.push(s);
    this.size += s.length;
    this.count++;
    if (this.size > 1 << 20) await this.flush();
  }
  private async flush(): Promise<void> {
    if (this.buf.length === 0) return;
    this.wrote = true;
    await this.fh.write(await gzipAsync(this.buf.join(''), { level: 1 }));
    this.buf = [];
    this.size = 0;
  }
  async close(): Promise<void> {
    // An empty stage output is still a valid (empty) gzip file.
    if (!this.wrote && this.buf.length === 0) this.buf.push('');
    await this.flush();
    await this.fh.sync();
    await this.fh.close();
  }
  async abort(): Promise<void> {
    await this.fh.close().catch(() => {});
  }
}

const reasonCode = (reason: string | undefined) => (reason ?? 'rejected').split(':')[0].trim() || 'rejected';

async function readStats(dir: string): Promise<StageReport | null> {
  try {
    return JSON.parse(await readFile(join(dir, 'stats.json'), 'utf8')) as StageReport;
  } catch {
    return null;
  }
}

/** Columns that hold the answer of a prompt-only row (besides `completion`), in order of preference. */
const ANSWER_FIELDS = ['answer', 'response', 'output'] as const;

/**
 * Converts an input row to the canonical curated row, or throws a UserError naming it. Every
 * original column passes through untouched (a column named `id` as `source_id`: `id` is the
 * content id); `columns` maps the dataset's own names onto the adapters' fields first.
 * Curation judges answers: a row with no answer (no completion / answer / response / output
 * column, no assistant turn) is refused with the column names it has, never passed on with "".
 */
export function canonicalRow(row: Row, format: DataFormat | undefined, where: string, columns?: ColumnMap): Row {
  const mapped = applyColumns(row, columns, where);
  const ex = toExample(mapped, format ?? mappedFormat(columns), where);
  if (ex.format !== 'pretokenized' && !ex.messages.some((m) => m.role === 'assistant')) {
    const field = ANSWER_FIELDS.find((k) => typeof mapped[k] === 'string');
    if (field === undefined) {
      const keys = Object.keys(row);
      throw new UserError(
        `${where}: no answer field (the row has ${keys.length ? keys.map((k) => `'${k}'`).join(', ') : 'no fields'}); ` +
          `expected one of completion, ${ANSWER_FIELDS.join(', ')}, or an assistant turn in messages / conversations`,
      );
    }
    ex.messages.push({ role: 'assistant', content: mapped[field] as string });
  }
  const prompt = promptText(ex);
  const answer = answerText(ex);
  const out: Row = { id: contentId(prompt, answer), prompt, answer, messages: ex.messages };
  for (const [k, v] of Object.entries(row)) {
    if (k === 'id') out.source_id = v;
    else if (!(k in out)) out[k] = v;
  }
  return out;
}

/**
 * Runs a curation config end to end and returns the manifest (also written to
 * output_dir/manifest.json). Finished stages whose inputs and params are unchanged are reused.
 */
export async function runCuration(configOrPath: string | Record<string, unknown> | CurateConfig, opts: RunOptions = {}): Promise<Manifest> {
  const started = new Date();
  const { config, source } = await loadCurateConfig(configOrPath as string | Record<string, unknown>, opts.sets ?? []);
  if (opts.format !== undefined) {
    if (opts.format !== 'auto' && !(DATA_FORMATS as readonly string[]).includes(opts.format)) {
      throw new UserError(`--format: unknown row format '${opts.format}', expected auto or one of ${DATA_FORMATS.join(', ')}`);
    }
    for (const inp of config.inputs) inp.format = opts.format;
  }
  const log = opts.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const progressMode = opts.progress ?? config.progress;
  const out = config.output_dir;
  const stagesDir = join(out, '.stages');

  // Stage objects first: a bad stage type or param fails before any work.
  const active = config.stages.map((s, i) => ({ spec: s, where: `${source}: stages[${i}]` })).filter((s) => s.spec.enabled);
  const stages: { stage: Stage; name: string; type: string; params: Record<string, unknown> }[] = active.map(({ spec, where }) => {
    const params = (spec.params ?? {}) as Record<string, unknown>;
    if (typeof params !== 'object' || Array.isArray(params)) throw new UserError(`${where}: key 'params' must be a mapping`);
    const stage = getStageFactory(spec.type, where)(params, where);
    return { stage, name: spec.name ?? spec.type, type: spec.type, params };
  });
  const names = new Set<string>();
  for (const s of stages) {
    if (names.has(s.name)) throw new UserError(`${source}: two stages are named '${s.name}'; give one a different 'name'`);
    names.add(s.name);
  }

  // Step 0: ingest.
  const inputs: Manifest['inputs'] = [];
  for (const [i, inp] of config.inputs.entries()) {
    if (!fileExists(inp.path)) throw new UserError(`${source}: inputs[${i}].path: ${inp.path}: file not found`);
    inputs.push({ path: inp.path, format: inp.format, sha256: await fileSha256(inp.path) });
  }
  await mkdir(stagesDir, { recursive: true });
  // Leftovers of a killed run: half-built stage dirs are never reused.
  for (const e of await readdir(stagesDir)) if (e.startsWith('.tmp-')) await rm(join(stagesDir, e), { recursive: true, force: true });

  let prevHash = sha256(stableStringify({ v: CURATE_FORMAT_VERSION, inputs: config.inputs.map((inp, i) => ({ ...inp, sha256: inputs[i].sha256 })) }));
  const reports: StageReport[] = [];
  const ingestDir = join(stagesDir, `00-input-${prevHash.slice(0, 12)}`);
  reports.push(
    await runStep(ingestDir, 0, 'input', 'input', prevHash, undefined, progressMode, log, async (keep, reject, tick) => {
      for (const [i, inp] of config.inputs.entries()) {
        const format = inp.format === 'auto' ? undefined : (inp.format as DataFormat);
        const fileFormat = inp.file_format === 'auto' ? undefined : (inp.file_format as Format);
        let n = 0;
        let good = 0;
        let firstError: UserError | undefined;
        for await (const row of readRows(inp.path, { format: fileFormat, requireRows: true })) {
          n++;
          if (inp.limit > 0 && n > inp.limit) break;
          tick();
          try {
            if (n === 1) log(`input ${describeFormatChoice(inp.path, applyColumns(row, inp.columns, `${inp.path}: row 1`), inp.format, { columns: inp.columns })}`);
            await keep(canonicalRow(row, format, `${inp.path}: row ${n}`, inp.columns));
            good++;
          } catch (e) {
            if (!(e instanceof UserError)) throw e;
            firstError ??= e;
            await reject({ ...row, source_path: inp.path }, `invalid_row: ${e.message}`);
          }
        }
        if (good === 0 && firstError) throw firstError;
      }
    }),
  );

  // Stages.
  for (const [k, s] of stages.entries()) {
    const index = k + 1;
    const hash = sha256(stableStringify({ prev: prevHash, type: s.type, name: s.name, params: s.params }));
    const dir = join(stagesDir, `${String(index).padStart(2, '0')}-${safeName(s.name)}-${hash.slice(0, 12)}`);
    const prevDir = reports[reports.length - 1].dir;
    const total = reports[reports.length - 1].kept;
    const workDir = join(out, '.work', `${String(index).padStart(2, '0')}-${safeName(s.name)}-${hash.slice(0, 12)}`);
    reports.push(
      await runStep(dir, index, s.name, s.type, hash, total, progressMode, log, async (keep, reject, tick) => {
        await mkdir(workDir, { recursive: true });
        const input = (async function* () {
          for await (const row of readRows(join(prevDir, KEPT), { format: 'jsonl' })) {
            tick();
            yield row;
          }
        })();
        for await (const d of s.stage.process(input, { workDir, log })) {
          if (d.keep) await keep(d.row);
          else await reject(d.row, d.reason ?? 'rejected');
        }
      }),
    );
    prevHash = hash;
  }

  // Final outputs.
  const keptPath = join(out, 'kept.parquet');
  const rejectedPath = join(out, 'rejected.parquet');
  const last = reports[reports.length - 1];
  await writeRows(keptPath, readRows(join(last.dir, KEPT), { format: 'jsonl' }));
  await writeRows(rejectedPath, (async function* () {
    for (const r of reports) yield* readRows(join(r.dir, REJECTED), { format: 'jsonl' });
  })());

  const reasons: Record<string, number> = {};
  for (const r of reports) for (const [code, n] of Object.entries(r.reasons)) reasons[`${r.name}/${code}`] = n;
  const finished = new Date();
  const manifest: Manifest = {
    version: CURATE_FORMAT_VERSION,
    config_hash: sha256(stableStringify(config)),
    // Stored: URLs lose userinfo and secret query parameters (the hash above is of the real config).
    config: sanitizeUrlsDeep(config),
    inputs,
    stages: reports,
    totals: { in: reports[0].in, kept: last.kept, rejected: reports.reduce((a, r) => a + r.rejected, 0) },
    reasons,
    outputs: { kept: keptPath, rejected: rejectedPath, manifest: join(out, 'manifest.json') },
    started_at: started.toISOString(),
    finished_at: finished.toISOString(),
    duration_s: (finished.getTime() - started.getTime()) / 1000,
  };
  await writeFileAtomic(join(out, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  log(`curate: ${manifest.totals.in} rows in, ${manifest.totals.kept} kept, ${manifest.totals.rejected} rejected -> ${out}`);
  return manifest;
}

function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.-]+/g, '_');
}

type Emit = (row: Row) => Promise<void>;
type Reject = (row: Row, reason: string) => Promise<void>;

/**
 * Runs one step into `dir` unless `dir` already holds its finished output. The step writes to
 * a temp dir that is renamed onto `dir` only when it completes.
 */
async function runStep(
  dir: string,
  index: number,
  name: string,
  type: string,
  hash: string,
  total: number | undefined,
  progressMode: ProgressMode,
  log: (m: string) => void,
  body: (keep: Emit, reject: Reject, tick: () => void) => Promise<void>,
): Promise<StageReport> {
  const done = fileExists(dir) ? await readStats(dir) : null;
  if (done && done.hash === hash) {
    log(`stage ${index} ${name}: unchanged, reusing ${done.kept} kept / ${done.rejected} rejected`);
    return { ...done, dir, cached: true };
  }
  if (fileExists(dir)) await rm(dir, { recursive: true, force: true });
  const tmp = join(dir, '..', `.tmp-${dir.split(/[\\/]/).pop()}-${process.pid}`);
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  const kept = await JsonlSink.create(join(tmp, KEPT));
  const rejected = await JsonlSink.create(join(tmp, REJECTED));
  const reasons: Record<string, number> = {};
  let seen = 0;
  const progress = new Progress(`stage ${index} ${name}`, total, progressMode);
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  try {
    await body(
      (row) => kept.write(row),
      (row, reason) => {
        const code = reasonCode(reason);
        reasons[code] = (reasons[code] ?? 0) + 1;
        return rejected.write({ ...row, stage: name, reason });
      },
      () => {
        seen++;
        progress.tick();
      },
    );
    await kept.close();
    await rejected.close();
  } catch (e) {
    await kept.abort();
    await rejected.abort();
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
  progress.done();
  const report: StageReport = {
    index, name, type, hash, dir,
    in: kept.count + rejected.count,
    kept: kept.count,
    rejected: rejected.count,
    reasons,
    duration_s: (performance.now() - t0) / 1000,
    cpu_s: (() => {
      const c = process.cpuUsage(c0);
      return (c.user + c.system) / 1e6;
    })(),
    cached: false,
  };
  if (index > 0 && seen !== report.in) {
    await rm(tmp, { recursive: true, force: true });
    throw new Error(`stage ${name} returned ${report.in} decisions for ${seen} input rows; a stage must decide every row exactly once`);
  }
  await writeFileAtomic(join(tmp, 'stats.json'), JSON.stringify(report, null, 2) + '\n');
  await rename(tmp, dir);
  log(`stage ${index} ${name}: ${report.in} in, ${report.kept} kept, ${report.rejected} rejected (${report.duration_s.toFixed(2)} s)`);
  return report;
}

/** Paths of a finished run's outputs. */
export function curateOutputs(outputDir: string): { kept: string; rejected: string; manifest: string } {
  return { kept: join(outputDir, 'kept.parquet'), rejected: join(outputDir, 'rejected.parquet'), manifest: join(outputDir, 'manifest.json') };
}

