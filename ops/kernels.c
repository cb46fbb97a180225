/* Vector kernels. This one file is compiled once per ISA with that ISA's
 * flags and -DRC_ISA_<NAME>; the loops are written so the compiler can
 * vectorise them, and transcendental math goes through that ISA's vector
 * functions (ops/isa.h: recur's float tanh and exp, else SLEEF's). Tails
 * run through the same vector code on a padded copy, so every element gets
 * bit-identical math wherever it sits. */
#include <string.h>

#include "isa.h"

DEFINE_MAP(map_tanh, VTANH)
DEFINE_MAP(map_sigmoid, vsigmoid)
DEFINE_MAP(map_exp, VEXP)
DEFINE_MAP(map_log, VLOG)

static void run(rc_run_op op, rc_real *restrict y, const rc_real *restrict a,
                const rc_real *restrict b, size_t n)
{
    switch (op) {
    case RC_RUN_ADD:
        for (size_t k = 0; k < n; k++)
            y[k] = a[k] + b[k];
        break;
    case RC_RUN_SUB:
        for (size_t k = 0; k < n; k++)
            y[k] = a[k] - b[k];
        break;
    case RC_RUN_MUL:
        for (size_t k = 0; k < n; k++)
            y[k] = a[k] * b[k];
        break;
    case RC_RUN_ACC:
        for (size_t k = 0; k < n; k++)
            y[k] += a[k];
        break;
    case RC_RUN_NACC:
        for (size_t k = 0; k < n; k++)
            y[k] -= a[k];
        break;
    case RC_RUN_FMA:
        for (size_t k = 0; k < n; k++)
            y[k] += a[k] * b[k];
        break;
    case RC_RUN_TANH_BWD:
        for (size_t k = 0; k < n; k++)
            y[k] += a[k] * (1 - b[k] * b[k]);
        break;
    case RC_RUN_SIGMOID_BWD:
        for (size_t k = 0; k < n; k++)
            y[k] += a[k] * (b[k] * (1 - b[k]));
        break;
    }
}

#if defined(RC_ISA_AVX512) && !RC_REAL_IS_DOUBLE
/* The same in masked AVX-512: the tail in the lanes of one masked load and
 * store, the max, min and sum folded across lanes by shuffles (the sum in
 * double). A row of a few vectors, as W1's 65 classes, spent most of its
 * time in the scalar tail and the 16-step scalar folds. */
static double exp_shift(rc_real *y, const rc_real *x, size_t n, rc_real *max_out,
                        rc_real *min_out)
{
    const size_t full = n / VW * VW;
    const __mmask16 tail = (__mmask16)((1u << (n - full)) - 1);
    __m512 mx = _mm512_set1_ps(x[0]), mn = mx;
    for (size_t i = 0; i < full; i += VW) {
        const __m512 v = _mm512_loadu_ps(x + i);
        mx = _mm512_max_ps(v, mx); /* v > mx ? v : mx, as the scalar rule */
        mn = _mm512_min_ps(v, mn);
    }
    if (tail) { /* lanes past n keep mx and mn */
        mx = _mm512_max_ps(_mm512_mask_loadu_ps(mx, tail, x + full), mx);
        mn = _mm512_min_ps(_mm512_mask_loadu_ps(mn, tail, x + full), mn);
    }
    const float m = _mm512_reduce_max_ps(mx);
    if (min_out)
        *min_out = _mm512_reduce_min_ps(mn);
    const __m512 shift = _mm512_set1_ps(m);
    __m512 acc = _mm512_setzero_ps();
    for (size_t i = 0; i < full; i += VW) {
        const __m512 e = VEXP(_mm512_sub_ps(_mm512_loadu_ps(x + i), shift));
        _mm512_storeu_ps(y + i, e);
        acc = _mm512_add_ps(acc, e);
    }
    if (tail) {
        const __m512 e = VEXP(_mm512_sub_ps(_mm512_maskz_loadu_ps(tail, x + full), shift));
        _mm512_mask_storeu_ps(y + full, tail, e);
        acc = _mm512_mask_add_ps(acc, tail, acc, e);
    }
    const __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(acc)),
                  hi = _mm512_cvtps_pd(_mm512_extractf32x8_ps(acc, 1));
    *max_out = m;
    return _mm512_reduce_add_pd(_mm512_add_pd(lo, hi));
}
#else
/* Lane-wise partial max and min (x > m ? x : m is the vector max
 * instruction's own rule, so the loop vectorises without reassociating),
 * then exp and the sum in one vector pass; a tail runs the same code on a
 * padded copy. */
static double exp_shift(rc_real *y, const rc_real *x, size_t n, rc_real *max_out,
                        rc_real *min_out)
{
    rc_real m[16], lo[16];
    for (int l = 0; l < 16; l++)
        m[l] = lo[l] = x[0];
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int l = 0; l < 16; l++) {
            m[l] = x[i + l] > m[l] ? x[i + l] : m[l];
            lo[l] = x[i + l] < lo[l] ? x[i + l] : lo[l];
        }
    rc_real mx = x[0], mn = x[0];
    for (; i < n; i++) {
        mx = x[i] > mx ? x[i] : mx;
        mn = x[i] < mn ? x[i] : mn;
    }
    for (int l = 0; l < 16; l++) {
        mx = m[l] > mx ? m[l] : mx;
        mn = lo[l] < mn ? lo[l] : mn;
    }
    if (min_out)
        *min_out = mn;
    const vec shift = SET1(mx);
    vec acc = SET1(0.0);
    for (i = 0; i + VW <= n; i += VW) {
        const vec e = VEXP(VSUB(LOAD(x + i), shift));
        STORE(y + i, e);
        acc = VADD(acc, e);
    }
    rc_real lanes[VW], pad[VW] = {0};
    STORE(lanes, acc);
    double sum = 0;
    if (i < n) {
        memcpy(pad, x + i, (n - i) * sizeof *x);
        STORE(pad, VEXP(VSUB(LOAD(pad), shift)));
        memcpy(y + i, pad, (n - i) * sizeof *y);
        for (size_t k = 0; k < n - i; k++)
            sum += pad[k];
    }
    for (int l = 0; l < VW; l++)
        sum += lanes[l];
    *max_out = mx;
    return sum;
}
#endif

static void axpby(rc_real *y, rc_real a, const rc_real *x, rc_real b, size_t n)
{
    if (b == 0)
        for (size_t k = 0; k < n; k++)
            y[k] = a * x[k];
    else
        for (size_t k = 0; k < n; k++)
            y[k] = a * x[k] + y[k];
}

/* ---- portable GEMM ----------------------------------------------------------
 * Used when recur is built without BLAS. Four rows of C at a time so each
 * loaded row of B feeds four accumulating rows; the j loops vectorise. */

static void scale_c(int M, int N, rc_real beta, rc_real *C, int ldc)
{
    for (int i = 0; i < M; i++) {
        rc_real *c = C + (size_t)i * ldc;
        if (beta == 0)
            memset(c, 0, (size_t)N * sizeof *c);
        else if (beta != 1)
            for (int j = 0; j < N; j++)
                c[j] *= beta;
    }
}

/* C += alpha op(A) B, with op(A)[i,k] at A[i*sa_i + k*sa_k]. */
static void gemm_xn(int M, int N, int K, rc_real alpha, const rc_real *A, size_t sa_i,
                    size_t sa_k, const rc_real *B, int ldb, rc_real *C, int ldc)
{
    int i = 0;
    for (; i + 4 <= M; i += 4) {
        rc_real *c0 = C + (size_t)i * ldc, *c1 = c0 + ldc, *c2 = c1 + ldc, *c3 = c2 + ldc;
        for (int k = 0; k < K; k++) {
            const rc_real *a = A + i * sa_i + k * sa_k;
            const rc_real a0 = alpha * a[0], a1 = alpha * a[sa_i],
                          a2 = alpha * a[2 * sa_i], a3 = alpha * a[3 * sa_i];
            const rc_real *b = B + (size_t)k * ldb;
            for (int j = 0; j < N; j++) {
                c0[j] += a0 * b[j];
                c1[j] += a1 * b[j];
                c2[j] += a2 * b[j];
                c3[j] += a3 * b[j];
            }
        }
    }
    for (; i < M; i++) {
        rc_real *c = C + (size_t)i * ldc;
        for (int k = 0; k < K; k++) {
            const rc_real a = alpha * A[i * sa_i + k * sa_k];
            const rc_real *b = B + (size_t)k * ldb;
            for (int j = 0; j < N; j++)
                c[j] += a * b[j];
        }
    }
}

/* Dot product with lane-wise partial sums: vectorises without -ffast-math. */
static rc_real dot(const rc_real *a, const rc_real *b, int K)
{
    rc_real acc[16] = {0};
    int k = 0;
    for (; k + 16 <= K; k += 16)
        for (int l = 0; l < 16; l++)
            acc[l] += a[k + l] * b[k + l];
    rc_real s = 0;
    for (; k < K; k++)
        s += a[k] * b[k];
    for (int l = 0; l < 16; l++)
        s += acc[l];
    return s;
}

static void gemm(bool ta, bool tb, int M, int N, int K, rc_real alpha, const rc_real *A,
                 int lda, const rc_real *B, int ldb, rc_real beta, rc_real *C, int ldc)
{
    scale_c(M, N, beta, C, ldc);
    if (!tb) {
        if (ta)
            gemm_xn(M, N, K, alpha, A, 1, (size_t)lda, B, ldb, C, ldc);
        else
            gemm_xn(M, N, K, alpha, A, (size_t)lda, 1, B, ldb, C, ldc);
    } else if (!ta) { /* rows of A against rows of B */
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++)
                C[(size_t)i * ldc + j] +=
                    alpha * dot(A + (size_t)i * lda, B + (size_t)j * ldb, K);
    } else { /* both transposed: rare; C[i,j] += A[k,i] B[j,k] */
        for (int j = 0; j < N; j++)
            for (int k = 0; k < K; k++) {
                const rc_real b = alpha * B[(size_t)j * ldb + k];
                const rc_real *a = A + (size_t)k * lda;
                for (int i = 0; i < M; i++)
                    C[(size_t)i * ldc + j] += a[i] * b;
            }
    }
}

void ISA_FN(gemm_tiled)(bool ta, bool tb, int M, int N, int K, const rc_real *A, int lda,
                        const rc_real *B, int ldb, rc_real beta, const rc_real *bias,
                        rc_real *C, int ldc);
void ISA_FN(transpose)(int rows, int cols, const rc_real *src, size_t lds, rc_real *dst,
                       size_t ldd);
void ISA_FN(pack_b)(bool tb, int K, int N, const rc_real *B, int ldb, rc_real *dst);
void ISA_FN(gemm_packed)(int M, int N, int K, const rc_real *A, int lda, const rc_real *Bp,
                         rc_real beta, const rc_real *bias, rc_real *C, int ldc);
void ISA_FN(lstm_fwd)(int B, int H, const rc_real *gi, const rc_real *gh, const rc_real *bi,
                      const rc_real *bh, const rc_real *c, rc_real *h_out, rc_real *c_out,
                      rc_real *act);
void ISA_FN(lstm_bwd)(int B, int H, const rc_real *act, const rc_real *c, const rc_real *c_out,
                      const rc_real *dh, const rc_real *dc_out, rc_real *dz, rc_real *dc);
void ISA_FN(gru_fwd)(int B, int H, const rc_real *gi, const rc_real *gh, const rc_real *bi,
                     const rc_real *bh, const rc_real *h, rc_real *h_out, rc_real *act);
void ISA_FN(gru_bwd)(int B, int H, const rc_real *act, const rc_real *h, const rc_real *dh_out,
                     rc_real *dgi, rc_real *dgh, rc_real *dh);
void ISA_FN(additive_fwd)(int S, int A, const rc_real *keys, const rc_real *q, const rc_real *v,
                          rc_real *scores);
void ISA_FN(additive_bwd)(int S, int A, const rc_real *keys, const rc_real *q, const rc_real *v,
                          const rc_real *dscores, rc_real *dkeys, rc_real *dq, rc_real *dv);

const rc_kernels TABLE = {ISA_NAME, map_tanh, map_sigmoid, map_exp, map_log, run,
                          exp_shift, axpby, gemm,
                          ISA_FN(gemm_tiled), GEMM_NR, ISA_FN(pack_b), ISA_FN(gemm_packed),
                          ISA_FN(transpose), ISA_FN(lstm_fwd), ISA_FN(lstm_bwd),
                          ISA_FN(gru_fwd), ISA_FN(gru_bwd), ISA_FN(additive_fwd),
                          ISA_FN(additive_bwd)};
