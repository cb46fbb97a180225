/* Over the last axis: softmax, log-softmax, fused softmax cross-entropy;
 * and the MSE loss. Rows are shifted by their max before exp, so large
 * logits never overflow. */
#include <math.h>
#include <string.h>

#include "kernels.h"
#include "recur/op.h"
#include "recur/ops.h"

static int rows_shape(rc_graph *g, rc_node *n)
{
    (void)g;
    n->val.shape = n->in[0]->val.shape;
    return 0;
}

static size_t last_dim(const rc_node *x)
{
    const rc_shape *s = &x->val.shape;
    return s->ndim ? (size_t)s->d[s->ndim - 1] : 1;
}

/* y = exp(x - max(x)); returns the sum of y, the max in *max_out and,
 * unless min_out is NULL, the min in *min_out. */
static double shifted_exp(rc_real *y, const rc_real *x, size_t C, rc_real *max_out,
                          rc_real *min_out)
{
    return rc__kernels()->exp_shift(y, x, C, max_out, min_out);
}

double rc__softmax_nll(rc_real *y, const rc_real *x, size_t C, int32_t t, rc_real scale,
                       bool *finite)
{
    const rc_real xt = x[t]; /* before y, which may be x, is written */
    rc_real mx, mn;
    const double sum = shifted_exp(y, x, C, &mx, finite ? &mn : NULL);
    /* NaN and +Inf make the sum NaN; -Inf alone would vanish in exp */
    if (finite)
        *finite = !isnan(sum) && mn > -INFINITY;
    if (scale != 0)
        rc__kernels()->axpby(y, (rc_real)(scale / sum), y, 0, C);
    return log(sum) - ((double)xt - mx); /* -log softmax(x)[t] */
}

/* ---- softmax -------------------------------------------------------------- */

static void softmax_fwd(rc_graph *g, rc_node *n)
{
    (void)g;
    size_t C = last_dim(n), R = n->val.size / C;
    for (size_t r = 0; r < R; r++) {
        rc_real *y = n->val.data + r * C;
        rc_real mx;
        rc_real inv = (rc_real)(1.0 / shifted_exp(y, n->in[0]->val.data + r * C, C, &mx, NULL));
        rc__kernels()->axpby(y, inv, y, 0, C);
    }
}

/* dx = y (dy - <dy, y>) */
static void softmax_bwd(rc_graph *g, rc_node *n)
{
    rc_node *a = n->in[0];
    rc_real *GA = rc_input_grad(g, a);
    if (!GA)
        return;
    size_t C = last_dim(n), R = n->val.size / C;
    for (size_t r = 0; r < R; r++) {
        const rc_real *y = n->val.data + r * C, *dy = n->grad + r * C;
        double dot = 0;
        for (size_t j = 0; j < C; j++)
            dot += (double)dy[j] * y[j];
        for (size_t j = 0; j < C; j++)
            GA[r * C + j] += y[j] * (dy[j] - (rc_real)dot);
    }
}

static const rc_op op_softmax = {"softmax", rows_shape, softmax_fwd, softmax_bwd, 0};

rc_node *rc_softmax_at(rc_site at, rc_graph *g, rc_node *a)
{
    return rc_apply(at, g, &op_softmax, 1, (rc_node *const[]){a}, NULL);
}

/* ---- log-softmax ------------------------------------------------------------ */

static void log_softmax_fwd(rc_graph *g, rc_node *n)
{
    (void)g;
    size_t C = last_dim(n), R = n->val.size / C;
    for (size_t r = 0; r < R; r++) {
        const rc_real *x = n->in[0]->val.data + r * C;
        rc_real *y = n->val.data + r * C;
        rc_real mx;
        /* (x - max) - log(sum): never round max + log(sum) near a large max */
        const rc_real log_sum = (rc_real)log(shifted_exp(y, x, C, &mx, NULL));
        for (size_t j = 0; j < C; j++)
            y[j] = (x[j] - mx) - log_sum;
    }
}

/* dx = dy - softmax(x) sum(dy), softmax(x) = exp(y) */
static void log_softmax_bwd(rc_graph *g, rc_node *n)
{
    rc_node *a = n->in[0];
    if (!a->requires_grad)
        return;
    size_t C = last_dim(n), R = n->val.size / C;
    rc_real *GA = rc_grad_buf(g, a), *p = rc_arena_alloc(g, C * sizeof(rc_real));
    if (!GA || !p)
        return;
    for (size_t r = 0; r < R; r++) {
        const rc_real *dy = n->grad + r * C;
        double sum = 0;
        for (size_t j = 0; j < C; j++)
            sum += dy[j];
        rc__kernels()->exp(p, n->val.data + r * C, C);
        for (size_t j = 0; j < C; j++)
            GA[r * C + j] += dy[j] - p[j] * (rc_real)sum;
    }
}

static const rc_op op_log_softmax = {"log_softmax", rows_shape, log_softmax_fwd,
                                     log_softmax_bwd, 0};

rc_node *rc_log_softmax_at(rc_site at, rc_graph *g, rc_node *a)
{
    return rc_apply(at, g, &op_log_softmax, 1, (rc_node *const[]){a}, NULL);
}

/* ---- cross-entropy ------------------------------------------------------------
 * i[0] = ignore_index, i[1] = reduction, i[2] = rows that count.
 * aux = [softmax probabilities, R x C][targets, R int32], set up by the shape
 * check so backward needs no recomputation. */

typedef struct ce_layout {
    size_t R, C;
    rc_real *probs;
    const int32_t *targets;
} ce_layout;

static ce_layout ce_of(const rc_node *n)
{
    size_t C = last_dim(n->in[0]);
    size_t R = n->in[0]->val.size / C;
    rc_real *probs = n->aux;
    return (ce_layout){R, C, probs, (const int32_t *)(probs + R * C)};
}

static int ce_shape(rc_graph *g, rc_node *n)
{
    const rc_node *x = n->in[0];
    char s[64];
    if (n->i[1] != RC_MEAN && n->i[1] != RC_SUM)
        return rc_fail(g, n, "unknown reduction %d", n->i[1]);
    size_t C = last_dim(x), R = x->val.size / C;
    const int32_t *targets = n->aux;
    for (size_t r = 0; r < R; r++)
        if (targets[r] != n->i[0] && (targets[r] < 0 || (size_t)targets[r] >= C))
            return rc_fail(g, n, "target %d of row %zu is outside [0, %zu) for logits %s",
                           (int)targets[r], r, C, rc_shape_str(x->val.shape, s));
    rc_real *buf = rc_arena_alloc(g, R * C * sizeof(rc_real) + R * sizeof(int32_t));
    if (!buf)
        return -1;
    memcpy(buf + R * C, targets, R * sizeof(int32_t));
    n->aux = buf;
    n->val.shape = RC_SCALAR;
    return 0;
}

/* Rows split over recur's threads; each part keeps its own partial sum. */
enum { CE_PARTS = 64, CE_PARALLEL = 1 << 16 }; /* logits that pay for a fork-join */

typedef struct ce_job {
    const rc_node *n;
    ce_layout L;
    double total[CE_PARTS];
    int counted[CE_PARTS];
    rc_real *ga, scale;
    bool fresh;
} ce_job;

static void ce_fwd_part(void *ctx, int part, int parts)
{
    ce_job *j = ctx;
    const ce_layout L = j->L;
    int lo, hi;
    rc__split((int)L.R, 1, part, parts, &lo, &hi);
    double total = 0;
    int counted = 0;
    for (size_t r = (size_t)lo; r < (size_t)hi; r++) {
        if (L.targets[r] == j->n->i[0])
            continue;
        total += rc__softmax_nll(L.probs + r * L.C, j->n->in[0]->val.data + r * L.C, L.C,
                                 L.targets[r], 1, NULL);
        counted++;
    }
    j->total[part] = total;
    j->counted[part] = counted;
}

static int ce_parts(const ce_layout *L)
{
    return L->R * L->C >= CE_PARALLEL ? CE_PARTS : 1;
}

static void ce_fwd(rc_graph *g, rc_node *n)
{
    (void)g;
    ce_job j = {.n = n, .L = ce_of(n)};
    rc__parallel(ce_fwd_part, &j, ce_parts(&j.L));
    double total = 0;
    int counted = 0;
    for (int k = 0; k < CE_PARTS; k++) {
        total += j.total[k];
        counted += j.counted[k];
    }
    n->i[2] = counted;
    n->val.data[0] = (rc_real)(n->i[1] == RC_MEAN ? (counted ? total / counted : 0) : total);
}

/* d loss / d x = (softmax(x) - onehot(t)) per counted row, / count for mean.
 * With ga == probs the probabilities become the gradient in place. */
static void ce_bwd_part(void *ctx, int part, int parts)
{
    const ce_job *j = ctx;
    const ce_layout L = j->L;
    int lo, hi;
    rc__split((int)L.R, 1, part, parts, &lo, &hi);
    for (size_t r = (size_t)lo; r < (size_t)hi; r++) {
        rc_real *ga = j->ga + r * L.C;
        if (L.targets[r] == j->n->i[0]) {
            if (j->fresh)
                memset(ga, 0, L.C * sizeof *ga);
            continue;
        }
        rc__kernels()->axpby(ga, j->scale, L.probs + r * L.C, j->fresh ? 0 : 1, L.C);
        ga[L.targets[r]] -= j->scale;
    }
}

static void ce_bwd(rc_graph *g, rc_node *n)
{
    rc_node *a = n->in[0];
    if (!a->requires_grad || n->i[2] == 0)
        return;
    ce_job j = {.n = n, .L = ce_of(n)};
    /* The probabilities become the logits' gradient when nothing else gave
     * them one (backward runs once per tape, so they are not read again):
     * no second R x C buffer (W3: 8 MB). Else a new gradient is written,
     * not zero-filled and added to. */
    if (rc_grad_share(a, j.L.probs))
        j.ga = j.L.probs, j.fresh = true;
    else if (!(j.ga = rc_grad_for_write(g, a, &j.fresh)))
        return;
    j.scale = n->grad[0] / (n->i[1] == RC_MEAN ? (rc_real)n->i[2] : 1);
    rc__parallel(ce_bwd_part, &j, ce_parts(&j.L));
}

static const rc_op op_cross_entropy = {"cross_entropy", ce_shape, ce_fwd, ce_bwd, 0};

rc_node *rc_cross_entropy_at(rc_site at, rc_graph *g, rc_node *logits,
                             const int32_t *targets, int32_t ignore_index,
                             rc_reduction reduction)
{
    size_t rows = rc_ok(logits) ? rc_size(logits) / last_dim(logits) : 0;
    rc_attrs attrs = {.i = {ignore_index, (int)reduction},
                      .aux = targets,
                      .aux_bytes = rows * sizeof(int32_t)};
    return rc_apply(at, g, &op_cross_entropy, 1, (rc_node *const[]){logits}, &attrs);
}

/* ---- mse ------------------------------------------------------------------------ */

static int mse_shape(rc_graph *g, rc_node *n)
{
    const rc_shape *a = &n->in[0]->val.shape, *b = &n->in[1]->val.shape;
    char sa[64], sb[64];
    if (!rc_shape_eq(*a, *b))
        return rc_fail(g, n, "a %s and b %s differ in shape", rc_shape_str(*a, sa),
                       rc_shape_str(*b, sb));
    n->val.shape = RC_SCALAR;
    return 0;
}

static void mse_fwd(rc_graph *g, rc_node *n)
{
    (void)g;
    const rc_real *A = n->in[0]->val.data, *B = n->in[1]->val.data;
    size_t N = n->in[0]->val.size;
    double s = 0;
    for (size_t k = 0; k < N; k++)
        s += ((double)A[k] - B[k]) * ((double)A[k] - B[k]);
    n->val.data[0] = (rc_real)(s / (double)N);
}

static void mse_bwd(rc_graph *g, rc_node *n)
{
    const rc_real *A = n->in[0]->val.data, *B = n->in[1]->val.data;
    size_t N = n->in[0]->val.size;
    const rc_real scale = 2 * n->grad[0] / (rc_real)N;
    for (int side = 0; side < 2; side++) {
        rc_node *x = n->in[side];
        if (!x->requires_grad)
            continue;
        rc_real *GX = rc_grad_buf(g, x);
        if (!GX)
            return;
        const rc_real sign = side == 0 ? scale : -scale;
        for (size_t k = 0; k < N; k++)
            GX[k] += sign * (A[k] - B[k]);
    }
}

static const rc_op op_mse = {"mse", mse_shape, mse_fwd, mse_bwd, 0};

rc_node *rc_mse_at(rc_site at, rc_graph *g, rc_node *a, rc_node *b)
{
    return rc_apply(at, g, &op_mse, 2, (rc_node *const[]){a, b}, NULL);
}
