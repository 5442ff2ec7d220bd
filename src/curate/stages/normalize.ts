/** normalize: NFC (never NFKC), control/zero-width removal, whitespace cleanup; markdown kept. */
import type { Schema } from '../../config/schema.ts';
import { cleanText } from '../../text/normalize.ts';
import { mapRowStrings } from '../rows.ts';
import type { Decision, Stage, StageFactory } from '../stage.ts';
import type { Row } from '../../data/io.ts';
import { stageParams } from './params.ts';

export const normalizeSchema: Schema = {
  max_blank_lines: { type: 'integer', default: 1, min: 0, help: 'collapse longer runs of blank lines (outside code blocks) to this many' },
};

export interface NormalizeParams {
  max_blank_lines: number;
}

export const normalizeStage: StageFactory = (params, where): Stage => {
  const p = stageParams<NormalizeParams>(normalizeSchema, params, where);
  return {
    name: 'normalize',
    async *process(rows: AsyncIterable<Row>): AsyncIterable<Decision> {
      for await (const row of rows) {
        yield { row: mapRowStrings(row, (s) => cleanText(s, { maxBlankLines: p.max_blank_lines })), keep: true };
      }
    },
  };
};
