/* Ops that move data: embedding lookup, concat, slice, reshape, transpose. */
#include <string.h>

#include "kernels.h"
#include "recur/op.h"
#include "recur/ops.h"

/* Product of dims [from, to). */
static size_t span(const rc_shape *s, int from, int to)
{
    size_t n = 1;
    for (int k = from; k < to; k++)
        n *= (size_t)s->d[k];
    return n;
}

/* Accepts -ndim..ndim-1; returns the axis in 0..ndim-1 or -1. */
static int norm_axis(int axis, int ndim)
{
    if (axis < 0)
        axis += ndim;
    return axis >= 0 && axis < ndim ? axis : -1;
}

/* The node whose values x's are: x, or what x views (through views). */
static const rc_node *viewed(const rc_node *x)
{
    while (x->op && (x->op->flags & RC_OP_VIEW))
        x = x->in[0];
    return x;
}

/* Whether x's values are an op's output, which rc_apply scanned; a leaf's
 * may not have been. */
static bool computed(const rc_node *x)
{
    return viewed(x)->op != NULL;
}

/* ---- embedding -------------------------------------------------------------
 * i[0] = ids ndim, i[1..3] = ids dims; aux = the ids. */

static int embedding_shape(rc_graph *g, rc_node *n)
{
    const rc_shape *t = &n->in[0]->val.shape;
    char s[64];
    if (t->ndim != 2)
        return rc_fail(g, n, "table must be [V x E], got %s", rc_shape_str(*t, s));
    int nd = n->i[0];
    if (nd < 1 || nd > RC_MAX_DIMS - 1)
        return rc_fail(g, n, "ids must have 1..%d dims, got %d", RC_MAX_DIMS - 1, nd);
    rc_shape out = {nd + 1, {0}};
    for (int k = 0; k < nd; k++) {
        if (n->i[1 + k] <= 0)
            return rc_fail(g, n, "ids dim %d is %d", k, n->i[1 + k]);
        out.d[k] = n->i[1 + k];
    }
    out.d[nd] = t->d[1];
    const int32_t *ids = n->aux;
    size_t count = rc_shape_size(out) / (size_t)t->d[1];
    for (size_t k = 0; k < count; k++)
        if (ids[k] < 0 || ids[k] >= t->d[0])
            return rc_fail(g, n, "id %d at position %zu is outside [0, %d) of table %s",
                           (int)ids[k], k, t->d[0], rc_shape_str(*t, s));
    n->val.shape = out;
    return 0;
}

/* The table's rows are read (or added to) in the ids' order, which no
 * hardware prefetcher foresees: each row is asked for ROWS_AHEAD ids early
 * (W4's two 2000 x 128 tables, backward from L3 about 1.4 ns an element) */
enum { ROWS_AHEAD = 4 };

static void embedding_fwd(rc_graph *g, rc_node *n)
{
    (void)g;
    const size_t E = (size_t)n->in[0]->val.shape.d[1], count = n->val.size / E;
    const int32_t *ids = n->aux;
    for (size_t k = 0; k < count; k++) {
        if (k + ROWS_AHEAD < count)
            prefetch_span(n->in[0]->val.data + (size_t)ids[k + ROWS_AHEAD] * E,
                          E * sizeof(rc_real), false);
        memcpy(n->val.data + k * E, n->in[0]->val.data + (size_t)ids[k] * E,
               E * sizeof(rc_real));
    }
    n->checked = computed(n->in[0]); /* rows of a folded product (matmul.c) */
}

static void embedding_bwd(rc_graph *g, rc_node *n)
{
    rc_node *t = n->in[0];
    rc_real *GT = rc_input_grad(g, t);
    if (!GT)
        return;
    const size_t E = (size_t)t->val.shape.d[1], count = n->val.size / E;
    const int32_t *ids = n->aux;
    for (size_t k = 0; k < count; k++) {
        if (k + ROWS_AHEAD < count)
            prefetch_span(GT + (size_t)ids[k + ROWS_AHEAD] * E, E * sizeof(rc_real), true);
        rc__kernels()->run(RC_RUN_ACC, GT + (size_t)ids[k] * E, n->grad + k * E, NULL, E);
    }
}

static const rc_op op_embedding = {"embedding", embedding_shape, embedding_fwd,
                                   embedding_bwd, 0};

bool rc__embedded_rows(const rc_node *x, rc_node **table, const int32_t **ids,
                       size_t *all_rows)
{
    const rc_node *e = viewed(x);
    if (e->op != &op_embedding || x->val.shape.ndim != 2)
        return false;
    const int E = e->in[0]->val.shape.d[1];
    const ptrdiff_t off = x->val.data - e->val.data;
    if (x->val.shape.d[1] != E || off < 0 || off % E || (size_t)off + x->val.size > e->val.size)
        return false;
    *table = e->in[0];
    *ids = (const int32_t *)e->aux + off / E;
    *all_rows = e->val.size / (size_t)E;
    return true;
}

rc_node *rc_embedding_at(rc_site at, rc_graph *g, rc_node *table, const int32_t *ids,
                         rc_shape ids_shape)
{
    rc_attrs attrs = {.i = {ids_shape.ndim}};
    bool ok = ids_shape.ndim >= 1 && ids_shape.ndim <= RC_MAX_DIMS - 1;
    for (int k = 0; ok && k < ids_shape.ndim; k++)
        attrs.i[1 + k] = ids_shape.d[k];
    attrs.aux = ids;
    attrs.aux_bytes = ok ? rc_shape_size(ids_shape) * sizeof(int32_t) : 0;
    return rc_apply(at, g, &op_embedding, 1, (rc_node *const[]){table}, &attrs);
}

/* ---- concat: i[0] = axis --------------------------------------------------------- */

static int concat_shape(rc_graph *g, rc_node *n)
{
    const rc_shape *first = &n->in[0]->val.shape;
    char s0[64], sk[64];
    int axis = norm_axis(n->i[0], first->ndim);
    if (n->nin < 1)
        return rc_fail(g, n, "needs at least one input");
    if (axis < 0)
        return rc_fail(g, n, "axis %d is outside a %s input", n->i[0],
                       rc_shape_str(*first, s0));
    n->i[0] = axis;
    n->val.shape = *first;
    for (int k = 1; k < n->nin; k++) {
        const rc_shape *x = &n->in[k]->val.shape;
        bool fits = x->ndim == first->ndim;
        for (int d = 0; fits && d < x->ndim; d++)
            fits = d == axis || x->d[d] == first->d[d];
        if (!fits)
            return rc_fail(g, n, "input %d %s does not fit input 0 %s along axis %d", k,
                           rc_shape_str(*x, sk), rc_shape_str(*first, s0), axis);
        n->val.shape.d[axis] += x->d[axis];
    }
    return 0;
}

/* Forward copies each input's blocks into place; backward adds them back
 * (or copies, into a fresh gradient). The inputs are dealt out round-robin
 * over recur's threads when there is enough to copy. */
enum { CONCAT_PARALLEL = 1 << 16 }; /* elements */

typedef struct concat_job {
    const rc_node *n;
    bool backward;
    size_t outer, row;
    size_t *col;    /* each input's first column in a row of the output */
    rc_real **grad; /* backward: each input's gradient, or NULL */
    bool *fresh;
} concat_job;

static void concat_part(void *ctx, int part, int parts)
{
    const concat_job *j = ctx;
    const rc_node *n = j->n;
    for (int k = part; k < n->nin; k += parts) {
        const rc_node *x = n->in[k];
        const size_t w = x->val.size / j->outer;
        for (size_t o = 0; o < j->outer; o++) {
            rc_real *out = n->val.data + o * j->row + j->col[k];
            if (!j->backward)
                memcpy(out, x->val.data + o * w, w * sizeof(rc_real));
            else if (j->grad[k] && j->fresh[k])
                memcpy(j->grad[k] + o * w, n->grad + (out - n->val.data), w * sizeof(rc_real));
            else if (j->grad[k])
                rc__kernels()->run(RC_RUN_ACC, j->grad[k] + o * w,
                                   n->grad + (out - n->val.data), NULL, w);
        }
    }
}

static void concat_move(rc_graph *g, rc_node *n, bool backward)
{
    const int axis = n->i[0];
    concat_job j = {n, backward, span(&n->val.shape, 0, axis),
                    span(&n->val.shape, axis, n->val.shape.ndim),
                    rc_arena_alloc(g, (size_t)n->nin * sizeof *j.col),
                    rc_arena_alloc(g, (size_t)n->nin * sizeof *j.grad),
                    rc_arena_alloc(g, (size_t)n->nin * sizeof *j.fresh)};
    if (!j.col || !j.grad || !j.fresh)
        return;
    size_t col = 0;
    for (int k = 0; k < n->nin; k++) { /* gradient buffers come from the arena: here */
        rc_node *x = n->in[k];
        j.col[k] = col;
        col += x->val.size / j.outer;
        /* along the first axis an input's gradient is one block of n's:
         * the input can take that block as its own, nothing copied */
        if (backward && j.outer == 1 && n->grad && rc_grad_share(x, n->grad + j.col[k])) {
            j.grad[k] = NULL;
            continue;
        }
        j.grad[k] = backward ? rc_grad_for_write(g, x, &j.fresh[k]) : NULL;
        if (backward && x->requires_grad && !j.grad[k])
            return;
    }
    rc__parallel(concat_part, &j, n->val.size >= CONCAT_PARALLEL ? n->nin : 1);
}

/* A pure copy of computed values is finite without a scan (W1 inference:
 * 0.5% of a step went into scanning the concatenated outputs). */
static void copied_from_computed(rc_node *n)
{
    bool all = true;
    for (int k = 0; k < n->nin && all; k++)
        all = computed(n->in[k]);
    n->checked = all;
}

static void concat_fwd(rc_graph *g, rc_node *n)
{
    concat_move(g, n, false);
    copied_from_computed(n);
}
static void concat_bwd(rc_graph *g, rc_node *n) { concat_move(g, n, true); }

static const rc_op op_concat = {"concat", concat_shape, concat_fwd, concat_bwd, 0};

rc_node *rc_concat_at(rc_site at, rc_graph *g, int axis, int n, rc_node *const parts[])
{
    rc_attrs attrs = {.i = {axis}};
    if (n < 1 || !parts) {
        rc_node *none = NULL; /* reported as a NULL input */
        return rc_apply(at, g, &op_concat, 1, &none, &attrs);
    }
    return rc_apply(at, g, &op_concat, n, parts, &attrs);
}

/* ---- slice: i[0] = axis, i[1] = start, i[2] = len ---------------------------------- */

static int slice_shape(rc_graph *g, rc_node *n)
{
    const rc_shape *x = &n->in[0]->val.shape;
    char s[64];
    int axis = norm_axis(n->i[0], x->ndim);
    if (axis < 0)
        return rc_fail(g, n, "axis %d is outside %s", n->i[0], rc_shape_str(*x, s));
    int start = n->i[1], len = n->i[2];
    if (start < 0 || len <= 0 || start > x->d[axis] - len)
        return rc_fail(g, n, "entries [%d, %d+%d) are outside axis %d of %s", start, start,
                       len, axis, rc_shape_str(*x, s));
    n->i[0] = axis;
    n->val.shape = *x;
    n->val.shape.d[axis] = len;
    return 0;
}

static void slice_move(rc_graph *g, rc_node *n, bool backward)
{
    rc_node *x = n->in[0];
    const int axis = n->i[0];
    const size_t outer = span(&x->val.shape, 0, axis);
    const size_t inner = span(&x->val.shape, axis + 1, x->val.shape.ndim);
    const size_t src_row = (size_t)x->val.shape.d[axis] * inner;
    const size_t w = (size_t)n->i[2] * inner, off = (size_t)n->i[1] * inner;
    if (!backward) {
        for (size_t o = 0; o < outer; o++)
            memcpy(n->val.data + o * w, x->val.data + o * src_row + off, w * sizeof(rc_real));
        return;
    }
    rc_real *GX = rc_input_grad(g, x);
    if (!GX)
        return;
    for (size_t o = 0; o < outer; o++)
        for (size_t j = 0; j < w; j++)
            GX[o * src_row + off + j] += n->grad[o * w + j];
}

static void slice_fwd(rc_graph *g, rc_node *n) { slice_move(g, n, false); }
static void slice_bwd(rc_graph *g, rc_node *n) { slice_move(g, n, true); }

static const rc_op op_slice = {"slice", slice_shape, slice_fwd, slice_bwd, 0};

/* A slice with nothing but size-1 dims before its axis is one contiguous
 * block: a view (a time step's rows of a hoisted projection). */
static void slice_view_fwd(rc_graph *g, rc_node *n)
{
    (void)g;
    rc_node *x = n->in[0];
    n->val.data = x->val.data +
                  (size_t)n->i[1] * span(&x->val.shape, n->i[0] + 1, x->val.shape.ndim);
}

static const rc_op op_slice_view = {"slice", slice_shape, slice_view_fwd, NULL, RC_OP_VIEW};

static bool contiguous_slice(const rc_node *a, int axis)
{
    if (!rc_ok(a))
        return false;
    const rc_shape *x = &a->val.shape;
    int ax = norm_axis(axis, x->ndim);
    return ax >= 0 && span(x, 0, ax) == 1;
}

rc_node *rc_slice_at(rc_site at, rc_graph *g, rc_node *a, int axis, int start, int len)
{
    rc_attrs attrs = {.i = {axis, start, len}};
    const rc_op *op = contiguous_slice(a, axis) ? &op_slice_view : &op_slice;
    return rc_apply(at, g, op, 1, (rc_node *const[]){a}, &attrs);
}

/* ---- select: x[k] along the first dim, which is dropped; a view ------------------- */

static int select_shape(rc_graph *g, rc_node *n)
{
    const rc_shape *x = &n->in[0]->val.shape;
    char s[64];
    if (x->ndim < 2 || n->i[0] < 0 || n->i[0] >= x->d[0])
        return rc_fail(g, n, "entry %d of the first dim of %s (needs 2+ dims)", n->i[0],
                       rc_shape_str(*x, s));
    n->val.shape.ndim = x->ndim - 1;
    for (int k = 1; k < x->ndim; k++)
        n->val.shape.d[k - 1] = x->d[k];
    return 0;
}

static void select_fwd(rc_graph *g, rc_node *n)
{
    (void)g;
    n->val.data = n->in[0]->val.data + (size_t)n->i[0] * n->val.size;
}

static const rc_op op_select = {"select", select_shape, select_fwd, NULL, RC_OP_VIEW};

rc_node *rc_select_at(rc_site at, rc_graph *g, rc_node *a, int index)
{
    rc_attrs attrs = {.i = {index}};
    return rc_apply(at, g, &op_select, 1, (rc_node *const[]){a}, &attrs);
}

/* ---- reshape: a view; the new shape travels in i[0..3] with f[0] = ndim ---------- */

static int reshape_shape(rc_graph *g, rc_node *n)
{
    const rc_shape *x = &n->in[0]->val.shape;
    rc_shape s = {(int)n->f[0], {n->i[0], n->i[1], n->i[2], n->i[3]}};
    char sx[64], ss[64];
    bool valid = s.ndim >= 0 && s.ndim <= RC_MAX_DIMS;
    for (int k = 0; valid && k < s.ndim; k++)
        valid = s.d[k] > 0;
    if (!valid || rc_shape_size(s) != rc_shape_size(*x))
        return rc_fail(g, n, "cannot view %s as %s", rc_shape_str(*x, sx),
                       rc_shape_str(s, ss));
    n->val.shape = s;
    return 0;
}

static void reshape_fwd(rc_graph *g, rc_node *n)
{
    (void)g;
    n->val.data = n->in[0]->val.data;
}

static const rc_op op_reshape = {"reshape", reshape_shape, reshape_fwd, NULL, RC_OP_VIEW};

rc_node *rc_reshape_at(rc_site at, rc_graph *g, rc_node *a, rc_shape s)
{
    rc_attrs attrs = {.i = {s.d[0], s.d[1], s.d[2], s.d[3]}, .f = {s.ndim}};
    return rc_apply(at, g, &op_reshape, 1, (rc_node *const[]){a}, &attrs);
}

/* ---- transpose of the last two dims ----------------------------------------------- */

static int transpose_shape(rc_graph *g, rc_node *n)
{
    const rc_shape *x = &n->in[0]->val.shape;
    char s[64];
    if (x->ndim < 2)
        return rc_fail(g, n, "needs 2+ dims, got %s", rc_shape_str(*x, s));
    n->val.shape = *x;
    n->val.shape.d[x->ndim - 2] = x->d[x->ndim - 1];
    n->val.shape.d[x->ndim - 1] = x->d[x->ndim - 2];
    return 0;
}

static void transpose_move(rc_graph *g, rc_node *n, bool backward)
{
    rc_node *x = n->in[0];
    const rc_shape *s = &x->val.shape;
    const size_t R = (size_t)s->d[s->ndim - 2], C = (size_t)s->d[s->ndim - 1];
    const size_t batch = span(s, 0, s->ndim - 2);
    rc_real *GX = NULL;
    if (backward && (!x->requires_grad || !(GX = rc_grad_buf(g, x))))
        return;
    for (size_t b = 0; b < batch; b++) {
        const size_t o = b * R * C;
        for (size_t r = 0; r < R; r++)
            for (size_t c = 0; c < C; c++) {
                if (backward)
                    GX[o + r * C + c] += n->grad[o + c * R + r];
                else
                    n->val.data[o + c * R + r] = x->val.data[o + r * C + c];
            }
    }
}

static void transpose_fwd(rc_graph *g, rc_node *n) { transpose_move(g, n, false); }
static void transpose_bwd(rc_graph *g, rc_node *n) { transpose_move(g, n, true); }

static const rc_op op_transpose = {"transpose", transpose_shape, transpose_fwd,
                                   transpose_bwd, 0};

rc_node *rc_transpose_at(rc_site at, rc_graph *g, rc_node *a)
{
    return rc_apply(at, g, &op_transpose, 1, (rc_node *const[]){a}, NULL);
}

/* ---- permute: out dim k is input dim i[k] ------------------------------------------ */

static int permute_shape(rc_graph *g, rc_node *n)
{
    const rc_shape *x = &n->in[0]->val.shape;
    char s[64];
    if ((int)n->f[0] != x->ndim)
        return rc_fail(g, n, "%d axes given for the %d dims of %s", (int)n->f[0], x->ndim,
                       rc_shape_str(*x, s));
    int seen = 0;
    for (int k = 0; k < x->ndim; k++) {
        int from = n->i[k];
        if (from < 0 || from >= x->ndim || (seen & (1 << from)))
            return rc_fail(g, n, "(%d %d %d %d) is not a permutation of the %d dims of %s",
                           n->i[0], n->i[1], n->i[2], n->i[3], x->ndim, rc_shape_str(*x, s));
        seen |= 1 << from;
        n->val.shape.d[k] = x->d[from];
    }
    n->val.shape.ndim = x->ndim;
    return 0;
}

/* Walk the output in order; src is the matching input offset. When the last
 * dim stays last (torch's [T x B x H] <-> [B x T x H]) whole rows move. */
static void permute_move(rc_graph *g, rc_node *n, bool backward)
{
    rc_node *x = n->in[0];
    const int nd = x->val.shape.ndim;
    size_t in_stride[RC_MAX_DIMS], stride[RC_MAX_DIMS] = {0}, dims[RC_MAX_DIMS] = {1, 1, 1, 1};
    size_t step = 1;
    for (int k = nd - 1; k >= 0; k--) {
        in_stride[k] = step;
        step *= (size_t)x->val.shape.d[k];
    }
    /* out dims padded on the left to 4, each with its input stride */
    for (int k = 0; k < nd; k++) {
        dims[RC_MAX_DIMS - nd + k] = (size_t)n->val.shape.d[k];
        stride[RC_MAX_DIMS - nd + k] = in_stride[n->i[k]];
    }
    rc_real *GX = NULL;
    if (backward && (!x->requires_grad || !(GX = rc_grad_buf(g, x))))
        return;
    const size_t row = stride[3] == 1 ? dims[3] : 1, per_row = dims[3] / row;
    size_t o = 0;
    for (size_t a = 0; a < dims[0]; a++)
        for (size_t b = 0; b < dims[1]; b++)
            for (size_t c = 0; c < dims[2]; c++)
                for (size_t d = 0; d < per_row; d++, o += row) {
                    size_t src = a * stride[0] + b * stride[1] + c * stride[2] + d * stride[3];
                    if (row == 1 && backward)
                        GX[src] += n->grad[o];
                    else if (row == 1)
                        n->val.data[o] = x->val.data[src];
                    else if (backward)
                        rc__kernels()->run(RC_RUN_ACC, GX + src, n->grad + o, NULL, row);
                    else
                        memcpy(n->val.data + o, x->val.data + src, row * sizeof(rc_real));
                }
}

static void permute_fwd(rc_graph *g, rc_node *n)
{
    permute_move(g, n, false);
    copied_from_computed(n);
}
static void permute_bwd(rc_graph *g, rc_node *n) { permute_move(g, n, true); }

static const rc_op op_permute = {"permute", permute_shape, permute_fwd, permute_bwd, 0};

rc_node *rc_permute_at(rc_site at, rc_graph *g, rc_node *a, int ndim, const int *axes)
{
    rc_attrs attrs = {.i = {-1, -1, -1, -1}, .f = {ndim}};
    for (int k = 0; axes && k < ndim && k < RC_MAX_DIMS; k++)
        attrs.i[k] = axes[k];
    return rc_apply(at, g, &op_permute, 1, (rc_node *const[]){a}, &attrs);
}
