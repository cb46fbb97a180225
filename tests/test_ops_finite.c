/* Products and fused cells scan their output for NaN/Inf in their own
 * threads, slab by slab (n->checked), instead of leaving it to rc_apply. A
 * non-finite value in any slab must still fail the op with rc_apply's
 * message, at 1 and 3 threads, for every way a product is split: by rows,
 * by columns, and the per-step weight's memoised transpose. */
#include "check.h"
#include "recur/ops.h"

/* Big enough to overflow when squared, in either build. */
static const rc_real HUGE_VAL_R = sizeof(rc_real) == 4 ? (rc_real)1e30 : (rc_real)1e200;

static rc_node *ones(rc_graph *g, rc_shape s) { return rc_fill(g, s, 1); }

/* a [M x K] of ones but a[row][0] = HUGE, b a parameter of ones but one
 * element HUGE in column col of the product: C[row][col] overflows to Inf. */
static void overflow_case(rc_params *ps, const char *name, int M, int N, int K, bool tb,
                          int row, int col, int threads)
{
    rc_set_num_threads(threads);
    rc_graph *g = rc_graph_new();
    rc_node *W = rc_param(ps, name, tb ? RC_SHAPE(N, K) : RC_SHAPE(K, N));
    for (size_t i = 0; i < rc_size(W); i++)
        rc_data(W)[i] = 1;
    rc_data(W)[tb ? (size_t)col * K : (size_t)col] = HUGE_VAL_R; /* b[0][col] */
    rc_node *a = ones(g, RC_SHAPE(M, K));

    /* all finite first: no error, and the values are right */
    rc_node *ok = rc_matmul_ex(g, a, W, tb ? RC_TRANS_B : 0);
    CHECK(rc_ok(ok));
    CHECK_NO_ERROR(g);
    if (rc_ok(ok))
        CHECK_NEAR(rc_data(ok)[(size_t)row * N + col], HUGE_VAL_R + (K - 1), VALUE_TOL);

    rc_data(a)[(size_t)row * K] = HUGE_VAL_R;
    rc_node *bad = rc_matmul_ex(g, a, W, tb ? RC_TRANS_B : 0);
    CHECK(!rc_ok(bad));
    CHECK_ERROR_HAS(g, "matmul");
    CHECK_ERROR_HAS(g, "produced inf");
    char where[64];
    snprintf(where, sizeof where, "element %d ", row * N + col);
    CHECK_ERROR_HAS(g, where);
    rc_graph_free(g);
}

/* A NaN bias reaches every row of a fused LSTM cell's output; the row split
 * over threads must not hide it. */
static void cell_case(rc_params *ps, int threads)
{
    enum { B = 32, H = 256 }; /* B x H >= the cell's parallel threshold */
    rc_set_num_threads(threads);
    rc_graph *g = rc_graph_new();
    rc_node *bias = rc_param(ps, "b_hh", RC_SHAPE(4 * H));
    for (size_t i = 0; i < rc_size(bias); i++)
        rc_data(bias)[i] = 0;
    rc_node *gi = ones(g, RC_SHAPE(B, 4 * H)), *gh = ones(g, RC_SHAPE(B, 4 * H)),
            *c = ones(g, RC_SHAPE(B, H));
    CHECK(rc_ok(rc_lstm_fused(g, gi, gh, NULL, bias, c)));
    CHECK_NO_ERROR(g);
    rc_data(bias)[3 * H + 7] = NAN; /* the output gate of unit 7: h is NaN, c is not */
    CHECK(!rc_ok(rc_lstm_fused(g, gi, gh, NULL, bias, c)));
    CHECK_ERROR_HAS(g, "lstm_cell");
    CHECK_ERROR_HAS(g, "b_hh");
    CHECK_ERROR_HAS(g, "already holds NaN/Inf");
    rc_graph_free(g);
}

/* concat and permute skip the scan when every input is an op's output
 * (scanned already), but not when one is a parameter, or a view of one,
 * which nothing scanned. */
static void copy_case(void)
{
    rc_params *ps = rc_params_new();
    rc_node *p = rc_param(ps, "p", RC_SHAPE(2, 3));
    rc_data(p)[4] = HUGE_VAL_R * HUGE_VAL_R; /* Inf */
    rc_graph *g = rc_graph_new();
    rc_node *x = rc_scale(g, ones(g, RC_SHAPE(2, 3)), 2);
    CHECK(rc_ok(rc_concat2(g, x, x, 0))); /* computed: no scan needed, none fails */
    CHECK(rc_ok(rc_permute(g, rc_reshape(g, x, RC_SHAPE(1, 2, 3)), 3, (const int[]){2, 0, 1})));
    CHECK_NO_ERROR(g);
    CHECK(!rc_ok(rc_concat2(g, x, p, 0)));
    CHECK_ERROR_HAS(g, "concat");
    rc_graph_reset(g);
    x = rc_scale(g, ones(g, RC_SHAPE(2, 3)), 2);
    CHECK(!rc_ok(rc_concat2(g, x, rc_slice(g, p, 0, 1, 1), 0)));
    CHECK_ERROR_HAS(g, "concat");
    rc_graph_reset(g);
    CHECK(!rc_ok(rc_permute(g, rc_reshape(g, p, RC_SHAPE(1, 2, 3)), 3, (const int[]){2, 0, 1})));
    CHECK_ERROR_HAS(g, "permute");
    rc_graph_free(g);
    rc_params_free(ps);
}

int main(void)
{
    copy_case();
    for (int threads = 1; threads <= 3; threads += 2) {
        rc_params *ps = rc_params_new();
        /* K = 256: big enough (16.8 MFLOP) to be split over threads.
         * rows: 512 x 64, the Inf in the last slab, then the first */
        overflow_case(ps, "rows", 512, 64, 256, false, 500, 3, threads);
        overflow_case(ps, "rows0", 512, 64, 256, false, 2, 60, threads);
        /* columns: 32 x 1024, Inf in the last slab's last column */
        overflow_case(ps, "cols", 32, 1024, 256, false, 31, 1023, threads);
        overflow_case(ps, "cols0", 32, 1024, 256, false, 0, 5, threads);
        /* a per-step weight used transposed: the memoised transpose */
        overflow_case(ps, "step", 32, 1024, 256, true, 17, 900, threads);
        cell_case(ps, threads);
        rc_params_free(ps);
    }
    rc_set_num_threads(1);
    return check_finish("ops_finite");
}
