/* The public gradcheck: passes on a correct model, and fails loudly, naming
 * the parameter, on an op whose backward is wrong (a check that cannot fail
 * proves nothing). */
#include "check.h"
#include "recur/op.h"
#include "recur/ops.h"

typedef struct mlp {
    rc_node *W1, *b1, *W2, *b2;
    const rc_real *x;
    const int32_t *y;
} mlp;

enum { N = 6, I = 4, H = 5, C = 3 };

static rc_node *mlp_loss(rc_graph *g, void *ctx)
{
    mlp *m = ctx;
    rc_node *x = rc_input(g, RC_SHAPE(N, I), m->x);
    rc_node *h = rc_tanh(g, rc_add(g, rc_matmul_nt(g, x, m->W1), m->b1));
    rc_node *logits = rc_add(g, rc_matmul_nt(g, h, m->W2), m->b2);
    return rc_cross_entropy(g, logits, m->y, -1, RC_MEAN);
}

/* square with a deliberately wrong backward (3x instead of 2x) */
static int sq_shape(rc_graph *g, rc_node *n)
{
    (void)g;
    n->val.shape = n->in[0]->val.shape;
    return 0;
}
static void sq_fwd(rc_graph *g, rc_node *n)
{
    (void)g;
    for (size_t k = 0; k < n->val.size; k++)
        n->val.data[k] = n->in[0]->val.data[k] * n->in[0]->val.data[k];
}
static void sq_bwd_wrong(rc_graph *g, rc_node *n)
{
    rc_real *ga = rc_grad_buf(g, n->in[0]);
    for (size_t k = 0; k < n->val.size; k++)
        ga[k] += 3 * n->in[0]->val.data[k] * n->grad[k];
}
static const rc_op op_bad_square = {"bad_square", sq_shape, sq_fwd, sq_bwd_wrong, 0};

typedef struct bad {
    rc_node *ok, *broken;
} bad;

static rc_node *bad_loss(rc_graph *g, void *ctx)
{
    bad *b = ctx;
    rc_node *sq = rc_apply(RC_HERE, g, &op_bad_square, 1, &b->broken, NULL);
    return rc_add(g, rc_sum(g, rc_tanh(g, b->ok)), rc_sum(g, sq));
}

static rc_node *failing_builder(rc_graph *g, void *ctx)
{
    (void)ctx;
    return rc_matmul(g, rc_fill(g, RC_SHAPE(2, 3), 1), rc_fill(g, RC_SHAPE(2, 3), 1));
}

int main(void)
{
    rc_params *ps = rc_params_new();
    rc_rng rng;
    rc_rng_seed(&rng, 42);
    mlp m = {rc_param(ps, "W1", RC_SHAPE(H, I)), rc_param(ps, "b1", RC_SHAPE(H)),
             rc_param(ps, "W2", RC_SHAPE(C, H)), rc_param(ps, "b2", RC_SHAPE(C)), NULL, NULL};
    for (size_t k = 0; k < rc_params_count(ps); k++)
        rc_param_uniform(rc_params_at(ps, k), -1, 1, &rng);
    rc_real x[N * I];
    int32_t y[N];
    for (int k = 0; k < N * I; k++)
        x[k] = (rc_real)(2 * rc_rng_uniform(&rng) - 1);
    for (int k = 0; k < N; k++)
        y[k] = k % C;
    m.x = x;
    m.y = y;
    rc_graph *g = rc_graph_new();

    /* a correct model passes, and nothing of the caller's state changes */
    rc_real before = rc_data(m.W1)[2];
    rc_grad(m.W1)[2] = 7;
    CHECK_GRAD("mlp", g, mlp_loss, &m, ((rc_node *[]){m.W1, m.b1, m.W2, m.b2}), 4);
    CHECK(rc_data(m.W1)[2] == before);
    CHECK(rc_grad(m.W1)[2] == 7);
    CHECK(rc_graph_grad_enabled(g));

    /* whole store, sampled */
    rc_gradcheck_result r;
    rc_gradcheck_opts opts = {.max_per_param = 2, .seed = 3};
    CHECK(rc_gradcheck_params(g, mlp_loss, &m, ps, &opts, &r) == 0);
    CHECK(r.checked == 2 * 4);
    CHECK(r.max_rel_err < GRAD_TOL);

    /* a wrong backward is caught, and blamed on the right parameter */
    rc_params *ps2 = rc_params_new();
    bad b = {rc_param(ps2, "fine", RC_SHAPE(3)), rc_param(ps2, "broken", RC_SHAPE(4))};
    rc_param_uniform(b.ok, 0.5f, 1, &rng);
    rc_param_uniform(b.broken, 0.5f, 1, &rng);
    CHECK(rc_gradcheck_params(g, bad_loss, &b, ps2, NULL, &r) == 0);
    CHECK(r.max_rel_err > 0.3); /* 3x vs 2x: relative error 1/3 */
    CHECK(r.worst_param && strcmp(r.worst_param, "broken") == 0);
    CHECK_NEAR(r.analytic / r.numeric, 1.5, 1e-2);
    CHECK(rc_gradcheck(g, bad_loss, &b, &b.ok, 1, NULL, &r) == 0);
    CHECK(r.max_rel_err < GRAD_TOL);

    /* a builder that fails is reported, not compared */
    CHECK(rc_gradcheck(g, failing_builder, NULL, &b.ok, 1, NULL, &r) == -1);
    CHECK(strstr(r.error, "matmul") != NULL);
    /* something that is not a parameter */
    rc_node *not_param = rc_fill(g, RC_SHAPE(2), 1);
    CHECK(rc_gradcheck(g, mlp_loss, &m, &not_param, 1, NULL, &r) == -1);
    CHECK(strstr(r.error, "not a parameter") != NULL);

    rc_graph_free(g);
    rc_params_free(ps);
    rc_params_free(ps2);
    return check_finish("gradcheck");
}
