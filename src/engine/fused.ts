/**
 * Fused model blocks for the `native` backend, each one C kernel forward and one backward
 * instead of 5-10 tfjs ops (and their saved intermediates). Each returns null on any other
 * backend (or for a shape it does not take), and the caller then uses the composite tfjs ops,
 * so model code stays backend-neutral and every backend computes the same function.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { NATIVE, pool } from './native/backend.ts';
import { loadNative, type NativeLib } from './native/lib.ts';

/** The native library when the native backend is the active one. */
function active(): { lib: NativeLib; be: MathBackendCPU } | null {
  if (tf.getBackend() !== NATIVE) return null;
  return { lib: loadNative(), be: tf.backend() as unknown as MathBackendCPU };
}

function f32(be: MathBackendCPU, t: tf.Tensor): Float32Array | null {
  const v = be.data.get(t.dataId).values;
  return t.dtype === 'float32' && v instanceof Float32Array ? v : null;
}

/** An output array from the native backend's pool (every fused kernel writes all of it). */
const buf = (n: number) => pool.alloc('float32', n) as Float32Array;

type Grad = (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor[];
type Fn = (...args: (tf.Tensor | tf.GradSaveFunc)[]) => { value: tf.Tensor; gradFunc: Grad };
const custom = (f: Fn) => tf.customGrad(f as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (...xs: tf.Tensor[]) => tf.Tensor;

/** RMSNorm over the last axis: x * rsqrt(mean(x^2) + eps) * w. */
export function fusedRmsNorm(x: tf.Tensor, w: tf.Tensor, eps: number): tf.Tensor | null {
  const n = active();
  if (!n || !f32(n.be, x) || !f32(n.be, w) || x.shape[x.rank - 1] !== w.size) return null;
  const { lib, be } = n;
  const op = custom((xi, wi, save) => {
    const xt = xi as tf.Tensor;
    const wt = wi as tf.Tensor;
    const H = wt.size;
    const rows = xt.size / H;
    const y = buf(xt.size);
    const rstd = buf(rows);
    lib.rmsnorm(f32(be, xt)!, f32(be, wt)!, y, rstd, rows, H, eps);
    const rs = tf.tensor1d(rstd);
    (save as tf.GradSaveFunc)([xt, wt, rs]);
    return {
      value: tf.tensor(y, xt.shape, 'float32'),
      gradFunc: (dy, saved) => {
        const [sx, sw, srs] = saved;
        const dyv = f32(be, dy) ?? Float32Array.from(dy.dataSync());
        const dx = buf(sx.size);
        const dw = buf(H);
        lib.rmsnormGradX(f32(be, sx)!, f32(be, sw)!, f32(be, srs)!, dyv, dx, rows, H);
        lib.rmsnormGradW(f32(be, sx)!, f32(be, srs)!, dyv, dw, rows, H);
        return [tf.tensor(dx, sx.shape, 'float32'), tf.tensor(dw, sw.shape, 'float32')];
      },
    };
  });
  return op(x, w);
}

/** Rotate-half RoPE on x [B, heads, T, d] with cos/sin [B, 1, T, d]. */
export function fusedRope(x: tf.Tensor, cos: tf.Tensor, sin: tf.Tensor): tf.Tensor | null {
  const n = active();
  if (!n || x.rank !== 4 || cos.rank !== 4 || !f32(n.be, x) || !f32(n.be, cos) || !f32(n.be, sin)) return null;
  const [B, H, T, d] = x.shape;
  if (cos.shape[0] !== B || cos.shape[1] !== 1 || cos.shape[2] !== T || cos.shape[3] !== d || d % 2 !== 0) return null;
  const { lib, be } = n;
  const op = custom((xi, save) => {
    const xt = xi as tf.Tensor;
    const y = buf(xt.size);
    lib.rope(f32(be, xt)!, f32(be, cos)!, f32(be, sin)!, y, B, H, T, d, 0);
    // cos/sin are constants (no gradient), saved so they outlive the forward's tidy
    (save as tf.GradSaveFunc)([cos, sin]);
    return {
      value: tf.tensor(y, xt.shape, 'float32'),
      gradFunc: (dy, [sc, ss]) => {
        const dx = buf(dy.size);
        lib.rope(f32(be, dy) ?? Float32Array.from(dy.dataSync()), f32(be, sc)!, f32(be, ss)!, dx, B, H, T, d, 1);
        return [tf.tensor(dx, dy.shape, 'float32')];
      },
    };
  });
  return op(x);
}

/** silu(g) * u, elementwise (g and u of one shape). */
export function fusedSwiglu(g: tf.Tensor, u: tf.Tensor): tf.Tensor | null {
  const n = active();
  if (!n || !f32(n.be, g) || !f32(n.be, u) || g.size !== u.size) return null;
  const { lib, be } = n;
  const op = custom((gi, ui, save) => {
    const gt = gi as tf.Tensor;
    const ut = ui as tf.Tensor;
    const y = buf(gt.size);
    lib.swiglu(f32(be, gt)!, f32(be, ut)!, y, y.length);
    (save as tf.GradSaveFunc)([gt, ut]);
    return {
      value: tf.tensor(y, gt.shape, 'float32'),
      gradFunc: (dy, saved) => {
        const [sg, su] = saved;
        const dyv = f32(be, dy) ?? Float32Array.from(dy.dataSync());
        const dg = buf(sg.size);
        const du = buf(sg.size);
        lib.swigluGrad(f32(be, sg)!, f32(be, su)!, dyv, dg, dg.length, 0);
        lib.swigluGrad(f32(be, sg)!, f32(be, su)!, dyv, du, du.length, 1);
        return [tf.tensor(dg, sg.shape, 'float32'), tf.tensor(du, su.shape, 'float32')];
      },
    };
  });
  return op(g, u);
}

/**
 * lp[n] = log softmax(logits[n])[targets[n]] for logits [N, V], targets [N] int32; a negative
 * target gives 0 and no gradient. One pass over the vocabulary forward, one backward.
 */
export function fusedPickLogprobs(logits: tf.Tensor2D, targets: tf.Tensor1D): tf.Tensor1D | null {
  const n = active();
  if (!n || !f32(n.be, logits)) return null;
  const { lib, be } = n;
  const i32 = (t: tf.Tensor) => be.data.get(t.dataId).values as Int32Array;
  if (!(i32(targets) instanceof Int32Array) || targets.dtype !== 'int32') return null;
  const [N, V] = logits.shape;
  const tv = i32(targets);
  for (let i = 0; i < N; i++) if (tv[i] >= V) throw new Error(`target id ${tv[i]} is outside the vocabulary (size ${V})`);
  const op = custom((li, save) => {
    const lt = li as tf.Tensor;
    const lp = buf(N);
    const lse = buf(N);
    lib.logsoftmaxPick(f32(be, lt)!, tv, lp, lse, N, V);
    const lseT = tf.tensor1d(lse);
    (save as tf.GradSaveFunc)([lt, lseT, targets]);
    return {
      value: tf.tensor1d(lp),
      gradFunc: (dy, saved) => {
        const [sl, sLse, st] = saved;
        const dx = buf(N * V);
        lib.logsoftmaxPickGrad(f32(be, sl)!, i32(st), f32(be, sLse)!, f32(be, dy) ?? Float32Array.from(dy.dataSync()), dx, N, V);
        return [tf.tensor2d(dx, [N, V])];
      },
    };
  });
  return op(logits) as tf.Tensor1D;
}

/**
 * AdamW on one parameter in place (torch.optim.AdamW), when the native backend holds p, m, v
 * and g as plain float32 arrays that no other tensor shares. Returns false otherwise (the
 * caller then runs the tfjs version).
 */
export function fusedAdamW(p: tf.Variable, m: tf.Variable, v: tf.Variable, g: tf.Tensor, h: { lr: number; wd: number; b1: number; b2: number; eps: number; bc1: number; sqrtBc2: number }): boolean {
  const n = active();
  if (!n) return false;
  const { lib, be } = n;
  const arrays = [p, m, v].map((t) => f32(be, t));
  const gv = f32(be, g);
  if (arrays.some((a) => a === null) || !gv) return false;
  if ([p, m, v].some((t) => be.refCount(t.dataId) !== 1)) return false;
  const [pv, mv, vv] = arrays as Float32Array[];
  if ([pv, mv, vv].some((a) => pool.isPinned(a))) {
    // someone holds these arrays (a checkpoint read them out): update copies, then swap them in
    const [pc, mc, vc] = [pv.slice(), mv.slice(), vv.slice()];
    lib.adamw(pc, mc, vc, gv, pc.length, h.lr, h.wd, h.b1, h.b2, h.eps, h.bc1, h.sqrtBc2);
    tf.tidy(() => {
      p.assign(tf.tensor(pc, p.shape, 'float32'));
      m.assign(tf.tensor(mc, m.shape, 'float32'));
      v.assign(tf.tensor(vc, v.shape, 'float32'));
    });
    return true;
  }
  lib.adamw(pv, mv, vv, gv, pv.length, h.lr, h.wd, h.b1, h.b2, h.eps, h.bc1, h.sqrtBc2);
  return true;
}

/** Sum of squares of a float32 tensor in double precision, or null off the native backend. */
export function fusedSumSquares(t: tf.Tensor): number | null {
  const n = active();
  if (!n) return null;
  const v = f32(n.be, t);
  return v ? n.lib.sumsq(v, v.length) : null;
}
