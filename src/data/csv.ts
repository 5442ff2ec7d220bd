/**
 * CSV with a header row (csv-parse / csv-stringify). Typing convention, so that a file we
 * write reads back with the same values:
 *   - strings are always quoted ("" is the empty string);
 *   - numbers and booleans are unquoted (123, 0.5, true, false);
 *   - null is an empty unquoted field;
 *   - lists and objects are quoted JSON text.
 * On read, a field whose whole text is a JSON array or object is restored as that value; any
 * other quoted field is a string. An unquoted field is null when empty, a boolean for
 * true/false, a number when it is written in the canonical form (so "007" stays text), and
 * text otherwise, which is how spreadsheet and pandas exports read sensibly.
 * Known limit: a string whose entire text is a JSON array/object reads back as that value.
 * A UTF-8 byte-order mark at the start is accepted.
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { parse, type CastingContext } from 'csv-parse';
import { stringify } from 'csv-stringify/sync';
import { UserError } from '../util/errors.ts';
import { mapFsError, readLines } from './jsonl.ts';
import type { Row } from './row.ts';
import { normalizeValue, toJsonText } from './row.ts';
import { bufferRows } from './spill.ts';

const CANONICAL_NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;

function castField(value: string, ctx: CastingContext): unknown {
  if (ctx.header) return value;
  const c = value.charCodeAt(0);
  if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
    try {
      const v = JSON.parse(value);
      if (v !== null && typeof v === 'object') return v;
    } catch {
      /* plain text that starts with a bracket */
    }
  }
  if (ctx.quoting) return value;
  if (value === '') return null;
  if (value === 'true') return true;
  if (value === 'false') return false;
  if (CANONICAL_NUMBER.test(value)) {
    const n = Number(value);
    if (Number.isFinite(n)) {
      if (Number.isInteger(n) && !/[.eE]/.test(value) && !Number.isSafeInteger(n)) return BigInt(value);
      return n;
    }
  }
  return value;
}

/** Decodes a file's bytes strictly (fatal UTF-8), streaming. */
async function* strictText(path: string): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const stream = createReadStream(path, { highWaterMark: 1 << 20 });
  try {
    for await (const chunk of stream) {
      let s: string;
      try {
        s = decoder.decode(chunk as Buffer, { stream: true });
      } catch {
        // Let the line reader name the exact line of the bad bytes.
        for await (const _ of readLines(path)) void _;
        throw new UserError(`${path}: invalid UTF-8`);
      }
      if (s) yield s;
    }
    const tail = decoder.decode();
    if (tail) yield tail;
  } catch (e) {
    throw mapFsError(e, path);
  } finally {
    stream.destroy();
  }
}

/**
 * The header check: every column needs a distinct, non-empty name, or a column would be
 * silently dropped (csv-parse keeps the last of two equal names and skips empty ones).
 */
function headerColumns(path: string): (header: string[]) => string[] {
  return (header) => {
    const seen = new Map<string, number>();
    header.forEach((raw, i) => {
      const name = String(raw);
      if (name.trim() === '') throw new UserError(`${path}:1: CSV column ${i + 1} has an empty name; every column needs a name`);
      const prev = seen.get(name);
      if (prev !== undefined) {
        throw new UserError(`${path}:1: CSV column name '${name}' appears twice (columns ${prev + 1} and ${i + 1}); column names must be distinct`);
      }
      seen.set(name, i);
    });
    return header.map(String);
  };
}

/** Streams CSV records as rows keyed by the header. */
export async function* readCsv(path: string): AsyncGenerator<Row> {
  const parser = parse({ bom: true, columns: headerColumns(path), cast: castField, skip_empty_lines: true, relax_quotes: false });
  const source = strictText(path);
  // Feed the parser from the strict decoder; errors from either side surface in the loop.
  // A parser that fails mid-write is destroyed and never emits 'drain': wait for either, so
  // the feed always settles (an unsettled await here used to end the process with exit 13).
  const waitDrain = () =>
    new Promise<void>((r) => {
      const done = () => {
        parser.off('drain', done);
        parser.off('close', done);
        parser.off('error', done);
        r();
      };
      parser.on('drain', done);
      parser.on('close', done);
      parser.on('error', done);
    });
  const feed = (async () => {
    try {
      for await (const s of source) {
        if (parser.destroyed) return;
        if (!parser.write(s)) await waitDrain();
      }
      if (!parser.destroyed) parser.end();
    } catch (e) {
      parser.destroy(e as Error);
    }
  })();
  try {
    for await (const rec of parser) yield rec as Row;
  } catch (e) {
    if (e instanceof UserError) throw e;
    const err = e as Error & { lines?: number; code?: string };
    const line = err.lines !== undefined ? `:${err.lines}` : '';
    throw new UserError(`${path}${line}: invalid CSV (${(err.message ?? String(e)).split('\n')[0]})`);
  } finally {
    await feed.catch(() => {});
  }
}

/**
 * Writes rows as CSV; the header is the union of keys in first-seen order (a first pass finds
 * it, spilling rows beyond `maxInMemory` to a temp file), then records are written in batches.
 */
export async function writeCsvTo(
  tmpPath: string,
  rows: Iterable<Row> | AsyncIterable<Row>,
  opts: { maxInMemory?: number } = {},
): Promise<number> {
  const names: string[] = [];
  const seen = new Set<string>();
  const buffered = await bufferRows(rows, `${tmpPath}.spill`, {
    maxInMemory: opts.maxInMemory,
    onRow: (r) => {
      for (const k of Object.keys(r)) {
        if (!seen.has(k)) {
          seen.add(k);
          names.push(k);
        }
      }
    },
  });
  const options = {
    columns: names.map((k) => ({ key: k, header: k })),
    quoted_string: true,
    cast: {
      boolean: (v: boolean) => (v ? 'true' : 'false'),
      number: (v: number) => String(v),
      bigint: (v: bigint) => v.toString(),
      object: (v: object) => (v instanceof Date ? v.toISOString() : toJsonText(normalizeValue(v))),
      date: (v: Date) => v.toISOString(),
    },
  };
  const fh = await open(tmpPath, 'w');
  try {
    if (names.length) {
      let first = true;
      for await (const batch of buffered.batches(10_000)) {
        const part = batch.map((r) => {
          const o: Record<string, unknown> = {};
          for (const k of names) o[k] = r[k] ?? null;
          return o;
        });
        await fh.write(stringify(part, { ...options, header: first } as Parameters<typeof stringify>[1]));
        first = false;
      }
      if (first) await fh.write(stringify([], { ...options, header: true } as Parameters<typeof stringify>[1]));
    }
    await fh.sync();
  } finally {
    await fh.close();
    await buffered.dispose();
  }
  return buffered.count;
}
