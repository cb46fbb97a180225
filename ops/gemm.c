/* One entry for every matrix product: BLAS when recur was built with one,
 * the in-tree vector kernels otherwise, and recur's own tiled kernel
 * (ops/kernels_gemm.c) wherever it is faster than the BLAS at hand. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "kernels.h"
#include "recur/op.h"
#include "recur/ops.h"

#if RC_HAVE_BLAS
#include <string.h>

#include "blas.h"

/* OpenBLAS starts one busy-waiting thread per core. On a small shared
 * machine that loses badly when anything else runs, and recur splits its
 * products over its own threads (rc__gemm below), so recur asks for one
 * thread unless the user chose (OPENBLAS_NUM_THREADS / OMP_NUM_THREADS). */
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

extern const rc_kernels rc__kernels_generic;

/* Whether kt's ISA is wider than that of the kernels OpenBLAS chose, known
 * once (the table rc__kernels() returns never changes). Its AVX2 (Haswell)
 * kernels, which OPENBLAS_CORETYPE=Haswell selects even on an AVX-512
 * machine, reach about 2/3 of the SkylakeX ones; a CPU newer than the
 * OpenBLAS build (0.3.21 on Emerald Rapids) gets its SSE3 Prescott kernels,
 * about 1/5. recur's tiles of a wider ISA than BLAS's then win every shape
 * (gemm_bench, RECUR_ISA=avx2 against Prescott: 2.2-2.7x). */
static bool wider_than_blas(const rc_kernels *kt)
{
    static atomic_int known; /* 0 unknown, 1 no, 2 yes */
    int k = atomic_load_explicit(&known, memory_order_relaxed);
    if (!k) {
        static const char *const avx512[] = {"SkylakeX", "Cooperlake", "SapphireRapids"},
                                 *const avx2[] = {"Haswell", "Zen"};
        const char *core = openblas_get_corename();
        int blas = 0; /* 2 AVX-512, 1 AVX2, 0 older */
        for (int i = 0; core && i < 3; i++)
            blas = !strcmp(core, avx512[i]) ? 2 : i < 2 && !strcmp(core, avx2[i]) ? 1 : blas;
        const int isa = !strcmp(kt->isa, "avx512") ? 2 : !strcmp(kt->isa, "avx2") ? 1 : 0;
        k = isa > blas ? 2 : 1;
        atomic_store_explicit(&known, k, memory_order_relaxed);
    }
    return k == 2;
}

/* Whether gemm_tiled beats BLAS, measured with bench/gemm_bench on one core
 * (OpenBLAS 0.3.21, float and double). Against the SkylakeX kernels: 1.1-3x
 * faster for every M from 8 to 256 with N, K in {64, 256, 1024} (the LSTM
 * steps included; M = 256 with N = K = 1024 about even), 0.95-1.15x at
 * M <= 64 with B up to 4096 x 4096, 1.15-1.35x for one row (BLAS's gemv);
 * above that BLAS's blocking pays (0.6-1.1x at M >= 512, transposed or
 * not). Transposed, M in {32, 64, 100, 256}, N in {32, 65, 256, 1024}, K in
 * {32, 100, 256, 1024}: b^T 1.0-2.4x (a small model's input projection
 * 100x256x32 1.44x, its output layer 100x65x64 1.3x); a^T (the weight
 * gradients) 1.0-1.9x from K = 100 with N a multiple of 16, but 0.76-0.98x
 * at K = 32 or with a 65-column tail. Against the Haswell kernels the
 * AVX-512 tiles win every shape of the workloads in bench/ (1.1-1.7x; one
 * row 4-5x BLAS's gemm, 1.2-1.3x its gemv), and so do any tiles against
 * kernels of a narrower ISA (wider_than_blas). The generic table's kernel is
 * 3-5x slower than BLAS. A product with one column stays with gemv. */
static bool tiled_wins(const rc_kernels *kt, bool ta, bool tb, int M, int N, int K)
{
    if (kt == &rc__kernels_generic || N == 1 || (M == 1 && tb))
        return false;
    if (M == 1 || wider_than_blas(kt))
        return true;
    const size_t NK = (size_t)N * (size_t)K, MB = (size_t)1 << 20;
    if (ta && tb)
        return false;
    if (ta)
        return M <= 256 && K >= 100 && N % 16 == 0 && NK < MB;
    return M <= 64 || (M <= 256 && NK <= MB);
}
#endif

/* Scans rows x cols of C (row stride ldc) while it is in cache. */
static bool block_finite(const rc_real *C, int rows, int cols, int ldc)
{
    if (cols == ldc)
        return rc_all_finite(C, (size_t)rows * cols);
    for (int r = 0; r < rows; r++)
        if (!rc_all_finite(C + (size_t)r * ldc, (size_t)cols))
            return false;
    return true;
}

/* Adds bias [cols] (unless NULL) to rows x cols of C (row stride ldc) and
 * scans them for NaN/Inf (with scan), while they are in cache. Returns
 * whether they came out finite (false when not scanning). */
static bool block_finish(const rc_real *bias, bool scan, rc_real *C, int rows, int cols,
                         int ldc)
{
    for (int r = 0; bias && r < rows; r++)
        rc__kernels()->run(RC_RUN_ACC, C + (size_t)r * ldc, bias, NULL, (size_t)cols);
    return scan && block_finite(C, rows, cols, ldc);
}

/* gemm_tiled keeps the M x KC block of A in cache while all of B's panels
 * pass; past a few hundred rows that block leaves L2, so a taller product
 * goes RC__TILED_ROWS rows at a time, each an ordinary product (one core,
 * SkylakeX BLAS, GFLOP/s, tiled whole / in blocks / BLAS: 2048x1024x128
 * 171 / 191 / 155, 640x256x2000 181 / 184 / 160). A transposed A is
 * not cut: its rows would lie lda apart, each on its own page. With scan,
 * returns whether C came out finite (false when not scanning), checked
 * block by block while each is in cache. */
enum { WHOLE_A_BYTES = 768 << 10 };

static bool gemm_one(bool scan, const rc_real *bias, bool ta, bool tb, int M, int N, int K,
                     rc_real alpha, const rc_real *A, int lda, const rc_real *B, int ldb,
                     rc_real beta, rc_real *C, int ldc)
{
    const bool tiled_ok = alpha == 1 && (beta == 0 || beta == 1);
    const rc_kernels *kt = rc__kernels();
    const int rows = ta || M < RC__TILED_ROWS ? M : RC__TILED_ROWS;
    /* A transposed B's panels are transposed again for every block: while
     * all of A's rows fit in L2 with room to spare they go in one (W4's
     * output layer, 640 x 256: w's 2000 x 256 once instead of three times,
     * its forward 0.192 -> 0.181 s over 32 steps, RECUR_PROFILE, 8 pairs) */
    const int block = tb && (size_t)M * K * sizeof(rc_real) <= WHOLE_A_BYTES ? M : rows;
#if RC_HAVE_BLAS
    blas_threads_once();
    if (K > 0 && !(tiled_ok && tiled_wins(kt, ta, tb, rows, N, K))) {
        if (!as_gemv(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc))
            GEMM(CblasRowMajor, TR(ta), TR(tb), M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return block_finish(bias, scan, C, M, N, ldc);
    }
#endif
    /* Without BLAS gemm_tiled takes every shape it can: 4-6x the speed of
     * the table's gemm at M >= 4 (1.3-1.5x with the generic table), about
     * even at M = 1. */
    if (!tiled_ok) {
        kt->gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return block_finish(bias, scan, C, M, N, ldc);
    }
    bool finite = scan;
    for (int i = 0; i < M; i += block) {
        const int m = M - i < block ? M - i : block;
        rc_real *c = C + (size_t)i * ldc;
        kt->gemm_tiled(ta, tb, m, N, K, A + (ta ? (size_t)i : (size_t)i * lda), lda, B, ldb,
                       beta, bias, c, ldc);
        finite = block_finish(NULL, finite, c, m, N, ldc);
    }
    return finite;
}

/* C = A Bp + beta C (+ bias) for a B packed by the table's pack_b, in blocks
 * of RC__TILED_ROWS rows like gemm_one's tiles. */
static bool packed_one(bool scan, const rc_real *bias, int M, int N, int K, const rc_real *A,
                       int lda, const rc_real *Bp, rc_real beta, rc_real *C, int ldc)
{
    bool finite = scan;
    for (int i = 0; i < M; i += RC__TILED_ROWS) {
        const int m = M - i < RC__TILED_ROWS ? M - i : RC__TILED_ROWS;
        rc_real *c = C + (size_t)i * ldc;
        rc__kernels()->gemm_packed(m, N, K, A + (size_t)i * lda, lda, Bp, beta, bias, c, ldc);
        finite = block_finish(NULL, finite, c, m, N, ldc);
    }
    return finite;
}

bool rc__gemm_packs(int M, int N, int K)
{
    if (M <= 1 || N <= 0 || K <= 0)
        return false; /* one row: its own kernel reads whole rows of B */
#if RC_HAVE_BLAS
    return tiled_wins(rc__kernels(), false, false, M < RC__TILED_ROWS ? M : RC__TILED_ROWS, N,
                      K);
#else
    return true;
#endif
}

/* ---- split over recur's threads ----------------------------------------------
 * A product big enough to pay for a fork-join is cut into slabs of C, one
 * per thread: rows when there are many (the hoisted projections, the summed
 * weight gradients), else columns (a time step's few rows against a weight).
 * Each slab is an ordinary product, so it takes the same kernel choice. */

/* Below ~8 MFLOP (~50 us on one core) waking a sleeping thread costs more
 * than it saves: W2's summed weight gradient (3.3 MFLOP) split in two ran
 * W2 at 2 threads at 304k tok/s, unsplit at 376k (1 thread: 414k). */
enum { PARALLEL_FLOPS = 1 << 23, ROW_SPLIT_MIN = 256 };

typedef struct gemm_job {
    bool ta, tb, by_rows, scan;
    int M, N, K, lda, ldb, ldc;
    rc_real alpha, beta;
    const rc_real *A, *B, *bias;
    const rc_real *Bp; /* B packed, or NULL */
    rc_real *C;
    atomic_bool not_finite; /* some slab's scan failed */
} gemm_job;

static void gemm_part(void *ctx, int part, int parts)
{
    gemm_job *j = ctx;
    /* a packed B's columns go in whole panels */
    const int align = j->by_rows ? 16 : j->Bp ? rc__kernels()->pack_cols : 32;
    int lo, hi;
    rc__split(j->by_rows ? j->M : j->N, align, part, parts, &lo, &hi);
    if (hi <= lo)
        return;
    rc_real *C = j->C + (j->by_rows ? (size_t)lo * j->ldc : (size_t)lo);
    bool finite;
    if (j->Bp && j->by_rows)
        finite = packed_one(j->scan, j->bias, hi - lo, j->N, j->K, j->A + (size_t)lo * j->lda,
                            j->lda, j->Bp, j->beta, C, j->ldc);
    else if (j->Bp)
        finite = packed_one(j->scan, j->bias ? j->bias + lo : NULL, j->M, hi - lo, j->K, j->A,
                            j->lda, j->Bp + (size_t)lo * j->K, j->beta, C, j->ldc);
    else if (j->by_rows)
        finite = gemm_one(j->scan, j->bias, j->ta, j->tb, hi - lo, j->N, j->K, j->alpha,
                          j->A + (j->ta ? (size_t)lo : (size_t)lo * j->lda), j->lda, j->B,
                          j->ldb, j->beta, C, j->ldc);
    else
        finite = gemm_one(j->scan, j->bias ? j->bias + lo : NULL, j->ta, j->tb, j->M, hi - lo,
                          j->K, j->alpha, j->A, j->lda,
                          j->B + (j->tb ? (size_t)lo * j->ldb : (size_t)lo), j->ldb, j->beta,
                          C, j->ldc);
    if (j->scan && !finite)
        atomic_store_explicit(&j->not_finite, true, memory_order_relaxed);
}

/* Bp, unless NULL, is B packed (rc__gemm_packs said so; ta false, alpha 1) */
static bool split_product(bool scan, const rc_real *bias, bool ta, bool tb, int M, int N,
                          int K, rc_real alpha, const rc_real *A, int lda, const rc_real *B,
                          int ldb, const rc_real *Bp, rc_real beta, rc_real *C, int ldc)
{
    if (M <= 0 || N <= 0)
        return scan;
    const int threads = rc_num_threads();
    const double flops = 2.0 * M * N * (K > 0 ? K : 0);
    if (threads < 2 || flops < PARALLEL_FLOPS || (M < ROW_SPLIT_MIN && N < 64))
        return Bp ? packed_one(scan, bias, M, N, K, A, lda, Bp, beta, C, ldc)
                  : gemm_one(scan, bias, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    gemm_job j = {ta,    tb,   M >= ROW_SPLIT_MIN, scan, M, N, K, lda, ldb, ldc,
                  alpha, beta, A, B, bias, Bp, C, false};
    rc__parallel(gemm_part, &j, threads);
    return scan && !atomic_load_explicit(&j.not_finite, memory_order_relaxed);
}

/* ---- RECUR_PROFILE=2: products by shape -------------------------------------
 * Whether a step is bound by its products, and which ones run below the
 * core's rate, is a question per shape: each call's wall time (kernel, bias,
 * NaN scan, its threads' fork-join) is summed under its shape and path. */
enum { PROFILED_SHAPES = 128 };

typedef struct shape_time {
    int M, N, K; /* M = 0: the shapes past the table's slots, lumped */
    bool ta, tb, packed;
    long calls;
    double seconds, flops;
} shape_time;

static struct {
    pthread_mutex_t mu;
    int n;
    shape_time at[PROFILED_SHAPES];
} products = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void print_products_at_exit(void) { rc_products_profile_print(stderr); }

static bool profiling_products(void)
{
    static atomic_int known; /* 0 unknown, 1 no, 2 yes */
    int k = atomic_load_explicit(&known, memory_order_acquire);
    if (!k) {
        const char *p = getenv("RECUR_PROFILE");
        const int want = p && atoi(p) >= 2 ? 2 : 1;
        if (atomic_compare_exchange_strong(&known, &k, want) && want == 2)
            atexit(print_products_at_exit); /* the winner alone registers it */
        k = atomic_load_explicit(&known, memory_order_acquire);
    }
    return k == 2;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void record_product(bool ta, bool tb, bool packed, int M, int N, int K, double s)
{
    pthread_mutex_lock(&products.mu);
    shape_time *e = NULL;
    for (int i = 0; i < products.n && !e; i++) {
        shape_time *t = &products.at[i];
        if (t->M == M && t->N == N && t->K == K && t->ta == ta && t->tb == tb &&
            t->packed == packed)
            e = t;
    }
    if (!e && products.n < PROFILED_SHAPES - 1) {
        e = &products.at[products.n++];
        *e = (shape_time){M, N, K, ta, tb, packed, 0, 0, 0};
    }
    if (!e) /* the last slot (M = 0) takes every shape that found none */
        e = &products.at[PROFILED_SHAPES - 1];
    e->calls++;
    e->seconds += s;
    e->flops += 2.0 * M * N * (K > 0 ? K : 0);
    pthread_mutex_unlock(&products.mu);
}

static int by_seconds(const void *a, const void *b)
{
    const double x = ((const shape_time *)a)->seconds, y = ((const shape_time *)b)->seconds;
    return x < y ? 1 : x > y ? -1 : 0;
}

void rc_products_profile_print(FILE *fp)
{
    pthread_mutex_lock(&products.mu);
    shape_time t[PROFILED_SHAPES];
    int n = 0;
    double total = 0, flops = 0;
    for (int i = 0; i < PROFILED_SHAPES; i++)
        if (products.at[i].calls) {
            t[n++] = products.at[i];
            total += products.at[i].seconds;
            flops += products.at[i].flops;
        }
    pthread_mutex_unlock(&products.mu);
    if (!n)
        return;
    qsort(t, (size_t)n, sizeof *t, by_seconds);
    fprintf(fp, "%-9s %6s %6s %6s %-2s %-6s %8s %9s %8s %6s\n", "product", "M", "N", "K",
            "op", "path", "calls", "s", "GFLOP/s", "share");
    for (int i = 0; i < n; i++) {
        const shape_time *e = &t[i];
        const double gf = e->seconds > 0 ? 1e-9 * e->flops / e->seconds : 0;
        if (e->M)
            fprintf(fp, "%-9s %6d %6d %6d %c%c %-6s %8ld %9.3f %8.1f %5.1f%%\n", "", e->M,
                    e->N, e->K, e->ta ? 'T' : 'N', e->tb ? 'T' : 'N',
                    e->packed ? "packed" : "", e->calls, e->seconds, gf,
                    100 * e->seconds / total);
        else
            fprintf(fp, "%-9s %-24s %8ld %9.3f %8.1f %5.1f%%\n", "", "(other shapes)", e->calls,
                    e->seconds, gf, 100 * e->seconds / total);
    }
    fprintf(fp, "%-9s %-24s %8s %9.3f %8.1f\n", "(all)", "", "", total,
            total > 0 ? 1e-9 * flops / total : 0);
}

static bool gemm_split(bool scan, const rc_real *bias, bool ta, bool tb, int M, int N, int K,
                       rc_real alpha, const rc_real *A, int lda, const rc_real *B, int ldb,
                       const rc_real *Bp, rc_real beta, rc_real *C, int ldc)
{
    if (!profiling_products() || M <= 0 || N <= 0)
        return split_product(scan, bias, ta, tb, M, N, K, alpha, A, lda, B, ldb, Bp, beta, C,
                             ldc);
    const double t0 = now_s();
    const bool finite =
        split_product(scan, bias, ta, tb, M, N, K, alpha, A, lda, B, ldb, Bp, beta, C, ldc);
    record_product(ta, tb, Bp != NULL, M, N, K, now_s() - t0);
    return finite;
}

bool rc__gemm_scanned(bool scan, bool ta, bool tb, int M, int N, int K, rc_real alpha,
                      const rc_real *A, int lda, const rc_real *B, int ldb, rc_real beta,
                      rc_real *C, int ldc)
{
    return gemm_split(scan, NULL, ta, tb, M, N, K, alpha, A, lda, B, ldb, NULL, beta, C, ldc);
}

bool rc__gemm_bias_scanned(bool scan, bool ta, bool tb, int M, int N, int K, const rc_real *A,
                           int lda, const rc_real *B, int ldb, const rc_real *bias, rc_real beta,
                           rc_real *C, int ldc)
{
    return gemm_split(scan, bias, ta, tb, M, N, K, 1, A, lda, B, ldb, NULL, beta, C, ldc);
}

void rc__gemm(bool ta, bool tb, int M, int N, int K, rc_real alpha, const rc_real *A,
              int lda, const rc_real *B, int ldb, rc_real beta, rc_real *C, int ldc)
{
    rc__gemm_scanned(false, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

bool rc__gemm_packed_scanned(bool scan, int M, int N, int K, const rc_real *A, int lda,
                             const rc_real *Bp, const rc_real *bias, rc_real beta, rc_real *C,
                             int ldc)
{
    return gemm_split(scan, bias, false, false, M, N, K, 1, A, lda, NULL, 0, Bp, beta, C, ldc);
}
