/** `ko-align tokenizer ...`: tokenizer efficiency stats and training a small byte-level BPE. */
import type { Command } from 'commander';
import { readRows } from '../data/io.ts';
import { tokenizerStats, formatTokenizerStats } from '../eval/tokenizer-stats.ts';
import { buildTokenizer } from '../model/tokenizer-builder.ts';
import { UserError } from '../util/errors.ts';

export function register(program: Command): void {
  const group = program.command('tokenizer').description('Tokenizer tools: efficiency stats by language, training a small byte-level BPE');

  group
    .command('stats')
    .description('Tokens per character of each tokenizer and its token ratio against the first, by language (ko / en / code detected per text)')
    .requiredOption('--tokenizers <dirs>', 'comma-separated tokenizer directories (tokenizer.json + tokenizer_config.json); the first is the baseline')
    .requiredOption('--input <file>', 'dataset file (.jsonl .json .parquet .arrow .csv)')
    .option('--field <name>', 'text field of each row (a messages list counts as its contents)', 'text')
    .option('--json', 'print the result as JSON instead of a table')
    .action(async (o: { tokenizers: string; input: string; field: string; json?: boolean }) => {
      const dirs = o.tokenizers.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
      const r = await tokenizerStats({ tokenizers: dirs, input: o.input, field: o.field });
      process.stdout.write(o.json ? JSON.stringify(r, null, 2) + '\n' : formatTokenizerStats(r));
    });

  group
    .command('train')
    .description('Train a byte-level BPE tokenizer (GPT-2 / Qwen2 scheme, ChatML template) on a text field and write it in Hugging Face layout')
    .requiredOption('--input <file>', 'dataset file (.jsonl .json .parquet .arrow .csv)')
    .requiredOption('--out <dir>', 'output directory for tokenizer.json, tokenizer_config.json, special_tokens_map.json')
    .option('--vocab-size <n>', 'vocabulary size, special tokens included', '8192')
    .option('--field <name>', 'text field of each row', 'text')
    .action(async (o: { input: string; out: string; vocabSize: string; field: string }) => {
      const vocabSize = Number(o.vocabSize);
      if (!Number.isInteger(vocabSize)) throw new UserError(`--vocab-size: expected an integer, got '${o.vocabSize}'`);
      const corpus: string[] = [];
      let n = 0;
      for await (const row of readRows(o.input)) {
        n++;
        const t = row[o.field];
        if (typeof t !== 'string') throw new UserError(`${o.input}: row ${n}: field '${o.field}' is missing or not a string (row fields: ${Object.keys(row).join(', ')})`);
        corpus.push(t);
      }
      if (n === 0) throw new UserError(`${o.input}: no rows`);
      const r = await buildTokenizer({ vocabSize, corpus, outDir: o.out });
      process.stdout.write(`wrote ${o.out}: vocab ${r.vocabSize} (${r.merges} merges) from ${n} texts\n`);
    });
}
