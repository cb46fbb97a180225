/* One entry for every matrix product: BLAS when recur was built with one,
 * the in-tree vector kernel otherwise. */
#include "kernels.h"

#if RC_HAVE_BLAS
#include <cblas.h>
#endif

void rc__gemm(bool ta, bool tb, int M, int N, int K, rc_real alpha, const rc_real *A,
              int lda, const rc_real *B, int ldb, rc_real beta, rc_real *C, int ldc)
{
    if (M <= 0 || N <= 0)
        return;
#if RC_HAVE_BLAS
    if (K > 0) {
#if RC_REAL_IS_DOUBLE
        cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
                    tb ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta,
                    C, ldc);
#else
        cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
                    tb ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta,
                    C, ldc);
#endif
        return;
    }
#endif
    rc__kernels()->gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
