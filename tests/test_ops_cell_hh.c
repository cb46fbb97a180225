/* tests/test_ops_cell_hh.c - the fused cells that make their own recurrent
 * product (rc_lstm_fused_hh, rc_gru_fused_hh), run for T steps as a layer
 * runs them, against the same steps with the product as a matmul on a copy
 * of w_hh (not a parameter: its gradient is not deferred). Values and every
 * gradient, w_hh's summed over the steps at the end of backward both with
 * the per-step d gates used in place (one loss over all steps, as a layer's
 * concatenated output) and copied (a loss term per step allocates between
 * them); finite differences; gradients off; threads; shape errors. */
#include <string.h>

#include "check.h"
#include "op_check.h"
#include "recur/op.h"
#include "recur/ops.h"

typedef struct hh_case {
    bool lstm, reference, per_step_loss, computed_gi, square_loss;
    bool gi_read_twice; /* computed gi also read by a loss term recorded before the cell */
    int hoist; /* gi: 0 rows of the parameter; 1 rows of a computed X, as a layer's
                  hoisted projection (its gradient rows written in place); 2 X also
                  read by a loss term; 3 every step on X's first rows; 4 as 1,
                  but no step reads X's last rows */
    bool read_once; /* X marked rc_rows_read_once, as a layer marks it */
    bool gi_read_once; /* computed gi marked so, as rc_lstm_cell marks its input product */
    bool first_only; /* the loss reads step 0 alone: no gradient reaches the others */
    int zero_h0; /* 1: h0 all zeros (the first step makes no product and no piece of
                    w_hh's gradient); 2: h0 an rc_fill of zeros, without a gradient */
    int B, H, T;
    rc_node *gi, *h0, *c0, *w, *bi, *bh; /* gi [T*B x G*H] */
    rc_node *x, *last_gi;                /* X and the last step's gi of the last run */
} hh_case;

static rc_node *run_steps(rc_graph *g, const hh_case *c, rc_node **c_last)
{
    rc_node *h = c->zero_h0 == 2 ? rc_fill(g, rc_shape_of(c->h0), 0) : c->h0, *cs = c->c0;
    rc_node *loss = NULL, **hs = malloc(sizeof *hs * c->T);
    /* the reference's product: a matmul on a weight that is not a parameter */
    rc_node *w_ref = c->reference ? rc_affine(g, c->w, 1, 0) : NULL;
    rc_node *x = c->hoist ? rc_affine(g, c->gi, 1, 0.5) : c->gi, *loss_x = NULL;
    if (c->read_once)
        rc_rows_read_once(x);
    ((hh_case *)c)->x = x;
    if (c->hoist == 2)
        loss_x = rc_mean(g, rc_tanh(g, x));
    const int steps = c->hoist == 4 ? c->T - 1 : c->T;
    for (int t = 0; t < steps; t++) {
        rc_node *gi = rc_slice(g, x, 0, c->hoist == 3 ? 0 : t * c->B, c->B);
        rc_node *extra = NULL;
        if (c->computed_gi) /* a fresh node that could take the op's d gates */
            gi = rc_affine(g, gi, 1, 0.25);
        if (c->gi_read_once)
            rc_rows_read_once(gi);
        ((hh_case *)c)->last_gi = gi;
        if (c->gi_read_twice) /* its backward runs after the cell's and adds into gi's */
            extra = rc_mean(g, rc_sigmoid(g, gi));
        rc_node *gh = c->reference ? rc_matmul_nt(g, h, w_ref) : NULL;
        if (c->lstm) {
            rc_node *out = c->reference ? rc_lstm_fused(g, gi, gh, c->bi, c->bh, cs)
                                        : rc_lstm_fused_hh(g, gi, h, c->w, c->bi, c->bh, cs);
            h = rc_select(g, out, 0);
            cs = rc_select(g, out, 1);
        } else {
            h = c->reference ? rc_gru_fused(g, gi, gh, c->bi, c->bh, h)
                             : rc_gru_fused_hh(g, gi, h, c->w, c->bi, c->bh);
        }
        hs[t] = h;
        if (extra)
            loss = loss ? rc_add(g, loss, extra) : extra;
        if (c->per_step_loss) {
            rc_node *term = wsum(g, h);
            loss = loss ? rc_add(g, loss, term) : term;
        }
    }
    if (c->first_only) {
        loss = wsum(g, hs[0]);
    } else if (!c->per_step_loss) {
        rc_node *all = rc_concat(g, 0, steps, hs);
        rc_node *term = c->square_loss ? rc_sum(g, rc_mul(g, all, all)) : wsum(g, all);
        loss = loss ? rc_add(g, loss, term) : term;
    }
    free(hs);
    if (loss_x)
        loss = rc_add(g, loss, loss_x);
    *c_last = cs;
    return loss;
}

static rc_node *case_loss(rc_graph *g, void *ctx)
{
    const hh_case *c = ctx;
    rc_node *c_last, *loss = run_steps(g, ctx, &c_last);
    if (!c->lstm || c->first_only)
        return loss;
    if (c->square_loss)
        return rc_add(g, loss, rc_sum(g, rc_mul(g, c_last, c_last)));
    /* other weights for c: reverse the table */
    rc_node *weights = rc_input(g, rc_shape_of(c_last), W_ + NW - rc_size(c_last));
    return rc_add(g, loss, rc_sum(g, rc_mul(g, c_last, weights)));
}

static rc_params *case_params(hh_case *c, rc_rng *rng)
{
    const int G = c->lstm ? 4 : 3, B = c->B, H = c->H;
    rc_params *ps = rc_params_new();
    c->gi = new_param(ps, "gi", RC_SHAPE(c->T * B, G * H));
    c->h0 = new_param(ps, "h0", RC_SHAPE(B, H));
    c->w = new_param(ps, "w_hh", RC_SHAPE(G * H, H));
    c->bi = new_param(ps, "b_ih", RC_SHAPE(G * H));
    c->bh = new_param(ps, "b_hh", RC_SHAPE(G * H));
    c->c0 = c->lstm ? new_param(ps, "c0", RC_SHAPE(B, H)) : NULL;
    for (size_t k = 0; k < rc_params_count(ps); k++)
        rc_param_uniform(rc_params_at(ps, k), -1, 1, rng);
    if (c->zero_h0)
        memset(rc_data(c->h0), 0, rc_size(c->h0) * sizeof(rc_real));
    return ps;
}

/* loss, its gradients into grads (NULL: gradients off), the loss value */
static double run_case(rc_graph *g, rc_params *ps, hh_case *c, rc_real *grads)
{
    rc_graph_reset(g);
    rc_params_zero_grad(ps);
    rc_graph_set_grad(g, grads != NULL);
    rc_node *loss = case_loss(g, c);
    if (grads) {
        CHECK(rc_backward(g, loss) == 0);
        memcpy(grads, rc_params_grads(ps), rc_params_numel(ps) * sizeof *grads);
    }
    CHECK_NO_ERROR(g);
    rc_graph_set_grad(g, true);
    return rc_ok(loss) ? (double)rc_item(loss) : NAN;
}

/* Whether every value of x lies in [-1, 1], as gate activations do and
 * X = gi + 0.5 (gi in [-1, 1]) does not: the LSTM steps kept theirs there. */
static bool holds_activations(rc_node *x)
{
    const rc_real *v = rc_data(x);
    for (size_t k = 0; v && k < rc_size(x); k++)
        if (!(fabs((double)v[k]) <= 1))
            return false;
    return v != NULL;
}

/* A read-once X: the LSTM steps keep their activations in its rows, and
 * its values become its gradient, unless gi was not X's rows alone. A
 * read-once computed gi keeps them too, but its gradient is a buffer of
 * its own (the steps' d gi lie in one block then). */
static void check_read_once(rc_graph *g, rc_params *ps, hh_case *c)
{
    const bool own_rows = c->read_once && !c->computed_gi && !c->gi_read_twice;
    rc_graph_reset(g);
    rc_params_zero_grad(ps);
    rc_node *loss = case_loss(g, c);
    CHECK(holds_activations(c->x) == (own_rows && c->lstm));
    CHECK(holds_activations(c->last_gi) == ((own_rows || c->gi_read_once) && c->lstm));
    CHECK(rc_backward(g, loss) == 0);
    CHECK((rc_grad(c->x) == rc_data(c->x)) == own_rows);
    CHECK(rc_grad(c->last_gi) != rc_data(c->last_gi) || own_rows);
}

static void check_hh(rc_rng *rng, hh_case c)
{
    rc_params *ps = case_params(&c, rng);
    char label[112];
    snprintf(label, sizeof label, "%s_hh B%d H%d T%d%s%s%s hoist %d%s%s%s%s",
             c.lstm ? "lstm" : "gru", c.B, c.H, c.T, c.per_step_loss ? " per-step loss" : "",
             c.computed_gi ? " computed gi" : "", c.gi_read_twice ? " read twice" : "", c.hoist,
             c.read_once ? " read once" : "", c.gi_read_once ? " gi read once" : "",
             c.first_only ? " first only" : "",
             c.zero_h0 ? (c.zero_h0 == 1 ? " zero h0" : " filled h0") : "");
    const size_t np = rc_params_numel(ps);
    rc_real *want = malloc(np * sizeof *want), *got = malloc(np * sizeof *got);
    rc_graph *g = rc_graph_new();
    c.reference = true;
    const double loss_want = run_case(g, ps, &c, want);
    c.reference = false;
    const double loss_got = run_case(g, ps, &c, got), loss_nograd = run_case(g, ps, &c, NULL);
    if (c.hoist == 1)
        check_read_once(g, ps, &c);
    double worst = fabs(loss_got - loss_want) / fmax(1, fabs(loss_want));
    for (size_t k = 0; k < np; k++)
        worst = fmax(worst,
                     fabs((double)got[k] - (double)want[k]) / fmax(1, fabs((double)want[k])));
    check_total_++;
    if (!(worst < VALUE_TOL * 100)) {
        check_failed_++;
        fprintf(stderr, "%s: vs the matmul reference: differ by %.3g\n", label, worst);
    }
    CHECK(loss_nograd == loss_got); /* inference keeps no activations, same numbers */
    /* float32 central differences of a loss summed over the steps are too
     * noisy for the per-step loss: float64 only there */
    if (c.B * c.H * c.T <= 96 && (RC_REAL_IS_DOUBLE || !(c.per_step_loss || c.gi_read_twice))) {
        rc_node *params[] = {c.gi, c.h0, c.w, c.bi, c.bh, c.c0};
        CHECK_GRAD(label, g, case_loss, &c, params, c.lstm ? 6 : 5);
    }
    free(want);
    free(got);
    rc_graph_free(g);
    rc_params_free(ps);
}

static void check_case(rc_rng *rng, bool lstm, int B, int H, int T, bool per_step_loss,
                       bool computed_gi, bool gi_read_twice, int hoist, bool read_once,
                       bool first_only)
{
    check_hh(rng, (hh_case){.lstm = lstm, .per_step_loss = per_step_loss,
                            .computed_gi = computed_gi, .gi_read_twice = gi_read_twice,
                            .hoist = hoist, .read_once = read_once, .first_only = first_only,
                            .B = B, .H = H, .T = T});
}

/* Split over threads (product and cell rows): 3 threads give the numbers of 1. */
static void check_threads(rc_rng *rng, bool lstm)
{
    hh_case c = {.lstm = lstm, .square_loss = true, .hoist = 1, .B = 17, .H = 512, .T = 3};
    rc_params *ps = case_params(&c, rng);
    const size_t np = rc_params_numel(ps);
    rc_real *grads[2] = {malloc(np * sizeof(rc_real)), malloc(np * sizeof(rc_real))};
    double loss[2];
    rc_graph *g = rc_graph_new();
    for (int run = 0; run < 2; run++) {
        rc_set_num_threads(run ? 3 : 1);
        loss[run] = run_case(g, ps, &c, grads[run]);
    }
    rc_set_num_threads(1);
    double worst = fabs(loss[0] - loss[1]) / fmax(1, fabs(loss[0]));
    for (size_t k = 0; k < np; k++)
        worst = fmax(worst, fabs((double)grads[0][k] - (double)grads[1][k]) /
                                fmax(1, fabs((double)grads[0][k])));
    check_total_++;
    if (!(worst < VALUE_TOL * 100)) {
        check_failed_++;
        fprintf(stderr, "%s_hh 1 vs 3 threads differ by %.3g\n", lstm ? "lstm" : "gru", worst);
    }
    free(grads[0]);
    free(grads[1]);
    rc_graph_free(g);
    rc_params_free(ps);
}

/* A read-once X that is read besides its steps: a second step on the same
 * rows fails in forward, another reader of X in backward, naming the op. */
static void check_read_once_misuse(rc_rng *rng)
{
    for (int hoist = 2; hoist <= 3; hoist++) {
        hh_case c = {.lstm = true, .hoist = hoist, .read_once = true, .B = 2, .H = 3, .T = 3};
        rc_params *ps = case_params(&c, rng);
        rc_graph *g = rc_graph_new();
        rc_node *loss = case_loss(g, &c);
        CHECK(hoist == 3 ? !rc_ok(loss) : rc_ok(loss));
        if (rc_ok(loss))
            CHECK(rc_backward(g, loss) != 0);
        CHECK_ERROR_HAS(g, "lstm_cell");
        CHECK_ERROR_HAS(g, hoist == 3 ? "read by a second step" : "read by an op other");
        rc_graph_free(g);
        rc_params_free(ps);
    }
}

/* A read-once computed gi read besides its step: before it fails in
 * forward, after it in backward, naming the op. */
static void check_gi_read_once_misuse(rc_rng *rng)
{
    for (int after = 0; after < 2; after++) {
        hh_case c = {.lstm = true, .B = 2, .H = 3, .T = 1};
        rc_params *ps = case_params(&c, rng);
        rc_graph *g = rc_graph_new();
        rc_node *gi = rc_affine(g, c.gi, 1, 0.25), *other = NULL;
        rc_rows_read_once(gi);
        if (!after)
            other = rc_sum(g, gi);
        rc_node *out = rc_lstm_fused_hh(g, gi, c.h0, c.w, c.bi, c.bh, c.c0);
        if (after)
            other = rc_sum(g, gi);
        rc_node *loss = rc_add(g, rc_sum(g, out), other);
        CHECK(rc_ok(loss) == after);
        if (after)
            CHECK(rc_backward(g, loss) != 0);
        CHECK_ERROR_HAS(g, "lstm_cell at");
        CHECK_ERROR_HAS(g, after ? "the read-once [2x12] was read by an op other"
                                 : "the read-once [2x12] is read by another op before");
        rc_graph_free(g);
        rc_params_free(ps);
    }
}

static void check_errors(void)
{
    rc_graph *g = rc_graph_new();
    rc_node *gi = rc_fill(g, RC_SHAPE(2, 16), 0), *h = rc_fill(g, RC_SHAPE(2, 4), 0);
    rc_lstm_fused_hh(g, gi, h, rc_fill(g, RC_SHAPE(16, 3), 0), NULL, NULL, h);
    CHECK_ERROR_HAS(g, "lstm_cell at");
    CHECK_ERROR_HAS(g, "needs h [2 x K] and w_hh [16 x K], got [2x4] and [16x3]");
    rc_graph_reset(g);
    gi = rc_fill(g, RC_SHAPE(2, 12), 0);
    h = rc_fill(g, RC_SHAPE(2, 4), 0);
    rc_gru_fused_hh(g, gi, h, NULL, NULL, NULL);
    CHECK_ERROR_HAS(g, "gru_cell at");
    CHECK_ERROR_HAS(g, "w_hh is NULL");
    rc_graph_reset(g);
    gi = rc_fill(g, RC_SHAPE(2, 12), 0);
    h = rc_fill(g, RC_SHAPE(3, 4), 0);
    rc_gru_fused_hh(g, gi, h, rc_fill(g, RC_SHAPE(12, 4), 0), NULL, NULL);
    CHECK_ERROR_HAS(g, "needs gi [B x 3*H] and state [B x H], got [2x12], [3x4]");
    rc_graph_free(g);
}

int main(void)
{
    init_weights();
    rc_rng rng;
    rc_rng_seed(&rng, 17);
    for (int lstm = 0; lstm < 2; lstm++) {
        for (int hoist = 0; hoist <= 4; hoist++) {
            check_case(&rng, lstm, 2, 3, 4, false, false, false, hoist, false, false);
            check_case(&rng, lstm, 2, 3, 4, true, false, false, hoist, false, false);
            check_case(&rng, lstm, 3, 19, 5, false, false, false, hoist, false, false);
        }
        check_case(&rng, lstm, 1, 5, 3, false, true, false, 0, false, false);
        check_case(&rng, lstm, 1, 5, 3, false, true, true, 1, false, false);
        check_case(&rng, lstm, 3, 19, 5, true, true, false, 1, false, false);
        check_case(&rng, lstm, 3, 19, 5, false, true, true, 0, false, false);
        /* the activations in X's rows (LSTM; GRU's do not fit and stay out) */
        check_case(&rng, lstm, 2, 3, 4, false, false, false, 1, true, false);
        check_case(&rng, lstm, 2, 3, 4, true, false, false, 1, true, false);
        check_case(&rng, lstm, 3, 19, 5, false, false, false, 1, true, false);
        check_case(&rng, lstm, 3, 300, 3, false, false, false, 1, true, false); /* H > 256 */
        check_case(&rng, lstm, 1, 5, 3, false, true, true, 1, true, false);
        /* steps no gradient reaches still zero their rows of X's gradient */
        check_case(&rng, lstm, 2, 3, 4, false, false, false, 1, false, true);
        check_case(&rng, lstm, 2, 3, 4, false, false, false, 1, true, true);
        check_case(&rng, lstm, 2, 3, 4, false, false, false, 4, true, false);
        /* a computed gi marked read-once, as rc_lstm_cell's input product */
        for (int read_once = 0; read_once < 2; read_once++) {
            check_hh(&rng, (hh_case){.lstm = lstm, .computed_gi = true, .gi_read_once = true,
                                     .hoist = 1, .read_once = read_once, .B = 2, .H = 3, .T = 4});
            check_hh(&rng, (hh_case){.lstm = lstm, .computed_gi = true, .gi_read_once = true,
                                     .per_step_loss = true, .hoist = read_once, .B = 3, .H = 19,
                                     .T = 5});
        }
        check_hh(&rng, (hh_case){.lstm = lstm, .computed_gi = true, .gi_read_once = true,
                                 .first_only = true, .B = 2, .H = 3, .T = 4});
        /* from a zero state: the first step's product and w_hh piece are skipped */
        for (int zero = 1; zero <= 2; zero++)
            for (int read_once = 0; read_once < 2; read_once++) {
                check_hh(&rng, (hh_case){.lstm = lstm, .zero_h0 = zero, .hoist = 1,
                                         .read_once = read_once, .B = 2, .H = 3, .T = 4});
                check_hh(&rng, (hh_case){.lstm = lstm, .zero_h0 = zero, .hoist = 1,
                                         .read_once = read_once, .B = 3, .H = 19, .T = 5});
            }
        check_hh(&rng, (hh_case){.lstm = lstm, .zero_h0 = 1, .B = 2, .H = 3, .T = 1});
        check_threads(&rng, lstm);
    }
    check_read_once_misuse(&rng);
    check_gi_read_once_misuse(&rng);
    check_errors();
    return check_finish("ops_cell_hh");
}
