/* ops/kernels.h - the vector kernels, one table per ISA (ops/kernels.c is
 * compiled once per ISA); rc__kernels() returns the one this CPU runs best,
 * or the one RECUR_ISA names. Internal to ops/. */
#ifndef RECUR_OPS_KERNELS_H
#define RECUR_OPS_KERNELS_H

#include <stdbool.h>
#include <stddef.h>

#include "recur/graph.h"

typedef void (*rc_map_fn)(rc_real *y, const rc_real *x, size_t n);

/* Elementwise runs over contiguous arrays (the broadcasting ops' inner loop). */
typedef enum rc_run_op {
    RC_RUN_ADD,  /* y = a + b */
    RC_RUN_SUB,  /* y = a - b */
    RC_RUN_MUL,  /* y = a * b */
    RC_RUN_ACC,  /* y += a */
    RC_RUN_NACC, /* y -= a */
    RC_RUN_FMA,  /* y += a * b */
} rc_run_op;

typedef struct rc_kernels {
    const char *isa;
    rc_map_fn tanh, sigmoid, exp, log;
    void (*run)(rc_run_op op, rc_real *y, const rc_real *a, const rc_real *b, size_t n);
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
