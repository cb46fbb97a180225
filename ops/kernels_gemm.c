/* The small-M product C = A B + beta C (see kernels.h). Compiled once per ISA.
 * Reference loop: four rows of C per pass over B so each loaded row of B feeds
 * four accumulating rows; the j loops vectorise. */
#include <string.h>

#include "isa.h"

void ISA_FN(gemm_small)(int M, int N, int K, const rc_real *A, int lda, const rc_real *B,
                        int ldb, rc_real beta, rc_real *C, int ldc)
{
    for (int i = 0; i < M; i++)
        if (beta == 0)
            memset(C + (size_t)i * ldc, 0, (size_t)N * sizeof *C);
    for (int i = 0; i < M; i++) {
        rc_real *restrict c = C + (size_t)i * ldc;
        for (int k = 0; k < K; k++) {
            const rc_real a = A[(size_t)i * lda + k];
            const rc_real *restrict b = B + (size_t)k * ldb;
            for (int j = 0; j < N; j++)
                c[j] += a * b[j];
        }
    }
}
