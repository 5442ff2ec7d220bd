/** `ko-align convert`: one dataset file to another format (by extension). */
import type { Command } from 'commander';
import { convertFile } from '../data/convert.ts';
import type { Format } from '../data/io.ts';

export function register(program: Command): void {
  program
    .command('convert')
    .description('Convert a dataset between .jsonl, .json, .parquet, .arrow (.feather, .ipc) and .csv (format from the extension); lossless for text, numbers, booleans, nulls and nested lists of structs (CSV keeps nested values as JSON text)')
    .requiredOption('--input <file>', 'input dataset file')
    .requiredOption('--output <file>', 'output dataset file (written atomically)')
    .option('--input-format <format>', 'override the input format: jsonl|json|parquet|arrow|csv')
    .option('--output-format <format>', 'override the output format: jsonl|json|parquet|arrow|csv')
    .option('--allow-empty', 'accept an input with no rows (default: error)')
    .action(async (o: { input: string; output: string; inputFormat?: Format; outputFormat?: Format; allowEmpty?: boolean }) => {
      const r = await convertFile(o.input, o.output, { inputFormat: o.inputFormat, outputFormat: o.outputFormat, allowEmpty: o.allowEmpty });
      process.stdout.write(`wrote ${r.rows} rows to ${o.output} (${r.inputFormat} -> ${r.outputFormat})\n`);
    });
}
