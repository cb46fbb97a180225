/* linear_cross_entropy: cross_entropy(x w^T + b) in one node, the output
 * layer of a classifier or language model fused with its loss. The logits
 * are made a block of rows at a time and turned into their gradient
 * (softmax - onehot) * scale while the block is in cache, so the R x C
 * logits are written once and not read back from memory: the separate
 * ops write them, read them for the softmax, write the probabilities, read
 * and write them again for the gradient, and read them once more for the
 * bias gradient. With gradients off nothing R x C is kept at all.
 *
 * Inputs: x [... x K] (R rows), w [C x K], optional bias [C].
 * i[0] = ignore_index, i[1] = reduction, i[2] = rows that count.
 * aux = [d logits, R x C, when a gradient may be needed][d bias, C][targets, R]. */
#include <stdatomic.h>
#include <string.h>

#include "kernels.h"
#include "recur/op.h"
#include "recur/ops.h"

/* Rows of logits turned into d a block at a time: the row block recur's
 * tiles take (RC__TILED_ROWS), against w or its per-graph transpose read in
 * place (gemm_bench, GFLOP/s: 256x65x256 129, where 64-row blocks on a
 * packed copy reach 115 with their strip copies of x; 64 to 256 rows
 * make no difference to W4's 2000 classes). With a gradient kept the
 * logits all land in d, so they are made in one product first (its row
 * blocks are gemm.c's business: W4's 640 rows read w's panels once). */
enum { BLOCK_ROWS = RC__TILED_ROWS };

/* Rows from which the weight's per-graph transpose pays: each block of rows
 * reads w^T in place 3-7% faster than w (gemm_bench 256x2000x256 NN 158 vs
 * NT 153 GFLOP/s), but the transpose itself costs about 1 ns an element in
 * a training step (W4's 2000 x 256: 0.5 ms, its product over 640 rows
 * 4.7 ms), so only a product of many blocks earns it back (W4's forward of
 * this op: 6.8 -> 6.5 ms a step, RECUR_PROFILE, 8 pairs). */
enum { TRANSPOSE_ROWS = 4 * BLOCK_ROWS };

typedef struct lce_layout {
    int R, C, K;
    rc_real *d, *db; /* d: NULL when no gradient is kept */
    const int32_t *targets;
} lce_layout;

static bool keeps_grad(const rc_node *n) { return n->requires_grad; }

static lce_layout lce_of(const rc_node *n)
{
    const int K = n->in[1]->val.shape.d[1], C = n->in[1]->val.shape.d[0];
    const int R = (int)(n->in[0]->val.size / (size_t)K);
    rc_real *p = n->aux;
    rc_real *d = keeps_grad(n) ? p : NULL, *db = keeps_grad(n) ? p + (size_t)R * C : p;
    return (lce_layout){R, C, K, d, db, (const int32_t *)(db + C)};
}

static int lce_shape(rc_graph *g, rc_node *n)
{
    const rc_shape *xs = &n->in[0]->val.shape, *ws = &n->in[1]->val.shape;
    char sx[64], sw[64];
    if (n->i[1] != RC_MEAN && n->i[1] != RC_SUM)
        return rc_fail(g, n, "unknown reduction %d", n->i[1]);
    if (ws->ndim != 2 || xs->ndim < 1 || xs->d[xs->ndim - 1] != ws->d[1])
        return rc_fail(g, n, "x %s and w %s: w must be [classes x K] with K x's last dim",
                       rc_shape_str(*xs, sx), rc_shape_str(*ws, sw));
    const int C = ws->d[0];
    if (n->nin == 3 && (n->in[2]->val.shape.ndim != 1 || n->in[2]->val.shape.d[0] != C))
        return rc_fail(g, n, "bias must be [%d] (w's rows), got %s", C,
                       rc_shape_str(n->in[2]->val.shape, sx));
    const size_t R = n->in[0]->val.size / (size_t)ws->d[1];
    const int32_t *targets = n->aux;
    for (size_t r = 0; r < R; r++)
        if (targets[r] != n->i[0] && (targets[r] < 0 || targets[r] >= C))
            return rc_fail(g, n, "target %d of row %zu is outside [0, %d) for x %s, w %s",
                           (int)targets[r], r, C, rc_shape_str(*xs, sx),
                           rc_shape_str(*ws, sw));
    const size_t reals = (keeps_grad(n) ? R * (size_t)C : 0) + (size_t)C;
    rc_real *buf = rc_arena_alloc(g, reals * sizeof(rc_real) + R * sizeof(int32_t));
    if (!buf)
        return -1;
    memcpy(buf + reals, targets, R * sizeof(int32_t));
    n->aux = buf;
    n->val.shape = RC_SCALAR;
    return 0;
}

/* One block of logits rows [lo, hi) of L (row stride C) becomes d logits;
 * each part keeps its own share of the loss. */
enum { PARTS = 64 };

typedef struct lce_job {
    const rc_node *n;
    lce_layout L;
    int r0, rows; /* the block: rows r0 .. r0 + rows of the whole */
    rc_real *logits, scale;
    bool scan;
    atomic_bool not_finite; /* some row of the block was not */
    double total[PARTS];
} lce_job;

static void rows_part(void *ctx, int part, int parts)
{
    lce_job *j = ctx;
    const lce_layout L = j->L;
    int lo, hi;
    rc__split(j->rows, 1, part, parts, &lo, &hi);
    double total = 0;
    bool finite = true, row_finite = true;
    for (int r = lo; r < hi; r++) {
        rc_real *x = j->logits + (size_t)r * L.C;
        const int32_t t = L.targets[j->r0 + r];
        if (t == j->n->i[0]) {
            finite &= !j->scan || rc_all_finite(x, (size_t)L.C);
            if (L.d)
                memset(x, 0, (size_t)L.C * sizeof *x);
            continue;
        }
        /* scale 0: the probabilities are not needed (no gradient kept) */
        total += rc__softmax_nll(x, x, (size_t)L.C, t, L.d ? j->scale : 0,
                                 j->scan ? &row_finite : NULL);
        finite &= row_finite;
        if (L.d)
            x[t] -= j->scale;
    }
    j->total[part] += total;
    if (!finite)
        atomic_store_explicit(&j->not_finite, true, memory_order_relaxed);
}

/* d bias += the block's column sums, columns split over the parts (the sum
 * runs over rows in order, whatever the thread count). */
static void bias_part(void *ctx, int part, int parts)
{
    const lce_job *j = ctx;
    int lo, hi;
    rc__split(j->L.C, 16, part, parts, &lo, &hi);
    for (int r = 0; r < j->rows && hi > lo; r++)
        rc__kernels()->run(RC_RUN_ACC, j->L.db + lo, j->logits + (size_t)r * j->L.C + lo, NULL,
                           (size_t)(hi - lo));
}

static void lce_fwd(rc_graph *g, rc_node *n)
{
    rc_node *x = n->in[0], *w = n->in[1], *bias = n->nin == 3 ? n->in[2] : NULL;
    lce_job j = {.n = n, .L = lce_of(n)};
    const lce_layout L = j.L;
    int counted = 0;
    for (int r = 0; r < L.R; r++)
        counted += L.targets[r] != n->i[0];
    n->i[2] = counted;
    j.scale = n->i[1] == RC_SUM ? 1 : counted ? (rc_real)(1.0 / counted) : 0;
    const bool bias_grad = L.d && bias && bias->requires_grad;
    memset(L.db, 0, (size_t)L.C * sizeof *L.db);
    rc_real *scratch = NULL;
    if (!L.d && !(scratch = rc_arena_alloc(g, (size_t)BLOCK_ROWS * L.C * sizeof *scratch)))
        return;
    const bool transpose = w->name && L.R >= TRANSPOSE_ROWS;
    const rc_real *wt = transpose ? rc__transposed(g, w, L.C, L.K) : NULL;
    const rc_real *b = bias ? bias->val.data : NULL;
    if (transpose && !wt)
        return;
    j.scan = rc_graph_checks_finite(g);
    const int parts = (size_t)BLOCK_ROWS * L.C >= (1 << 15) ? PARTS : 1;
    for (j.r0 = 0; j.r0 < L.R; j.r0 += BLOCK_ROWS) {
        j.rows = L.R - j.r0 < BLOCK_ROWS ? L.R - j.r0 : BLOCK_ROWS;
        j.logits = L.d ? L.d + (size_t)j.r0 * L.C : scratch;
        const rc_real *xb = x->val.data + (size_t)j.r0 * L.K;
        if (!L.d || j.r0 == 0) /* with d: every row's logits at once */
            rc__gemm_bias_scanned(false, false, !wt, L.d ? L.R : j.rows, L.C, L.K, xb, L.K,
                                  wt ? wt : w->val.data, wt ? L.C : L.K, b, 0, j.logits, L.C);
        /* the rows' softmax scans them (a -Inf logit would leave the loss
         * finite), saving a pass over the block */
        rc__parallel(rows_part, &j, parts);
        if (atomic_load_explicit(&j.not_finite, memory_order_relaxed)) {
            rc_fail(g, n, "logits x w^T + b of rows %d to %d (x %dx%d, w %dx%d) are not all "
                          "finite", j.r0, j.r0 + j.rows - 1, L.R, L.K, L.C, L.K);
            return;
        }
        if (bias_grad)
            rc__parallel(bias_part, &j, parts);
    }
    double total = 0;
    for (int k = 0; k < PARTS; k++)
        total += j.total[k];
    n->val.data[0] =
        (rc_real)(n->i[1] == RC_MEAN ? (counted ? total / counted : 0) : total);
}

static void lce_bwd(rc_graph *g, rc_node *n)
{
    rc_node *x = n->in[0], *w = n->in[1], *bias = n->nin == 3 ? n->in[2] : NULL;
    const lce_layout L = lce_of(n);
    if (!L.d || n->i[2] == 0)
        return;
    /* d was made for an upstream gradient of 1, as a loss's usually is */
    const rc_real up = n->grad[0];
    if (up != 1) {
        rc__kernels()->axpby(L.d, up, L.d, 0, (size_t)L.R * L.C);
        rc__kernels()->axpby(L.db, up, L.db, 0, (size_t)L.C);
    }
    if (bias && bias->requires_grad) {
        rc_real *gb = rc_grad_buf(g, bias);
        if (!gb)
            return;
        rc__kernels()->run(RC_RUN_ACC, gb, L.db, NULL, (size_t)L.C);
    }
    if (x->requires_grad) { /* dx = d w */
        bool fresh;
        rc_real *gx = rc_grad_for_write(g, x, &fresh);
        if (!gx)
            return;
        rc__gemm(false, false, L.R, L.K, L.C, 1, L.d, L.C, w->val.data, L.K, fresh ? 0 : 1,
                 gx, L.K);
    }
    if (w->requires_grad) { /* dw += d^T x */
        rc_real *gw = rc_grad_buf(g, w);
        if (!gw)
            return;
        rc__gemm(true, false, L.C, L.K, L.R, 1, L.d, L.C, x->val.data, L.K, 1, gw, L.K);
    }
}

static const rc_op op_linear_ce = {"linear_cross_entropy", lce_shape, lce_fwd, lce_bwd, 0};

rc_node *rc_linear_cross_entropy_at(rc_site at, rc_graph *g, rc_node *x, rc_node *w,
                                    rc_node *bias, const int32_t *targets,
                                    int32_t ignore_index, rc_reduction reduction)
{
    /* one target per row of x, whatever w is */
    const rc_shape s = rc_ok(x) ? rc_shape_of(x) : RC_SCALAR;
    const size_t rows = s.ndim && s.d[s.ndim - 1] > 0 ? rc_size(x) / (size_t)s.d[s.ndim - 1] : 0;
    rc_attrs attrs = {.i = {ignore_index, (int)reduction},
                      .aux = targets,
                      .aux_bytes = rows * sizeof(int32_t)};
    rc_node *in[3] = {x, w, bias};
    return rc_apply(at, g, &op_linear_ce, bias ? 3 : 2, in, &attrs);
}
