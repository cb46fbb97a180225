/* permute: values against index arithmetic, gradients, bad axes. */
#include "check.h"
#include "recur/ops.h"

typedef struct ctx {
    rc_node *a;
    int nd, axes[4];
    rc_real w[120];
} ctx;

static rc_node *loss_of(rc_graph *g, void *p)
{
    ctx *c = p;
    rc_node *y = rc_permute(g, c->a, c->nd, c->axes);
    return rc_sum(g, rc_mul(g, y, rc_input(g, rc_shape_of(y), c->w)));
}

int main(void)
{
    rc_graph *g = rc_graph_new();
    rc_params *ps = rc_params_new();
    rc_rng rng;
    rc_rng_seed(&rng, 2);
    static ctx c;
    c.a = rc_param(ps, "a", RC_SHAPE(2, 3, 4, 5));
    for (int k = 0; k < 120; k++) {
        rc_data(c.a)[k] = (rc_real)k;
        c.w[k] = (rc_real)(rc_rng_uniform(&rng) - 0.5);
    }
    /* [2x3x4] -> axes {1, 0, 2}: out[j][i][k] = in[i][j][k] */
    rc_node *x = rc_reshape(g, rc_slice(g, c.a, 3, 0, 1), RC_SHAPE(2, 3, 4));
    rc_node *y = rc_permute(g, x, 3, (int[]){1, 0, 2});
    CHECK(rc_shape_eq(rc_shape_of(y), RC_SHAPE(3, 2, 4)));
    int ok = 1;
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 4; k++)
                ok &= rc_data(y)[(j * 2 + i) * 4 + k] == rc_data(x)[(i * 3 + j) * 4 + k];
    CHECK(ok);
    /* 4-D {3, 1, 0, 2} */
    y = rc_permute(g, c.a, 4, (int[]){3, 1, 0, 2});
    CHECK(rc_shape_eq(rc_shape_of(y), RC_SHAPE(5, 3, 2, 4)));
    ok = 1;
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 3; b++)
            for (int d = 0; d < 4; d++)
                for (int e = 0; e < 5; e++)
                    ok &= rc_data(y)[((e * 3 + b) * 2 + a) * 4 + d] ==
                          (rc_real)(((a * 3 + b) * 4 + d) * 5 + e);
    CHECK(ok);
    CHECK_NO_ERROR(g);
    c.nd = 4;
    memcpy(c.axes, (int[]){3, 1, 0, 2}, sizeof c.axes);
    rc_param_uniform(c.a, -1, 1, &rng);
    CHECK_GRAD("permute_3102", g, loss_of, &c, &c.a, 1);
    memcpy(c.axes, (int[]){0, 2, 1, 3}, sizeof c.axes);
    CHECK_GRAD("permute_0213", g, loss_of, &c, &c.a, 1);
    rc_permute(g, c.a, 4, (int[]){0, 0, 1, 2});
    CHECK_ERROR_HAS(g, "permute");
    CHECK_ERROR_HAS(g, "not a permutation");
    rc_graph_reset(g);
    rc_permute(g, c.a, 3, (int[]){0, 1, 2});
    CHECK_ERROR_HAS(g, "3 axes given for the 4 dims");
    rc_graph_free(g);
    rc_params_free(ps);
    return check_finish("ops_permute");
}
