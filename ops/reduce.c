/* Reductions: sum and mean of everything, sum over one axis. Sums are
 * accumulated in double so long reductions lose nothing in float builds. */
#include "recur/op.h"
#include "recur/ops.h"

/* i[0] = 1 for mean */
static int total_shape(rc_graph *g, rc_node *n)
{
    (void)g;
    n->val.shape = RC_SCALAR;
    return 0;
}

static void total_fwd(rc_graph *g, rc_node *n)
{
    (void)g;
    const rc_node *x = n->in[0];
    double s = 0;
    for (size_t k = 0; k < x->val.size; k++)
        s += x->val.data[k];
    n->val.data[0] = (rc_real)(n->i[0] ? s / (double)x->val.size : s);
}

static void total_bwd(rc_graph *g, rc_node *n)
{
    rc_node *x = n->in[0];
    rc_real *GX = rc_input_grad(g, x);
    if (!GX)
        return;
    const rc_real d = n->i[0] ? n->grad[0] / (rc_real)x->val.size : n->grad[0];
    for (size_t k = 0; k < x->val.size; k++)
        GX[k] += d;
}

static const rc_op op_sum = {"sum", total_shape, total_fwd, total_bwd, 0};
static const rc_op op_mean = {"mean", total_shape, total_fwd, total_bwd, 0};

rc_node *rc_sum_at(rc_site at, rc_graph *g, rc_node *a)
{
    return rc_apply(at, g, &op_sum, 1, (rc_node *const[]){a}, NULL);
}

rc_node *rc_mean_at(rc_site at, rc_graph *g, rc_node *a)
{
    rc_attrs attrs = {.i = {1}};
    return rc_apply(at, g, &op_mean, 1, (rc_node *const[]){a}, &attrs);
}

/* ---- sum over one axis: i[0] = axis --------------------------------------------- */

typedef struct axis_split {
    size_t outer, len, inner;
} axis_split;

static axis_split split_of(const rc_shape *s, int axis)
{
    axis_split a = {1, (size_t)s->d[axis], 1};
    for (int k = 0; k < axis; k++)
        a.outer *= (size_t)s->d[k];
    for (int k = axis + 1; k < s->ndim; k++)
        a.inner *= (size_t)s->d[k];
    return a;
}

static int sum_axis_shape(rc_graph *g, rc_node *n)
{
    const rc_shape *x = &n->in[0]->val.shape;
    char s[64];
    int axis = n->i[0] < 0 ? n->i[0] + x->ndim : n->i[0];
    if (axis < 0 || axis >= x->ndim)
        return rc_fail(g, n, "axis %d is outside %s", n->i[0], rc_shape_str(*x, s));
    n->i[0] = axis;
    n->val.shape.ndim = x->ndim - 1;
    for (int k = 0, j = 0; k < x->ndim; k++)
        if (k != axis)
            n->val.shape.d[j++] = x->d[k];
    return 0;
}

static void sum_axis_fwd(rc_graph *g, rc_node *n)
{
    (void)g;
    axis_split a = split_of(&n->in[0]->val.shape, n->i[0]);
    const rc_real *X = n->in[0]->val.data;
    for (size_t o = 0; o < a.outer; o++) {
        rc_real *y = n->val.data + o * a.inner;
        for (size_t j = 0; j < a.inner; j++)
            y[j] = 0;
        for (size_t l = 0; l < a.len; l++) {
            const rc_real *x = X + (o * a.len + l) * a.inner;
            for (size_t j = 0; j < a.inner; j++)
                y[j] += x[j];
        }
    }
}

static void sum_axis_bwd(rc_graph *g, rc_node *n)
{
    rc_node *x = n->in[0];
    rc_real *GX = rc_input_grad(g, x);
    if (!GX)
        return;
    axis_split a = split_of(&x->val.shape, n->i[0]);
    for (size_t o = 0; o < a.outer; o++)
        for (size_t l = 0; l < a.len; l++) {
            rc_real *gx = GX + (o * a.len + l) * a.inner;
            const rc_real *gy = n->grad + o * a.inner;
            for (size_t j = 0; j < a.inner; j++)
                gx[j] += gy[j];
        }
}

static const rc_op op_sum_axis = {"sum_axis", sum_axis_shape, sum_axis_fwd, sum_axis_bwd, 0};

rc_node *rc_sum_axis_at(rc_site at, rc_graph *g, rc_node *a, int axis)
{
    rc_attrs attrs = {.i = {axis}};
    return rc_apply(at, g, &op_sum_axis, 1, (rc_node *const[]){a}, &attrs);
}
