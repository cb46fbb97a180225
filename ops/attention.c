/* Additive (Bahdanau) attention scores in one node:
 *   scores[b][s] = v . tanh(keys[b][s] + query[b])
 * keys [B x S x A] (the projected memory), query [B x A] (the projected
 * decoder state), v [A] or [1 x A]. Composed, that is an add with a
 * broadcast, a tanh and a product with one column: three [B x S x A] arrays
 * and six passes over them per decoder step; here one array (the tanh
 * values, which the backward needs) and two passes. */

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

/* The tanh values [B x S x A], kept in n->aux by the forward. */
static rc_real *tanh_values(const rc_node *n) { return n->aux; }

/* Batch rows are independent: both passes split them over recur's threads.
 * The forward writes e = tanh(keys + query) row block by row block; the
 * backward turns d scores into d pre = ds v (1 - e^2), added into the keys'
 * and the query's gradients. */
typedef struct attn_job {
    const rc_node *n;
    bool backward;
    rc_real *dkeys, *dquery, *scratch; /* scratch: A reals per part */
} attn_job;

static void additive_part(void *ctx, int part, int parts)
{
    const attn_job *j = ctx;
    const rc_node *n = j->n;
    const int S = n->val.shape.d[1], A = n->in[0]->val.shape.d[2];
    const rc_real *keys = n->in[0]->val.data, *query = n->in[1]->val.data,
                  *v = n->in[2]->val.data;
    rc_real *e = tanh_values(n);
    const rc_kernels *k = rc__kernels();
    int lo, hi;
    rc__split(n->val.shape.d[0], 1, part, parts, &lo, &hi);
    for (int b = lo; b < hi; b++) {
        const size_t row0 = (size_t)b * S;
        if (!j->backward) {
            for (int s = 0; s < S; s++)
                k->run(RC_RUN_ADD, e + (row0 + s) * A, keys + (row0 + s) * A,
                       query + (size_t)b * A, (size_t)A);
            k->tanh(e + row0 * A, e + row0 * A, (size_t)S * A);
            continue;
        }
        rc_real *dv_row = j->scratch + (size_t)part * A;
        for (int s = 0; s < S; s++) {
            const rc_real ds = n->grad[row0 + s];
            const rc_real *er = e + (row0 + s) * A;
            k->axpby(dv_row, ds, v, 0, (size_t)A); /* d e = ds v */
            if (j->dkeys)
                k->run(RC_RUN_TANH_BWD, j->dkeys + (row0 + s) * A, dv_row, er, (size_t)A);
            if (j->dquery)
                k->run(RC_RUN_TANH_BWD, j->dquery + (size_t)b * A, dv_row, er, (size_t)A);
        }
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
    const int B = n->val.shape.d[0], S = n->val.shape.d[1], A = n->in[0]->val.shape.d[2];
    if (!(n->aux = rc_arena_alloc(g, (size_t)B * S * A * sizeof(rc_real))))
        return;
    attn_job j = {n, false, NULL, NULL, NULL};
    rc__parallel(additive_part, &j, parts_for(n));
    /* scores = e v^T: one product with one column over all B x S rows */
    rc__gemm(false, true, B * S, 1, A, 1, tanh_values(n), A, n->in[2]->val.data, A, 0,
             n->val.data, 1);
}

static void additive_bwd(rc_graph *g, rc_node *n)
{
    const int B = n->val.shape.d[0], S = n->val.shape.d[1], A = n->in[0]->val.shape.d[2];
    rc_node *v = n->in[2];
    if (v->requires_grad) { /* d v += ds^T e */
        rc_real *dv = rc_grad_buf(g, v);
        if (!dv)
            return;
        rc__gemm(true, false, 1, A, B * S, 1, n->grad, 1, tanh_values(n), A, 1, dv, A);
    }
    attn_job j = {n, true, rc_input_grad(g, n->in[0]), rc_input_grad(g, n->in[1]), NULL};
    if ((n->in[0]->requires_grad && !j.dkeys) || (n->in[1]->requires_grad && !j.dquery))
        return; /* out of memory: the graph holds the error */
    if (!j.dkeys && !j.dquery)
        return;
    const int parts = parts_for(n);
    if (!(j.scratch = rc_arena_alloc(g, (size_t)parts * A * sizeof(rc_real))))
        return;
    rc__parallel(additive_part, &j, parts);
}

static const rc_op op_additive = {"additive_scores", additive_shape, additive_fwd,
                                  additive_bwd, 0};

rc_node *rc_additive_scores_at(rc_site at, rc_graph *g, rc_node *keys, rc_node *query,
                               rc_node *v)
{
    return rc_apply(at, g, &op_additive, 3, (rc_node *const[]){keys, query, v}, NULL);
}
