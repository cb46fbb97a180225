/* Pointwise ops: affine, sigmoid, tanh, relu, exp, log, dropout. The
 * transcendental ones run vector code (ops/isa.h) through the kernel table. */
#include <math.h>

#include "kernels.h"
#include "recur/op.h"
#include "recur/ops.h"

static int same_shape(rc_graph *g, rc_node *n)
{
    (void)g;
    n->val.shape = n->in[0]->val.shape;
    return 0;
}

/* Each op: forward fills Y from X; backward adds dY * (local derivative),
 * written in terms of the saved input X and output Y, or as a vector kernel
 * run over (dY, Y) when RUN is one (>= 0). */
#define DEFINE_POINTWISE(NAME, FWD, DERIV, RUN)                                   \
    static void NAME##_fwd(rc_graph *g, rc_node *n)                               \
    {                                                                             \
        (void)g;                                                                  \
        FWD(n->val.data, n->in[0]->val.data, n->val.size);                        \
    }                                                                             \
    static void NAME##_bwd(rc_graph *g, rc_node *n)                               \
    {                                                                             \
        rc_node *a = n->in[0];                                                    \
        rc_real *GA = rc_input_grad(g, a);                                        \
        if (!GA)                                                                  \
            return;                                                               \
        const rc_real *X = a->val.data, *Y = n->val.data, *G = n->grad;           \
        const double s = n->f[0];                                                 \
        (void)X, (void)Y, (void)s;                                                \
        if ((RUN) >= 0) {                                                         \
            rc__kernels()->run((rc_run_op)(RUN), GA, G, Y, n->val.size);          \
            return;                                                               \
        }                                                                         \
        for (size_t k = 0; k < n->val.size; k++)                                  \
            GA[k] += G[k] * (DERIV);                                              \
    }                                                                             \
    static const rc_op op_##NAME = {#NAME, same_shape, NAME##_fwd, NAME##_bwd, 0}; \
    rc_node *rc_##NAME##_at(rc_site at, rc_graph *g, rc_node *a)                  \
    {                                                                             \
        return rc_apply(at, g, &op_##NAME, 1, (rc_node *const[]){a}, NULL);      \
    }

#define K_TANH(y, x, n) rc__kernels()->tanh(y, x, n)
#define K_SIGMOID(y, x, n) rc__kernels()->sigmoid(y, x, n)
#define K_EXP(y, x, n) rc__kernels()->exp(y, x, n)
#define K_LOG(y, x, n) rc__kernels()->log(y, x, n)

static void relu_map(rc_real *y, const rc_real *x, size_t n)
{
    for (size_t k = 0; k < n; k++)
        y[k] = x[k] > 0 ? x[k] : 0;
}

DEFINE_POINTWISE(tanh, K_TANH, 1 - Y[k] * Y[k], RC_RUN_TANH_BWD)
DEFINE_POINTWISE(sigmoid, K_SIGMOID, Y[k] * (1 - Y[k]), RC_RUN_SIGMOID_BWD)
DEFINE_POINTWISE(exp, K_EXP, Y[k], RC_RUN_FMA)
DEFINE_POINTWISE(log, K_LOG, 1 / X[k], -1)
DEFINE_POINTWISE(relu, relu_map, (Y[k] > 0 ? 1 : 0), -1)

/* ---- affine: s a + b ------------------------------------------------------ */

static void affine_fwd(rc_graph *g, rc_node *n)
{
    (void)g;
    const rc_real s = (rc_real)n->f[0], b = (rc_real)n->f[1];
    const rc_real *X = n->in[0]->val.data;
    for (size_t k = 0; k < n->val.size; k++)
        n->val.data[k] = s * X[k] + b;
}

static void affine_bwd(rc_graph *g, rc_node *n)
{
    rc_node *a = n->in[0];
    rc_real *GA = rc_input_grad(g, a);
    if (!GA)
        return;
    const rc_real s = (rc_real)n->f[0];
    for (size_t k = 0; k < n->val.size; k++)
        GA[k] += s * n->grad[k];
}

static int affine_shape(rc_graph *g, rc_node *n)
{
    if (!isfinite(n->f[0]) || !isfinite(n->f[1]))
        return rc_fail(g, n, "scale %g and shift %g must be finite", n->f[0], n->f[1]);
    return same_shape(g, n);
}

static const rc_op op_affine = {"affine", affine_shape, affine_fwd, affine_bwd, 0};

rc_node *rc_affine_at(rc_site at, rc_graph *g, rc_node *a, double s, double b)
{
    rc_attrs attrs = {.f = {s, b}};
    return rc_apply(at, g, &op_affine, 1, (rc_node *const[]){a}, &attrs);
}

/* ---- dropout ------------------------------------------------------------------
 * The kept elements' scale (0 or 1/(1-p)) is drawn in forward and saved in
 * aux for backward. */

static int dropout_shape(rc_graph *g, rc_node *n)
{
    double p = n->f[0];
    if (!(p >= 0 && p < 1))
        return rc_fail(g, n, "p = %g is outside [0, 1)", p);
    n->aux = rc_arena_alloc(g, n->in[0]->val.size * sizeof(rc_real));
    return n->aux ? same_shape(g, n) : -1;
}

static void dropout_fwd(rc_graph *g, rc_node *n)
{
    rc_rng *rng = rc_graph_rng(g);
    rc_real *mask = n->aux;
    const double p = n->f[0];
    const rc_real keep = (rc_real)(1.0 / (1.0 - p));
    const rc_real *X = n->in[0]->val.data;
    for (size_t k = 0; k < n->val.size; k++) {
        mask[k] = rc_rng_uniform(rng) < p ? 0 : keep;
        n->val.data[k] = X[k] * mask[k];
    }
}

static void dropout_bwd(rc_graph *g, rc_node *n)
{
    rc_node *a = n->in[0];
    rc_real *GA = rc_input_grad(g, a);
    if (!GA)
        return;
    const rc_real *mask = n->aux;
    for (size_t k = 0; k < n->val.size; k++)
        GA[k] += n->grad[k] * mask[k];
}

static const rc_op op_dropout = {"dropout", dropout_shape, dropout_fwd, dropout_bwd, 0};

rc_node *rc_dropout_at(rc_site at, rc_graph *g, rc_node *a, double p)
{
    if (g && rc_ok(a) && p >= 0 && p < 1 && (p == 0 || !rc_graph_training(g)))
        return a; /* identity: nothing to record */
    rc_attrs attrs = {.f = {p}};
    return rc_apply(at, g, &op_dropout, 1, (rc_node *const[]){a}, &attrs);
}
