/**
 * perplexity: CCNet-style quality buckets. Each row's text is scored by a language model as the
 * mean per-token log-probability; perplexity = exp(-mean logprob). Percentile cut points over the
 * whole input (default 30 / 60, as CCNet) split rows into head (most fluent, lowest perplexity),
 * middle and tail; rows in the buckets named by `keep` pass. Rows get `perplexity` and
 * `ppl_bucket`. This stage needs every score before it can bucket, so it buffers its input.
 *
 * The scorer is a `scoreFn(texts) => mean logprobs`: built from the `model:` directory through
 * src/model (src/curate/model-score.ts), or injected (tests, other engines) with `createPerplexityStage`.
 */
import type { Schema } from '../../config/schema.ts';
import type { Row } from '../../data/io.ts';
import { UserError } from '../../util/errors.ts';
import { answerOf, promptOf } from '../rows.ts';
import type { Decision, Stage, StageContext, StageFactory } from '../stage.ts';
import { stageParams } from './params.ts';

export type ScoreFn = (texts: string[]) => Promise<number[]>;
export type Bucket = 'head' | 'middle' | 'tail';

export const perplexitySchema: Schema = {
  model: { type: 'string', optional: true, help: 'Hugging Face model dir whose per-token log-probs score each row' },
  field: { type: 'string', enum: ['answer', 'prompt', 'both'], default: 'answer', help: 'which text is scored' },
  percentiles: { type: 'array', items: { type: 'number', help: 'percentile (0-100)', min: 0, max: 100 }, default: [30, 60], help: 'two percentile cut points: head below the first, tail above the second' },
  keep: { type: 'string|string[]', default: ['head', 'middle'], help: 'buckets to keep: head | middle | tail' },
  batch_size: { type: 'integer', default: 8, min: 1, help: 'texts per scoring call' },
  max_tokens: { type: 'integer', default: 512, min: 1, help: 'texts are truncated to this many tokens for scoring' },
  backend: { type: 'string', default: 'auto', help: 'tensor backend for the model (auto | tensorflow | webgpu | native | wasm | cpu)' },
};

export interface PerplexityParams {
  model?: string;
  field: 'answer' | 'prompt' | 'both';
  percentiles: number[];
  keep: string[];
  batch_size: number;
  max_tokens: number;
  backend: string;
}

/** Value at percentile q (0-100) of sorted values, linear interpolation (numpy's default). */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = ((sorted.length - 1) * q) / 100;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export function bucketOf(ppl: number, cuts: [number, number]): Bucket {
  return ppl <= cuts[0] ? 'head' : ppl <= cuts[1] ? 'middle' : 'tail';
}

function textOf(row: Row, field: PerplexityParams['field']): string {
  return field === 'answer' ? answerOf(row) : field === 'prompt' ? promptOf(row) : `${promptOf(row)}\n${answerOf(row)}`;
}

function validate(p: PerplexityParams, where: string): void {
  if (p.percentiles.length !== 2 || p.percentiles[0] > p.percentiles[1]) {
    throw new UserError(`${where}: key 'params.percentiles' must be two ascending percentiles like [30, 60], got ${JSON.stringify(p.percentiles)}`);
  }
  for (const k of p.keep) {
    if (k !== 'head' && k !== 'middle' && k !== 'tail') throw new UserError(`${where}: key 'params.keep' has unknown bucket '${k}' (expected head, middle, tail)`);
  }
}

/** The stage with an explicit scorer (tests inject a deterministic one). */
export function createPerplexityStage(params: Record<string, unknown>, where: string, scorer: ScoreFn | { load: (log: (m: string) => void) => Promise<ScoreFn> }): Stage {
  const p = stageParams<PerplexityParams>(perplexitySchema, params, where);
  validate(p, where);
  const keep = new Set(p.keep);
  return {
    name: 'perplexity',
    async *process(rows: AsyncIterable<Row>, ctx: StageContext): AsyncIterable<Decision> {
      const buf: Row[] = [];
      for await (const row of rows) buf.push(row);
      if (buf.length === 0) return;
      const score: ScoreFn = typeof scorer === 'function' ? scorer : await scorer.load(ctx.log);
      const ppl = new Float64Array(buf.length);
      for (let i = 0; i < buf.length; i += p.batch_size) {
        const batch = buf.slice(i, i + p.batch_size).map((r) => textOf(r, p.field));
        const lp = await score(batch);
        if (lp.length !== batch.length) throw new Error(`perplexity scorer returned ${lp.length} scores for ${batch.length} texts`);
        for (let j = 0; j < lp.length; j++) ppl[i + j] = Math.exp(-lp[j]);
      }
      const sorted = Array.from(ppl).filter(Number.isFinite).sort((a, b) => a - b);
      const cuts: [number, number] = [percentile(sorted, p.percentiles[0]), percentile(sorted, p.percentiles[1])];
      ctx.log(`perplexity: cut points p${p.percentiles[0]}=${cuts[0].toFixed(2)} p${p.percentiles[1]}=${cuts[1].toFixed(2)}`);
      for (let i = 0; i < buf.length; i++) {
        const v = ppl[i];
        const bucket: Bucket = Number.isFinite(v) ? bucketOf(v, cuts) : 'tail';
        const row = { ...buf[i], perplexity: Number.isFinite(v) ? v : null, ppl_bucket: bucket };
        if (keep.has(bucket)) yield { row, keep: true };
        else yield { row, keep: false, reason: `perplexity_${bucket}: perplexity ${Number.isFinite(v) ? v.toFixed(2) : 'n/a'} in the ${bucket} bucket` };
      }
    },
  };
}

/** Builds a scorer from a model directory through src/model (imported lazily: tfjs loads only when used). */
async function modelScoreFn(p: PerplexityParams, log: (m: string) => void): Promise<ScoreFn> {
  const { makeScoreFn } = await import('../model-score.ts');
  return makeScoreFn(p.model!, { maxTokens: p.max_tokens, backend: p.backend, batchSize: p.batch_size, log });
}

export const perplexityStage: StageFactory = (params, where): Stage => {
  const p = stageParams<PerplexityParams>(perplexitySchema, params, where);
  if (!p.model) throw new UserError(`${where}: missing required key 'params.model' (the model dir that scores perplexity)`);
  return createPerplexityStage(params, where, { load: (log) => modelScoreFn(p, log) });
};
