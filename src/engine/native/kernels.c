/*
 * ko-align native CPU kernels, loaded with koffi by src/engine/native/lib.ts and built by
 * src/engine/native/build.ts with the system C compiler (cc -O3). float32 throughout; every
 * pointer is a TypedArray view passed zero-copy. GEMM goes to a system BLAS opened at run time
 * (dlopen), so this file builds without BLAS headers; the rest is single-threaded, vectorised
 * by the compiler, and memory-bound.
 */
#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* ---------------------------------------------------------------------------------------- */
/* BLAS                                                                                      */
/* ---------------------------------------------------------------------------------------- */

enum { CblasRowMajor = 101, CblasNoTrans = 111, CblasTrans = 112 };
typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *, int, float, float *, int);
typedef void (*set_threads_fn)(int);
static sgemm_fn sgemm = 0;
static set_threads_fn set_threads = 0;

/* Opens the BLAS at `path`; returns 0 on success, 1 if it cannot be opened, 2 if it lacks cblas_sgemm. */
int ko_blas_open(const char *path) {
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!h) return 1;
  sgemm = (sgemm_fn)dlsym(h, "cblas_sgemm");
  if (!sgemm) return 2;
  set_threads = (set_threads_fn)dlsym(h, "openblas_set_num_threads");
  if (!set_threads) set_threads = (set_threads_fn)dlsym(h, "bli_thread_set_num_threads");
  return 0;
}

void ko_blas_threads(int n) {
  if (set_threads) set_threads(n > 0 ? n : 1);
}

/*
 * Batched C[i] = op(A[i]) @ op(B[i]) for i < nb, C [M, N] contiguous per batch entry; aoff/boff
 * are the element offsets of each entry's A and B (broadcast batch dims repeat an offset).
 */
void ko_bmm(const float *a, const float *b, float *c, int nb, const int64_t *aoff, const int64_t *boff,
            int M, int N, int K, int ta, int tb) {
  int lda = ta ? M : K, ldb = tb ? K : N;
  for (int i = 0; i < nb; i++)
    sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, 1.0f,
          a + aoff[i], lda, b + boff[i], ldb, 0.0f, c + (int64_t)i * M * N, N);
}

/* ---------------------------------------------------------------------------------------- */
/* Elementwise                                                                               */
/* ---------------------------------------------------------------------------------------- */

enum { OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MAX, OP_MIN, OP_SQDIFF };

#define BIN_LOOP(EXPR)                                                                    \
  if (sa == 1 && sb == 1)                                                                 \
    for (int64_t j = 0; j < n; j++) { float x = pa[j], y = pb[j]; po[j] = (EXPR); }       \
  else if (sa == 1 && sb == 0) {                                                          \
    float y = pb[0];                                                                      \
    for (int64_t j = 0; j < n; j++) { float x = pa[j]; po[j] = (EXPR); }                  \
  } else if (sa == 0 && sb == 1) {                                                        \
    float x = pa[0];                                                                      \
    for (int64_t j = 0; j < n; j++) { float y = pb[j]; po[j] = (EXPR); }                  \
  } else                                                                                  \
    for (int64_t j = 0; j < n; j++) { float x = pa[j * sa], y = pb[j * sb]; po[j] = (EXPR); }

static void bin_row(int op, const float *pa, const float *pb, float *po, int64_t n, int64_t sa, int64_t sb) {
  switch (op) {
    case OP_ADD: BIN_LOOP(x + y) break;
    case OP_SUB: BIN_LOOP(x - y) break;
    case OP_MUL: BIN_LOOP(x * y) break;
    case OP_DIV: BIN_LOOP(x / y) break;
    case OP_MAX: BIN_LOOP(x > y || isnan(x) ? x : y) break;
    case OP_MIN: BIN_LOOP(x < y || isnan(x) ? x : y) break;
    case OP_SQDIFF: BIN_LOOP((x - y) * (x - y)) break;
  }
}

/*
 * out = a op b with broadcasting. shape [rank] is the output shape; astr/bstr are element strides
 * of a and b per output axis (0 on a broadcast axis). The caller has merged axes where it could.
 */
void ko_binary(int op, const float *a, const float *b, float *out, int rank, const int64_t *shape,
               const int64_t *astr, const int64_t *bstr) {
  int64_t n = shape[rank - 1], sa = astr[rank - 1], sb = bstr[rank - 1];
  int64_t outer = 1;
  for (int d = 0; d < rank - 1; d++) outer *= shape[d];
  int64_t idx[16] = {0};
  int64_t oa = 0, ob = 0;
  for (int64_t r = 0; r < outer; r++) {
    bin_row(op, a + oa, b + ob, out + r * n, n, sa, sb);
    for (int d = rank - 2; d >= 0; d--) {
      idx[d]++;
      oa += astr[d];
      ob += bstr[d];
      if (idx[d] < shape[d]) break;
      oa -= astr[d] * shape[d];
      ob -= bstr[d] * shape[d];
      idx[d] = 0;
    }
  }
}

enum { U_EXP, U_NEG, U_SIGMOID, U_SQRT, U_RSQRT, U_SQUARE, U_LOG, U_TANH, U_ABS, U_RECIP, U_RELU, U_SILU };

void ko_unary(int op, const float *x, float *y, int64_t n) {
  switch (op) {
    case U_EXP: for (int64_t i = 0; i < n; i++) y[i] = expf(x[i]); break;
    case U_NEG: for (int64_t i = 0; i < n; i++) y[i] = -x[i]; break;
    case U_SIGMOID: for (int64_t i = 0; i < n; i++) y[i] = 1.0f / (1.0f + expf(-x[i])); break;
    case U_SQRT: for (int64_t i = 0; i < n; i++) y[i] = sqrtf(x[i]); break;
    case U_RSQRT: for (int64_t i = 0; i < n; i++) y[i] = 1.0f / sqrtf(x[i]); break;
    case U_SQUARE: for (int64_t i = 0; i < n; i++) y[i] = x[i] * x[i]; break;
    case U_LOG: for (int64_t i = 0; i < n; i++) y[i] = logf(x[i]); break;
    case U_TANH: for (int64_t i = 0; i < n; i++) y[i] = tanhf(x[i]); break;
    case U_ABS: for (int64_t i = 0; i < n; i++) y[i] = fabsf(x[i]); break;
    case U_RECIP: for (int64_t i = 0; i < n; i++) y[i] = 1.0f / x[i]; break;
    case U_RELU: for (int64_t i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : (isnan(x[i]) ? x[i] : 0.0f); break;
    case U_SILU: for (int64_t i = 0; i < n; i++) y[i] = x[i] / (1.0f + expf(-x[i])); break;
  }
}

/* ---------------------------------------------------------------------------------------- */
/* Reductions, softmax                                                                       */
/* ---------------------------------------------------------------------------------------- */

enum { R_SUM, R_MAX, R_MEAN, R_MIN };

/* Reduces the inner axis: x [outer, inner] -> y [outer]. Sums in double. */
void ko_reduce_inner(int op, const float *x, float *y, int64_t outer, int64_t inner) {
  for (int64_t r = 0; r < outer; r++) {
    const float *p = x + r * inner;
    if (op == R_SUM || op == R_MEAN) {
      double s = 0;
      for (int64_t j = 0; j < inner; j++) s += p[j];
      y[r] = (float)(op == R_MEAN ? s / (double)inner : s);
    } else {
      float m = p[0];
      if (op == R_MAX) { for (int64_t j = 1; j < inner; j++) if (p[j] > m || isnan(p[j])) m = p[j]; }
      else { for (int64_t j = 1; j < inner; j++) if (p[j] < m || isnan(p[j])) m = p[j]; }
      y[r] = m;
    }
  }
}

/* Reduces the outer axis: x [outer, inner] -> y [inner] (bias gradients, broadcast gradients). */
void ko_reduce_outer(int op, const float *x, float *y, int64_t outer, int64_t inner) {
  memcpy(y, x, sizeof(float) * inner);
  for (int64_t r = 1; r < outer; r++) {
    const float *p = x + r * inner;
    if (op == R_SUM || op == R_MEAN) for (int64_t j = 0; j < inner; j++) y[j] += p[j];
    else if (op == R_MAX) for (int64_t j = 0; j < inner; j++) y[j] = p[j] > y[j] ? p[j] : y[j];
    else for (int64_t j = 0; j < inner; j++) y[j] = p[j] < y[j] ? p[j] : y[j];
  }
  if (op == R_MEAN) for (int64_t j = 0; j < inner; j++) y[j] /= (float)outer;
}

/*
 * exp(d) for d <= 0 with exact 0 below -88: glibc's expf takes a slow path on huge negative
 * arguments, and masked attention scores (-1e9) are half of every causal row (3x faster here).
 */
static inline float exp_neg(float d) { return d < -88.0f ? 0.0f : expf(d); }

void ko_softmax(const float *x, float *y, int64_t rows, int64_t n) {
  for (int64_t r = 0; r < rows; r++) {
    const float *p = x + r * n;
    float *q = y + r * n;
    float m = -INFINITY;
    for (int64_t j = 0; j < n; j++) m = p[j] > m ? p[j] : m;
    for (int64_t j = 0; j < n; j++) q[j] = exp_neg(p[j] - m);
    /* eight partial sums: vectorised, and as accurate as one double sum for row lengths here */
    float acc[8] = {0};
    int64_t j = 0;
    for (; j + 8 <= n; j += 8)
      for (int k = 0; k < 8; k++) acc[k] += q[j + k];
    float s = 0;
    for (int k = 0; k < 8; k++) s += acc[k];
    for (; j < n; j++) s += q[j];
    float inv = 1.0f / s;
    for (int64_t i = 0; i < n; i++) q[i] *= inv;
  }
}

/*
 * Fused log-softmax + pick: lp[r] = x[r, t[r]] - logsumexp(x[r]), lse[r] kept for the gradient.
 * A negative target gives lp 0.
 */
void ko_logsoftmax_pick(const float *x, const int32_t *t, float *lp, float *lse, int64_t rows, int64_t n) {
  for (int64_t r = 0; r < rows; r++) {
    const float *p = x + r * n;
    float m = -INFINITY;
    for (int64_t j = 0; j < n; j++) m = p[j] > m ? p[j] : m;
    double s = 0;
    for (int64_t j = 0; j < n; j++) s += exp_neg(p[j] - m);
    float l = m + (float)log(s);
    lse[r] = l;
    lp[r] = t[r] >= 0 ? p[t[r]] - l : 0.0f;
  }
}

/* Its gradient: dx[r, j] = dy[r] * (1[j == t[r]] - softmax(x[r])[j]); rows with t < 0 get 0. */
void ko_logsoftmax_pick_grad(const float *x, const int32_t *t, const float *lse, const float *dy, float *dx, int64_t rows, int64_t n) {
  for (int64_t r = 0; r < rows; r++) {
    const float *p = x + r * n;
    float *q = dx + r * n;
    if (t[r] < 0) { memset(q, 0, sizeof(float) * n); continue; }
    float g = dy[r], l = lse[r];
    for (int64_t j = 0; j < n; j++) q[j] = -g * exp_neg(p[j] - l);
    q[t[r]] += g;
  }
}

/* ---------------------------------------------------------------------------------------- */
/* Layout: transpose, slice, concat, gather                                                   */
/* ---------------------------------------------------------------------------------------- */

/* y = x permuted: y's axis d is x's axis perm[d]; shape is x's shape; 4-byte elements. */
void ko_transpose(const uint32_t *x, uint32_t *y, int rank, const int64_t *shape, const int32_t *perm) {
  int64_t xstr[16], ostr[16], oshape[16], idx[16] = {0};
  xstr[rank - 1] = 1;
  for (int d = rank - 2; d >= 0; d--) xstr[d] = xstr[d + 1] * shape[d + 1];
  for (int d = 0; d < rank; d++) { oshape[d] = shape[perm[d]]; ostr[d] = xstr[perm[d]]; }
  int64_t n = oshape[rank - 1], s = ostr[rank - 1], outer = 1;
  for (int d = 0; d < rank - 1; d++) outer *= oshape[d];
  int swap_last2 = rank >= 2 && perm[rank - 1] == rank - 2 && perm[rank - 2] == rank - 1;
  for (int d = 0; d < rank - 2; d++) swap_last2 &= perm[d] == d;
  if (swap_last2) {
    /* batched 2-D transpose, tiled */
    int64_t R = shape[rank - 2], C = shape[rank - 1], nb = 1;
    for (int d = 0; d < rank - 2; d++) nb *= shape[d];
    for (int64_t b = 0; b < nb; b++) {
      const uint32_t *xb = x + b * R * C;
      uint32_t *yb = y + b * R * C;
      for (int64_t i0 = 0; i0 < R; i0 += 32)
        for (int64_t j0 = 0; j0 < C; j0 += 32) {
          int64_t i1 = i0 + 32 < R ? i0 + 32 : R, j1 = j0 + 32 < C ? j0 + 32 : C;
          for (int64_t i = i0; i < i1; i++)
            for (int64_t j = j0; j < j1; j++) yb[j * R + i] = xb[i * C + j];
        }
    }
    return;
  }
  int64_t off = 0;
  for (int64_t r = 0; r < outer; r++) {
    uint32_t *po = y + r * n;
    const uint32_t *pi = x + off;
    if (s == 1) memcpy(po, pi, 4 * n);
    else for (int64_t j = 0; j < n; j++) po[j] = pi[j * s];
    for (int d = rank - 2; d >= 0; d--) {
      idx[d]++;
      off += ostr[d];
      if (idx[d] < oshape[d]) break;
      off -= ostr[d] * oshape[d];
      idx[d] = 0;
    }
  }
}

/* y = x[begin : begin + size] per axis; 4-byte elements. */
void ko_slice(const uint32_t *x, uint32_t *y, int rank, const int64_t *shape, const int64_t *begin, const int64_t *size) {
  int64_t xstr[16], idx[16] = {0};
  xstr[rank - 1] = 1;
  for (int d = rank - 2; d >= 0; d--) xstr[d] = xstr[d + 1] * shape[d + 1];
  int64_t off = 0, outer = 1, n = size[rank - 1];
  for (int d = 0; d < rank; d++) off += begin[d] * xstr[d];
  for (int d = 0; d < rank - 1; d++) outer *= size[d];
  for (int64_t r = 0; r < outer; r++) {
    memcpy(y + r * n, x + off, 4 * n);
    for (int d = rank - 2; d >= 0; d--) {
      idx[d]++;
      off += xstr[d];
      if (idx[d] < size[d]) break;
      off -= xstr[d] * size[d];
      idx[d] = 0;
    }
  }
}

/* Copies one concat input [outer, inner] into y [outer, total] at column offset col. */
void ko_concat_part(const uint32_t *x, uint32_t *y, int64_t outer, int64_t inner, int64_t total, int64_t col) {
  for (int64_t r = 0; r < outer; r++) memcpy(y + r * total + col, x + r * inner, 4 * inner);
}

/* y[i] = table[ids[i]] rows of width w. */
void ko_gather_rows(const uint32_t *table, const int32_t *ids, uint32_t *y, int64_t n, int64_t w) {
  for (int64_t i = 0; i < n; i++) memcpy(y + i * w, table + (int64_t)ids[i] * w, 4 * w);
}

/* y[ids[i]] += x[i] rows of width w (y zeroed by the caller): the embedding gradient. */
void ko_scatter_add_rows(const float *x, const int32_t *ids, float *y, int64_t n, int64_t w) {
  for (int64_t i = 0; i < n; i++) {
    float *q = y + (int64_t)ids[i] * w;
    const float *p = x + i * w;
    for (int64_t j = 0; j < w; j++) q[j] += p[j];
  }
}

/* ---------------------------------------------------------------------------------------- */
/* Fused model blocks                                                                        */
/* ---------------------------------------------------------------------------------------- */

/* RMSNorm: y = x * rstd * w, rstd = 1 / sqrt(mean(x^2) + eps) per row (saved for backward). */
void ko_rmsnorm(const float *x, const float *w, float *y, float *rstd, int64_t rows, int64_t n, float eps) {
  for (int64_t r = 0; r < rows; r++) {
    const float *p = x + r * n;
    float *q = y + r * n;
    double s = 0;
    for (int64_t j = 0; j < n; j++) s += (double)p[j] * p[j];
    float rs = (float)(1.0 / sqrt(s / (double)n + eps));
    rstd[r] = rs;
    for (int64_t j = 0; j < n; j++) q[j] = p[j] * rs * w[j];
  }
}

/* dx = rstd * (dy*w - xhat * mean(dy*w*xhat)), xhat = x * rstd. */
void ko_rmsnorm_grad_x(const float *x, const float *w, const float *rstd, const float *dy, float *dx, int64_t rows, int64_t n) {
  for (int64_t r = 0; r < rows; r++) {
    const float *p = x + r * n, *g = dy + r * n;
    float *q = dx + r * n;
    float rs = rstd[r];
    double s = 0;
    for (int64_t j = 0; j < n; j++) s += (double)g[j] * w[j] * p[j];
    float c = (float)(s / (double)n) * rs * rs;
    for (int64_t j = 0; j < n; j++) q[j] = rs * (g[j] * w[j] - p[j] * c);
  }
}

/* dw = sum over rows of dy * xhat. */
void ko_rmsnorm_grad_w(const float *x, const float *rstd, const float *dy, float *dw, int64_t rows, int64_t n) {
  memset(dw, 0, sizeof(float) * n);
  for (int64_t r = 0; r < rows; r++) {
    const float *p = x + r * n, *g = dy + r * n;
    float rs = rstd[r];
    for (int64_t j = 0; j < n; j++) dw[j] += g[j] * p[j] * rs;
  }
}

/*
 * RoPE (rotate-half) on x [B, H, T, d] with cos/sin [B, T, d]: y = x*cos + rot(x)*sin,
 * rot(x) = cat(-x2, x1). inverse != 0 applies the transpose (the backward pass).
 */
void ko_rope(const float *x, const float *cs, const float *sn, float *y, int64_t B, int64_t H, int64_t T, int64_t d, int inverse) {
  int64_t h = d / 2;
  for (int64_t b = 0; b < B; b++)
    for (int64_t a = 0; a < H; a++)
      for (int64_t t = 0; t < T; t++) {
        const float *p = x + ((b * H + a) * T + t) * d;
        float *q = y + ((b * H + a) * T + t) * d;
        const float *c = cs + (b * T + t) * d, *s = sn + (b * T + t) * d;
        if (!inverse) {
          for (int64_t j = 0; j < h; j++) q[j] = p[j] * c[j] - p[j + h] * s[j];
          for (int64_t j = h; j < d; j++) q[j] = p[j] * c[j] + p[j - h] * s[j];
        } else {
          for (int64_t j = 0; j < h; j++) q[j] = p[j] * c[j] + p[j + h] * s[j + h];
          for (int64_t j = h; j < d; j++) q[j] = p[j] * c[j] - p[j - h] * s[j - h];
        }
      }
}

/* SwiGLU: y = silu(g) * u. */
void ko_swiglu(const float *g, const float *u, float *y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

/* which 0: dg = dy * u * sig(g) * (1 + g * (1 - sig(g))); which 1: du = dy * silu(g). */
void ko_swiglu_grad(const float *g, const float *u, const float *dy, float *out, int64_t n, int which) {
  if (which == 0)
    for (int64_t i = 0; i < n; i++) {
      float s = 1.0f / (1.0f + expf(-g[i]));
      out[i] = dy[i] * u[i] * s * (1.0f + g[i] * (1.0f - s));
    }
  else
    for (int64_t i = 0; i < n; i++) out[i] = dy[i] * g[i] / (1.0f + expf(-g[i]));
}

/*
 * AdamW in place (torch.optim.AdamW semantics): p *= 1 - lr*wd; m = b1 m + (1-b1) g;
 * v = b2 v + (1-b2) g^2; p -= lr/bc1 * m / (sqrt(v)/sqrt_bc2 + eps).
 */
void ko_adamw(float *p, float *m, float *v, const float *g, int64_t n, float lr, float wd, float b1, float b2, float eps, float bc1, float sqrt_bc2) {
  float decay = 1.0f - lr * wd, step = lr / bc1;
  for (int64_t i = 0; i < n; i++) {
    float gi = g[i];
    float mi = b1 * m[i] + (1.0f - b1) * gi;
    float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = p[i] * decay - step * (mi / (sqrtf(vi) / sqrt_bc2 + eps));
  }
}

/* Sum of squares in double (gradient norms). */
double ko_sumsq(const float *x, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; i++) s += (double)x[i] * x[i];
  return s;
}
