/* matmul: a [... x M x K] . b [... x K x N] (either transposed), batched over
 * the leading dims, or with one 2-D b shared by every batch entry; plus an
 * optional bias row [N] (third input), added to every output row. */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "recur/op.h"
#include "recur/ops.h"

/* i[0] = flags, i[1] = batch count, i[2..3] = M, K; f unused. The shared-b
 * case without a transposed a folds the batch into M: one large product. */
typedef struct dims {
    bool ta, tb, shared_b;
    int batch, M, N, K, lda, ldb;
} dims;

static dims dims_of(const rc_node *n)
{
    const rc_shape *a = &n->in[0]->val.shape, *b = &n->in[1]->val.shape;
    dims d;
    d.ta = n->i[0] & RC_TRANS_A;
    d.tb = n->i[0] & RC_TRANS_B;
    int ar = a->d[a->ndim - 2], ac = a->d[a->ndim - 1];
    int br = b->d[b->ndim - 2], bc = b->d[b->ndim - 1];
    d.M = d.ta ? ac : ar;
    d.K = d.ta ? ar : ac;
    d.N = d.tb ? br : bc;
    d.lda = ac;
    d.ldb = bc;
    d.batch = 1;
    for (int k = 0; k < a->ndim - 2; k++)
        d.batch *= a->d[k];
    d.shared_b = b->ndim == 2;
    if (d.shared_b && !d.ta) { /* stacked rows: one product */
        d.M *= d.batch;
        d.batch = 1;
    }
    return d;
}

static int matmul_shape(rc_graph *g, rc_node *n)
{
    const rc_shape *a = &n->in[0]->val.shape, *b = &n->in[1]->val.shape;
    char sa[64], sb[64];
    if (a->ndim < 2 || b->ndim < 2)
        return rc_fail(g, n, "needs matrices (2+ dims), got a %s and b %s",
                       rc_shape_str(*a, sa), rc_shape_str(*b, sb));
    if (n->i[0] & ~(RC_TRANS_A | RC_TRANS_B))
        return rc_fail(g, n, "unknown flags %#x", (unsigned)n->i[0]);
    bool ta = n->i[0] & RC_TRANS_A, tb = n->i[0] & RC_TRANS_B;
    int K_a = ta ? a->d[a->ndim - 2] : a->d[a->ndim - 1];
    int K_b = tb ? b->d[b->ndim - 1] : b->d[b->ndim - 2];
    if (K_a != K_b)
        return rc_fail(g, n, "inner dimensions differ: a%s %s . b%s %s (%d vs %d)",
                       ta ? "^T" : "", rc_shape_str(*a, sa), tb ? "^T" : "",
                       rc_shape_str(*b, sb), K_a, K_b);
    if (b->ndim > 2) {
        bool same = a->ndim == b->ndim;
        for (int k = 0; same && k < a->ndim - 2; k++)
            same = a->d[k] == b->d[k];
        if (!same)
            return rc_fail(g, n,
                           "batch dims differ: a %s, b %s (a batched b needs the same "
                           "leading dims as a)",
                           rc_shape_str(*a, sa), rc_shape_str(*b, sb));
    }
    n->val.shape = *a;
    n->val.shape.d[a->ndim - 2] = ta ? a->d[a->ndim - 1] : a->d[a->ndim - 2];
    n->val.shape.d[a->ndim - 1] = tb ? b->d[b->ndim - 2] : b->d[b->ndim - 1];
    const int N = n->val.shape.d[a->ndim - 1];
    if (n->nin == 3 && (n->in[2]->val.shape.ndim != 1 || n->in[2]->val.shape.d[0] != N))
        return rc_fail(g, n, "bias must be [%d] (the product's columns), got %s", N,
                       rc_shape_str(n->in[2]->val.shape, sa));
    return 0;
}

/* A product of a few rows with a weight is usually one time step of a
 * recurrent layer, repeated T times against the same weight. Two things pay
 * off then: the weight packed once per graph for the tiles (for weights of
 * up to 1M elements: on larger ones the kernel reads the weight in place
 * nearly as fast, gemm_bench 64x4096x1024 NN 154 vs NT 154 GFLOP/s, and the
 * copy would cost memory; at 32x1024x256 NT runs at 158, packed at 223),
 * and the weight's gradient pieces dC^T op(a) summed in one large product
 * at the end of backward instead of T thin ones that each stream the whole
 * gradient matrix. Other products against a weight of up to 1M elements
 * use its plain transpose, also made once per graph (below). */
enum {
    FEW_ROWS = 128,
    TALL_PACK_K = 128,
    TRANSPOSE_MAX = 1 << 20,
    STACK_BYTES = 16 << 20,
    PARALLEL_COPY = 1 << 19
};

/* b is a parameter used as a weight: one matrix for all rows of a */
static bool weight_operand(const rc_node *b, const dims *d)
{
    return b->name && d->batch == 1 && d->shared_b && !d->ta;
}

static bool per_step_weight(const rc_node *b, const dims *d)
{
    return weight_operand(b, d) && d->M < FEW_ROWS;
}

const rc_real *rc__transposed(rc_graph *g, rc_node *b, int N, int K)
{
    rc_real *t = rc_memo_get(g, b, RC__MEMO_TRANSPOSE);
    if (t || !(t = rc_arena_alloc(g, (size_t)N * K * sizeof *t)))
        return t;
    rc__kernels()->transpose(N, K, b->val.data, (size_t)K, t, (size_t)N);
    rc_memo_put(g, b, RC__MEMO_TRANSPOSE, t);
    return t;
}

/* w [N x K] packed once per graph (a memo) for products against w^T; NULL
 * (error recorded) when out of memory. */
static const rc_real *packed_weight(rc_graph *g, rc_node *w)
{
    rc_real *p = rc_memo_get(g, w, RC__MEMO_PACKED);
    if (p)
        return p;
    const rc_kernels *kt = rc__kernels();
    const int N = w->val.shape.d[0], K = w->val.shape.d[1];
    const size_t cols = ((size_t)N + kt->pack_cols - 1) / kt->pack_cols * kt->pack_cols;
    if (!(p = rc_arena_alloc(g, cols * K * sizeof *p)))
        return NULL;
    kt->pack_b(true, K, N, w->val.data, K, p);
    rc_memo_put(g, w, RC__MEMO_PACKED, p);
    return p;
}

/* Whether products of M rows against w^T, for a weight w [N x K], run on
 * its packed copy: w not large (the copy costs memory), recur's tiles take
 * the shape, and either a time step's few rows or a tall product of small
 * K, such as a layer's hoisted input projection (gemm_bench, GFLOP/s,
 * packed vs in place: 256x1024x128 201-218 vs 195-211, 640x768x128 218-222
 * vs 208-211; with a larger K or N the in-place kernel's blocking wins:
 * 640x256x2000 187 vs 204, 640x2000x256 185-189 vs 197-198). The
 * backward's dA = dC w reads w in place: a copy packed for it gained 2-6%
 * on the product but cost more than that over W4's 20 steps. */
static bool packs_weight(const rc_node *w, int M)
{
    const int N = w->val.shape.d[0], K = w->val.shape.d[1];
    return (M < FEW_ROWS || K <= TALL_PACK_K) && (size_t)N * K <= TRANSPOSE_MAX &&
           rc__gemm_packs(M, N, K);
}

bool rc__gemm_weight_nt(rc_graph *g, rc_node *w, int M, const rc_real *a, const rc_real *bias,
                        rc_real beta, rc_real *c, bool scan, bool *checked)
{
    const int N = w->val.shape.d[0], K = w->val.shape.d[1];
    if (packs_weight(w, M)) {
        const rc_real *p = packed_weight(g, w);
        if (p)
            *checked = rc__gemm_packed_scanned(scan, M, N, K, a, K, p, bias, beta, c, N);
        return p != NULL;
    }
    /* Tall products go RC__TILED_ROWS rows at a time (gemm.c), and each
     * block would transpose the weight's panels again (W1's projection:
     * 8 times). */
    const bool transpose = (M < FEW_ROWS || M > RC__TILED_ROWS) && (size_t)N * K <= TRANSPOSE_MAX;
    const rc_real *b = transpose ? rc__transposed(g, w, N, K) : w->val.data;
    if (!b)
        return false;
    const int ldb = transpose ? N : K;
    *checked =
        rc__gemm_bias_scanned(scan, false, !transpose, M, N, K, a, K, b, ldb, bias, beta, c, N);
    return true;
}

/* The output is scanned for NaN/Inf slab by slab, by the threads that made it
 * (rc__gemm_scanned), instead of by rc_apply on one thread afterwards. */
static void matmul_fwd(rc_graph *g, rc_node *n)
{
    dims d = dims_of(n);
    const rc_real *A = n->in[0]->val.data, *B = n->in[1]->val.data;
    /* the bias goes onto each block of rows as the product leaves it */
    const rc_real *bias = n->nin == 3 ? n->in[2]->val.data : NULL;
    const bool scan = rc_graph_checks_finite(g);
    if (d.tb && weight_operand(n->in[1], &d)) {
        rc__gemm_weight_nt(g, n->in[1], d.M, A, bias, 0, n->val.data, scan, &n->checked);
        return;
    }
    size_t sa = (size_t)d.M * d.K, sb = d.shared_b ? 0 : (size_t)d.K * d.N,
           sc = (size_t)d.M * d.N;
    bool checked = true;
    for (int t = 0; t < d.batch; t++)
        checked &= rc__gemm_bias_scanned(scan, d.ta, d.tb, d.M, d.N, d.K, A + t * sa, d.lda,
                                         B + t * sb, d.ldb, bias, 0, n->val.data + t * sc, d.N);
    n->checked = checked;
}

/* Copies the pieces of a stack (a rows and, unless they are used in place,
 * d rows) into place, dealt out round-robin over recur's threads. */
typedef struct stack_job {
    const rc__wpiece *piece;
    const size_t *row; /* each piece's first row in the stack */
    size_t count;
    int K, N;
    rc_real *As, *Ds;
    bool copy_ds; /* false: runs of d rows are used in place (flush_stack) */
} stack_job;

static void stack_part(void *ctx, int part, int parts)
{
    const stack_job *j = ctx;
    for (size_t p = (size_t)part; p < j->count; p += (size_t)parts) {
        const rc__wpiece *w = &j->piece[p];
        memcpy(j->As + j->row[p] * j->K, w->a, (size_t)w->m * j->K * sizeof(rc_real));
        if (j->copy_ds)
            memcpy(j->Ds + j->row[p] * j->N, w->d, (size_t)w->m * j->N * sizeof(rc_real));
    }
}

/* Whether piece p's d rows follow piece p-1's in memory. */
static bool d_follows(const stack_job *j, size_t p)
{
    return j->piece[p].d == j->piece[p - 1].d + (j->row[p] - j->row[p - 1]) * j->N;
}

/* dW += the stack's products. A recurrent layer's per-step d often lie in
 * one block already: a fused cell's d gates, allocated step after step as
 * backward walks the tape, in the order the pieces were deferred. Runs of
 * such pieces (at least 4 pieces a run on average) are then used in place,
 * one product per run, and only the a rows are copied (W1: 2 runs, 2 of 10
 * MB copied); otherwise both stacks are copied and make one product. */
static bool flush_stack(rc_graph *g, stack_job *j, size_t rows, size_t cap, bool tb,
                        rc_real *dW)
{
    size_t runs = 1;
    for (size_t p = 1; p < j->count; p++)
        runs += !d_follows(j, p);
    j->copy_ds = j->count > 1 && runs * 4 > j->count;
    if (j->copy_ds && !j->Ds && !(j->Ds = rc_arena_alloc(g, cap * j->N * sizeof(rc_real))))
        return false;
    /* a few rows are copied before a sleeping thread would wake */
    const size_t bytes = rows * ((size_t)j->K + (j->copy_ds ? (size_t)j->N : 0)) * sizeof(rc_real);
    if (j->count > 1)
        rc__parallel(stack_part, j, bytes >= PARALLEL_COPY ? (int)j->count : 1);
    const int K = j->K, N = j->N;
    for (size_t p = 0, end; p < j->count; p = end) {
        end = j->copy_ds ? j->count : p + 1;
        while (end < j->count && d_follows(j, end))
            end++;
        const size_t lo = j->row[p];
        const int m = (int)((end < j->count ? j->row[end] : rows) - lo);
        /* one piece is its own stack: no copy */
        const rc_real *As = j->count == 1 ? j->piece[0].a : j->As + lo * K;
        const rc_real *Ds = j->copy_ds ? j->Ds : j->piece[p].d;
        if (tb) /* dW [N x K] += Ds^T As */
            rc__gemm(true, false, N, K, m, 1, Ds, N, As, K, 1, dW, K);
        else /* dW [K x N] += As^T Ds */
            rc__gemm(true, false, K, N, m, 1, As, K, Ds, N, 1, dW, N);
    }
    return true;
}

bool rc__weight_grad_sum(rc_graph *g, const rc__wpiece *piece, size_t count, int K, int N,
                         bool tb, rc_real *dW)
{
    /* ~STACK_BYTES a stack, but room for the largest piece, and no larger
     * than what it stacks */
    size_t cap = STACK_BYTES / (((size_t)K + N) * sizeof(rc_real)), total = 0, largest = 0;
    for (size_t p = 0; p < count; p++) {
        total += (size_t)piece[p].m;
        largest = (size_t)piece[p].m > largest ? (size_t)piece[p].m : largest;
    }
    cap = cap < largest ? largest : cap > total ? total : cap;
    size_t *row = rc_arena_alloc(g, count * sizeof *row);
    stack_job job = {piece, row, 0, K, N, rc_arena_alloc(g, cap * K * sizeof(rc_real)), NULL,
                     false};
    if (!row || !job.As)
        return false;
    size_t rows = 0, first = 0;
    for (size_t p = 0; p <= count; p++) {
        if (rows && (p == count || rows + (size_t)piece[p].m > cap)) {
            job.piece = piece + first;
            job.row = row + first;
            job.count = p - first;
            if (!flush_stack(g, &job, rows, cap, tb, dW))
                return false;
            rows = 0;
            first = p;
        }
        if (p < count) {
            row[p] = rows;
            rows += (size_t)piece[p].m;
        }
    }
    return true;
}

static int by_address(const void *a, const void *b)
{
    const uintptr_t x = (uintptr_t)((const rc__wpiece *)a)->d,
                    y = (uintptr_t)((const rc__wpiece *)b)->d;
    return (x > y) - (x < y);
}

void rc__weight_grads(rc_graph *g, rc_node *const nodes[], size_t count, rc__piece_fn piece_of)
{
    bool *done = rc_arena_zalloc(g, count * sizeof *done);
    rc__wpiece *piece = rc_arena_alloc(g, count * sizeof *piece);
    if (!done || !piece)
        return;
    for (size_t i = 0; i < count; i++) {
        if (done[i])
            continue;
        rc__wuse first = piece_of(nodes[i]), use;
        size_t n = 0;
        for (size_t j = i; j < count; j++)
            if (!done[j] && (use = piece_of(nodes[j])).w == first.w && use.tb == first.tb) {
                piece[n++] = use.piece;
                done[j] = true;
            }
        /* in memory order: a layer's steps defer last step first, but may
         * have written their d rows into one block from its end */
        qsort(piece, n, sizeof *piece, by_address);
        rc_real *dW = rc_grad_buf(g, first.w);
        if (!dW || !rc__weight_grad_sum(g, piece, n, first.K, first.N, first.tb, dW))
            return;
    }
}

static rc__wuse matmul_piece(const rc_node *n)
{
    const dims d = dims_of(n);
    return (rc__wuse){n->in[1], d.tb, d.K, d.N, {n->in[0]->val.data, n->grad, d.M}};
}

/* The deferred weight gradients of matmul nodes. */
static void weight_grads(rc_graph *g, rc_node *const nodes[], size_t count)
{
    rc__weight_grads(g, nodes, count, matmul_piece);
}

static void matmul_bwd(rc_graph *g, rc_node *n)
{
    dims d = dims_of(n);
    rc_node *a = n->in[0], *b = n->in[1];
    size_t sa = (size_t)d.M * d.K, sb = d.shared_b ? 0 : (size_t)d.K * d.N,
           sc = (size_t)d.M * d.N;
    const rc_real *dC = n->grad;
    if (n->nin == 3 && n->in[2]->requires_grad) { /* d bias = column sums of dC */
        rc_real *db = rc_grad_buf(g, n->in[2]);
        if (!db)
            return;
        for (size_t r = 0, rows = n->val.size / (size_t)d.N; r < rows; r++)
            rc__kernels()->run(RC_RUN_ACC, db, dC + r * d.N, NULL, (size_t)d.N);
    }
    if (a->requires_grad) {
        bool fresh; /* a new gradient buffer is overwritten, not zeroed and added to */
        rc_real *dA = rc_grad_for_write(g, a, &fresh);
        if (!dA)
            return;
        const rc_real beta = fresh ? 0 : 1;
        for (int t = 0; t < d.batch; t++) {
            const rc_real *Bt = b->val.data + t * sb, *dCt = dC + t * sc;
            if (!d.ta) /* dA = dC op(b)^T */
                rc__gemm(false, !d.tb, d.M, d.K, d.N, 1, dCt, d.N, Bt, d.ldb, beta,
                         dA + t * sa, d.K);
            else /* A is K x M: dA = op(b) dC^T */
                rc__gemm(d.tb, true, d.K, d.M, d.N, 1, Bt, d.ldb, dCt, d.N, beta,
                         dA + t * sa, d.M);
        }
    }
    if (b->requires_grad && per_step_weight(b, &d)) {
        rc_defer(g, weight_grads, n);
    } else if (b->requires_grad) {
        rc_real *dB = rc_grad_buf(g, b);
        if (!dB)
            return;
        for (int t = 0; t < d.batch; t++) {
            const rc_real *At = a->val.data + t * sa, *dCt = dC + t * sc;
            if (!d.tb) /* dB = op(a)^T dC */
                rc__gemm(!d.ta, false, d.K, d.N, d.M, 1, At, d.lda, dCt, d.N, 1,
                         dB + t * sb, d.N);
            else /* B is N x K: dB = dC^T op(a) */
                rc__gemm(true, d.ta, d.N, d.K, d.M, 1, dCt, d.N, At, d.lda, 1,
                         dB + t * sb, d.K);
        }
    }
}

static const rc_op op_matmul = {"matmul", matmul_shape, matmul_fwd, matmul_bwd, 0};

static rc_node *product(rc_site at, rc_graph *g, rc_node *a, rc_node *b, rc_node *bias,
                        int flags)
{
    rc_attrs attrs = {.i = {flags}};
    rc_node *const in[] = {a, b, bias};
    return rc_apply(at, g, &op_matmul, bias ? 3 : 2, in, &attrs);
}

/* RECUR_FOLD=0 turns the fold below off (to measure what it saves). */
static bool fold_enabled(void)
{
    static atomic_int state; /* 0 unknown, 1 off, 2 on */
    int s = atomic_load_explicit(&state, memory_order_relaxed);
    if (!s) {
        const char *e = getenv("RECUR_FOLD");
        s = e && !strcmp(e, "0") ? 1 : 2;
        atomic_store_explicit(&state, s, memory_order_relaxed);
    }
    return s == 2;
}

/* An embedding's rows times a weight: a = table[ids], so a op(b) + bias is
 * (table op(b) + bias)[ids]. When the table has at most half as many rows
 * as the embedding made, the table's product is made once per graph (a memo
 * per weight, shared by every time step's slice) and its rows gathered: the
 * same dot products, fewer of them. W1's char-LM makes 65 rows where it made
 * 2048; in backward the gather sums the rows' gradients per id and the two
 * gradient products run on the table's rows too. NULL: not this case. */
static rc_node *fold_embedding(rc_site at, rc_graph *g, rc_node *a, rc_node *b,
                               rc_node *bias, int flags)
{
    rc_node *table;
    const int32_t *ids;
    size_t all_rows;
    if (!g || rc_graph_error(g) || !a || !b || a->poisoned || b->poisoned ||
        (bias && bias->poisoned) || (flags & RC_TRANS_A) || b->val.shape.ndim != 2 ||
        !rc__embedded_rows(a, &table, &ids, &all_rows) ||
        table->val.shape.d[0] * (size_t)2 > all_rows ||
        table->val.shape.d[1] != b->val.shape.d[flags & RC_TRANS_B ? 1 : 0] || !fold_enabled())
        return NULL;
    struct fold {
        rc_node *table, *bias, *product;
        int flags;
        bool grad;
    } *f = rc_memo_get(g, b, RC__MEMO_FOLD);
    const bool grad = rc_graph_grad_enabled(g);
    if (f && (f->table != table || f->bias != bias || f->flags != flags || f->grad != grad))
        return NULL; /* another table (or setting) folded with b: one per graph */
    if (!f) {
        if (!(f = rc_arena_alloc(g, sizeof *f)))
            return rc_poisoned(g);
        *f = (struct fold){table, bias, product(at, g, table, b, bias, flags), flags, grad};
        rc_memo_put(g, b, RC__MEMO_FOLD, f);
    }
    return rc_embedding_at(at, g, f->product, ids, RC_SHAPE(a->val.shape.d[0]));
}

rc_node *rc_matmul_at(rc_site at, rc_graph *g, rc_node *a, rc_node *b, int flags)
{
    rc_node *folded = fold_embedding(at, g, a, b, NULL, flags);
    return folded ? folded : product(at, g, a, b, NULL, flags);
}

rc_node *rc_matmul_bias_at(rc_site at, rc_graph *g, rc_node *a, rc_node *b, rc_node *bias,
                           int flags)
{
    rc_node *folded = fold_embedding(at, g, a, b, bias, flags);
    return folded ? folded : product(at, g, a, b, bias, flags);
}
