/* tests/test_ops_softmax.c - softmax and log_softmax over the last axis,
 * cross_entropy (mean, sum, ignore_index, bad targets) and mse: values
 * against double-precision references, gradients by finite differences and
 * by the closed form (softmax - onehot) / count. */
#include <stdint.h>

#include "check.h"
#include "op_check.h"
#include "recur/ops.h"

/* log-sum-exp of one row, in double */
static double ref_lse(const rc_real *x, int C)
{
    double m = x[0], s = 0;
    for (int c = 1; c < C; c++)
        m = fmax(m, x[c]);
    for (int c = 0; c < C; c++)
        s += exp(x[c] - m);
    return m + log(s);
}

/* softmax (or log_softmax) of rows of C, in double */
static void ref_softmax(const rc_real *x, size_t rows, int C, bool logp, double *out)
{
    for (size_t r = 0; r < rows; r++) {
        double lse = ref_lse(x + r * C, C);
        for (int c = 0; c < C; c++) {
            double l = x[r * C + c] - lse;
            out[r * C + c] = logp ? l : exp(l);
        }
    }
}

/* ---- softmax / log_softmax forward ------------------------------------------ */

static void test_softmax_forward(void)
{
    rc_graph *g = rc_graph_new();

    /* [2x3]: softmax([1,2,3]) = [0.0900306, 0.2447285, 0.6652410] */
    static const rc_real X[] = {1, 2, 3, -1, 0, 4};
    static const double want_row0[] = {0.09003057317038046, 0.24472847105479767,
                                       0.6652409557748219};
    double want[6], wantl[6];
    ref_softmax(X, 2, 3, false, want);
    ref_softmax(X, 2, 3, true, wantl);
    for (int c = 0; c < 3; c++)
        CHECK_NEAR(want[c], want_row0[c], 1e-15); /* the reference itself */
    rc_node *x = rc_input(g, RC_SHAPE(2, 3), X);
    rc_node *s = rc_softmax(g, x);
    rc_node *ls = rc_log_softmax(g, x);
    CHECK(rc_shape_eq(rc_shape_of(s), RC_SHAPE(2, 3)));
    CHECK(rc_shape_eq(rc_shape_of(ls), RC_SHAPE(2, 3)));
    CHECK_VALUES(s, want, 6, VALUE_TOL);
    CHECK_VALUES(ls, wantl, 6, VALUE_TOL);

    /* 3-D [2x3x4] and a row of 37 (vector tail), over the last axis */
    enum { N3 = 2 * 3 * 4, N37 = 3 * 37 };
    rc_real x3[N3], x37[N37];
    double w3[N3], w3l[N3], w37[N37], w37l[N37];
    for (int k = 0; k < N3; k++)
        x3[k] = (rc_real)(2.5 * sin(0.9 * k + 0.3));
    for (int k = 0; k < N37; k++)
        x37[k] = (rc_real)(3.0 * cos(1.7 * k + 0.2));
    ref_softmax(x3, 6, 4, false, w3);
    ref_softmax(x3, 6, 4, true, w3l);
    ref_softmax(x37, 3, 37, false, w37);
    ref_softmax(x37, 3, 37, true, w37l);
    rc_node *i3 = rc_input(g, RC_SHAPE(2, 3, 4), x3);
    rc_node *i37 = rc_input(g, RC_SHAPE(3, 37), x37);
    rc_node *s3 = rc_softmax(g, i3), *ls3 = rc_log_softmax(g, i3);
    rc_node *s37 = rc_softmax(g, i37), *ls37 = rc_log_softmax(g, i37);
    CHECK(rc_shape_eq(rc_shape_of(s3), RC_SHAPE(2, 3, 4)));
    CHECK(rc_shape_eq(rc_shape_of(ls3), RC_SHAPE(2, 3, 4)));
    CHECK_VALUES(s3, w3, N3, VALUE_TOL);
    CHECK_VALUES(ls3, w3l, N3, VALUE_TOL);
    CHECK_VALUES(s37, w37, N37, VALUE_TOL);
    CHECK_VALUES(ls37, w37l, N37, VALUE_TOL);
    /* each row sums to 1 */
    if (rc_data(s37)) {
        for (int r = 0; r < 3; r++) {
            double sum = 0;
            for (int c = 0; c < 37; c++)
                sum += rc_data(s37)[r * 37 + c];
            CHECK_NEAR(sum, 1.0, VALUE_TOL);
        }
    }

    /* large logits: computed stably (shift by the row max) */
    static const rc_real big[] = {1000, 1001, 1002, -1000, -1001, -1002};
    static const rc_real small_[] = {0, 1, 2, 0, -1, -2};
    double wb[6], wbl[6];
    ref_softmax(small_, 2, 3, false, wb);
    ref_softmax(small_, 2, 3, true, wbl);
    rc_node *ib = rc_input(g, RC_SHAPE(2, 3), big);
    rc_node *sb = rc_softmax(g, ib), *lsb = rc_log_softmax(g, ib);
    CHECK_VALUES(sb, wb, 6, VALUE_TOL);
    CHECK_VALUES(lsb, wbl, 6, VALUE_TOL);
    CHECK_NO_ERROR(g);
    rc_graph_free(g);
}

/* ---- softmax / log_softmax gradients ---------------------------------------- */

typedef struct {
    rc_node *a;
    bool logp;
} sm_ctx;

static rc_node *build_sm(rc_graph *g, void *vctx)
{
    sm_ctx *c = vctx;
    return wsum(g, c->logp ? rc_log_softmax(g, c->a) : rc_softmax(g, c->a));
}

static void test_softmax_grad(void)
{
    /* In float every output's rounding reaches the loss (for log_softmax one
     * shared rounding of the log-sum-exp times the row's weights), so the
     * gradchecks keep rows short; [3x37] is covered by the value checks. */
    const rc_shape shapes[] = {RC_SHAPE(2, 3), RC_SHAPE(2, 3, 4), RC_SHAPE(2, 19), RC_SHAPE(5)};
    const char *names[] = {"2x3", "2x3x4", "2x19", "5"};
    for (int logp = 0; logp < 2; logp++)
        for (int si = 0; si < 4; si++) {
            rc_rng rng;
            rc_rng_seed(&rng, 100 + 10 * logp + si);
            rc_params *ps = rc_params_new();
            rc_node *a = new_param(ps, "a", shapes[si]);
            rc_param_uniform(a, -2, 2, &rng);
            rc_graph *g = rc_graph_new();
            char label[64];
            snprintf(label, sizeof label, "%s_%s", logp ? "log_softmax" : "softmax",
                     names[si]);
            sm_ctx ctx = {a, logp != 0};
            rc_node *params[] = {a};
            CHECK_GRAD(label, g, build_sm, &ctx, params, 1);
            rc_graph_free(g);
            rc_params_free(ps);
        }
}

/* ---- cross entropy -------------------------------------------------------- */

/* Reference loss and gradient of cross_entropy (grad may be NULL). */
static double ref_ce(const rc_real *x, size_t rows, int C, const int32_t *t, int32_t ignore,
                     rc_reduction red, double *grad)
{
    double sum = 0;
    int count = 0;
    for (size_t r = 0; r < rows; r++) {
        if (t[r] == ignore)
            continue;
        sum += ref_lse(x + r * C, C) - x[r * C + t[r]];
        count++;
    }
    double div = red == RC_MEAN ? (count ? count : 1) : 1;
    if (grad) {
        for (size_t r = 0; r < rows; r++) {
            double lse = ref_lse(x + r * C, C);
            for (int c = 0; c < C; c++)
                grad[r * C + c] = t[r] == ignore
                                      ? 0
                                      : (exp(x[r * C + c] - lse) - (c == t[r])) / div;
        }
    }
    if (red == RC_MEAN)
        return count ? sum / count : 0;
    return sum;
}

/* forward value, and rc_backward's gradient against the closed form */
static void run_ce_values(const char *label, rc_shape s, const int32_t *t, int32_t ignore,
                          rc_reduction red, uint64_t seed)
{
    rc_rng rng;
    rc_rng_seed(&rng, seed);
    rc_params *ps = rc_params_new();
    rc_node *a = new_param(ps, "logits", s);
    rc_param_uniform(a, -2, 2, &rng);
    size_t n = rc_size(a);
    int C = s.d[s.ndim - 1];
    size_t rows = n / C;
    double *gw = malloc(sizeof(double) * n);
    double want = ref_ce(rc_data(a), rows, C, t, ignore, red, gw);

    rc_graph *g = rc_graph_new();
    rc_params_zero_grad(ps);
    rc_node *loss = rc_cross_entropy(g, a, t, ignore, red);
    CHECK_NO_ERROR(g);
    CHECK(rc_shape_size(rc_shape_of(loss)) == 1);
    CHECK_NEAR(rc_item(loss), want, VALUE_TOL);
    CHECK(rc_backward(g, loss) == 0);
    CHECK_NO_ERROR(g);
    const rc_real *ga = rc_grad(a);
    CHECK(ga != NULL);
    if (ga) {
        int bad_ignored = 0, bad = 0;
        for (size_t r = 0; r < rows; r++)
            for (int c = 0; c < C; c++) {
                size_t k = r * C + c;
                if (t[r] == ignore)
                    bad_ignored += ga[k] != 0; /* exactly zero */
                else if (!(fabs(ga[k] - gw[k]) <= VALUE_TOL * fmax(1.0, fabs(gw[k])))) {
                    if (!bad)
                        fprintf(stderr, "%s: grad[%zu] = %.10g, want %.10g\n", label, k,
                                (double)ga[k], gw[k]);
                    bad++;
                }
            }
        if (bad_ignored)
            fprintf(stderr, "%s: %d gradients of ignored rows are not 0\n", label,
                    bad_ignored);
        CHECK(bad_ignored == 0);
        CHECK(bad == 0);
    }
    free(gw);
    rc_graph_free(g);
    rc_params_free(ps);
}

/* The logits' gradient when they are a computed node: the probabilities
 * become it (rc_grad_share), also through a reshape, but not through a view
 * of part of a node, nor when another loss on the same logits already gave
 * them one; ignored rows must still come out zero. */
static void test_ce_shared_grad(void)
{
    static const int32_t t_all[] = {1, 3, 0, 2, 4, 1}, t_ign[] = {1, -100, 0, 2, 4, -100};
    enum { R = 6, C = 5 };
    rc_rng rng;
    rc_rng_seed(&rng, 41);
    rc_params *ps = rc_params_new();
    rc_node *a = new_param(ps, "logits", RC_SHAPE(R, C));
    rc_param_uniform(a, -2, 2, &rng);
    double want[R * C];
    ref_ce(rc_data(a), R, C, t_ign, -100, RC_SUM, want);
    const char *label[] = {"computed", "reshaped", "two losses", "row slices"};
    rc_graph *g = rc_graph_new();
    /* Pass 0 fills the arena with the probabilities of every row; pass 1 on
     * the same memory must not leave them in its ignored rows. */
    for (int mode = 0; mode < 4; mode++) {
        for (int pass = 0; pass < 2; pass++) {
            const int32_t *t = pass ? t_ign : t_all;
            rc_graph_reset(g);
            rc_params_zero_grad(ps);
            rc_node *x = rc_scale(g, a, 1.0), *loss;
            double factor = 1;
            if (mode == 1) {
                rc_node *flat = rc_reshape(g, x, RC_SHAPE(2, R / 2, C));
                flat = rc_reshape(g, flat, RC_SHAPE(R, C));
                loss = rc_cross_entropy(g, flat, t, -100, RC_SUM);
            } else if (mode == 2) { /* the second loss adds into the first's */
                loss = rc_add(g, rc_cross_entropy(g, x, t, -100, RC_SUM),
                              rc_cross_entropy(g, x, t, -100, RC_SUM));
                factor = 2;
            } else if (mode == 3) { /* each half a view of part of x */
                rc_node *top = rc_slice(g, x, 0, 0, R / 2);
                rc_node *bottom = rc_slice(g, x, 0, R / 2, R / 2);
                loss = rc_add(g, rc_cross_entropy(g, top, t, -100, RC_SUM),
                              rc_cross_entropy(g, bottom, t + R / 2, -100, RC_SUM));
            } else {
                loss = rc_cross_entropy(g, x, t, -100, RC_SUM);
            }
            CHECK(rc_backward(g, loss) == 0);
            CHECK_NO_ERROR(g);
            if (!pass)
                continue;
            int bad = 0;
            for (int k = 0; k < R * C; k++)
                bad += !(fabs(rc_grad(a)[k] - factor * want[k]) <= VALUE_TOL);
            if (bad)
                fprintf(stderr, "ce %s: %d of %d gradients wrong\n", label[mode], bad, R * C);
            CHECK(bad == 0);
        }
    }
    rc_graph_free(g);
    rc_params_free(ps);
}

typedef struct {
    rc_node *a;
    const int32_t *t;
    int32_t ignore;
    rc_reduction red;
    double scale; /* 0: the loss as is */
} ce_ctx;

static rc_node *build_ce(rc_graph *g, void *vctx)
{
    ce_ctx *c = vctx;
    rc_node *l = rc_cross_entropy(g, c->a, c->t, c->ignore, c->red);
    return c->scale != 0 ? rc_scale(g, l, c->scale) : l;
}

static void run_ce_grad(const char *label, rc_shape s, const int32_t *t, int32_t ignore,
                        rc_reduction red, double scale, uint64_t seed)
{
    rc_rng rng;
    rc_rng_seed(&rng, seed);
    rc_params *ps = rc_params_new();
    rc_node *a = new_param(ps, "logits", s);
    rc_param_uniform(a, -2, 2, &rng);
    /* Lift each counted target's logit by 3, as in a half-trained model: the
     * loss stays near 1 per row, so its float rounding stays well below the
     * finite-difference step's resolution of the gradients. */
    int C = s.d[s.ndim - 1];
    for (size_t r = 0; r < rc_size(a) / C; r++)
        if (t[r] != ignore)
            rc_data(a)[r * C + t[r]] += 3;
    rc_graph *g = rc_graph_new();
    ce_ctx ctx = {a, t, ignore, red, scale};
    rc_node *params[] = {a};
    CHECK_GRAD(label, g, build_ce, &ctx, params, 1);
    rc_graph_free(g);
    rc_params_free(ps);
}

static void test_cross_entropy(void)
{
    static const int32_t t4[] = {1, 4, 0, 2};
    static const int32_t t4_ign[] = {1, -100, 0, 2};
    static const int32_t t4_pad0[] = {1, 0, 3, 0}; /* ignore_index 0 = a padding class */
    static const int32_t t6[] = {0, 4, 2, 2, -100, 1};
    static const int32_t t3[] = {36, 0, 17};
    static const int32_t all_ign[] = {-1, -1, -1, -1};

    /* literal: logits [[0,0,0],[1,2,3]], targets {0, 2}:
     * row 0: log 3; row 1: log(e + e^2 + e^3) - 3 = 0.40760596444 */
    {
        static const rc_real X[] = {0, 0, 0, 1, 2, 3};
        static const int32_t t[] = {0, 2};
        double r0 = log(3.0), r1 = log(exp(1.0) + exp(2.0) + exp(3.0)) - 3;
        rc_graph *g = rc_graph_new();
        rc_node *x = rc_input(g, RC_SHAPE(2, 3), X);
        rc_node *lm = rc_cross_entropy(g, x, t, -100, RC_MEAN);
        rc_node *ls = rc_cross_entropy(g, x, t, -100, RC_SUM);
        CHECK_NEAR(r1, 0.40760596444438, 1e-12);
        CHECK_NEAR(rc_item(lm), (r0 + r1) / 2, VALUE_TOL);
        CHECK_NEAR(rc_item(ls), r0 + r1, VALUE_TOL);
        /* large logits stay finite */
        static const rc_real Xb[] = {1000, 0, -1000, 500, 501, 502};
        rc_node *lb = rc_cross_entropy(g, rc_input(g, RC_SHAPE(2, 3), Xb), t, -100, RC_SUM);
        CHECK_NEAR(rc_item(lb), 0 + r1, VALUE_TOL);
        CHECK_NO_ERROR(g);
        rc_graph_free(g);
    }

    run_ce_values("ce_mean", RC_SHAPE(4, 5), t4, -100, RC_MEAN, 10);
    run_ce_values("ce_sum", RC_SHAPE(4, 5), t4, -100, RC_SUM, 11);
    run_ce_values("ce_ignore_mean", RC_SHAPE(4, 5), t4_ign, -100, RC_MEAN, 12);
    run_ce_values("ce_ignore_sum", RC_SHAPE(4, 5), t4_ign, -100, RC_SUM, 13);
    run_ce_values("ce_pad0_mean", RC_SHAPE(4, 5), t4_pad0, 0, RC_MEAN, 14);
    run_ce_values("ce_3d_mean", RC_SHAPE(2, 3, 5), t6, -100, RC_MEAN, 15);
    run_ce_values("ce_37_sum", RC_SHAPE(3, 37), t3, -100, RC_SUM, 16);

    /* the mean counts only the rows that count */
    {
        rc_rng rng;
        rc_rng_seed(&rng, 17);
        rc_params *ps = rc_params_new();
        rc_node *a = new_param(ps, "logits", RC_SHAPE(4, 5));
        rc_param_uniform(a, -2, 2, &rng);
        const rc_real *x = rc_data(a);
        double rowsum = 0;
        for (int r = 0; r < 4; r++)
            if (t4_ign[r] != -100)
                rowsum += ref_lse(x + r * 5, 5) - x[r * 5 + t4_ign[r]];
        rc_graph *g = rc_graph_new();
        rc_node *l = rc_cross_entropy(g, a, t4_ign, -100, RC_MEAN);
        CHECK_NEAR(rc_item(l), rowsum / 3, VALUE_TOL);
        /* every row ignored: the mean is 0 and the gradient 0 */
        rc_graph_reset(g);
        rc_params_zero_grad(ps);
        l = rc_cross_entropy(g, a, all_ign, -1, RC_MEAN);
        CHECK_NO_ERROR(g);
        CHECK(rc_item(l) == 0);
        CHECK(rc_backward(g, l) == 0);
        CHECK_NO_ERROR(g);
        if (rc_grad(a)) {
            int nonzero = 0;
            for (int k = 0; k < 20; k++)
                nonzero += rc_grad(a)[k] != 0;
            CHECK(nonzero == 0);
        }
        rc_graph_reset(g);
        l = rc_cross_entropy(g, a, all_ign, -1, RC_SUM);
        CHECK_NO_ERROR(g);
        CHECK(rc_item(l) == 0);
        rc_graph_free(g);
        rc_params_free(ps);
    }

    /* targets out of range */
    {
        static const int32_t over[] = {1, 5, 0, 2};  /* C = 5 */
        static const int32_t under[] = {1, -1, 0, 2}; /* -1 is not the ignore_index */
        rc_graph *g = rc_graph_new();
        rc_node *x = rc_fill(g, RC_SHAPE(4, 5), 0.5);
        CHECK(!rc_ok(rc_cross_entropy(g, x, over, -100, RC_MEAN)));
        CHECK_ERROR_HAS(g, "cross_entropy");
        rc_graph_reset(g);
        x = rc_fill(g, RC_SHAPE(4, 5), 0.5);
        CHECK(!rc_ok(rc_cross_entropy(g, x, under, -100, RC_SUM)));
        CHECK_ERROR_HAS(g, "cross_entropy");
        rc_graph_reset(g);
        x = rc_fill(g, RC_SHAPE(4, 5), 0.5);
        CHECK(!rc_ok(rc_cross_entropy(g, x, NULL, -100, RC_SUM)));
        CHECK_ERROR_HAS(g, "cross_entropy");
        rc_graph_free(g);
    }

    run_ce_grad("ce_mean", RC_SHAPE(4, 5), t4, -100, RC_MEAN, 0, 20);
    run_ce_grad("ce_sum", RC_SHAPE(4, 5), t4, -100, RC_SUM, 0, 21);
    run_ce_grad("ce_ignore_mean", RC_SHAPE(4, 5), t4_ign, -100, RC_MEAN, 0, 22);
    run_ce_grad("ce_ignore_sum_scaled", RC_SHAPE(4, 5), t4_ign, -100, RC_SUM, -1.7, 23);
    run_ce_grad("ce_pad0_mean_scaled", RC_SHAPE(4, 5), t4_pad0, 0, RC_MEAN, 2.5, 24);
    run_ce_grad("ce_3d_mean", RC_SHAPE(2, 3, 5), t6, -100, RC_MEAN, 0, 25);
    run_ce_grad("ce_37_sum", RC_SHAPE(3, 37), t3, -100, RC_SUM, 0, 26);
}

/* A NaN or +Inf anywhere in a row, in its full vectors or in the tail past
 * them (37 = 2 x 16 + 5 lanes in float), makes cross_entropy's loss NaN and
 * the op fail (a -Inf logit, which would vanish in exp, is caught where
 * logits are made: test_ops_linear_ce.c). Without one the loss is the
 * double reference's. */
static void test_ce_not_finite(void)
{
    enum { R = 2, C = 37 };
    static const int32_t t[R] = {3, 35};
    const rc_real bad[] = {NAN, INFINITY};
    const int where[] = {0, 5, 20, 31, 32, 36};
    rc_real x[R * C];
    for (int k = 0; k < R * C; k++)
        x[k] = (rc_real)(0.37 * ((k * 7) % 11) - 1.5);
    rc_graph *g = rc_graph_new();
    double want = 0;
    for (int r = 0; r < R; r++) {
        double mx = -INFINITY, sum = 0;
        for (int c = 0; c < C; c++)
            mx = fmax(mx, x[r * C + c]);
        for (int c = 0; c < C; c++)
            sum += exp(x[r * C + c] - mx);
        want += log(sum) + mx - x[r * C + t[r]];
    }
    /* a parameter: rc_input would refuse the values itself */
    rc_params *ps = rc_params_new();
    rc_node *p = new_param(ps, "logits", RC_SHAPE(R, C));
    memcpy(rc_data(p), x, sizeof x);
    rc_node *l = rc_cross_entropy(g, p, t, -100, RC_SUM);
    CHECK_NO_ERROR(g);
    CHECK_NEAR(rc_item(l), want, 1e-5 * fabs(want));
    for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++)
        for (size_t w = 0; w < sizeof where / sizeof where[0]; w++) {
            rc_graph_reset(g);
            memcpy(rc_data(p), x, sizeof x);
            rc_data(p)[C + where[w]] = bad[b];
            CHECK(!rc_ok(rc_cross_entropy(g, p, t, -100, RC_SUM)));
            CHECK_ERROR_HAS(g, "cross_entropy");
        }
    rc_graph_free(g);
    rc_params_free(ps);
}

/* ---- mse ---------------------------------------------------------------------- */

typedef struct {
    rc_node *a, *b;
} mse_ctx;

static rc_node *build_mse(rc_graph *g, void *vctx)
{
    mse_ctx *c = vctx;
    return rc_mse(g, c->a, c->b);
}

static void test_mse(void)
{
    rc_graph *g = rc_graph_new();
    /* diffs 1, 2, -2, 3: mean of 1, 4, 4, 9 = 4.5 */
    static const rc_real A[] = {1, 2, 3, 4};
    static const rc_real B[] = {0, 0, 5, 1};
    rc_node *m = rc_mse(g, rc_input(g, RC_SHAPE(2, 2), A), rc_input(g, RC_SHAPE(2, 2), B));
    CHECK(rc_shape_size(rc_shape_of(m)) == 1);
    CHECK_NEAR(rc_item(m), 4.5, VALUE_TOL);
    /* 37 elements: the vector tail */
    rc_real x[37], y[37];
    double want = 0;
    for (int k = 0; k < 37; k++) {
        x[k] = (rc_real)sin(k + 0.5);
        y[k] = (rc_real)cos(2.0 * k);
        want += ((double)x[k] - y[k]) * ((double)x[k] - y[k]);
    }
    want /= 37;
    m = rc_mse(g, rc_input(g, RC_SHAPE(37), x), rc_input(g, RC_SHAPE(37), y));
    CHECK_NEAR(rc_item(m), want, VALUE_TOL);
    CHECK_NO_ERROR(g);
    m = rc_mse(g, rc_input(g, RC_SHAPE(2, 2), A), rc_input(g, RC_SHAPE(4), B));
    CHECK(!rc_ok(m));
    CHECK_ERROR_HAS(g, "mse");
    rc_graph_free(g);

    const rc_shape shapes[] = {RC_SHAPE(3, 4), RC_SHAPE(37), RC_SHAPE(2, 3, 2)};
    const char *names[] = {"mse_3x4", "mse_37", "mse_2x3x2"};
    for (int si = 0; si < 3; si++) {
        rc_rng rng;
        rc_rng_seed(&rng, 300 + si);
        rc_params *ps = rc_params_new();
        rc_node *a = new_param(ps, "a", shapes[si]);
        rc_node *b = new_param(ps, "b", shapes[si]);
        rc_param_uniform(a, -1, 1, &rng);
        rc_param_uniform(b, -1, 1, &rng);
        g = rc_graph_new();
        mse_ctx ctx = {a, b};
        rc_node *params[] = {a, b};
        CHECK_GRAD(names[si], g, build_mse, &ctx, params, 2);
        rc_graph_free(g);
        rc_params_free(ps);
    }
}

int main(void)
{
    init_weights();
    test_softmax_forward();
    test_softmax_grad();
    test_cross_entropy();
    test_ce_shared_grad();
    test_ce_not_finite();
    test_mse();
    return check_finish("ops_softmax");
}
