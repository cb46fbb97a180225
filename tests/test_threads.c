/* tests/test_threads.c - recur's own threads change no result: a model big
 * enough that every threaded path runs (products split by rows and by
 * columns, fused LSTM/GRU cells by batch rows, cross-entropy by rows) gives
 * the same loss and gradients at 1 and 3 threads, and so do optimizer
 * steps. Splitting never changes the arithmetic of an element except
 * cross-entropy's partial sums of the total, so the tolerance is a few
 * float ulps. */
#include <string.h>

#include "check.h"
#include "recur/nn.h"
#include "recur/optim.h"

enum { T = 8, B = 32, I = 64, H = 256, V = 300 };

typedef struct model {
    rc_rnn rnn;
    rc_linear out;
    rc_params *ps;
} model;

static rc_real loss_and_grads(model *m, rc_graph *g, const rc_real *x, const int32_t *y,
                              rc_real *grads)
{
    rc_graph_reset(g);
    rc_params_zero_grad(m->ps);
    rc_node *in = rc_input(g, RC_SHAPE(T, B, I), x);
    rc_rnn_result r = rc_rnn_forward(g, &m->rnn, in, NULL, NULL, NULL);
    rc_node *logits = rc_linear(g, &m->out, rc_reshape(g, r.output, RC_SHAPE(T * B, H)));
    rc_node *loss = rc_cross_entropy(g, logits, y, -1, RC_MEAN);
    CHECK(rc_backward(g, loss) == 0);
    CHECK_NO_ERROR(g);
    memcpy(grads, rc_params_grads(m->ps), rc_params_numel(m->ps) * sizeof *grads);
    return rc_item(loss);
}

static void check_cell(rc_cell_kind cell)
{
    rc_rng rng;
    rc_rng_seed(&rng, 5);
    model m = {.ps = rc_params_new()};
    rc_rnn_config cfg = {.cell = cell, .input_size = I, .hidden_size = H};
    CHECK(rc_rnn_init(&m.rnn, m.ps, "rnn.", &cfg, &rng) == 0);
    CHECK(rc_linear_init(&m.out, m.ps, "out.", H, V, true, &rng) == 0);
    rc_real *x = malloc(sizeof(rc_real) * T * B * I);
    int32_t *y = malloc(sizeof(int32_t) * T * B);
    for (int k = 0; k < T * B * I; k++)
        x[k] = (rc_real)(2 * rc_rng_uniform(&rng) - 1);
    for (int k = 0; k < T * B; k++)
        y[k] = (int32_t)(rc_rng_uniform(&rng) * V);
    const size_t np = rc_params_numel(m.ps);
    rc_real *grads[2] = {malloc(np * sizeof(rc_real)), malloc(np * sizeof(rc_real))};
    rc_real loss[2];
    rc_graph *g = rc_graph_new();
    for (int run = 0; run < 2; run++) {
        rc_set_num_threads(run ? 3 : 1);
        loss[run] = loss_and_grads(&m, g, x, y, grads[run]);
    }
    rc_set_num_threads(1);
    CHECK_NEAR(loss[0], loss[1], 1e-6 * fabs((double)loss[0]));
    double worst = 0, scale = 0;
    for (size_t k = 0; k < np; k++) {
        worst = fmax(worst, fabs((double)grads[0][k] - (double)grads[1][k]));
        scale = fmax(scale, fabs((double)grads[0][k]));
    }
    CHECK(scale > 0);
    if (!(worst <= 1e-5 * scale)) {
        check_failed_++;
        fprintf(stderr, "%s: gradients at 1 and 3 threads differ by %.3g (largest %.3g)\n",
                cell == RC_LSTM ? "lstm" : "gru", worst, scale);
    }
    check_total_++;
    free(grads[0]);
    free(grads[1]);
    free(x);
    free(y);
    rc_graph_free(g);
    rc_params_free(m.ps);
}

/* Products split by rows (M >= 256) and by columns, every transpose flag:
 * the same values at 1 and 3 threads. Leaves are inputs, so no weight path
 * (transposed copies, deferred gradients) takes over. */
/* out = op(a) op(b) (+ bias on every row), M x N */
static rc_real *product(rc_graph *g, int threads, int M, int N, int K, int flags,
                        const rc_real *a, const rc_real *b, const rc_real *bias)
{
    rc_set_num_threads(threads);
    rc_graph_reset(g);
    rc_shape sa = flags & RC_TRANS_A ? RC_SHAPE(K, M) : RC_SHAPE(M, K);
    rc_shape sb = flags & RC_TRANS_B ? RC_SHAPE(N, K) : RC_SHAPE(K, N);
    rc_node *x = rc_input(g, sa, a), *w = rc_input(g, sb, b);
    rc_node *c = bias ? rc_matmul_bias(g, x, w, rc_input(g, RC_SHAPE(N), bias), flags)
                      : rc_matmul_ex(g, x, w, flags);
    CHECK_NO_ERROR(g);
    rc_real *out = malloc(sizeof(rc_real) * M * N);
    memcpy(out, rc_data(c), sizeof(rc_real) * M * N);
    return out;
}

/* c = a w^T + bias for a parameter w [N x K] (= b): a weight, so the product
 * runs on w's per-graph packed copy when it is a time step's (few rows) or
 * of small K, and on its transpose otherwise. */
static rc_real *weight_product(rc_graph *g, int threads, int M, int N, int K,
                               const rc_real *a, const rc_real *b, const rc_real *bias)
{
    rc_params *ps = rc_params_new();
    rc_node *w = rc_param(ps, "w", RC_SHAPE(N, K));
    CHECK(w != NULL);
    memcpy(rc_params_values(ps), b, sizeof(rc_real) * N * K);
    rc_set_num_threads(threads);
    rc_graph_reset(g);
    rc_node *c = rc_matmul_bias(g, rc_input(g, RC_SHAPE(M, K), a), w,
                                rc_input(g, RC_SHAPE(N), bias), RC_TRANS_B);
    CHECK_NO_ERROR(g);
    rc_real *out = malloc(sizeof(rc_real) * M * N);
    memcpy(out, rc_data(c), sizeof(rc_real) * M * N);
    rc_params_free(ps);
    return out;
}

/* Split by columns (M = 40) and by rows (M = 300), with and without a bias,
 * which each slab adds to its own columns: 1 and 3 threads agree, and the
 * bias is what it adds. */
static void check_products(void)
{
    rc_rng rng;
    rc_rng_seed(&rng, 9);
    const int K = 288, N = 400, Ms[] = {40, 300}; /* from 9 MFLOP: split (ops/gemm.c) */
    rc_real *a = malloc(sizeof(rc_real) * 300 * K), *b = malloc(sizeof(rc_real) * K * N),
            *bias = malloc(sizeof(rc_real) * N);
    for (int k = 0; k < 300 * K; k++)
        a[k] = (rc_real)(2 * rc_rng_uniform(&rng) - 1);
    for (int k = 0; k < K * N; k++)
        b[k] = (rc_real)(2 * rc_rng_uniform(&rng) - 1);
    for (int k = 0; k < N; k++)
        bias[k] = (rc_real)(2 * rc_rng_uniform(&rng) - 1);
    rc_graph *g = rc_graph_new();
    for (int mi = 0; mi < 2; mi++)
        for (int flags = 0; flags < 4; flags++) {
            const int M = Ms[mi];
            rc_real *plain = product(g, 1, M, N, K, flags, a, b, NULL),
                    *out[2] = {product(g, 1, M, N, K, flags, a, b, bias),
                               product(g, 3, M, N, K, flags, a, b, bias)};
            double worst = 0, worst_bias = 0;
            for (int k = 0; k < M * N; k++) {
                /* relative past 1: one slab may run BLAS and another recur's
                 * tiles, which sum in another order (RECUR_ISA=avx2 with a
                 * non-AVX-512 OpenBLAS: 1.5e-5 on sums near 10) */
                worst = fmax(worst, fabs((double)out[0][k] - (double)out[1][k]) /
                                        fmax(1.0, fabs((double)out[0][k])));
                /* relative too: the tiles start their sums at the bias */
                worst_bias = fmax(worst_bias, fabs((double)out[0][k] - plain[k] - bias[k % N]) /
                                                  fmax(1.0, fabs((double)out[0][k])));
            }
            if (!(worst <= 1e-5 && worst_bias <= 1e-5)) {
                check_failed_++;
                fprintf(stderr, "matmul_bias M=%d flags=%d: 1 and 3 threads differ by %.3g, "
                        "the bias by %.3g\n", M, flags, worst, worst_bias);
            }
            check_total_++;
            free(plain);
            free(out[0]);
            free(out[1]);
        }
    /* The weight paths: packed and split by columns (M = 40; 400 columns
     * end in half a panel), packed and split by rows (K = 100), the
     * transpose (M = 300, K = 288); each against the same product of leaves. */
    const int wM[] = {40, 300, 300}, wK[] = {K, 100, K};
    for (int c = 0; c < 3; c++) {
        rc_real *leaves = product(g, 1, wM[c], N, wK[c], RC_TRANS_B, a, b, bias),
                *out[2] = {weight_product(g, 1, wM[c], N, wK[c], a, b, bias),
                           weight_product(g, 3, wM[c], N, wK[c], a, b, bias)};
        double worst = 0; /* relative past 1, as above: with RECUR_ISA=generic the
                           * packed copy runs recur's loops and the leaves BLAS
                           * (1.5e-5 apart on sums near 10 under OpenBLAS Haswell) */
        for (int k = 0; k < wM[c] * N; k++)
            worst = fmax(worst, fmax(fabs((double)out[0][k] - (double)out[1][k]),
                                     fabs((double)out[0][k] - (double)leaves[k])) /
                                    fmax(1.0, fabs((double)out[0][k])));
        if (!(worst <= 1e-5)) {
            check_failed_++;
            fprintf(stderr, "weight product M=%d K=%d: 1 and 3 threads or leaves differ by %.3g\n",
                    wM[c], wK[c], worst);
        }
        check_total_++;
        free(leaves);
        free(out[0]);
        free(out[1]);
    }
    rc_set_num_threads(1);
    rc_graph_free(g);
    free(a);
    free(b);
    free(bias);
}

/* Optimizer steps over a store big enough to be split: the same values at 1
 * and 3 threads, for every optimizer with all of its state in use. */
static void check_optimizers(void)
{
    enum { N = 200003 }; /* not a multiple of the slices' 64 */
    rc_optim_config cfgs[5] = {rc_sgd_defaults(0.1), rc_adam_defaults(), rc_adamw_defaults(),
                               rc_rmsprop_defaults(), rc_adagrad_defaults()};
    cfgs[0].momentum = 0.9;
    cfgs[1].amsgrad = true;
    cfgs[3].momentum = 0.5;
    cfgs[3].centered = true;
    for (int k = 0; k < 5; k++) {
        rc_real *out[2];
        for (int run = 0; run < 2; run++) {
            rc_set_num_threads(run ? 3 : 1);
            rc_rng rng;
            rc_rng_seed(&rng, 21);
            rc_params *ps = rc_params_new();
            rc_node *w = rc_param(ps, "w", RC_SHAPE(N));
            rc_param_uniform(w, -1, 1, &rng);
            rc_optim *o = rc_optim_new(ps, &cfgs[k]);
            CHECK(o != NULL);
            for (int step = 0; step < 3 && o; step++) {
                for (int i = 0; i < N; i++)
                    rc_params_grads(ps)[i] = (rc_real)(2 * rc_rng_uniform(&rng) - 1);
                CHECK(rc_optim_step(o) == 0);
            }
            out[run] = malloc(N * sizeof(rc_real));
            memcpy(out[run], rc_params_values(ps), N * sizeof(rc_real));
            rc_optim_free(o);
            rc_params_free(ps);
        }
        CHECK(memcmp(out[0], out[1], N * sizeof(rc_real)) == 0);
        free(out[0]);
        free(out[1]);
    }
    rc_set_num_threads(1);
}

int main(void)
{
    check_products();
    check_optimizers();
    check_cell(RC_LSTM);
    check_cell(RC_GRU);
    return check_finish("threads");
}
