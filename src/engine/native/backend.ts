/**
 * The `native` tfjs backend: tfjs-backend-cpu's storage (ordinary TypedArrays, bounded by RAM,
 * not by the 4 GiB wasm heap) with its hot kernels replaced by C (kernels.c) and GEMM by the
 * system BLAS. Every cpu kernel is registered for `native` too, so an op without a native
 * kernel (or a dtype/shape the native one does not take) runs the portable JS kernel.
 */
import * as tf from '@tensorflow/tfjs-core';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { totalmem } from 'node:os';
import { loadNative, type NativeLib } from './lib.ts';

export const NATIVE = 'native';

type Info = tf.TensorInfo;
type KernelArgs = { inputs: Record<string, Info>; backend: MathBackendCPU; attrs?: tf.NamedAttrMap };
type KernelFn = (args: KernelArgs) => Info | Info[];

/** The values array of a tensor on the native backend. */
export function valuesOf(backend: MathBackendCPU, t: Info): tf.backend_util.BackendValues {
  return backend.data.get(t.dataId).values as tf.backend_util.BackendValues;
}

/* ---------------------------------------------------------------------------------------- */
/* Buffer pool                                                                               */
/* ---------------------------------------------------------------------------------------- */

/**
 * Reuses the output arrays of native kernels once their tensor is disposed, by exact length.
 * Without it, dead arrays wait for V8's garbage collector (a 0.5B forward left 2.5 GB of them)
 * and every fresh array pays its page faults again. An array is only recycled when nothing else
 * can still see it: one that was read out (dataSync/data: the caller may keep it) or that a view
 * was taken of (the cpu kernels' zero-copy Slice) is pinned and left to the GC.
 */
class BufferPool {
  private readonly owned = new WeakMap<ArrayBuffer, Float32Array | Int32Array>();
  private readonly pinned = new WeakSet<ArrayBuffer>();
  private readonly free = new Map<string, (Float32Array | Int32Array)[]>();
  private freeBytes = 0;
  constructor(private readonly maxFreeBytes: number) {}

  alloc(dtype: string, n: number): Float32Array | Int32Array {
    const key = `${dtype === 'int32' ? 'i' : 'f'}${n}`;
    const hit = this.free.get(key)?.pop();
    if (hit) {
      this.freeBytes -= hit.byteLength;
      return hit;
    }
    const a = dtype === 'int32' ? new Int32Array(n) : new Float32Array(n);
    if (n >= 1024) this.owned.set(a.buffer as ArrayBuffer, a);
    return a;
  }

  /** A zero-filled array (recycled ones hold old values). */
  zeros(dtype: string, n: number): Float32Array | Int32Array {
    const a = this.alloc(dtype, n);
    a.fill(0);
    return a;
  }

  /** The values of a tensor are leaving the backend's control (read out, or viewed). */
  pin(values: unknown): void {
    if (ArrayBuffer.isView(values)) this.pinned.add(values.buffer as ArrayBuffer);
  }

  isPinned(values: ArrayBufferView): boolean {
    return this.pinned.has(values.buffer as ArrayBuffer);
  }

  /** Values stored for a new tensor: a view into a pooled array pins that array. */
  noteStored(values: unknown): void {
    if (!ArrayBuffer.isView(values)) return;
    const own = this.owned.get(values.buffer as ArrayBuffer);
    if (own && own !== values) this.pinned.add(values.buffer as ArrayBuffer);
  }

  release(values: unknown): void {
    if (!ArrayBuffer.isView(values)) return;
    const buf = values.buffer as ArrayBuffer;
    if (this.owned.get(buf) !== values || this.pinned.has(buf)) return;
    if (this.freeBytes + values.byteLength > this.maxFreeBytes) return;
    const a = values as Float32Array | Int32Array;
    const key = `${a instanceof Int32Array ? 'i' : 'f'}${a.length}`;
    const list = this.free.get(key) ?? [];
    list.push(a);
    this.free.set(key, list);
    this.freeBytes += a.byteLength;
  }

  /** Drops every free array (the GC takes them). */
  clear(): void {
    this.free.clear();
    this.freeBytes = 0;
  }
}

/** The native backend's pool: free arrays up to 1/8 of RAM. */
export const pool = new BufferPool(Math.floor(totalmem() / 8));

/** tfjs-backend-cpu's storage with pooled, pin-safe buffers (see BufferPool). */
export class NativeBackend extends MathBackendCPU {
  override write(values: tf.backend_util.BackendValues, shape: number[], dtype: tf.DataType): tf.DataId {
    pool.noteStored(values);
    return super.write(values, shape, dtype);
  }
  override move(dataId: tf.DataId, values: tf.backend_util.BackendValues, shape: number[], dtype: tf.DataType, refCount: number): void {
    pool.noteStored(values);
    super.move(dataId, values, shape, dtype, refCount);
  }
  override readSync(dataId: tf.DataId): tf.backend_util.BackendValues {
    const v = super.readSync(dataId);
    pool.pin(v);
    return v;
  }
  override async read(dataId: tf.DataId): Promise<tf.backend_util.BackendValues> {
    return this.readSync(dataId);
  }
  override disposeData(dataId: tf.DataId, force = false): boolean {
    const values = this.data.has(dataId) ? this.data.get(dataId).values : undefined;
    const done = super.disposeData(dataId, force);
    if (done && values !== undefined && !this.data.has(dataId)) pool.release(values);
    return done;
  }
}

const i64 = (xs: number[]) => BigInt64Array.from(xs, (x) => BigInt(x));
const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

function isF32(backend: MathBackendCPU, ...ts: Info[]): boolean {
  return ts.every((t) => t.dtype === 'float32' && valuesOf(backend, t) instanceof Float32Array);
}
/** float32 or int32 data, both 4-byte (the layout kernels copy bits). */
function is4Byte(backend: MathBackendCPU, t: Info): boolean {
  const v = valuesOf(backend, t);
  return (t.dtype === 'float32' && v instanceof Float32Array) || (t.dtype === 'int32' && v instanceof Int32Array);
}
function alloc(dtype: string, n: number): Float32Array | Int32Array {
  return pool.alloc(dtype, n);
}
const allocF32 = (n: number) => pool.alloc('float32', n) as Float32Array;

/* ---------------------------------------------------------------------------------------- */
/* Broadcasting helpers                                                                      */
/* ---------------------------------------------------------------------------------------- */

/** Element strides of `shape` seen from an output of rank `rank` (0 on broadcast axes). */
function broadcastStrides(shape: number[], out: number[]): number[] {
  const rank = out.length;
  const s = new Array<number>(rank).fill(0);
  let stride = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const d = rank - shape.length + i;
    s[d] = shape[i] === 1 && out[d] !== 1 ? 0 : stride;
    stride *= shape[i];
  }
  return s;
}

/** Merges adjacent axes where both inputs stay regular; drops size-1 axes. */
function collapse(shape: number[], sa: number[], sb: number[]): [number[], number[], number[]] {
  const S: number[] = [];
  const A: number[] = [];
  const B: number[] = [];
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1) continue;
    const k = S.length - 1;
    if (k >= 0 && A[k] === sa[d] * shape[d] && B[k] === sb[d] * shape[d]) {
      S[k] *= shape[d];
      A[k] = sa[d];
      B[k] = sb[d];
    } else {
      S.push(shape[d]);
      A.push(sa[d]);
      B.push(sb[d]);
    }
  }
  if (S.length === 0) return [[1], [0], [0]];
  return [S, A, B];
}

/* ---------------------------------------------------------------------------------------- */
/* Kernels                                                                                   */
/* ---------------------------------------------------------------------------------------- */

const BINARY: Record<string, number> = { Add: 0, Sub: 1, Multiply: 2, RealDiv: 3, Maximum: 4, Minimum: 5, SquaredDifference: 6 };
const UNARY: Record<string, number> = { Exp: 0, Neg: 1, Sigmoid: 2, Sqrt: 3, Rsqrt: 4, Square: 5, Log: 6, Tanh: 7, Abs: 8, Reciprocal: 9, Relu: 10 };
const REDUCE: Record<string, number> = { Sum: 0, Max: 1, Mean: 2, Min: 3 };

function binaryKernel(lib: NativeLib, op: number, fallback: KernelFn): KernelFn {
  return (args) => {
    const { a, b } = args.inputs;
    const be = args.backend;
    if (!isF32(be, a, b)) return fallback(args);
    const out = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    const n = size(out);
    const y = allocF32(n);
    if (n > 0) {
      const [S, A, B] = collapse(out, broadcastStrides(a.shape, out), broadcastStrides(b.shape, out));
      if (S.length > 16) return fallback(args);
      lib.binary(op, valuesOf(be, a) as Float32Array, valuesOf(be, b) as Float32Array, y, S.length, i64(S), i64(A), i64(B));
    }
    return be.makeTensorInfo(out, 'float32', y);
  };
}

function unaryKernel(lib: NativeLib, op: number, fallback: KernelFn): KernelFn {
  return (args) => {
    const { x } = args.inputs;
    const be = args.backend;
    if (!isF32(be, x)) return fallback(args);
    const y = allocF32(size(x.shape));
    lib.unary(op, valuesOf(be, x) as Float32Array, y, y.length);
    return be.makeTensorInfo(x.shape, 'float32', y);
  };
}

function reduceKernel(lib: NativeLib, name: string, op: number, fallback: KernelFn): KernelFn {
  return (args) => {
    const { x } = args.inputs;
    const be = args.backend;
    const attrs = args.attrs ?? {};
    const axisAttr = (name === 'Max' ? attrs.reductionIndices : attrs.axis) as number | number[];
    const keepDims = Boolean(attrs.keepDims);
    if (!isF32(be, x) || size(x.shape) === 0) return fallback(args);
    const rank = x.shape.length;
    const axes = [...new Set(tf.util.parseAxisParam(axisAttr, x.shape))].sort((p, q) => p - q);
    const outShape = keepDims ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !axes.includes(i));
    const reduced = axes.reduce((s, i) => s * x.shape[i], 1);
    const kept = size(x.shape) / reduced;
    const y = allocF32(kept);
    const xv = valuesOf(be, x) as Float32Array;
    const inner = axes.every((a, i) => a === rank - axes.length + i);
    const outer = axes.every((a, i) => a === i);
    if (axes.length === 0) y.set(xv);
    else if (inner) lib.reduceInner(op, xv, y, kept, reduced);
    else if (outer) lib.reduceOuter(op, xv, y, reduced, kept);
    else {
      // move the reduced axes last, then reduce the inner block
      const perm = [...[...Array(rank).keys()].filter((i) => !axes.includes(i)), ...axes];
      const t = allocF32(xv.length);
      lib.transpose(xv, t, rank, i64(x.shape), Int32Array.from(perm));
      lib.reduceInner(op, t, y, kept, reduced);
    }
    return be.makeTensorInfo(outShape, 'float32', y);
  };
}

function batchMatMul(lib: NativeLib, fallback: KernelFn): KernelFn {
  return (args) => {
    const { a, b } = args.inputs;
    const be = args.backend;
    if (!isF32(be, a, b) || a.shape.length < 2 || b.shape.length < 2) return fallback(args);
    const ta = Boolean(args.attrs?.transposeA);
    const tb = Boolean(args.attrs?.transposeB);
    const ra = a.shape.length;
    const rb = b.shape.length;
    const M = ta ? a.shape[ra - 1] : a.shape[ra - 2];
    const K = ta ? a.shape[ra - 2] : a.shape[ra - 1];
    const K2 = tb ? b.shape[rb - 1] : b.shape[rb - 2];
    const N = tb ? b.shape[rb - 2] : b.shape[rb - 1];
    if (K !== K2) throw new Error(`BatchMatMul: inner dimensions ${K} and ${K2} of shapes [${a.shape}] and [${b.shape}] differ`);
    const batchA = a.shape.slice(0, -2);
    const batchB = b.shape.slice(0, -2);
    const batch = tf.backend_util.assertAndGetBroadcastShape(batchA, batchB);
    const nb = size(batch);
    const outShape = [...batch, M, N];
    const c = (K === 0 ? pool.zeros('float32', nb * M * N) : allocF32(nb * M * N)) as Float32Array;
    if (c.length === 0 || K === 0) return be.makeTensorInfo(outShape, 'float32', c);
    // element offset of each batch entry's matrix in a and b (broadcast axes repeat it)
    const sa = broadcastStrides(batchA, batch);
    const sb = broadcastStrides(batchB, batch);
    const aoff = new BigInt64Array(nb);
    const boff = new BigInt64Array(nb);
    const idx = new Array<number>(batch.length).fill(0);
    for (let i = 0; i < nb; i++) {
      let oa = 0;
      let ob = 0;
      for (let d = 0; d < batch.length; d++) {
        oa += idx[d] * sa[d];
        ob += idx[d] * sb[d];
      }
      aoff[i] = BigInt(oa * M * K);
      boff[i] = BigInt(ob * K * N);
      for (let d = batch.length - 1; d >= 0; d--) {
        if (++idx[d] < batch[d]) break;
        idx[d] = 0;
      }
    }
    lib.bmm(valuesOf(be, a) as Float32Array, valuesOf(be, b) as Float32Array, c, nb, aoff, boff, M, N, K, ta ? 1 : 0, tb ? 1 : 0);
    return be.makeTensorInfo(outShape, 'float32', c);
  };
}

function softmaxKernel(lib: NativeLib, fallback: KernelFn): KernelFn {
  return (args) => {
    const { logits } = args.inputs;
    const be = args.backend;
    const dim = args.attrs?.dim as number;
    const rank = logits.shape.length;
    if (!isF32(be, logits) || (dim !== -1 && dim !== rank - 1) || size(logits.shape) === 0) return fallback(args);
    const n = logits.shape[rank - 1];
    const y = allocF32(size(logits.shape));
    lib.softmax(valuesOf(be, logits) as Float32Array, y, y.length / n, n);
    return be.makeTensorInfo(logits.shape, 'float32', y);
  };
}

function transposeKernel(lib: NativeLib, fallback: KernelFn): KernelFn {
  return (args) => {
    const { x } = args.inputs;
    const be = args.backend;
    const perm = args.attrs?.perm as number[];
    if (!is4Byte(be, x) || x.shape.length > 16 || size(x.shape) === 0) return fallback(args);
    const outShape = perm.map((p) => x.shape[p]);
    const y = alloc(x.dtype, size(x.shape));
    lib.transpose(valuesOf(be, x) as Float32Array, y, x.shape.length, i64(x.shape), Int32Array.from(perm));
    return be.makeTensorInfo(outShape, x.dtype, y);
  };
}

function sliceValues(lib: NativeLib, be: MathBackendCPU, x: Info, begin: number[], sz: number[]): Float32Array | Int32Array {
  const y = alloc(x.dtype, size(sz));
  if (y.length > 0) lib.slice(valuesOf(be, x) as Float32Array, y, x.shape.length, i64(x.shape), i64(begin), i64(sz));
  return y;
}

function sliceKernel(lib: NativeLib, fallback: KernelFn): KernelFn {
  return (args) => {
    const { x } = args.inputs;
    const be = args.backend;
    const [begin, sz] = tf.slice_util.parseSliceParams(x as tf.Tensor, args.attrs?.begin as number[], args.attrs?.size as number[]);
    // A contiguous slice is a zero-copy view in the cpu kernel already.
    if (!is4Byte(be, x) || x.shape.length === 0 || tf.slice_util.isSliceContinous(x.shape, begin, sz)) return fallback(args);
    tf.slice_util.assertParamsValid(x as tf.Tensor, begin, sz);
    return be.makeTensorInfo(sz, x.dtype, sliceValues(lib, be, x, begin, sz));
  };
}

function splitKernel(lib: NativeLib, fallback: KernelFn): KernelFn {
  return (args) => {
    const { x } = args.inputs;
    const be = args.backend;
    if (!is4Byte(be, x)) return fallback(args);
    const axis = tf.util.parseAxisParam(args.attrs?.axis as number, x.shape)[0];
    const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, args.attrs?.numOrSizeSplits as number[], axis);
    const begin = new Array<number>(x.shape.length).fill(0);
    return sizes.map((s) => {
      const sz = x.shape.slice();
      sz[axis] = s;
      const out = be.makeTensorInfo(sz, x.dtype, sliceValues(lib, be, x, begin, sz));
      begin[axis] += s;
      return out;
    });
  };
}

function concatKernel(lib: NativeLib, fallback: KernelFn): KernelFn {
  return (args) => {
    const be = args.backend;
    const xs = Object.values(args.inputs) as Info[];
    if (xs.length === 0 || !xs.every((t) => is4Byte(be, t) && t.dtype === xs[0].dtype)) return fallback(args);
    const axis = tf.util.parseAxisParam(args.attrs?.axis as number, xs[0].shape)[0];
    const outShape = tf.backend_util.computeOutShape(xs.map((t) => t.shape), axis);
    const outer = size(outShape.slice(0, axis));
    const total = size(outShape.slice(axis));
    const y = alloc(xs[0].dtype, size(outShape));
    let col = 0;
    for (const t of xs) {
      const inner = size(t.shape.slice(axis));
      if (inner > 0 && outer > 0) lib.concatPart(valuesOf(be, t) as Float32Array, y, outer, inner, total, col);
      col += inner;
    }
    return be.makeTensorInfo(outShape, xs[0].dtype, y);
  };
}

function addNKernel(lib: NativeLib, fallback: KernelFn): KernelFn {
  return (args) => {
    const be = args.backend;
    const xs = Object.values(args.inputs) as Info[];
    if (xs.length === 0 || !isF32(be, ...xs)) return fallback(args);
    const n = size(xs[0].shape);
    const y = allocF32(n);
    y.set(valuesOf(be, xs[0]) as Float32Array);
    const one = i64([n]);
    const unit = i64([1]);
    for (const t of xs.slice(1)) lib.binary(0, y, valuesOf(be, t) as Float32Array, y, 1, one, unit, unit);
    return be.makeTensorInfo(xs[0].shape, 'float32', y);
  };
}

function gatherKernel(lib: NativeLib, fallback: KernelFn): KernelFn {
  return (args) => {
    const { x, indices } = args.inputs;
    const be = args.backend;
    const axis = args.attrs?.axis as number;
    const batchDims = (args.attrs?.batchDims as number) ?? 0;
    const ids = valuesOf(be, indices);
    if (!is4Byte(be, x) || !(ids instanceof Int32Array) || indices.dtype !== 'int32' || axis !== 0 || batchDims !== 0 || x.shape.length < 1) return fallback(args);
    const rows = x.shape[0];
    for (let i = 0; i < ids.length; i++) {
      if (ids[i] < 0 || ids[i] >= rows) throw new Error(`GatherV2: index ${ids[i]} is out of range [0, ${rows})`);
    }
    const w = size(x.shape.slice(1));
    const y = alloc(x.dtype, ids.length * w);
    if (y.length > 0) lib.gatherRows(valuesOf(be, x) as Float32Array, ids, y, ids.length, w);
    return be.makeTensorInfo([...indices.shape, ...x.shape.slice(1)], x.dtype, y);
  };
}

function scatterKernel(lib: NativeLib, fallback: KernelFn): KernelFn {
  return (args) => {
    const { indices, updates } = args.inputs;
    const be = args.backend;
    const shape = args.attrs?.shape as number[];
    const ids = valuesOf(be, indices);
    const ok = isF32(be, updates) && ids instanceof Int32Array && indices.shape.length === 2 && indices.shape[1] === 1;
    if (!ok) return fallback(args);
    const n = indices.shape[0];
    const w = size(shape.slice(1));
    if (size(updates.shape) !== n * w) return fallback(args);
    for (let i = 0; i < n; i++) if (ids[i] < 0 || ids[i] >= shape[0]) throw new Error(`ScatterNd: index ${ids[i]} is out of range [0, ${shape[0]})`);
    const y = pool.zeros('float32', size(shape)) as Float32Array;
    if (n > 0) lib.scatterAddRows(valuesOf(be, updates) as Float32Array, ids as Int32Array, y, n, w);
    return be.makeTensorInfo(shape, 'float32', y);
  };
}

/* ---------------------------------------------------------------------------------------- */
/* Registration                                                                              */
/* ---------------------------------------------------------------------------------------- */

let registered = false;

/** Registers the `native` backend (throws NativeUnavailable when the library cannot load). */
export function registerNativeBackend(): NativeLib {
  const lib = loadNative();
  if (registered) return lib;
  tf.registerBackend(NATIVE, () => new NativeBackend(), 1);
  const cpuKernels = new Map<string, KernelFn>();
  for (const k of tf.getKernelsForBackend('cpu')) {
    cpuKernels.set(k.kernelName, k.kernelFunc as unknown as KernelFn);
  }
  const native = new Map<string, KernelFn>();
  for (const [name, op] of Object.entries(BINARY)) native.set(name, binaryKernel(lib, op, cpuKernels.get(name)!));
  for (const [name, op] of Object.entries(UNARY)) native.set(name, unaryKernel(lib, op, cpuKernels.get(name)!));
  for (const [name, op] of Object.entries(REDUCE)) native.set(name, reduceKernel(lib, name, op, cpuKernels.get(name)!));
  native.set('BatchMatMul', batchMatMul(lib, cpuKernels.get('BatchMatMul')!));
  native.set('Softmax', softmaxKernel(lib, cpuKernels.get('Softmax')!));
  native.set('Transpose', transposeKernel(lib, cpuKernels.get('Transpose')!));
  native.set('Slice', sliceKernel(lib, cpuKernels.get('Slice')!));
  native.set('SplitV', splitKernel(lib, cpuKernels.get('SplitV')!));
  native.set('Concat', concatKernel(lib, cpuKernels.get('Concat')!));
  native.set('AddN', addNKernel(lib, cpuKernels.get('AddN')!));
  native.set('GatherV2', gatherKernel(lib, cpuKernels.get('GatherV2')!));
  native.set('ScatterNd', scatterKernel(lib, cpuKernels.get('ScatterNd')!));
  for (const [name, fn] of cpuKernels) {
    tf.registerKernel({ kernelName: name, backendName: NATIVE, kernelFunc: (native.get(name) ?? fn) as unknown as tf.KernelFunc });
  }
  registered = true;
  return lib;
}
