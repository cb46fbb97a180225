/* ops/blas.h - CBLAS for rc_real: GEMM and GEMV are the float or double
 * routines. Include only where RC_HAVE_BLAS. Internal to ops/ (and bench/). */
#ifndef RECUR_OPS_BLAS_H
#define RECUR_OPS_BLAS_H

#include <cblas.h>

#include "recur/graph.h"

#if RC_REAL_IS_DOUBLE
#define GEMM cblas_dgemm
#define GEMV cblas_dgemv
#else
#define GEMM cblas_sgemm
#define GEMV cblas_sgemv
#endif

#endif
