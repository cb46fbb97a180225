/* Vector kernels. This one file is compiled once per ISA with that ISA's
 * flags and -DRC_ISA_<NAME>; the loops are written so the compiler can
 * vectorise them, and transcendental math goes through SLEEF's vector
 * functions for that ISA. Tails run through the same vector code on a padded
 * copy, so every element gets bit-identical math wherever it sits. */
#include <string.h>

#include <sleef.h>

#include "kernels.h"

#if defined(RC_ISA_AVX512)
#include <immintrin.h>
#define ISA_NAME "avx512"
#define TABLE rc__kernels_avx512
#if RC_REAL_IS_DOUBLE
#define VW 8
typedef __m512d vec;
#define LOAD _mm512_loadu_pd
#define STORE _mm512_storeu_pd
#define SET1 _mm512_set1_pd
#define VADD _mm512_add_pd
#define VSUB _mm512_sub_pd
#define VDIV _mm512_div_pd
#define VTANH Sleef_tanhd8_u10avx512f
#define VEXP Sleef_expd8_u10avx512f
#define VLOG Sleef_logd8_u10avx512f
#else
#define VW 16
typedef __m512 vec;
#define LOAD _mm512_loadu_ps
#define STORE _mm512_storeu_ps
#define SET1 _mm512_set1_ps
#define VADD _mm512_add_ps
#define VSUB _mm512_sub_ps
#define VDIV _mm512_div_ps
#define VTANH Sleef_tanhf16_u10avx512f
#define VEXP Sleef_expf16_u10avx512f
#define VLOG Sleef_logf16_u10avx512f
#endif

#elif defined(RC_ISA_AVX2)
#include <immintrin.h>
#define ISA_NAME "avx2"
#define TABLE rc__kernels_avx2
#if RC_REAL_IS_DOUBLE
#define VW 4
typedef __m256d vec;
#define LOAD _mm256_loadu_pd
#define STORE _mm256_storeu_pd
#define SET1 _mm256_set1_pd
#define VADD _mm256_add_pd
#define VSUB _mm256_sub_pd
#define VDIV _mm256_div_pd
#define VTANH Sleef_tanhd4_u10avx2
#define VEXP Sleef_expd4_u10avx2
#define VLOG Sleef_logd4_u10avx2
#else
#define VW 8
typedef __m256 vec;
#define LOAD _mm256_loadu_ps
#define STORE _mm256_storeu_ps
#define SET1 _mm256_set1_ps
#define VADD _mm256_add_ps
#define VSUB _mm256_sub_ps
#define VDIV _mm256_div_ps
#define VTANH Sleef_tanhf8_u10avx2
#define VEXP Sleef_expf8_u10avx2
#define VLOG Sleef_logf8_u10avx2
#endif

#else /* generic: SLEEF's scalar functions, one lane */
#define ISA_NAME "generic"
#define TABLE rc__kernels_generic
#define VW 1
typedef rc_real vec;
#define LOAD(p) (*(p))
#define STORE(p, v) (*(p) = (v))
#define SET1(x) ((rc_real)(x))
#define VADD(a, b) ((a) + (b))
#define VSUB(a, b) ((a) - (b))
#define VDIV(a, b) ((a) / (b))
#if RC_REAL_IS_DOUBLE
#define VTANH Sleef_tanh_u10
#define VEXP Sleef_exp_u10
#define VLOG Sleef_log_u10
#else
#define VTANH Sleef_tanhf_u10
#define VEXP Sleef_expf_u10
#define VLOG Sleef_logf_u10
#endif
#endif

/* sigmoid(x) = 1 / (1 + exp(-x)): exact limits 0 and 1, no cancellation. */
static inline vec vsigmoid(vec x)
{
    vec one = SET1(1.0);
    return VDIV(one, VADD(one, VEXP(VSUB(SET1(0.0), x))));
}

#define DEFINE_MAP(name, VF)                                        \
    static void name(rc_real *y, const rc_real *x, size_t n)        \
    {                                                               \
        size_t i = 0;                                               \
        for (; i + VW <= n; i += VW)                                \
            STORE(y + i, VF(LOAD(x + i)));                          \
        if (i < n) {                                                \
            rc_real pad[VW] = {0};                                  \
            memcpy(pad, x + i, (n - i) * sizeof(rc_real));          \
            STORE(pad, VF(LOAD(pad)));                              \
            memcpy(y + i, pad, (n - i) * sizeof(rc_real));          \
        }                                                           \
    }

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
    }
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

const rc_kernels TABLE = {ISA_NAME, map_tanh, map_sigmoid, map_exp, map_log, run, gemm};
