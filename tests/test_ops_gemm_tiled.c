/* tests/test_ops_gemm_tiled.c - recur's own product of the kernel table
 * (rc__kernels()->gemm_tiled, ops/kernels_gemm.c) against a triple loop
 * accumulating in double: every M from 1 to 70, N and K around the tile and
 * panel sizes (not multiples of the vector width), A and B transposed or
 * not, contiguous and strided lda/ldb/ldc, beta 0 over a C full of NaN and
 * beta 1 over values, with a bias row or without. The padding between and after the rows of C must come
 * back untouched. An untransposed A also runs gemm_packed on B packed by
 * pack_b, which must fill exactly its panels. RECUR_ISA (the avx2 and
 * generic test setups) picks the table tested. */
#include <float.h>
#include <stdint.h>

#include "check.h"
#include "kernels.h"

#if RC_REAL_IS_DOUBLE
#define EPS DBL_EPSILON
#else
#define EPS FLT_EPSILON
#endif
#define SENTINEL ((rc_real)12345.0)
#define PAD 40 /* reals after the last row of C */

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static rc_real uniform(void) /* in [-1, 1) */
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (rc_real)((double)(rng_state >> 11) / 4503599627370496.0 - 1.0);
}

typedef struct gemm_case {
    bool ta, tb;
    int M, N, K, lda, ldb, ldc;
    rc_real beta;
    rc_real *A, *B, *C0; /* C0: C before the product */
    rc_real *bias;       /* N, or NULL */
    double *ref, *mag;   /* A B + beta C0 + bias, and sum |A B| + |beta C0| + |bias| */
} gemm_case;

static double a_at(const gemm_case *t, int i, int k)
{
    return t->A[t->ta ? (size_t)k * t->lda + i : (size_t)i * t->lda + k];
}

static double b_at(const gemm_case *t, int k, int j)
{
    return t->B[t->tb ? (size_t)j * t->ldb + k : (size_t)k * t->ldb + j];
}

static void reference(gemm_case *t, int skip_k)
{
    for (int i = 0; i < t->M; i++)
        for (int j = 0; j < t->N; j++) {
            double s = 0, m = 0;
            for (int k = 0; k < t->K; k++) {
                if (k == skip_k)
                    continue;
                double p = a_at(t, i, k) * b_at(t, k, j);
                s += p;
                m += fabs(p);
            }
            if (t->beta != 0) {
                double c = t->C0[(size_t)i * t->ldc + j];
                s += c;
                m += fabs(c);
            }
            if (t->bias) {
                s += t->bias[j];
                m += fabs(t->bias[j]);
            }
            t->ref[(size_t)i * t->N + j] = s;
            t->mag[(size_t)i * t->N + j] = m;
        }
}

/* Elements of C outside tolerance, plus padding that changed. The bound is
 * the worst case of K FMAs in rc_real: (K + 1) eps sum |a b|. A term lost or
 * counted twice is ~ sum |a b| / K, far above it. */
static long count_bad(const gemm_case *t, const rc_real *C, const char *label)
{
    long bad = 0;
    const double tol = (t->K + 1) * EPS;
    for (int i = 0; i < t->M; i++)
        for (int j = 0; j < t->ldc; j++) {
            const rc_real got = C[(size_t)i * t->ldc + j];
            bool ok;
            if (j >= t->N) /* the gap up to ldc */
                ok = got == SENTINEL;
            else {
                const double want = t->ref[(size_t)i * t->N + j];
                ok = fabs((double)got - want) <= tol * t->mag[(size_t)i * t->N + j] + DBL_MIN;
            }
            if (!ok && bad++ == 0 && label)
                fprintf(stderr, "%s: C[%d][%d] = %.10g, want %.10g\n", label, i, j,
                        (double)got, j < t->N ? t->ref[(size_t)i * t->N + j] : SENTINEL);
        }
    const rc_real *end = C + (size_t)(t->M - 1) * t->ldc + t->ldc;
    for (int p = 0; p < PAD; p++)
        if (end[p] != SENTINEL && bad++ == 0 && label)
            fprintf(stderr, "%s: wrote %d past the end of C\n", label, p);
    return bad;
}

/* Runs one shape; with self_test, also checks that count_bad notices a
 * result that lost one k term (so this test can fail). */
static void run(bool ta, bool tb, int M, int N, int K, bool strided, rc_real beta,
                bool with_bias, bool self_test)
{
    const int pad = strided ? 3 : 0;
    gemm_case t = {ta,   tb,   M,    N,    K,    (ta ? M : K) + pad, (tb ? K : N) + pad + 2,
                   N + (strided ? 2 : 0), beta, NULL, NULL, NULL, NULL, NULL, NULL};
    const size_t na = (size_t)(ta ? K : M) * t.lda, nb = (size_t)(tb ? N : K) * t.ldb,
                 nc = (size_t)M * t.ldc;
    t.A = malloc((na ? na : 1) * sizeof *t.A);
    t.B = malloc((nb ? nb : 1) * sizeof *t.B);
    t.C0 = malloc(nc * sizeof *t.C0);
    t.ref = malloc((size_t)M * N * sizeof *t.ref);
    t.mag = malloc((size_t)M * N * sizeof *t.mag);
    rc_real *C = malloc((nc + PAD) * sizeof *C);
    for (size_t k = 0; k < na; k++)
        t.A[k] = uniform();
    for (size_t k = 0; k < nb; k++)
        t.B[k] = uniform();
    if (with_bias) {
        t.bias = malloc((size_t)N * sizeof *t.bias);
        for (int j = 0; j < N; j++)
            t.bias[j] = uniform();
    }
    for (size_t k = 0; k < nc; k++)
        t.C0[k] = (k % (size_t)t.ldc) >= (size_t)N ? SENTINEL : beta != 0 ? uniform() : NAN;
    memcpy(C, t.C0, nc * sizeof *C);
    for (int p = 0; p < PAD; p++)
        C[nc + p] = SENTINEL;
    reference(&t, -1);

    char label[96];
    snprintf(label, sizeof label, "gemm_tiled %s%s %dx%dx%d%s beta %g%s (%s)",
             ta ? "A^T" : "A", tb ? "B^T" : "B", M, N, K, strided ? " strided" : "",
             (double)beta, with_bias ? " bias" : "", rc__kernels()->isa);
    rc__kernels()->gemm_tiled(ta, tb, M, N, K, t.A, t.lda, t.B, t.ldb, beta, t.bias, C, t.ldc);
    CHECK(count_bad(&t, C, label) == 0);

    if (!ta) {
        const int nr = rc__kernels()->pack_cols;
        const size_t np = ((size_t)N + nr - 1) / nr * nr * K;
        rc_real *Bp = malloc((np + PAD) * sizeof *Bp);
        for (size_t k = 0; k < np + PAD; k++)
            Bp[k] = SENTINEL;
        rc__kernels()->pack_b(tb, K, N, t.B, t.ldb, Bp);
        for (size_t k = 0; k < PAD; k++)
            CHECK(Bp[np + k] == SENTINEL);
        memcpy(C, t.C0, nc * sizeof *C);
        char packed_label[sizeof label + 8];
        snprintf(packed_label, sizeof packed_label, "gemm_packed%s", label + strlen("gemm_tiled"));
        rc__kernels()->gemm_packed(M, N, K, t.A, t.lda, Bp, beta, t.bias, C, t.ldc);
        CHECK(count_bad(&t, C, packed_label) == 0);
        free(Bp);
    }
    if (self_test && K > 1) { /* the same result against a reference missing k = K / 2 */
        reference(&t, K / 2);
        CHECK(count_bad(&t, C, NULL) > 0);
    }
    free(t.A);
    free(t.B);
    free(t.C0);
    free(t.bias);
    free(t.ref);
    free(t.mag);
    free(C);
}

/* The table's transpose (the memo of a weight's transpose, the panels of a
 * transposed B): every size around its 8 x 8 / 4 x 4 tiles and their pairs
 * (16 / 8 rows at a time), padded strides;
 * the padding of dst must stay untouched. */
static void check_transpose(void)
{
    static const int sizes[] = {1, 3, 4, 7, 8, 9, 15, 16, 17, 24, 25, 33};
    enum { NSZ = sizeof sizes / sizeof sizes[0] };
    long bad = 0;
    for (int a = 0; a < NSZ; a++)
        for (int b = 0; b < NSZ; b++) {
            const int rows = sizes[a], cols = sizes[b];
            const size_t lds = (size_t)cols + 3, ldd = (size_t)rows + 2;
            rc_real *src = malloc((size_t)rows * lds * sizeof *src);
            rc_real *dst = malloc((size_t)cols * ldd * sizeof *dst);
            for (size_t k = 0; k < (size_t)rows * lds; k++)
                src[k] = uniform();
            for (size_t k = 0; k < (size_t)cols * ldd; k++)
                dst[k] = SENTINEL;
            rc__kernels()->transpose(rows, cols, src, lds, dst, ldd);
            for (int c = 0; c < cols; c++)
                for (size_t r = 0; r < ldd; r++) {
                    const rc_real want = r < (size_t)rows ? src[r * lds + c] : SENTINEL;
                    if (dst[c * ldd + r] != want && bad++ == 0)
                        fprintf(stderr, "transpose %dx%d: dst[%d][%zu] = %g, want %g\n", rows,
                                cols, c, r, (double)dst[c * ldd + r], (double)want);
                }
            free(src);
            free(dst);
        }
    CHECK(bad == 0);
}

int main(void)
{
    check_transpose();
    /* N and K around the vector widths (4..16), tiles (12..48 columns), the
     * one-row kernel's pieces (up to 256 columns) and the panel height (256
     * rows); every transpose combination. */
    static const int Ns[] = {1, 5, 13, 16, 17, 24, 31, 33, 50, 67, 100, 300};
    static const int Ks[] = {1, 2, 19, 256, 300};
    enum { NS = sizeof Ns / sizeof Ns[0] };
    int n = 0;
    for (int M = 1; M <= 70; M++)
        for (int b = 0; b < 2; b++)
            for (int x = 0; x < NS; x++) {
                const int N = Ns[x], K = Ks[(M + 3 * x + b) % 5], flags = (M + x + b) % 4;
                run(flags & 1, flags & 2, M, N, K, (M + x) % 2 == 1, (rc_real)b,
                    (M + x + b) % 3 == 0, n++ % 50 == 0);
            }
    /* The LSTM's per-step shapes, the W2 steps (one row), summed weight
     * gradients (A^T; from 512 rows A is copied in strips) and bigger odd
     * ones, strided and not. */
    static const int big[][5] = {{0, 0, 32, 1024, 256}, {0, 0, 32, 256, 1024},
                                 {0, 0, 64, 1000, 520}, {0, 0, 9, 1030, 260},
                                 {0, 0, 17, 99, 777},   {0, 0, 1, 1024, 256},
                                 {0, 0, 1, 256, 64},    {0, 0, 1, 64, 256},
                                 {1, 0, 1, 64, 256},    {1, 0, 256, 64, 100},
                                 {1, 0, 300, 130, 600}, {0, 1, 200, 1030, 129},
                                 {1, 1, 77, 90, 300},   {1, 0, 531, 40, 300},
                                 {1, 1, 517, 33, 260}};
    for (size_t s = 0; s < sizeof big / sizeof big[0]; s++)
        for (int b = 0; b < 2; b++)
            run(big[s][0], big[s][1], big[s][2], big[s][3], big[s][4], (s + b) % 2 == 0,
                (rc_real)b, s % 3 == 1, true);
    run(false, false, 3, 7, 0, false, 0, false, false); /* K = 0: beta 0 still clears C */
    run(true, true, 3, 7, 0, true, 1, true, false);
    run(false, false, 4, 9, 0, false, 0, true, false);
    return check_finish("ops_gemm_tiled");
}
