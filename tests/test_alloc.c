/* A training step after the first, on the same shapes, must not touch the
 * heap: every allocation recur makes goes through the hook counted here. */
#include <stdlib.h>

#include "check.h"
#include "recur/ops.h"

static size_t allocations;

static void *counting_alloc(void *ctx, size_t size, size_t align)
{
    (void)ctx;
    allocations++;
    return aligned_alloc(align, (size + align - 1) / align * align);
}

static void counting_release(void *ctx, void *p)
{
    (void)ctx;
    free(p);
}

enum { B = 8, I = 5, H = 16, C = 4, T = 6 };

typedef struct model {
    rc_node *W_ih, *W_hh, *b, *W_out, *b_out, *emb;
} model;

/* A small tanh RNN over T steps with an embedding, dropout and a
 * cross-entropy loss per step: every kind of arena use a real step makes. */
static rc_node *step_loss(rc_graph *g, const model *m, const int32_t *ids,
                          const int32_t *targets)
{
    rc_node *x = rc_embedding(g, m->emb, ids, RC_SHAPE(T, B));
    rc_node *h = rc_fill(g, RC_SHAPE(B, H), 0);
    rc_node *loss = NULL;
    for (int t = 0; t < T; t++) {
        rc_node *xt = rc_reshape(g, rc_slice(g, x, 0, t, 1), RC_SHAPE(B, I));
        rc_node *z = rc_add(g, rc_matmul_nt(g, xt, m->W_ih), rc_matmul_nt(g, h, m->W_hh));
        h = rc_tanh(g, rc_add(g, z, m->b));
        rc_node *logits = rc_add(g, rc_matmul_nt(g, rc_dropout(g, h, 0.1), m->W_out), m->b_out);
        rc_node *l = rc_cross_entropy(g, logits, targets + t * B, -1, RC_MEAN);
        loss = loss ? rc_add(g, loss, l) : l;
    }
    return loss;
}

int main(void)
{
    rc_set_allocator(&(rc_allocator){counting_alloc, counting_release, NULL});
    rc_params *ps = rc_params_new();
    rc_rng rng;
    rc_rng_seed(&rng, 1);
    model m = {
        rc_param(ps, "weight_ih", RC_SHAPE(H, I)), rc_param(ps, "weight_hh", RC_SHAPE(H, H)),
        rc_param(ps, "bias", RC_SHAPE(H)),         rc_param(ps, "out.weight", RC_SHAPE(C, H)),
        rc_param(ps, "out.bias", RC_SHAPE(C)),     rc_param(ps, "emb", RC_SHAPE(10, I)),
    };
    for (size_t k = 0; k < rc_params_count(ps); k++)
        rc_param_uniform(rc_params_at(ps, k), -0.3f, 0.3f, &rng);
    int32_t ids[T * B], targets[T * B];
    for (int k = 0; k < T * B; k++) {
        ids[k] = (int32_t)(rc_rng_next(&rng) % 10);
        targets[k] = (int32_t)(rc_rng_next(&rng) % C);
    }
    rc_graph *g = rc_graph_new();
    size_t per_step[4];
    for (int step = 0; step < 4; step++) {
        size_t before = allocations;
        rc_graph_reset(g);
        rc_params_zero_grad(ps);
        rc_node *loss = step_loss(g, &m, ids, targets);
        CHECK(rc_backward(g, loss) == 0);
        /* plain SGD on the flat buffers */
        rc_real *w = rc_params_values(ps), *dw = rc_params_grads(ps);
        for (size_t k = 0; k < rc_params_numel(ps); k++)
            w[k] -= 0.1f * dw[k];
        per_step[step] = allocations - before;
    }
    CHECK_NO_ERROR(g);
    CHECK(per_step[0] > 0); /* the hook really sees recur's allocations */
    CHECK(per_step[1] == 0);
    CHECK(per_step[2] == 0);
    CHECK(per_step[3] == 0);
    printf("allocations per step: %zu %zu %zu %zu (arena %zu bytes)\n", per_step[0],
           per_step[1], per_step[2], per_step[3], rc_graph_arena_bytes(g));
    rc_graph_free(g);
    rc_params_free(ps);
    rc_set_allocator(NULL);
    return check_finish("alloc");
}
