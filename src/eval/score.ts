/** Scores (context, continuation) pairs with a model: summed log-prob of the continuation tokens. */
import { initBackend } from '../engine/backend.ts';
import { loadModel } from '../model/checkpoint.ts';
import type { LlamaModel } from '../model/llama.ts';
import { sequenceLogprobs } from '../model/logprobs.ts';
import { loadTokenizer, type Tokenizer } from '../model/tokenizer.ts';
import { readAllRows } from '../data/io.ts';
import { UserError } from '../util/errors.ts';
import { detectTask, evaluateMc, fewShotPrefix, MC_TASKS, toMcItem, type ContinuationScorer, type McResult, type McTask } from './mc.ts';

/**
 * lm-evaluation-harness style: the continuation's tokens are those of encode(context +
 * continuation) after the longest common prefix with encode(context), so a BPE merge across the
 * boundary is scored as the model would see it.
 */
export function continuationScorer(model: LlamaModel, tok: Tokenizer, batchSize = 8): ContinuationScorer {
  return async (pairs) => {
    const seqs = pairs.map(({ context, continuation }) => {
      const bos = tok.bosTokenId !== null ? [tok.bosTokenId] : [];
      const ctx = [...bos, ...tok.encode(context, { addSpecialTokens: false })];
      const full = [...bos, ...tok.encode(context + continuation, { addSpecialTokens: false })];
      let k = 0;
      while (k < ctx.length && k < full.length && ctx[k] === full[k]) k++;
      if (k >= full.length) throw new UserError(`continuation '${continuation}' adds no token to its context`);
      return { ids: full, start: Math.max(1, k) };
    });
    const scored = await sequenceLogprobs(model, seqs, { batchSize, padId: tok.padTokenId });
    return scored.map((s) => s.logp);
  };
}

export interface EvalMcOptions {
  model: string;
  data: string;
  /** Few-shot examples come from here (a dev split); default: none. */
  dev?: string;
  shots?: number;
  task?: McTask | 'auto';
  seed?: number;
  limit?: number;
  backend?: string;
}

export interface EvalMcResult extends Omit<McResult, 'predictions'> {
  task: McTask;
  shots: number;
  model: string;
}

export async function evalMcFile(o: EvalMcOptions): Promise<EvalMcResult> {
  if (o.task && o.task !== 'auto' && !MC_TASKS.includes(o.task)) throw new UserError(`--task: unknown task '${o.task}', expected auto or one of ${MC_TASKS.join(', ')}`);
  let rows = await readAllRows(o.data);
  if (o.limit && o.limit > 0) rows = rows.slice(0, o.limit);
  const task = !o.task || o.task === 'auto' ? detectTask(rows[0], `${o.data}: row 1`) : o.task;
  const items = rows.map((r, i) => toMcItem(r, task, `${o.data}: row ${i + 1}`));
  const shots = o.shots ?? 0;
  let prefix = '';
  if (shots > 0) {
    if (!o.dev) throw new UserError(`--shots ${shots} needs --dev FILE (few-shot examples come from a dev split)`);
    const dev = (await readAllRows(o.dev)).map((r, i) => toMcItem(r, task, `${o.dev}: row ${i + 1}`));
    prefix = fewShotPrefix(dev, shots, o.seed ?? 1234);
  }
  await initBackend(o.backend ?? 'auto');
  const tok = await loadTokenizer(o.model);
  const model = await loadModel(o.model);
  try {
    const r = await evaluateMc(items, prefix, continuationScorer(model, tok));
    return { task, shots, model: o.model, n: r.n, acc: r.acc, acc_norm: r.acc_norm };
  } finally {
    model.dispose();
  }
}
