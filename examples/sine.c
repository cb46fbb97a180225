/* sine: the smallest complete recur program. An MLP learns y = sin(x) on
 * [-pi, pi]: build a model from ops, train it, gradient-check it, and handle
 * an error, in about a hundred lines.
 *
 *   ./build/examples/sine [steps]       (default 3000)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "recur/gradcheck.h"
#include "recur/ops.h"

enum { N = 64, H = 32 };
static const double PI = 3.14159265358979323846;

typedef struct mlp {
    rc_node *W1, *b1, *W2, *b2, *W3, *b3;
    rc_real x[N], y[N];
} mlp;

/* The model and its loss, built from ops on a graph. gradcheck calls this
 * same function, so it has the rc_build_fn signature. */
static rc_node *loss_of(rc_graph *g, void *ctx)
{
    mlp *m = ctx;
    rc_node *x = rc_input(g, RC_SHAPE(N, 1), m->x);
    rc_node *h = rc_tanh(g, rc_add(g, rc_matmul_nt(g, x, m->W1), m->b1));
    h = rc_tanh(g, rc_add(g, rc_matmul_nt(g, h, m->W2), m->b2));
    rc_node *pred = rc_add(g, rc_matmul_nt(g, h, m->W3), m->b3);
    return rc_mse(g, pred, rc_input(g, RC_SHAPE(N, 1), m->y));
}

int main(int argc, char **argv)
{
    int steps = argc > 1 ? atoi(argv[1]) : 3000;
    if (steps <= 0) {
        fprintf(stderr, "usage: %s [steps > 0]\n", argv[0]);
        return 2;
    }
    /* Parameters live in one store, named like torch.nn.Linear's. */
    rc_params *ps = rc_params_new();
    mlp m = {
        .W1 = rc_param(ps, "l1.weight", RC_SHAPE(H, 1)), .b1 = rc_param(ps, "l1.bias", RC_SHAPE(H)),
        .W2 = rc_param(ps, "l2.weight", RC_SHAPE(H, H)), .b2 = rc_param(ps, "l2.bias", RC_SHAPE(H)),
        .W3 = rc_param(ps, "l3.weight", RC_SHAPE(1, H)), .b3 = rc_param(ps, "l3.bias", RC_SHAPE(1)),
    };
    rc_rng rng;
    rc_rng_seed(&rng, 1);
    for (size_t i = 0; i < rc_params_count(ps); i++) {
        rc_node *p = rc_params_at(ps, i);
        int fan_in = rc_shape_of(p).ndim == 2 ? rc_shape_of(p).d[1] : H;
        rc_real bound = (rc_real)(1 / sqrt(fan_in));
        rc_param_uniform(p, -bound, bound, &rng);
    }
    for (int i = 0; i < N; i++) {
        m.x[i] = (rc_real)(-PI + 2 * PI * i / (N - 1));
        m.y[i] = (rc_real)sin(m.x[i]);
    }

    /* Train: reset the graph, build, backward, step. After the first step
     * the graph reuses its memory; nothing is allocated. */
    rc_graph *g = rc_graph_new();
    rc_real *w = rc_params_values(ps), *dw = rc_params_grads(ps);
    size_t nw = rc_params_numel(ps);
    rc_real *velocity = calloc(nw, sizeof *velocity);
    double first = 0, last = 0;
    for (int step = 1; step <= steps; step++) {
        rc_graph_reset(g);
        rc_params_zero_grad(ps);
        rc_node *loss = loss_of(g, &m);
        if (rc_backward(g, loss) != 0) {
            fprintf(stderr, "step %d: %s\n", step, rc_graph_error(g));
            return 1;
        }
        for (size_t k = 0; k < nw; k++) { /* SGD with momentum on the flat buffer */
            velocity[k] = (rc_real)0.9 * velocity[k] + dw[k];
            w[k] -= (rc_real)0.05 * velocity[k];
        }
        last = rc_item(loss);
        if (step == 1)
            first = last;
        if (step == 1 || step % (steps / 10 ? steps / 10 : 1) == 0)
            printf("step %5d  mse %.6f\n", step, last);
    }

    /* Check the tape's gradients against finite differences. */
    rc_gradcheck_result r;
    if (rc_gradcheck_params(g, loss_of, &m, ps, NULL, &r) != 0) {
        fprintf(stderr, "gradcheck: %s\n", r.error);
        return 1;
    }
    printf("gradcheck: worst relative error %.2g at %s[%zu] over %zu elements\n",
           r.max_rel_err, r.worst_param, r.worst_index, r.checked);

    /* Errors are values, not crashes: a wrong shape poisons the result. */
    rc_graph_reset(g);
    rc_node *oops = rc_matmul(g, rc_input(g, RC_SHAPE(N, 2), NULL), m.W2);
    if (!rc_ok(oops))
        printf("caught: %s\n", rc_graph_error(g));

    printf("mse %.6f -> %.6f\n", first, last);
    free(velocity);
    rc_graph_free(g);
    rc_params_free(ps);
    return last < first / 10 ? 0 : 1;
}
