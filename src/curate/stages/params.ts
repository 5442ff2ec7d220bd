/** Stage parameter validation with the shared config schema (every key typed, defaulted, helped). */
import { validateConfig, type Schema } from '../../config/schema.ts';

/** Validates a stage's `params` mapping; errors read "configs/curate.yaml: stages[2]: unknown key 'params.x'". */
export function stageParams<T>(schema: Schema, params: Record<string, unknown>, where: string): T {
  return validateConfig<T>(schema, params ?? {}, where, 'params.');
}
