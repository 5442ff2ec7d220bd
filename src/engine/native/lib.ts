/**
 * The native kernel library (kernels.c) and the system BLAS, bound with koffi. Arrays are passed
 * as TypedArray views, zero-copy. `loadNative()` throws NativeUnavailable with one line saying
 * what to install when the compiler, the library or a BLAS is missing.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { createRequire } from 'node:module';
import { buildNative, NativeBuildError } from './build.ts';

export class NativeUnavailable extends Error {}

/** What to install for the native backend, per platform (one line). */
export function installHint(): string {
  if (process.platform === 'darwin') return 'install Xcode command line tools (cc) and `brew install openblas` (or set KO_ALIGN_BLAS to a BLAS with cblas_sgemm)';
  return 'install a C compiler and OpenBLAS: apt-get install gcc libopenblas0-pthread (or set KO_ALIGN_BLAS to a BLAS library with cblas_sgemm)';
}

/** Candidate BLAS libraries, in order; KO_ALIGN_BLAS first when set. */
export function blasCandidates(): string[] {
  // An explicitly named BLAS is the only one tried (a typo should fail, not fall through).
  if (process.env.KO_ALIGN_BLAS) return [process.env.KO_ALIGN_BLAS];
  const env: string[] = [];
  if (process.platform === 'darwin') {
    return [...env, '/opt/homebrew/opt/openblas/lib/libopenblas.dylib', '/usr/local/opt/openblas/lib/libopenblas.dylib', '/System/Library/Frameworks/Accelerate.framework/Accelerate'];
  }
  const dirs = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/usr/local/lib'];
  const names = ['openblas-pthread/libopenblas.so.0', 'libopenblas.so.0', 'libopenblas.so', 'libopenblasp.so.0', 'libblis.so.4', 'libmkl_rt.so.2', 'libmkl_rt.so'];
  return [...env, ...dirs.flatMap((d) => names.map((n) => `${d}/${n}`))];
}

type F32 = Float32Array;
type I64 = BigInt64Array;

export interface NativeLib {
  blasPath: string;
  threads: number;
  bmm(a: F32, b: F32, c: F32, nb: number, aoff: I64, boff: I64, M: number, N: number, K: number, ta: number, tb: number): void;
  binary(op: number, a: F32, b: F32, out: F32, rank: number, shape: I64, astr: I64, bstr: I64): void;
  unary(op: number, x: F32, y: F32, n: number): void;
  reduceInner(op: number, x: F32, y: F32, outer: number, inner: number): void;
  reduceOuter(op: number, x: F32, y: F32, outer: number, inner: number): void;
  softmax(x: F32, y: F32, rows: number, n: number): void;
  logsoftmaxPick(x: F32, t: Int32Array, lp: F32, lse: F32, rows: number, n: number): void;
  logsoftmaxPickGrad(x: F32, t: Int32Array, lse: F32, dy: F32, dx: F32, rows: number, n: number): void;
  transpose(x: ArrayBufferView, y: ArrayBufferView, rank: number, shape: I64, perm: Int32Array): void;
  slice(x: ArrayBufferView, y: ArrayBufferView, rank: number, shape: I64, begin: I64, size: I64): void;
  concatPart(x: ArrayBufferView, y: ArrayBufferView, outer: number, inner: number, total: number, col: number): void;
  gatherRows(table: ArrayBufferView, ids: Int32Array, y: ArrayBufferView, n: number, w: number): void;
  scatterAddRows(x: F32, ids: Int32Array, y: F32, n: number, w: number): void;
  rmsnorm(x: F32, w: F32, y: F32, rstd: F32, rows: number, n: number, eps: number): void;
  rmsnormGradX(x: F32, w: F32, rstd: F32, dy: F32, dx: F32, rows: number, n: number): void;
  rmsnormGradW(x: F32, rstd: F32, dy: F32, dw: F32, rows: number, n: number): void;
  rope(x: F32, cos: F32, sin: F32, y: F32, B: number, H: number, T: number, d: number, inverse: number): void;
  swiglu(g: F32, u: F32, y: F32, n: number): void;
  swigluGrad(g: F32, u: F32, dy: F32, out: F32, n: number, which: number): void;
  adamw(p: F32, m: F32, v: F32, g: F32, n: number, lr: number, wd: number, b1: number, b2: number, eps: number, bc1: number, sqrtBc2: number): void;
  sumsq(x: F32, n: number): number;
}

let loaded: NativeLib | undefined;
let failure: string | undefined;

/** Threads for BLAS: KO_ALIGN_THREADS, else one per core. */
function blasThreads(): number {
  const n = Number(process.env.KO_ALIGN_THREADS);
  return Number.isInteger(n) && n > 0 ? n : availableParallelism();
}

/** Loads (building if needed) the kernels and a BLAS. Cached; throws NativeUnavailable. */
export function loadNative(): NativeLib {
  if (loaded) return loaded;
  if (failure) throw new NativeUnavailable(failure);
  try {
    loaded = open();
    return loaded;
  } catch (e) {
    failure = (e as Error).message;
    throw e instanceof NativeUnavailable ? e : new NativeUnavailable(failure);
  }
}

function open(): NativeLib {
  let koffi: typeof import('koffi');
  try {
    koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
  } catch (e) {
    throw new NativeUnavailable(`the koffi package failed to load (${(e as Error).message.split('\n')[0]})`);
  }
  let path: string;
  try {
    path = buildNative();
  } catch (e) {
    if (e instanceof NativeBuildError) throw new NativeUnavailable(`${e.message}; ${installHint()}`);
    throw e;
  }
  // OpenBLAS threads busy-wait after each call; on a 2-core machine they then steal the core the
  // next (single-threaded) kernel runs on. Make them sleep quickly (read when BLAS loads).
  process.env.OPENBLAS_THREAD_TIMEOUT ??= '4';
  const lib = koffi.load(path);
  const blasOpen = lib.func('int ko_blas_open(const char *path)');
  const candidates = blasCandidates();
  const blasPath = candidates.find((p) => (p.startsWith('/System/') || existsSync(p)) && blasOpen(p) === 0);
  if (!blasPath) {
    const named = process.env.KO_ALIGN_BLAS ? ` (KO_ALIGN_BLAS=${process.env.KO_ALIGN_BLAS} could not be opened or lacks cblas_sgemm)` : '';
    throw new NativeUnavailable(`no BLAS library with cblas_sgemm found${named}; ${installHint()}`);
  }
  const threads = blasThreads();
  lib.func('void ko_blas_threads(int n)')(threads);
  const f = (sig: string) => lib.func(sig) as (...args: unknown[]) => unknown;
  return {
    blasPath,
    threads,
    bmm: f('void ko_bmm(float *a, float *b, float *c, int nb, int64_t *aoff, int64_t *boff, int M, int N, int K, int ta, int tb)') as NativeLib['bmm'],
    binary: f('void ko_binary(int op, float *a, float *b, float *out, int rank, int64_t *shape, int64_t *astr, int64_t *bstr)') as NativeLib['binary'],
    unary: f('void ko_unary(int op, float *x, float *y, int64_t n)') as NativeLib['unary'],
    reduceInner: f('void ko_reduce_inner(int op, float *x, float *y, int64_t outer, int64_t inner)') as NativeLib['reduceInner'],
    reduceOuter: f('void ko_reduce_outer(int op, float *x, float *y, int64_t outer, int64_t inner)') as NativeLib['reduceOuter'],
    softmax: f('void ko_softmax(float *x, float *y, int64_t rows, int64_t n)') as NativeLib['softmax'],
    logsoftmaxPick: f('void ko_logsoftmax_pick(float *x, int32_t *t, float *lp, float *lse, int64_t rows, int64_t n)') as NativeLib['logsoftmaxPick'],
    logsoftmaxPickGrad: f('void ko_logsoftmax_pick_grad(float *x, int32_t *t, float *lse, float *dy, float *dx, int64_t rows, int64_t n)') as NativeLib['logsoftmaxPickGrad'],
    transpose: f('void ko_transpose(void *x, void *y, int rank, int64_t *shape, int32_t *perm)') as NativeLib['transpose'],
    slice: f('void ko_slice(void *x, void *y, int rank, int64_t *shape, int64_t *begin, int64_t *size)') as NativeLib['slice'],
    concatPart: f('void ko_concat_part(void *x, void *y, int64_t outer, int64_t inner, int64_t total, int64_t col)') as NativeLib['concatPart'],
    gatherRows: f('void ko_gather_rows(void *table, int32_t *ids, void *y, int64_t n, int64_t w)') as NativeLib['gatherRows'],
    scatterAddRows: f('void ko_scatter_add_rows(float *x, int32_t *ids, float *y, int64_t n, int64_t w)') as NativeLib['scatterAddRows'],
    rmsnorm: f('void ko_rmsnorm(float *x, float *w, float *y, float *rstd, int64_t rows, int64_t n, float eps)') as NativeLib['rmsnorm'],
    rmsnormGradX: f('void ko_rmsnorm_grad_x(float *x, float *w, float *rstd, float *dy, float *dx, int64_t rows, int64_t n)') as NativeLib['rmsnormGradX'],
    rmsnormGradW: f('void ko_rmsnorm_grad_w(float *x, float *rstd, float *dy, float *dw, int64_t rows, int64_t n)') as NativeLib['rmsnormGradW'],
    rope: f('void ko_rope(float *x, float *cs, float *sn, float *y, int64_t B, int64_t H, int64_t T, int64_t d, int inverse)') as NativeLib['rope'],
    swiglu: f('void ko_swiglu(float *g, float *u, float *y, int64_t n)') as NativeLib['swiglu'],
    swigluGrad: f('void ko_swiglu_grad(float *g, float *u, float *dy, float *out, int64_t n, int which)') as NativeLib['swigluGrad'],
    adamw: f('void ko_adamw(float *p, float *m, float *v, float *g, int64_t n, float lr, float wd, float b1, float b2, float eps, float bc1, float sqrt_bc2)') as NativeLib['adamw'],
    sumsq: f('double ko_sumsq(float *x, int64_t n)') as NativeLib['sumsq'],
  };
}
