/* matmul: a [... x M x K] . b [... x K x N] (either transposed), batched over
 * the leading dims, or with one 2-D b shared by every batch entry. */
#include "kernels.h"
#include "recur/op.h"
#include "recur/ops.h"

/* i[0] = flags, i[1] = batch count, i[2..3] = M, K; f unused. The shared-b
 * case without a transposed a folds the batch into M: one large product. */
typedef struct dims {
    bool ta, tb, shared_b;
    int batch, M, N, K, lda, ldb;
} dims;

static dims dims_of(const rc_node *n)
{
    const rc_shape *a = &n->in[0]->val.shape, *b = &n->in[1]->val.shape;
    dims d;
    d.ta = n->i[0] & RC_TRANS_A;
    d.tb = n->i[0] & RC_TRANS_B;
    int ar = a->d[a->ndim - 2], ac = a->d[a->ndim - 1];
    int br = b->d[b->ndim - 2], bc = b->d[b->ndim - 1];
    d.M = d.ta ? ac : ar;
    d.K = d.ta ? ar : ac;
    d.N = d.tb ? br : bc;
    d.lda = ac;
    d.ldb = bc;
    d.batch = 1;
    for (int k = 0; k < a->ndim - 2; k++)
        d.batch *= a->d[k];
    d.shared_b = b->ndim == 2;
    if (d.shared_b && !d.ta) { /* stacked rows: one product */
        d.M *= d.batch;
        d.batch = 1;
    }
    return d;
}

static int matmul_shape(rc_graph *g, rc_node *n)
{
    const rc_shape *a = &n->in[0]->val.shape, *b = &n->in[1]->val.shape;
    char sa[64], sb[64];
    if (a->ndim < 2 || b->ndim < 2)
        return rc_fail(g, n, "needs matrices (2+ dims), got a %s and b %s",
                       rc_shape_str(*a, sa), rc_shape_str(*b, sb));
    if (n->i[0] & ~(RC_TRANS_A | RC_TRANS_B))
        return rc_fail(g, n, "unknown flags %#x", (unsigned)n->i[0]);
    bool ta = n->i[0] & RC_TRANS_A, tb = n->i[0] & RC_TRANS_B;
    int K_a = ta ? a->d[a->ndim - 2] : a->d[a->ndim - 1];
    int K_b = tb ? b->d[b->ndim - 1] : b->d[b->ndim - 2];
    if (K_a != K_b)
        return rc_fail(g, n, "inner dimensions differ: a%s %s . b%s %s (%d vs %d)",
                       ta ? "^T" : "", rc_shape_str(*a, sa), tb ? "^T" : "",
                       rc_shape_str(*b, sb), K_a, K_b);
    if (b->ndim > 2) {
        bool same = a->ndim == b->ndim;
        for (int k = 0; same && k < a->ndim - 2; k++)
            same = a->d[k] == b->d[k];
        if (!same)
            return rc_fail(g, n,
                           "batch dims differ: a %s, b %s (a batched b needs the same "
                           "leading dims as a)",
                           rc_shape_str(*a, sa), rc_shape_str(*b, sb));
    }
    n->val.shape = *a;
    n->val.shape.d[a->ndim - 2] = ta ? a->d[a->ndim - 1] : a->d[a->ndim - 2];
    n->val.shape.d[a->ndim - 1] = tb ? b->d[b->ndim - 2] : b->d[b->ndim - 1];
    return 0;
}

static void matmul_fwd(rc_graph *g, rc_node *n)
{
    (void)g;
    dims d = dims_of(n);
    const rc_real *A = n->in[0]->val.data, *B = n->in[1]->val.data;
    size_t sa = (size_t)d.M * d.K, sb = d.shared_b ? 0 : (size_t)d.K * d.N,
           sc = (size_t)d.M * d.N;
    for (int t = 0; t < d.batch; t++)
        rc__gemm(d.ta, d.tb, d.M, d.N, d.K, 1, A + t * sa, d.lda, B + t * sb, d.ldb, 0,
                 n->val.data + t * sc, d.N);
}

static void matmul_bwd(rc_graph *g, rc_node *n)
{
    dims d = dims_of(n);
    rc_node *a = n->in[0], *b = n->in[1];
    size_t sa = (size_t)d.M * d.K, sb = d.shared_b ? 0 : (size_t)d.K * d.N,
           sc = (size_t)d.M * d.N;
    const rc_real *dC = n->grad;
    if (a->requires_grad) {
        rc_real *dA = rc_grad_buf(g, a);
        if (!dA)
            return;
        for (int t = 0; t < d.batch; t++) {
            const rc_real *Bt = b->val.data + t * sb, *dCt = dC + t * sc;
            if (!d.ta) /* dA = dC op(b)^T */
                rc__gemm(false, !d.tb, d.M, d.K, d.N, 1, dCt, d.N, Bt, d.ldb, 1,
                         dA + t * sa, d.K);
            else /* A is K x M: dA = op(b) dC^T */
                rc__gemm(d.tb, true, d.K, d.M, d.N, 1, Bt, d.ldb, dCt, d.N, 1,
                         dA + t * sa, d.M);
        }
    }
    if (b->requires_grad) {
        rc_real *dB = rc_grad_buf(g, b);
        if (!dB)
            return;
        for (int t = 0; t < d.batch; t++) {
            const rc_real *At = a->val.data + t * sa, *dCt = dC + t * sc;
            if (!d.tb) /* dB = op(a)^T dC */
                rc__gemm(!d.ta, false, d.K, d.N, d.M, 1, At, d.lda, dCt, d.N, 1,
                         dB + t * sb, d.N);
            else /* B is N x K: dB = dC^T op(a) */
                rc__gemm(true, d.ta, d.N, d.K, d.M, 1, dCt, d.N, At, d.lda, 1,
                         dB + t * sb, d.K);
        }
    }
}

static const rc_op op_matmul = {"matmul", matmul_shape, matmul_fwd, matmul_bwd, 0};

rc_node *rc_matmul_at(rc_site at, rc_graph *g, rc_node *a, rc_node *b, int flags)
{
    rc_attrs attrs = {.i = {flags}};
    return rc_apply(at, g, &op_matmul, 2, (rc_node *const[]){a, b}, &attrs);
}
