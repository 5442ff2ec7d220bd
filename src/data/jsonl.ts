/**
 * JSON Lines: a byte-level streaming reader (exact line numbers, strict UTF-8), a writer, a
 * durable line-framed append (for caches) and a tolerant reader that skips a torn last line.
 */
import { createReadStream } from 'node:fs';
import { createGunzip, type Gunzip } from 'node:zlib';
import { mkdir, open, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { UserError, at } from '../util/errors.ts';
import type { Row } from './row.ts';
import { toJsonText } from './row.ts';

const NL = 0x0a;

export interface RawLine {
  /** 1-based line number in the file. */
  line: number;
  /** The decoded line text without its line ending. */
  text: string;
}

/**
 * Yields the lines of a file one at a time (never the whole file in memory). The split is on
 * the byte 0x0A, which never occurs inside a multi-byte UTF-8 sequence, so line numbers are
 * exact; each line is decoded with a fatal TextDecoder so invalid UTF-8 names its line.
 * A trailing "\r" is removed; a UTF-8 byte-order mark at the start of the file is skipped.
 */
export async function* readLines(path: string): AsyncGenerator<RawLine> {
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
  let lineNo = 0;
  let carry: Uint8Array | null = null;

  const decodeBlock = function* (bytes: Uint8Array): Generator<RawLine> {
    // Fast path: decode many complete lines at once; on failure find the exact bad line.
    let text: string;
    try {
      text = decoder.decode(bytes);
    } catch {
      yield* decodeLinesOneByOne(bytes);
      return;
    }
    const parts = text.split('\n');
    // bytes ends with "\n", so the last part is the empty remainder.
    for (let i = 0; i < parts.length - 1; i++) {
      lineNo++;
      let s = parts[i]!;
      if (s.length > 0 && s.charCodeAt(s.length - 1) === 13) s = s.slice(0, -1);
      yield { line: lineNo, text: s };
    }
  };
  const decodeLinesOneByOne = function* (bytes: Uint8Array): Generator<RawLine> {
    let start = 0;
    while (start < bytes.length) {
      let end = bytes.indexOf(NL, start);
      if (end < 0) end = bytes.length;
      lineNo++;
      let s: string;
      try {
        s = decoder.decode(bytes.subarray(start, end));
      } catch {
        throw new UserError(at(path, lineNo, 'invalid UTF-8'));
      }
      if (s.length > 0 && s.charCodeAt(s.length - 1) === 13) s = s.slice(0, -1);
      yield { line: lineNo, text: s };
      start = end + 1;
    }
  };

  let first = true;
  // A .gz file (curate's stage files) is read through gunzip; members may be concatenated.
  const source = createReadStream(path, { highWaterMark: 1 << 20 });
  const stream = path.endsWith('.gz') ? gunzipOf(source) : source;
  try {
    for await (const chunk0 of stream) {
      let chunk = chunk0 as Buffer as Uint8Array;
      if (first) {
        first = false;
        if (chunk.length >= 3 && chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) chunk = chunk.subarray(3);
      }
      const lastNl = chunk.lastIndexOf(NL);
      if (lastNl < 0) {
        carry = carry ? concat(carry, chunk) : chunk.slice();
        continue;
      }
      let block = chunk.subarray(0, lastNl + 1);
      if (carry) {
        block = concat(carry, block);
        carry = null;
      }
      yield* decodeBlock(block);
      if (lastNl + 1 < chunk.length) carry = chunk.slice(lastNl + 1);
    }
  } catch (e) {
    throw mapFsError(e, path);
  } finally {
    stream.destroy();
    source.destroy();
  }
  if (carry && carry.length > 0) yield* decodeLinesOneByOne(carry);
}

/** `source` through gunzip, with the source's errors (ENOENT, EISDIR) passed on. */
function gunzipOf(source: ReturnType<typeof createReadStream>): Gunzip {
  const gz = createGunzip();
  source.on('error', (e) => gz.destroy(e));
  return source.pipe(gz);
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

export function mapFsError(e: unknown, path: string): unknown {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT') return new UserError(`${path}: file not found`);
  if (code === 'EISDIR') return new UserError(`${path}: is a directory, expected a data file`);
  if (code === 'EACCES') return new UserError(`${path}: permission denied`);
  return e;
}

function describeJsonError(e: unknown): string {
  const msg = (e as Error)?.message ?? String(e);
  return msg.split('\n')[0]!.slice(0, 200);
}

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return `a ${typeof v}`;
}

/** Parses one JSONL line into a row, or throws a UserError naming file:line. */
export function parseJsonlLine(path: string, line: number, text: string): Row {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new UserError(at(path, line, `invalid JSON (${describeJsonError(e)})`));
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    throw new UserError(at(path, line, `expected a JSON object per line, got ${kindOf(v)}`));
  }
  return v as Row;
}

/** Streams the rows of a JSONL file; blank lines are skipped. */
export async function* readJsonl(path: string): AsyncGenerator<Row> {
  for await (const { line, text } of readLines(path)) {
    if (isBlank(text)) continue;
    yield parseJsonlLine(path, line, text);
  }
}

function isBlank(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c !== 32 && c !== 9 && c !== 13) return false;
  }
  return true;
}

/**
 * Writes rows as text to `tmpPath`, one `render(row, i)` each, between `head` and `tail(n)`,
 * buffered in ~1 MiB writes and fsynced (not atomic by itself; io.writeRows wraps it).
 */
export async function writeTextRows(
  tmpPath: string,
  rows: Iterable<Row> | AsyncIterable<Row>,
  render: (row: Row, i: number) => string,
  head = '',
  tail: (n: number) => string = () => '',
): Promise<number> {
  const fh = await open(tmpPath, 'w');
  let n = 0;
  try {
    let buf: string[] = [head];
    let size = head.length;
    for await (const row of rows as AsyncIterable<Row>) {
      const s = render(row, n);
      buf.push(s);
      size += s.length;
      n++;
      if (size > 1 << 20) {
        await fh.write(buf.join(''));
        buf = [];
        size = 0;
      }
    }
    buf.push(tail(n));
    const rest = buf.join('');
    if (rest) await fh.write(rest);
    await fh.sync();
  } finally {
    await fh.close();
  }
  return n;
}

/** Writes rows as JSONL to a file path (not atomic by itself; io.writeRows wraps it). */
export function writeJsonlTo(tmpPath: string, rows: Iterable<Row> | AsyncIterable<Row>): Promise<number> {
  return writeTextRows(tmpPath, rows, (row) => toJsonText(row) + '\n');
}

/**
 * Appends one row as one JSONL line and fsyncs, so a crash loses at most the line being
 * written (which readJsonlTolerant then skips). If the file ends with a torn line (no final
 * newline: the trace of a crash mid-append), that partial line is cut off first, so the file
 * stays a clean sequence of whole lines.
 */
export async function appendJsonl(path: string, row: Row): Promise<void> {
  const line = toJsonText(row) + '\n';
  // Appends to one file from concurrent callers in this process run one after another.
  const prev = appendQueues.get(path) ?? Promise.resolve();
  const next = prev.then(() => appendLine(path, line));
  const tail = next.catch(() => {});
  appendQueues.set(path, tail);
  try {
    await next;
  } finally {
    if (appendQueues.get(path) === tail) appendQueues.delete(path);
  }
}

const appendQueues = new Map<string, Promise<void>>();

async function appendLine(path: string, line: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const fh = await open(path, 'a+');
  try {
    const { size } = await fh.stat();
    const last = Buffer.alloc(1);
    if (size > 0) await fh.read(last, 0, 1, size - 1);
    if (size > 0 && last[0] !== NL) {
      const keep = await endOfLastWholeLine(fh, size);
      if (keep < size) {
        await fh.truncate(keep);
        await fh.sync();
      }
    }
    await fh.write(line);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Byte offset just after the file's last newline (0 if none). */
async function endOfLastWholeLine(fh: import('node:fs/promises').FileHandle, size: number): Promise<number> {
  const buf = Buffer.alloc(64 * 1024);
  let end = size;
  while (end > 0) {
    const start = Math.max(0, end - buf.length);
    const len = end - start;
    await fh.read(buf, 0, len, start);
    const i = buf.subarray(0, len).lastIndexOf(NL);
    if (i >= 0) return start + i + 1;
    end = start;
  }
  return 0;
}

export interface TolerantResult {
  rows: Row[];
  /** 1-based line numbers that were skipped because they were torn (only ever the last line). */
  skippedLines: number[];
}

/**
 * Reads a JSONL cache written with appendJsonl. A last line that is incomplete (no final
 * newline and not parseable) is the trace of a crash mid-append and is skipped; a broken line
 * anywhere else is real corruption and throws. A missing file reads as no rows.
 */
export async function readJsonlTolerant(path: string): Promise<Row[]> {
  return (await readJsonlTolerantDetailed(path)).rows;
}

export async function readJsonlTolerantDetailed(path: string): Promise<TolerantResult> {
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { rows: [], skippedLines: [] };
    throw mapFsError(e, path);
  }
  let endsWithNewline = true;
  if (size > 0) {
    const fh = await open(path, 'r');
    try {
      const b = Buffer.alloc(1);
      await fh.read(b, 0, 1, size - 1);
      endsWithNewline = b[0] === NL;
    } finally {
      await fh.close();
    }
  }
  const rows: Row[] = [];
  const skippedLines: number[] = [];
  let pending: { line: number; text: string } | null = null;
  const gen = readLinesTolerantUtf8(path);
  for await (const l of gen) {
    if (pending) {
      if (!isBlank(pending.text)) rows.push(parseJsonlLine(path, pending.line, pending.text));
    }
    pending = l;
  }
  if (pending && !isBlank(pending.text)) {
    if (endsWithNewline) {
      rows.push(parseJsonlLine(path, pending.line, pending.text));
    } else {
      try {
        rows.push(parseJsonlLine(path, pending.line, pending.text));
      } catch {
        skippedLines.push(pending.line);
      }
    }
  }
  return { rows, skippedLines };
}

/** Like readLines, but a torn last line with a cut multi-byte character is passed on as text. */
async function* readLinesTolerantUtf8(path: string): AsyncGenerator<RawLine> {
  const it = readLines(path)[Symbol.asyncIterator]();
  let lastGood = 0;
  while (true) {
    let r: IteratorResult<RawLine>;
    try {
      r = await it.next();
    } catch (e) {
      // A UTF-8 error on the very last (torn) line: report it as an unparseable line.
      if (e instanceof UserError && /invalid UTF-8$/.test(e.message)) {
        const total = await countLines(path);
        if (lastGood + 1 === total) {
          yield { line: lastGood + 1, text: '\u0000torn' };
          return;
        }
      }
      throw e;
    }
    if (r.done) return;
    lastGood = r.value.line;
    yield r.value;
  }
}

async function countLines(path: string): Promise<number> {
  let n = 0;
  let last = NL;
  const stream = createReadStream(path, { highWaterMark: 1 << 20 });
  for await (const chunk of stream) {
    const b = chunk as Buffer;
    for (let i = b.indexOf(NL); i >= 0; i = b.indexOf(NL, i + 1)) n++;
    if (b.length) last = b[b.length - 1]!;
  }
  return last === NL ? n : n + 1;
}
