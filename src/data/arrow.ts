/**
 * Arrow IPC (apache-arrow), file format ("ARROW1" magic, .arrow/.feather v2) and stream
 * format, read one record batch at a time. Written in the file format with the schema
 * inferred from the rows (int64, float64, utf8, bool, list<...>, struct<...>); a column with
 * no common shape is stored as utf8 JSON text and listed in the schema metadata
 * `ko_align.json_columns`, which our reader restores.
 */
import { open } from 'node:fs/promises';
import {
  Binary,
  Bool,
  Field,
  Float64,
  Int64,
  List,
  Null,
  RecordBatchReader,
  RecordBatchFileWriter,
  Schema,
  Struct,
  Table,
  TimestampMillisecond,
  Utf8,
  Vector,
  makeData,
  RecordBatch,
  tableToIPC,
  vectorFromArray,
  type DataType,
} from 'apache-arrow';
import { UserError } from '../util/errors.ts';
import { mapFsError } from './jsonl.ts';
import type { Row } from './row.ts';
import { normalizeValue, toJsonText } from './row.ts';
import { conformValue, inferSchema, SchemaBuilder, type ColType, type TableSchema } from './schema.ts';
import { bufferRows } from './spill.ts';

export const JSON_COLUMNS_KEY = 'ko_align.json_columns';

/** An Arrow value (Vector, StructRow, MapRow, bigint, typed array) as plain JS. */
export function fromArrowValue(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return normalizeValue(v);
  if (typeof v !== 'object') return v;
  if (v instanceof Vector) {
    const out = new Array(v.length);
    for (let i = 0; i < v.length; i++) out[i] = fromArrowValue(v.get(i));
    return out;
  }
  if (v instanceof Date || v instanceof Uint8Array) return v;
  if (ArrayBuffer.isView(v)) return normalizeValue(v);
  if (Array.isArray(v)) return v.map(fromArrowValue);
  const o = v as { toJSON?: () => unknown };
  if (typeof o.toJSON === 'function') {
    const j = o.toJSON() as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(j)) out[k] = fromArrowValue(j[k]);
    return out;
  }
  return v;
}

/** Streams rows from an Arrow IPC file or stream, one record batch at a time. */
export async function* readArrow(path: string): AsyncGenerator<Row> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    throw mapFsError(e, path);
  }
  try {
    let reader;
    try {
      reader = await RecordBatchReader.from(fh);
      await reader.open();
    } catch (e) {
      throw new UserError(`${path}: not a readable Arrow IPC file (${((e as Error).message ?? String(e)).split('\n')[0]})`);
    }
    const jsonCols = new Set<string>();
    const meta = reader.schema?.metadata.get(JSON_COLUMNS_KEY);
    if (meta) {
      try {
        for (const c of JSON.parse(meta) as string[]) jsonCols.add(c);
      } catch {
        /* a foreign, malformed entry */
      }
    }
    const iter = reader[Symbol.asyncIterator]();
    while (true) {
      let r: IteratorResult<RecordBatch>;
      try {
        r = await iter.next();
      } catch (e) {
        throw new UserError(`${path}: not a readable Arrow IPC file (${((e as Error).message ?? String(e)).split('\n')[0]})`);
      }
      if (r.done) break;
      const batch = r.value;
      const fields = batch.schema.fields;
      const cols = fields.map((_, j) => batch.getChildAt(j)!);
      for (let i = 0; i < batch.numRows; i++) {
        const row: Row = {};
        for (let j = 0; j < fields.length; j++) {
          const name = fields[j]!.name;
          let v = fromArrowValue(cols[j]!.get(i));
          if (jsonCols.has(name) && typeof v === 'string') v = JSON.parse(v);
          row[name] = v;
        }
        yield row;
      }
    }
  } finally {
    await fh.close();
  }
}

function arrowType(t: ColType): DataType {
  switch (t.kind) {
    case 'string':
    case 'json':
      return new Utf8();
    case 'null':
      return new Null();
    case 'int':
      return new Int64();
    case 'float':
      return new Float64();
    case 'bool':
      return new Bool();
    case 'binary':
      return new Binary();
    case 'timestamp':
      return new TimestampMillisecond();
    case 'list':
      return new List(new Field('item', arrowType(t.elem), true));
    case 'struct':
      return new Struct([...t.fields].map(([k, ft]) => new Field(k, arrowType(ft), true)));
  }
}

function toArrowValue(v: unknown, t: ColType): unknown {
  if (v === null || v === undefined) return null;
  switch (t.kind) {
    case 'int':
      return typeof v === 'bigint' ? v : BigInt(v as number);
    case 'float':
      return Number(v);
    case 'json':
      return toJsonText(v);
    case 'timestamp':
      return (v as Date).getTime();
    case 'list':
      return (v as unknown[]).map((x) => toArrowValue(x, t.elem));
    case 'struct': {
      const o = v as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (const [k, ft] of t.fields) out[k] = toArrowValue(o[k], ft);
      return out;
    }
    default:
      return v;
  }
}

interface Plan {
  names: string[];
  types: Map<string, ColType>;
  fields: Field[];
  schema: Schema;
}

function plan(t: TableSchema): Plan {
  const jsonCols = t.names.filter((n) => t.types.get(n)!.kind === 'json');
  const fields = t.names.map((n) => new Field(n, arrowType(t.types.get(n)!), true));
  const metadata = new Map<string, string>();
  if (jsonCols.length) metadata.set(JSON_COLUMNS_KEY, JSON.stringify(jsonCols));
  return { names: t.names, types: t.types, fields, schema: new Schema(fields, metadata) };
}

function batchOf(p: Plan, rows: readonly Row[]): RecordBatch {
  const children = p.names.map((n, j) => {
    const t = p.types.get(n)!;
    const vals = new Array(rows.length);
    for (let i = 0; i < rows.length; i++) vals[i] = toArrowValue(conformValue(rows[i]![n], t), t);
    const data = vectorFromArray(vals, p.fields[j]!.type).data;
    if (data.length !== 1) throw new Error(`internal: Arrow column ${n} built in ${data.length} chunks`);
    return data[0]!;
  });
  const structData = makeData({ type: new Struct(p.fields), length: rows.length, nullCount: 0, children });
  return new RecordBatch(p.schema, structData);
}

/** Encodes rows as Arrow IPC bytes in memory (file or stream format, `batchSize` rows per batch). */
export function encodeArrow(rows: readonly Row[], format: 'file' | 'stream' = 'file', batchSize = 65_536): Uint8Array {
  const p = plan(inferSchema(rows));
  const batches: RecordBatch[] = [];
  for (let start = 0; start < rows.length; start += batchSize) batches.push(batchOf(p, rows.slice(start, start + batchSize)));
  const table = batches.length ? new Table(p.schema, batches) : new Table(p.schema);
  return tableToIPC(table, format);
}

/**
 * Writes rows to `tmpPath` as an Arrow IPC file, one record batch at a time (rows beyond
 * `maxInMemory` are spilled to a temp file during schema inference); returns the row count.
 */
export async function writeArrowTo(
  tmpPath: string,
  rows: Iterable<Row> | AsyncIterable<Row>,
  opts: { batchSize?: number; maxInMemory?: number } = {},
): Promise<number> {
  const sb = new SchemaBuilder();
  const buffered = await bufferRows(rows, `${tmpPath}.spill`, { maxInMemory: opts.maxInMemory, onRow: (r) => sb.add(r) });
  const fh = await open(tmpPath, 'w');
  try {
    const p = plan(sb.result());
    const writer = new RecordBatchFileWriter();
    // Drain the writer's byte chunks into the file while batches are written.
    const drain = (async () => {
      for await (const chunk of writer) await fh.write(chunk);
    })();
    writer.reset(undefined, p.schema);
    for await (const batch of buffered.batches(opts.batchSize ?? 65_536)) writer.write(batchOf(p, batch));
    writer.finish();
    await drain;
    await fh.sync();
    return buffered.count;
  } finally {
    await fh.close();
    await buffered.dispose();
  }
}
