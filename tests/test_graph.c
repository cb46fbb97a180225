/* The tape: values, backward accumulation, parameter store layout, no-grad
 * mode, detach, reset, and BPTT through a loop of recorded steps. */
#include <stdint.h>

#include "check.h"
#include "recur/op.h"
#include "recur/ops.h"

/* h_t = tanh(W_hh h_{t-1} + W_ih x_t), loss = sum of h_T: BPTT over T steps */
typedef struct rnn {
    rc_node *W_ih, *W_hh;
    int T;
} rnn;

static rc_node *rnn_loss(rc_graph *g, void *ctx)
{
    rnn *m = ctx;
    rc_node *h = rc_fill(g, RC_SHAPE(2, 3), 0.1f);
    for (int t = 0; t < m->T; t++) {
        rc_node *x = rc_fill(g, RC_SHAPE(2, 2), (rc_real)(0.3 * t - 0.5));
        h = rc_tanh(g, rc_add(g, rc_matmul_nt(g, h, m->W_hh), rc_matmul_nt(g, x, m->W_ih)));
    }
    return rc_sum(g, h);
}

int main(void)
{
    rc_graph *g = rc_graph_new();
    rc_params *ps = rc_params_new();

    /* RC_SHAPE and friends */
    CHECK(RC_SHAPE(7).ndim == 1 && RC_SHAPE(2, 3, 4, 5).ndim == 4);
    CHECK(rc_shape_size(RC_SHAPE(2, 3, 4)) == 24 && rc_shape_size(RC_SCALAR) == 1);
    char buf[64];
    CHECK(strcmp(rc_shape_str(RC_SHAPE(32, 256), buf), "[32x256]") == 0);

    /* a hand-checked forward and backward: loss = sum(W x) + sum(W * W) */
    rc_node *W = rc_param(ps, "W", RC_SHAPE(2, 2));
    rc_real w0[] = {1, 2, 3, 4};
    memcpy(rc_data(W), w0, sizeof w0);
    rc_node *x = rc_input(g, RC_SHAPE(2, 1), ((rc_real[]){5, 6}));
    rc_node *y = rc_matmul(g, W, x); /* [17, 39] */
    CHECK_VALUES(y, ((double[]){17, 39}), 2, VALUE_TOL);
    rc_node *loss = rc_add(g, rc_sum(g, y), rc_sum(g, rc_mul(g, W, W)));
    CHECK_NEAR(rc_item(loss), 56 + 30, VALUE_TOL);
    CHECK(rc_graph_tape_length(g) == 5); /* matmul, sum, mul, sum, add */
    CHECK(rc_backward(g, loss) == 0);
    /* d/dW = x^T per row + 2W, and W is used twice: contributions add */
    CHECK_VALUES(W, w0, 4, 0);
    rc_real want[] = {5 + 2, 6 + 4, 5 + 6, 6 + 8};
    for (int k = 0; k < 4; k++)
        CHECK_NEAR(rc_grad(W)[k], want[k], VALUE_TOL);
    CHECK(rc_grad(x) == NULL); /* constants get no gradient */
    /* a second backward on a fresh tape adds to the parameter's grad */
    rc_graph_reset(g);
    x = rc_input(g, RC_SHAPE(2, 1), ((rc_real[]){5, 6}));
    CHECK(rc_backward(g, rc_sum(g, rc_matmul(g, W, x))) == 0);
    CHECK_NEAR(rc_grad(W)[0], 7 + 5, VALUE_TOL);
    rc_params_zero_grad(ps);
    CHECK(rc_grad(W)[0] == 0);

    /* no-grad mode records nothing */
    rc_graph_reset(g);
    rc_graph_set_grad(g, false);
    y = rc_sum(g, rc_matmul(g, W, rc_fill(g, RC_SHAPE(2, 1), 1)));
    CHECK_NEAR(rc_item(y), 10, VALUE_TOL);
    CHECK(rc_graph_tape_length(g) == 0);
    CHECK(rc_backward(g, y) == -1);
    rc_graph_set_grad(g, true);

    /* detach stops the gradient */
    rc_graph_reset(g);
    rc_node *h = rc_matmul(g, W, rc_fill(g, RC_SHAPE(2, 1), 1));
    rc_node *d = rc_detach(g, h);
    CHECK_VALUES(d, ((double[]){3, 7}), 2, VALUE_TOL);
    loss = rc_add(g, rc_sum(g, rc_mul(g, d, d)), rc_sum(g, h));
    CHECK(rc_backward(g, loss) == 0);
    CHECK_NEAR(rc_grad(W)[0], 1, VALUE_TOL); /* only the sum(h) path */
    rc_params_zero_grad(ps);

    /* the store: one flat buffer, aligned named views, creation order */
    rc_node *b = rc_param(ps, "bias_ih_l0", RC_SHAPE(3));
    rc_node *big = rc_param(ps, "weight_hh_l0", RC_SHAPE(300, 7)); /* forces growth */
    CHECK(rc_params_count(ps) == 3);
    CHECK(rc_params_find(ps, "bias_ih_l0") == b && rc_params_at(ps, 2) == big);
    CHECK(strcmp(rc_param_name(big), "weight_hh_l0") == 0);
    CHECK(rc_data(W)[3] == 4); /* kept across growth */
    CHECK(rc_data(b) - rc_params_values(ps) == 16 / (int)(sizeof(rc_real) / 4));
    CHECK(((uintptr_t)rc_data(big) % 64) == 0);
    CHECK(rc_grad(big) - rc_params_grads(ps) == rc_data(big) - rc_params_values(ps));
    CHECK(rc_params_numel(ps) >= 4 + 3 + 2100);

    /* the arena is reused: repeating a step does not grow it */
    rc_graph_reset(g);
    rnn m = {rc_param(ps, "W_ih", RC_SHAPE(3, 2)), rc_param(ps, "W_hh", RC_SHAPE(3, 3)), 6};
    rc_rng rng;
    rc_rng_seed(&rng, 9);
    rc_param_uniform(m.W_ih, -0.8f, 0.8f, &rng);
    rc_param_uniform(m.W_hh, -0.8f, 0.8f, &rng);
    CHECK(rc_backward(g, rnn_loss(g, &m)) == 0);
    CHECK(rc_graph_tape_length(g) == 6 * 4 + 1); /* T x (2 matmul, add, tanh) + sum */
    size_t arena = rc_graph_arena_bytes(g);
    rc_graph_reset(g);
    CHECK(rc_backward(g, rnn_loss(g, &m)) == 0);
    CHECK(rc_graph_arena_bytes(g) == arena);

    /* backward over the recorded steps is BPTT */
    CHECK_GRAD("bptt", g, rnn_loss, &m, ((rc_node *[]){m.W_ih, m.W_hh}), 2);

    /* rng: reproducible and in range */
    rc_rng r1, r2;
    rc_rng_seed(&r1, 5);
    rc_rng_seed(&r2, 5);
    double u = 0, lo = 1, hi = 0;
    int differ = 0;
    for (int k = 0; k < 10000; k++) {
        double v = rc_rng_uniform(&r1);
        differ += v != rc_rng_uniform(&r2);
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
        u += v;
    }
    CHECK(differ == 0);
    CHECK(lo >= 0 && hi < 1);
    CHECK_NEAR(u / 10000, 0.5, 0.02);

    /* rc_arena_alloc_run: a run stays adjacent across other allocations,
     * and a reset hands the same memory out again */
    unsigned char *first[2] = {NULL, NULL};
    for (int round = 0; round < 2; round++) {
        rc_graph_reset(g);
        unsigned char *a = rc_arena_alloc_run(g, 1000);
        CHECK(rc_arena_alloc(g, 64) != NULL);
        unsigned char *b = rc_arena_alloc_run(g, 1000);
        CHECK(a && b == a + 1024); /* 64-byte aligned sizes */
        CHECK(((uintptr_t)a & 63) == 0);
        first[round] = a;
        CHECK(round == 0 || first[1] == first[0]);
        CHECK_NO_ERROR(g);
    }

    rc_graph_free(g);
    rc_params_free(ps);
    return check_finish("graph");
}
