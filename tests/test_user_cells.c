/* The example's user-defined cells pass the same finite-difference checks
 * as the built-in ones: the MGU through BPTT, the Tree-LSTM through a tree. */
#include "../examples/mgu_cell.h"
#include "../examples/tree_lstm_model.h"
#include "check.h"

enum { T = 6, B = 2, I = 3, H = 4 };

typedef struct mgu_case {
    mgu cell;
    rc_node *x, *h0;
    rc_real w[B * H];
} mgu_case;

static rc_node *mgu_loss(rc_graph *g, void *ctx)
{
    mgu_case *c = ctx;
    rc_node *h = c->h0;
    for (int t = 0; t < T; t++)
        h = mgu_cell(g, &c->cell, rc_reshape(g, rc_slice(g, c->x, 0, t, 1), RC_SHAPE(B, I)), h);
    return rc_sum(g, rc_mul(g, h, rc_input(g, RC_SHAPE(B, H), c->w)));
}

typedef struct tree_case {
    tree_lstm m;
    int32_t ids[7];
    int32_t label;
} tree_case;

static rc_node *tree_loss(rc_graph *g, void *ctx)
{
    tree_case *c = ctx;
    return rc_cross_entropy(g, tree_lstm_logits(g, &c->m, c->ids, 7), &c->label, -1, RC_SUM);
}

int main(void)
{
    rc_rng rng;
    rc_rng_seed(&rng, 4);
    rc_graph *g = rc_graph_new();

    rc_params *ps = rc_params_new();
    static mgu_case mc;
    CHECK(mgu_init(&mc.cell, ps, "mgu.", I, H, &rng) == 0);
    mc.x = rc_param(ps, "x", RC_SHAPE(T, B, I));
    mc.h0 = rc_param(ps, "h0", RC_SHAPE(B, H));
    rc_param_uniform(mc.x, -1, 1, &rng);
    rc_param_uniform(mc.h0, -0.5f, 0.5f, &rng);
    for (int k = 0; k < B * H; k++)
        mc.w[k] = (rc_real)(rc_rng_uniform(&rng) - 0.5);
    rc_gradcheck_result r;
    CHECK(rc_gradcheck_params(g, mgu_loss, &mc, ps, NULL, &r) == 0);
    CHECK(r.max_rel_err < GRAD_TOL);
    if (getenv("RECUR_TEST_VERBOSE"))
        printf("gradcheck mgu rel err %.3g over %zu\n", r.max_rel_err, r.checked);
    rc_params_free(ps);

    ps = rc_params_new();
    static tree_case tc = {.ids = {1, 4, 2, 2, 0, 3, 5}, .label = 1};
    CHECK(tree_lstm_init(&tc.m, ps, 6, 3, H, 2, &rng) == 0);
    CHECK(rc_gradcheck_params(g, tree_loss, &tc, ps, NULL, &r) == 0);
    CHECK(r.max_rel_err < GRAD_TOL);
    if (getenv("RECUR_TEST_VERBOSE"))
        printf("gradcheck tree_lstm rel err %.3g over %zu\n", r.max_rel_err, r.checked);
    /* 7 leaves, 6 inner nodes: the tape follows the tree */
    rc_graph_reset(g);
    tree_loss(g, &tc);
    size_t seven = rc_graph_tape_length(g);
    rc_graph_reset(g);
    rc_cross_entropy(g, tree_lstm_logits(g, &tc.m, tc.ids, 1), &tc.label, -1, RC_SUM);
    CHECK(rc_graph_tape_length(g) < seven);
    rc_params_free(ps);
    rc_graph_free(g);
    return check_finish("user_cells");
}
