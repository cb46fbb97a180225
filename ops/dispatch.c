/* Picks the kernel table once: the widest ISA the CPU has, unless RECUR_ISA
 * (avx512, avx2 or generic) asks for another one, e.g. to test every path or
 * to run under valgrind, which has no AVX-512. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

extern const rc_kernels rc__kernels_generic;
#if RC_HAVE_ISA_AVX2
extern const rc_kernels rc__kernels_avx2;
#endif
#if RC_HAVE_ISA_AVX512
extern const rc_kernels rc__kernels_avx512;
#endif

static const rc_kernels *choose(void)
{
    const char *want = getenv("RECUR_ISA");
    const rc_kernels *best = &rc__kernels_generic;
#if RC_HAVE_ISA_AVX2
    __builtin_cpu_init();
    bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (avx2)
        best = &rc__kernels_avx2;
#endif
#if RC_HAVE_ISA_AVX512
    bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
                  __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw");
    if (avx512)
        best = &rc__kernels_avx512;
#endif
    if (!want || !*want)
        return best;
    if (strcmp(want, "generic") == 0)
        return &rc__kernels_generic;
#if RC_HAVE_ISA_AVX2
    if (strcmp(want, "avx2") == 0 && avx2)
        return &rc__kernels_avx2;
#endif
#if RC_HAVE_ISA_AVX512
    if (strcmp(want, "avx512") == 0 && avx512)
        return &rc__kernels_avx512;
#endif
    fprintf(stderr, "recur: RECUR_ISA=%s is not available here; using %s\n", want,
            best->isa);
    return best;
}

const rc_kernels *rc__kernels(void)
{
    /* Racing first calls all store the same pointer. */
    static _Atomic(const rc_kernels *) chosen;
    const rc_kernels *k = atomic_load_explicit(&chosen, memory_order_acquire);
    if (!k) {
        k = choose();
        atomic_store_explicit(&chosen, k, memory_order_release);
    }
    return k;
}
