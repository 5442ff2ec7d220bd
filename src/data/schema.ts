/**
 * Column type inference for the columnar writers (Parquet, Arrow). Every column and field is
 * nullable. Integers (JSON numbers without a fraction, BigInt) stay integers (int64); a column
 * mixing ints and fractions is float64; lists and objects become list<...> and struct<...>
 * recursively. A column whose values do not share one shape (a string in one row, an object in
 * another) is a `json` column: stored as JSON text and restored on read.
 */
import type { Row } from './row.ts';

export type ColType =
  | { kind: 'null' }
  | { kind: 'bool' }
  | { kind: 'int' }
  | { kind: 'float' }
  | { kind: 'string' }
  | { kind: 'binary' }
  | { kind: 'timestamp' }
  | { kind: 'list'; elem: ColType }
  | { kind: 'struct'; fields: Map<string, ColType> }
  | { kind: 'json' };

const NULL: ColType = { kind: 'null' };
const JSONT: ColType = { kind: 'json' };

/** The type of one value. */
export function typeOfValue(v: unknown): ColType {
  if (v === null || v === undefined) return NULL;
  switch (typeof v) {
    case 'boolean':
      return { kind: 'bool' };
    case 'bigint':
      return { kind: 'int' };
    case 'number':
      return Number.isInteger(v) && Math.abs(v as number) < 9.2e18 ? { kind: 'int' } : { kind: 'float' };
    case 'string':
      return { kind: 'string' };
    case 'object':
      break;
    default:
      return JSONT;
  }
  if (v instanceof Uint8Array) return { kind: 'binary' };
  if (v instanceof Date) return { kind: 'timestamp' };
  if (Array.isArray(v)) {
    let elem: ColType = NULL;
    for (const x of v) {
      elem = mergeTypes(elem, typeOfValue(x));
      if (elem.kind === 'json') return JSONT;
    }
    return { kind: 'list', elem };
  }
  const keys = Object.keys(v as object);
  if (keys.length === 0) return JSONT; // an empty struct cannot be stored in Parquet
  const fields = new Map<string, ColType>();
  for (const k of keys) {
    const t = typeOfValue((v as Record<string, unknown>)[k]);
    if (t.kind === 'json') return JSONT;
    fields.set(k, t);
  }
  return { kind: 'struct', fields };
}

/** The narrowest type holding both; `json` when they do not share a shape. */
export function mergeTypes(a: ColType, b: ColType): ColType {
  if (a.kind === 'null') return b;
  if (b.kind === 'null') return a;
  if (a.kind === 'json' || b.kind === 'json') return JSONT;
  if (a.kind === b.kind) {
    if (a.kind === 'list') {
      const elem = mergeTypes(a.elem, (b as { elem: ColType }).elem);
      return elem.kind === 'json' ? JSONT : elem === a.elem ? a : { kind: 'list', elem };
    }
    if (a.kind === 'struct') {
      const bf = (b as { fields: Map<string, ColType> }).fields;
      let changed = false;
      const fields = new Map(a.fields);
      for (const [k, t] of bf) {
        const prev = fields.get(k);
        const m = prev ? mergeTypes(prev, t) : t;
        if (m.kind === 'json') return JSONT;
        if (m !== prev) {
          fields.set(k, m);
          changed = true;
        }
      }
      return changed ? { kind: 'struct', fields } : a;
    }
    return a;
  }
  if ((a.kind === 'int' && b.kind === 'float') || (a.kind === 'float' && b.kind === 'int')) return { kind: 'float' };
  return JSONT;
}

export interface TableSchema {
  /** Column names in first-seen order. */
  names: string[];
  types: Map<string, ColType>;
}

/** Accumulates a schema one row at a time (for writers that see rows as a stream). */
export class SchemaBuilder {
  private names: string[] = [];
  private types = new Map<string, ColType>();

  add(row: Row): void {
    for (const k of Object.keys(row)) {
      const t = typeOfValue(row[k]);
      const prev = this.types.get(k);
      if (prev === undefined) {
        this.names.push(k);
        this.types.set(k, t);
      } else if (prev.kind !== 'json') {
        const m = mergeTypes(prev, t);
        if (m !== prev) this.types.set(k, m);
      }
    }
  }

  result(): TableSchema {
    return { names: this.names.slice(), types: new Map(this.types) };
  }
}

/** Infers the schema of a set of rows (columns in first-seen order). */
export function inferSchema(rows: Iterable<Row>): TableSchema {
  const b = new SchemaBuilder();
  for (const row of rows) b.add(row);
  return b.result();
}

/** Text form of a type, for messages and tests: list<struct<role: string, content: string>>. */
export function typeToString(t: ColType): string {
  switch (t.kind) {
    case 'list':
      return `list<${typeToString(t.elem)}>`;
    case 'struct':
      return `struct<${[...t.fields].map(([k, v]) => `${k}: ${typeToString(v)}`).join(', ')}>`;
    default:
      return t.kind;
  }
}

/**
 * Fills in null/missing struct fields so every struct value has all fields of its type.
 * (Arrow builders and Parquet's Dremel encoder both expect that.) Returns a new value.
 */
export function conformValue(v: unknown, t: ColType): unknown {
  if (v === null || v === undefined) return null;
  switch (t.kind) {
    case 'list':
      return (v as unknown[]).map((x) => conformValue(x, t.elem));
    case 'struct': {
      const o = v as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (const [k, ft] of t.fields) out[k] = conformValue(o[k], ft);
      return out;
    }
    default:
      return v;
  }
}
