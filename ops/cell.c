/* Fused LSTM and GRU cell pointwise ops: the elementwise part of a cell step
 * in one node, as torch's _thnn_fused_lstm_cell / _thnn_fused_gru_cell. The
 * composed cells (a dozen nodes of slices, sigmoids, adds and muls) compute
 * the same numbers; these save the nodes, the copies and the passes over
 * memory. Inputs: gi, gh [B x G*H] (G = 4 for LSTM, 3 for GRU), the state
 * [B x H], and optional biases b_ih, b_hh [G*H] added to gi and gh. */
#include <stdatomic.h>
#include <string.h>

#include "kernels.h"
#include "recur/op.h"
#include "recur/ops.h"

/* i[0] = gates per unit, i[1] = which biases follow the state: BIAS_I, BIAS_H */
enum { BIAS_I = 1, BIAS_H = 2 };

static rc_node *bias_in(const rc_node *n, int which)
{
    if (!(n->i[1] & which))
        return NULL;
    return n->in[which == BIAS_H && (n->i[1] & BIAS_I) ? 4 : 3];
}

static int cell_shape(rc_graph *g, rc_node *n)
{
    const int G = n->i[0];
    const rc_shape *gi = &n->in[0]->val.shape, *gh = &n->in[1]->val.shape,
                   *st = &n->in[2]->val.shape;
    char a[64], b[64], c[64];
    if (st->ndim != 2 || gi->ndim != 2 || gi->d[0] != st->d[0] || gi->d[1] != G * st->d[1] ||
        !rc_shape_eq(*gi, *gh))
        return rc_fail(g, n, "needs gi and gh [B x %d*H] and state [B x H], got %s, %s, %s",
                       G, rc_shape_str(*gi, a), rc_shape_str(*gh, b), rc_shape_str(*st, c));
    for (int which = BIAS_I; which <= BIAS_H; which++) {
        const rc_node *bias = bias_in(n, which);
        if (bias && (bias->val.shape.ndim != 1 || bias->val.shape.d[0] != gi->d[1]))
            return rc_fail(g, n, "%s must be [%d], got %s", which == BIAS_I ? "b_ih" : "b_hh",
                           gi->d[1], rc_shape_str(bias->val.shape, a));
    }
    const int B = st->d[0], H = st->d[1];
    n->val.shape = G == 4 ? RC_SHAPE(2, B, H) : RC_SHAPE(B, H);
    return 0;
}

static const rc_real *bias_data(const rc_node *n, int which)
{
    const rc_node *b = bias_in(n, which);
    return b ? b->val.data : NULL;
}

/* The biases' gradients (NULL: none wanted); *failed when out of memory. */
static rc_real *bias_grad(rc_graph *g, const rc_node *n, int which, bool *failed)
{
    rc_node *b = bias_in(n, which);
    if (!b || !b->requires_grad)
        return NULL;
    rc_real *gb = rc_grad_buf(g, b);
    *failed |= !gb;
    return gb;
}

/* Where d gi / d gh go: the kernel's buffer itself when the input can take
 * it (rc_grad_share: a fresh matmul output) and *shared is false; else into
 * the input's gradient row by row in the parallel part: copied when that
 * buffer is new (*fresh), added otherwise (a view into the hoisted
 * projection). NULL: nothing to do. One buffer never becomes two nodes'
 * gradients: a later consumer of one would add into the other's. */
static rc_real *grad_target(rc_graph *g, rc_node *x, rc_real *buf, bool *shared, bool *fresh,
                            bool *failed)
{
    *fresh = false;
    if (!x->requires_grad)
        return NULL;
    if (!*shared && rc_grad_share(x, buf)) {
        *shared = true;
        return NULL;
    }
    rc_real *gx = rc_grad_for_write(g, x, fresh);
    *failed |= !gx;
    return gx;
}

/* The kernels run over rows of the batch, split across recur's threads when
 * the step is big enough to pay for the fork-join; so do the additions into
 * the inputs' gradients. The bias gradients, sums over rows, are a second
 * pass split by columns: d b_ih from d gi, d b_hh from d gh. */
enum { MIN_PARALLEL = 8192 }; /* elements of B x H */

typedef struct cell_job {
    bool lstm, backward, scan; /* scan: check the forward's rows for NaN/Inf */
    atomic_bool *not_finite;   /* set when a part's scan fails */
    int B, H;
    const rc_real *gi, *gh, *bi, *bh, *state, *act, *dh, *dc_out;
    rc_real *out, *out2, *act_out, *d1, *d2, *dstate;
    rc_real *acc1, *acc2; /* += d1 / d2 rows (NULL: none), or = when fresh */
    bool fresh1, fresh2;
    const rc_real *dgi, *dgh; /* the rows the bias gradients sum */
    rc_real *dbi, *dbh;
} cell_job;

#define ROWS(p, width) ((p) ? (p) + (size_t)lo * (width) : NULL)

static void add_rows(rc_real *dst, const rc_real *src, size_t n, bool fresh)
{
    if (!dst)
        return;
    if (fresh)
        memcpy(dst, src, n * sizeof *dst);
    else if (dst == src) /* gi and gh are one node: it gets the gradient twice */
        for (size_t k = 0; k < n; k++)
            dst[k] *= 2;
    else
        rc__kernels()->run(RC_RUN_ACC, dst, src, NULL, n);
}

static void cell_part(void *ctx, int part, int parts)
{
    const cell_job *j = ctx;
    int lo, hi;
    rc__split(j->B, 1, part, parts, &lo, &hi);
    const int H = j->H, rows = hi - lo;
    const size_t G = (size_t)(j->lstm ? 4 : 3) * H, A = (size_t)(j->lstm ? 5 : 4) * H;
    const rc_kernels *k = rc__kernels();
    if (rows <= 0)
        return;
    if (j->lstm && !j->backward)
        k->lstm_fwd(rows, H, ROWS(j->gi, G), ROWS(j->gh, G), j->bi, j->bh, ROWS(j->state, H),
                    ROWS(j->out, H), ROWS(j->out2, H), ROWS(j->act_out, A));
    else if (j->lstm)
        k->lstm_bwd(rows, H, ROWS(j->act, A), ROWS(j->state, H), ROWS(j->dh, H),
                    ROWS(j->dc_out, H), ROWS(j->d1, G), ROWS(j->dstate, H));
    else if (!j->backward)
        k->gru_fwd(rows, H, ROWS(j->gi, G), ROWS(j->gh, G), j->bi, j->bh, ROWS(j->state, H),
                   ROWS(j->out, H), ROWS(j->act_out, A));
    else
        k->gru_bwd(rows, H, ROWS(j->act, A), ROWS(j->state, H), ROWS(j->dh, H),
                   ROWS(j->d1, G), ROWS(j->d2, G), ROWS(j->dstate, H));
    if (j->scan && (!rc_all_finite(ROWS(j->out, H), (size_t)rows * H) ||
                    (j->out2 && !rc_all_finite(ROWS(j->out2, H), (size_t)rows * H))))
        atomic_store_explicit(j->not_finite, true, memory_order_relaxed);
    if (j->backward) {
        add_rows(ROWS(j->acc1, G), ROWS(j->d1, G), (size_t)rows * G, j->fresh1);
        add_rows(ROWS(j->acc2, G), ROWS(j->d2, G), (size_t)rows * G, j->fresh2);
    }
}

/* db += the column sums of rows [B x G], by column slabs */
static void bias_sum(rc_real *db, const rc_real *rows, int B, int G, int part, int parts)
{
    int lo, hi;
    rc__split(G, 16, part, parts, &lo, &hi);
    for (int b = 0; db && b < B && hi > lo; b++)
        rc__kernels()->run(RC_RUN_ACC, db + lo, rows + (size_t)b * G + lo, NULL,
                           (size_t)(hi - lo));
}

static void bias_part(void *ctx, int part, int parts)
{
    const cell_job *j = ctx;
    const int G = (j->lstm ? 4 : 3) * j->H;
    bias_sum(j->dbi, j->dgi, j->B, G, part, parts);
    bias_sum(j->dbh, j->dgh, j->B, G, part, parts);
}

/* A forward node's output scanned by the parts: n->checked (recur/op.h). */
static void run_cell(rc_graph *g, cell_job *j, rc_node *n)
{
    const bool big = (size_t)j->B * j->H >= MIN_PARALLEL;
    atomic_bool not_finite = false;
    j->scan = !j->backward && rc_graph_checks_finite(g);
    j->not_finite = &not_finite;
    rc__parallel(cell_part, j, big ? j->B : 1);
    if (j->dbi || j->dbh)
        rc__parallel(bias_part, j, big ? 64 : 1);
    if (!j->backward)
        n->checked = j->scan && !atomic_load_explicit(&not_finite, memory_order_relaxed);
}

/* ---- LSTM: out [2 x B x H] = (h', c'); aux = activations [B x 5H] ---------------- */

static void lstm_fwd(rc_graph *g, rc_node *n)
{
    const rc_node *st = n->in[2];
    const int B = st->val.shape.d[0], H = st->val.shape.d[1];
    if (!(n->aux = rc_arena_alloc(g, (size_t)B * 5 * H * sizeof(rc_real))))
        return;
    cell_job j = {.lstm = true, .B = B, .H = H, .gi = n->in[0]->val.data,
                  .gh = n->in[1]->val.data, .bi = bias_data(n, BIAS_I),
                  .bh = bias_data(n, BIAS_H), .state = st->val.data,
                  .out = n->val.data, .out2 = n->val.data + (size_t)B * H,
                  .act_out = n->aux};
    run_cell(g, &j, n);
}

static void lstm_bwd(rc_graph *g, rc_node *n)
{
    rc_node *gi = n->in[0], *gh = n->in[1], *st = n->in[2];
    const int B = st->val.shape.d[0], H = st->val.shape.d[1];
    const size_t BH = (size_t)B * H;
    bool failed = false;
    rc_real *dz = rc_arena_alloc(g, 4 * BH * sizeof(rc_real));
    if (!dz)
        return;
    cell_job j = {.lstm = true, .backward = true, .B = B, .H = H, .act = n->aux,
                  .state = st->val.data, .dh = n->grad, .dc_out = n->grad + BH, .d1 = dz,
                  .dgi = dz, .dgh = dz}; /* z = gi + gh + b_ih + b_hh: one d z for all */
    j.dbi = bias_grad(g, n, BIAS_I, &failed);
    j.dbh = bias_grad(g, n, BIAS_H, &failed);
    j.dstate = rc_input_grad(g, st);
    failed |= st->requires_grad && !j.dstate;
    /* gh takes dz when it can, then gi adds it (or takes it when gh did not) */
    bool shared = false;
    j.acc1 = grad_target(g, gh, dz, &shared, &j.fresh1, &failed);
    j.acc2 = grad_target(g, gi, dz, &shared, &j.fresh2, &failed);
    j.d2 = dz; /* acc2 adds dz as well */
    if (!failed)
        run_cell(g, &j, n);
}

static const rc_op op_lstm = {"lstm_cell", cell_shape, lstm_fwd, lstm_bwd, 0};

/* ---- GRU: out [B x H] = h'; aux = activations [B x 4H] ------------------------- */

static void gru_fwd(rc_graph *g, rc_node *n)
{
    const rc_node *st = n->in[2];
    const int B = st->val.shape.d[0], H = st->val.shape.d[1];
    if (!(n->aux = rc_arena_alloc(g, (size_t)B * 4 * H * sizeof(rc_real))))
        return;
    cell_job j = {.B = B, .H = H, .gi = n->in[0]->val.data, .gh = n->in[1]->val.data,
                  .bi = bias_data(n, BIAS_I), .bh = bias_data(n, BIAS_H),
                  .state = st->val.data, .out = n->val.data, .act_out = n->aux};
    run_cell(g, &j, n);
}

/* A buffer of n reals that every step's backward reuses until the graph is
 * reset: for results that are consumed within the op. */
static rc_real *scratch(rc_graph *g, size_t n)
{
    static const char key;
    struct scratch {
        size_t cap;
        rc_real *buf;
    } *s = rc_memo_get(g, &key, 0);
    if (!s) {
        if (!(s = rc_arena_zalloc(g, sizeof *s)))
            return NULL;
        rc_memo_put(g, &key, 0, s);
    }
    if (s->cap < n) {
        if (!(s->buf = rc_arena_alloc(g, n * sizeof(rc_real))))
            return NULL;
        s->cap = n;
    }
    return s->buf;
}

static void gru_bwd(rc_graph *g, rc_node *n)
{
    rc_node *gi = n->in[0], *gh = n->in[1], *st = n->in[2];
    const int B = st->val.shape.d[0], H = st->val.shape.d[1];
    const size_t BG = 3 * (size_t)B * H;
    bool failed = false, shared_h = false, shared_i = false;
    cell_job j = {.backward = true, .B = B, .H = H, .act = n->aux, .state = st->val.data,
                  .dh = n->grad};
    if (!(j.d2 = rc_arena_alloc(g, BG * sizeof(rc_real))))
        return;
    j.dgh = j.d2;
    j.acc2 = grad_target(g, gh, j.d2, &shared_h, &j.fresh2, &failed);
    /* d gi gets a buffer of its own only when gi can keep it as its gradient;
     * otherwise (gi a view into the hoisted projection, as in rc_gru layers)
     * it is added into place and a scratch will do. Then nothing lies
     * between the d gh of consecutive steps, and the deferred gradient of
     * W_hh uses them in place (matmul.c). */
    if (!(j.d1 = rc_grad_shareable(gi) ? rc_arena_alloc(g, BG * sizeof(rc_real))
                                        : scratch(g, BG)))
        return;
    j.dgi = j.d1;
    j.acc1 = grad_target(g, gi, j.d1, &shared_i, &j.fresh1, &failed);
    j.dbi = bias_grad(g, n, BIAS_I, &failed);
    j.dbh = bias_grad(g, n, BIAS_H, &failed);
    j.dstate = rc_input_grad(g, st);
    failed |= st->requires_grad && !j.dstate;
    if (!failed)
        run_cell(g, &j, n);
}

static const rc_op op_gru = {"gru_cell", cell_shape, gru_fwd, gru_bwd, 0};

static rc_node *apply_cell(rc_site at, rc_graph *g, const rc_op *op, int G, rc_node *gi,
                           rc_node *gh, rc_node *b_ih, rc_node *b_hh, rc_node *state)
{
    rc_attrs attrs = {.i = {G, (b_ih ? BIAS_I : 0) | (b_hh ? BIAS_H : 0)}};
    rc_node *in[5] = {gi, gh, state};
    int nin = 3;
    if (b_ih)
        in[nin++] = b_ih;
    if (b_hh)
        in[nin++] = b_hh;
    return rc_apply(at, g, op, nin, in, &attrs);
}

rc_node *rc_lstm_fused_at(rc_site at, rc_graph *g, rc_node *gi, rc_node *gh, rc_node *b_ih,
                          rc_node *b_hh, rc_node *c)
{
    return apply_cell(at, g, &op_lstm, 4, gi, gh, b_ih, b_hh, c);
}

rc_node *rc_gru_fused_at(rc_site at, rc_graph *g, rc_node *gi, rc_node *gh, rc_node *b_ih,
                         rc_node *b_hh, rc_node *h)
{
    return apply_cell(at, g, &op_gru, 3, gi, gh, b_ih, b_hh, h);
}
