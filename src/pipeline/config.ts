/**
 * The pipeline config (`ko-align run configs/<name>.yaml`): one file names the starting model,
 * the raw data and its curation, the judge, review, SFT, KTO, the sweep with its toxicity gate,
 * and the evaluation. The trainer sections take the SFT / KTO config keys; the pipeline fills in
 * model, dataset and output_dir from the stages before them.
 */
import type { Schema } from '../config/schema.ts';

export interface PipelineConfig {
  name: string;
  runs_dir: string;
  backend: string;
  model: {
    path?: string;
    init: { arch: string; vocab: number; hidden: number; layers: number; heads: number; kv_heads: number; intermediate: number; seed: number };
  };
  curate: { inputs: unknown[]; stages: unknown[] };
  judge: { rubric: string; model?: string; base_url?: string; concurrency: number; heuristic: boolean; max_failed_fraction: number; undesirable_from: string[] };
  labels: { desirable_min: number; undesirable_max: number; seed: number };
  review: { enabled: boolean; format: string; sample: number; seed: number; decisions?: string };
  sft: Record<string, unknown>;
  kto: Record<string, unknown>;
  sweep: { search: Record<string, unknown>; gate: Record<string, unknown>; selection: Record<string, unknown> };
  eval: { enabled: boolean; data: string; dev?: string; shots: number; task: string; limit: number };
}

export const pipelineSchema: Schema = {
  name: { type: 'string', help: 'run name; outputs go to <runs_dir>/<name>/' },
  runs_dir: { type: 'string', default: 'runs', help: 'parent directory of run directories' },
  backend: { type: 'string', enum: ['auto', 'tensorflow', 'webgpu', 'native', 'wasm', 'cpu'], default: 'auto', help: 'tensor backend for every model stage' },
  model: {
    type: 'object',
    help: 'the starting model: an existing Hugging Face directory (path) or a random tiny one (init)',
    fields: {
      path: { type: 'string', optional: true, help: 'Hugging Face model directory (config.json, *.safetensors, tokenizer.json)' },
      init: {
        type: 'object',
        help: 'used when path is not set: `ko-align model init` parameters',
        fields: {
          arch: { type: 'string', enum: ['llama', 'qwen2', 'qwen3'], default: 'llama', help: 'architecture' },
          vocab: { type: 'integer', min: 300, default: 1024, help: 'vocabulary size (byte-level BPE trained on the bundled Korean text)' },
          hidden: { type: 'integer', min: 8, default: 64, help: 'hidden size' },
          layers: { type: 'integer', min: 1, default: 2, help: 'decoder layers' },
          heads: { type: 'integer', min: 1, default: 4, help: 'attention heads' },
          kv_heads: { type: 'integer', min: 1, default: 2, help: 'key/value heads (GQA)' },
          intermediate: { type: 'integer', min: 8, default: 176, help: 'MLP intermediate size' },
          seed: { type: 'integer', default: 0, help: 'weight seed' },
        },
      },
    },
  },
  curate: {
    type: 'object',
    help: 'curation: inputs and stages as in configs/curate.yaml (output_dir is set by the pipeline)',
    fields: {
      inputs: { type: 'array', items: { type: 'any', help: 'an input' }, help: 'datasets to curate' },
      stages: { type: 'array', items: { type: 'any', help: 'a stage' }, default: [], help: 'the curation stages in order' },
    },
  },
  judge: {
    type: 'object',
    help: 'LLM-as-judge scoring for KTO labels (embedded heuristic judge when no endpoint is configured)',
    fields: {
      rubric: { type: 'string', default: 'judges/quality-ko.yaml', help: 'rubric file' },
      model: { type: 'string', optional: true, help: 'judge model name' },
      base_url: { type: 'string', optional: true, help: 'OpenAI-compatible base URL (default OPENAI_BASE_URL)' },
      concurrency: { type: 'integer', min: 1, default: 8, help: 'requests in flight' },
      heuristic: { type: 'boolean', default: false, help: 'force the embedded heuristic judge even when an endpoint is configured' },
      max_failed_fraction: { type: 'number', min: 0, max: 1, default: 0.5, help: 'stop the run when more than this fraction of rows could not be judged (every row failing always stops it)' },
      undesirable_from: { type: 'string|string[]', default: ['rules', 'toxicity', 'judge'], help: 'rows rejected by these curation stages are judged too, as KTO undesirable candidates' },
    },
  },
  labels: {
    type: 'object',
    help: 'KTO labels from judge scores',
    fields: {
      desirable_min: { type: 'number', default: 7, help: 'judge_score >= this: desirable' },
      undesirable_max: { type: 'number', default: 4, help: 'judge_score <= this: undesirable' },
      seed: { type: 'integer', default: 0, help: 'seed of the shuffle that mixes desirable and undesirable rows in kto.jsonl' },
    },
  },
  review: {
    type: 'object',
    help: 'human review export (and import of decisions, which override the judge)',
    fields: {
      enabled: { type: 'boolean', default: true, help: 'export a review sample' },
      format: { type: 'string', enum: ['label-studio', 'argilla', 'csv', 'html'], default: 'html', help: 'review tool format' },
      sample: { type: 'integer', min: 1, default: 50, help: 'items to export (stratified by judge_score)' },
      seed: { type: 'integer', default: 0, help: 'sampling seed' },
      decisions: { type: 'string', optional: true, help: 'decisions file from reviewers; its labels override the judge for KTO' },
    },
  },
  sft: { type: 'any', default: {}, help: 'SFT config keys (see `ko-align train sft --help`); model, dataset and output_dir are filled in' },
  kto: { type: 'any', default: {}, help: 'KTO config keys (see `ko-align train kto --help`); model, dataset, output_dir, ref_logps_cache are filled in' },
  sweep: {
    type: 'object',
    help: 'KTO rounds with the toxicity gate (see `ko-align sweep --help`)',
    fields: {
      search: { type: 'any', default: { method: 'grid', space: {} }, help: 'search space' },
      gate: { type: 'any', default: {}, help: 'toxicity gate' },
      selection: { type: 'any', default: {}, help: 'selection of the best passing round' },
    },
  },
  eval: {
    type: 'object',
    help: 'multiple-choice evaluation of the SFT model and the promoted round',
    fields: {
      enabled: { type: 'boolean', default: true, help: 'run the evaluation' },
      data: { type: 'string', default: 'datasets/ko-mc-sample.jsonl', help: 'test split (KMMLU / KoBEST / KorMedMCQA layout)' },
      dev: { type: 'string', optional: true, help: 'dev split for few-shot examples' },
      shots: { type: 'integer', min: 0, default: 0, help: 'few-shot examples' },
      task: { type: 'string', default: 'auto', help: 'task layout (auto detects)' },
      limit: { type: 'integer', min: 0, default: 0, help: 'evaluate only the first n items (0 = all)' },
    },
  },
};
