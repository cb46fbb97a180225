/* tests/test_ops_linear_ce.c - linear_cross_entropy against the two ops it
 * fuses (matmul_bias with a transposed weight, then cross_entropy): the
 * loss and every gradient, over shapes that end inside a block of rows, with
 * and without bias, mean and sum, ignored rows, an upstream gradient other
 * than 1, a weight that is not a parameter, gradients off, 1 and 3 threads;
 * finite-difference gradient checks; and its errors. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "op_check.h"
#include "recur/ops.h"

typedef struct model {
    rc_params *ps;
    rc_node *x, *w, *b; /* parameters; b may be NULL */
    int R, K, C;
    int32_t *t;
} model;

static void model_init(model *m, int R, int K, int C, bool bias, int ignore_every,
                       uint64_t seed)
{
    rc_rng rng;
    rc_rng_seed(&rng, seed);
    *m = (model){rc_params_new(), NULL, NULL, NULL, R, K, C, malloc((size_t)R * sizeof(int32_t))};
    m->x = new_param(m->ps, "x", RC_SHAPE(R, K));
    m->w = new_param(m->ps, "weight", RC_SHAPE(C, K));
    rc_param_uniform(m->x, -1, 1, &rng);
    rc_param_uniform(m->w, -1, 1, &rng);
    if (bias) {
        m->b = new_param(m->ps, "bias", RC_SHAPE(C));
        rc_param_uniform(m->b, -1, 1, &rng);
    }
    for (int r = 0; r < R; r++)
        m->t[r] = ignore_every && r % ignore_every == 1 ? -100
                                                        : (int32_t)(rc_rng_next(&rng) % (uint64_t)C);
}

static void model_free(model *m)
{
    rc_params_free(m->ps);
    free(m->t);
}

enum { FUSED, COMPOSED, FUSED_LEAF_W }; /* FUSED_LEAF_W: w through a computed node */

static rc_node *loss_of(rc_graph *g, const model *m, int how, rc_reduction red, double up)
{
    rc_node *loss;
    if (how == COMPOSED)
        loss = rc_cross_entropy(g, rc_matmul_bias(g, m->x, m->w, m->b, RC_TRANS_B), m->t, -100,
                                red);
    else
        loss = rc_linear_cross_entropy(g, m->x, how == FUSED ? m->w : rc_scale(g, m->w, 1.0),
                                       m->b, m->t, -100, red);
    return up != 1 ? rc_scale(g, loss, up) : loss;
}

/* Loss and gradients of x, w, b after one backward (grads NULL: gradients off). */
static double run(const model *m, int how, rc_reduction red, double up, rc_real *grads)
{
    rc_graph *g = rc_graph_new();
    rc_graph_set_grad(g, grads != NULL);
    rc_params_zero_grad(m->ps);
    rc_node *loss = loss_of(g, m, how, red, up);
    double v = rc_ok(loss) ? rc_data(loss)[0] : NAN;
    if (grads) {
        CHECK(rc_backward(g, loss) == 0);
        size_t n = rc_params_numel(m->ps);
        memcpy(grads, rc_params_grads(m->ps), n * sizeof *grads);
    }
    CHECK_NO_ERROR(g);
    rc_graph_free(g);
    return v;
}

static int count_bad(const char *label, const rc_real *got, const rc_real *want, size_t n)
{
    int bad = 0;
    for (size_t k = 0; k < n; k++)
        if (!(fabs(got[k] - want[k]) <= 10 * VALUE_TOL * fmax(1.0, fabs(want[k])))) {
            if (!bad)
                fprintf(stderr, "%s: grad[%zu] = %.10g, want %.10g\n", label, k,
                        (double)got[k], (double)want[k]);
            bad++;
        }
    return bad;
}

static void test_against_composed(void)
{
    /* R within and across the 256-row blocks (600: one product, three
     * blocks of d; 1100: w's per-graph transpose); C from one vector to
     * W4's 2000 */
    static const struct { int R, K, C, ignore_every; bool bias; } cases[] = {
        {1, 3, 4, 0, true},     {5, 3, 17, 2, false},    {64, 8, 65, 0, true},
        {130, 16, 37, 3, true}, {70, 32, 2000, 5, true}, {200, 7, 1, 0, false},
        {600, 24, 300, 7, true}, {1100, 8, 65, 0, false},
    };
    for (int threads = 1; threads <= 3; threads += 2) {
        rc_set_num_threads(threads);
        for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
            model m;
            model_init(&m, cases[c].R, cases[c].K, cases[c].C, cases[c].bias,
                       cases[c].ignore_every, 10 + c);
            const size_t n = rc_params_numel(m.ps);
            rc_real *want = malloc(n * sizeof *want), *got = malloc(n * sizeof *got);
            for (int red = RC_MEAN; red <= RC_SUM; red++) {
                for (int upi = 0; upi < 2; upi++) {
                    const double up = upi ? -2.5 : 1;
                    char label[96];
                    snprintf(label, sizeof label, "R%d K%d C%d %s up %g thr %d", cases[c].R,
                             cases[c].K, cases[c].C, red == RC_MEAN ? "mean" : "sum", up,
                             threads);
                    const double lw = run(&m, COMPOSED, red, up, want);
                    for (int how = FUSED; how <= FUSED_LEAF_W; how += 2) {
                        const double lg = run(&m, how, red, up, got);
                        CHECK_NEAR(lg, lw, 10 * VALUE_TOL * fmax(1.0, fabs(lw)));
                        int bad = count_bad(label, got, want, n);
                        if (bad)
                            fprintf(stderr, "%s%s: %d of %zu gradients differ\n", label,
                                    how == FUSED ? "" : " (leaf w)", bad, n);
                        CHECK(bad == 0);
                    }
                    /* gradients off: the same loss, nothing kept */
                    CHECK_NEAR(run(&m, FUSED, red, up, NULL), lw,
                               10 * VALUE_TOL * fmax(1.0, fabs(lw)));
                }
            }
            free(want);
            free(got);
            model_free(&m);
        }
    }
    rc_set_num_threads(1);
}

/* A literal: x = [[1, 0], [0, 1]], w = I (2 classes), no bias, targets {0, 1}:
 * each row's loss is log(1 + e^-1) = 0.31326168751822286. */
static void test_literal(void)
{
    rc_graph *g = rc_graph_new();
    static const rc_real X[] = {1, 0, 0, 1}, W[] = {1, 0, 0, 1};
    static const int32_t t[] = {0, 1}, t_ign[] = {-1, -1};
    rc_node *x = rc_input(g, RC_SHAPE(2, 2), X), *w = rc_input(g, RC_SHAPE(2, 2), W);
    const double want = 0.31326168751822286;
    CHECK_NEAR(rc_data(rc_linear_cross_entropy(g, x, w, NULL, t, -1, RC_MEAN))[0], want,
               VALUE_TOL);
    CHECK_NEAR(rc_data(rc_linear_cross_entropy(g, x, w, NULL, t, -1, RC_SUM))[0], 2 * want,
               VALUE_TOL);
    /* every row ignored: 0, as cross_entropy */
    CHECK_NEAR(rc_data(rc_linear_cross_entropy(g, x, w, NULL, t_ign, -1, RC_MEAN))[0], 0, 0);
    /* [... x K] inputs: rows are everything but the last dim */
    rc_node *x3 = rc_reshape(g, x, RC_SHAPE(1, 2, 2));
    CHECK_NEAR(rc_data(rc_linear_cross_entropy(g, x3, w, NULL, t, -1, RC_SUM))[0], 2 * want,
               VALUE_TOL);
    CHECK_NO_ERROR(g);
    rc_graph_free(g);
}

typedef struct {
    const model *m;
    rc_reduction red;
} grad_ctx;

static rc_node *build(rc_graph *g, void *vctx)
{
    const grad_ctx *c = vctx;
    return loss_of(g, c->m, FUSED, c->red, 1);
}

static void test_gradcheck(void)
{
    static const struct { int R, K, C; bool bias; rc_reduction red; } cases[] = {
        {3, 4, 5, true, RC_MEAN}, {7, 3, 33, true, RC_SUM}, {66, 2, 3, false, RC_MEAN}};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        model m;
        model_init(&m, cases[c].R, cases[c].K, cases[c].C, cases[c].bias, 3, 50 + c);
        rc_graph *g = rc_graph_new();
        grad_ctx ctx = {&m, cases[c].red};
        rc_node *params[] = {m.x, m.w, m.b};
        char label[64];
        snprintf(label, sizeof label, "linear_ce R%d K%d C%d", cases[c].R, cases[c].K,
                 cases[c].C);
        CHECK_GRAD(label, g, build, &ctx, params, m.b ? 3 : 2);
        rc_graph_free(g);
        model_free(&m);
    }
}

static void test_errors(void)
{
    rc_graph *g = rc_graph_new();
    static const rc_real X[6] = {1, 2, 3, 4, 5, 6};
    static const int32_t t[] = {0, 1}, t_bad[] = {0, 3};
    rc_node *x = rc_input(g, RC_SHAPE(2, 3), X);
    rc_node *w = rc_fill(g, RC_SHAPE(3, 3), 0.5), *w_bad = rc_fill(g, RC_SHAPE(3, 2), 0.5);
    CHECK(!rc_ok(rc_linear_cross_entropy(g, x, w_bad, NULL, t, -1, RC_MEAN)));
    CHECK_ERROR_HAS(g, "linear_cross_entropy");
    CHECK_ERROR_HAS(g, "x [2x3]");
    CHECK_ERROR_HAS(g, "w [3x2]");
    rc_graph_reset(g);
    x = rc_input(g, RC_SHAPE(2, 3), X);
    w = rc_fill(g, RC_SHAPE(3, 3), 0.5);
    CHECK(!rc_ok(rc_linear_cross_entropy(g, x, w, rc_fill(g, RC_SHAPE(2), 0), t, -1, RC_MEAN)));
    CHECK_ERROR_HAS(g, "bias must be [3]");
    rc_graph_reset(g);
    x = rc_input(g, RC_SHAPE(2, 3), X);
    w = rc_fill(g, RC_SHAPE(3, 3), 0.5);
    CHECK(!rc_ok(rc_linear_cross_entropy(g, x, w, NULL, t_bad, -1, RC_MEAN)));
    CHECK_ERROR_HAS(g, "target 3 of row 1 is outside [0, 3)");
    rc_graph_reset(g);
    x = rc_input(g, RC_SHAPE(2, 3), X);
    w = rc_fill(g, RC_SHAPE(3, 3), 0.5);
    CHECK(!rc_ok(rc_linear_cross_entropy(g, x, w, NULL, t, -1, (rc_reduction)7)));
    CHECK_ERROR_HAS(g, "unknown reduction");
    rc_graph_reset(g);
    CHECK(!rc_ok(rc_linear_cross_entropy(g, NULL, w, NULL, t, -1, RC_MEAN)));
    CHECK_ERROR_HAS(g, "NULL");
    /* a NaN in x reaches the loss, and the op says so */
    rc_graph_reset(g);
    rc_params *ps = rc_params_new();
    rc_node *xp = new_param(ps, "x", RC_SHAPE(2, 3));
    memcpy(rc_data(xp), X, sizeof X);
    rc_data(xp)[2] = NAN;
    w = rc_fill(g, RC_SHAPE(3, 3), 0.5);
    CHECK(!rc_ok(rc_linear_cross_entropy(g, xp, w, NULL, t, -1, RC_MEAN)));
    CHECK_ERROR_HAS(g, "linear_cross_entropy");
    /* an overflow to -Inf in one logit leaves a finite loss: the logits
     * themselves are scanned, in either build, with or without gradients */
    const rc_real huge = sizeof(rc_real) == 4 ? (rc_real)1e30 : (rc_real)1e200;
    for (int grad = 0; grad < 2; grad++) {
        rc_graph_reset(g);
        rc_graph_set_grad(g, grad);
        memcpy(rc_data(xp), X, sizeof X);
        rc_data(xp)[0] = -huge; /* row 0: x0 = -huge against w's column 0 of huge */
        rc_node *wh = rc_fill(g, RC_SHAPE(3, 3), 0.5);
        rc_data(wh)[3] = huge; /* class 1 of row 0: -huge * huge = -Inf */
        CHECK(!rc_ok(rc_linear_cross_entropy(g, xp, wh, NULL, t, -1, RC_MEAN)));
        CHECK_ERROR_HAS(g, "linear_cross_entropy");
        CHECK_ERROR_HAS(g, "rows 0 to 1");
    }
    /* the same at 37 classes, the -Inf in a full vector's lanes or the tail's */
    enum { C37 = 37 };
    static const int32_t t37[] = {3, 30};
    rc_node *x37 = new_param(ps, "x37", RC_SHAPE(2, 2));
    const int where[] = {0, 7, 16, 31, 32, 36};
    for (size_t k = 0; k < sizeof where / sizeof where[0]; k++) {
        rc_graph_reset(g);
        rc_real *xv = rc_data(x37);
        xv[0] = 1, xv[1] = 0.5, xv[2] = -huge, xv[3] = 1; /* row 1 gets the -Inf */
        rc_node *w37 = rc_fill(g, RC_SHAPE(C37, 2), 0.25);
        rc_data(w37)[2 * where[k]] = huge;
        CHECK(!rc_ok(rc_linear_cross_entropy(g, x37, w37, NULL, t37, -1, RC_SUM)));
        CHECK_ERROR_HAS(g, "rows 0 to 1");
        rc_graph_reset(g); /* and without it the loss is finite */
        w37 = rc_fill(g, RC_SHAPE(C37, 2), 0.25);
        CHECK(rc_ok(rc_linear_cross_entropy(g, x37, w37, NULL, t37, -1, RC_SUM)));
    }
    rc_graph_free(g);
    rc_params_free(ps);
}

int main(void)
{
    test_literal();
    test_against_composed();
    test_gradcheck();
    test_errors();
    return check_finish("ops_linear_ce");
}
