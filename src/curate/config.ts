/** The curation config: inputs, the ordered stage list, the output directory. */
import type { Schema } from '../config/schema.ts';
import { COLUMNS_FIELD, DATA_FORMATS, type ColumnMap } from '../data/formats.ts';
import { FORMATS } from '../data/io.ts';
import type { ProgressMode } from './progress.ts';

export const curateSchema: Schema = {
  inputs: {
    type: 'array',
    help: 'datasets to curate, read in order',
    items: {
      type: 'object',
      help: 'one input dataset',
      fields: {
        path: { type: 'string', help: 'data file (.jsonl .json .parquet .arrow .csv)' },
        format: { type: 'string', enum: ['auto', ...DATA_FORMATS], default: 'auto', help: 'row format (alpaca | sharegpt | messages | kto | prompt_completion); auto detects per row' },
        file_format: { type: 'string', enum: ['auto', ...FORMATS], default: 'auto', help: 'file format; auto uses the extension' },
        limit: { type: 'integer', default: 0, min: 0, help: 'read at most this many rows; 0 = all' },
        columns: COLUMNS_FIELD,
      },
    },
  },
  output_dir: { type: 'string', default: 'runs/curate', help: 'where kept.parquet, rejected.parquet, manifest.json and the stage cache (.stages/) go' },
  stages: {
    type: 'array',
    default: [],
    help: 'the stages, run in this order',
    items: {
      type: 'object',
      help: 'one stage',
      fields: {
        type: { type: 'string', help: 'stage type (normalize | rules | pii | dedup | perplexity | judge | toxicity)' },
        name: { type: 'string', optional: true, help: 'name in the manifest and in rejected.parquet (default: the type)' },
        enabled: { type: 'boolean', default: true, help: 'false skips the stage' },
        params: { type: 'any', default: {}, help: "the stage's own parameters" },
      },
    },
  },
  progress: { type: 'string', enum: ['auto', 'bar', 'lines', 'off'], default: 'auto', help: 'progress on stderr: a bar on a TTY, periodic lines otherwise (auto)' },
};

export interface CurateInput {
  path: string;
  format: string;
  file_format: string;
  limit: number;
  columns?: ColumnMap;
}

export interface CurateStageSpec {
  type: string;
  name?: string;
  enabled: boolean;
  params: Record<string, unknown>;
}

export interface CurateConfig {
  inputs: CurateInput[];
  output_dir: string;
  stages: CurateStageSpec[];
  progress: ProgressMode;
}
