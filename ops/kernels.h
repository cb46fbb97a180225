/* ops/kernels.h - the vector kernels, one table per ISA (ops/kernels.c is
 * compiled once per ISA); rc__kernels() returns the one this CPU runs best,
 * or the one RECUR_ISA names. Internal to ops/. */
#ifndef RECUR_OPS_KERNELS_H
#define RECUR_OPS_KERNELS_H

#include <stdbool.h>
#include <stddef.h>

#include "recur/graph.h"

typedef void (*rc_map_fn)(rc_real *y, const rc_real *x, size_t n);

typedef struct rc_kernels {
    const char *isa;
    rc_map_fn tanh, sigmoid, exp, log;
    /* C = alpha op(A) op(B) + beta C, row-major; op = transpose when ta/tb.
     * op(A) is M x K, op(B) is K x N. beta == 0 overwrites C. */
    void (*gemm)(bool ta, bool tb, int M, int N, int K, rc_real alpha,
                 const rc_real *A, int lda, const rc_real *B, int ldb, rc_real beta,
                 rc_real *C, int ldc);
} rc_kernels;

const rc_kernels *rc__kernels(void);

/* Matrix product through BLAS when built with one, else the kernel. */
void rc__gemm(bool ta, bool tb, int M, int N, int K, rc_real alpha, const rc_real *A,
              int lda, const rc_real *B, int ldb, rc_real beta, rc_real *C, int ldc);

#endif
