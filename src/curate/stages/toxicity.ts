/**
 * toxicity: rejects rows whose answer is toxic (toxicity >= threshold) by one of the toxicity
 * scorers (embedded classifier by default; the safety judge or the moderation endpoint when
 * configured). Every row, kept or rejected, records `toxicity` and `toxicity_scorer`. A row
 * the scorer could not score (judge failure) is rejected with the scorer's reason: an
 * unscored answer is never passed as clean.
 */
import { join } from 'node:path';
import type { Schema } from '../../config/schema.ts';
import type { Row } from '../../data/io.ts';
import { openToxicityScorer, SCORERS, type ToxicityScorer } from '../../safety/scorers.ts';
import type { Decision, Stage, StageContext, StageFactory } from '../stage.ts';
import { stageParams } from './params.ts';
import { inBatches } from '../../util/iter.ts';

export const toxicitySchema: Schema = {
  scorer: { type: 'string', enum: SCORERS, default: 'classifier', help: 'classifier (embedded, offline) | judge (safety rubric) | moderation (OpenAI moderation endpoint) | combined (max or mean of classifier and judge: see combine)' },
  combine: { type: 'string', enum: ['max', 'mean'], default: 'max', help: 'combined scorer: toxicity = max (either scorer flags it) or mean of the classifier and judge scores' },
  threshold: { type: 'number', min: 0, max: 1, optional: true, help: 'reject when toxicity >= threshold (default: the classifier threshold in models/toxicity-ko/model.json; 0.5 for judge and moderation)' },
  field: { type: 'string', default: 'answer', help: 'column holding the text to score' },
  model_dir: { type: 'string', optional: true, help: 'classifier: model directory (default: the committed models/toxicity-ko)' },
  rubric: { type: 'string', optional: true, help: 'judge: rubric YAML (default judges/safety-ko.yaml)' },
  model: { type: 'string', optional: true, help: 'judge: judge model; moderation: moderation model (default omni-moderation-latest)' },
  base_url: { type: 'string', optional: true, help: 'judge / moderation: OpenAI-compatible base URL (default $OPENAI_BASE_URL)' },
  concurrency: { type: 'integer', min: 1, default: 8, help: 'judge / moderation: requests in flight' },
  batch_size: { type: 'integer', min: 1, default: 64, help: 'rows scored per batch (the stream is processed batch by batch, in order)' },
};

export interface ToxicityStageParams {
  scorer: (typeof SCORERS)[number];
  combine: 'max' | 'mean';
  threshold?: number;
  field: string;
  model_dir?: string;
  rubric?: string;
  model?: string;
  base_url?: string;
  concurrency: number;
  batch_size: number;
}

export const toxicityStage: StageFactory = (params, where): Stage => {
  const p = stageParams<ToxicityStageParams>(toxicitySchema, params, where);
  return {
    name: 'toxicity',
    async *process(rows: AsyncIterable<Row>, ctx: StageContext): AsyncIterable<Decision> {
      let scorer: ToxicityScorer | null = null;
      let threshold = 0;
      let offset = 0;
      const flush = async (batch: Row[]): Promise<Decision[]> => {
        if (!scorer) {
          scorer = await openToxicityScorer({
            scorer: p.scorer,
            combine: p.combine,
            field: p.field,
            modelDir: p.model_dir,
            rubricPath: p.rubric,
            model: p.model,
            baseURL: p.base_url,
            concurrency: p.concurrency,
            promptField: 'prompt',
            cachePath: p.scorer === 'judge' ? join(ctx.workDir, 'toxicity-judge-cache.jsonl') : undefined,
            source: `${where}: toxicity`,
          });
          threshold = p.threshold ?? scorer.defaultThreshold;
          ctx.log(`toxicity: scorer ${scorer.id}, reject at toxicity >= ${threshold.toFixed(4)}`);
        }
        const s = scorer;
        const scores = await s.score(batch, p.field, offset);
        offset += batch.length;
        return batch.map((row, i) => {
          const sc = scores[i]!;
          const out: Row = { ...row, toxicity: sc.toxicity, toxicity_scorer: s.id };
          if (sc.category !== undefined) out.toxicity_category = sc.category;
          if (sc.toxicity === null) return { row: out, keep: false, reason: `toxicity: not scored (${sc.error ?? 'scorer failed'})` };
          if (sc.toxicity >= threshold) {
            return { row: out, keep: false, reason: `toxicity: ${sc.toxicity.toFixed(3)} >= ${threshold.toFixed(3)} (${s.name}${sc.category ? `, ${sc.category}` : ''})` };
          }
          return { row: out, keep: true };
        });
      };
      try {
        for await (const batch of inBatches(rows, p.batch_size)) yield* await flush(batch);
      } finally {
        await (scorer as ToxicityScorer | null)?.close();
      }
    },
  };
};
