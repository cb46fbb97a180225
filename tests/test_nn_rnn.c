/* Recurrent layers: BPTT gradients (1 layer; 2 layers bidirectional with
 * variable lengths, initial state and a loss on outputs and final states;
 * the cells driven step by step from user code),
 * packed-sequence semantics, torch's parameter layout, errors. */
#include "check.h"
#include "recur/nn.h"

enum { T = 5, B = 3, I = 4, H = 3 };

typedef struct setup {
    rc_rnn m;
    rc_node *x, *h0, *c0; /* parameters, so their gradients are checked too */
    const int32_t *lengths;
    bool by_cells; /* the 1-layer stack run as rc_*_cell calls, as user code would */
    rc_real r_out[T * B * 2 * H], r_h[4 * B * H], r_c[4 * B * H];
} setup;

/* The layer's result from its cell called step by step (rc_lstm_cell's
 * input product is read-once: the fused step keeps its activations there). */
static rc_rnn_result cell_loop(rc_graph *g, const setup *s)
{
    const rc_cell_weights *w = &s->m.w[0][0];
    const bool lstm = s->m.cfg.cell == RC_LSTM;
    rc_node *h = s->h0 ? rc_reshape(g, s->h0, RC_SHAPE(B, H)) : rc_fill(g, RC_SHAPE(B, H), 0);
    rc_node *c = s->c0 ? rc_reshape(g, s->c0, RC_SHAPE(B, H)) : rc_fill(g, RC_SHAPE(B, H), 0);
    rc_node *hs[T];
    for (int t = 0; t < T; t++) {
        rc_node *xt = rc_reshape(g, rc_slice(g, s->x, 0, t, 1), RC_SHAPE(B, I));
        if (lstm)
            rc_lstm_cell(g, w, xt, &h, &c);
        else
            h = s->m.cfg.cell == RC_GRU ? rc_gru_cell(g, w, xt, h)
                                        : rc_rnn_cell(g, w, xt, h, s->m.cfg.cell == RC_RNN_RELU);
        hs[t] = h;
    }
    return (rc_rnn_result){rc_reshape(g, rc_concat(g, 0, T, hs), RC_SHAPE(T, B, H)),
                           rc_reshape(g, h, RC_SHAPE(1, B, H)),
                           lstm ? rc_reshape(g, c, RC_SHAPE(1, B, H)) : NULL};
}

/* <x, r>, r shaped as x */
static rc_node *dot_with(rc_graph *g, rc_node *x, rc_real *r)
{
    return rc_sum(g, rc_mul(g, x, rc_input(g, rc_shape_of(x), r)));
}

/* loss = <output, R1> + <h_n, R2> (+ <c_n, R3>): every element matters */
static rc_node *loss_of(rc_graph *g, void *ctx)
{
    setup *s = ctx;
    rc_rnn_result r = s->by_cells ? cell_loop(g, s)
                                  : rc_rnn_forward(g, &s->m, s->x, s->lengths, s->h0, s->c0);
    rc_node *loss = rc_add(g, dot_with(g, r.output, s->r_out), dot_with(g, r.h_n, s->r_h));
    if (r.c_n)
        loss = rc_add(g, loss, dot_with(g, r.c_n, s->r_c));
    return loss;
}

static void fill(rc_real *v, size_t n, rc_rng *rng)
{
    for (size_t k = 0; k < n; k++)
        v[k] = (rc_real)(2 * rc_rng_uniform(rng) - 1);
}

static void gradcheck_case(const char *label, rc_cell_kind cell, int layers, bool bidir,
                           bool varlen, bool init_state, bool by_cells)
{
    rc_params *ps = rc_params_new();
    rc_rng rng;
    rc_rng_seed(&rng, 7 + (uint64_t)cell);
    static setup s;
    memset(&s, 0, sizeof s);
    rc_rnn_config cfg = {cell, I, H, layers, bidir, false, 0};
    CHECK(rc_rnn_init(&s.m, ps, "", &cfg, &rng) == 0);
    s.by_cells = by_cells;
    const int LD = layers * (bidir ? 2 : 1);
    s.x = rc_param(ps, "x", RC_SHAPE(T, B, I));
    rc_param_uniform(s.x, -1, 1, &rng);
    if (init_state) {
        s.h0 = rc_param(ps, "h0", RC_SHAPE(LD, B, H));
        rc_param_uniform(s.h0, -0.5f, 0.5f, &rng);
        if (cell == RC_LSTM) {
            s.c0 = rc_param(ps, "c0", RC_SHAPE(LD, B, H));
            rc_param_uniform(s.c0, -0.5f, 0.5f, &rng);
        }
    }
    static const int32_t lengths[B] = {5, 2, 4};
    s.lengths = varlen ? lengths : NULL;
    fill(s.r_out, sizeof s.r_out / sizeof *s.r_out, &rng);
    fill(s.r_h, sizeof s.r_h / sizeof *s.r_h, &rng);
    fill(s.r_c, sizeof s.r_c / sizeof *s.r_c, &rng);
    rc_graph *g = rc_graph_new();
    rc_gradcheck_result res;
    check_total_++;
    if (rc_gradcheck_params(g, loss_of, &s, ps, NULL, &res) != 0 ||
        !(res.max_rel_err < GRAD_TOL)) {
        check_failed_++;
        fprintf(stderr, "gradcheck %s: %s rel err %.3g at %s[%zu] (%g vs %g)\n", label,
                res.error, res.max_rel_err, res.worst_param, res.worst_index, res.analytic,
                res.numeric);
    } else if (getenv("RECUR_TEST_VERBOSE")) {
        printf("gradcheck %-24s rel err %.3g over %zu elements\n", label, res.max_rel_err,
               res.checked);
    }
    rc_graph_free(g);
    rc_params_free(ps);
}

/* Padded steps output zeros; h_n is the output at each sequence's own last
 * step (forward) and at step 0 (backward direction). */
static void packed_semantics(rc_cell_kind cell)
{
    rc_params *ps = rc_params_new();
    rc_rng rng;
    rc_rng_seed(&rng, 3);
    rc_rnn m;
    rc_rnn_config cfg = {cell, I, H, 1, true, false, 0};
    CHECK(rc_rnn_init(&m, ps, "", &cfg, &rng) == 0);
    rc_graph *g = rc_graph_new();
    rc_real xv[T * B * I];
    fill(xv, T * B * I, &rng);
    const int32_t len[B] = {5, 2, 4};
    rc_rnn_result r = rc_rnn_forward(g, &m, rc_input(g, RC_SHAPE(T, B, I), xv), len, NULL, NULL);
    CHECK_NO_ERROR(g);
    const rc_real *out = rc_data(r.output), *hn = rc_data(r.h_n);
    int zeros_ok = 1, fwd_ok = 1, bwd_ok = 1;
    for (int b = 0; b < B; b++) {
        for (int t = len[b]; t < T; t++)
            for (int k = 0; k < 2 * H; k++)
                zeros_ok &= out[(t * B + b) * 2 * H + k] == 0;
        for (int k = 0; k < H; k++) {
            fwd_ok &= hn[(0 * B + b) * H + k] == out[((len[b] - 1) * B + b) * 2 * H + k];
            bwd_ok &= hn[(1 * B + b) * H + k] == out[(0 * B + b) * 2 * H + H + k];
        }
    }
    CHECK(zeros_ok);
    CHECK(fwd_ok);
    CHECK(bwd_ok);
    /* a sequence's result does not depend on what pads it */
    rc_real before = out[(1 * B + 1) * 2 * H + H];
    for (int k = 0; k < I; k++)
        xv[(3 * B + 1) * I + k] = 99; /* step 3 of sequence 1 (length 2) is padding */
    rc_graph_reset(g);
    r = rc_rnn_forward(g, &m, rc_input(g, RC_SHAPE(T, B, I), xv), len, NULL, NULL);
    CHECK(rc_data(r.output)[(1 * B + 1) * 2 * H + H] == before);
    rc_graph_free(g);
    rc_params_free(ps);
}

/* rc_rnn_final_states: no output, and the same final states and parameter
 * gradients as rc_rnn_forward, bit for bit (2 layers, bidirectional, lengths). */
static void final_states_only(rc_cell_kind cell)
{
    rc_params *ps = rc_params_new();
    rc_rng rng;
    rc_rng_seed(&rng, 11);
    rc_rnn m;
    rc_rnn_config cfg = {cell, I, H, 2, true, false, 0};
    CHECK(rc_rnn_init(&m, ps, "", &cfg, &rng) == 0);
    rc_real xv[T * B * I], rh[4 * B * H], rc_[4 * B * H];
    fill(xv, T * B * I, &rng);
    fill(rh, 4 * B * H, &rng);
    fill(rc_, 4 * B * H, &rng);
    const int32_t len[B] = {5, 2, 4};
    const size_t n = rc_params_numel(ps);
    rc_real *want[3] = {malloc(n * sizeof(rc_real)), malloc(4 * B * H * sizeof(rc_real)),
                        malloc(4 * B * H * sizeof(rc_real))};
    rc_graph *g = rc_graph_new();
    for (int only = 0; only < 2; only++) {
        rc_graph_reset(g);
        rc_params_zero_grad(ps);
        rc_node *x = rc_input(g, RC_SHAPE(T, B, I), xv);
        rc_rnn_result r = only ? rc_rnn_final_states(g, &m, x, len, NULL, NULL)
                               : rc_rnn_forward(g, &m, x, len, NULL, NULL);
        CHECK_NO_ERROR(g);
        CHECK(only ? r.output == NULL : rc_ok(r.output));
        rc_node *loss = dot_with(g, r.h_n, rh);
        if (cell == RC_LSTM)
            loss = rc_add(g, loss, dot_with(g, r.c_n, rc_));
        CHECK(rc_backward(g, loss) == 0);
        const rc_real *got[3] = {rc_params_grads(ps), rc_data(r.h_n),
                                 cell == RC_LSTM ? rc_data(r.c_n) : rc_data(r.h_n)};
        const size_t count[3] = {n, 4 * B * H, 4 * B * H};
        for (int k = 0; k < 3; k++) {
            if (!only)
                memcpy(want[k], got[k], count[k] * sizeof(rc_real));
            else
                CHECK(memcmp(want[k], got[k], count[k] * sizeof(rc_real)) == 0);
        }
    }
    for (int k = 0; k < 3; k++)
        free(want[k]);
    rc_graph_free(g);
    rc_params_free(ps);
}

/* The layer equals the cell run by hand, step by step. */
static void layer_equals_cells(void)
{
    rc_params *ps = rc_params_new();
    rc_rng rng;
    rc_rng_seed(&rng, 11);
    rc_rnn m;
    rc_rnn_config cfg = {RC_LSTM, I, H, 1, false, false, 0};
    CHECK(rc_rnn_init(&m, ps, "", &cfg, &rng) == 0);
    rc_graph *g = rc_graph_new();
    rc_real xv[T * B * I];
    fill(xv, T * B * I, &rng);
    rc_node *x = rc_input(g, RC_SHAPE(T, B, I), xv);
    rc_rnn_result r = rc_rnn_forward(g, &m, x, NULL, NULL, NULL);
    rc_node *h = rc_fill(g, RC_SHAPE(B, H), 0), *c = rc_fill(g, RC_SHAPE(B, H), 0);
    double worst = 0;
    for (int t = 0; t < T; t++) {
        rc_node *xt = rc_reshape(g, rc_slice(g, x, 0, t, 1), RC_SHAPE(B, I));
        rc_lstm_cell(g, &m.w[0][0], xt, &h, &c);
        for (int k = 0; k < B * H; k++)
            worst = fmax(worst, fabs(rc_data(h)[k] - rc_data(r.output)[t * B * H + k]));
    }
    CHECK_NO_ERROR(g);
    CHECK(worst < 1e-6);
    rc_graph_free(g);
    rc_params_free(ps);
}

/* Truncated BPTT: state carried across chunks with detach (same graph) or
 * copied out across a reset gives the full sequence's values, and no
 * gradient reaches the earlier chunk. */
static void truncated_bptt(void)
{
    enum { TT = 6, CH = 3 };
    rc_params *ps = rc_params_new();
    rc_rng rng;
    rc_rng_seed(&rng, 5);
    rc_rnn m;
    rc_rnn_config cfg = {RC_LSTM, I, H, 1, false, false, 0};
    CHECK(rc_rnn_init(&m, ps, "", &cfg, &rng) == 0);
    rc_node *x = rc_param(ps, "x", RC_SHAPE(TT, B, I));
    rc_param_uniform(x, -1, 1, &rng);
    rc_graph *g = rc_graph_new();
    rc_rnn_result full = rc_rnn_forward(g, &m, x, NULL, NULL, NULL);
    rc_real want[CH * B * H];
    memcpy(want, rc_data(full.output) + CH * B * H, sizeof want);

    rc_graph_reset(g);
    rc_rnn_result r1 = rc_rnn_forward(g, &m, rc_slice(g, x, 0, 0, CH), NULL, NULL, NULL);
    rc_rnn_result r2 = rc_rnn_forward(g, &m, rc_slice(g, x, 0, CH, CH), NULL,
                                      rc_detach(g, r1.h_n), rc_detach(g, r1.c_n));
    double worst = 0;
    for (int k = 0; k < CH * B * H; k++)
        worst = fmax(worst, fabs(rc_data(r2.output)[k] - want[k]));
    CHECK(worst < 1e-6);
    rc_params_zero_grad(ps);
    CHECK(rc_backward(g, rc_sum(g, r2.output)) == 0);
    int early_zero = 1, late_nonzero = 0;
    for (int k = 0; k < TT * B * I; k++) {
        if (k < CH * B * I)
            early_zero &= rc_grad(x)[k] == 0;
        else
            late_nonzero |= rc_grad(x)[k] != 0;
    }
    CHECK(early_zero);
    CHECK(late_nonzero);

    /* across a reset: keep the state in your own buffers */
    rc_real h_keep[B * H], c_keep[B * H];
    rc_graph_reset(g);
    r1 = rc_rnn_forward(g, &m, rc_slice(g, x, 0, 0, CH), NULL, NULL, NULL);
    memcpy(h_keep, rc_data(r1.h_n), sizeof h_keep);
    memcpy(c_keep, rc_data(r1.c_n), sizeof c_keep);
    rc_graph_reset(g);
    r2 = rc_rnn_forward(g, &m, rc_slice(g, x, 0, CH, CH), NULL,
                        rc_input(g, RC_SHAPE(1, B, H), h_keep),
                        rc_input(g, RC_SHAPE(1, B, H), c_keep));
    worst = 0;
    for (int k = 0; k < CH * B * H; k++)
        worst = fmax(worst, fabs(rc_data(r2.output)[k] - want[k]));
    CHECK(worst < 1e-6);
    CHECK_NO_ERROR(g);
    rc_graph_free(g);
    rc_params_free(ps);
}

static void layout_and_errors(void)
{
    rc_params *ps = rc_params_new();
    rc_rnn m;
    rc_rnn_config cfg = {RC_LSTM, 28, 128, 1, false, false, 0};
    CHECK(rc_rnn_init(&m, ps, "", &cfg, NULL) == 0);
    CHECK(rc_rnn_param_count(&cfg) == (28 + 128) * 4 * 128 + 2 * 4 * 128);
    size_t total = 0;
    for (size_t k = 0; k < rc_params_count(ps); k++)
        total += rc_size(rc_params_at(ps, k));
    CHECK(total == rc_rnn_param_count(&cfg));
    if (getenv("RECUR_TEST_VERBOSE"))
        rc_params_print(ps, stdout);
    rc_params_free(ps);

    ps = rc_params_new();
    rc_rnn_config gru = {RC_GRU, 5, 7, 2, true, false, 0.1};
    CHECK(rc_rnn_init(&m, ps, "enc.", &gru, NULL) == 0);
    const char *names[] = {"enc.weight_ih_l0", "enc.weight_hh_l0", "enc.bias_ih_l0",
                           "enc.bias_hh_l0", "enc.weight_ih_l0_reverse",
                           "enc.weight_hh_l0_reverse", "enc.bias_ih_l0_reverse",
                           "enc.bias_hh_l0_reverse", "enc.weight_ih_l1"};
    for (int k = 0; k < 9; k++)
        CHECK(strcmp(rc_param_name(rc_params_at(ps, (size_t)k)), names[k]) == 0);
    rc_shape w1 = rc_shape_of(rc_params_find(ps, "enc.weight_ih_l1"));
    CHECK(w1.d[0] == 3 * 7 && w1.d[1] == 2 * 7); /* layer 1 reads [fwd | bwd] */

    rc_graph *g = rc_graph_new();
    rc_rnn_forward(g, &m, rc_fill(g, RC_SHAPE(4, 2, 6), 0), NULL, NULL, NULL);
    CHECK_ERROR_HAS(g, "rnn");
    CHECK_ERROR_HAS(g, "[4x2x6]");
    CHECK_ERROR_HAS(g, "test_nn_rnn.c");
    rc_graph_reset(g);
    rc_rnn_forward(g, &m, rc_fill(g, RC_SHAPE(4, 2, 5), 0), (int32_t[]){4, 0}, NULL, NULL);
    CHECK_ERROR_HAS(g, "length 0 of sequence 1");
    rc_graph_reset(g);
    rc_rnn_forward(g, &m, rc_fill(g, RC_SHAPE(4, 2, 5), 0), NULL,
                   rc_fill(g, RC_SHAPE(2, 2, 7), 0), NULL);
    CHECK_ERROR_HAS(g, "h0 must be [4x2x7]");
    /* a cell's error names the user's line, not nn/cells.c */
    rc_graph_reset(g);
    char site[32];
    snprintf(site, sizeof site, "test_nn_rnn.c:%d", __LINE__ + 1);
    rc_gru_cell(g, &m.w[0][0], rc_fill(g, RC_SHAPE(2, 5), 0), rc_fill(g, RC_SHAPE(3, 7), 0));
    CHECK_ERROR_HAS(g, "gru_cell at");
    CHECK_ERROR_HAS(g, site);
    rc_graph_free(g);
    rc_params_free(ps);
    ps = rc_params_new();
    CHECK(rc_rnn_init(&m, ps, "", &(rc_rnn_config){RC_LSTM, 0, 4, 1, 0, 0, 0}, NULL) == -1);
    CHECK(strstr(m.error, "bad config") != NULL);
    rc_params_free(ps);
}

int main(void)
{
    gradcheck_case("rnn_tanh_1layer", RC_RNN_TANH, 1, false, false, false, false);
    gradcheck_case("rnn_relu_1layer", RC_RNN_RELU, 1, false, false, false, false);
    gradcheck_case("lstm_1layer", RC_LSTM, 1, false, false, false, false);
    gradcheck_case("gru_1layer", RC_GRU, 1, false, false, false, false);
    gradcheck_case("rnn_tanh_2layer_bidir", RC_RNN_TANH, 2, true, true, true, false);
    gradcheck_case("lstm_2layer_bidir", RC_LSTM, 2, true, true, true, false);
    gradcheck_case("gru_2layer_bidir", RC_GRU, 2, true, true, true, false);
    gradcheck_case("rnn_tanh_cells", RC_RNN_TANH, 1, false, false, true, true);
    gradcheck_case("lstm_cells", RC_LSTM, 1, false, false, true, true);
    gradcheck_case("lstm_cells_zero_state", RC_LSTM, 1, false, false, false, true);
    gradcheck_case("gru_cells", RC_GRU, 1, false, false, true, true);
    packed_semantics(RC_LSTM);
    packed_semantics(RC_GRU);
    final_states_only(RC_LSTM);
    final_states_only(RC_GRU);
    layer_equals_cells();
    truncated_bptt();
    layout_and_errors();
    return check_finish("nn_rnn");
}
