/** Scores (context, continuation) pairs with a model: summed log-prob of the continuation tokens. */
import { initBackend } from '../engine/backend.ts';
import { loadModel } from '../model/checkpoint.ts';
import type { LlamaModel } from '../model/llama.ts';
import { sequenceLogprobs } from '../model/logprobs.ts';
import { loadTokenizer, type Tokenizer } from '../model/tokenizer.ts';
import { readAllRows } from '../data/io.ts';
import { UserError } from '../util/errors.ts';
import { detectLayout, evaluateMc, fewShotPrefix, MC_TASKS, toMcItem, type AnswerBase, type ContinuationScorer, type McItem, type McResult, type McTask } from './mc.ts';
import type { Row } from '../data/io.ts';

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
  /** Base of numeric answers in the generic layout; default: told from the rows (0 when they do not tell). */
  answerBase?: AnswerBase;
  /** Called once with the layout line ("task generic (columns question, choices ...)"). */
  log?: (line: string) => void;
}

export interface EvalMcResult extends Omit<McResult, 'predictions'> {
  task: McTask;
  /** The layout read and why (detected by --task auto, or as asked). */
  layout: string;
  shots: number;
  model: string;
}

/** Items of a file in a layout: the rows, the layout told from them, each row as an item. */
export function mcItemsOf(rows: Row[], where: string, task: McTask | 'auto' = 'auto', answerBase?: AnswerBase): { items: McItem[]; task: McTask; layout: string } {
  const layout = detectLayout(rows, where, task, answerBase);
  const items = rows.map((r, i) => toMcItem(r, layout.task, `${where}: row ${i + 1}`, { answerBase: layout.answerBase }));
  return { items, task: layout.task, layout: layout.reason };
}

export async function evalMcFile(o: EvalMcOptions): Promise<EvalMcResult> {
  if (o.task && o.task !== 'auto' && !MC_TASKS.includes(o.task)) throw new UserError(`--task: unknown task '${o.task}', expected auto or one of ${MC_TASKS.join(', ')}`);
  if (o.answerBase !== undefined && o.answerBase !== 0 && o.answerBase !== 1) throw new UserError(`--answer-base must be 0 or 1, got ${String(o.answerBase)}`);
  let rows = await readAllRows(o.data);
  if (o.limit && o.limit > 0) rows = rows.slice(0, o.limit);
  const { items, task, layout } = mcItemsOf(rows, o.data, o.task ?? 'auto', o.answerBase);
  (o.log ?? ((l: string) => process.stderr.write(`${l}\n`)))(`eval: ${o.data}: task ${layout}`);
  const shots = o.shots ?? 0;
  let prefix = '';
  if (shots > 0) {
    if (!o.dev) throw new UserError(`--shots ${shots} needs --dev FILE (few-shot examples come from a dev split)`);
    const dev = mcItemsOf(await readAllRows(o.dev), o.dev, task, o.answerBase).items;
    prefix = fewShotPrefix(dev, shots, o.seed ?? 1234);
  }
  await initBackend(o.backend ?? 'auto');
  const tok = await loadTokenizer(o.model);
  const model = await loadModel(o.model);
  try {
    const r = await evaluateMc(items, prefix, continuationScorer(model, tok));
    return { task, layout, shots, model: o.model, n: r.n, acc: r.acc, acc_norm: r.acc_norm };
  } finally {
    model.dispose();
  }
}
