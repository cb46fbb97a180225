/* One entry for every matrix product: BLAS when recur was built with one,
 * the in-tree vector kernel otherwise. */
#include "kernels.h"

#if RC_HAVE_BLAS
#include <stdatomic.h>
#include <stdlib.h>

#include <cblas.h>

/* OpenBLAS starts one busy-waiting thread per core. On a small shared
 * machine that loses badly when anything else runs, and the products of a
 * recurrent step are too small to split, so recur asks for one thread unless
 * the user chose (OPENBLAS_NUM_THREADS / OMP_NUM_THREADS). */
static void blas_threads_once(void)
{
    static atomic_int done;
    if (atomic_load_explicit(&done, memory_order_acquire))
        return;
    const char *a = getenv("OPENBLAS_NUM_THREADS"), *b = getenv("OMP_NUM_THREADS");
    if ((!a || !*a) && (!b || !*b))
        openblas_set_num_threads(1);
    atomic_store_explicit(&done, 1, memory_order_release);
}
#endif

#if RC_HAVE_BLAS
#if RC_REAL_IS_DOUBLE
#define GEMM cblas_dgemm
#define GEMV cblas_dgemv
#else
#define GEMM cblas_sgemm
#define GEMV cblas_sgemv
#endif
#define TR(t) ((t) ? CblasTrans : CblasNoTrans)

/* A product with one output row or column is a matrix-vector product: BLAS's
 * gemm would pack the whole matrix for it (attention scores, per-row
 * contexts), gemv streams it once. */
static bool as_gemv(bool ta, bool tb, int M, int N, int K, rc_real alpha, const rc_real *A,
                    int lda, const rc_real *B, int ldb, rc_real beta, rc_real *C, int ldc)
{
    if (N == 1) { /* C[:,0] = op(A) op(B)[:,0] */
        GEMV(CblasRowMajor, TR(ta), ta ? K : M, ta ? M : K, alpha, A, lda, B, tb ? 1 : ldb,
             beta, C, ldc);
        return true;
    }
    if (M == 1) { /* C[0,:]^T = op(B)^T op(A)[0,:]^T */
        GEMV(CblasRowMajor, TR(!tb), tb ? N : K, tb ? K : N, alpha, B, ldb, A, ta ? lda : 1,
             beta, C, 1);
        return true;
    }
    return false;
}
#endif

void rc__gemm(bool ta, bool tb, int M, int N, int K, rc_real alpha, const rc_real *A,
              int lda, const rc_real *B, int ldb, rc_real beta, rc_real *C, int ldc)
{
    if (M <= 0 || N <= 0)
        return;
#if RC_HAVE_BLAS
    blas_threads_once();
    if (K > 0 && as_gemv(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc))
        return;
    if (K > 0) {
        GEMM(CblasRowMajor, TR(ta), TR(tb), M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
#endif
    rc__kernels()->gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
