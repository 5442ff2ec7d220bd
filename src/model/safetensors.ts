/**
 * Safetensors reader and writer (our own; the format is small):
 *
 *   [u64 little-endian N][N bytes of JSON header, space padded][raw tensor bytes]
 *   header: { "<name>": { "dtype": "F32", "shape": [..], "data_offsets": [begin, end] }, ...,
 *             "__metadata__": { "format": "pt" } }   offsets are relative to the byte after the header
 *
 * Reading converts F32, F16 and BF16 to float32. Writing produces F32, BF16 or F16 files (float32
 * rounded to nearest-even, as torch's .to(dtype) does) that `transformers` / `safetensors` load:
 * names sorted, header padded to 8 bytes, __metadata__.
 * Sharded checkpoints (model-0000x-of-0000y.safetensors + model.safetensors.index.json) are read
 * through the index's weight_map.
 */
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../util/errors.ts';
import { withAtomicOutput } from '../util/fs.ts';
import { halfBitsOfFloat32Bits } from '../util/float16.ts';

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16';
const BYTES: Record<string, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };
const SUPPORTED = new Set(['F32', 'F16', 'BF16']);

/** A float32 tensor on the host: row-major data and its shape. */
export interface HostTensor {
  shape: number[];
  data: Float32Array;
}

export interface TensorEntry {
  dtype: string;
  shape: number[];
  /** Absolute byte range in the file. */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  path: string;
  tensors: Map<string, TensorEntry>;
  metadata: Record<string, string>;
}

const MAX_HEADER = 100 * 1024 * 1024;

/** Reads and validates the header of one .safetensors file. */
export function readSafetensorsHeader(path: string): SafetensorsHeader {
  if (!existsSync(path)) throw new UserError(`${path}: weights file not found`);
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size < 8) throw new UserError(`${path}: not a safetensors file (truncated: ${size} bytes)`);
    const lenBuf = Buffer.alloc(8);
    readSync(fd, lenBuf, 0, 8, 0);
    const n = lenBuf.readBigUInt64LE(0);
    if (n > BigInt(MAX_HEADER) || Number(n) + 8 > size) {
      throw new UserError(`${path}: not a safetensors file or truncated (header length ${n} bytes, file ${size} bytes)`);
    }
    const hbuf = Buffer.alloc(Number(n));
    readSync(fd, hbuf, 0, hbuf.length, 8);
    let header: Record<string, unknown>;
    try {
      header = JSON.parse(hbuf.toString('utf8')) as Record<string, unknown>;
    } catch (e) {
      throw new UserError(`${path}: corrupt safetensors header (invalid JSON: ${(e as Error).message})`);
    }
    if (!header || typeof header !== 'object' || Array.isArray(header)) throw new UserError(`${path}: corrupt safetensors header (expected a JSON object)`);
    const base = 8 + Number(n);
    const tensors = new Map<string, TensorEntry>();
    let metadata: Record<string, string> = {};
    for (const [name, raw] of Object.entries(header)) {
      if (name === '__metadata__') {
        metadata = (raw ?? {}) as Record<string, string>;
        continue;
      }
      const m = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      const bad = (what: string) => new UserError(`${path}: corrupt safetensors header: tensor '${name}' ${what}`);
      if (!m || typeof m.dtype !== 'string' || !(m.dtype in BYTES)) throw bad(`has unknown dtype ${JSON.stringify(m?.dtype)}`);
      if (!Array.isArray(m.shape) || !m.shape.every((d) => Number.isInteger(d) && d >= 0)) throw bad('has an invalid shape');
      const off = m.data_offsets;
      if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isInteger(d) && d >= 0) || off[1] < off[0]) {
        throw bad('has invalid data_offsets');
      }
      const numel = (m.shape as number[]).reduce((a, b) => a * b, 1);
      if (off[1] - off[0] !== numel * BYTES[m.dtype]) throw bad(`byte size ${off[1] - off[0]} does not match shape [${m.shape}] of ${m.dtype}`);
      if (base + off[1] > size) throw new UserError(`${path}: truncated safetensors file (tensor '${name}' ends at byte ${base + off[1]}, file has ${size})`);
      tensors.set(name, { dtype: m.dtype, shape: m.shape as number[], begin: base + off[0], end: base + off[1] });
    }
    // The format's own validation: sorted by offset, the tensors tile the data buffer exactly,
    // from byte 0 to its end (no gap, no overlap, no trailing bytes).
    const byOffset = [...tensors.entries()].sort((a, b) => a[1].begin - b[1].begin || a[1].end - b[1].end);
    let at = base;
    for (const [name, t] of byOffset) {
      if (t.begin !== at) {
        const what = t.begin < at ? `overlaps the tensor before it (starts at data offset ${t.begin - base}, expected ${at - base})` : `leaves a gap before it (starts at data offset ${t.begin - base}, expected ${at - base})`;
        throw new UserError(`${path}: corrupt safetensors header: tensor '${name}' ${what}`);
      }
      at = t.end;
    }
    if (at !== size) {
      throw new UserError(`${path}: corrupt safetensors file: ${size - at} bytes after the last tensor (tensor data ends at byte ${at}, file has ${size})`);
    }
    return { path, tensors, metadata };
  } finally {
    closeSync(fd);
  }
}

const F16_TABLE = (() => {
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const s = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const f = h & 0x3ff;
    if (e === 0) t[h] = s * f * 2 ** -24;
    else if (e === 31) t[h] = f ? NaN : s * Infinity;
    else t[h] = s * (1 + f / 1024) * 2 ** (e - 15);
  }
  return t;
})();

/** Converts raw little-endian bytes of `dtype` to float32. */
export function toFloat32(bytes: Uint8Array, dtype: string, where = 'tensor'): Float32Array {
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : new Uint8Array(bytes);
  switch (dtype) {
    case 'F32':
      return new Float32Array(aligned.buffer.slice(aligned.byteOffset, aligned.byteOffset + aligned.byteLength));
    case 'F16': {
      const u = new Uint16Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 2);
      const out = new Float32Array(u.length);
      for (let i = 0; i < u.length; i++) out[i] = F16_TABLE[u[i]];
      return out;
    }
    case 'BF16': {
      const u = new Uint16Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 2);
      const bits = new Uint32Array(u.length);
      for (let i = 0; i < u.length; i++) bits[i] = u[i] << 16;
      return new Float32Array(bits.buffer);
    }
    default:
      throw new UserError(`${where}: dtype ${dtype} is not supported (expected F32, F16 or BF16)`);
  }
}

/** float32 -> bfloat16 bits, round to nearest even (NaN stays a quiet NaN). */
function bf16Bits(bits: number): number {
  if ((bits & 0x7f800000) === 0x7f800000 && (bits & 0x7fffff) !== 0) return ((bits >>> 16) & 0x8000) | 0x7fc0;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

/** float32 values as the little-endian bytes of `dtype`. */
export function fromFloat32(data: Float32Array, dtype: SafetensorsDtype): Uint8Array {
  if (dtype === 'F32') return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const bits = new Uint32Array(data.buffer, data.byteOffset, data.length);
  const out = new Uint16Array(data.length);
  const conv = dtype === 'BF16' ? bf16Bits : halfBitsOfFloat32Bits;
  for (let i = 0; i < out.length; i++) out[i] = conv(bits[i]);
  return new Uint8Array(out.buffer);
}

/** Reads tensors (all, or the named ones) from one file as float32. */
export function readSafetensors(path: string, names?: Iterable<string>): Map<string, HostTensor> {
  const header = readSafetensorsHeader(path);
  const wanted = names ? [...names] : [...header.tensors.keys()];
  const out = new Map<string, HostTensor>();
  const fd = openSync(path, 'r');
  try {
    for (const name of wanted) {
      const e = header.tensors.get(name);
      if (!e) throw new UserError(`${path}: missing tensor '${name}'`);
      if (!SUPPORTED.has(e.dtype)) throw new UserError(`${path}: tensor '${name}' has dtype ${e.dtype} (expected F32, F16 or BF16)`);
      const buf = Buffer.alloc(e.end - e.begin);
      let got = 0;
      while (got < buf.length) {
        const r = readSync(fd, buf, got, buf.length - got, e.begin + got);
        if (r === 0) throw new UserError(`${path}: truncated safetensors file while reading '${name}'`);
        got += r;
      }
      out.set(name, { shape: e.shape, data: toFloat32(buf, e.dtype, `${path}: tensor '${name}'`) });
    }
  } finally {
    closeSync(fd);
  }
  return out;
}

/** Refuses a tensor holding NaN or infinite values, naming the file, tensor and element. */
export function assertFinite(path: string, name: string, data: Float32Array): void {
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) {
      throw new UserError(`${path}: tensor '${name}' holds ${Number.isNaN(data[i]) ? 'NaN' : 'infinite'} weights (first at element ${i}); the checkpoint is corrupt or training diverged`);
    }
  }
}

/** The weight files of a model directory: name -> file, from the index or the single file. */
export function weightFiles(dir: string): Map<string, string> {
  const index = join(dir, 'model.safetensors.index.json');
  const single = join(dir, 'model.safetensors');
  const map = new Map<string, string>();
  if (existsSync(index)) {
    let parsed: { weight_map?: Record<string, string> };
    try {
      parsed = JSON.parse(readFileSync(index, 'utf8')) as typeof parsed;
    } catch (e) {
      throw new UserError(`${index}: invalid JSON (${(e as Error).message})`);
    }
    if (!parsed.weight_map || typeof parsed.weight_map !== 'object') throw new UserError(`${index}: missing "weight_map" object`);
    for (const [name, file] of Object.entries(parsed.weight_map)) map.set(name, join(dir, file));
    return map;
  }
  if (existsSync(single)) {
    for (const name of readSafetensorsHeader(single).tensors.keys()) map.set(name, single);
    return map;
  }
  throw new UserError(`${dir}: no weights file (expected model.safetensors or model.safetensors.index.json)`);
}

/** Reads every tensor of a model directory (single file or sharded) as float32. */
export function readSafetensorsDir(dir: string): Map<string, HostTensor> {
  const files = weightFiles(dir);
  const byFile = new Map<string, string[]>();
  for (const [name, file] of files) {
    if (!byFile.has(file)) byFile.set(file, []);
    byFile.get(file)!.push(name);
  }
  const out = new Map<string, HostTensor>();
  for (const [file, names] of byFile) for (const [n, t] of readSafetensors(file, names)) out.set(n, t);
  return out;
}

/** Builds the header bytes (padded with spaces to a multiple of 8) for sorted tensors of one dtype. */
function buildHeader(tensors: Map<string, HostTensor>, metadata: Record<string, string>, dtype: SafetensorsDtype): { header: Buffer; names: string[] } {
  const size = BYTES[dtype];
  const names = [...tensors.keys()].sort();
  const obj: Record<string, unknown> = { __metadata__: metadata };
  let off = 0;
  for (const name of names) {
    const t = tensors.get(name)!;
    const numel = t.shape.reduce((a, b) => a * b, 1);
    if (numel !== t.data.length) throw new Error(`tensor '${name}': shape [${t.shape}] does not match ${t.data.length} values`);
    obj[name] = { dtype, shape: t.shape, data_offsets: [off, off + numel * size] };
    off += numel * size;
  }
  let json = Buffer.from(JSON.stringify(obj), 'utf8');
  const pad = (8 - (json.length % 8)) % 8;
  if (pad) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return { header: Buffer.concat([len, json]), names };
}

/**
 * Writes float32 tensors to `path` atomically (temp file, then rename), as `dtype` (default F32),
 * streaming tensor by tensor so a large model never needs one contiguous buffer.
 */
export async function writeSafetensors(
  path: string,
  tensors: Map<string, HostTensor> | Record<string, HostTensor>,
  metadata: Record<string, string> = { format: 'pt' },
  dtype: SafetensorsDtype = 'F32',
): Promise<void> {
  const map = tensors instanceof Map ? tensors : new Map(Object.entries(tensors));
  const { header, names } = buildHeader(map, metadata, dtype);
  await withAtomicOutput(path, async (tmp) => {
    const fh = await open(tmp, 'w');
    try {
      await fh.write(header);
      for (const name of names) {
        // typed arrays are little-endian on every platform Node supports
        await fh.write(fromFloat32(map.get(name)!.data, dtype));
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
  });
}
