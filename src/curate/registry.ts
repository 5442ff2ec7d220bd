/**
 * Stage type name -> factory. The curation config names stages by these types
 * (`stages: [{ type: rules, params: {...} }]`). Other areas add their stage with one line.
 */
import { UserError } from '../util/errors.ts';
import type { StageFactory } from './stage.ts';
import { normalizeStage } from './stages/normalize.ts';
import { rulesStage } from './stages/rules.ts';
import { piiStage } from './stages/pii.ts';
import { dedupStage } from './stages/dedup.ts';
import { perplexityStage } from './stages/perplexity.ts';
import { toxicityStage } from './stages/toxicity.ts';
import { judgeStage } from './stages/judge.ts';

export const stageRegistry: Record<string, StageFactory> = {
  normalize: normalizeStage,
  rules: rulesStage,
  pii: piiStage,
  dedup: dedupStage,
  perplexity: perplexityStage,
  toxicity: toxicityStage,
  judge: judgeStage,
};

/** Adds a stage type at run time (tests, plugins). */
export function registerStage(type: string, factory: StageFactory): void {
  stageRegistry[type] = factory;
}

export function getStageFactory(type: string, where: string): StageFactory {
  const f = stageRegistry[type];
  if (!f) {
    throw new UserError(`${where}: unknown stage type '${type}' (expected one of ${Object.keys(stageRegistry).sort().join(', ')})`);
  }
  return f;
}
