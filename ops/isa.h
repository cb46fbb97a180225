/* ops/isa.h - the vector vocabulary of the per-ISA kernel sources
 * (kernels*.c are compiled once per ISA with -DRC_ISA_<NAME>): vec, LOAD,
 * STORE, SLEEF's tanh/exp/log for that ISA, and ISA_FN(name), which gives
 * each compilation's functions their own names. Internal to ops/.
 * In double, tanh is SLEEF's 3.5-ulp version and exp and log its 1-ulp ones.
 * In float, tanh and exp are recur's own (vtanh_hybrid, vexp_poly below)
 * unless built with -Dsleef_math=true: a cell step spends most of its
 * pointwise time in them, and these are 1.3x (tanh) and 1.5x (sigmoid) as
 * fast as SLEEF's at a like or smaller error. log stays SLEEF's. */
#ifndef RECUR_OPS_ISA_H
#define RECUR_OPS_ISA_H

#include <math.h>
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
#define VMUL _mm512_mul_pd
#define VFMA _mm512_fmadd_pd
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
#define VMUL _mm512_mul_ps
#define VFMA _mm512_fmadd_ps
#define VMIN _mm512_min_ps
#define VMAX _mm512_max_ps
#define VROUND(x) _mm512_roundscale_ps((x), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define VSCALE _mm512_scalef_ps
#define VABS _mm512_abs_ps
#define VCOPYSIGN(y, x) _mm512_or_ps((y), _mm512_and_ps((x), SET1(-0.0f)))
#define VBLEND_LT(a, b, t, f) _mm512_mask_blend_ps(_mm512_cmp_ps_mask((a), (b), _CMP_LT_OQ), (f), (t))
#define SLEEF_TANH Sleef_tanhf16_u35avx512f
#define SLEEF_EXP Sleef_expf16_u10avx512f
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
#define VMUL _mm256_mul_pd
#define VFMA _mm256_fmadd_pd
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
#define VMUL _mm256_mul_ps
#define VFMA _mm256_fmadd_ps
#define VMIN _mm256_min_ps
#define VMAX _mm256_max_ps
#define VROUND(x) _mm256_round_ps((x), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define VSCALE vscale_avx2
#define VABS(x) _mm256_andnot_ps(SET1(-0.0f), (x))
#define VCOPYSIGN(y, x) _mm256_or_ps((y), _mm256_and_ps((x), SET1(-0.0f)))
#define VBLEND_LT(a, b, t, f) _mm256_blendv_ps((f), (t), _mm256_cmp_ps((a), (b), _CMP_LT_OQ))
#define SLEEF_TANH Sleef_tanhf8_u35avx2
#define SLEEF_EXP Sleef_expf8_u10avx2
#define VLOG Sleef_logf8_u10avx2
/* p 2^n for integral n in [-252, 254]: two factors, each a normal float */
static inline vec vscale_avx2(vec p, vec n)
{
    const __m256i k = _mm256_cvtps_epi32(n), k1 = _mm256_srai_epi32(k, 1), bias = _mm256_set1_epi32(127);
    const vec s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k1, bias), 23));
    const vec s2 = _mm256_castsi256_ps(
        _mm256_slli_epi32(_mm256_add_epi32(_mm256_sub_epi32(k, k1), bias), 23));
    return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}
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
/* the vector instructions' rules: min/max return the second operand when
 * either is NaN; no fused multiply-add without hardware for it */
#define VMUL(a, b) ((a) * (b))
#define VFMA(a, b, c) ((a) * (b) + (c))
#define VMIN(a, b) ((a) < (b) ? (a) : (b))
#define VMAX(a, b) ((a) > (b) ? (a) : (b))
#if RC_REAL_IS_DOUBLE
#define VTANH Sleef_tanh_u35
#define VEXP Sleef_exp_u10
#define VLOG Sleef_log_u10
#else
#define VROUND(x) rintf(x)
#define VSCALE(p, n) ((n) == (n) ? ldexpf((p), (int)(n)) : (n))
#define VABS fabsf
#define VCOPYSIGN copysignf
#define VBLEND_LT(a, b, t, f) ((a) < (b) ? (t) : (f))
#define SLEEF_TANH Sleef_tanhf_u35
#define SLEEF_EXP Sleef_expf_u10
#define VLOG Sleef_logf_u10
#endif
#endif

/* Columns of a packed B's panel (kernels_gemm.c: its tile is NV vectors
 * wide; the generic kernel's vectors are 16 bytes, not VW's one lane) */
#if defined(RC_ISA_AVX512)
#define GEMM_NR (2 * VW)
#elif defined(RC_ISA_AVX2)
#define GEMM_NR (3 * VW)
#else
#define GEMM_NR (3 * (int)(16 / sizeof(rc_real)))
#endif

#if !RC_REAL_IS_DOUBLE && RC_SLEEF_MATH
#define VTANH SLEEF_TANH
#define VEXP SLEEF_EXP
#elif !RC_REAL_IS_DOUBLE
/* exp(x) = 2^n e^r with n = round(x / ln 2) and |r| <= ln(2)/2; ln 2 in two
 * parts keeps r exact, and e^r is a degree-6 Chebyshev fit (error 2e-9,
 * ops/fit_math.py). Within 1.1 ulp over every float in [-87, 88] (SLEEF's
 * 1-ulp exp: 1.0). Below -104 the result is 0, above 89 it is inf. */
static inline vec vexp_poly(vec x)
{
    x = VMIN(SET1(89.0f), VMAX(SET1(-104.0f), x));
    const vec n = VROUND(VMUL(x, SET1(1.44269504089f)));
    vec r = VFMA(n, SET1(-0.693145751953125f), x);
    r = VFMA(n, SET1(-1.428606765330187e-6f), r);
    vec p = VFMA(SET1(1.3941108433972675e-3f), r, SET1(8.3751263981533357e-3f));
    p = VFMA(p, r, SET1(4.1666352896775157e-2f));
    p = VFMA(p, r, SET1(1.6666415514653275e-1f));
    p = VFMA(p, r, SET1(5.0000000471177577e-1f));
    p = VFMA(p, r, SET1(1.0000000377162138f));
    p = VFMA(p, r, SET1(1.0f));
    return VSCALE(p, n);
}
/* tanh(|x|) = 1 - 2 / (1 + exp(2|x|)) from |x| = 0.625 on, where the
 * subtraction loses at most a bit; below, x + x^3 P(x^2), a degree-5
 * Chebyshev fit in x^2 of relative error 4e-9 (ops/fit_math.py). Both are
 * computed and one kept. Against double tanh, every third float in [-10, 10]:
 * 0.29 ulp rms and 1.4 ulp at worst (SLEEF's 3.5-ulp tanh: 0.30-0.62 and
 * 2.9), at 0.78 of its time on AVX-512. A [9/8] rational alone ran at 0.44
 * of SLEEF's time but with 1 ulp rms near |x| = 5, which float32 gradient
 * checks of an LSTM cell felt. */
static inline vec vtanh_hybrid(vec x)
{
    const vec ax = VABS(x), s = VMUL(x, x);
    const vec big = VSUB(SET1(1.0f), VDIV(SET1(2.0f), VADD(SET1(1.0f), vexp_poly(VADD(ax, ax)))));
    vec p = VFMA(SET1(-5.65713518438e-3f), s, SET1(2.05881914546e-2f));
    p = VFMA(p, s, SET1(-5.37201076566e-2f));
    p = VFMA(p, s, SET1(1.33311140557e-1f));
    p = VFMA(p, s, SET1(-3.33332598629e-1f));
    const vec small = VFMA(VMUL(s, ax), p, ax);
    return VCOPYSIGN(VBLEND_LT(ax, SET1(0.625f), small, big), x);
}
#define VTANH vtanh_hybrid
#define VEXP vexp_poly
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
