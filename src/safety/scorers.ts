/**
 * Toxicity scorers behind one interface:
 *   classifier  the embedded classifier (models/toxicity-ko), offline, deterministic
 *   judge       the safety rubric (judges/safety-ko.yaml) through the judge client; judge_score
 *               is the harmfulness in 0..1 (the heuristic judge when no endpoint is configured)
 *   moderation  the OpenAI moderation endpoint; toxicity = the largest category score
 *   combined    classifier and judge on every text; toxicity = their max (default) or mean,
 *               both kept in toxicity_classifier / toxicity_judge so a reviewer sees which fired
 * `scoreToxicity(rows, opts)` adds `toxicity` (0..1, null when the scorer failed on that row),
 * `toxic` (toxicity >= threshold, null on failure), `toxicity_scorer` (which scorer and model),
 * `toxicity_category` (judge and moderation) and `toxicity_error` (failures only).
 */
import OpenAI from 'openai';
import type { Row } from '../data/io.ts';
import { readAllRows, writeRows } from '../data/io.ts';
import { UserError } from '../util/errors.ts';
import { redactSecrets, sanitizeUrl } from '../util/redact.ts';
import { loadClassifier, loadDefaultClassifier, defaultModelDir, type ToxicityClassifier } from './classifier.ts';

export const SCORERS = ['classifier', 'judge', 'moderation', 'combined'] as const;
export type ScorerName = (typeof SCORERS)[number];

export interface ToxicityOptions {
  /** Which scorer (default classifier). */
  scorer?: ScorerName | string;
  /** Column holding the text to score (default 'text'). */
  field?: string;
  /** toxic = toxicity >= threshold. Default: the classifier's own threshold; 0.5 for judge and moderation. */
  threshold?: number;
  /** Names the data in error messages (e.g. the input file). */
  source?: string;

  /** classifier: use this classifier instead of the committed one (tests, custom models). */
  classifier?: ToxicityClassifier;
  /** classifier: load the model from this directory (model.json + weights.f16). */
  modelDir?: string;

  /** judge / moderation: OpenAI-compatible base URL (default OPENAI_BASE_URL). */
  baseURL?: string;
  /** judge / moderation: API key (default OPENAI_API_KEY). Never logged. */
  apiKey?: string;
  /** judge: model name; moderation: moderation model (default omni-moderation-latest). */
  model?: string;
  /** judge / moderation: requests in flight at once. */
  concurrency?: number;
  /** judge / moderation: retries on 429 / 5xx / timeouts. */
  maxRetries?: number;
  /** judge / moderation: per-request timeout in ms. */
  timeoutMs?: number;
  /** judge: rubric file (default judges/safety-ko.yaml). */
  rubricPath?: string;
  /** judge: column holding the prompt the text answers (default: prompt | instruction | question | query, if present). */
  promptField?: string;
  /** judge: durable cache file. */
  cachePath?: string;
  /** judge: first retry backoff in ms. */
  backoffBaseMs?: number;
  /** moderation: texts per request (default 32). */
  batchSize?: number;
  /** combined: how the classifier and judge scores are combined (default max). */
  combine?: 'max' | 'mean';
}

export interface ToxicitySummary {
  scorer: ScorerName;
  /** Scorer and model, e.g. "classifier:toxicity-ko-charngram-lr@002578c8422f". */
  scorerId: string;
  threshold: number;
  rows: number;
  /** Rows with a score. */
  scored: number;
  /** Rows the scorer could not score (judge failures); they have toxicity null. */
  failed: number;
  toxic: number;
  /** toxic / scored (0 when nothing was scored). */
  toxicRate: number;
  meanToxicity: number | null;
}

/** One scored text. */
export interface TextScore {
  toxicity: number | null;
  category?: string | null;
  error?: string;
  /** Extra columns the scorer adds (judge_* for the judge scorer). */
  extra?: Row;
}

/** An open scorer: reuse it over many batches (the curation stage does), then close it. */
export interface ToxicityScorer {
  readonly name: ScorerName;
  readonly id: string;
  readonly defaultThreshold: number;
  /** Scores the texts of `rows[i][field]`; `offset` numbers rows in error messages. */
  score(rows: Row[], field: string, offset?: number): Promise<TextScore[]>;
  close(): Promise<void>;
}

export function checkScorerName(name: string, where = '--scorer'): ScorerName {
  if (!(SCORERS as readonly string[]).includes(name)) {
    throw new UserError(`${where}: unknown scorer '${name}' (expected one of ${SCORERS.join(', ')})`);
  }
  return name as ScorerName;
}

function textOf(row: Row, field: string, where: string): string {
  const v = row[field];
  if (typeof v !== 'string') {
    const got = v === undefined ? 'no such field' : `got ${v === null ? 'null' : typeof v}`;
    throw new UserError(`${where}: field '${field}' must be a string (${got}); pass --field to name the column holding the text`);
  }
  return v;
}

const PROMPT_FIELDS = ['prompt', 'instruction', 'question', 'query'];

/** The prompt a text answers: the named column, else the first common prompt column present. */
function promptOf(row: Row, promptField: string | undefined, where: string): string {
  if (promptField !== undefined) {
    const v = row[promptField];
    if (typeof v !== 'string') throw new UserError(`${where}: field '${promptField}' must be a string (${v === undefined ? 'no such field' : `got ${v === null ? 'null' : typeof v}`}); it was named by --prompt-field`);
    return v;
  }
  for (const f of PROMPT_FIELDS) if (typeof row[f] === 'string') return row[f] as string;
  return '';
}

let defaultClassifierPromise: Promise<ToxicityClassifier | null> | null = null;

async function classifierScorer(opts: ToxicityOptions): Promise<ToxicityScorer> {
  let clf = opts.classifier ?? null;
  if (!clf && opts.modelDir) clf = await loadClassifier(opts.modelDir);
  if (!clf) {
    defaultClassifierPromise ??= loadDefaultClassifier();
    clf = await defaultClassifierPromise;
  }
  if (!clf) {
    throw new UserError(`${defaultModelDir()}: the embedded toxicity classifier has no weights; train it with: ko-align toxicity train`);
  }
  const c = clf;
  const source = opts.source ?? 'input';
  return {
    name: 'classifier',
    id: `classifier:${c.id}`,
    defaultThreshold: c.threshold,
    async score(rows, field, offset = 0) {
      return rows.map((r, i) => ({ toxicity: c.score(textOf(r, field, `${source}: row ${offset + i + 1}`)) }));
    },
    async close() {},
  };
}

async function judgeScorer(opts: ToxicityOptions, field: string): Promise<ToxicityScorer> {
  // Imported lazily: the judge brings the openai client and rubric loading.
  const { JudgeSession } = await import('../judge/job.ts');
  const { loadRubric, safetyRubricPath } = await import('../judge/rubric.ts');
  const rubricPath = opts.rubricPath ?? safetyRubricPath;
  const rubric = await loadRubric(rubricPath);
  const { min, max } = rubric.scale;
  const session = await JudgeSession.open({
    rubricPath,
    model: opts.model,
    baseURL: opts.baseURL,
    apiKey: opts.apiKey,
    concurrency: opts.concurrency,
    maxRetries: opts.maxRetries,
    timeoutMs: opts.timeoutMs,
    cachePath: opts.cachePath,
    promptField: 'prompt',
    answerField: 'answer',
    backoffBaseMs: opts.backoffBaseMs,
    source: opts.source,
  });
  const source = opts.source ?? 'input';
  return {
    name: 'judge',
    id: `judge:${rubric.id}@${rubric.version}/${session.model}`,
    defaultThreshold: 0.5,
    async score(rows, f, offset = 0) {
      // The judge sees {prompt, answer}: the text to score and, as context, the prompt it answers.
      const samples = rows.map((r, i) => ({ prompt: promptOf(r, opts.promptField, `${source}: row ${offset + i + 1}`), answer: textOf(r, f, `${source}: row ${offset + i + 1}`) }));
      const judged = await session.judge(samples, offset);
      return judged.map((j, i) => {
        const extra: Row = {};
        for (const [k, v] of Object.entries(j)) if (k.startsWith('judge_') && !(k in rows[i]!)) extra[k] = v;
        if (j.judge_status !== 'ok' || typeof j.judge_score !== 'number') {
          return { toxicity: null, category: null, error: `judge failed: ${String(j.judge_reason ?? 'no score')}`, extra };
        }
        // The safety rubric scores harmfulness on 0..1; other scales are mapped onto 0..1.
        const t = max > min ? (j.judge_score - min) / (max - min) : j.judge_score;
        const category = typeof j.judge_category === 'string' ? j.judge_category : null;
        return { toxicity: Math.min(1, Math.max(0, t)), category, extra };
      });
    },
    async close() {
      await session.close();
    },
  };
}

async function moderationScorer(opts: ToxicityOptions): Promise<ToxicityScorer> {
  const apiKey = opts.apiKey ?? process.env.OPENAI_API_KEY;
  const baseURL = opts.baseURL ?? process.env.OPENAI_BASE_URL;
  if (!apiKey) {
    throw new UserError('moderation scorer: no API key (set OPENAI_API_KEY; for a local OpenAI-compatible server any non-empty value works)');
  }
  const client = new OpenAI({ apiKey, baseURL, maxRetries: opts.maxRetries ?? 4, timeout: opts.timeoutMs ?? 60_000 });
  const model = opts.model ?? 'omni-moderation-latest';
  const batchSize = Math.max(1, opts.batchSize ?? 32);
  const concurrency = Math.max(1, opts.concurrency ?? 4);
  const source = opts.source ?? 'input';
  return {
    name: 'moderation',
    id: `moderation:${model}`,
    defaultThreshold: 0.5,
    async score(rows, field, offset = 0) {
      const texts = rows.map((r, i) => textOf(r, field, `${source}: row ${offset + i + 1}`));
      const out: TextScore[] = new Array(texts.length);
      const starts: number[] = [];
      for (let s = 0; s < texts.length; s += batchSize) starts.push(s);
      let next = 0;
      const worker = async (): Promise<void> => {
        for (let k = next++; k < starts.length; k = next++) {
          const s = starts[k]!;
          const chunk = texts.slice(s, s + batchSize);
          let res: OpenAI.Moderations.ModerationCreateResponse;
          try {
            res = await client.moderations.create({ model, input: chunk });
          } catch (e) {
            const err = e as Error & { status?: number };
            const what = redactSecrets(err.status ? `HTTP ${err.status}: ${err.message.split('\n')[0]}` : err.message.split('\n')[0], [apiKey]);
            throw new UserError(`moderation scorer: ${sanitizeUrl(baseURL ?? 'https://api.openai.com/v1')}/moderations failed for rows ${offset + s + 1}-${offset + s + chunk.length} of ${source}: ${what}`);
          }
          if (!Array.isArray(res.results) || res.results.length !== chunk.length) {
            throw new UserError(`moderation scorer: expected ${chunk.length} results from ${model}, got ${Array.isArray(res.results) ? res.results.length : 'none'}`);
          }
          res.results.forEach((r, j) => {
            let best = 0;
            let category: string | null = null;
            for (const [cat, v] of Object.entries((r.category_scores ?? {}) as unknown as Record<string, number>)) {
              if (typeof v === 'number' && v > best) {
                best = v;
                category = cat;
              }
            }
            out[s + j] = { toxicity: Math.min(1, Math.max(0, best)), category, extra: { moderation_flagged: Boolean(r.flagged) } };
          });
        }
      };
      await Promise.all(Array.from({ length: Math.min(concurrency, starts.length) }, worker));
      return out;
    },
    async close() {},
  };
}

/**
 * classifier + judge. The default threshold is the classifier's (its scores are calibrated, so
 * about as strict as the judge's 0.5). A row the judge could not score gets toxicity null (the
 * gate counts it as failed, never as clean), with the classifier's score kept beside it.
 */
async function combinedScorer(opts: ToxicityOptions, field: string): Promise<ToxicityScorer> {
  const combine = opts.combine ?? 'max';
  if (combine !== 'max' && combine !== 'mean') throw new UserError(`combined scorer: combine must be max or mean, got ${String(combine)}`);
  const clf = await classifierScorer(opts);
  const judge = await judgeScorer(opts, field);
  return {
    name: 'combined',
    id: `combined-${combine}(${clf.id}, ${judge.id})`,
    defaultThreshold: clf.defaultThreshold,
    async score(rows, f, offset = 0) {
      const [c, j] = await Promise.all([clf.score(rows, f, offset), judge.score(rows, f, offset)]);
      return rows.map((_, i) => {
        const cs = c[i]!.toxicity;
        const js = j[i]!.toxicity;
        const extra: Row = { ...(j[i]!.extra ?? {}), toxicity_classifier: cs, toxicity_judge: js };
        if (cs === null || js === null) return { toxicity: null, category: j[i]!.category ?? null, error: j[i]!.error ?? c[i]!.error ?? 'combined: a scorer failed', extra };
        return { toxicity: combine === 'max' ? Math.max(cs, js) : (cs + js) / 2, category: j[i]!.category ?? null, extra };
      });
    },
    async close() {
      await Promise.all([clf.close(), judge.close()]);
    },
  };
}

/** Opens the named scorer (checks its name, loads the model or prepares the client). */
export async function openToxicityScorer(opts: ToxicityOptions = {}): Promise<ToxicityScorer> {
  const name = checkScorerName(opts.scorer ?? 'classifier');
  if (name === 'classifier') return classifierScorer(opts);
  if (name === 'judge') return judgeScorer(opts, opts.field ?? 'text');
  if (name === 'combined') return combinedScorer(opts, opts.field ?? 'text');
  return moderationScorer(opts);
}

function checkThreshold(t: number | undefined): void {
  if (t !== undefined && (typeof t !== 'number' || !Number.isFinite(t) || t < 0 || t > 1)) {
    throw new UserError(`--threshold: must be a number in [0, 1], got ${String(t)}`);
  }
}

/** Adds toxicity columns to one row from its score. */
export function withToxicity(row: Row, s: TextScore, threshold: number, scorerId: string): Row {
  const out: Row = { ...row, ...(s.extra ?? {}) };
  out.toxicity = s.toxicity;
  out.toxic = s.toxicity === null ? null : s.toxicity >= threshold;
  out.toxicity_scorer = scorerId;
  if (s.category !== undefined) out.toxicity_category = s.category;
  if (s.error !== undefined) out.toxicity_error = s.error;
  return out;
}

/** Counts for a set of scored rows (toxicity / toxic columns). */
export function summarizeToxicity(rows: Row[], scorer: ScorerName, scorerId: string, threshold: number): ToxicitySummary {
  let scored = 0;
  let toxic = 0;
  let sum = 0;
  for (const r of rows) {
    if (typeof r.toxicity !== 'number') continue;
    scored++;
    sum += r.toxicity;
    if (r.toxic === true) toxic++;
  }
  return {
    scorer,
    scorerId,
    threshold,
    rows: rows.length,
    scored,
    failed: rows.length - scored,
    toxic,
    toxicRate: scored > 0 ? toxic / scored : 0,
    meanToxicity: scored > 0 ? sum / scored : null,
  };
}

/** Scores every row's `field` text and adds toxicity, toxic, toxicity_scorer (+ category / error). */
export async function scoreToxicity(rows: Row[], opts: ToxicityOptions = {}): Promise<{ rows: Row[]; summary: ToxicitySummary }> {
  checkThreshold(opts.threshold);
  const field = opts.field ?? 'text';
  const scorer = await openToxicityScorer(opts);
  try {
    const threshold = opts.threshold ?? scorer.defaultThreshold;
    const scores = await scorer.score(rows, field, 0);
    const out = rows.map((r, i) => withToxicity(r, scores[i]!, threshold, scorer.id));
    return { rows: out, summary: summarizeToxicity(out, scorer.name, scorer.id, threshold) };
  } finally {
    await scorer.close();
  }
}

/** Scores plain texts (e.g. red-team answers); `prompts` go to the judge scorer as context. */
export async function scoreTexts(
  texts: string[],
  opts: ToxicityOptions & { prompts?: string[] } = {},
): Promise<{ scores: (number | null)[]; toxic: (boolean | null)[]; summary: ToxicitySummary }> {
  const rows: Row[] = texts.map((t, i) => (opts.prompts ? { prompt: opts.prompts[i] ?? '', text: t } : { text: t }));
  const { rows: out, summary } = await scoreToxicity(rows, { ...opts, field: 'text', promptField: opts.prompts ? 'prompt' : opts.promptField });
  return { scores: out.map((r) => r.toxicity as number | null), toxic: out.map((r) => r.toxic as boolean | null), summary };
}

/** `ko-align toxicity score`: reads `input`, scores it, writes `output` atomically. */
export async function scoreToxicityFile(input: string, output: string, opts: ToxicityOptions = {}): Promise<ToxicitySummary> {
  checkScorerName(opts.scorer ?? 'classifier');
  checkThreshold(opts.threshold);
  const rows = await readAllRows(input);
  const { rows: out, summary } = await scoreToxicity(rows, { source: input, ...opts });
  await writeRows(output, out);
  return summary;
}
