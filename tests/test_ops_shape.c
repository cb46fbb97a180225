/* tests/test_ops_shape.c - embedding (gather, scatter-add backward, bad ids),
 * concat, slice, reshape, transpose, sum, mean and sum_axis: values against
 * references computed here, gradients by finite differences. */
#include <stdint.h>

#include "check.h"
#include "op_check.h"
#include "recur/ops.h"

static size_t prod(rc_shape s, int from, int to)
{
    size_t n = 1;
    for (int d = from; d < to; d++)
        n *= (size_t)s.d[d];
    return n;
}

/* One generic gradcheck context: up to 3 parameters and a few attributes. */
enum { K_EMB, K_CONCAT, K_CONCAT_COMPUTED, K_SLICE, K_SLICES_OVERLAP, K_RESHAPE,
       K_RESHAPE_CHAIN, K_TRANSPOSE, K_SUM, K_MEAN, K_SUM_AXIS };

typedef struct {
    int kind;
    rc_node *p[3];
    int np;
    int axis, start, len;
    rc_shape s;
    const int32_t *ids;
} op_ctx;

static rc_node *build_op(rc_graph *g, void *vctx)
{
    op_ctx *c = vctx;
    rc_node *y = NULL;
    switch (c->kind) {
    case K_EMB: y = rc_embedding(g, c->p[0], c->ids, c->s); break;
    case K_CONCAT: y = rc_concat(g, c->axis, c->np, c->p); break;
    case K_CONCAT_COMPUTED: {
        /* op outputs along the first axis take blocks of the concat's
         * gradient as their own: one also read before the concat (its
         * consumer's backward runs after), one twice, one through a view */
        rc_node *t = rc_tanh(g, c->p[0]), *s = rc_sigmoid(g, c->p[1]);
        rc_node *before = wsum(g, rc_mul(g, t, t));
        rc_node *v = rc_reshape(g, rc_mul(g, c->p[2], c->p[2]), rc_shape_of(c->p[1]));
        rc_node *parts[] = {t, s, v, s};
        return rc_add(g, before, wsum(g, rc_concat(g, 0, 4, parts)));
    }
    case K_SLICE: y = rc_slice(g, c->p[0], c->axis, c->start, c->len); break;
    case K_SLICES_OVERLAP:
        /* two overlapping slices of one tensor: their gradients add up */
        y = rc_mul(g, rc_slice(g, c->p[0], c->axis, 0, c->len),
                   rc_slice(g, c->p[0], c->axis, c->start, c->len));
        return rc_add(g, wsum(g, y), wsum(g, rc_slice(g, c->p[0], c->axis, 1, c->len)));
    case K_RESHAPE: y = rc_reshape(g, c->p[0], c->s); break;
    case K_RESHAPE_CHAIN:
        /* a view of a computed node, then more ops on it */
        y = rc_tanh(g, rc_reshape(g, rc_mul(g, c->p[0], c->p[1]), c->s));
        break;
    case K_TRANSPOSE: y = rc_transpose(g, c->p[0]); break;
    case K_SUM: y = rc_sum(g, c->p[0]); break;
    case K_MEAN: y = rc_mean(g, c->p[0]); break;
    case K_SUM_AXIS: y = rc_sum_axis(g, c->p[0], c->axis); break;
    }
    return wsum(g, y);
}

static void gradcheck_ctx(const char *label, op_ctx *ctx)
{
    rc_graph *g = rc_graph_new();
    CHECK_GRAD(label, g, build_op, ctx, ctx->p, (size_t)ctx->np);
    rc_graph_free(g);
}

/* ---- embedding ---------------------------------------------------------------- */

static void test_embedding(void)
{
    rc_params *ps = rc_params_new();
    rc_node *table = new_param(ps, "table", RC_SHAPE(5, 3));
    for (int v = 0; v < 5; v++)
        for (int e = 0; e < 3; e++)
            rc_data(table)[v * 3 + e] = (rc_real)(10 * v + e);
    static const int32_t ids[] = {3, 0, 3, 4};
    static const double want[] = {30, 31, 32, 0, 1, 2, 30, 31, 32, 40, 41, 42};
    rc_graph *g = rc_graph_new();
    rc_node *y = rc_embedding(g, table, ids, RC_SHAPE(4));
    CHECK(rc_shape_eq(rc_shape_of(y), RC_SHAPE(4, 3)));
    CHECK_VALUES(y, want, 12, 0.0);
    rc_node *y2 = rc_embedding(g, table, ids, RC_SHAPE(2, 2));
    CHECK(rc_shape_eq(rc_shape_of(y2), RC_SHAPE(2, 2, 3)));
    CHECK_VALUES(y2, want, 12, 0.0);
    CHECK_NO_ERROR(g);

    /* scatter-add: row 3 is used twice, rows 1 and 2 never */
    rc_graph_reset(g);
    rc_params_zero_grad(ps);
    y = rc_embedding(g, table, ids, RC_SHAPE(4));
    CHECK(rc_backward(g, wsum(g, y)) == 0);
    CHECK_NO_ERROR(g);
    const rc_real *gt = rc_grad(table);
    CHECK(gt != NULL);
    if (gt) {
        double wg[15] = {0};
        for (int i = 0; i < 4; i++)
            for (int e = 0; e < 3; e++)
                wg[ids[i] * 3 + e] += W_[i * 3 + e];
        for (int e = 0; e < 3; e++)
            CHECK_NEAR(wg[9 + e], (double)W_[e] + W_[6 + e], 1e-12); /* the reference */
        int bad = 0;
        for (int k = 0; k < 15; k++) {
            if (!(fabs(gt[k] - wg[k]) <= VALUE_TOL * fmax(1.0, fabs(wg[k])))) {
                fprintf(stderr, "embedding grad[%d] = %.10g, want %.10g\n", k, (double)gt[k],
                        wg[k]);
                bad++;
            }
        }
        CHECK(bad == 0);
        for (int k = 3; k < 9; k++)
            CHECK(gt[k] == 0); /* unused rows 1 and 2: exactly zero */
    }

    /* a row length with a vector tail */
    rc_graph_reset(g);
    {
        rc_params *ps2 = rc_params_new();
        rc_node *t37 = new_param(ps2, "t37", RC_SHAPE(4, 37));
        rc_rng rng;
        rc_rng_seed(&rng, 1);
        rc_param_uniform(t37, -1, 1, &rng);
        static const int32_t ids3[] = {2, 2, 0};
        double w37[3 * 37];
        for (int i = 0; i < 3; i++)
            for (int e = 0; e < 37; e++)
                w37[i * 37 + e] = rc_data(t37)[ids3[i] * 37 + e];
        rc_node *y37 = rc_embedding(g, t37, ids3, RC_SHAPE(3));
        CHECK(rc_shape_eq(rc_shape_of(y37), RC_SHAPE(3, 37)));
        CHECK_VALUES(y37, w37, 3 * 37, 0.0);
        CHECK_NO_ERROR(g);
        rc_graph_reset(g);
        rc_params_free(ps2);
    }

    /* ids out of range: the message names the op and the bad id */
    static const int32_t over[] = {1, 90210, 0};
    static const int32_t under[] = {-4242, 1};
    static const int32_t edge[] = {0, 5};
    CHECK(!rc_ok(rc_embedding(g, table, over, RC_SHAPE(3))));
    CHECK_ERROR_HAS(g, "embedding");
    CHECK_ERROR_HAS(g, "90210");
    rc_graph_reset(g);
    CHECK(!rc_ok(rc_embedding(g, table, under, RC_SHAPE(2))));
    CHECK_ERROR_HAS(g, "embedding");
    CHECK_ERROR_HAS(g, "-4242");
    rc_graph_reset(g);
    CHECK(!rc_ok(rc_embedding(g, table, edge, RC_SHAPE(2)))); /* V itself is out */
    CHECK_ERROR_HAS(g, "embedding");
    rc_graph_free(g);
    rc_params_free(ps);

    /* gradcheck with repeated ids */
    static const int32_t rep[] = {5, 1, 5, 0, 1, 5};
    ps = rc_params_new();
    table = new_param(ps, "table", RC_SHAPE(6, 4));
    rc_rng rng;
    rc_rng_seed(&rng, 2);
    rc_param_uniform(table, -1, 1, &rng);
    op_ctx ctx = {.kind = K_EMB, .p = {table}, .np = 1, .s = RC_SHAPE(2, 3), .ids = rep};
    gradcheck_ctx("embedding_repeat", &ctx);
    rc_params_free(ps);
}

/* ---- concat ------------------------------------------------------------------- */

static void ref_concat(int n, rc_node *const parts[], int axis, double *out)
{
    rc_shape s0 = rc_shape_of(parts[0]);
    size_t outer = prod(s0, 0, axis), inner = prod(s0, axis + 1, s0.ndim);
    size_t k = 0;
    for (size_t o = 0; o < outer; o++)
        for (int p = 0; p < n; p++) {
            size_t block = (size_t)rc_shape_of(parts[p]).d[axis] * inner;
            for (size_t i = 0; i < block; i++)
                out[k++] = rc_data(parts[p])[o * block + i];
        }
}

static void run_concat(const char *label, int axis, const rc_shape s[3], uint64_t seed)
{
    rc_rng rng;
    rc_rng_seed(&rng, seed);
    rc_params *ps = rc_params_new();
    rc_node *p[3] = {new_param(ps, "p0", s[0]), new_param(ps, "p1", s[1]),
                     new_param(ps, "p2", s[2])};
    rc_shape so = s[0];
    so.d[axis] = s[0].d[axis] + s[1].d[axis] + s[2].d[axis];
    size_t n = rc_shape_size(so);
    for (int i = 0; i < 3; i++)
        rc_param_uniform(p[i], -1, 1, &rng);
    double *want = malloc(sizeof(double) * n);
    ref_concat(3, p, axis, want);
    rc_graph *g = rc_graph_new();
    rc_node *y = rc_concat(g, axis, 3, p);
    CHECK_NO_ERROR(g);
    CHECK(rc_shape_eq(rc_shape_of(y), so));
    CHECK_VALUES(y, want, n, 0.0);
    rc_graph_free(g);
    op_ctx ctx = {.kind = K_CONCAT, .p = {p[0], p[1], p[2]}, .np = 3, .axis = axis};
    gradcheck_ctx(label, &ctx);
    free(want);
    rc_params_free(ps);
}

static void test_concat(void)
{
    const rc_shape ax0[3] = {RC_SHAPE(1, 2, 3), RC_SHAPE(2, 2, 3), RC_SHAPE(3, 2, 3)};
    const rc_shape ax1[3] = {RC_SHAPE(2, 1, 3), RC_SHAPE(2, 2, 3), RC_SHAPE(2, 3, 3)};
    const rc_shape ax2[3] = {RC_SHAPE(2, 2, 1), RC_SHAPE(2, 2, 2), RC_SHAPE(2, 2, 4)};
    const rc_shape tail[3] = {RC_SHAPE(2, 19), RC_SHAPE(2, 5), RC_SHAPE(2, 13)};
    run_concat("concat_axis0", 0, ax0, 10);
    run_concat("concat_axis1", 1, ax1, 11);
    run_concat("concat_last", 2, ax2, 12);
    run_concat("concat_2d_last_tail", 1, tail, 13);
    {
        rc_rng rng;
        rc_rng_seed(&rng, 15);
        rc_params *ps = rc_params_new();
        op_ctx ctx = {.kind = K_CONCAT_COMPUTED,
                      .p = {new_param(ps, "t", RC_SHAPE(3, 4)), new_param(ps, "s", RC_SHAPE(2, 4)),
                            new_param(ps, "v", RC_SHAPE(4, 2))},
                      .np = 3};
        for (int i = 0; i < 3; i++)
            rc_param_uniform(ctx.p[i], -1, 1, &rng);
        gradcheck_ctx("concat_computed_shared", &ctx);
        rc_params_free(ps);
    }

    /* concat2, literal */
    static const rc_real A[] = {1, 2, 3, 4, 5, 6}; /* [2x3] */
    static const rc_real B[] = {7, 8, 9, 10};      /* [2x2] */
    static const rc_real C[] = {7, 8, 9};          /* [1x3] */
    static const double want1[] = {1, 2, 3, 7, 8, 4, 5, 6, 9, 10};
    static const double want0[] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    rc_graph *g = rc_graph_new();
    rc_node *a = rc_input(g, RC_SHAPE(2, 3), A);
    rc_node *y1 = rc_concat2(g, a, rc_input(g, RC_SHAPE(2, 2), B), 1);
    rc_node *y0 = rc_concat2(g, a, rc_input(g, RC_SHAPE(1, 3), C), 0);
    CHECK(rc_shape_eq(rc_shape_of(y1), RC_SHAPE(2, 5)));
    CHECK(rc_shape_eq(rc_shape_of(y0), RC_SHAPE(3, 3)));
    CHECK_VALUES(y1, want1, 10, 0.0);
    CHECK_VALUES(y0, want0, 9, 0.0);
    CHECK_NO_ERROR(g);
    /* other dims differ */
    CHECK(!rc_ok(rc_concat2(g, a, rc_input(g, RC_SHAPE(2, 2), B), 0)));
    CHECK_ERROR_HAS(g, "concat");
    rc_graph_free(g);

    /* concat2 gradcheck, both axes */
    rc_rng rng;
    rc_rng_seed(&rng, 14);
    rc_params *ps = rc_params_new();
    rc_node *pa = new_param(ps, "a", RC_SHAPE(2, 3));
    rc_node *pb = new_param(ps, "b", RC_SHAPE(2, 2));
    rc_node *pc = new_param(ps, "c", RC_SHAPE(1, 3));
    rc_param_uniform(pa, -1, 1, &rng);
    rc_param_uniform(pb, -1, 1, &rng);
    rc_param_uniform(pc, -1, 1, &rng);
    op_ctx c1 = {.kind = K_CONCAT, .p = {pa, pb}, .np = 2, .axis = 1};
    op_ctx c0 = {.kind = K_CONCAT, .p = {pa, pc}, .np = 2, .axis = 0};
    gradcheck_ctx("concat2_axis1", &c1);
    gradcheck_ctx("concat2_axis0", &c0);
    rc_params_free(ps);
}

/* ---- slice -------------------------------------------------------------------- */

static void run_slice(const char *label, rc_shape s, int axis, int start, int len,
                      uint64_t seed)
{
    rc_rng rng;
    rc_rng_seed(&rng, seed);
    rc_params *ps = rc_params_new();
    rc_node *a = new_param(ps, "a", s);
    rc_param_uniform(a, -1, 1, &rng);
    rc_shape so = s;
    so.d[axis] = len;
    size_t outer = prod(s, 0, axis), inner = prod(s, axis + 1, s.ndim);
    size_t n = rc_shape_size(so), k = 0;
    double *want = malloc(sizeof(double) * n);
    for (size_t o = 0; o < outer; o++)
        for (int i = 0; i < len; i++)
            for (size_t j = 0; j < inner; j++)
                want[k++] = rc_data(a)[(o * s.d[axis] + start + i) * inner + j];
    rc_graph *g = rc_graph_new();
    rc_node *y = rc_slice(g, a, axis, start, len);
    CHECK_NO_ERROR(g);
    CHECK(rc_shape_eq(rc_shape_of(y), so));
    CHECK_VALUES(y, want, n, 0.0);
    rc_graph_free(g);
    op_ctx ctx = {.kind = K_SLICE, .p = {a}, .np = 1, .axis = axis, .start = start, .len = len};
    gradcheck_ctx(label, &ctx);
    free(want);
    rc_params_free(ps);
}

static void test_slice(void)
{
    run_slice("slice_axis0", RC_SHAPE(3, 4, 5), 0, 1, 2, 20);
    run_slice("slice_axis1", RC_SHAPE(3, 4, 5), 1, 1, 2, 21);
    run_slice("slice_axis2", RC_SHAPE(3, 4, 5), 2, 2, 3, 22);
    run_slice("slice_all", RC_SHAPE(3, 4), 1, 0, 4, 23);
    run_slice("slice_2d_gate", RC_SHAPE(2, 4 * 7), 1, 2 * 7, 7, 24);
    run_slice("slice_1d_tail", RC_SHAPE(40), 0, 3, 37, 25);

    /* literal */
    static const rc_real A[] = {1, 2, 3, 4, 5, 6};
    static const double want[] = {2, 3, 5, 6};
    static const double want_row[] = {4, 5, 6};
    rc_graph *g = rc_graph_new();
    rc_node *a = rc_input(g, RC_SHAPE(2, 3), A);
    rc_node *y = rc_slice(g, a, 1, 1, 2);
    rc_node *r = rc_slice(g, a, 0, 1, 1);
    CHECK(rc_shape_eq(rc_shape_of(y), RC_SHAPE(2, 2)));
    CHECK(rc_shape_eq(rc_shape_of(r), RC_SHAPE(1, 3)));
    CHECK_VALUES(y, want, 4, 0.0);
    CHECK_VALUES(r, want_row, 3, 0.0);
    CHECK_NO_ERROR(g);
    /* past the end */
    CHECK(!rc_ok(rc_slice(g, a, 1, 2, 2)));
    CHECK_ERROR_HAS(g, "slice");
    rc_graph_reset(g);
    a = rc_input(g, RC_SHAPE(2, 3), A);
    CHECK(!rc_ok(rc_slice(g, a, 2, 0, 1))); /* no such axis */
    CHECK_ERROR_HAS(g, "slice");
    rc_graph_free(g);

    /* overlapping slices of one tensor accumulate into its gradient */
    rc_rng rng;
    rc_rng_seed(&rng, 26);
    rc_params *ps = rc_params_new();
    rc_node *p = new_param(ps, "a", RC_SHAPE(3, 9));
    rc_param_uniform(p, -1, 1, &rng);
    op_ctx ctx = {.kind = K_SLICES_OVERLAP, .p = {p}, .np = 1, .axis = 1, .start = 3, .len = 5};
    gradcheck_ctx("slices_overlap", &ctx);
    rc_params_free(ps);
}

/* ---- reshape and transpose ---------------------------------------------------- */

static void test_reshape(void)
{
    rc_rng rng;
    rc_rng_seed(&rng, 30);
    rc_params *ps = rc_params_new();
    rc_node *a = new_param(ps, "a", RC_SHAPE(2, 3, 4));
    rc_node *b = new_param(ps, "b", RC_SHAPE(2, 3, 4));
    rc_param_uniform(a, -1, 1, &rng);
    rc_param_uniform(b, -1, 1, &rng);
    double want[24];
    for (int k = 0; k < 24; k++)
        want[k] = rc_data(a)[k];
    const rc_shape to[] = {RC_SHAPE(6, 4), RC_SHAPE(24), RC_SHAPE(4, 3, 2), RC_SHAPE(1, 2, 12, 1)};
    const char *names[] = {"reshape_6x4", "reshape_24", "reshape_4x3x2", "reshape_1x2x12x1"};
    rc_graph *g = rc_graph_new();
    for (int i = 0; i < 4; i++) {
        rc_node *y = rc_reshape(g, a, to[i]);
        CHECK(rc_shape_eq(rc_shape_of(y), to[i]));
        CHECK_VALUES(y, want, 24, 0.0);
        op_ctx ctx = {.kind = K_RESHAPE, .p = {a}, .np = 1, .s = to[i]};
        gradcheck_ctx(names[i], &ctx);
    }
    CHECK_NO_ERROR(g);
    CHECK(!rc_ok(rc_reshape(g, a, RC_SHAPE(5, 5))));
    CHECK_ERROR_HAS(g, "reshape");
    rc_graph_free(g);
    op_ctx chain = {.kind = K_RESHAPE_CHAIN, .p = {a, b}, .np = 2, .s = RC_SHAPE(4, 6)};
    gradcheck_ctx("reshape_of_product", &chain);
    rc_params_free(ps);
}

static void run_transpose(const char *label, rc_shape s, uint64_t seed)
{
    rc_rng rng;
    rc_rng_seed(&rng, seed);
    rc_params *ps = rc_params_new();
    rc_node *a = new_param(ps, "a", s);
    rc_param_uniform(a, -1, 1, &rng);
    int M = s.d[s.ndim - 2], N = s.d[s.ndim - 1];
    size_t batch = prod(s, 0, s.ndim - 2), n = rc_shape_size(s);
    rc_shape so = s;
    so.d[s.ndim - 2] = N;
    so.d[s.ndim - 1] = M;
    double *want = malloc(sizeof(double) * n);
    for (size_t t = 0; t < batch; t++)
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++)
                want[t * M * N + (size_t)j * M + i] = rc_data(a)[t * M * N + (size_t)i * N + j];
    rc_graph *g = rc_graph_new();
    rc_node *y = rc_transpose(g, a);
    CHECK_NO_ERROR(g);
    CHECK(rc_shape_eq(rc_shape_of(y), so));
    CHECK_VALUES(y, want, n, 0.0);
    rc_graph_free(g);
    if (n <= 64) {
        op_ctx ctx = {.kind = K_TRANSPOSE, .p = {a}, .np = 1};
        gradcheck_ctx(label, &ctx);
    }
    free(want);
    rc_params_free(ps);
}

static void test_transpose(void)
{
    static const rc_real A[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}; /* [3x4] */
    static const double want[] = {0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11};
    rc_graph *g = rc_graph_new();
    rc_node *y = rc_transpose(g, rc_input(g, RC_SHAPE(3, 4), A));
    CHECK(rc_shape_eq(rc_shape_of(y), RC_SHAPE(4, 3)));
    CHECK_VALUES(y, want, 12, 0.0);
    CHECK_NO_ERROR(g);
    CHECK(!rc_ok(rc_transpose(g, rc_input(g, RC_SHAPE(12), A)))); /* needs 2 dims */
    CHECK_ERROR_HAS(g, "transpose");
    rc_graph_free(g);

    run_transpose("transpose_3x4", RC_SHAPE(3, 4), 40);
    run_transpose("transpose_2x3x4", RC_SHAPE(2, 3, 4), 41);
    run_transpose("transpose_2x2x3x2", RC_SHAPE(2, 2, 3, 2), 42);
    run_transpose("transpose_1x37", RC_SHAPE(1, 37), 43);
    run_transpose("transpose_19x21", RC_SHAPE(19, 21), 44); /* values only */
    run_transpose("transpose_3x33x17", RC_SHAPE(3, 33, 17), 45);
}

/* ---- sum, mean, sum_axis ------------------------------------------------------ */

static void test_sum_mean(void)
{
    static const rc_real A[] = {1, 2, 3, 4, 5, 6};
    rc_graph *g = rc_graph_new();
    rc_node *a = rc_input(g, RC_SHAPE(2, 3), A);
    rc_node *s = rc_sum(g, a), *m = rc_mean(g, a);
    CHECK(rc_size(s) == 1 && rc_size(m) == 1);
    CHECK_NEAR(rc_item(s), 21, VALUE_TOL);
    CHECK_NEAR(rc_item(m), 3.5, VALUE_TOL);

    /* lengths with vector tails, and one long enough for several blocks */
    const size_t lens[] = {37, 185, 1001};
    rc_real *x = malloc(sizeof(rc_real) * 1001);
    for (size_t k = 0; k < 1001; k++)
        x[k] = (rc_real)sin(0.37 * k + 0.1);
    for (int i = 0; i < 3; i++) {
        double want = 0;
        for (size_t k = 0; k < lens[i]; k++)
            want += x[k];
        rc_node *xi = rc_input(g, RC_SHAPE((int)lens[i]), x);
        CHECK_NEAR(rc_item(rc_sum(g, xi)), want, VALUE_TOL);
        CHECK_NEAR(rc_item(rc_mean(g, xi)), want / lens[i], VALUE_TOL);
    }
    free(x);
    CHECK_NO_ERROR(g);
    rc_graph_free(g);

    const rc_shape shapes[] = {RC_SHAPE(3, 5), RC_SHAPE(37), RC_SHAPE(2, 3, 7)};
    const char *sn[] = {"3x5", "37", "2x3x7"};
    for (int i = 0; i < 3; i++) {
        rc_rng rng;
        rc_rng_seed(&rng, 50 + i);
        rc_params *ps = rc_params_new();
        rc_node *p = new_param(ps, "a", shapes[i]);
        rc_param_uniform(p, -1, 1, &rng);
        char label[64];
        op_ctx cs = {.kind = K_SUM, .p = {p}, .np = 1};
        op_ctx cm = {.kind = K_MEAN, .p = {p}, .np = 1};
        snprintf(label, sizeof label, "sum_%s", sn[i]);
        gradcheck_ctx(label, &cs);
        snprintf(label, sizeof label, "mean_%s", sn[i]);
        gradcheck_ctx(label, &cm);
        rc_params_free(ps);
    }
}

static void run_sum_axis(const char *label, rc_shape s, int axis, uint64_t seed)
{
    rc_rng rng;
    rc_rng_seed(&rng, seed);
    rc_params *ps = rc_params_new();
    rc_node *a = new_param(ps, "a", s);
    rc_param_uniform(a, -1, 1, &rng);
    rc_shape so = {s.ndim - 1, {0}};
    for (int d = 0, e = 0; d < s.ndim; d++)
        if (d != axis)
            so.d[e++] = s.d[d];
    size_t outer = prod(s, 0, axis), inner = prod(s, axis + 1, s.ndim);
    size_t n = outer * inner;
    double *want = calloc(n, sizeof(double));
    for (size_t o = 0; o < outer; o++)
        for (int i = 0; i < s.d[axis]; i++)
            for (size_t j = 0; j < inner; j++)
                want[o * inner + j] += rc_data(a)[(o * s.d[axis] + i) * inner + j];
    rc_graph *g = rc_graph_new();
    rc_node *y = rc_sum_axis(g, a, axis);
    CHECK_NO_ERROR(g);
    CHECK(rc_shape_eq(rc_shape_of(y), so));
    CHECK_VALUES(y, want, n, VALUE_TOL);
    rc_graph_free(g);
    op_ctx ctx = {.kind = K_SUM_AXIS, .p = {a}, .np = 1, .axis = axis};
    gradcheck_ctx(label, &ctx);
    free(want);
    rc_params_free(ps);
}

static void test_sum_axis(void)
{
    /* literal: [[1,2,3],[4,5,6]] */
    static const rc_real A[] = {1, 2, 3, 4, 5, 6};
    static const double want0[] = {5, 7, 9}, want1[] = {6, 15};
    rc_graph *g = rc_graph_new();
    rc_node *a = rc_input(g, RC_SHAPE(2, 3), A);
    rc_node *s0 = rc_sum_axis(g, a, 0), *s1 = rc_sum_axis(g, a, 1);
    CHECK(rc_shape_eq(rc_shape_of(s0), RC_SHAPE(3)));
    CHECK(rc_shape_eq(rc_shape_of(s1), RC_SHAPE(2)));
    CHECK_VALUES(s0, want0, 3, VALUE_TOL);
    CHECK_VALUES(s1, want1, 2, VALUE_TOL);
    CHECK_NO_ERROR(g);
    CHECK(!rc_ok(rc_sum_axis(g, a, 2)));
    CHECK_ERROR_HAS(g, "sum_axis");
    rc_graph_free(g);

    run_sum_axis("sum_axis0_2x3x4", RC_SHAPE(2, 3, 4), 0, 60);
    run_sum_axis("sum_axis1_2x3x4", RC_SHAPE(2, 3, 4), 1, 61);
    run_sum_axis("sum_axis2_2x3x4", RC_SHAPE(2, 3, 4), 2, 62);
    run_sum_axis("sum_axis0_3x37", RC_SHAPE(3, 37), 0, 63);
    run_sum_axis("sum_axis1_3x37", RC_SHAPE(3, 37), 1, 64);
    run_sum_axis("sum_axis1_2x2x3x2", RC_SHAPE(2, 2, 3, 2), 1, 65);
    run_sum_axis("sum_axis0_5", RC_SHAPE(5), 0, 66);
}

int main(void)
{
    init_weights();
    test_embedding();
    test_concat();
    test_slice();
    test_reshape();
    test_transpose();
    test_sum_mean();
    test_sum_axis();
    return check_finish("ops_shape");
}
