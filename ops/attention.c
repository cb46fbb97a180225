/* Additive (Bahdanau) attention scores in one node:
 *   scores[b][s] = v . tanh(keys[b][s] + query[b])
 * keys [B x S x A] (the projected memory), query [B x A] (the projected
 * decoder state), v [A] or [1 x A]. Composed, that is an add with a
 * broadcast, a tanh and a product with one column: three [B x S x A] arrays
 * and six passes over them per decoder step. Here the forward is one pass in
 * registers, and the backward recomputes the tanh rather than keeping it: a
 * decoder step's keys fit in L2, where the tanh values of every step did not
 * (12.5 MB a W4a step). */
#include <string.h>

#include "kernels.h"
#include "recur/op.h"
#include "recur/ops.h"

static int additive_shape(rc_graph *g, rc_node *n)
{
    const rc_shape *k = &n->in[0]->val.shape, *q = &n->in[1]->val.shape,
                   *v = &n->in[2]->val.shape;
    char a[64], b[64], c[64];
    const int A = k->ndim == 3 ? k->d[2] : -1;
    const bool v_ok = (v->ndim == 1 && v->d[0] == A) ||
                      (v->ndim == 2 && v->d[0] == 1 && v->d[1] == A);
    if (k->ndim != 3 || q->ndim != 2 || q->d[0] != k->d[0] || q->d[1] != A || !v_ok)
        return rc_fail(g, n, "needs keys [B x S x A], query [B x A] and v [A], got %s, %s, %s",
                       rc_shape_str(*k, a), rc_shape_str(*q, b), rc_shape_str(*v, c));
    n->val.shape = RC_SHAPE(k->d[0], k->d[1]);
    return 0;
}

/* Batch rows are independent: both passes split them over recur's threads.
 * The backward adds into the keys' and the query's gradients row by row,
 * and into one partial d v per batch row (scratch), summed in order after
 * the join: the same numbers for any number of threads. */
typedef struct attn_job {
    const rc_node *n;
    bool backward;
    rc_real *dkeys, *dquery, *scratch; /* scratch: A reals per batch row */
} attn_job;

static void additive_part(void *ctx, int part, int parts)
{
    const attn_job *j = ctx;
    const rc_node *n = j->n;
    const int S = n->val.shape.d[1], A = n->in[0]->val.shape.d[2];
    const rc_real *keys = n->in[0]->val.data, *query = n->in[1]->val.data,
                  *v = n->in[2]->val.data;
    const rc_kernels *k = rc__kernels();
    int lo, hi;
    rc__split(n->val.shape.d[0], 1, part, parts, &lo, &hi);
    for (int b = lo; b < hi; b++) {
        const size_t row0 = (size_t)b * S;
        if (!j->backward)
            k->additive_fwd(S, A, keys + row0 * A, query + (size_t)b * A, v, n->val.data + row0);
        else
            k->additive_bwd(S, A, keys + row0 * A, query + (size_t)b * A, v, n->grad + row0,
                            j->dkeys ? j->dkeys + row0 * A : NULL,
                            j->dquery ? j->dquery + (size_t)b * A : NULL,
                            j->scratch ? j->scratch + (size_t)b * A : NULL);
    }
}

/* One part per batch row when the step is big enough to pay for a
 * fork-join, capped at recur's threads (rc__parallel caps it the same way). */
static int parts_for(const rc_node *n)
{
    const int B = n->val.shape.d[0], threads = rc_num_threads();
    if (n->in[0]->val.size < 8192)
        return 1;
    return B < threads ? B : threads;
}

static void additive_fwd(rc_graph *g, rc_node *n)
{
    (void)g;
    attn_job j = {n, false, NULL, NULL, NULL};
    rc__parallel(additive_part, &j, parts_for(n));
}

static void additive_bwd(rc_graph *g, rc_node *n)
{
    const int B = n->val.shape.d[0], A = n->in[0]->val.shape.d[2];
    attn_job j = {n, true, rc_input_grad(g, n->in[0]), rc_input_grad(g, n->in[1]), NULL};
    rc_real *dv = rc_input_grad(g, n->in[2]);
    if ((n->in[0]->requires_grad && !j.dkeys) || (n->in[1]->requires_grad && !j.dquery) ||
        (n->in[2]->requires_grad && !dv))
        return; /* out of memory: the graph holds the error */
    if (!j.dkeys && !j.dquery && !dv)
        return;
    if (dv) {
        if (!(j.scratch = rc_arena_alloc(g, (size_t)B * A * sizeof(rc_real))))
            return;
        memset(j.scratch, 0, (size_t)B * A * sizeof(rc_real));
    }
    rc__parallel(additive_part, &j, parts_for(n));
    for (int b = 0; dv && b < B; b++)
        rc__kernels()->run(RC_RUN_ACC, dv, j.scratch + (size_t)b * A, NULL, (size_t)A);
}

static const rc_op op_additive = {"additive_scores", additive_shape, additive_fwd,
                                  additive_bwd, 0};

rc_node *rc_additive_scores_at(rc_site at, rc_graph *g, rc_node *keys, rc_node *query,
                               rc_node *v)
{
    return rc_apply(at, g, &op_additive, 3, (rc_node *const[]){keys, query, v}, NULL);
}
