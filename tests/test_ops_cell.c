/* tests/test_ops_cell.c - the fused LSTM/GRU cell ops against the same cells
 * composed from primitive ops (values and every gradient), finite-difference
 * checks of the fused ops, and their shape errors. Hidden sizes 5, 19 and 33
 * run the vector kernels' tail paths; with both biases, with only b_hh, and
 * without. */
#include <string.h>

#include "check.h"
#include "op_check.h"
#include "recur/ops.h"

typedef struct cell_case {
    bool lstm, fused;
    int biases;           /* 0: none, 1: b_hh only, 2: b_ih and b_hh */
    bool computed_inputs; /* gi, gh made by ops, gi also used before the cell */
    int B, H;
    rc_node *gi, *gh, *b, *state, *bi; /* b is b_hh, bi is b_ih */
} cell_case;

static rc_node *b_ih(const cell_case *c) { return c->biases == 2 ? c->bi : NULL; }
static rc_node *b_hh(const cell_case *c) { return c->biases ? c->b : NULL; }

static rc_node *plus(rc_graph *g, rc_node *x, rc_node *bias)
{
    return bias ? rc_add(g, x, bias) : x;
}

static rc_node *gate(rc_graph *g, rc_node *z, int k, int H)
{
    return rc_slice(g, z, 1, k * H, H);
}

/* The reference: torch.nn.LSTMCell's equations as primitive ops. */
static void lstm_composed(rc_graph *g, const cell_case *c, rc_node **h, rc_node **cn)
{
    rc_node *z = plus(g, plus(g, rc_add(g, c->gi, c->gh), b_ih(c)), b_hh(c));
    rc_node *i = rc_sigmoid(g, gate(g, z, 0, c->H)), *f = rc_sigmoid(g, gate(g, z, 1, c->H));
    rc_node *cand = rc_tanh(g, gate(g, z, 2, c->H)), *o = rc_sigmoid(g, gate(g, z, 3, c->H));
    *cn = rc_add(g, rc_mul(g, f, c->state), rc_mul(g, i, cand));
    *h = rc_mul(g, o, rc_tanh(g, *cn));
}

/* torch.nn.GRUCell: the reset gate scales the hidden part of n with its bias. */
static rc_node *gru_composed(rc_graph *g, const cell_case *c)
{
    const int H = c->H;
    rc_node *gi = plus(g, c->gi, b_ih(c)), *gh = plus(g, c->gh, b_hh(c));
    rc_node *r = rc_sigmoid(g, rc_add(g, gate(g, gi, 0, H), gate(g, gh, 0, H)));
    rc_node *z = rc_sigmoid(g, rc_add(g, gate(g, gi, 1, H), gate(g, gh, 1, H)));
    rc_node *n = rc_tanh(g, rc_add(g, gate(g, gi, 2, H), rc_mul(g, r, gate(g, gh, 2, H))));
    return rc_add(g, n, rc_mul(g, z, rc_sub(g, c->state, n)));
}

/* h (and c) of the case, fused or composed */
static void run_cell(rc_graph *g, const cell_case *c, rc_node **h, rc_node **cn)
{
    *cn = NULL;
    if (!c->lstm) {
        *h = c->fused ? rc_gru_fused(g, c->gi, c->gh, b_ih(c), b_hh(c), c->state)
                      : gru_composed(g, c);
    } else if (c->fused) {
        rc_node *out = rc_lstm_fused(g, c->gi, c->gh, b_ih(c), b_hh(c), c->state);
        *h = rc_select(g, out, 0);
        *cn = rc_select(g, out, 1);
    } else {
        lstm_composed(g, c, h, cn);
    }
}

static rc_node *cell_loss(rc_graph *g, void *ctx)
{
    cell_case *c = ctx;
    rc_node *h, *cn, *extra = NULL;
    cell_case k = *c;
    if (c->computed_inputs) {
        /* Fresh gradient-less nodes (the fused op may hand them its own
         * buffer), and gi has a consumer recorded before the cell, whose
         * backward runs after it and adds into gi's gradient. */
        k.gi = rc_affine(g, c->gi, 1, 0.25);
        k.gh = rc_affine(g, c->gh, 1, -0.25);
        extra = rc_mean(g, rc_sigmoid(g, k.gi));
    }
    run_cell(g, &k, &h, &cn);
    rc_node *loss = wsum(g, h);
    if (extra)
        loss = rc_add(g, loss, extra);
    if (cn) /* other weights for c: reverse the table */
        loss = rc_add(g, loss, rc_sum(g, rc_mul(g, cn, rc_input(g, rc_shape_of(cn),
                                                                 W_ + NW - rc_size(cn)))));
    return loss;
}

/* gi, gh, state, b_hh, b_ih as parameters of a new store */
static rc_params *case_params(cell_case *c, rc_rng *rng)
{
    const int G = c->lstm ? 4 : 3;
    rc_params *ps = rc_params_new();
    c->gi = new_param(ps, "gi", RC_SHAPE(c->B, G * c->H));
    c->gh = new_param(ps, "gh", RC_SHAPE(c->B, G * c->H));
    c->state = new_param(ps, "state", RC_SHAPE(c->B, c->H));
    c->b = new_param(ps, "b_hh", RC_SHAPE(G * c->H));
    c->bi = new_param(ps, "b_ih", RC_SHAPE(G * c->H));
    for (size_t k = 0; k < rc_params_count(ps); k++)
        rc_param_uniform(rc_params_at(ps, k), -1.5, 1.5, rng);
    return ps;
}

static void check_case(rc_rng *rng, bool lstm, int biases, int B, int H)
{
    cell_case c = {.lstm = lstm, .biases = biases, .B = B, .H = H};
    rc_params *ps = case_params(&c, rng);
    char label[96];
    snprintf(label, sizeof label, "%s B%d H%d %s", lstm ? "lstm" : "gru", B, H,
             biases == 2 ? "both biases" : biases ? "b_hh" : "no bias");

    /* values and gradients: fused vs composed */
    const size_t np = rc_params_numel(ps);
    rc_real *want = malloc(np * sizeof *want), *vals[2] = {want, want};
    rc_graph *g = rc_graph_new();
    rc_real *out[2][2] = {{0}};
    for (int fused = 0; fused < 2; fused++) {
        c.fused = fused;
        rc_graph_reset(g);
        rc_params_zero_grad(ps);
        rc_node *h, *cn;
        run_cell(g, &c, &h, &cn);
        rc_node *loss = wsum(g, h);
        if (cn)
            loss = rc_add(g, loss, rc_sum(g, rc_mul(g, cn, rc_input(g, rc_shape_of(cn),
                                                                     W_ + NW - rc_size(cn)))));
        CHECK(rc_backward(g, loss) == 0);
        CHECK_NO_ERROR(g);
        out[fused][0] = malloc(rc_size(h) * sizeof(rc_real));
        memcpy(out[fused][0], rc_data(h), rc_size(h) * sizeof(rc_real));
        if (cn) {
            out[fused][1] = malloc(rc_size(cn) * sizeof(rc_real));
            memcpy(out[fused][1], rc_data(cn), rc_size(cn) * sizeof(rc_real));
        }
        vals[fused] = fused ? rc_params_grads(ps) : want;
        if (!fused)
            memcpy(want, rc_params_grads(ps), np * sizeof *want);
    }
    const double tol = VALUE_TOL * 10;
    double worst = 0;
    for (int k = 0; k < B * H; k++) {
        worst = fmax(worst, fabs((double)out[0][0][k] - (double)out[1][0][k]));
        if (lstm)
            worst = fmax(worst, fabs((double)out[0][1][k] - (double)out[1][1][k]));
    }
    for (size_t k = 0; k < np; k++) /* an absent bias gets zero both ways */
        worst = fmax(worst, fabs((double)vals[0][k] - (double)vals[1][k]) /
                                fmax(1, fabs((double)vals[0][k])));
    if (!(worst < tol)) {
        check_failed_++;
        fprintf(stderr, "%s: fused vs composed differ by %.3g\n", label, worst);
    }
    check_total_++;
    for (int f = 0; f < 2; f++)
        for (int k = 0; k < 2; k++)
            free(out[f][k]);
    free(want);

    /* finite differences through the fused op, on the smaller cases: the
     * rounding of a loss over ~200 outputs swamps central differences of its
     * small gradients (the bigger cases are equal to the composed cell above,
     * whose ops have their own finite-difference checks) */
    c.fused = true;
    if (B * H > 64) {
        rc_graph_free(g);
        rc_params_free(ps);
        return;
    }
    rc_node *params[] = {c.gi, c.gh, c.state, c.b, c.bi};
    const size_t nparams = 3 + (size_t)biases;
    CHECK_GRAD(label, g, cell_loss, &c, params, nparams);
    /* computed inputs, one of them used twice (its extra loss term leaves
     * float32 central differences too noisy: float64 only) */
    cell_case computed = c;
    computed.computed_inputs = true;
    char label2[112];
    snprintf(label2, sizeof label2, "%s computed inputs", label);
    if (RC_REAL_IS_DOUBLE)
        CHECK_GRAD(label2, g, cell_loss, &computed, params, nparams);
    /* one node as both gi and gh: its gradient counts twice */
    cell_case same = c;
    same.gh = c.gi;
    strcat(label, " gi==gh");
    CHECK_GRAD(label, g, cell_loss, &same, params, 1);
    rc_graph_free(g);
    rc_params_free(ps);
}

/* Big enough to be split across threads: 1 and 3 threads give the same
 * bits (rows are independent; the bias gradient is summed after the join). */
static void check_threads(rc_rng *rng, bool lstm)
{
    const int B = 17, H = 512;
    cell_case c = {.lstm = lstm, .fused = true, .biases = 2, .B = B, .H = H};
    rc_params *ps = case_params(&c, rng);
    const size_t np = rc_params_numel(ps), nout = (size_t)(lstm ? 2 : 1) * B * H;
    rc_real *vals[2], *grads[2];
    rc_graph *g = rc_graph_new();
    for (int run = 0; run < 2; run++) {
        rc_set_num_threads(run ? 3 : 1);
        rc_graph_reset(g);
        rc_params_zero_grad(ps);
        rc_node *out = lstm ? rc_lstm_fused(g, c.gi, c.gh, c.bi, c.b, c.state)
                            : rc_gru_fused(g, c.gi, c.gh, c.bi, c.b, c.state);
        /* every output counts: sum(out * out) */
        CHECK(rc_backward(g, rc_sum(g, rc_mul(g, out, out))) == 0);
        CHECK_NO_ERROR(g);
        vals[run] = malloc(nout * sizeof(rc_real));
        grads[run] = malloc(np * sizeof(rc_real));
        memcpy(vals[run], rc_data(out), nout * sizeof(rc_real));
        memcpy(grads[run], rc_params_grads(ps), np * sizeof(rc_real));
    }
    rc_set_num_threads(1);
    CHECK(memcmp(vals[0], vals[1], nout * sizeof(rc_real)) == 0);
    CHECK(memcmp(grads[0], grads[1], np * sizeof(rc_real)) == 0);
    for (int run = 0; run < 2; run++) {
        free(vals[run]);
        free(grads[run]);
    }
    rc_graph_free(g);
    rc_params_free(ps);
}

static void check_errors(void)
{
    rc_graph *g = rc_graph_new();
    rc_node *gi = rc_fill(g, RC_SHAPE(2, 12), 0), *c = rc_fill(g, RC_SHAPE(2, 4), 0);
    rc_lstm_fused(g, gi, gi, NULL, NULL, c); /* 12 = 3 * 4: a GRU's gates, not an LSTM's */
    CHECK_ERROR_HAS(g, "lstm_cell at");
    CHECK_ERROR_HAS(g, "[2x12]");
    rc_graph_reset(g);
    gi = rc_fill(g, RC_SHAPE(2, 12), 0);
    c = rc_fill(g, RC_SHAPE(2, 4), 0);
    rc_gru_fused(g, gi, gi, NULL, rc_fill(g, RC_SHAPE(11), 0), c);
    CHECK_ERROR_HAS(g, "gru_cell at");
    CHECK_ERROR_HAS(g, "b_hh must be [12], got [11]");
    rc_graph_reset(g);
    gi = rc_fill(g, RC_SHAPE(2, 12), 0);
    c = rc_fill(g, RC_SHAPE(2, 4), 0);
    rc_gru_fused(g, gi, gi, rc_fill(g, RC_SHAPE(2, 12), 0), NULL, c);
    CHECK_ERROR_HAS(g, "b_ih must be [12], got [2x12]");
    rc_graph_reset(g);
    rc_select(g, rc_fill(g, RC_SHAPE(2, 3), 0), 2);
    CHECK_ERROR_HAS(g, "select at");
    rc_graph_free(g);
}

int main(void)
{
    init_weights();
    rc_rng rng;
    rc_rng_seed(&rng, 11);
    const int hs[] = {5, 19, 33, 32}; /* 32: whole vectors, the fused row paths */
    for (int lstm = 0; lstm < 2; lstm++)
        for (int biases = 0; biases < 3; biases++)
            for (int k = 0; k < 4; k++)
                check_case(&rng, lstm, biases, k == 1 ? 1 : 3, hs[k]);
    check_threads(&rng, true);
    check_threads(&rng, false);
    check_errors();
    return check_finish("ops_cell");
}
