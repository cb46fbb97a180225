/* gemm_bench - recur's own product, gemm_tiled (ops/kernels_gemm.c), against
 * BLAS, on the shapes of recurrent training.
 *
 *   gemm_bench [--reps R] [--sweep] [--beta 0|1] [--peak] [MxNxK[:OP] ...]
 *
 * OP is two letters, T (transposed) or N, for A and B: 1024x256x2048:TN is a
 * summed weight gradient. Without shapes: the LSTM's per-step products
 * (32x1024x256 forward, 32x256x1024 input gradient) and neighbours in M.
 * --sweep: every M in {1, 8, 16, 32, 64, 128, 256} with N, K in
 * {64, 256, 1024}. One column per path, GFLOP/s:
 *   tiled   rc__kernels()->gemm_tiled (RECUR_ISA picks the table)
 *   blas    cblas_?gemm, row-major (with BLAS only)
 *   gemv    cblas_?gemv for M = 1 (with BLAS only)
 *   kernel  rc__kernels()->gemm, the in-tree loops of the generic table
 *   recur   rc__gemm, the path recur takes (ops/gemm.c)
 *   packed  rc__kernels()->gemm_packed on B packed beforehand (pack_b), as
 *           for a weight's per-graph copy (untransposed A only)
 * and tiled/blas (tiled/kernel without BLAS). --peak first measures the
 * core's FMA peak: 16 independent chains of the widest vector FMA (the
 * ceiling the columns above are read against). Each of R rounds (default 15)
 * times every path once, in rotating order, over >= 2 ms of back-to-back
 * calls on the same operands; the table gives the median round. BLAS runs
 * one thread unless OPENBLAS_NUM_THREADS / OMP_NUM_THREADS say otherwise,
 * as in recur.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels.h"

#if RC_HAVE_BLAS && defined(BENCH_HAVE_OPENBLAS)
#include "blas.h"
#define HAVE_BLAS 1
#else
#define HAVE_BLAS 0
#endif

enum { P_TILED, P_BLAS, P_GEMV, P_KERNEL, P_RECUR, P_PACKED, NPATH };
static const char *const path_name[NPATH] = {"tiled", "blas", "gemv", "kernel", "recur", "packed"};

typedef struct run {
    bool ta, tb;
    int M, N, K, lda, ldb;
    rc_real beta;
    rc_real *A, *B, *C, *Bp;
} run;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static bool path_runs(int p, const run *r)
{
    if (p == P_BLAS)
        return HAVE_BLAS;
    if (p == P_GEMV)
        return HAVE_BLAS && r->M == 1;
    if (p == P_PACKED)
        return !r->ta;
    return true;
}

static void call(int p, const run *r)
{
    const int M = r->M, N = r->N, K = r->K, lda = r->lda, ldb = r->ldb;
    const bool ta = r->ta, tb = r->tb;
    switch (p) {
    case P_TILED:
        rc__kernels()->gemm_tiled(ta, tb, M, N, K, r->A, lda, r->B, ldb, r->beta, NULL, r->C,
                                  N);
        break;
#if HAVE_BLAS
    case P_BLAS:
        GEMM(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M,
             N, K, 1, r->A, lda, r->B, ldb, r->beta, r->C, N);
        break;
    case P_GEMV: /* C[0,:] = op(B)^T op(A)[0,:] */
        GEMV(CblasRowMajor, tb ? CblasNoTrans : CblasTrans, tb ? N : K, tb ? K : N, 1, r->B,
             ldb, r->A, ta ? lda : 1, r->beta, r->C, 1);
        break;
#endif
    case P_KERNEL:
        rc__kernels()->gemm(ta, tb, M, N, K, 1, r->A, lda, r->B, ldb, r->beta, r->C, N);
        break;
    case P_RECUR:
        rc__gemm(ta, tb, M, N, K, 1, r->A, lda, r->B, ldb, r->beta, r->C, N);
        break;
    case P_PACKED:
        rc__kernels()->gemm_packed(M, N, K, r->A, lda, r->Bp, r->beta, NULL, r->C, N);
        break;
    }
}

/* Seconds per call of path p: calls back to back for >= 2 ms. */
static double time_path(int p, const run *r, long reps)
{
    double t0 = now();
    for (long i = 0; i < reps; i++)
        call(p, r);
    return (now() - t0) / (double)reps;
}

static void bench_shape(bool ta, bool tb, int M, int N, int K, rc_real beta, int rounds)
{
    run r = {ta, tb, M, N, K, ta ? M : K, tb ? K : N, beta, malloc((size_t)M * K * sizeof(rc_real)),
             malloc((size_t)K * N * sizeof(rc_real)), malloc((size_t)M * N * sizeof(rc_real)),
             NULL};
    const int nr = rc__kernels()->pack_cols;
    r.Bp = aligned_alloc(64, ((size_t)N + nr - 1) / nr * nr * K * sizeof(rc_real));
    if (!r.A || !r.B || !r.C || !r.Bp) {
        fprintf(stderr, "gemm_bench: out of memory\n");
        exit(1);
    }
    unsigned seed = 1;
    for (size_t i = 0; i < (size_t)M * K; i++)
        r.A[i] = (rc_real)((seed = seed * 1103515245u + 12345u) >> 16 & 0x7fff) / 32768 - 0.5f;
    for (size_t i = 0; i < (size_t)K * N; i++)
        r.B[i] = (rc_real)((seed = seed * 1103515245u + 12345u) >> 16 & 0x7fff) / 32768 - 0.5f;
    memset(r.C, 0, (size_t)M * N * sizeof(rc_real));
    rc__kernels()->pack_b(tb, K, N, r.B, r.ldb, r.Bp);

    /* calls per timing: >= 2 ms of the slowest path after one warm-up call */
    long reps[NPATH];
    for (int p = 0; p < NPATH; p++) {
        if (!path_runs(p, &r))
            continue;
        call(p, &r);
        double t = time_path(p, &r, 1);
        reps[p] = (long)(2e-3 / (t > 1e-9 ? t : 1e-9)) + 1;
    }
    double *t = malloc((size_t)rounds * NPATH * sizeof *t);
    for (int round = 0; round < rounds; round++)
        for (int q = 0; q < NPATH; q++) {
            int p = (q + round) % NPATH; /* rotate: no path always runs first */
            if (path_runs(p, &r))
                t[p * rounds + round] = time_path(p, &r, reps[p]);
        }
    const double flop = 2.0 * M * N * K;
    double gf[NPATH] = {0};
    printf("%4d %5d %5d %s%s", M, N, K, ta ? "T" : "N", tb ? "T" : "N");
    for (int p = 0; p < NPATH; p++) {
        if (!path_runs(p, &r)) {
            printf(" %7s", "-");
            continue;
        }
        qsort(t + p * rounds, (size_t)rounds, sizeof *t, cmp_double);
        gf[p] = flop / t[p * rounds + rounds / 2] / 1e9;
        printf(" %7.1f", gf[p]);
    }
    printf(" %6.2f\n", gf[P_TILED] / gf[HAVE_BLAS ? P_BLAS : P_KERNEL]);
    fflush(stdout);
    free(t);
    free(r.A);
    free(r.B);
    free(r.C);
    free(r.Bp);
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define PEAK_CHAINS 16
#if RC_REAL_IS_DOUBLE
#define PEAK_512 __m512d, _mm512_set1_pd, _mm512_fmadd_pd, 8
#define PEAK_256 __m256d, _mm256_set1_pd, _mm256_fmadd_pd, 4
#else
#define PEAK_512 __m512, _mm512_set1_ps, _mm512_fmadd_ps, 16
#define PEAK_256 __m256, _mm256_set1_ps, _mm256_fmadd_ps, 8
#endif
/* n rounds of PEAK_CHAINS independent vector FMAs; GFLOP/s of rc_real */
#define PEAK_FN(name, isa, ...) PEAK_FN_(name, isa, __VA_ARGS__)
#define PEAK_FN_(name, isa, V, SET1, FMA, LANES)                                      \
    __attribute__((target(isa))) static double name(long n)                         \
    {                                                                                \
        V acc[PEAK_CHAINS];                                                          \
        const V m = SET1((rc_real)0.999), a = SET1((rc_real)1e-4);                   \
        for (int c = 0; c < PEAK_CHAINS; c++)                                        \
            acc[c] = SET1((rc_real)c);                                               \
        const double t0 = now();                                                     \
        for (long i = 0; i < n; i++) {                                               \
            _Pragma("GCC unroll 16") for (int c = 0; c < PEAK_CHAINS; c++)           \
                acc[c] = FMA(acc[c], m, a);                                          \
        }                                                                            \
        const double t = now() - t0;                                                 \
        volatile rc_real sink = 0;                                                   \
        for (int c = 0; c < PEAK_CHAINS; c++)                                        \
            sink += acc[c][0];                                                       \
        return 2.0 * PEAK_CHAINS * LANES * (double)n / t / 1e9;                      \
    }
PEAK_FN(peak_avx512, "avx512f", PEAK_512)
PEAK_FN(peak_avx2, "avx2,fma", PEAK_256)

static void print_peak(void)
{
    __builtin_cpu_init();
    const bool avx512 = __builtin_cpu_supports("avx512f");
    if (!avx512 && !__builtin_cpu_supports("fma")) {
        printf("# core peak: no AVX2/AVX-512 FMA here\n");
        return;
    }
    double best = 0;
    for (int r = 0; r < 5; r++) {
        const double g = avx512 ? peak_avx512(20000000) : peak_avx2(20000000);
        best = g > best ? g : best;
    }
    printf("# core peak (%s FMA, %d chains, best of 5): %.1f GFLOP/s\n",
           avx512 ? "AVX-512" : "AVX2", PEAK_CHAINS, best);
}
#else
static void print_peak(void)
{
    printf("# core peak: measured on x86-64 only\n");
}
#endif

static void usage(void)
{
    fprintf(stderr,
            "usage: gemm_bench [--reps R] [--sweep] [--beta 0|1] [--peak] [MxNxK[:OP] ...]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    int rounds = 15, sweep = 0, nshapes = 0, peak = 0;
    rc_real beta = 0;
    int shapes[64 + 63][5]; /* M N K ta tb: given, then the sweep's */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--beta") && i + 1 < argc)
            beta = (rc_real)atof(argv[++i]);
        else if (!strcmp(argv[i], "--sweep"))
            sweep = 1;
        else if (!strcmp(argv[i], "--peak"))
            peak = 1;
        else if (nshapes < 64 && sscanf(argv[i], "%dx%dx%d", &shapes[nshapes][0],
                                        &shapes[nshapes][1], &shapes[nshapes][2]) == 3) {
            const char *op = strchr(argv[i], ':'); /* :TN = A transposed, B not */
            shapes[nshapes][3] = op && op[1] == 'T';
            shapes[nshapes][4] = op && op[1] && op[2] == 'T';
            nshapes++;
        }
        else
            usage();
    }
    if (rounds < 1 || (beta != 0 && beta != 1))
        usage();
    if (sweep) {
        static const int Ms[] = {1, 8, 16, 32, 64, 128, 256}, NKs[] = {64, 256, 1024};
        for (int m = 0; m < 7; m++)
            for (int n = 0; n < 3; n++)
                for (int k = 0; k < 3; k++) {
                    shapes[nshapes][0] = Ms[m];
                    shapes[nshapes][1] = NKs[n];
                    shapes[nshapes][2] = NKs[k];
                    shapes[nshapes][3] = shapes[nshapes][4] = 0;
                    nshapes++;
                }
    } else if (!nshapes) {
        static const int lstm[][5] = {
            {32, 1024, 256},  {32, 256, 1024},  {8, 1024, 256}, {16, 1024, 256},
            {64, 1024, 256},  {128, 1024, 256}, {8, 256, 1024}, {16, 256, 1024},
            {64, 256, 1024},  {128, 256, 1024}, {1, 1024, 256}, {1, 256, 1024}};
        nshapes = (int)(sizeof lstm / sizeof lstm[0]);
        memcpy(shapes, lstm, sizeof lstm);
    }
#if HAVE_BLAS
    const char *e1 = getenv("OPENBLAS_NUM_THREADS"), *e2 = getenv("OMP_NUM_THREADS");
    if ((!e1 || !*e1) && (!e2 || !*e2))
        openblas_set_num_threads(1);
    printf("# isa %s, %s, BLAS %s (%d threads), beta %g, median of %d rounds, GFLOP/s\n",
           rc__kernels()->isa, RC_REAL_IS_DOUBLE ? "double" : "float", openblas_get_corename(),
           openblas_get_num_threads(), (double)beta, rounds);
#else
    printf("# isa %s, %s, no BLAS, beta %g, median of %d rounds, GFLOP/s\n",
           rc__kernels()->isa, RC_REAL_IS_DOUBLE ? "double" : "float", (double)beta, rounds);
#endif
    if (peak)
        print_peak();
    printf("%4s %5s %5s %2s", "M", "N", "K", "op");
    for (int p = 0; p < NPATH; p++)
        printf(" %7s", path_name[p]);
    printf(" %6s\n", HAVE_BLAS ? "ti/bl" : "ti/ker");
    for (int s = 0; s < nshapes; s++)
        bench_shape(shapes[s][3], shapes[s][4], shapes[s][0], shapes[s][1], shapes[s][2], beta,
                    rounds);
    return 0;
}
