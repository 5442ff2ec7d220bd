/**
 * The contract every curation stage implements. A stage reads canonical curated rows
 * (`{ id, prompt, answer, messages, ...original columns }`) as a stream and yields one
 * Decision per input row, in order: keep it (possibly rewritten) or reject it with a reason.
 */
import type { Row } from '../data/io.ts';

export interface Decision {
  row: Row;
  keep: boolean;
  reason?: string;
}

export interface StageContext {
  workDir: string;
  log: (msg: string) => void;
}

export interface Stage {
  readonly name: string;
  process(rows: AsyncIterable<Row>, ctx: StageContext): AsyncIterable<Decision>;
}

export type StageFactory = (
  params: Record<string, unknown>,
  where: string /* e.g. "configs/curate.yaml: stages[3]" for error messages */,
) => Stage;
