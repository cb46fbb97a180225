/* tests/test_ops_matmul.c - rc_matmul: the four transpose combinations, 2-D,
 * batched 3-D/4-D (same leading dims, and a shared 2-D b), forward values
 * (literal and against a double-precision reference) and gradients (finite
 * differences on small shapes, a reference backward on large shapes). */
#include <stdint.h>

#include "check.h"
#include "op_check.h"
#include "recur/ops.h"

static const char *flag_name(int flags)
{
    static const char *names[] = {"nn", "tn", "nt", "tt"};
    return names[flags & 3];
}

/* One batch entry of op(a) . op(b) in double: a is [M x K] ([K x M] with
 * RC_TRANS_A), b is [K x N] ([N x K] with RC_TRANS_B), c is [M x N]. */
static void ref_mm(const rc_real *a, const rc_real *b, double *c, int M, int K, int N,
                   int flags)
{
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int k = 0; k < K; k++) {
                double av = (flags & RC_TRANS_A) ? a[(size_t)k * M + i] : a[(size_t)i * K + k];
                double bv = (flags & RC_TRANS_B) ? b[(size_t)j * K + k] : b[(size_t)k * N + j];
                s += av * bv;
            }
            c[(size_t)i * N + j] = s;
        }
}

static rc_shape shape_a(int nlead, const int *lead, int M, int K, int flags)
{
    rc_shape s = {nlead + 2, {0}};
    for (int i = 0; i < nlead; i++)
        s.d[i] = lead[i];
    s.d[nlead] = (flags & RC_TRANS_A) ? K : M;
    s.d[nlead + 1] = (flags & RC_TRANS_A) ? M : K;
    return s;
}

static rc_shape shape_b(int nlead, const int *lead, int K, int N, int flags)
{
    rc_shape s = {nlead + 2, {0}};
    for (int i = 0; i < nlead; i++)
        s.d[i] = lead[i];
    s.d[nlead] = (flags & RC_TRANS_B) ? N : K;
    s.d[nlead + 1] = (flags & RC_TRANS_B) ? K : N;
    return s;
}

/* ---- literal values ------------------------------------------------------ */

/* 1..6 read as [2x3] (or [3x2] for a transposed a), 7..12 as [3x2] (or [2x3]). */
static const rc_real A6[] = {1, 2, 3, 4, 5, 6};
static const rc_real B6[] = {7, 8, 9, 10, 11, 12};

static void test_literal_2d(void)
{
    /* nn: [[1,2,3],[4,5,6]] . [[7,8],[9,10],[11,12]]
     * tn: [[1,3,5],[2,4,6]] . [[7,8],[9,10],[11,12]]
     * nt: [[1,2,3],[4,5,6]] . [[7,10],[8,11],[9,12]]
     * tt: [[1,3,5],[2,4,6]] . [[7,10],[8,11],[9,12]] */
    static const double want[4][4] = {
        {58, 64, 139, 154},
        {89, 98, 116, 128},
        {50, 68, 122, 167},
        {76, 103, 100, 136},
    };
    rc_graph *g = rc_graph_new();
    for (int flags = 0; flags < 4; flags++) {
        rc_node *a = rc_input(g, (flags & RC_TRANS_A) ? RC_SHAPE(3, 2) : RC_SHAPE(2, 3), A6);
        rc_node *b = rc_input(g, (flags & RC_TRANS_B) ? RC_SHAPE(2, 3) : RC_SHAPE(3, 2), B6);
        rc_node *y = rc_matmul_ex(g, a, b, flags);
        CHECK(rc_shape_eq(rc_shape_of(y), RC_SHAPE(2, 2)));
        CHECK_VALUES(y, want[flags], 4, VALUE_TOL);
    }
    /* the named shorthands */
    rc_node *a23 = rc_input(g, RC_SHAPE(2, 3), A6), *a32 = rc_input(g, RC_SHAPE(3, 2), A6);
    rc_node *b32 = rc_input(g, RC_SHAPE(3, 2), B6), *b23 = rc_input(g, RC_SHAPE(2, 3), B6);
    rc_node *y0 = rc_matmul(g, a23, b32);
    rc_node *y1 = rc_matmul_tn(g, a32, b32);
    rc_node *y2 = rc_matmul_nt(g, a23, b23);
    CHECK_VALUES(y0, want[0], 4, VALUE_TOL);
    CHECK_VALUES(y1, want[RC_TRANS_A], 4, VALUE_TOL);
    CHECK_VALUES(y2, want[RC_TRANS_B], 4, VALUE_TOL);
    /* a row vector times a matrix and a matrix times a column: [1x3].[3x1] */
    rc_node *r = rc_input(g, RC_SHAPE(1, 3), A6);
    rc_node *c = rc_input(g, RC_SHAPE(3, 1), B6);
    rc_node *rc1 = rc_matmul(g, r, c); /* 1*7 + 2*8 + 3*9 */
    static const double want_rc[] = {50};
    CHECK_VALUES(rc1, want_rc, 1, VALUE_TOL);
    rc_node *cr = rc_matmul(g, c, r); /* outer product [3x3] */
    static const double want_cr[] = {7, 14, 21, 8, 16, 24, 9, 18, 27};
    CHECK_VALUES(cr, want_cr, 9, VALUE_TOL);
    CHECK_NO_ERROR(g);
    rc_graph_free(g);
}

static void test_literal_batched(void)
{
    static const rc_real a[] = {1, 2, 3, 4, 5, 6, -1, 0, 2, 3, -2, 1};   /* [2x2x3] */
    static const rc_real b[] = {7, 8, 9, 10, 11, 12, 1, -1, 2, 0, 0, 3}; /* [2x3x2] */
    static const double want_same[] = {58, 64, 139, 154, -1, 7, -1, 0};
    static const double want_shared[] = {58, 64, 139, 154, 15, 16, 14, 16};
    static const double want_shared_nt[] = {50, 68, 122, 167, 11, 14, 14, 20};
    rc_graph *g = rc_graph_new();
    rc_node *A = rc_input(g, RC_SHAPE(2, 2, 3), a);
    rc_node *y = rc_matmul(g, A, rc_input(g, RC_SHAPE(2, 3, 2), b));
    CHECK(rc_shape_eq(rc_shape_of(y), RC_SHAPE(2, 2, 2)));
    CHECK_VALUES(y, want_same, 8, VALUE_TOL);
    /* a shared 2-D b: [[7,8],[9,10],[11,12]] */
    rc_node *ys = rc_matmul(g, A, rc_input(g, RC_SHAPE(3, 2), B6));
    CHECK(rc_shape_eq(rc_shape_of(ys), RC_SHAPE(2, 2, 2)));
    CHECK_VALUES(ys, want_shared, 8, VALUE_TOL);
    /* a shared transposed b: [[7,8,9],[10,11,12]]^T */
    rc_node *yt = rc_matmul_nt(g, A, rc_input(g, RC_SHAPE(2, 3), B6));
    CHECK(rc_shape_eq(rc_shape_of(yt), RC_SHAPE(2, 2, 2)));
    CHECK_VALUES(yt, want_shared_nt, 8, VALUE_TOL);
    CHECK_NO_ERROR(g);
    rc_graph_free(g);
}

/* ---- generic cases: forward against the reference, then gradcheck -------- */

typedef struct {
    rc_node *a, *b;
    int flags;
} mm_ctx;

static rc_node *build_mm(rc_graph *g, void *vctx)
{
    mm_ctx *c = vctx;
    return wsum(g, rc_matmul_ex(g, c->a, c->b, c->flags));
}

/* lead: the leading dims of a (nlead of them); b has them too unless shared. */
static void run_case(const char *what, int nlead, const int *lead, bool shared, int M,
                     int K, int N, int flags, uint64_t seed)
{
    char label[96];
    snprintf(label, sizeof label, "matmul_%s_%s", what, flag_name(flags));
    rc_rng rng;
    rc_rng_seed(&rng, seed);
    rc_params *ps = rc_params_new();
    rc_node *a = new_param(ps, "a", shape_a(nlead, lead, M, K, flags));
    rc_node *b = new_param(ps, "b", shape_b(shared ? 0 : nlead, lead, K, N, flags));
    rc_param_uniform(a, -1, 1, &rng);
    rc_param_uniform(b, -1, 1, &rng);

    int batch = 1;
    for (int i = 0; i < nlead; i++)
        batch *= lead[i];
    size_t mn = (size_t)M * N;
    double *want = malloc(sizeof(double) * mn * batch);
    for (int t = 0; t < batch; t++)
        ref_mm(rc_data(a) + (size_t)t * M * K, rc_data(b) + (shared ? 0 : (size_t)t * K * N),
               want + t * mn, M, K, N, flags);

    rc_shape ys = {nlead + 2, {0}};
    for (int i = 0; i < nlead; i++)
        ys.d[i] = lead[i];
    ys.d[nlead] = M;
    ys.d[nlead + 1] = N;

    rc_graph *g = rc_graph_new();
    rc_node *y = rc_matmul_ex(g, a, b, flags);
    CHECK_NO_ERROR(g);
    CHECK(rc_shape_eq(rc_shape_of(y), ys));
    CHECK_VALUES(y, want, mn * batch, VALUE_TOL);
    if (rc_graph_error(g))
        fprintf(stderr, "  (case %s)\n", label);

    rc_graph_reset(g);
    mm_ctx ctx = {a, b, flags};
    rc_node *params[] = {a, b};
    CHECK_GRAD(label, g, build_mm, &ctx, params, 2);

    free(want);
    rc_graph_free(g);
    rc_params_free(ps);
}

static void test_cases(void)
{
    static const int lead2[] = {2};
    static const int lead4[] = {2, 3};
    for (int flags = 0; flags < 4; flags++) {
        /* non-square everywhere so a swapped index shows */
        run_case("2d", 0, NULL, false, 3, 4, 5, flags, 100 + flags);
        run_case("3d", 1, lead2, false, 3, 4, 2, flags, 200 + flags);
        run_case("3d_shared_b", 1, lead2, true, 3, 4, 2, flags, 300 + flags);
        run_case("4d", 2, lead4, false, 2, 3, 2, flags, 400 + flags);
        run_case("4d_shared_b", 2, lead4, true, 2, 3, 2, flags, 500 + flags);
        /* single-row / single-column products (GEMV-shaped) */
        run_case("2d_row", 0, NULL, false, 1, 5, 3, flags, 600 + flags);
        run_case("2d_col", 0, NULL, false, 4, 3, 1, flags, 700 + flags);
    }
}

/* ---- large shapes (the BLAS / SIMD kernel path): reference backward ------- */

/* Accumulating K products in float rounds by about sqrt(K) ulp of the partial
 * sums; 1e-4 relative covers K in the hundreds with margin. */
#if RC_REAL_IS_DOUBLE
#define BIG_TOL 1e-12
#else
#define BIG_TOL 1e-4
#endif

static void run_big(int nlead, const int *lead, bool shared, int M, int K, int N, int flags,
                    uint64_t seed)
{
    char label[96];
    snprintf(label, sizeof label, "big %dx%dx%d lead %d%s %s", M, K, N, nlead,
             shared ? " shared" : "", flag_name(flags));
    rc_rng rng;
    rc_rng_seed(&rng, seed);
    rc_params *ps = rc_params_new();
    rc_node *a = new_param(ps, "a", shape_a(nlead, lead, M, K, flags));
    rc_node *b = new_param(ps, "b", shape_b(shared ? 0 : nlead, lead, K, N, flags));
    rc_param_uniform(a, -1, 1, &rng);
    rc_param_uniform(b, -1, 1, &rng);
    int batch = 1;
    for (int i = 0; i < nlead; i++)
        batch *= lead[i];
    size_t mk = (size_t)M * K, kn = (size_t)K * N, mn = (size_t)M * N;
    size_t ny = mn * batch;

    rc_real *wy = malloc(sizeof(rc_real) * ny);
    for (size_t i = 0; i < ny; i++)
        wy[i] = (rc_real)(rc_rng_uniform(&rng) * 2 - 1);
    double *want = malloc(sizeof(double) * ny);
    double *ga = calloc(mk * batch, sizeof(double));
    double *gb = calloc(kn * (shared ? 1 : batch), sizeof(double));
    for (int t = 0; t < batch; t++) {
        const rc_real *at = rc_data(a) + t * mk;
        const rc_real *bt = rc_data(b) + (shared ? 0 : t * kn);
        const rc_real *wt = wy + t * mn;
        double *gat = ga + t * mk, *gbt = gb + (shared ? 0 : t * kn);
        ref_mm(at, bt, want + t * mn, M, K, N, flags);
        /* y = op(a) op(b); d op(a) = W op(b)^T, d op(b) = op(a)^T W */
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                double w = wt[(size_t)i * N + j];
                for (int k = 0; k < K; k++) {
                    size_t ia = (flags & RC_TRANS_A) ? (size_t)k * M + i : (size_t)i * K + k;
                    size_t ib = (flags & RC_TRANS_B) ? (size_t)j * K + k : (size_t)k * N + j;
                    gat[ia] += w * bt[ib];
                    gbt[ib] += w * at[ia];
                }
            }
    }
    rc_shape ys = {nlead + 2, {0}};
    for (int i = 0; i < nlead; i++)
        ys.d[i] = lead[i];
    ys.d[nlead] = M;
    ys.d[nlead + 1] = N;

    rc_graph *g = rc_graph_new();
    rc_params_zero_grad(ps);
    rc_node *y = rc_matmul_ex(g, a, b, flags);
    CHECK(rc_shape_eq(rc_shape_of(y), ys));
    CHECK_VALUES(y, want, ny, BIG_TOL);
    rc_node *loss = rc_sum(g, rc_mul(g, y, rc_input(g, ys, wy)));
    CHECK(rc_backward(g, loss) == 0);
    CHECK_NO_ERROR(g);
    if (rc_grad(a) && rc_grad(b)) {
        size_t na = mk * batch, nb = kn * (shared ? 1 : batch);
        int bad = 0;
        for (size_t i = 0; i < na && !bad; i++)
            if (!(fabs(rc_grad(a)[i] - ga[i]) <= BIG_TOL * fmax(1.0, fabs(ga[i])))) {
                fprintf(stderr, "%s: grad a[%zu] = %.10g, want %.10g\n", label, i,
                        (double)rc_grad(a)[i], ga[i]);
                bad = 1;
            }
        for (size_t i = 0; i < nb && !bad; i++)
            if (!(fabs(rc_grad(b)[i] - gb[i]) <= BIG_TOL * fmax(1.0, fabs(gb[i])))) {
                fprintf(stderr, "%s: grad b[%zu] = %.10g, want %.10g\n", label, i,
                        (double)rc_grad(b)[i], gb[i]);
                bad = 1;
            }
        CHECK(!bad);
    } else {
        fprintf(stderr, "%s: no gradient reached a or b\n", label);
        CHECK(false);
    }
    free(wy);
    free(want);
    free(ga);
    free(gb);
    rc_graph_free(g);
    rc_params_free(ps);
}

static void test_big(void)
{
    static const int lead3[] = {3};
    for (int flags = 0; flags < 4; flags++) {
        run_big(0, NULL, false, 33, 47, 19, flags, 900 + flags);
        run_big(0, NULL, false, 131, 129, 97, flags, 910 + flags);
        run_big(1, lead3, false, 37, 65, 29, flags, 920 + flags);
        run_big(1, lead3, true, 37, 65, 29, flags, 930 + flags);
    }
}

/* ---- a weight used at every time step, with a bias ------------------------ */

/* Steps of a few rows against the same weights: the forward uses the
 * weight's transpose made once per graph and backward sums the weight's
 * gradient pieces in one deferred product; two weights interleave, one used
 * transposed (x W^T + b), one not (x U). */
enum { STEPS = 5, SM = 3, SK = 4, SN = 5 };

typedef struct {
    rc_node *x[STEPS], *w, *u, *b;
} steps_ctx;

static rc_node *build_steps(rc_graph *g, void *vctx)
{
    steps_ctx *c = vctx;
    rc_node *loss = NULL;
    for (int t = 0; t < STEPS; t++) {
        rc_node *y = rc_matmul_bias(g, c->x[t], c->w, c->b, RC_TRANS_B); /* [SM x SN] */
        rc_node *z = rc_matmul(g, y, c->u);                               /* [SM x SK] */
        rc_node *term = wsum(g, rc_tanh(g, z));
        loss = loss ? rc_add(g, loss, term) : term;
    }
    return loss;
}

static void test_steps(void)
{
    rc_rng rng;
    rc_rng_seed(&rng, 77);
    rc_params *ps = rc_params_new();
    steps_ctx c;
    for (int t = 0; t < STEPS; t++) {
        char name[16];
        snprintf(name, sizeof name, "x%d", t);
        c.x[t] = new_param(ps, name, RC_SHAPE(SM, SK));
    }
    c.w = new_param(ps, "w", RC_SHAPE(SN, SK));
    c.u = new_param(ps, "u", RC_SHAPE(SN, SK));
    c.b = new_param(ps, "b", RC_SHAPE(SN));
    for (size_t k = 0; k < rc_params_count(ps); k++)
        rc_param_uniform(rc_params_at(ps, k), -1, 1, &rng);

    /* forward of x W^T + b against the reference */
    rc_graph *g = rc_graph_new();
    double want[SM * SN];
    ref_mm(rc_data(c.x[0]), rc_data(c.w), want, SM, SK, SN, RC_TRANS_B);
    for (int i = 0; i < SM * SN; i++)
        want[i] += rc_data(c.b)[i % SN];
    rc_node *y = rc_matmul_bias(g, c.x[0], c.w, c.b, RC_TRANS_B);
    CHECK_VALUES(y, want, SM * SN, VALUE_TOL);
    rc_graph_reset(g);
    rc_node *params[STEPS + 3];
    for (size_t k = 0; k < rc_params_count(ps); k++)
        params[k] = rc_params_at(ps, k);
    CHECK_GRAD("matmul_steps_shared_weights", g, build_steps, &c, params, STEPS + 3);
    /* the bias must be one entry per output column */
    rc_graph_reset(g);
    rc_matmul_bias(g, c.x[0], c.w, c.x[1], RC_TRANS_B);
    CHECK_ERROR_HAS(g, "bias must be [5] (the product's columns), got [3x4]");
    rc_graph_free(g);
    rc_params_free(ps);
}

/* ---- shape errors ----------------------------------------------------------- */

static void test_errors(void)
{
    rc_graph *g = rc_graph_new();
    /* inner dims differ: [2x3] . [4x2] */
    rc_node *y = rc_matmul(g, rc_fill(g, RC_SHAPE(2, 3), 1), rc_fill(g, RC_SHAPE(4, 2), 1));
    CHECK(!rc_ok(y));
    CHECK_ERROR_HAS(g, "matmul");
    rc_graph_reset(g);
    /* batched with different leading dims: [2x2x3] . [3x3x2] */
    y = rc_matmul(g, rc_fill(g, RC_SHAPE(2, 2, 3), 1), rc_fill(g, RC_SHAPE(3, 3, 2), 1));
    CHECK(!rc_ok(y));
    CHECK_ERROR_HAS(g, "matmul");
    rc_graph_reset(g);
    /* transposing fixes the mismatch: [3x2]^T . [3x2] is fine */
    y = rc_matmul_tn(g, rc_fill(g, RC_SHAPE(3, 2), 1), rc_fill(g, RC_SHAPE(3, 2), 1));
    CHECK(rc_ok(y));
    CHECK_NO_ERROR(g);
    rc_graph_free(g);
}

int main(void)
{
    init_weights();
    test_literal_2d();
    test_literal_batched();
    test_cases();
    test_big();
    test_steps();
    test_errors();
    return check_finish("ops_matmul");
}
