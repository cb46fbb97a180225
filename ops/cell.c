/* Fused LSTM and GRU cell ops: the elementwise part of a cell step in one
 * node, as torch's _thnn_fused_lstm_cell / _thnn_fused_gru_cell. The
 * composed cells (a dozen nodes of slices, sigmoids, adds and muls) compute
 * the same numbers; these save the nodes, the copies and the passes over
 * memory. Inputs: gi [B x G*H] (G = 4 for LSTM, 3 for GRU), then either gh
 * [B x G*H] or (the _hh forms) h [B x K] and w_hh [G*H x K], whose product
 * gh = h w_hh^T the op makes itself into a scratch buffer, then the state
 * [B x H] and optional biases b_ih, b_hh [G*H] added to gi and gh. */
#include <stdatomic.h>
#include <string.h>

#include "kernels.h"
#include "recur/op.h"
#include "recur/ops.h"

/* i[0] = gates per unit, i[1] = which biases follow the state: BIAS_I,
 * BIAS_H; i[2] = 1 when the op makes gh (inputs gi, h, w_hh, state, ...) */
enum { BIAS_I = 1, BIAS_H = 2 };

static bool makes_gh(const rc_node *n) { return n->i[2]; }
static rc_node *state_in(const rc_node *n) { return n->in[makes_gh(n) ? 3 : 2]; }

static rc_node *bias_in(const rc_node *n, int which)
{
    if (!(n->i[1] & which))
        return NULL;
    const int first = makes_gh(n) ? 4 : 3;
    return n->in[which == BIAS_H && (n->i[1] & BIAS_I) ? first + 1 : first];
}

/* What a step keeps for its backward (n->aux): the activations, and the
 * d gh the deferred weight gradient reads (the _hh forms). */
typedef struct saved {
    rc_real *act, *dgh;
    bool h_zero; /* the _hh forms' h was all zeros: no recurrent product */
} saved;

static int cell_shape(rc_graph *g, rc_node *n)
{
    const int G = n->i[0];
    const rc_shape *gi = &n->in[0]->val.shape, *st = &state_in(n)->val.shape;
    char a[64], b[64], c[64];
    if (st->ndim != 2 || gi->ndim != 2 || gi->d[0] != st->d[0] || gi->d[1] != G * st->d[1])
        return rc_fail(g, n, "needs gi [B x %d*H] and state [B x H], got %s, %s", G,
                       rc_shape_str(*gi, a), rc_shape_str(*st, c));
    if (!makes_gh(n) && !rc_shape_eq(*gi, n->in[1]->val.shape))
        return rc_fail(g, n, "needs gh shaped as gi %s, got %s", rc_shape_str(*gi, a),
                       rc_shape_str(n->in[1]->val.shape, b));
    if (makes_gh(n)) {
        const rc_shape *h = &n->in[1]->val.shape, *w = &n->in[2]->val.shape;
        if (h->ndim != 2 || w->ndim != 2 || h->d[0] != gi->d[0] || w->d[0] != gi->d[1] ||
            w->d[1] != h->d[1])
            return rc_fail(g, n, "needs h [%d x K] and w_hh [%d x K], got %s and %s",
                           gi->d[0], gi->d[1], rc_shape_str(*h, a), rc_shape_str(*w, b));
    }
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
    rc_real *out, *out2, *act_out, *d1, *d2, *dstate; /* out2: LSTM's c' */
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
    const size_t G = (size_t)(j->lstm ? 4 : 3) * H, A = 4 * (size_t)H;
    const rc_kernels *k = rc__kernels();
    if (rows <= 0)
        return;
    if (j->lstm && !j->backward)
        k->lstm_fwd(rows, H, ROWS(j->gi, G), ROWS(j->gh, G), j->bi, j->bh, ROWS(j->state, H),
                    ROWS(j->out, H), ROWS(j->out2, H), ROWS(j->act_out, A));
    else if (j->lstm)
        k->lstm_bwd(rows, H, ROWS(j->act, A), ROWS(j->state, H), ROWS(j->out2, H), ROWS(j->dh, H),
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

/* A buffer of n reals per (graph, tag) that every step reuses until the
 * graph is reset: for results consumed within the op. */
enum { SCRATCH_GH, SCRATCH_ACT, SCRATCH_DGI, SCRATCH_BIAS };

static rc_real *scratch(rc_graph *g, int tag, size_t n)
{
    static const char key;
    struct scratch {
        size_t cap;
        rc_real *buf;
    } *s = rc_memo_get(g, &key, tag);
    if (!s) {
        if (!(s = rc_arena_zalloc(g, sizeof *s)))
            return NULL;
        rc_memo_put(g, &key, tag, s);
    }
    if (s->cap < n) {
        if (!(s->buf = rc_arena_alloc(g, n * sizeof(rc_real))))
            return NULL;
        s->cap = n;
    }
    return s->buf;
}

/* Whether x[0..n) is all zeros; the first nonzero (at once, for most
 * states) ends the scan. */
static bool all_zero(const rc_real *x, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (x[k] != 0)
            return false;
    return true;
}

/* The forward's saved state: activations for the backward (in `in_place`
 * when not NULL), or a scratch when no gradient will be asked for
 * (inference keeps nothing per step). A layer's first step starts from
 * zeros (rc_fill): its h w_hh^T is zero and so is its piece of w_hh's
 * gradient, d gh^T h, so h_zero says neither is made (W4's encoder: one of
 * its 20 recurrent products each way). A non-finite w_hh then first shows
 * at the second step. */
static saved *save(rc_graph *g, rc_node *n, size_t act_size, rc_real *in_place)
{
    saved *s = rc_arena_zalloc(g, sizeof *s);
    if (s)
        s->h_zero = makes_gh(n) && all_zero(n->in[1]->val.data, n->in[1]->val.size);
    if (s && !(s->act = !n->requires_grad ? scratch(g, SCRATCH_ACT, act_size)
                        : in_place        ? in_place
                                          : rc_arena_alloc(g, act_size * sizeof(rc_real))))
        s = NULL;
    return n->aux = s;
}

/* gh: the gh input, or h w_hh^T made into a scratch (the _hh forms), as
 * matmul makes a per-step product. NULL when out of memory. */
static const rc_real *gh_of(rc_graph *g, rc_node *n, int B, int GH)
{
    if (!makes_gh(n))
        return n->in[1]->val.data;
    rc_real *gh = scratch(g, SCRATCH_GH, (size_t)B * GH);
    if (gh && ((const saved *)n->aux)->h_zero)
        return memset(gh, 0, (size_t)B * GH * sizeof *gh);
    bool checked;
    return gh && rc__gemm_weight_nt(g, n->in[2], B, n->in[1]->val.data, NULL, 0, gh, false,
                                    &checked)
               ? gh
               : NULL;
}

/* An LSTM step whose activations live in its gi rows: z = gi + h w_hh^T +
 * (b_ih + b_hh) made right there, the recurrent product adding onto the
 * rows with the biases' sum in its registers, so the kernel finds z ready
 * (no gh buffer, no pass adding four rows). False when out of memory. */
static bool z_in_gi(rc_graph *g, rc_node *n, int B, int G, rc_real *gi)
{
    const rc_real *bi = bias_data(n, BIAS_I), *bh = bias_data(n, BIAS_H), *b = bi ? bi : bh;
    if (bi && bh) {
        rc_real *sum = scratch(g, SCRATCH_BIAS, (size_t)G);
        if (!sum)
            return false;
        for (int k = 0; k < G; k++)
            sum[k] = bi[k] + bh[k];
        b = sum;
    }
    if (((const saved *)n->aux)->h_zero) { /* z = gi + b, as the product adds it */
        for (int r = 0; b && r < B; r++)
            for (int k = 0; k < G; k++)
                gi[(size_t)r * G + k] += b[k];
        return true;
    }
    bool checked;
    return rc__gemm_weight_nt(g, n->in[2], B, n->in[1]->val.data, b, 1, gi, false, &checked);
}

/* The _hh forms' backward past d gh [B x G*H]: dh += d gh w_hh now, and
 * w_hh's gradient d gh^T h deferred, so all steps' pieces make one product
 * at the end (d gh must stay as it is until then). */
static rc__wuse hh_piece(const rc_node *n)
{
    const rc_node *h = n->in[1], *w = n->in[2];
    const int B = h->val.shape.d[0], K = h->val.shape.d[1], GH = w->val.shape.d[0];
    return (rc__wuse){n->in[2], true, K, GH, {h->val.data, ((const saved *)n->aux)->dgh, B}};
}

static void hh_weight_grads(rc_graph *g, rc_node *const nodes[], size_t count)
{
    rc__weight_grads(g, nodes, count, hh_piece);
}

static void hh_backward(rc_graph *g, rc_node *n, rc_real *dgh)
{
    rc_node *h = n->in[1], *w = n->in[2];
    const int B = h->val.shape.d[0], K = h->val.shape.d[1], GH = w->val.shape.d[0];
    rc_real *dh = rc_input_grad(g, h);
    if (h->requires_grad && !dh)
        return;
    if (dh)
        rc__gemm(false, false, B, K, GH, 1, dgh, GH, w->val.data, K, 1, dh, K);
    if (w->requires_grad && !((const saved *)n->aux)->h_zero) {
        ((saved *)n->aux)->dgh = dgh;
        rc_defer(g, hh_weight_grads, n);
    }
}

/* A layer hands its steps gi as row blocks of one hoisted projection X
 * [T*B x G*H]. When every reader of X is such a step, each on rows of its
 * own, and gi has no other reader, X's gradient rows are the step's alone:
 * backward writes d gi there directly instead of into a buffer it then adds
 * into them. The forward records the claims; backward checks them against
 * X's reader count (rc_node.uses). When the steps own every row, X's
 * gradient needs no zero fill (a step no gradient reaches writes zeros:
 * RC_OP_BACKWARD_ALWAYS), and a read-once X's values, dead by then, become
 * its gradient (W3: 32 MB). */
typedef struct claims {
    int count;
    bool clash;         /* two steps on overlapping rows */
    size_t rows;        /* rows claimed */
    unsigned char *row; /* rows of X claimed */
} claims;

/* X when gi is a row block of a computed X of gi's width, else NULL. */
static rc_node *rows_of(const rc_node *gi, size_t *first)
{
    rc_node *x = gi->op && (gi->op->flags & RC_OP_VIEW) ? gi->in[0] : NULL;
    if (!x || !x->op || (x->op->flags & RC_OP_VIEW) || x->val.shape.ndim != 2)
        return NULL;
    const int width = gi->val.shape.d[1];
    const size_t offset = (size_t)(gi->val.data - x->val.data);
    if (x->val.shape.d[1] != width || offset % (size_t)width)
        return NULL;
    *first = offset / (size_t)width;
    return x;
}

static void claim_rows(rc_graph *g, const rc_node *n)
{
    size_t first;
    const rc_node *gi = n->in[0];
    /* with gradients off too: a read-once X's rows still take the step's z */
    rc_node *x = gi->requires_grad || !n->requires_grad ? rows_of(gi, &first) : NULL;
    if (!x)
        return;
    claims *c = rc_memo_get(g, x, RC__MEMO_ROW_CLAIMS);
    if (!c) {
        if (!(c = rc_arena_zalloc(g, sizeof *c)) ||
            !(c->row = rc_arena_zalloc(g, (size_t)x->val.shape.d[0])))
            return;
        rc_memo_put(g, x, RC__MEMO_ROW_CLAIMS, c);
    }
    c->count++;
    for (size_t r = first; r < first + (size_t)gi->val.shape.d[0]; r++) {
        c->clash |= c->row[r];
        c->rows += !c->row[r];
        c->row[r] = 1;
    }
}

/* Where an LSTM step keeps its activations (4H per row, gi's width): in gi
 * itself, or in gi's own rows of X, when gi's or X's creator declared it
 * read once (rc_rows_read_once: rc_lstm_cell's input product, a layer's
 * hoisted projection) and no other step claimed those rows, since they are
 * dead once the step has read them (W3: 32 MB of 180); else NULL (the
 * arena). A second reader of values the step may have overwritten fails. */
static rc_real *act_in_gi(rc_graph *g, rc_node *n, bool *misuse)
{
    size_t first = 0;
    const rc_node *gi = n->in[0];
    char s[64];
    if (gi->read_once) {
        if (gi->uses == 1)
            return gi->val.data;
        *misuse = true;
        rc_fail(g, n, "the read-once %s is read by another op before this step",
                rc_shape_str(gi->val.shape, s));
        return NULL;
    }
    const rc_node *x = gi->uses == 1 ? rows_of(gi, &first) : NULL;
    const claims *c = x && x->read_once ? rc_memo_get(g, x, RC__MEMO_ROW_CLAIMS) : NULL;
    if (c && c->clash) {
        *misuse = true;
        rc_fail(g, n, "rows %zu..%zu of the read-once %s are read by a second step", first,
                first + (size_t)gi->val.shape.d[0] - 1, rc_shape_str(x->val.shape, s));
    }
    return c && !c->clash ? gi->val.data : NULL;
}

/* n reals for a step's d of its recurrent product: when the step makes that
 * product itself, from the arena's run region, so the d of consecutive steps
 * lie one after another and w_hh's deferred gradient reads them in place
 * (matmul.c) whatever else backward allocates between the steps. */
static rc_real *step_d(rc_graph *g, const rc_node *n, size_t count)
{
    const size_t bytes = count * sizeof(rc_real);
    return makes_gh(n) ? rc_arena_alloc_run(g, bytes) : rc_arena_alloc(g, bytes);
}

/* Where backward writes d gi: X's gradient rows (see above), or NULL. A
 * whole read-once gi gets a buffer of its own all the same: the steps' d gi
 * then lie in one block, which w_ih's and w_hh's deferred gradients read in
 * place, where rc_lstm_cell's input products lie apart (W1c: 19 MB of
 * copies, which cost what the activations there had saved). */
static rc_real *owned_grad(rc_graph *g, rc_node *gi)
{
    size_t first;
    rc_node *x = gi->uses == 1 ? rows_of(gi, &first) : NULL;
    const claims *c = x ? rc_memo_get(g, x, RC__MEMO_ROW_CLAIMS) : NULL;
    if (!c || c->clash || c->count != x->uses)
        return NULL;
    bool fresh;
    if (c->rows == (size_t)x->val.shape.d[0] && !(x->read_once && rc_grad_share(x, x->val.data)))
        rc_grad_for_write(g, x, &fresh);
    return rc_grad_buf(g, gi);
}

/* The backward of a step no gradient reached: zeros in its rows of X's
 * gradient when they are its own (they may hold anything). */
static void no_grad_reached(rc_graph *g, rc_node *n)
{
    rc_node *gi = n->in[0];
    rc_real *owned = makes_gh(n) ? owned_grad(g, gi) : NULL;
    if (owned)
        memset(owned, 0, gi->val.size * sizeof *owned);
}

/* ---- LSTM: out [2 x B x H] = (h', c'); act [B x 4H] ------------------------------ */

static void lstm_fwd(rc_graph *g, rc_node *n)
{
    const rc_node *st = state_in(n);
    if (makes_gh(n))
        claim_rows(g, n);
    const int B = st->val.shape.d[0], H = st->val.shape.d[1];
    bool misuse = false;
    rc_real *in_gi = makes_gh(n) ? act_in_gi(g, n, &misuse) : NULL;
    const saved *s = misuse ? NULL : save(g, n, (size_t)B * 4 * H, in_gi);
    if (!s)
        return;
    cell_job j = {.lstm = true, .B = B, .H = H, .gi = n->in[0]->val.data,
                  .state = st->val.data, .out = n->val.data,
                  .out2 = n->val.data + (size_t)B * H, .act_out = s->act};
    if (in_gi) { /* z in place: nothing left for the kernel to add */
        if (!z_in_gi(g, n, B, 4 * H, in_gi))
            return;
    } else if ((j.gh = gh_of(g, n, B, 4 * H))) {
        j.bi = bias_data(n, BIAS_I);
        j.bh = bias_data(n, BIAS_H);
    } else {
        return;
    }
    run_cell(g, &j, n);
}

static void lstm_bwd(rc_graph *g, rc_node *n)
{
    rc_node *gi = n->in[0], *st = state_in(n);
    const int B = st->val.shape.d[0], H = st->val.shape.d[1];
    const size_t BH = (size_t)B * H;
    bool failed = false;
    if (!n->grad) {
        no_grad_reached(g, n);
        return;
    }
    rc_real *owned = makes_gh(n) ? owned_grad(g, gi) : NULL;
    const rc_real *act = ((const saved *)n->aux)->act;
    /* an op besides the step read gi (whole), or X besides its steps */
    if (act == gi->val.data && !owned && !(gi->read_once && gi->uses == 1)) {
        char sh[64];
        rc_fail(g, n, "the read-once %s was read by an op other than its steps",
                rc_shape_str((gi->read_once ? gi : gi->in[0])->val.shape, sh));
        return;
    }
    rc_real *dz = owned ? owned : step_d(g, n, 4 * BH);
    if (!dz)
        return;
    /* z = gi + gh + b_ih + b_hh: one d z for all */
    cell_job j = {.lstm = true, .backward = true, .B = B, .H = H, .act = act,
                  .state = st->val.data, .out2 = n->val.data + BH, .dh = n->grad,
                  .dc_out = n->grad + BH, .d1 = dz, .dgi = dz, .dgh = dz};
    j.dbi = bias_grad(g, n, BIAS_I, &failed);
    j.dbh = bias_grad(g, n, BIAS_H, &failed);
    j.dstate = rc_input_grad(g, st);
    failed |= st->requires_grad && !j.dstate;
    /* gh takes dz when it can, then gi adds it (or takes it when gh did not).
     * Made here, gh has no node, and w_hh's deferred gradient reads d z at
     * the end: gi may take it only when no other op adds into it. */
    bool shared = makes_gh(n) && n->in[2]->requires_grad && gi->uses != 1;
    if (!makes_gh(n))
        j.acc1 = grad_target(g, n->in[1], dz, &shared, &j.fresh1, &failed);
    if (!owned)
        j.acc2 = grad_target(g, gi, dz, &shared, &j.fresh2, &failed);
    j.d2 = dz; /* acc2 adds dz as well */
    if (failed)
        return;
    run_cell(g, &j, n);
    if (makes_gh(n))
        hh_backward(g, n, dz);
}

static const rc_op op_lstm = {"lstm_cell", cell_shape, lstm_fwd, lstm_bwd,
                              RC_OP_BACKWARD_ALWAYS};

/* ---- GRU: out [B x H] = h'; act [B x 4H] ---------------------------------------- */

static void gru_fwd(rc_graph *g, rc_node *n)
{
    const rc_node *st = state_in(n);
    if (makes_gh(n))
        claim_rows(g, n);
    const int B = st->val.shape.d[0], H = st->val.shape.d[1];
    const saved *s = save(g, n, (size_t)B * 4 * H, NULL);
    const rc_real *gh = s ? gh_of(g, n, B, 3 * H) : NULL;
    if (!gh)
        return;
    cell_job j = {.B = B, .H = H, .gi = n->in[0]->val.data, .gh = gh,
                  .bi = bias_data(n, BIAS_I), .bh = bias_data(n, BIAS_H),
                  .state = st->val.data, .out = n->val.data, .act_out = s->act};
    run_cell(g, &j, n);
}

static void gru_bwd(rc_graph *g, rc_node *n)
{
    rc_node *gi = n->in[0], *st = state_in(n);
    const int B = st->val.shape.d[0], H = st->val.shape.d[1];
    const size_t BG = 3 * (size_t)B * H;
    bool failed = false, shared_h = false, shared_i = false;
    if (!n->grad) {
        no_grad_reached(g, n);
        return;
    }
    cell_job j = {.backward = true, .B = B, .H = H, .act = ((const saved *)n->aux)->act,
                  .state = st->val.data, .dh = n->grad};
    if (!(j.d2 = step_d(g, n, BG)))
        return;
    j.dgh = j.d2;
    if (!makes_gh(n))
        j.acc2 = grad_target(g, n->in[1], j.d2, &shared_h, &j.fresh2, &failed);
    /* d gi goes straight into the hoisted projection's gradient rows when
     * this step owns them (owned_grad); else into a buffer of its own when
     * gi can keep it as its gradient, or a scratch added into gi's. */
    rc_real *owned = makes_gh(n) ? owned_grad(g, gi) : NULL;
    if (!(j.d1 = owned                     ? owned
                 : rc_grad_shareable(gi) ? rc_arena_alloc(g, BG * sizeof(rc_real))
                                         : scratch(g, SCRATCH_DGI, BG)))
        return;
    j.dgi = j.d1;
    if (!owned)
        j.acc1 = grad_target(g, gi, j.d1, &shared_i, &j.fresh1, &failed);
    j.dbi = bias_grad(g, n, BIAS_I, &failed);
    j.dbh = bias_grad(g, n, BIAS_H, &failed);
    j.dstate = rc_input_grad(g, st);
    failed |= st->requires_grad && !j.dstate;
    if (failed)
        return;
    run_cell(g, &j, n);
    if (makes_gh(n)) /* after the kernel: it added d h' z into dh (st is h) */
        hh_backward(g, n, j.d2);
}

static const rc_op op_gru = {"gru_cell", cell_shape, gru_fwd, gru_bwd, RC_OP_BACKWARD_ALWAYS};

static rc_node *apply_cell(rc_site at, rc_graph *g, const rc_op *op, int G, rc_node *gi,
                           rc_node *gh_or_h, rc_node *w_hh, rc_node *b_ih, rc_node *b_hh,
                           rc_node *state)
{
    rc_attrs attrs = {.i = {G, (b_ih ? BIAS_I : 0) | (b_hh ? BIAS_H : 0), w_hh != NULL}};
    rc_node *in[6] = {gi, gh_or_h};
    int nin = 2;
    if (w_hh)
        in[nin++] = w_hh;
    in[nin++] = state;
    if (b_ih)
        in[nin++] = b_ih;
    if (b_hh)
        in[nin++] = b_hh;
    return rc_apply(at, g, op, nin, in, &attrs);
}

rc_node *rc_lstm_fused_at(rc_site at, rc_graph *g, rc_node *gi, rc_node *gh, rc_node *b_ih,
                          rc_node *b_hh, rc_node *c)
{
    return apply_cell(at, g, &op_lstm, 4, gi, gh, NULL, b_ih, b_hh, c);
}

rc_node *rc_gru_fused_at(rc_site at, rc_graph *g, rc_node *gi, rc_node *gh, rc_node *b_ih,
                         rc_node *b_hh, rc_node *h)
{
    return apply_cell(at, g, &op_gru, 3, gi, gh, NULL, b_ih, b_hh, h);
}

rc_node *rc_lstm_fused_hh_at(rc_site at, rc_graph *g, rc_node *gi, rc_node *h, rc_node *w_hh,
                             rc_node *b_ih, rc_node *b_hh, rc_node *c)
{
    if (g && !w_hh)
        return rc_fail_at(g, at, "lstm_cell", "w_hh is NULL"), rc_poisoned(g);
    return apply_cell(at, g, &op_lstm, 4, gi, h, w_hh, b_ih, b_hh, c);
}

rc_node *rc_gru_fused_hh_at(rc_site at, rc_graph *g, rc_node *gi, rc_node *h, rc_node *w_hh,
                            rc_node *b_ih, rc_node *b_hh)
{
    if (g && !w_hh)
        return rc_fail_at(g, at, "gru_cell", "w_hh is NULL"), rc_poisoned(g);
    return apply_cell(at, g, &op_gru, 3, gi, h, w_hh, b_ih, b_hh, h);
}
