/**
 * Parquet reading (hyparquet + hyparquet-compressors: snappy, zstd, gzip, brotli, lz4;
 * dictionary encoding; nested lists of structs such as chat `messages`) one row group at a
 * time, and writing (hyparquet-writer) with a schema inferred from the rows: strings as
 * STRING, integers as INT64, fractions as DOUBLE, booleans, lists as 3-level LIST groups and
 * objects as struct groups, all OPTIONAL, so DuckDB and pyarrow read list<struct<...>> back.
 * A column whose values have no common shape is stored as JSON text (converted type JSON) and
 * its name is listed in the key-value metadata `ko_align.json_columns`; our reader restores it.
 */
import { open } from 'node:fs/promises';
import { parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import type { AsyncBuffer, FileMetaData, SchemaElement } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { ByteWriter, ParquetWriter, fileWriter } from 'hyparquet-writer';
import type { ColumnSource, Writer } from 'hyparquet-writer';
import { UserError } from '../util/errors.ts';
import { mapFsError } from './jsonl.ts';
import type { Row } from './row.ts';
import { normalizeValue } from './row.ts';
import { conformValue, inferSchema, SchemaBuilder, type ColType, type TableSchema } from './schema.ts';
import { bufferRows } from './spill.ts';

export const JSON_COLUMNS_KEY = 'ko_align.json_columns';

/** An AsyncBuffer over a local file that keeps one descriptor open (hyparquet reads ranges). */
async function fileBuffer(path: string): Promise<{ buf: AsyncBuffer; close: () => Promise<void> }> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    throw mapFsError(e, path);
  }
  const { size } = await fh.stat();
  const buf: AsyncBuffer = {
    byteLength: size,
    async slice(start: number, end?: number): Promise<ArrayBuffer> {
      const stop = end === undefined ? size : Math.min(end, size);
      const len = Math.max(0, stop - start);
      const out = new Uint8Array(len);
      let done = 0;
      while (done < len) {
        const { bytesRead } = await fh.read(out, done, len - done, start + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      return out.buffer;
    },
  };
  return { buf, close: () => fh.close() };
}

function invalid(path: string, e: unknown): UserError {
  const msg = ((e as Error)?.message ?? String(e)).split('\n')[0];
  return new UserError(`${path}: not a readable Parquet file (${msg})`);
}

export interface ParquetInfo {
  numRows: number;
  rowGroups: number;
  columns: string[];
  metadata: FileMetaData;
}

/** The file's footer metadata, or a one-line error naming the file. */
async function readFooter(path: string, buf: Parameters<typeof parquetMetadataAsync>[0]): Promise<FileMetaData> {
  try {
    return await parquetMetadataAsync(buf);
  } catch (e) {
    throw invalid(path, e);
  }
}

/** Row count, row groups and top-level column names, from the footer only. */
export async function parquetInfo(path: string): Promise<ParquetInfo> {
  const { buf, close } = await fileBuffer(path);
  try {
    const metadata = await readFooter(path, buf);
    return { numRows: Number(metadata.num_rows), rowGroups: metadata.row_groups.length, columns: topLevelColumns(metadata), metadata };
  } finally {
    await close();
  }
}

function topLevelColumns(md: FileMetaData): string[] {
  const schema = md.schema;
  const names: string[] = [];
  // Walk the flattened schema: root's children are the top-level columns.
  let i = 1;
  const skip = (idx: number): number => {
    const n = schema[idx]!.num_children ?? 0;
    let j = idx + 1;
    for (let c = 0; c < n; c++) j = skip(j);
    return j;
  };
  const rootChildren = schema[0]?.num_children ?? 0;
  for (let c = 0; c < rootChildren; c++) {
    names.push(schema[i]!.name);
    i = skip(i);
  }
  return names;
}

/** Streams rows one row group at a time. 64-bit integers come back as numbers when exact. */
export async function* readParquet(path: string): AsyncGenerator<Row> {
  const { buf, close } = await fileBuffer(path);
  try {
    const metadata = await readFooter(path, buf);
    const jsonCols = new Set<string>();
    for (const kv of metadata.key_value_metadata ?? []) {
      if (kv.key === JSON_COLUMNS_KEY && kv.value) {
        try {
          for (const c of JSON.parse(kv.value) as string[]) jsonCols.add(c);
        } catch {
          /* ignore a foreign, malformed entry */
        }
      }
    }
    // hyparquet already parses columns annotated JSON; restore only those stored as plain strings.
    for (const el of metadata.schema) if (el.converted_type === 'JSON') jsonCols.delete(el.name);
    const columns = topLevelColumns(metadata);
    let rowStart = 0;
    for (const rg of metadata.row_groups) {
      const n = Number(rg.num_rows);
      if (n === 0) continue;
      let rows: Record<string, unknown>[];
      try {
        rows = await parquetReadObjects({ file: buf, metadata, rowStart, rowEnd: rowStart + n, compressors });
      } catch (e) {
        throw invalid(path, e);
      }
      rowStart += n;
      for (const r of rows) {
        const row: Row = {};
        // Every column on every row: hyparquet leaves a null list out of the object.
        for (const k of columns) row[k] = null;
        for (const k of Object.keys(r)) {
          let v = normalizeValue(r[k]) ?? null;
          if (jsonCols.has(k) && typeof v === 'string') v = JSON.parse(v);
          row[k] = v;
        }
        yield row;
      }
    }
  } finally {
    await close();
  }
}

// ---------------------------------------------------------------------------------------------
// Writing

const MAX_I64 = 2n ** 63n - 1n;
const MIN_I64 = -(2n ** 63n);

/** Parquet schema elements (pre-order) for one column of type `t`. */
function schemaElements(name: string, t: ColType): SchemaElement[] {
  const rep = 'OPTIONAL' as const;
  switch (t.kind) {
    case 'string':
    case 'null':
      return [{ name, type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' }, repetition_type: rep }];
    case 'int':
      return [{ name, type: 'INT64', repetition_type: rep }];
    case 'float':
      return [{ name, type: 'DOUBLE', repetition_type: rep }];
    case 'bool':
      return [{ name, type: 'BOOLEAN', repetition_type: rep }];
    case 'binary':
      return [{ name, type: 'BYTE_ARRAY', repetition_type: rep }];
    case 'timestamp':
      return [{ name, type: 'INT64', converted_type: 'TIMESTAMP_MILLIS', repetition_type: rep }];
    case 'json':
      return [{ name, type: 'BYTE_ARRAY', converted_type: 'JSON', repetition_type: rep }];
    case 'list':
      return [
        { name, repetition_type: rep, converted_type: 'LIST', logical_type: { type: 'LIST' }, num_children: 1 },
        { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
        ...schemaElements('element', t.elem),
      ];
    case 'struct': {
      const out: SchemaElement[] = [{ name, repetition_type: rep, num_children: t.fields.size }];
      for (const [k, ft] of t.fields) out.push(...schemaElements(k, ft));
      return out;
    }
  }
}

/** Converts a value to what hyparquet-writer expects for type `t` (ints as BigInt, full structs). */
function toWriterValue(v: unknown, t: ColType): unknown {
  if (v === null || v === undefined) return null;
  switch (t.kind) {
    case 'int': {
      const b = typeof v === 'bigint' ? v : BigInt(v as number);
      if (b > MAX_I64 || b < MIN_I64) throw new UserError(`integer ${b} does not fit in a Parquet INT64 column`);
      return b;
    }
    case 'float':
      return typeof v === 'bigint' ? Number(v) : v;
    case 'list':
      return (v as unknown[]).map((x) => toWriterValue(x, t.elem));
    case 'struct': {
      const o = v as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (const [k, ft] of t.fields) out[k] = toWriterValue(o[k], ft);
      return out;
    }
    case 'json':
      return normalizeValue(v);
    default:
      return v;
  }
}

export interface ParquetWriteOptions {
  /** Compression codec (hyparquet-writer compresses SNAPPY natively). Default SNAPPY. */
  codec?: 'SNAPPY' | 'UNCOMPRESSED';
  /** Rows per row group (default 50 000): the unit the streaming reader loads at once. */
  rowGroupSize?: number;
  /** Rows kept in memory while writing before spilling to a temp file (default 100 000). */
  maxInMemory?: number;
}

interface Plan {
  schema: SchemaElement[];
  names: string[];
  types: Map<string, ColType>;
  kvMetadata?: { key: string; value: string }[];
}

function plan(t: TableSchema): Plan {
  const schema: SchemaElement[] = [{ name: 'root', num_children: t.names.length }];
  const jsonCols: string[] = [];
  for (const name of t.names) {
    const ct = t.types.get(name)!;
    if (ct.kind === 'json') jsonCols.push(name);
    schema.push(...schemaElements(name, ct));
  }
  return {
    schema,
    names: t.names,
    types: t.types,
    kvMetadata: jsonCols.length ? [{ key: JSON_COLUMNS_KEY, value: JSON.stringify(jsonCols) }] : undefined,
  };
}

function columnsOf(p: Plan, rows: readonly Row[]): ColumnSource[] {
  return p.names.map((name) => {
    const t = p.types.get(name)!;
    const data = new Array(rows.length);
    for (let i = 0; i < rows.length; i++) data[i] = toWriterValue(conformValue(rows[i]![name], t), t);
    return { name, data };
  });
}

/** Writes row groups (one per batch) to a hyparquet-writer sink. */
async function writeGroups(writer: Writer, p: Plan, batches: AsyncIterable<Row[]>, codec: 'SNAPPY' | 'UNCOMPRESSED'): Promise<void> {
  const pq = new ParquetWriter({ writer, schema: p.schema, codec, kvMetadata: p.kvMetadata, createdBy: 'ko-align (hyparquet-writer)' });
  for await (const batch of batches) {
    if (batch.length === 0) continue;
    await pq.write({ columnData: columnsOf(p, batch), rowGroupSize: batch.length });
  }
  await pq.finish();
}

async function* once(rows: readonly Row[], size: number): AsyncGenerator<Row[]> {
  for (let i = 0; i < rows.length; i += size) yield rows.slice(i, i + size);
}

/** Encodes rows as a Parquet file in memory. */
export async function encodeParquet(rows: readonly Row[], opts: ParquetWriteOptions = {}): Promise<Uint8Array> {
  const writer = new ByteWriter();
  await writeGroups(writer, plan(inferSchema(rows)), once(rows, opts.rowGroupSize ?? 50_000), opts.codec ?? 'SNAPPY');
  return writer.getBytes();
}

/**
 * Writes rows to `tmpPath` as Parquet (io.writeRows makes it atomic); returns the row count.
 * Two passes: the first infers the schema (spilling rows beyond `maxInMemory` to a temp file),
 * the second writes one row group at a time.
 */
export async function writeParquetTo(
  tmpPath: string,
  rows: Iterable<Row> | AsyncIterable<Row>,
  opts: ParquetWriteOptions = {},
): Promise<number> {
  const sb = new SchemaBuilder();
  const buffered = await bufferRows(rows, `${tmpPath}.spill`, { maxInMemory: opts.maxInMemory, onRow: (r) => sb.add(r) });
  try {
    const writer = fileWriter(tmpPath);
    await writeGroups(writer, plan(sb.result()), buffered.batches(opts.rowGroupSize ?? 50_000), opts.codec ?? 'SNAPPY');
    const fh = await open(tmpPath, 'r+');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    return buffered.count;
  } finally {
    await buffered.dispose();
  }
}
