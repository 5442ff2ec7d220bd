/**
 * judge: scores each row's prompt/answer with a judge rubric (LLM endpoint, or the embedded
 * heuristic judge offline) and keeps rows whose judge_score is within [min_score, max_score].
 * Every row, kept or rejected, carries the judge_* columns. A row the judge could not score is
 * rejected with the judge's reason (never passed as good); rows that try to address the judge
 * (judge_flags) are rejected when reject_flagged is on. The durable judge cache lives in the run
 * directory, so a re-run or a crashed run does not pay twice.
 */
import { join } from 'node:path';
import type { Schema } from '../../config/schema.ts';
import type { Row } from '../../data/io.ts';
import { JudgeSession } from '../../judge/job.ts';
import { defaultRubricPath } from '../../judge/rubric.ts';
import type { Decision, Stage, StageContext, StageFactory } from '../stage.ts';
import { stageParams } from './params.ts';
import { inBatches } from '../../util/iter.ts';

export const judgeStageSchema: Schema = {
  rubric: { type: 'string', optional: true, help: 'rubric YAML (default judges/quality-ko.yaml)' },
  min_score: { type: 'number', optional: true, help: 'keep rows with judge_score >= this (default: 6 on a 1-10 scale; none for other scales)' },
  max_score: { type: 'number', optional: true, help: 'keep rows with judge_score <= this (e.g. 0.5 with the safety rubric)' },
  reject_flagged: { type: 'boolean', default: true, help: 'reject rows whose text tries to address the judge (judge_flags not empty)' },
  model: { type: 'string', optional: true, help: 'judge model (default $KO_ALIGN_JUDGE_MODEL or gpt-4o-mini)' },
  base_url: { type: 'string', optional: true, help: 'OpenAI-compatible base URL (default $OPENAI_BASE_URL; none configured = heuristic judge)' },
  heuristic: { type: 'boolean', default: false, help: 'use the embedded heuristic judge even when an endpoint is configured' },
  concurrency: { type: 'integer', min: 1, default: 8, help: 'requests in flight' },
  max_retries: { type: 'integer', min: 0, default: 4, help: 'retries per request on 429 / 5xx / timeouts' },
  timeout_ms: { type: 'integer', min: 1, default: 60000, help: 'per-request timeout in ms' },
  batch_size: { type: 'integer', min: 1, default: 256, help: 'rows judged concurrently per batch (the stream stays in order)' },
  cache: { type: 'string', optional: true, help: 'judge cache file (default <run dir>/judge-cache.jsonl)' },
  max_failed_fraction: { type: 'number', min: 0, max: 1, default: 0.5, help: 'fail the stage when more than this fraction of rows could not be judged (every row failing always fails); scored rows stay in the cache' },
  token_limit_param: { type: 'string', enum: ['max_completion_tokens', 'max_tokens'], default: 'max_completion_tokens', help: 'how the answer limit is sent (max_tokens for servers that need the old name)' },
  temperature_param: { type: 'string', enum: ['auto', 'always', 'never'], default: 'auto', help: 'send the rubric temperature: auto leaves it out for models that reject it (o1/o3/o4/gpt-5)' },
};

export interface JudgeStageParams {
  rubric?: string;
  min_score?: number;
  max_score?: number;
  reject_flagged: boolean;
  model?: string;
  base_url?: string;
  heuristic: boolean;
  concurrency: number;
  max_retries: number;
  timeout_ms: number;
  batch_size: number;
  cache?: string;
  max_failed_fraction: number;
  token_limit_param: 'max_completion_tokens' | 'max_tokens';
  temperature_param: 'auto' | 'always' | 'never';
}

export const judgeStage: StageFactory = (params, where): Stage => {
  const p = stageParams<JudgeStageParams>(judgeStageSchema, params, where);
  return {
    name: 'judge',
    async *process(rows: AsyncIterable<Row>, ctx: StageContext): AsyncIterable<Decision> {
      let session: JudgeSession | null = null;
      let min: number | undefined;
      let offset = 0;
      const flush = async (batch: Row[]): Promise<Decision[]> => {
        if (!session) {
          session = await JudgeSession.open({
            rubricPath: p.rubric ?? defaultRubricPath,
            model: p.model,
            baseURL: p.base_url,
            heuristic: p.heuristic,
            concurrency: p.concurrency,
            maxRetries: p.max_retries,
            timeoutMs: p.timeout_ms,
            tokenLimitParam: p.token_limit_param,
            temperature: p.temperature_param,
            cachePath: p.cache ?? join(ctx.workDir, 'judge-cache.jsonl'),
            promptField: 'prompt',
            answerField: 'answer',
            source: `${where}: judge`,
          });
          const scale = session.rubric.scale;
          min = p.min_score ?? (scale.min === 1 && scale.max === 10 && p.max_score === undefined ? 6 : undefined);
          ctx.log(`judge: ${session.rubric.id}@${session.rubric.version} by ${session.model}${session.heuristic ? ' (embedded heuristic judge)' : ''}; keep ${min ?? scale.min} <= judge_score <= ${p.max_score ?? scale.max}`);
        }
        const judged = await session.judge(batch, offset);
        offset += batch.length;
        // Checked per batch: a judge that is down stops the stage early instead of failing every row.
        const failure = session.failureError(p.max_failed_fraction, `${where}: judge`);
        if (failure) throw failure;
        return judged.map((row): Decision => {
          const score = row.judge_score;
          if (row.judge_status !== 'ok' || typeof score !== 'number') return { row, keep: false, reason: `judge: failed (${String(row.judge_reason)})` };
          const flags = row.judge_flags as string[];
          if (p.reject_flagged && flags.length) return { row, keep: false, reason: `judge: text addresses the judge (${flags.join(', ')})` };
          if (min !== undefined && score < min) return { row, keep: false, reason: `judge: judge_score ${score} < min_score ${min}` };
          if (p.max_score !== undefined && score > p.max_score) return { row, keep: false, reason: `judge: judge_score ${score} > max_score ${p.max_score}` };
          return { row, keep: true };
        });
      };
      try {
        for await (const batch of inBatches(rows, p.batch_size)) yield* await flush(batch);
        if (session) {
          const s = (session as JudgeSession).summary();
          ctx.log(`judge: ${s.rows} rows, ${s.ok} ok, ${s.failed} failed, ${s.cached} from cache, ${s.flagged} flagged, ${s.promptTokens}+${s.completionTokens} tokens${s.costUsd ? `, $${s.costUsd.toFixed(4)}` : ''}`);
        }
      } finally {
        await (session as JudgeSession | null)?.close();
      }
    },
  };
};
