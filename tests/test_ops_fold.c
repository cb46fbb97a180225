/* matmul's fold of an embedding (ops/matmul.c): table[ids] op(W) + b made as
 * (table op(W) + b)[ids] when the table has at most half as many rows as
 * the ids. The folded node must give the unfolded product's values and
 * gradients, the time steps' slices must share one table product, and the
 * cases outside the rule must stay plain products. */
#include <math.h>
#include <string.h>

#include "op_check.h"
#include "recur/gradcheck.h"
#include "recur/op.h"

enum { V = 5, E = 7, N = 9, T = 4, B = 6, ROWS = T * B };

typedef struct {
    rc_node *table, *w, *u, *bias;
    int32_t ids[ROWS];
    bool fold; /* false: a copy of the embedding (not an embedding) feeds the products */
} ctx;

static bool folded(const rc_node *n)
{
    return rc_ok(n) && !strcmp(n->op->name, "embedding");
}

/* x = table[ids] [ROWS x E]; x W^T + b, x U and per-step slices x_t W^T,
 * plus a term on x itself, so the table gets a gradient both ways. */
static rc_node *build(rc_graph *g, void *vc)
{
    ctx *c = vc;
    rc_node *x = rc_embedding(g, c->table, c->ids, RC_SHAPE(ROWS));
    rc_node *in = c->fold ? x : rc_scale(g, x, 1.0);
    rc_node *y = rc_matmul_bias(g, in, c->w, c->bias, RC_TRANS_B); /* [ROWS x N] */
    rc_node *z = rc_matmul(g, in, c->u);                             /* [ROWS x N] */
    rc_node *loss = rc_add(g, wsum(g, rc_tanh(g, y)), wsum(g, rc_mul(g, z, z)));
    rc_node *steps = rc_reshape(g, in, RC_SHAPE(T, B, E));
    for (int t = 0; t < T; t++) {
        rc_node *yt = rc_matmul_bias(g, rc_select(g, steps, t), c->w, c->bias, RC_TRANS_B);
        loss = rc_add(g, loss, wsum(g, rc_sigmoid(g, yt)));
    }
    return rc_add(g, loss, wsum(g, rc_mul(g, x, x)));
}

static void setup(rc_params **ps, ctx *c, uint64_t seed)
{
    rc_rng r, *rng = &r;
    rc_rng_seed(rng, seed);
    *ps = rc_params_new();
    c->table = new_param(*ps, "table", RC_SHAPE(V, E));
    c->w = new_param(*ps, "w", RC_SHAPE(N, E));
    c->u = new_param(*ps, "u", RC_SHAPE(E, N));
    c->bias = new_param(*ps, "bias", RC_SHAPE(N));
    for (size_t k = 0; k < rc_params_count(*ps); k++)
        rc_param_uniform(rc_params_at(*ps, k), -0.8, 0.8, rng);
    for (int k = 0; k < ROWS; k++) /* every id, some often */
        c->ids[k] = k < V ? k : (int32_t)(rc_rng_uniform(rng) * V);
}

/* Values against a product done by hand; which nodes fold. */
static void test_values(void)
{
    rc_params *ps;
    ctx c;
    setup(&ps, &c, 31);
    rc_graph *g = rc_graph_new();
    rc_node *x = rc_embedding(g, c.table, c.ids, RC_SHAPE(ROWS));
    rc_node *y = rc_matmul_bias(g, x, c.w, c.bias, RC_TRANS_B);
    rc_node *z = rc_matmul(g, x, c.u);
    CHECK_NO_ERROR(g);
    CHECK(folded(y) && folded(z));
    CHECK(rc_shape_eq(rc_shape_of(y), RC_SHAPE(ROWS, N)));
    double want_y[ROWS * N], want_z[ROWS * N];
    const rc_real *tb = rc_data(c.table), *w = rc_data(c.w), *u = rc_data(c.u),
                  *b = rc_data(c.bias);
    for (int r = 0; r < ROWS; r++)
        for (int j = 0; j < N; j++) {
            double sy = b[j], sz = 0;
            for (int k = 0; k < E; k++) {
                sy += (double)tb[c.ids[r] * E + k] * w[j * E + k];
                sz += (double)tb[c.ids[r] * E + k] * u[k * N + j];
            }
            want_y[r * N + j] = sy;
            want_z[r * N + j] = sz;
        }
    CHECK_VALUES(y, want_y, ROWS * N, VALUE_TOL);
    CHECK_VALUES(z, want_z, ROWS * N, VALUE_TOL);

    /* time steps' slices share one product of the table */
    rc_node *steps = rc_reshape(g, x, RC_SHAPE(T, B, E));
    rc_node *y0 = rc_matmul_bias(g, rc_select(g, steps, 0), c.w, c.bias, RC_TRANS_B),
            *y3 = rc_matmul_bias(g, rc_select(g, steps, 3), c.w, c.bias, RC_TRANS_B);
    CHECK(folded(y0) && folded(y3) && y0->in[0] == y3->in[0] && y0->in[0] == y->in[0]);
    CHECK_VALUES(y3, want_y + 3 * B * N, B * N, VALUE_TOL);
    /* the same weight with another bias (or none) is not that product: plain */
    CHECK(!folded(rc_matmul_nt(g, x, c.w)));
    /* a transposed a, too few ids, a copy of the rows: plain products */
    rc_node *xt = rc_reshape(g, x, RC_SHAPE(E, ROWS));
    CHECK(!folded(rc_matmul_tn(g, xt, rc_input(g, RC_SHAPE(E, 3), W_))));
    rc_node *few = rc_embedding(g, c.table, c.ids, RC_SHAPE(2 * V - 1));
    CHECK(!folded(rc_matmul_nt(g, few, c.w)));
    CHECK(!folded(rc_matmul_nt(g, rc_scale(g, x, 1.0), c.w)));
    CHECK_NO_ERROR(g);
    /* a weight of the wrong width: the product's own error */
    rc_matmul(g, x, c.w);
    CHECK_ERROR_HAS(g, "matmul");
    rc_graph_free(g);
    rc_params_free(ps);
}

/* The folded graph's gradients: finite differences, and the unfolded
 * graph's (the same loss with the products on a copy of the rows). */
static void test_gradients(void)
{
    rc_params *ps;
    ctx c;
    setup(&ps, &c, 32);
    rc_node *params[] = {c.table, c.w, c.u, c.bias};
    rc_graph *g = rc_graph_new();
    c.fold = true;
    CHECK_GRAD("fold_embedding", g, build, &c, params, 4);

    const size_t P = rc_params_numel(ps);
    rc_real *grads[2];
    double worst = 0, scale = 0;
    for (int f = 0; f < 2; f++) {
        c.fold = f;
        rc_graph_reset(g);
        rc_params_zero_grad(ps);
        rc_node *loss = build(g, &c);
        CHECK(rc_backward(g, loss) == 0);
        grads[f] = malloc(P * sizeof(rc_real));
        memcpy(grads[f], rc_params_grads(ps), P * sizeof(rc_real));
    }
    for (size_t k = 0; k < P; k++) {
        worst = fmax(worst, fabs((double)grads[0][k] - grads[1][k]));
        scale = fmax(scale, fabs((double)grads[1][k]));
    }
    CHECK(scale > 0 && worst <= 10 * VALUE_TOL * scale);
    free(grads[0]);
    free(grads[1]);

    /* folded with gradients off, then used with them on: the second product
     * must not reuse the first's table product (it is off the tape) */
    rc_graph_reset(g);
    rc_params_zero_grad(ps);
    rc_node *x = rc_embedding(g, c.table, c.ids, RC_SHAPE(ROWS));
    rc_graph_set_grad(g, false);
    CHECK(folded(rc_matmul_nt(g, x, c.w)));
    rc_graph_set_grad(g, true);
    rc_node *y = rc_matmul_nt(g, x, c.w);
    CHECK(rc_backward(g, rc_sum(g, y)) == 0);
    double col = 0; /* d sum(x W^T) / d W[0][0] = sum of x's first column */
    for (int r = 0; r < ROWS; r++)
        col += rc_data(c.table)[c.ids[r] * E];
    CHECK_NEAR(rc_grad(c.w)[0], col, VALUE_TOL * 10);
    rc_graph_free(g);
    rc_params_free(ps);
}

int main(void)
{
    init_weights();
    test_values();
    test_gradients();
    return check_finish("ops_fold");
}
