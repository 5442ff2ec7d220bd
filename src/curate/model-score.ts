/**
 * The perplexity stage's scorer built from a Hugging Face model directory: mean per-token
 * log-probability of each text under the model (src/model), text encoded with the model's own
 * tokenizer and truncated to maxTokens. Loaded lazily so rule-only runs never touch tfjs.
 */
import { initBackend } from '../engine/backend.ts';
import { loadModel } from '../model/checkpoint.ts';
import { sequenceLogprobs } from '../model/logprobs.ts';
import { loadTokenizer } from '../model/tokenizer.ts';
import type { ScoreFn } from './stages/perplexity.ts';

export interface ModelScoreOptions {
  maxTokens: number;
  backend: string;
  batchSize?: number;
  log?: (line: string) => void;
}

export async function makeScoreFn(dir: string, opts: ModelScoreOptions): Promise<ScoreFn> {
  await initBackend(opts.backend, opts.log ? { log: opts.log } : {});
  const tok = await loadTokenizer(dir);
  const model = await loadModel(dir, { trainable: false });
  return async (texts: string[]) => {
    const seqs = texts.map((t) => ({ ids: tok.encode(t).slice(0, opts.maxTokens), start: 1 }));
    const scored = await sequenceLogprobs(model, seqs, { batchSize: opts.batchSize ?? 8, padId: tok.padTokenId });
    // A text of one token has nothing to predict: NaN, which the stage puts in the tail bucket.
    return scored.map((s) => (s.nTokens > 0 ? s.logp / s.nTokens : NaN));
  };
}
