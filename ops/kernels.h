/* ops/kernels.h - the vector kernels, one table per ISA (ops/kernels.c is
 * compiled once per ISA); rc__kernels() returns the one this CPU runs best,
 * or the one RECUR_ISA names. Internal to ops/. */
#ifndef RECUR_OPS_KERNELS_H
#define RECUR_OPS_KERNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
    RC_RUN_TANH_BWD,    /* y += a * (1 - b^2): a = dy, b = tanh(x) */
    RC_RUN_SIGMOID_BWD, /* y += a * b (1 - b): a = dy, b = sigmoid(x) */
} rc_run_op;

typedef struct rc_kernels {
    const char *isa;
    rc_map_fn tanh, sigmoid, exp, log;
    void (*run)(rc_run_op op, rc_real *y, const rc_real *a, const rc_real *b, size_t n);
    /* y = exp(x - max(x)) over n > 0 elements; returns sum(y), *max_out =
     * max(x) and, unless min_out is NULL, *min_out = min(x) (a NaN may or
     * may not show in them; it always shows in the sum). The shared step
     * of softmax, log-softmax and cross-entropy rows. */
    double (*exp_shift)(rc_real *y, const rc_real *x, size_t n, rc_real *max_out,
                        rc_real *min_out);
    /* y = a x + b y, b 0 (y not read) or 1; y may be x. */
    void (*axpby)(rc_real *y, rc_real a, const rc_real *x, rc_real b, size_t n);
    /* C = alpha op(A) op(B) + beta C, row-major; op = transpose when ta/tb.
     * op(A) is M x K, op(B) is K x N. beta == 0 overwrites C. */
    void (*gemm)(bool ta, bool tb, int M, int N, int K, rc_real alpha,
                 const rc_real *A, int lda, const rc_real *B, int ldb, rc_real beta,
                 rc_real *C, int ldc);
    /* C = op(A) op(B) + beta C + bias (beta 0 or 1; bias, unless NULL, a row
     * of N added to every row in the tiles' registers), as gemm with
     * alpha 1: recur's own register-tiled kernel (ops/kernels_gemm.c). Made
     * for the per-step recurrent products, where BLAS's packing of B costs
     * as much as the arithmetic; with AVX-512 it also matches BLAS's best
     * kernels on large products. */
    void (*gemm_tiled)(bool ta, bool tb, int M, int N, int K, const rc_real *A, int lda,
                       const rc_real *B, int ldb, rc_real beta, const rc_real *bias,
                       rc_real *C, int ldc);
    /* B packed once for many products (a weight's per-graph copy): panels
     * of pack_cols columns, each panel's K rows contiguous, the last panel
     * zero-padded; ceil(N / pack_cols) * pack_cols * K reals. tb: B is
     * given as its transpose, N x K. gemm_packed is gemm_tiled's
     * C = A B + beta C + bias (beta 0 or 1, A untransposed) on such a B. */
    int pack_cols;
    void (*pack_b)(bool tb, int K, int N, const rc_real *B, int ldb, rc_real *dst);
    void (*gemm_packed)(int M, int N, int K, const rc_real *A, int lda, const rc_real *Bp,
                        rc_real beta, const rc_real *bias, rc_real *C, int ldc);
    /* dst[c * ldd + r] = src[r * lds + c] for r < rows, c < cols. */
    void (*transpose)(int rows, int cols, const rc_real *src, size_t lds, rc_real *dst,
                      size_t ldd);
    /* Fused cell pointwise math over B rows of H units (ops/kernels_cell.c).
     * LSTM: z = gi + gh (+ bi + bh) in torch's gate order i f g o; act gets
     * sigmoid(i) sigmoid(f) tanh(g) sigmoid(o) (4H per row; act may be gi
     * itself) for the backward, which reads c' (c_out) again, overwrites dz
     * (B x 4H, d loss / d z; dz may be act) from dh and dc_out and adds into
     * dc when it is not NULL. */
    void (*lstm_fwd)(int B, int H, const rc_real *gi, const rc_real *gh,
                     const rc_real *bi, const rc_real *bh, const rc_real *c, rc_real *h_out,
                     rc_real *c_out, rc_real *act);
    void (*lstm_bwd)(int B, int H, const rc_real *act, const rc_real *c, const rc_real *c_out,
                     const rc_real *dh, const rc_real *dc_out, rc_real *dz, rc_real *dc);
    /* GRU, torch.nn.GRU's equations in gate order r z n (the reset gate
     * scales gh_n + bias_n): act gets r, z, n and gh_n + bias_n (4H per row).
     * The backward overwrites dgi and dgh (B x 3H each; they differ in the n
     * block) and adds into dh when not NULL. */
    void (*gru_fwd)(int B, int H, const rc_real *gi, const rc_real *gh, const rc_real *bi,
                    const rc_real *bh, const rc_real *h, rc_real *h_out, rc_real *act);
    void (*gru_bwd)(int B, int H, const rc_real *act, const rc_real *h, const rc_real *dh_out,
                    rc_real *dgi, rc_real *dgh, rc_real *dh);
    /* Additive attention over one batch row's S keys of A units:
     * scores[s] = v . tanh(keys[s] + q). The backward recomputes the tanh
     * and adds d scores' share into dkeys (S x A), dq and dv (A each); any
     * of them may be NULL. */
    void (*additive_fwd)(int S, int A, const rc_real *keys, const rc_real *q, const rc_real *v,
                         rc_real *scores);
    void (*additive_bwd)(int S, int A, const rc_real *keys, const rc_real *q, const rc_real *v,
                         const rc_real *dscores, rc_real *dkeys, rc_real *dq, rc_real *dv);
} rc_kernels;

const rc_kernels *rc__kernels(void);

/* Matrix product through BLAS when built with one, else the kernel. */
void rc__gemm(bool ta, bool tb, int M, int N, int K, rc_real alpha, const rc_real *A,
              int lda, const rc_real *B, int ldb, rc_real beta, rc_real *C, int ldc);
/* The same; with scan, each thread then scans its slab of C for NaN/Inf while
 * it is in cache (see rc_all_finite in recur/op.h). True iff scan and all of C
 * came out finite. */
bool rc__gemm_scanned(bool scan, bool ta, bool tb, int M, int N, int K, rc_real alpha,
                      const rc_real *A, int lda, const rc_real *B, int ldb, rc_real beta,
                      rc_real *C, int ldc);
/* rc__gemm_scanned with alpha 1 and beta 0 or 1, and bias [N] (unless NULL)
 * added to every row of C, in the tiles' registers or block by block while
 * each is in cache: a linear layer's output written once instead of filled
 * with its bias first and then read back. */
bool rc__gemm_bias_scanned(bool scan, bool ta, bool tb, int M, int N, int K, const rc_real *A,
                           int lda, const rc_real *B, int ldb, const rc_real *bias, rc_real beta,
                           rc_real *C, int ldc);
/* Whether an M x N x K product (A untransposed) runs on recur's tiles, so
 * that a B used for many such products pays for packing once
 * (rc_kernels.pack_b); rc__gemm_packed_scanned is then rc__gemm_bias_scanned
 * on the packed B, with beta 0 or 1. */
bool rc__gemm_packs(int M, int N, int K);
bool rc__gemm_packed_scanned(bool scan, int M, int N, int K, const rc_real *A, int lda,
                             const rc_real *Bp, const rc_real *bias, rc_real beta, rc_real *C,
                             int ldc);

/* A weight used at many steps (ops/matmul.c): its gradient pieces, d rows
 * [m x N] against a rows [m x K], summed in few large products at the end
 * of backward: dW [N x K] += sum d^T a when tb (the weight was used
 * transposed), else dW [K x N] += sum a^T d. Runs of pieces whose d rows
 * follow one another in memory are read in place; the rest is copied into
 * stacks. False (error recorded) when out of memory. */
typedef struct rc__wpiece {
    const rc_real *a, *d;
    int m;
} rc__wpiece;
bool rc__weight_grad_sum(rc_graph *g, const rc__wpiece *piece, size_t count, int K, int N,
                         bool tb, rc_real *dW);
/* A deferred node's use of its weight w (K, N, tb as above) and its piece;
 * rc__weight_grads groups the nodes by weight and sums each group: the body
 * of an op's rc_deferred_fn. */
typedef struct rc__wuse {
    rc_node *w;
    bool tb;
    int K, N;
    rc__wpiece piece;
} rc__wuse;
typedef rc__wuse (*rc__piece_fn)(const rc_node *n);
void rc__weight_grads(rc_graph *g, rc_node *const nodes[], size_t count, rc__piece_fn piece_of);
/* One cross-entropy row (ops/softmax.c): y = softmax(x) * scale, unless
 * scale is 0 (y then holds exp(x - max(x)) only; y may be x), and returns
 * -log softmax(x)[t], computed with x shifted by its max. Unless finite is
 * NULL, *finite says whether every x was finite, found on the way. */
double rc__softmax_nll(rc_real *y, const rc_real *x, size_t C, int32_t t, rc_real scale,
                       bool *finite);
/* When x's values are whole rows of an embedding's output (x itself or a
 * 2-D view of it): the table, the ids of x's rows, and how many rows the
 * embedding made in all (ops/shape.c; matmul's fold reads them). */
bool rc__embedded_rows(const rc_node *x, rc_node **table, const int32_t **ids,
                       size_t *all_rows);
/* rc_memo tags of ops' per-graph data keyed by a node. */
enum { RC__MEMO_TRANSPOSE = 1, RC__MEMO_ROW_CLAIMS, RC__MEMO_PACKED, RC__MEMO_FOLD };
/* Rows of a product recur's tiled kernel takes at a time (gemm.c) */
enum { RC__TILED_ROWS = 256 };
/* b^T of parameter b [N x K] as [K x N], made once per graph (a memo), so
 * per-step products of few rows run on an untransposed operand. NULL (error
 * recorded) when out of memory. */
const rc_real *rc__transposed(rc_graph *g, rc_node *b, int N, int K);
/* c [M x N] = a [M x K] w^T (+ bias [N] on every row, unless NULL; + c
 * itself with beta 1) for a weight w [N x K] (a parameter): few rows (a time
 * step's) or many (above RC__TILED_ROWS) run on w's per-graph transpose when
 * w is not large. *checked as rc__gemm_scanned. False (error recorded) when
 * out of memory. */
bool rc__gemm_weight_nt(rc_graph *g, rc_node *w, int M, const rc_real *a, const rc_real *bias,
                        rc_real beta, rc_real *c, bool scan, bool *checked);

/* recur's own threads (ops/parallel.c). fn(ctx, part, parts) runs for every
 * part in [0, parts) at once, part 0 on the calling thread; parts is capped
 * at rc_num_threads(), so fn must read the parts it is given. Not
 * reentrant: only the thread building the graph calls it, never from
 * inside fn. */
typedef void (*rc_part_fn)(void *ctx, int part, int parts);
void rc__parallel(rc_part_fn fn, void *ctx, int parts);
/* [lo, hi) of part out of parts over n items, in multiples of align (the
 * last part takes the remainder). */
void rc__split(int n, int align, int part, int parts, int *lo, int *hi);

/* __builtin_prefetch takes its read/write flag only as a constant */
static inline void prefetch_line(const char *c, bool write)
{
    if (write)
        __builtin_prefetch(c, 1, 3);
    else
        __builtin_prefetch(c, 0, 3);
}

/* Asks for the cache lines of [p, p + bytes), for writing or for reading; a
 * prefetch never faults, so a span may run past the end of an array. */
static inline void prefetch_span(const void *p, size_t bytes, bool write)
{
    const char *c = p;
    for (size_t b = 0; b < bytes; b += 64)
        prefetch_line(c + b, write);
    if (bytes) /* the last line, when p does not start one */
        prefetch_line(c + bytes - 1, write);
}

#endif
