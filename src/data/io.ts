/**
 * Dataset readers and writers behind one API. The format comes from the file extension:
 *   .jsonl (.ndjson)  JSON Lines, streamed line by line
 *   .json             a JSON array of objects (or JSON Lines content, as many HF datasets ship)
 *   .parquet          Parquet (hyparquet / hyparquet-writer), streamed by row group
 *   .arrow .feather .ipc   Arrow IPC, file or stream format (apache-arrow), streamed by batch
 *   .csv              CSV with a header row (nested values as JSON text)
 * A Hugging Face dataset folder (data/train-00000-of-00003.parquet, ...) or a shard glob
 * (data/train-*.parquet) reads as one dataset, shard after shard (dataFiles).
 * Every bad input is a one-line UserError naming the file (and line where there is one).
 * Writes are atomic: a temp file beside the target is renamed over it only on success.
 */
import { readdirSync, statSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { UserError } from '../util/errors.ts';
import { withAtomicOutput } from '../util/fs.ts';
import { readJsonl, writeJsonlTo, writeTextRows, mapFsError, readLines, parseJsonlLine } from './jsonl.ts';
import { toJsonText } from './row.ts';
import type { Row } from './row.ts';

export type { Row } from './row.ts';
export { appendJsonl, readJsonlTolerant, readJsonlTolerantDetailed, readLines } from './jsonl.ts';
export { toJsonText } from './row.ts';

export type Format = 'jsonl' | 'json' | 'parquet' | 'arrow' | 'csv';
export const FORMATS: readonly Format[] = ['jsonl', 'json', 'parquet', 'arrow', 'csv'];

const EXTENSIONS: Record<string, Format> = {
  '.jsonl': 'jsonl',
  '.ndjson': 'jsonl',
  '.json': 'json',
  '.parquet': 'parquet',
  '.arrow': 'arrow',
  '.feather': 'arrow',
  '.ipc': 'arrow',
  '.csv': 'csv',
};

/** The format named by a path's extension, or a UserError listing the ones we know. */
export function formatFromPath(path: string): Format {
  const ext = extname(path).toLowerCase();
  const f = EXTENSIONS[ext];
  if (!f) {
    throw new UserError(
      `${path}: unknown data file extension '${ext || '(none)'}', expected one of ${Object.keys(EXTENSIONS).join(', ')}`,
    );
  }
  return f;
}

export interface ReadOptions {
  /** Overrides the format inferred from the extension. */
  format?: Format;
}

export interface ReadAllOptions extends ReadOptions {
  /** When true (the default), an empty dataset is a UserError `path: no rows`. */
  requireRows?: boolean;
}

const isDir = (p: string): boolean => {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
};

function dataFilesIn(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => EXTENSIONS[extname(f).toLowerCase()] && !f.startsWith('.') && !isDir(join(dir, f)) && f !== 'dataset_info.json')
    .sort()
    .map((f) => join(dir, f));
}

function globRegex(pattern: string): RegExp {
  const re = pattern.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]');
  return new RegExp(`^${re}$`);
}

/**
 * The files a dataset path stands for. A file is itself. A glob (`*`, `?` in the last part,
 * e.g. data/train-*.parquet) is its matches, sorted. A folder is read the way Hugging Face
 * datasets lays out a repository (docs: "Structure your repository"): the train split of
 * `folder` or `folder/data`: a `train/` subfolder, else files named train-* / train.* (shards
 * train-00000-of-00003...), else every data file there; shards in name order.
 */
export function dataFiles(path: string): string[] {
  const last = basename(path);
  if (/[*?]/.test(last)) {
    const dir = dirname(path);
    if (!isDir(dir)) throw new UserError(`${path}: folder ${dir} not found`);
    const re = globRegex(last);
    const files = dataFilesIn(dir).filter((f) => re.test(basename(f)));
    if (files.length === 0) throw new UserError(`${path}: no data files match`);
    return files;
  }
  if (!isDir(path)) return [path];
  for (const dir of [path, join(path, 'data')]) {
    if (!isDir(dir)) continue;
    if (isDir(join(dir, 'train')) && dataFilesIn(join(dir, 'train')).length) return dataFilesIn(join(dir, 'train'));
    const all = dataFilesIn(dir);
    const train = all.filter((f) => /^train([-_.]|$)/.test(basename(f)));
    if (train.length) return train;
    if (all.length) return all;
  }
  throw new UserError(`${path}: is a directory without data files (expected data files or a data/ folder of shards, e.g. data/train-00000-of-00001.parquet)`);
}

async function requireExisting(path: string): Promise<void> {
  let st;
  try {
    st = await stat(path);
  } catch (e) {
    throw mapFsError(e, path);
  }
  if (st.isDirectory()) throw new UserError(`${path}: is a directory, expected a data file`);
}

/**
 * Streams the rows of a dataset file. Rows are produced lazily: JSONL line by line, Parquet
 * one row group at a time, Arrow one record batch at a time, CSV record by record.
 */
export async function* readRows(path: string, opts: ReadOptions & { requireRows?: boolean } = {}): AsyncGenerator<Row> {
  const files = dataFiles(path);
  let n = 0;
  for (const file of files) {
    const format = opts.format ?? formatFromPath(file);
    await requireExisting(file);
    for await (const row of readByFormat(file, format)) {
      n++;
      yield row;
    }
  }
  if (n === 0 && opts.requireRows) throw new UserError(`${path}: no rows`);
}

async function* readByFormat(path: string, format: Format): AsyncGenerator<Row> {
  switch (format) {
    case 'jsonl':
      yield* readJsonl(path);
      return;
    case 'json':
      yield* readJson(path);
      return;
    case 'parquet': {
      const { readParquet } = await import('./parquet.ts');
      yield* readParquet(path);
      return;
    }
    case 'arrow': {
      const { readArrow } = await import('./arrow.ts');
      yield* readArrow(path);
      return;
    }
    case 'csv': {
      const { readCsv } = await import('./csv.ts');
      yield* readCsv(path);
      return;
    }
    default:
      throw new UserError(`${path}: unknown format '${String(format)}', expected one of ${FORMATS.join(', ')}`);
  }
}

/** Reads every row into memory. An empty dataset is a UserError unless `requireRows: false`. */
export async function readAllRows(path: string, opts: ReadAllOptions = {}): Promise<Row[]> {
  const rows: Row[] = [];
  for await (const r of readRows(path, { format: opts.format, requireRows: opts.requireRows ?? true })) rows.push(r);
  return rows;
}

/**
 * Writes rows to `path` in the format of its extension, atomically; returns the row count.
 * JSONL and JSON stream straight through. Parquet, Arrow and CSV need every column's type (or
 * the header) before the first byte: a first pass infers it, keeping up to 100 000 rows in
 * memory and spilling the rest to a temp file beside the output, then a second pass writes one
 * row group / record batch at a time. Columnar outputs have every column on every row: a key
 * missing from a row reads back as null.
 */
export async function writeRows(
  path: string,
  rows: Iterable<Row> | AsyncIterable<Row>,
  opts: { format?: Format } = {},
): Promise<number> {
  const format = opts.format ?? formatFromPath(path);
  return withAtomicOutput(path, async (tmp) => {
    switch (format) {
      case 'jsonl':
        return writeJsonlTo(tmp, rows);
      case 'json':
        return writeJsonTo(tmp, rows);
      case 'parquet': {
        const { writeParquetTo } = await import('./parquet.ts');
        return writeParquetTo(tmp, rows);
      }
      case 'arrow': {
        const { writeArrowTo } = await import('./arrow.ts');
        return writeArrowTo(tmp, rows);
      }
      case 'csv': {
        const { writeCsvTo } = await import('./csv.ts');
        return writeCsvTo(tmp, rows);
      }
      default:
        throw new UserError(`${path}: unknown format '${String(format)}', expected one of ${FORMATS.join(', ')}`);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// JSON (an array of objects). Files whose first character is not '[' are read as JSON Lines,
// which is what many Hugging Face datasets ship under a .json name.

async function* readJson(path: string): AsyncGenerator<Row> {
  // Peek at the first non-blank line to decide array vs. JSON Lines.
  let firstText: string | null = null;
  for await (const { text } of readLines(path)) {
    if (text.trim() !== '') {
      firstText = text.trimStart();
      break;
    }
  }
  if (firstText === null) return;
  if (!firstText.startsWith('[')) {
    // JSON Lines content when the first line is a whole object; otherwise one object spanning lines.
    let firstLineIsObject = false;
    try {
      const v = JSON.parse(firstText);
      firstLineIsObject = v !== null && typeof v === 'object' && !Array.isArray(v);
    } catch {
      firstLineIsObject = false;
    }
    if (firstLineIsObject || !firstText.startsWith('{')) {
      yield* readJsonl(path);
      return;
    }
    const v = parseJsonWithLine(path, await readWholeText(path));
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new UserError(`${path}: expected a JSON array of objects`);
    yield v as Row;
    return;
  }
  yield* parseJsonArray(path, await readWholeText(path));
}

function lineAt(text: string, pos: number, from = 0, line = 1): number {
  for (let i = from; i < pos && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/**
 * Splits a top-level JSON array into its elements with a small scanner (strings, escapes,
 * nesting) and parses each one, so an error names the line where the bad element starts.
 */
function* parseJsonArray(path: string, text: string): Generator<Row> {
  let i = 0;
  const n = text.length;
  let line = 1;
  let lineFrom = 0;
  const lineOf = (pos: number): number => {
    line = lineAt(text, pos, lineFrom, line);
    lineFrom = pos;
    return line;
  };
  const ws = () => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 32 || c === 9 || c === 10 || c === 13) i++;
      else break;
    }
  };
  const fail = (pos: number, what: string): never => {
    throw new UserError(`${path}:${lineOf(pos)}: invalid JSON (${what})`);
  };
  ws();
  if (text[i] !== '[') fail(i, 'expected a JSON array of objects');
  i++;
  let index = 0;
  ws();
  if (text[i] === ']') {
    i++;
  } else {
    while (true) {
      ws();
      const start = i;
      let depth = 0;
      let inString = false;
      for (; i < n; i++) {
        const c = text.charCodeAt(i);
        if (inString) {
          if (c === 92 /* \\ */) i++;
          else if (c === 34 /* " */) inString = false;
          continue;
        }
        if (c === 34) inString = true;
        else if (c === 123 || c === 91) depth++;
        else if (c === 125 || c === 93) {
          if (depth === 0) break; // the closing ] of the array
          depth--;
        } else if (c === 44 /* , */ && depth === 0) break;
      }
      if (i >= n) fail(start, `array element ${index} is not closed`);
      const elementText = text.slice(start, i);
      let v: unknown;
      try {
        v = JSON.parse(elementText);
      } catch (e) {
        fail(start, `array element ${index}: ${((e as Error).message ?? '').split('\n')[0]!.slice(0, 160)}`);
      }
      if (v === null || typeof v !== 'object' || Array.isArray(v)) {
        throw new UserError(`${path}:${lineOf(start)}: element ${index} of the JSON array is not an object`);
      }
      yield v as Row;
      index++;
      if (text[i] === ']') {
        i++;
        break;
      }
      i++; // the comma
    }
  }
  ws();
  if (i < n) fail(i, 'unexpected text after the closing ]');
}

async function readWholeText(path: string): Promise<string> {
  const parts: string[] = [];
  for await (const { text } of readLines(path)) parts.push(text);
  return parts.join('\n');
}

function parseJsonWithLine(path: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const msg = ((e as Error).message ?? '').split('\n')[0]!;
    const m = /position (\d+)/.exec(msg);
    if (m) {
      const pos = Number(m[1]);
      let line = 1;
      for (let i = 0; i < pos && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
      throw new UserError(`${path}:${line}: invalid JSON (${msg.slice(0, 200)})`);
    }
    throw new UserError(`${path}: invalid JSON (${msg.slice(0, 200)})`);
  }
}

function writeJsonTo(tmp: string, rows: Iterable<Row> | AsyncIterable<Row>): Promise<number> {
  // "[\n row,\n row\n]\n": one row per line keeps diffs and line numbers readable.
  return writeTextRows(tmp, rows, (row, i) => (i === 0 ? '\n' : ',\n') + toJsonText(row), '[', (n) => (n === 0 ? ']\n' : '\n]\n'));
}

/** Parses one JSONL line (exported for callers that frame lines themselves). */
export { parseJsonlLine };
