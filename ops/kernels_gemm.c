/* The product C = op(A) op(B) + beta C (see kernels.h). Compiled once per ISA.
 *
 * A register-blocked micro-kernel: a tile of MR rows x NV vectors of C stays
 * in registers while k runs; each step loads one row segment of B (NV
 * vectors) and broadcasts MR values of A against it, MR * NV FMAs. A
 * transposed A only changes the strides of those broadcasts (they become MR
 * neighbours in one row); a transposed B is copied panel by panel into the
 * untransposed layout first. One row (M = 1) has a kernel of its own.
 *
 * Blocking: B is cut into panels of KC rows x NR = NV vectors, and each panel
 * serves every row block of A before the next one is touched. BLAS packs all
 * of B on every call, which at M = 32 costs about as much as the arithmetic.
 * Here the first row block reads the panel in place and copies it to a small
 * contiguous buffer on the way (stores are the idle port); the other row
 * blocks read that copy from L1. Read in place, a panel's rows lie ldb apart
 * (4 KiB for N = 1024): they share a few L1 sets and each is on its own page,
 * so they would come from L2 with a TLB miss every time. k runs outermost, so
 * the M x KC block of A in use stays in cache while all panels pass. */
#include <stdalign.h>
#include <stdbool.h>

#include "isa.h"

/* Per ISA: FMA, zero, and loads/stores of the first lanes only (the N tail),
 * where `lanes` says which lanes and LANES(n) makes one for the first n; the
 * tile shape MR x NV, chosen by measurement (bench/gemm_bench.c). */
#if defined(RC_ISA_AVX512)
#if RC_REAL_IS_DOUBLE
typedef __mmask8 lanes;
#define VFMA _mm512_fmadd_pd
#define VZERO _mm512_setzero_pd
#define LANES(n) ((__mmask8)((1u << (n)) - 1))
#define LOADN(p, m) _mm512_maskz_loadu_pd((m), (p))
#define STOREN(p, m, v) _mm512_mask_storeu_pd((p), (m), (v))
#else
typedef __mmask16 lanes;
#define VFMA _mm512_fmadd_ps
#define VZERO _mm512_setzero_ps
#define LANES(n) ((__mmask16)((1u << (n)) - 1))
#define LOADN(p, m) _mm512_maskz_loadu_ps((m), (p))
#define STOREN(p, m, v) _mm512_mask_storeu_ps((p), (m), (v))
#endif
#define MR 8 /* 16 accumulators of 32 registers */
#define NV 2

#elif defined(RC_ISA_AVX2)
typedef __m256i lanes; /* AVX2 masks are vectors: all-ones lanes are on */
#if RC_REAL_IS_DOUBLE
#define VFMA _mm256_fmadd_pd
#define VZERO _mm256_setzero_pd
#define LANES(n) _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3))
#define LOADN(p, m) _mm256_maskload_pd((p), (m))
#define STOREN(p, m, v) _mm256_maskstore_pd((p), (m), (v))
#else
#define VFMA _mm256_fmadd_ps
#define VZERO _mm256_setzero_ps
#define LANES(n) \
    _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
#define LOADN(p, m) _mm256_maskload_ps((p), (m))
#define STOREN(p, m, v) _mm256_maskstore_ps((p), (m), (v))
#endif
#define MR 4 /* 12 accumulators of 16 registers */
#define NV 3

#else /* generic: the GCC/Clang vector extension, 16 bytes (SSE2, NEON or
       * scalars); twice as fast as plain loops under the same flags */
#undef VW
#undef LOAD
#undef STORE
#undef SET1
#define VW (int)(16 / sizeof(rc_real))
typedef rc_real gvec __attribute__((vector_size(16)));
#define vec gvec /* isa.h's generic vec is a single rc_real */
typedef int lanes;
static inline gvec load_n(const rc_real *p, int n)
{
    gvec v = {0};
    memcpy(&v, p, (size_t)n * sizeof *p);
    return v;
}
static inline void store_n(rc_real *p, gvec v, int n)
{
    memcpy(p, &v, (size_t)n * sizeof *p);
}
#define VFMA(a, b, c) ((a) * (b) + (c))
#define VZERO() ((gvec){0})
#define SET1(x) (VZERO() + (x))
#define LOAD(p) load_n((p), VW)
#define STORE(p, v) store_n((p), (v), VW)
#define LANES(n) (n)
#define LOADN(p, n) load_n((p), (n))
#define STOREN(p, n, v) store_n((p), (v), (n))
#define MR 4
#define NV 3
#endif

#define NR (NV * VW) /* columns of a full tile */
#define KC 256       /* rows of a panel: its copy is KC * NR reals, 24-32 KiB */
#define PREFETCH 8   /* rows of B ahead while reading a panel in place */

#define INLINE static inline __attribute__((always_inline))

/* C[mr x nv vectors] = A[mr x K] B[K x nv vectors] (+ C when accumulate),
 * with A[r][k] at A[r * sar + k * sak]. mr, nv and part are constants at
 * every call, so acc[][] becomes registers. With `part` the last vector only
 * touches the lanes in `last`. With `save` the B rows read also go to
 * save[k * NR ...], the panel copy. */
INLINE void tile(const int mr, const int nv, const bool part, lanes last, int K,
                 const rc_real *A, size_t sar, size_t sak, const rc_real *B, size_t ldb,
                 bool accumulate, const rc_real *bias, rc_real *C, size_t ldc, rc_real *save)
{
    vec acc[MR][NV];
#define LD(p, v) (part && (v) == nv - 1 ? LOADN((p), last) : LOAD(p))
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < nv; v++)
            acc[r][v] = accumulate ? LD(C + r * ldc + v * VW, v) : VZERO();
    if (bias) /* a row added to every row, from the registers */
        for (int v = 0; v < nv; v++) {
            const vec bv = LD(bias + v * VW, v);
            for (int r = 0; r < mr; r++)
                acc[r][v] += bv;
        }
#pragma GCC unroll 2
    for (int k = 0; k < K; k++) {
        const rc_real *b = B + k * ldb, *a = A + k * sak;
        vec bv[NV];
        for (int v = 0; v < nv; v++)
            bv[v] = LD(b + v * VW, v);
        if (save) { /* full tiles only: part is false */
            for (int v = 0; v < nv; v++)
                STORE(save + k * NR + v * VW, bv[v]);
            if (k + PREFETCH < K) /* rows ldb apart: no hardware prefetch */
                for (int v = 0; v < nv; v++)
                    __builtin_prefetch(b + PREFETCH * ldb + v * VW);
        }
        for (int r = 0; r < mr; r++) {
            vec ar = SET1(a[r * sar]);
            for (int v = 0; v < nv; v++)
                acc[r][v] = VFMA(ar, bv[v], acc[r][v]);
        }
    }
#undef LD
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < nv; v++) {
            rc_real *c = C + r * ldc + v * VW;
            if (part && v == nv - 1)
                STOREN(c, last, acc[r][v]);
            else
                STORE(c, acc[r][v]);
        }
}

/* A switch over mr = 1..MR that calls tile with constants (m <= MR keeps the
 * cases above MR out of the code). */
#define TILE_CASE(m, nv, part, save)                                                     \
    case m:                                                                              \
        if (m <= MR)                                                                     \
            tile(m <= MR ? m : 1, nv, part, last, K, A, sar, sak, B, ldb, accumulate,   \
                 bias, C, ldc, save);                                                    \
        break;
#define TILE_ROWS(nv, part, save)                                                        \
    switch (mr) {                                                                        \
        TILE_CASE(1, nv, part, save) TILE_CASE(2, nv, part, save)                        \
        TILE_CASE(3, nv, part, save) TILE_CASE(4, nv, part, save)                        \
        TILE_CASE(5, nv, part, save) TILE_CASE(6, nv, part, save)                        \
        TILE_CASE(7, nv, part, save) TILE_CASE(8, nv, part, save)                        \
    }
_Static_assert(MR <= 8 && NV <= 3, "TILE_ROWS and tiles() cover up to 8 x 3");
_Static_assert(NR == GEMM_NR, "isa.h's GEMM_NR is the tile width");

/* One tile of mr rows x nc columns: a full one (nc == NR), optionally
 * copying B to `save`, or the N tail with its last vector partial. */
INLINE void tiles_at(int mr, int nc, int K, const rc_real *A, size_t sar, size_t sak,
                     const rc_real *B, size_t ldb, bool accumulate, const rc_real *bias,
                     rc_real *C, size_t ldc, rc_real *save)
{
    lanes last = LANES(VW);
    if (nc == NR) {
        if (save)
            TILE_ROWS(NV, false, save)
        else
            TILE_ROWS(NV, false, (rc_real *)NULL)
        return;
    }
    const int nv = (nc + VW - 1) / VW;
    last = LANES(nc - (nv - 1) * VW);
    switch (nv) {
    case 1: TILE_ROWS(1, true, (rc_real *)NULL) break;
#if NV > 2
    case 2: TILE_ROWS(2, true, (rc_real *)NULL) break;
#endif
    default: TILE_ROWS(NV, true, (rc_real *)NULL) break;
    }
}

/* One of A's strides is always 1 (rows of A, or MR neighbours in a row of a
 * transposed A); as a constant it keeps the tile loop as tight as a
 * fixed-layout one (a run-time stride there cost 15% at 32x1024x256). */
static void tiles(int mr, int nc, int K, const rc_real *A, size_t sar, size_t sak,
                  const rc_real *B, size_t ldb, bool accumulate, const rc_real *bias,
                  rc_real *C, size_t ldc, rc_real *save)
{
    if (sak == 1)
        tiles_at(mr, nc, K, A, sar, 1, B, ldb, accumulate, bias, C, ldc, save);
    else if (sar == 1 && sak == MR) /* strips, as gemm_packed and a packed A^T make */
        tiles_at(mr, nc, K, A, 1, MR, B, ldb, accumulate, bias, C, ldc, save);
    else
        tiles_at(mr, nc, K, A, 1, sak, B, ldb, accumulate, bias, C, ldc, save);
}

/* One row: y[N] = a[K] B[K x N] (+ y), a[k] at a[k * sa]. B streams once,
 * row by row, into nv vectors of accumulators; when a row is only a few
 * vectors wide (N = 64: four) the k steps are dealt to G sets of them, so
 * that each FMA does not wait for the one before it. */
INLINE void row_part(const int nv, const int G, const bool part, lanes last, int K,
                     const rc_real *a, size_t sa, const rc_real *B, size_t ldb, bool accumulate,
                     rc_real *y)
{
    vec acc[G][nv];
#define LD(p, v) (part && (v) == nv - 1 ? LOADN((p), last) : LOAD(p))
    for (int g = 0; g < G; g++)
        for (int v = 0; v < nv; v++)
            acc[g][v] = VZERO();
    int k = 0;
    for (; k + G <= K; k += G)
        for (int g = 0; g < G; g++) {
            const vec ak = SET1(a[(size_t)(k + g) * sa]);
            const rc_real *b = B + (size_t)(k + g) * ldb;
            for (int v = 0; v < nv; v++)
                acc[g][v] = VFMA(ak, LD(b + v * VW, v), acc[g][v]);
        }
    for (; k < K; k++) {
        const vec ak = SET1(a[(size_t)k * sa]);
        for (int v = 0; v < nv; v++)
            acc[0][v] = VFMA(ak, LD(B + (size_t)k * ldb + v * VW, v), acc[0][v]);
    }
    for (int v = 0; v < nv; v++) {
        for (int g = 1; g < G; g++)
            acc[0][v] = VADD(acc[0][v], acc[g][v]);
        if (accumulate)
            acc[0][v] = VADD(acc[0][v], LD(y + v * VW, v));
        if (part && v == nv - 1)
            STOREN(y + v * VW, last, acc[0][v]);
        else
            STORE(y + v * VW, acc[0][v]);
    }
#undef LD
}

/* Accumulators of the row kernel: half the registers. */
#if defined(RC_ISA_AVX512)
#define ROW_NV 16
#else
#define ROW_NV 8
#endif

static void one_row(int N, int K, const rc_real *a, size_t sa, const rc_real *B, size_t ldb,
                    bool accumulate, rc_real *y)
{
    int j = 0;
    for (; N - j >= ROW_NV * VW; j += ROW_NV * VW)
        row_part(ROW_NV, 1, false, LANES(VW), K, a, sa, B + j, ldb, accumulate, y + j);
    /* the rest in pieces of 8, 4, 2 and 1 vectors, then the partial one */
    while (j < N) {
        const int left = N - j;
        if (left < VW) {
            row_part(1, 4, true, LANES(left), K, a, sa, B + j, ldb, accumulate, y + j);
            return;
        }
        int nv = ROW_NV / 2;
        while (nv * VW > left)
            nv /= 2;
#define ROW_CASE(n, g) \
    case n: row_part(n, g, false, LANES(VW), K, a, sa, B + j, ldb, accumulate, y + j); break;
        switch (nv) {
            ROW_CASE(8, 2) ROW_CASE(4, 4) ROW_CASE(2, 4) ROW_CASE(1, 4)
        }
#undef ROW_CASE
        j += nv * VW;
    }
}

/* dst[c][r] = src[r][c] for a rows x cols block: 8 x 8 (float) or 4 x 4
 * (double) tiles transposed in registers, the edges one by one. */
#if defined(RC_ISA_AVX512) || defined(RC_ISA_AVX2)
#if RC_REAL_IS_DOUBLE
#define TT 4
INLINE void transpose_tile(const double *s, size_t lds, double *d, size_t ldd)
{
    const __m256d r0 = _mm256_loadu_pd(s), r1 = _mm256_loadu_pd(s + lds),
                  r2 = _mm256_loadu_pd(s + 2 * lds), r3 = _mm256_loadu_pd(s + 3 * lds);
    const __m256d t0 = _mm256_unpacklo_pd(r0, r1), t1 = _mm256_unpackhi_pd(r0, r1),
                  t2 = _mm256_unpacklo_pd(r2, r3), t3 = _mm256_unpackhi_pd(r2, r3);
    _mm256_storeu_pd(d, _mm256_permute2f128_pd(t0, t2, 0x20));
    _mm256_storeu_pd(d + ldd, _mm256_permute2f128_pd(t1, t3, 0x20));
    _mm256_storeu_pd(d + 2 * ldd, _mm256_permute2f128_pd(t0, t2, 0x31));
    _mm256_storeu_pd(d + 3 * ldd, _mm256_permute2f128_pd(t1, t3, 0x31));
}
#else
#define TT 8
INLINE void transpose_tile(const float *s, size_t lds, float *d, size_t ldd)
{
    __m256 r[8], t[8];
    for (int i = 0; i < 8; i++)
        r[i] = _mm256_loadu_ps(s + i * lds);
    for (int i = 0; i < 8; i += 2) { /* pairs of rows interleaved */
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) { /* then pairs of pairs */
        r[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
        r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
        r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int i = 0; i < 4; i++) { /* then the 128-bit halves */
        _mm256_storeu_ps(d + i * ldd, _mm256_permute2f128_ps(r[i], r[i + 4], 0x20));
        _mm256_storeu_ps(d + (i + 4) * ldd, _mm256_permute2f128_ps(r[i], r[i + 4], 0x31));
    }
}
#endif
#else
#define TT 4
INLINE void transpose_tile(const rc_real *s, size_t lds, rc_real *d, size_t ldd)
{
    for (int r = 0; r < TT; r++)
        for (int c = 0; c < TT; c++)
            d[c * ldd + r] = s[r * lds + c];
}
#endif

/* Two tiles down at a time, so each row of dst gets a whole 64-byte line:
 * one tile's half lines would leave cache before the next row block fills
 * the other half (768x256: 0.22 -> 0.17 ns an element, 1024x128: 0.32 -> 0.23). */
void ISA_FN(transpose)(int rows, int cols, const rc_real *src, size_t lds, rc_real *dst,
                       size_t ldd)
{
    int r = 0;
    for (; r + 2 * TT <= rows; r += 2 * TT) {
        int c = 0;
        for (; c + TT <= cols; c += TT) {
            transpose_tile(src + r * lds + c, lds, dst + c * ldd + r, ldd);
            transpose_tile(src + (r + TT) * lds + c, lds, dst + c * ldd + r + TT, ldd);
        }
        for (; c < cols; c++)
            for (int i = r; i < r + 2 * TT; i++)
                dst[c * ldd + i] = src[i * lds + c];
    }
    for (; r + TT <= rows; r += TT) {
        int c = 0;
        for (; c + TT <= cols; c += TT)
            transpose_tile(src + r * lds + c, lds, dst + c * ldd + r, ldd);
        for (; c < cols; c++)
            for (int i = r; i < r + TT; i++)
                dst[c * ldd + i] = src[i * lds + c];
    }
    for (; r < rows; r++)
        for (int c = 0; c < cols; c++)
            dst[c * ldd + r] = src[r * lds + c];
}

/* A transposed A is read by rows of A: MR neighbours at each k, each k on
 * its own row lda apart. With many rows (lda large) that is KC pages per
 * tile; copied once per block into MR-row strips (strip[k][r]), it is read
 * in order, as an untransposed A is: 2000x256x640 122 -> 147 GFLOP/s. With
 * few the copy costs more than it saves (256x64x100 200 -> 154). */
enum { PACK_A_ROWS = 512 };
#define MC (int)(128 / sizeof(rc_real)) /* rows copied at a time: 32 KiB */

static void pack_transposed_a(rc_real *strips, const rc_real *A, size_t lda, int kc, int mc)
{
    for (int k = 0; k < kc; k++) { /* row by row: each row of A is read once, in order */
        const rc_real *a = A + (size_t)k * lda;
        for (int i = 0; i < mc; i += MR) {
            rc_real *s = strips + (size_t)i * kc + (size_t)k * MR;
            if (mc - i >= MR)
                memcpy(s, a + i, MR * sizeof *s);
            else
                for (int r = 0; r < mc - i; r++)
                    s[r] = a[i + r];
        }
    }
}

/* Touches the lines of C's tile of rows x NR at c ahead of its use. A fresh
 * C is written panel by panel, each tile's rows ldc apart, and no hardware
 * prefetcher follows that, so without this every line of C (and, when
 * accumulating, every load of one) waits on L3 or memory. A tail tile's
 * lines past N do no harm. */
INLINE void prefetch_c(rc_real *c, size_t ldc, int rows)
{
    for (int r = 0; r < rows; r++)
        prefetch_span(c + (size_t)r * ldc, NR * sizeof *c, true);
}

/* The tile after (i, j) of an mc-row block: the next rows of the panel, or
 * the first rows of the next panel. */
INLINE void prefetch_next(rc_real *C, size_t ldc, int i, int j, int mc, int N)
{
    if (i + MR < mc)
        prefetch_c(C + (size_t)(i + MR) * ldc + j, ldc, mc - i - MR < MR ? mc - i - MR : MR);
    else if (j + NR < N)
        prefetch_c(C + j + NR, ldc, mc < MR ? mc : MR);
}

/* Of a transposed B's next panel (rows j .. j + NR of B, kc reals each from
 * column k), the share of row block i's tile: the panel is transposed all at
 * once, so its reads from L3 would come with no arithmetic to hide them. */
INLINE void prefetch_panel(const rc_real *B, size_t ldb, int i, int mc, int j, int N, int kc)
{
    if (j >= N)
        return;
    const int tiles = (mc + MR - 1) / MR, rows = N - j < NR ? N - j : NR;
    const int per = (rows + tiles - 1) / tiles, r0 = i / MR * per;
    for (int r = r0; r < r0 + per && r < rows; r++)
        prefetch_span(B + (size_t)(j + r) * ldb, (size_t)kc * sizeof *B, false);
}

/* C += bias, row by row: the products with no tiles to fold it into */
static void add_bias(int M, int N, const rc_real *bias, rc_real *C, int ldc)
{
    for (int i = 0; bias && i < M; i++)
        for (int j = 0; j < N; j++)
            C[(size_t)i * ldc + j] += bias[j];
}

void ISA_FN(gemm_tiled)(bool ta, bool tb, int M, int N, int K, const rc_real *A, int lda,
                        const rc_real *B, int ldb, rc_real beta, const rc_real *bias,
                        rc_real *C, int ldc)
{
    if (M <= 0 || N <= 0)
        return;
    if (K <= 0) {
        if (beta == 0)
            for (int i = 0; i < M; i++)
                memset(C + (size_t)i * ldc, 0, (size_t)N * sizeof *C);
        add_bias(M, N, bias, C, ldc);
        return;
    }
    if (M == 1 && !tb) {
        one_row(N, K, A, ta ? (size_t)lda : 1, B, (size_t)ldb, beta != 0, C);
        add_bias(M, N, bias, C, ldc);
        return;
    }
    const size_t sar = ta ? 1 : (size_t)lda, sak = ta ? (size_t)lda : 1;
    alignas(64) rc_real pack[KC * NR];
    alignas(64) rc_real strips[MC * KC];
    const bool pack_a = ta && M >= PACK_A_ROWS;
    const int mc_max = pack_a ? MC : M;
    for (int k = 0; k < K; k += KC) {
        const int kc = K - k < KC ? K - k : KC;
        const bool accumulate = k > 0 || beta != 0; /* beta 0: C is never read */
        for (int i0 = 0; i0 < M; i0 += mc_max) {
            const int mc = M - i0 < mc_max ? M - i0 : mc_max;
            if (pack_a)
                pack_transposed_a(strips, A + (size_t)k * lda + i0, (size_t)lda, kc, mc);
            for (int j = 0; j < N; j += NR) {
                const int nc = N - j < NR ? N - j : NR;
                const rc_real *b = B + (size_t)k * ldb + j;
                size_t sb = (size_t)ldb;
                if (tb) {
                    /* panel[k][c] = B[c][k], rows NR apart, read as an untransposed B */
                    ISA_FN(transpose)(nc, kc, B + (size_t)j * ldb + k, (size_t)ldb, pack, NR);
                    b = pack;
                    sb = NR;
                }
                for (int i = 0; i < mc; i += MR) {
                    const rc_real *a = pack_a ? strips + (size_t)i * kc
                                              : A + (i0 + i) * sar + k * sak;
                    /* A lone row block or the N tail reads B in place. */
                    rc_real *save = !tb && nc == NR && mc > MR && i == 0 ? pack : NULL;
                    prefetch_next(C + (size_t)i0 * ldc, (size_t)ldc, i, j, mc, N);
                    if (tb)
                        prefetch_panel(B + k, (size_t)ldb, i, mc, j + NR, N, kc);
                    tiles(mc - i < MR ? mc - i : MR, nc, kc, a, pack_a ? 1 : sar,
                          pack_a ? MR : sak, b, sb, accumulate, k == 0 && bias ? bias + j : NULL,
                          C + (size_t)(i0 + i) * ldc + j, (size_t)ldc, save);
                    if (save) {
                        b = pack;
                        sb = NR;
                    }
                }
            }
        }
    }
}

/* B laid out for gemm_packed: panels of NR columns, each panel's K rows of NR
 * one after another ([panel][k][NR]), the last panel's missing columns zero.
 * tb: B is given transposed (N x K, a weight w for products against w^T). */
void ISA_FN(pack_b)(bool tb, int K, int N, const rc_real *B, int ldb, rc_real *dst)
{
    for (int j = 0; j < N; j += NR) {
        const int nc = N - j < NR ? N - j : NR;
        rc_real *panel = dst + (size_t)j * K;
        if (nc < NR)
            memset(panel, 0, (size_t)K * NR * sizeof *panel);
        if (tb)
            ISA_FN(transpose)(nc, K, B + (size_t)j * ldb, (size_t)ldb, panel, NR);
        else
            for (int k = 0; k < K; k++)
                memcpy(panel + (size_t)k * NR, B + (size_t)k * ldb + j, (size_t)nc * sizeof *B);
    }
}

/* C = A Bp + beta C (beta 0 or 1) for Bp made by pack_b. Each tile reads its
 * panel in order, and its rows of A from a strip copied for the block
 * (strip[k][r]): one pointer where eight rows lda apart ran short of
 * registers. No strided rows and no per-call copy of B, so the prefetcher
 * keeps up (one core, gemm_bench 32x1024x256: about 220 GFLOP/s against
 * about 200 reading B in place). */
void ISA_FN(gemm_packed)(int M, int N, int K, const rc_real *A, int lda, const rc_real *Bp,
                         rc_real beta, const rc_real *bias, rc_real *C, int ldc)
{
    if (M <= 0 || N <= 0)
        return;
    if (K <= 0) {
        ISA_FN(gemm_tiled)(false, false, M, N, K, A, lda, Bp, NR, beta, bias, C, ldc);
        return;
    }
    alignas(64) rc_real strips[MC * KC];
    for (int k = 0; k < K; k += KC) {
        const int kc = K - k < KC ? K - k : KC;
        const bool accumulate = k > 0 || beta != 0;
        for (int i0 = 0; i0 < M; i0 += MC) {
            const int mc = M - i0 < MC ? M - i0 : MC;
            for (int i = 0; i < mc; i += MR)
                ISA_FN(transpose)(mc - i < MR ? mc - i : MR, kc,
                                  A + (size_t)(i0 + i) * lda + k, (size_t)lda,
                                  strips + (size_t)i * kc, MR);
            for (int j = 0; j < N; j += NR) {
                const int nc = N - j < NR ? N - j : NR;
                const rc_real *panel = Bp + (size_t)j * K + (size_t)k * NR;
                for (int i = 0; i < mc; i += MR) {
                    prefetch_next(C + (size_t)i0 * ldc, (size_t)ldc, i, j, mc, N);
                    tiles(mc - i < MR ? mc - i : MR, nc, kc, strips + (size_t)i * kc, 1, MR,
                          panel, NR, accumulate, k == 0 && bias ? bias + j : NULL,
                          C + (size_t)(i0 + i) * ldc + j, (size_t)ldc, NULL);
                }
            }
        }
    }
}
