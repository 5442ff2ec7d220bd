/** Converting a dataset file between formats (the library side of `ko-align convert`). */
import { UserError } from '../util/errors.ts';
import { FORMATS, formatFromPath, readRows, writeRows, type Format } from './io.ts';
import type { Row } from './row.ts';

export interface ConvertOptions {
  inputFormat?: Format;
  outputFormat?: Format;
  /** Allow an input with no rows (default: an empty input is an error, `path: no rows`). */
  allowEmpty?: boolean;
}

export interface ConvertResult {
  rows: number;
  inputFormat: Format;
  outputFormat: Format;
}

function checkFormat(f: string | undefined, flag: string): Format | undefined {
  if (f === undefined) return undefined;
  if (!(FORMATS as readonly string[]).includes(f)) throw new UserError(`${flag}: unknown format '${f}', expected one of ${FORMATS.join(', ')}`);
  return f as Format;
}

/**
 * Reads `input` and writes every row to `output` (atomically: on any error no output file is
 * left behind). Rows stream through unless the output format needs them all (Parquet, Arrow, CSV).
 */
export async function convertFile(input: string, output: string, opts: ConvertOptions = {}): Promise<ConvertResult> {
  const inputFormat = checkFormat(opts.inputFormat, '--input-format') ?? formatFromPath(input);
  const outputFormat = checkFormat(opts.outputFormat, '--output-format') ?? formatFromPath(output);
  const rows: AsyncIterable<Row> = readRows(input, { format: inputFormat, requireRows: !opts.allowEmpty });
  const n = await writeRows(output, rows, { format: outputFormat });
  return { rows: n, inputFormat, outputFormat };
}
