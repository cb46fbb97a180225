/* ops/isa.h - the vector vocabulary of the per-ISA kernel sources
 * (kernels*.c are compiled once per ISA with -DRC_ISA_<NAME>): vec, LOAD,
 * STORE, SLEEF's tanh/exp/log for that ISA, and ISA_FN(name), which gives
 * each compilation's functions their own names. Internal to ops/.
 * tanh is SLEEF's 3.5-ulp version: three times as fast as the 1-ulp one
 * (0.45 vs 1.41 ns per float on AVX-512), and a cell step calls it twice per
 * unit; exp and log stay 1-ulp. */
#ifndef RECUR_OPS_ISA_H
#define RECUR_OPS_ISA_H

#include <string.h>

#include <sleef.h>

#include "kernels.h"

#if defined(RC_ISA_AVX512)
#include <immintrin.h>
#define ISA_NAME "avx512"
#define ISA_TAG avx512
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
#define VTANH Sleef_tanhd8_u35avx512f
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
#define VTANH Sleef_tanhf16_u35avx512f
#define VEXP Sleef_expf16_u10avx512f
#define VLOG Sleef_logf16_u10avx512f
#endif

#elif defined(RC_ISA_AVX2)
#include <immintrin.h>
#define ISA_NAME "avx2"
#define ISA_TAG avx2
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
#define VTANH Sleef_tanhd4_u35avx2
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
#define VTANH Sleef_tanhf8_u35avx2
#define VEXP Sleef_expf8_u10avx2
#define VLOG Sleef_logf8_u10avx2
#endif

#else /* generic: SLEEF's scalar functions, one lane */
#define ISA_NAME "generic"
#define ISA_TAG generic
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
#define VTANH Sleef_tanh_u35
#define VEXP Sleef_exp_u10
#define VLOG Sleef_log_u10
#else
#define VTANH Sleef_tanhf_u35
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

/* y = VF(x) over n elements; the tail goes through the same vector code on a
 * padded copy. */
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

#define ISA_CAT2(a, b) a##_##b
#define ISA_CAT(a, b) ISA_CAT2(a, b)
#define ISA_FN(name) ISA_CAT(rc__##name, ISA_TAG)

#endif
