/* tests/test_ops_elementwise.c - add/sub/mul/div with broadcasting (row,
 * column, scalar, 3-D, on either side), affine/scale, the pointwise
 * functions against libm, where with a broadcast mask, and dropout. Lengths
 * such as 19, 21 and 37 run the vector kernels' tail paths. */
#include <stdint.h>

#include "check.h"
#include "op_check.h"
#include "recur/ops.h"

/* |v| uniform in [lo, hi) with a random sign: keeps kinks and poles away. */
static void fill_away(rc_node *p, double lo, double hi, rc_rng *rng)
{
    rc_real *d = rc_data(p);
    for (size_t i = 0; i < rc_size(p); i++) {
        double m = lo + (hi - lo) * rc_rng_uniform(rng);
        d[i] = (rc_real)(rc_rng_uniform(rng) < 0.5 ? -m : m);
    }
}

/* Pointwise functions: SLEEF is within 1 ulp (3.5 for tanh), so compare
 * relatively (VALUE_TOL in double, 1e-6 in float). */
#if RC_REAL_IS_DOUBLE
#define FN_TOL VALUE_TOL
#else
#define FN_TOL 1e-6
#endif

static void check_rel_(const char *file, int line, const char *label, rc_node *n,
                       const double *want, size_t count, double tol)
{
    const rc_real *got = rc_data(n);
    check_total_++;
    if (!got || rc_size(n) != count) {
        check_failed_++;
        fprintf(stderr, "%s:%d: %s has %zu values, want %zu\n", file, line, label,
                got ? rc_size(n) : 0, count);
        return;
    }
    for (size_t k = 0; k < count; k++)
        if (!(fabs((double)got[k] - want[k]) <= tol * fabs(want[k]))) {
            check_failed_++;
            fprintf(stderr, "%s:%d: %s[%zu] = %.10g, want %.10g (rel err %.3g)\n", file,
                    line, label, k, (double)got[k], want[k],
                    fabs((double)got[k] - want[k]) / fabs(want[k]));
            return;
        }
}
#define CHECK_REL(label, n, want, count, tol) \
    check_rel_(__FILE__, __LINE__, (label), (n), (want), (count), (tol))

/* ---- broadcasting reference --------------------------------------------- */

static rc_shape bcast(rc_shape a, rc_shape b)
{
    rc_shape o = {a.ndim > b.ndim ? a.ndim : b.ndim, {0}};
    for (int d = 0; d < o.ndim; d++) {
        int ia = d - (o.ndim - a.ndim), ib = d - (o.ndim - b.ndim);
        int da = ia >= 0 ? a.d[ia] : 1, db = ib >= 0 ? b.d[ib] : 1;
        o.d[d] = da > db ? da : db;
    }
    return o;
}

/* Flat index into an operand of shape in for flat index k of out. */
static size_t bidx(size_t k, rc_shape out, rc_shape in)
{
    size_t idx = 0, stride = 1;
    for (int d = out.ndim - 1, e = in.ndim - 1; d >= 0; d--, e--) {
        size_t c = k % (size_t)out.d[d];
        k /= (size_t)out.d[d];
        if (e >= 0) {
            if (in.d[e] != 1)
                idx += c * stride;
            stride *= (size_t)in.d[e];
        }
    }
    return idx;
}

enum { ADD, SUB, MUL, DIV };
static const char *bin_names[] = {"add", "sub", "mul", "div"};

static rc_node *apply_bin(rc_graph *g, int op, rc_node *a, rc_node *b)
{
    switch (op) {
    case ADD: return rc_add(g, a, b);
    case SUB: return rc_sub(g, a, b);
    case MUL: return rc_mul(g, a, b);
    default: return rc_div(g, a, b);
    }
}

static double ref_bin(int op, double x, double y)
{
    switch (op) {
    case ADD: return x + y;
    case SUB: return x - y;
    case MUL: return x * y;
    default: return x / y;
    }
}

/* ---- binary ops: literal values --------------------------------------------- */

static void test_binary_literal(void)
{
    static const rc_real A[] = {1, 2, 3, 4, 5, 6}; /* [2x3] */
    static const rc_real R[] = {10, 20, 30};       /* [3] */
    static const rc_real C[] = {2, 4};             /* [2x1] */
    static const rc_real S[] = {2};                /* scalar */
    static const double want_row[4][6] = {
        {11, 22, 33, 14, 25, 36},
        {-9, -18, -27, -6, -15, -24},
        {10, 40, 90, 40, 100, 180},
        {0.1, 0.1, 0.1, 0.4, 0.25, 0.2},
    };
    static const double want_col[4][6] = {
        {3, 4, 5, 8, 9, 10},
        {-1, 0, 1, 0, 1, 2},
        {2, 4, 6, 16, 20, 24},
        {0.5, 1, 1.5, 1, 1.25, 1.5},
    };
    static const double want_scalar[4][6] = {
        {3, 4, 5, 6, 7, 8},
        {-1, 0, 1, 2, 3, 4},
        {2, 4, 6, 8, 10, 12},
        {0.5, 1, 1.5, 2, 2.5, 3},
    };
    /* broadcasting on the left: [3] op [2x3], [2x1] op [2x3], scalar op [2x3] */
    static const double want_lrow[4][6] = {
        {11, 22, 33, 14, 25, 36},
        {9, 18, 27, 6, 15, 24},
        {10, 40, 90, 40, 100, 180},
        {10, 10, 10, 2.5, 4, 5},
    };
    static const double want_lcol[4][6] = {
        {3, 4, 5, 8, 9, 10},
        {1, 0, -1, 0, -1, -2},
        {2, 4, 6, 16, 20, 24},
        {2, 1, 2.0 / 3, 1, 0.8, 4.0 / 6},
    };
    static const double want_lscalar[4][6] = {
        {3, 4, 5, 6, 7, 8},
        {1, 0, -1, -2, -3, -4},
        {2, 4, 6, 8, 10, 12},
        {2, 1, 2.0 / 3, 0.5, 0.4, 1.0 / 3},
    };
    rc_graph *g = rc_graph_new();
    rc_node *a = rc_input(g, RC_SHAPE(2, 3), A);
    rc_node *r = rc_input(g, RC_SHAPE(3), R);
    rc_node *c = rc_input(g, RC_SHAPE(2, 1), C);
    rc_node *s = rc_input(g, RC_SCALAR, S);
    for (int op = 0; op < 4; op++) {
        rc_node *y[6] = {apply_bin(g, op, a, r), apply_bin(g, op, a, c),
                         apply_bin(g, op, a, s), apply_bin(g, op, r, a),
                         apply_bin(g, op, c, a), apply_bin(g, op, s, a)};
        const double *want[6] = {want_row[op],  want_col[op],  want_scalar[op],
                                 want_lrow[op], want_lcol[op], want_lscalar[op]};
        for (int k = 0; k < 6; k++) {
            CHECK(rc_shape_eq(rc_shape_of(y[k]), RC_SHAPE(2, 3)));
            CHECK_VALUES(y[k], want[k], 6, VALUE_TOL);
        }
    }
    CHECK_NO_ERROR(g);
    rc_graph_free(g);
}

/* ---- binary ops: every broadcasting case, forward + gradcheck -------------- */

typedef struct {
    rc_node *a, *b;
    int op;
} bin_ctx;

static rc_node *build_bin(rc_graph *g, void *vctx)
{
    bin_ctx *c = vctx;
    return wsum(g, apply_bin(g, c->op, c->a, c->b));
}

static void run_bin(const char *name, rc_shape sa, rc_shape sb, int op, uint64_t seed)
{
    char label[96];
    snprintf(label, sizeof label, "%s_%s", bin_names[op], name);
    rc_rng rng;
    rc_rng_seed(&rng, seed);
    rc_params *ps = rc_params_new();
    rc_node *a = new_param(ps, "a", sa);
    rc_node *b = new_param(ps, "b", sb);
    rc_param_uniform(a, -1, 1, &rng);
    if (op == DIV)
        fill_away(b, 0.5, 1.5, &rng);
    else
        rc_param_uniform(b, -1, 1, &rng);

    rc_shape so = bcast(sa, sb);
    size_t n = rc_shape_size(so);
    double *want = malloc(sizeof(double) * n);
    for (size_t k = 0; k < n; k++)
        want[k] = ref_bin(op, rc_data(a)[bidx(k, so, sa)], rc_data(b)[bidx(k, so, sb)]);

    rc_graph *g = rc_graph_new();
    rc_node *y = apply_bin(g, op, a, b);
    CHECK_NO_ERROR(g);
    CHECK(rc_shape_eq(rc_shape_of(y), so));
    CHECK_VALUES(y, want, n, VALUE_TOL);
    if (rc_graph_error(g) || !rc_shape_eq(rc_shape_of(y), so))
        fprintf(stderr, "  (case %s)\n", label);

    rc_graph_reset(g);
    bin_ctx ctx = {a, b, op};
    rc_node *params[] = {a, b};
    CHECK_GRAD(label, g, build_bin, &ctx, params, 2);
    free(want);
    rc_graph_free(g);
    rc_params_free(ps);
}

static void test_binary_cases(void)
{
    const struct {
        const char *name;
        rc_shape a, b;
    } cases[] = {
        {"same", RC_SHAPE(3, 4), RC_SHAPE(3, 4)},
        {"same_37", RC_SHAPE(37), RC_SHAPE(37)},
        {"row", RC_SHAPE(3, 5), RC_SHAPE(5)},
        {"row_19", RC_SHAPE(2, 19), RC_SHAPE(19)},
        {"col", RC_SHAPE(3, 5), RC_SHAPE(3, 1)},
        {"col_21", RC_SHAPE(2, 21), RC_SHAPE(2, 1)},
        {"scalar", RC_SHAPE(3, 5), RC_SCALAR},
        {"one_by_one", RC_SHAPE(3, 5), RC_SHAPE(1, 1)},
        {"left_row", RC_SHAPE(5), RC_SHAPE(3, 5)},
        {"left_row_19", RC_SHAPE(19), RC_SHAPE(2, 19)},
        {"left_col", RC_SHAPE(3, 1), RC_SHAPE(3, 5)},
        {"left_scalar", RC_SCALAR, RC_SHAPE(3, 5)},
        {"3d_mid", RC_SHAPE(2, 3, 4), RC_SHAPE(2, 1, 4)},
        {"3d_trailing", RC_SHAPE(2, 3, 4), RC_SHAPE(3, 4)},
        {"3d_row", RC_SHAPE(2, 3, 4), RC_SHAPE(4)},
        {"3d_left_col", RC_SHAPE(2, 3, 1), RC_SHAPE(2, 3, 4)},
        {"outer", RC_SHAPE(3, 1), RC_SHAPE(1, 4)},
    };
    for (int op = 0; op < 4; op++)
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
            run_bin(cases[i].name, cases[i].a, cases[i].b, op, 1000 + 100 * op + i);
}

static void test_binary_errors(void)
{
    rc_graph *g = rc_graph_new();
    rc_node *y = rc_add(g, rc_fill(g, RC_SHAPE(2, 3), 1), rc_fill(g, RC_SHAPE(2, 4), 1));
    CHECK(!rc_ok(y));
    CHECK_ERROR_HAS(g, "add");
    rc_graph_reset(g);
    y = rc_mul(g, rc_fill(g, RC_SHAPE(3, 5), 1), rc_fill(g, RC_SHAPE(3), 1));
    CHECK(!rc_ok(y));
    CHECK_ERROR_HAS(g, "mul");
    rc_graph_free(g);
}

/* ---- affine / scale -------------------------------------------------------- */

enum { U_SIGMOID, U_TANH, U_RELU, U_EXP, U_LOG, U_AFFINE, U_SCALE };
static const char *un_names[] = {"sigmoid", "tanh", "relu", "exp", "log", "affine", "scale"};

static rc_node *apply_un(rc_graph *g, int op, rc_node *a)
{
    switch (op) {
    case U_SIGMOID: return rc_sigmoid(g, a);
    case U_TANH: return rc_tanh(g, a);
    case U_RELU: return rc_relu(g, a);
    case U_EXP: return rc_exp(g, a);
    case U_LOG: return rc_log(g, a);
    case U_AFFINE: return rc_affine(g, a, -1.5, 0.25);
    default: return rc_scale(g, a, 3.0);
    }
}

static double ref_un(int op, double x)
{
    switch (op) {
    case U_SIGMOID: return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x));
    case U_TANH: return tanh(x);
    case U_RELU: return x > 0 ? x : 0;
    case U_EXP: return exp(x);
    case U_LOG: return log(x);
    case U_AFFINE: return -1.5 * x + 0.25;
    default: return 3.0 * x;
    }
}

static void test_affine_literal(void)
{
    static const rc_real A[] = {1, 2, 3, 4, 5, 6};
    static const double want_affine[] = {1, 3, 5, 7, 9, 11};
    static const double want_scale[] = {-0.5, -1, -1.5, -2, -2.5, -3};
    static const double want_shift[] = {1.25, 2.25, 3.25, 4.25, 5.25, 6.25};
    rc_graph *g = rc_graph_new();
    rc_node *a = rc_input(g, RC_SHAPE(2, 3), A);
    rc_node *y1 = rc_affine(g, a, 2.0, -1.0);
    rc_node *y2 = rc_scale(g, a, -0.5);
    rc_node *y3 = rc_affine(g, a, 1.0, 0.25);
    CHECK(rc_shape_eq(rc_shape_of(y1), RC_SHAPE(2, 3)));
    CHECK_VALUES(y1, want_affine, 6, VALUE_TOL);
    CHECK_VALUES(y2, want_scale, 6, VALUE_TOL);
    CHECK_VALUES(y3, want_shift, 6, VALUE_TOL);
    CHECK_NO_ERROR(g);
    rc_graph_free(g);
}

/* ---- pointwise functions: forward vs libm, gradcheck ----------------------- */

static void test_unary_forward(void)
{
    enum { N = 5 * 37 };
    rc_real x[N], xpos[N];
    for (int k = 0; k < N; k++) {
        x[k] = (rc_real)(3.0 * sin(1.3 * k + 0.4));              /* [-3, 3] */
        xpos[k] = (rc_real)(0.05 + 4.0 * (0.5 + 0.5 * sin(0.7 * k + 1.1))); /* (0, 4] */
    }
    double want[N];
    rc_graph *g = rc_graph_new();
    for (int op = U_SIGMOID; op <= U_SCALE; op++) {
        const rc_real *in = op == U_LOG ? xpos : x;
        /* [5x37] and [37]: both end in a partial vector */
        rc_node *y = apply_un(g, op, rc_input(g, RC_SHAPE(5, 37), in));
        rc_node *y37 = apply_un(g, op, rc_input(g, RC_SHAPE(37), in));
        for (int k = 0; k < N; k++)
            want[k] = ref_un(op, in[k]);
        CHECK(rc_shape_eq(rc_shape_of(y), RC_SHAPE(5, 37)));
        if (op == U_RELU || op >= U_AFFINE) {
            CHECK_VALUES(y, want, N, VALUE_TOL);
            CHECK_VALUES(y37, want, 37, VALUE_TOL);
        } else {
            CHECK_REL(un_names[op], y, want, N, FN_TOL);
            CHECK_REL(un_names[op], y37, want, 37, FN_TOL);
        }
    }
    /* saturated regions stay finite and accurate */
    static const rc_real big[] = {-15, -8, 8, 15, -10, 10, 20};
    double wbig[7];
    rc_node *sig = rc_sigmoid(g, rc_input(g, RC_SHAPE(7), big));
    rc_node *th = rc_tanh(g, rc_input(g, RC_SHAPE(7), big));
    rc_node *ex = rc_exp(g, rc_input(g, RC_SHAPE(7), big));
    for (int k = 0; k < 7; k++)
        wbig[k] = ref_un(U_SIGMOID, big[k]);
    CHECK_REL("sigmoid_saturated", sig, wbig, 7, FN_TOL);
    for (int k = 0; k < 7; k++)
        wbig[k] = tanh(big[k]);
    CHECK_REL("tanh_saturated", th, wbig, 7, FN_TOL);
    for (int k = 0; k < 7; k++)
        wbig[k] = exp(big[k]);
    CHECK_REL("exp_wide", ex, wbig, 7, FN_TOL);
    CHECK_NO_ERROR(g);
    rc_graph_free(g);
}

/* tanh, sigmoid and exp over 2^20 points each against libm in double: the
 * worst relative error, the range, and the special values. In
 * float these are recur's own functions (ops/isa.h) unless built with
 * -Dsleef_math=true; the bounds fit both. */
static void check_sweep(rc_graph *g, int op, double lo, double hi, double tol)
{
    enum { N = 1 << 20 };
    rc_real *x = malloc(N * sizeof *x);
    for (int k = 0; k < N; k++)
        x[k] = (rc_real)(lo + (hi - lo) * k / (N - 1));
    rc_node *y = apply_un(g, op, rc_input(g, RC_SHAPE(N), x));
    const rc_real *v = rc_data(y);
    double worst = 0, at = 0;
    bool in_range = true;
    for (int k = 0; v && k < N; k++) {
        const double want = ref_un(op, x[k]), err = fabs((double)v[k] - want) / want;
        if (!(fabs(err) <= worst))
            worst = fabs(err), at = x[k];
        in_range &= op == U_EXP || (v[k] <= 1 && v[k] >= (op == U_TANH ? -1 : 0));
    }
    if (!(v && worst <= tol && in_range)) {
        check_failed_++;
        fprintf(stderr, "%s:%d: %s over [%g, %g]: worst relative error %.3g at %.9g (bound %.3g)%s\n",
                __FILE__, __LINE__, un_names[op], lo, hi, worst, at, tol,
                in_range ? "" : ", out of range");
    }
    check_total_++;
    free(x);
}

static void test_unary_sweep(void)
{
    rc_graph *g = rc_graph_new();
    check_sweep(g, U_TANH, -20, 20, RC_REAL_IS_DOUBLE ? 1e-15 : 3e-7);
    check_sweep(g, U_SIGMOID, -80, 40, RC_REAL_IS_DOUBLE ? 1e-15 : 3e-7);
    check_sweep(g, U_EXP, -87, 88, RC_REAL_IS_DOUBLE ? 1e-15 : 2e-7);
    rc_graph_set_check_finite(g, false); /* let NaN and inf in */
    const rc_real inf = (rc_real)INFINITY;
    const rc_real sx[] = {(rc_real)NAN, inf, -inf, 0, -0.0f, (rc_real)1e-30, 1000, -1000};
    rc_node *in = rc_input(g, RC_SHAPE(8), sx);
    const rc_real *th = rc_data(rc_tanh(g, in)), *sg = rc_data(rc_sigmoid(g, in)),
                  *ex = rc_data(rc_exp(g, in));
    CHECK(th && sg && ex);
    if (th && sg && ex) {
        CHECK(isnan(th[0]) && isnan(sg[0]) && isnan(ex[0]));
        CHECK(th[1] == 1 && th[2] == -1 && th[6] == 1 && th[7] == -1);
        CHECK(th[3] == 0 && !signbit(th[3]) && th[4] == 0 && signbit(th[4]));
        CHECK(th[5] == sx[5]); /* tanh(x) = x to the last bit for tiny x */
        CHECK(sg[1] == 1 && sg[2] == 0 && sg[3] == 0.5f && sg[6] == 1 && sg[7] == 0);
        CHECK(ex[1] == inf && ex[2] == 0 && ex[3] == 1 && ex[7] == 0);
    }
    rc_graph_free(g);
}

typedef struct {
    rc_node *a;
    int op;
} un_ctx;

static rc_node *build_un(rc_graph *g, void *vctx)
{
    un_ctx *c = vctx;
    return wsum(g, apply_un(g, c->op, c->a));
}

static void test_unary_grad(void)
{
    const rc_shape shapes[] = {RC_SHAPE(37), RC_SHAPE(2, 3, 5)};
    for (int op = U_SIGMOID; op <= U_SCALE; op++)
        for (int si = 0; si < 2; si++) {
            rc_rng rng;
            rc_rng_seed(&rng, 2000 + 10 * op + si);
            rc_params *ps = rc_params_new();
            rc_node *a = new_param(ps, "a", shapes[si]);
            if (op == U_LOG)
                rc_param_uniform(a, 0.5, 2.0, &rng);
            else if (op == U_RELU)
                fill_away(a, 0.1, 1.5, &rng);
            else
                rc_param_uniform(a, -1.5, 1.5, &rng);
            rc_graph *g = rc_graph_new();
            char label[64];
            snprintf(label, sizeof label, "%s_%s", un_names[op], si ? "2x3x5" : "37");
            un_ctx ctx = {a, op};
            rc_node *params[] = {a};
            CHECK_GRAD(label, g, build_un, &ctx, params, 1);
            rc_graph_free(g);
            rc_params_free(ps);
        }
}

/* relu passes exactly 0 gradient where the input is negative */
static void test_relu_backward(void)
{
    rc_params *ps = rc_params_new();
    rc_node *a = new_param(ps, "a", RC_SHAPE(37));
    for (int k = 0; k < 37; k++)
        rc_data(a)[k] = (rc_real)((k % 3 == 0 ? -1.0 : 1.0) * (0.5 + k));
    rc_graph *g = rc_graph_new();
    rc_params_zero_grad(ps);
    CHECK(rc_backward(g, rc_sum(g, rc_relu(g, a))) == 0);
    CHECK_NO_ERROR(g);
    const rc_real *ga = rc_grad(a);
    CHECK(ga != NULL);
    if (ga) {
        int bad = 0;
        for (int k = 0; k < 37; k++)
            bad += ga[k] != (k % 3 == 0 ? 0 : 1);
        CHECK(bad == 0);
    }
    rc_graph_free(g);
    rc_params_free(ps);
}

/* ---- where ------------------------------------------------------------------ */

typedef struct {
    rc_node *a, *b;
    const rc_real *mask;
    rc_shape mask_shape;
} where_ctx;

static rc_node *build_where(rc_graph *g, void *vctx)
{
    where_ctx *c = vctx;
    rc_node *m = rc_input(g, c->mask_shape, c->mask);
    return wsum(g, rc_where(g, m, c->a, c->b));
}

static void run_where(const char *name, rc_shape s, rc_shape ms, const rc_real *mask,
                      uint64_t seed)
{
    rc_rng rng;
    rc_rng_seed(&rng, seed);
    rc_params *ps = rc_params_new();
    rc_node *a = new_param(ps, "a", s);
    rc_node *b = new_param(ps, "b", s);
    rc_param_uniform(a, -1, 1, &rng);
    rc_param_uniform(b, -1, 1, &rng);
    size_t n = rc_shape_size(s);
    double *want = malloc(sizeof(double) * n);
    for (size_t k = 0; k < n; k++)
        want[k] = mask[bidx(k, s, ms)] != 0 ? rc_data(a)[k] : rc_data(b)[k];

    rc_graph *g = rc_graph_new();
    rc_node *y = rc_where(g, rc_input(g, ms, mask), a, b);
    CHECK_NO_ERROR(g);
    CHECK(rc_shape_eq(rc_shape_of(y), s));
    CHECK_VALUES(y, want, n, 0.0); /* a selection: exact */

    rc_graph_reset(g);
    char label[64];
    snprintf(label, sizeof label, "where_%s", name);
    where_ctx ctx = {a, b, mask, ms};
    rc_node *params[] = {a, b};
    CHECK_GRAD(label, g, build_where, &ctx, params, 2);
    free(want);
    rc_graph_free(g);
    rc_params_free(ps);
}

static void test_where(void)
{
    static const rc_real col3[] = {1, 0, 1};
    static const rc_real col2[] = {0, 1};
    static const rc_real full[] = {0, 1, 0.5, -3, 0, 0, 1, 1, 2, 0, -1, 0}; /* != 0 is true */
    static const rc_real row[] = {1, 0, 0, 1};
    run_where("col", RC_SHAPE(3, 4), RC_SHAPE(3, 1), col3, 3000);
    run_where("col_19", RC_SHAPE(2, 19), RC_SHAPE(2, 1), col2, 3001);
    run_where("full", RC_SHAPE(3, 4), RC_SHAPE(3, 4), full, 3002);
    run_where("row", RC_SHAPE(3, 4), RC_SHAPE(4), row, 3003);
    run_where("3d_col", RC_SHAPE(2, 3, 4), RC_SHAPE(2, 3, 1),
              (const rc_real[]){1, 0, 0, 1, 1, 0}, 3004);

    /* literal: rows 0 and 2 from a, row 1 from b */
    static const rc_real A[] = {1, 2, 3, 4, 5, 6};
    static const rc_real B[] = {-1, -2, -3, -4, -5, -6};
    static const double want[] = {1, 2, -3, -4, 5, 6};
    rc_graph *g = rc_graph_new();
    rc_node *y = rc_where(g, rc_input(g, RC_SHAPE(3, 1), col3), rc_input(g, RC_SHAPE(3, 2), A),
                          rc_input(g, RC_SHAPE(3, 2), B));
    CHECK_VALUES(y, want, 6, 0.0);
    CHECK_NO_ERROR(g);
    /* a and b of different shapes */
    y = rc_where(g, rc_input(g, RC_SHAPE(3, 1), col3), rc_input(g, RC_SHAPE(3, 2), A),
                 rc_input(g, RC_SHAPE(2, 3), B));
    CHECK(!rc_ok(y));
    CHECK_ERROR_HAS(g, "where");
    rc_graph_free(g);
}

/* ---- dropout ------------------------------------------------------------------ */

static rc_node *build_dropout(rc_graph *g, void *vctx)
{
    rc_node *a = vctx;
    return wsum(g, rc_dropout(g, a, 0.5));
}

static void test_dropout(void)
{
    enum { N = 10007 };
    rc_real *x = malloc(sizeof(rc_real) * N);
    for (int k = 0; k < N; k++)
        x[k] = (rc_real)((k % 2 ? -1 : 1) * (0.25 + (k % 97) / 50.0));
    rc_graph *g = rc_graph_new();

    /* eval mode and p == 0: the same node */
    rc_node *in = rc_input(g, RC_SHAPE(N), x);
    rc_graph_set_training(g, false);
    CHECK(!rc_graph_training(g));
    CHECK(rc_dropout(g, in, 0.5) == in);
    rc_graph_set_training(g, true);
    CHECK(rc_graph_training(g));
    CHECK(rc_dropout(g, in, 0.0) == in);

    /* training, p = 0.5: about half zero, the rest 2x */
    const double ps_[] = {0.5, 0.2};
    for (int pi = 0; pi < 2; pi++) {
        double p = ps_[pi];
        rc_graph_seed(g, 7 + pi);
        rc_node *d = rc_dropout(g, in, p);
        CHECK(d != in);
        CHECK(rc_shape_eq(rc_shape_of(d), RC_SHAPE(N)));
        const rc_real *y = rc_data(d);
        if (!y) {
            CHECK(y != NULL);
            continue;
        }
        int zeros = 0, bad = 0;
        for (int k = 0; k < N; k++) {
            if (y[k] == 0)
                zeros++;
            else if (!(fabs(y[k] - x[k] / (1 - p)) <= VALUE_TOL * fabs(x[k] / (1 - p))))
                bad++;
        }
        double frac = (double)zeros / N;
        if (fabs(frac - p) > 0.03)
            fprintf(stderr, "dropout p=%g: %.4f of the elements are zero\n", p, frac);
        CHECK(fabs(frac - p) <= 0.03); /* 6 standard deviations at N = 10007 */
        CHECK(bad == 0);
    }

    /* the same seed gives the same mask, another seed another one */
    rc_graph_seed(g, 99);
    rc_node *d1 = rc_dropout(g, in, 0.5);
    rc_graph_seed(g, 99);
    rc_node *d2 = rc_dropout(g, in, 0.5);
    rc_graph_seed(g, 100);
    rc_node *d3 = rc_dropout(g, in, 0.5);
    if (rc_data(d1) && rc_data(d2) && rc_data(d3)) {
        CHECK(memcmp(rc_data(d1), rc_data(d2), sizeof(rc_real) * N) == 0);
        CHECK(memcmp(rc_data(d1), rc_data(d3), sizeof(rc_real) * N) != 0);
    } else {
        CHECK(false);
    }
    CHECK_NO_ERROR(g);

    /* p outside [0, 1) is an error */
    rc_graph_reset(g);
    CHECK(!rc_ok(rc_dropout(g, rc_input(g, RC_SHAPE(N), x), 1.0)));
    CHECK_ERROR_HAS(g, "dropout");
    rc_graph_reset(g);
    CHECK(!rc_ok(rc_dropout(g, rc_input(g, RC_SHAPE(N), x), -0.1)));
    CHECK_ERROR_HAS(g, "dropout");
    rc_graph_free(g);
    free(x);

    /* backward: 2 where kept, exactly 0 where dropped */
    rc_params *ps = rc_params_new();
    rc_node *a = new_param(ps, "a", RC_SHAPE(1001));
    rc_rng rng;
    rc_rng_seed(&rng, 4000);
    fill_away(a, 0.1, 1, &rng);
    g = rc_graph_new();
    rc_graph_seed(g, 5);
    rc_params_zero_grad(ps);
    rc_node *d = rc_dropout(g, a, 0.5);
    CHECK(rc_backward(g, rc_sum(g, d)) == 0);
    CHECK_NO_ERROR(g);
    if (rc_data(d) && rc_grad(a)) {
        int bad = 0;
        for (int k = 0; k < 1001; k++)
            bad += rc_grad(a)[k] != (rc_data(d)[k] == 0 ? 0 : 2);
        CHECK(bad == 0);
    } else {
        CHECK(false);
    }
    rc_graph_free(g);
    rc_params_free(ps);

    /* gradcheck: rc_gradcheck re-seeds the generator before every build */
    const rc_shape shapes[] = {RC_SHAPE(37), RC_SHAPE(3, 13)};
    for (int si = 0; si < 2; si++) {
        ps = rc_params_new();
        a = new_param(ps, "a", shapes[si]);
        rc_param_uniform(a, -1, 1, &rng);
        g = rc_graph_new();
        rc_node *params[] = {a};
        CHECK_GRAD(si ? "dropout_3x13" : "dropout_37", g, build_dropout, a, params, 1);
        rc_graph_free(g);
        rc_params_free(ps);
    }
}

int main(void)
{
    init_weights();
    test_binary_literal();
    test_binary_cases();
    test_binary_errors();
    test_affine_literal();
    test_unary_forward();
    test_unary_sweep();
    test_unary_grad();
    test_relu_backward();
    test_where();
    test_dropout();
    return check_finish("ops_elementwise");
}
