/**
 * Two-pass writing for formats that need every column's type (or the header) before the first
 * byte: Parquet, Arrow, CSV. Rows are kept in memory up to a limit; beyond it they are spilled
 * to a temp file beside the output (v8-serialized, so BigInt, Date and bytes survive) and
 * replayed in batches, so writing a huge dataset needs one batch in memory, not all of it.
 * The spill is written in deflate-compressed blocks of about 4 MB (text rows shrink 3-6x), so
 * the temp file stays well below the output's own size, and it is deleted once consumed.
 */
import { createReadStream } from 'node:fs';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { promisify } from 'node:util';
import { deserialize, serialize } from 'node:v8';
import { deflateRaw, inflateRawSync, constants as zc } from 'node:zlib';

const deflate = promisify(deflateRaw);
import type { Row } from './row.ts';

export interface BufferedRows {
  count: number;
  /** Replays the rows in order, `size` at a time. */
  batches(size: number): AsyncGenerator<Row[]>;
  /** Removes the spill file, if any. */
  dispose(): Promise<void>;
}

export interface BufferOptions {
  /** Rows kept in memory before spilling to `spillPath` (default 100 000). */
  maxInMemory?: number;
  /** Called for every row on the first pass (schema inference). */
  onRow?: (row: Row) => void;
}

export async function bufferRows(
  rows: Iterable<Row> | AsyncIterable<Row>,
  spillPath: string,
  opts: BufferOptions = {},
): Promise<BufferedRows> {
  const max = opts.maxInMemory ?? 100_000;
  const onRow = opts.onRow ?? (() => {});
  if (Array.isArray(rows)) {
    for (const r of rows) onRow(r);
    return inMemory(rows as Row[]);
  }
  const mem: Row[] = [];
  let fh: FileHandle | null = null;
  let count = 0;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  /** Writes the pending records as one block: [u32 compressed length][deflated records]. */
  const flush = async () => {
    if (!fh || pending.length === 0) return;
    const block = await deflate(Buffer.concat(pending, pendingBytes), { level: zc.Z_BEST_SPEED });
    pending = [];
    pendingBytes = 0;
    const head = Buffer.allocUnsafe(4);
    head.writeUInt32LE(block.length, 0);
    await fh.write(Buffer.concat([head, block]));
  };
  const spillOne = async (r: Row) => {
    const body = serialize(r);
    const head = Buffer.allocUnsafe(4);
    head.writeUInt32LE(body.length, 0);
    pending.push(head, body);
    pendingBytes += 4 + body.length;
    if (pendingBytes > 4 << 20) await flush();
  };
  try {
    for await (const r of rows as AsyncIterable<Row>) {
      onRow(r);
      count++;
      if (fh) {
        await spillOne(r);
      } else if (mem.length < max) {
        mem.push(r);
      } else {
        fh = await open(spillPath, 'w');
        for (const m of mem) await spillOne(m);
        mem.length = 0;
        await spillOne(r);
      }
    }
    await flush();
  } catch (e) {
    if (fh) {
      await fh.close().catch(() => {});
      await rm(spillPath, { force: true });
    }
    throw e;
  }
  if (!fh) return inMemory(mem);
  await fh.close();
  return {
    count,
    batches: (size) => replaySpill(spillPath, size),
    dispose: () => rm(spillPath, { force: true }),
  };
}

function inMemory(rows: Row[]): BufferedRows {
  return {
    count: rows.length,
    async *batches(size: number) {
      for (let i = 0; i < rows.length; i += size) yield rows.slice(i, i + size);
    },
    dispose: async () => {},
  };
}

async function* replaySpill(path: string, size: number): AsyncGenerator<Row[]> {
  let carry: Buffer = Buffer.alloc(0);
  let batch: Row[] = [];
  for await (const chunk of createReadStream(path, { highWaterMark: 4 << 20 })) {
    const buf: Buffer = carry.length ? Buffer.concat([carry, chunk as Buffer]) : (chunk as Buffer);
    let off = 0;
    while (off + 4 <= buf.length) {
      const clen = buf.readUInt32LE(off);
      if (off + 4 + clen > buf.length) break;
      const records = inflateRawSync(buf.subarray(off + 4, off + 4 + clen));
      off += 4 + clen;
      for (let r = 0; r + 4 <= records.length; ) {
        const len = records.readUInt32LE(r);
        batch.push(deserialize(records.subarray(r + 4, r + 4 + len)) as Row);
        r += 4 + len;
        if (batch.length >= size) {
          yield batch;
          batch = [];
        }
      }
    }
    carry = buf.subarray(off);
  }
  if (batch.length) yield batch;
}
