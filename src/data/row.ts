/** The row type shared by every reader and writer, and value helpers used across formats. */

/** One record of a dataset: column name -> value (string, number, boolean, null, arrays, objects). */
export type Row = Record<string, unknown>;

/**
 * JSON text for a row. BigInt values (64-bit integers beyond 2^53 read from Parquet/Arrow) are
 * written as bare JSON integers, digit for digit, instead of failing as JSON.stringify would.
 */
export function toJsonText(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch (e) {
    if (!(e instanceof TypeError) || !/BigInt/i.test(e.message)) throw e;
  }
  const marker = `\u0000bigint:`;
  const s = JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? `${marker}${v.toString()}` : v));
  return s.replace(/"\\u0000bigint:(-?\d+)"/g, '$1');
}

/** BigInt -> number where it is exactly representable, else kept as BigInt. Recurses into arrays/objects. */
export function normalizeValue(v: unknown): unknown {
  if (typeof v === 'bigint') {
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }
  if (Array.isArray(v)) {
    let out: unknown[] | null = null;
    for (let i = 0; i < v.length; i++) {
      const n = normalizeValue(v[i]) ?? null;
      if (n !== v[i]) {
        out ??= v.slice();
        out[i] = n;
      }
    }
    return out ?? v;
  }
  if (v !== null && typeof v === 'object' && !(v instanceof Date) && !ArrayBuffer.isView(v)) {
    // Typed arrays and Dates are left alone; plain objects are normalized in place.
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      const n = normalizeValue(o[k]) ?? null;
      if (n !== o[k]) o[k] = n;
    }
    return o;
  }
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
    // Numeric typed arrays (e.g. Arrow int32 lists) become plain arrays of numbers.
    if (v instanceof Uint8Array) return v;
    return Array.from(v as unknown as ArrayLike<number | bigint>, (x) => normalizeValue(x));
  }
  return v;
}
