/** `ko-align model init`, `ko-align logprobs`, `ko-align generate`: thin shells over src/model. */
import type { Command } from 'commander';
import { initModelDir, type InitArch } from '../model/init.ts';
import { logprobsFile } from '../model/logprobs.ts';
import { generateFile } from '../model/generate.ts';
import { BACKEND_NAMES } from '../engine/backend.ts';
import { UserError } from '../util/errors.ts';
import { mergeAdapterDir } from '../train/lora.ts';
import type { SaveDtype } from '../model/checkpoint.ts';

function int(flag: string, v: string | undefined, min = 1): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UserError(`${flag}: expected an integer >= ${min}, got '${v}'`);
  return n;
}

function num(flag: string, v: string | undefined, lo: number, hi: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < lo || n > hi) throw new UserError(`${flag}: expected a number in [${lo}, ${hi}], got '${v}'`);
  return n;
}

const BACKEND_HELP = `tensor backend: ${BACKEND_NAMES.join(' | ')} (auto = first that loads)`;

export function register(program: Command): void {
  const model = program.command('model').description('Model tools: create a random tiny model in Hugging Face layout');
  model
    .command('init')
    .description('Write a random tiny model (config.json, model.safetensors) with a small Korean BPE tokenizer and chat template')
    .requiredOption('--out <dir>', 'output model directory (replaced atomically; a non-empty directory that is not a model directory needs --force)')
    .option('--arch <arch>', 'architecture: llama | qwen2 | qwen3 | exaone', 'llama')
    .option('--vocab <n>', 'vocabulary size (tokenizer and embedding)', '512')
    .option('--hidden <n>', 'hidden size', '64')
    .option('--layers <n>', 'number of layers', '2')
    .option('--heads <n>', 'attention heads', '4')
    .option('--kv-heads <n>', 'key/value heads (GQA)', '2')
    .option('--intermediate <n>', 'MLP intermediate size', '128')
    .option('--head-dim <n>', 'per-head size (default hidden / heads)')
    .option('--tie', 'tie the output head to the embeddings')
    .option('--seed <n>', 'random seed of the weights', '0')
    .option('--force', 'replace --out even when it holds files that are not a model directory')
    .action(async (o: Record<string, string | boolean | undefined>) => {
      const arch = String(o.arch);
      if (!['llama', 'qwen2', 'qwen3', 'exaone'].includes(arch)) throw new UserError(`--arch: expected llama, qwen2, qwen3 or exaone, got '${arch}'`);
      const r = await initModelDir({
        out: String(o.out),
        arch: arch as InitArch,
        vocab: int('--vocab', o.vocab as string)!,
        hidden: int('--hidden', o.hidden as string)!,
        layers: int('--layers', o.layers as string)!,
        heads: int('--heads', o.heads as string)!,
        kvHeads: int('--kv-heads', o.kvHeads as string)!,
        intermediate: int('--intermediate', o.intermediate as string)!,
        headDim: int('--head-dim', o.headDim as string | undefined),
        tie: o.tie === true,
        seed: int('--seed', o.seed as string, 0),
        force: o.force === true,
      });
      process.stdout.write(`wrote ${r.dir}: ${arch}, ${r.params} parameters, tokenizer vocab ${r.tokenizerVocab}\n`);
    });

  model
    .command('merge')
    .description('Merge a PEFT LoRA adapter into its base model and write a full model (use_rslora honoured)')
    .requiredOption('--model <dir>', 'base model directory')
    .requiredOption('--adapter <dir>', 'PEFT adapter directory (adapter_config.json, adapter_model.safetensors)')
    .requiredOption('--out <dir>', 'output model directory (replaced atomically)')
    .option('--dtype <name>', "weights dtype: auto (the base model's) | float32 | bfloat16 | float16", 'auto')
    .option('--backend <name>', BACKEND_HELP, 'auto')
    .action(async (o: { model: string; adapter: string; out: string; dtype: string; backend: string }) => {
      if (!['auto', 'float32', 'bfloat16', 'float16'].includes(o.dtype)) throw new UserError(`--dtype: expected auto, float32, bfloat16 or float16, got '${o.dtype}'`);
      const r = await mergeAdapterDir({ model: o.model, adapter: o.adapter, out: o.out, dtype: o.dtype as SaveDtype, backend: o.backend });
      process.stdout.write(`wrote ${r.out}: ${r.modules} adapted projections merged\n`);
    });

  program
    .command('logprobs')
    .description('Score rows ({"input_ids"}, {"prompt","completion"} or {"messages"}): adds token_logprobs, logp, n_tokens')
    .requiredOption('--model <dir>', 'Hugging Face model directory')
    .requiredOption('--input <file>', 'rows (.jsonl .json .parquet .arrow .csv)')
    .requiredOption('--output <file>', 'output rows (format from the extension; written atomically)')
    .option('--backend <name>', BACKEND_HELP, 'auto')
    .option('--batch-size <n>', 'sequences per forward pass', '8')
    .action(async (o: { model: string; input: string; output: string; backend: string; batchSize: string }) => {
      const r = await logprobsFile({ model: o.model, input: o.input, output: o.output, backend: o.backend, batchSize: int('--batch-size', o.batchSize) });
      process.stdout.write(`wrote ${o.output}: ${r.rows} rows\n`);
    });

  program
    .command('generate')
    .description('Generate answers for rows with "prompt" (text) or "messages" (chat template applied); adds generation, finish_reason')
    .requiredOption('--model <dir>', 'Hugging Face model directory (with tokenizer.json)')
    .requiredOption('--input <file>', 'rows (.jsonl .json .parquet .arrow .csv)')
    .requiredOption('--output <file>', 'output rows (format from the extension; written atomically)')
    .option('--max-new-tokens <n>', 'most tokens generated per prompt', '64')
    .option('--temperature <t>', '0 = greedy; > 0 samples', '0')
    .option('--top-p <p>', 'nucleus sampling mass', '1')
    .option('--seed <n>', 'sampling seed', '0')
    .option('--batch-size <n>', 'prompts per batch (left padded)', '8')
    .option('--backend <name>', BACKEND_HELP, 'auto')
    .action(async (o: Record<string, string>) => {
      const r = await generateFile({
        model: o.model,
        input: o.input,
        output: o.output,
        backend: o.backend,
        maxNewTokens: int('--max-new-tokens', o.maxNewTokens),
        temperature: num('--temperature', o.temperature, 0, 100),
        topP: num('--top-p', o.topP, 0, 1),
        seed: int('--seed', o.seed, 0),
        batchSize: int('--batch-size', o.batchSize),
      });
      process.stdout.write(`wrote ${o.output}: ${r.rows} rows\n`);
    });
}
