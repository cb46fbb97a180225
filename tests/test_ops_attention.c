/* tests/test_ops_attention.c - rc_additive_scores against the same energies
 * composed from primitive ops (values and every gradient), finite
 * differences through the fused op, keys shared by several score nodes and
 * another consumer (gradients accumulate), 1 vs 3 threads bit-identical,
 * and shape errors. A = 5, 19 and 33 run the vector kernels' tails. */
#include <string.h>

#include "check.h"
#include "op_check.h"
#include "recur/ops.h"

typedef struct attn_case {
    bool fused, shared; /* shared: two queries against one keys node, keys also summed */
    bool v_flat;        /* v as [A] instead of [1 x A] */
    int B, S, A;
    rc_node *keys, *query, *query2, *v;
} attn_case;

static rc_node *scores(rc_graph *g, const attn_case *c, rc_node *keys, rc_node *query)
{
    if (c->fused)
        return rc_additive_scores(g, keys, query, c->v);
    rc_node *q3 = rc_reshape(g, query, RC_SHAPE(c->B, 1, c->A));
    rc_node *e = rc_tanh(g, rc_add(g, keys, q3));
    return rc_reshape(g, rc_matmul_nt(g, e, rc_reshape(g, c->v, RC_SHAPE(1, c->A))),
                      RC_SHAPE(c->B, c->S));
}

static rc_node *attn_loss(rc_graph *g, void *ctx)
{
    const attn_case *c = ctx;
    if (!c->shared)
        return wsum(g, scores(g, c, c->keys, c->query));
    /* keys computed once, used by two score nodes and by a third term */
    rc_node *keys = rc_affine(g, c->keys, 1, 0.25);
    rc_node *loss = wsum(g, scores(g, c, keys, c->query));
    loss = rc_add(g, loss, rc_mean(g, rc_mul(g, scores(g, c, keys, c->query2),
                                             scores(g, c, keys, c->query2))));
    return rc_add(g, loss, rc_mean(g, rc_sigmoid(g, keys)));
}

static rc_params *case_params(attn_case *c, rc_rng *rng)
{
    rc_params *ps = rc_params_new();
    c->keys = new_param(ps, "keys", RC_SHAPE(c->B, c->S, c->A));
    c->query = new_param(ps, "query", RC_SHAPE(c->B, c->A));
    c->query2 = new_param(ps, "query2", RC_SHAPE(c->B, c->A));
    c->v = new_param(ps, "v", c->v_flat ? RC_SHAPE(c->A) : RC_SHAPE(1, c->A));
    for (size_t k = 0; k < rc_params_count(ps); k++)
        rc_param_uniform(rc_params_at(ps, k), -1.2, 1.2, rng);
    return ps;
}

/* values and all gradients of the loss, fused or composed; caller frees */
static rc_real *run(rc_graph *g, rc_params *ps, attn_case *c, bool fused, rc_real **vals)
{
    c->fused = fused;
    rc_graph_reset(g);
    rc_params_zero_grad(ps);
    rc_node *out = scores(g, c, c->keys, c->query);
    rc_node *loss = rc_add(g, attn_loss(g, c), rc_mul(g, rc_sum(g, out), rc_sum(g, out)));
    CHECK(rc_backward(g, loss) == 0);
    CHECK_NO_ERROR(g);
    const size_t np = rc_params_numel(ps), nv = rc_size(out);
    *vals = malloc((nv ? nv : 1) * sizeof **vals);
    rc_real *grads = malloc(np * sizeof *grads);
    if (nv)
        memcpy(*vals, rc_data(out), nv * sizeof **vals);
    memcpy(grads, rc_params_grads(ps), np * sizeof *grads);
    return grads;
}

static void check_case(rc_rng *rng, int B, int S, int A, bool shared, bool v_flat)
{
    attn_case c = {.shared = shared, .v_flat = v_flat, .B = B, .S = S, .A = A};
    rc_params *ps = case_params(&c, rng);
    rc_graph *g = rc_graph_new();
    char label[96];
    snprintf(label, sizeof label, "additive B%d S%d A%d%s%s", B, S, A,
             shared ? " shared keys" : "", v_flat ? " v[A]" : "");

    rc_real *vals[2], *grads[2];
    for (int f = 0; f < 2; f++)
        grads[f] = run(g, ps, &c, f, &vals[f]);
    double worst = 0;
    for (int k = 0; k < B * S; k++)
        worst = fmax(worst, fabs((double)vals[0][k] - (double)vals[1][k]));
    for (size_t k = 0; k < rc_params_numel(ps); k++)
        worst = fmax(worst, fabs((double)grads[0][k] - (double)grads[1][k]) /
                                fmax(1, fabs((double)grads[0][k])));
    if (!(worst < VALUE_TOL * 10)) {
        check_failed_++;
        fprintf(stderr, "%s: fused vs composed differ by %.3g\n", label, worst);
    }
    check_total_++;
    for (int f = 0; f < 2; f++) {
        free(vals[f]);
        free(grads[f]);
    }

    /* finite differences through the fused op on the small cases (with
     * shared keys the extra terms leave float32 central differences too
     * noisy: float64 only; the composed check above covers float32) */
    c.fused = true;
    if (B * S * A <= 200 && (!shared || RC_REAL_IS_DOUBLE)) {
        rc_node *params[] = {c.keys, c.query, c.v, c.query2};
        CHECK_GRAD(label, g, attn_loss, &c, params, shared ? 4 : 3);
    }
    rc_graph_free(g);
    rc_params_free(ps);
}

/* Big enough to split over threads: batch rows are independent, the v
 * gradient sums per-row parts in row order after the join, so 1 and 3
 * threads agree bit for bit. */
static void check_threads(rc_rng *rng)
{
    attn_case c = {.B = 7, .S = 20, .A = 96};
    rc_params *ps = case_params(&c, rng);
    rc_graph *g = rc_graph_new();
    rc_real *vals[2], *grads[2];
    for (int r = 0; r < 2; r++) {
        rc_set_num_threads(r ? 3 : 1);
        grads[r] = run(g, ps, &c, true, &vals[r]);
    }
    rc_set_num_threads(1);
    CHECK(memcmp(vals[0], vals[1], (size_t)c.B * c.S * sizeof(rc_real)) == 0);
    CHECK(memcmp(grads[0], grads[1], rc_params_numel(ps) * sizeof(rc_real)) == 0);
    for (int r = 0; r < 2; r++) {
        free(vals[r]);
        free(grads[r]);
    }
    rc_graph_free(g);
    rc_params_free(ps);
}

static void check_errors(void)
{
    rc_graph *g = rc_graph_new();
    rc_node *keys = rc_fill(g, RC_SHAPE(2, 3, 4), 0), *v = rc_fill(g, RC_SHAPE(4), 1);
    rc_additive_scores(g, keys, rc_fill(g, RC_SHAPE(2, 5), 0), v);
    CHECK_ERROR_HAS(g, "additive_scores at");
    CHECK_ERROR_HAS(g, "got [2x3x4], [2x5], [4]");
    rc_graph_reset(g);
    keys = rc_fill(g, RC_SHAPE(2, 3, 4), 0);
    rc_additive_scores(g, keys, rc_fill(g, RC_SHAPE(2, 4), 0), rc_fill(g, RC_SHAPE(2, 4), 0));
    CHECK_ERROR_HAS(g, "v [A]");
    rc_graph_reset(g);
    rc_additive_scores(g, rc_fill(g, RC_SHAPE(6, 4), 0), rc_fill(g, RC_SHAPE(2, 4), 0),
                       rc_fill(g, RC_SHAPE(4), 0));
    CHECK_ERROR_HAS(g, "keys [B x S x A]");
    rc_graph_free(g);
}

int main(void)
{
    init_weights();
    rc_rng rng;
    rc_rng_seed(&rng, 7);
    check_case(&rng, 2, 3, 5, false, false);
    check_case(&rng, 2, 3, 5, true, true);
    check_case(&rng, 1, 4, 19, false, true);
    check_case(&rng, 3, 2, 33, true, false);
    check_case(&rng, 4, 20, 64, true, false); /* the composed check only */
    check_threads(&rng);
    check_errors();
    return check_finish("ops_attention");
}
