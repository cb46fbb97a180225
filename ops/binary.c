/* add, sub, mul, div with numpy broadcasting, and where(mask, a, b). */
#include "kernels.h"
#include "recur/op.h"
#include "recur/ops.h"

/* Both operands and the output seen as 4-D (leading dims of 1), with the
 * element stride of each operand per output dim: 0 where it broadcasts. */
typedef struct bcast {
    int d[4];
    size_t sa[4], sb[4];
} bcast;

static void strides_for(const rc_shape *x, const int out[4], size_t s[4])
{
    int dims[4] = {1, 1, 1, 1};
    for (int k = 0; k < x->ndim; k++)
        dims[4 - x->ndim + k] = x->d[k];
    size_t step = 1;
    for (int k = 3; k >= 0; k--) {
        s[k] = dims[k] == out[k] ? step : 0;
        if (dims[k] == 1 && out[k] == 1)
            s[k] = 0;
        step *= (size_t)dims[k];
    }
}

static bcast bcast_of(const rc_node *n, const rc_node *a, const rc_node *b)
{
    bcast bc;
    const rc_shape *o = &n->val.shape;
    for (int k = 0; k < 4; k++)
        bc.d[k] = k < 4 - o->ndim ? 1 : o->d[k - (4 - o->ndim)];
    strides_for(&a->val.shape, bc.d, bc.sa);
    strides_for(&b->val.shape, bc.d, bc.sb);
    return bc;
}

/* The broadcast shape of a and b, or -1 when they do not fit. */
static int broadcast_shape(const rc_shape *a, const rc_shape *b, rc_shape *out)
{
    out->ndim = a->ndim > b->ndim ? a->ndim : b->ndim;
    for (int k = 0; k < out->ndim; k++) {
        int ia = a->ndim - out->ndim + k, ib = b->ndim - out->ndim + k;
        int da = ia >= 0 ? a->d[ia] : 1, db = ib >= 0 ? b->d[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return -1;
        out->d[k] = da > db ? da : db;
    }
    return 0;
}

/* Loop over every output element: BODY(o, ia, ib) with o the flat output
 * index and ia, ib the operands' indices. Where both operands are contiguous
 * along the last dim (same shapes, a row broadcast) the whole run goes to
 * RUN(o, ia, ib, n), a vector kernel. */
#define BCAST_LOOP_RUN(bc, BODY, RUN)                                               \
    do {                                                                            \
        size_t o_ = 0;                                                              \
        const size_t n3_ = (size_t)(bc).d[3];                                       \
        for (int i0 = 0; i0 < (bc).d[0]; i0++)                                      \
            for (int i1 = 0; i1 < (bc).d[1]; i1++)                                  \
                for (int i2 = 0; i2 < (bc).d[2]; i2++, o_ += n3_) {                 \
                    const size_t a_ = i0 * (bc).sa[0] + i1 * (bc).sa[1] + i2 * (bc).sa[2]; \
                    const size_t b_ = i0 * (bc).sb[0] + i1 * (bc).sb[1] + i2 * (bc).sb[2]; \
                    (void)a_, (void)b_;                                             \
                    if ((bc).sa[3] == 1 && (bc).sb[3] == 1) {                       \
                        RUN(o_, a_, b_, n3_);                                       \
                    } else {                                                        \
                        const size_t sa3_ = (bc).sa[3], sb3_ = (bc).sb[3];          \
                        (void)sa3_, (void)sb3_;                                     \
                        for (size_t j = 0; j < n3_; j++)                            \
                            BODY(o_ + j, a_ + j * sa3_, b_ + j * sb3_);             \
                    }                                                               \
                }                                                                   \
    } while (0)

/* A contiguous run as a plain loop of BODY, for ops without a kernel. */
#define SCALAR_RUN(BODY, o, ia, ib, n)   \
    for (size_t j = 0; j < (n); j++)     \
        BODY((o) + j, (ia) + j, (ib) + j)

static int binary_shape(rc_graph *g, rc_node *n)
{
    const rc_shape *a = &n->in[0]->val.shape, *b = &n->in[1]->val.shape;
    char sa[64], sb[64];
    if (broadcast_shape(a, b, &n->val.shape) != 0)
        return rc_fail(g, n, "shapes %s and %s do not broadcast", rc_shape_str(*a, sa),
                       rc_shape_str(*b, sb));
    return 0;
}

#define DEFINE_BINARY(NAME, FWD, GRAD_A, GRAD_B)                                  \
    DEFINE_BINARY_RUN(NAME, FWD, FWD##_RUN, GRAD_A, GRAD_A##_RUN, GRAD_B, GRAD_B##_RUN)
#define DEFINE_BINARY_RUN(NAME, FWD, FWD_RUN, GRAD_A, GRAD_A_RUN, GRAD_B, GRAD_B_RUN) \
    static void NAME##_fwd(rc_graph *g, rc_node *n)                               \
    {                                                                             \
        (void)g;                                                                  \
        const rc_real *A = n->in[0]->val.data, *B = n->in[1]->val.data;           \
        rc_real *Y = n->val.data;                                                 \
        bcast bc = bcast_of(n, n->in[0], n->in[1]);                               \
        const rc_kernels *K = rc__kernels();                                      \
        (void)K;                                                                  \
        BCAST_LOOP_RUN(bc, FWD, FWD_RUN);                                         \
    }                                                                             \
    static void NAME##_bwd(rc_graph *g, rc_node *n)                               \
    {                                                                             \
        rc_node *a = n->in[0], *b = n->in[1];                                     \
        const rc_real *A = a->val.data, *B = b->val.data, *Y = n->val.data,       \
                      *G = n->grad;                                               \
        bcast bc = bcast_of(n, a, b);                                             \
        const rc_kernels *K = rc__kernels();                                      \
        (void)A, (void)B, (void)Y, (void)K;                                       \
        if (a->requires_grad) {                                                   \
            rc_real *GA = rc_grad_buf(g, a);                                      \
            if (!GA)                                                              \
                return;                                                           \
            BCAST_LOOP_RUN(bc, GRAD_A, GRAD_A_RUN);                               \
        }                                                                         \
        if (b->requires_grad) {                                                   \
            rc_real *GB = rc_grad_buf(g, b);                                      \
            if (!GB)                                                              \
                return;                                                           \
            BCAST_LOOP_RUN(bc, GRAD_B, GRAD_B_RUN);                               \
        }                                                                         \
    }                                                                             \
    static const rc_op op_##NAME = {#NAME, binary_shape, NAME##_fwd, NAME##_bwd, 0}; \
    rc_node *rc_##NAME##_at(rc_site at, rc_graph *g, rc_node *a, rc_node *b)      \
    {                                                                             \
        return rc_apply(at, g, &op_##NAME, 2, (rc_node *const[]){a, b}, NULL);   \
    }

/* Each body comes with its contiguous-run form: a vector kernel, or the
 * body in a loop. */
#define ADD_F(o, i, j) Y[o] = A[i] + B[j]
#define ADD_F_RUN(o, i, j, n) K->run(RC_RUN_ADD, Y + (o), A + (i), B + (j), n)
#define ADD_GA(o, i, j) GA[i] += G[o]
#define ADD_GA_RUN(o, i, j, n) K->run(RC_RUN_ACC, GA + (i), G + (o), NULL, n)
#define ADD_GB(o, i, j) GB[j] += G[o]
#define ADD_GB_RUN(o, i, j, n) K->run(RC_RUN_ACC, GB + (j), G + (o), NULL, n)
DEFINE_BINARY(add, ADD_F, ADD_GA, ADD_GB)

#define SUB_F(o, i, j) Y[o] = A[i] - B[j]
#define SUB_F_RUN(o, i, j, n) K->run(RC_RUN_SUB, Y + (o), A + (i), B + (j), n)
#define SUB_GB(o, i, j) GB[j] -= G[o]
#define SUB_GB_RUN(o, i, j, n) K->run(RC_RUN_NACC, GB + (j), G + (o), NULL, n)
DEFINE_BINARY(sub, SUB_F, ADD_GA, SUB_GB)

#define MUL_F(o, i, j) Y[o] = A[i] * B[j]
#define MUL_F_RUN(o, i, j, n) K->run(RC_RUN_MUL, Y + (o), A + (i), B + (j), n)
#define MUL_GA(o, i, j) GA[i] += G[o] * B[j]
#define MUL_GA_RUN(o, i, j, n) K->run(RC_RUN_FMA, GA + (i), G + (o), B + (j), n)
#define MUL_GB(o, i, j) GB[j] += G[o] * A[i]
#define MUL_GB_RUN(o, i, j, n) K->run(RC_RUN_FMA, GB + (j), G + (o), A + (i), n)
DEFINE_BINARY(mul, MUL_F, MUL_GA, MUL_GB)

/* d(a/b)/db = -a/b^2 = -y/b */
#define DIV_F(o, i, j) Y[o] = A[i] / B[j]
#define DIV_F_RUN(o, i, j, n) SCALAR_RUN(DIV_F, o, i, j, n)
#define DIV_GA(o, i, j) GA[i] += G[o] / B[j]
#define DIV_GA_RUN(o, i, j, n) SCALAR_RUN(DIV_GA, o, i, j, n)
#define DIV_GB(o, i, j) GB[j] -= G[o] * Y[o] / B[j]
#define DIV_GB_RUN(o, i, j, n) SCALAR_RUN(DIV_GB, o, i, j, n)
DEFINE_BINARY(div, DIV_F, DIV_GA, DIV_GB)

/* ---- where(mask, a, b) ------------------------------------------------------ */

static int where_shape(rc_graph *g, rc_node *n)
{
    const rc_shape *m = &n->in[0]->val.shape, *a = &n->in[1]->val.shape,
                   *b = &n->in[2]->val.shape;
    char sm[64], sa[64], sb[64];
    rc_shape out;
    if (!rc_shape_eq(*a, *b))
        return rc_fail(g, n, "a %s and b %s differ in shape", rc_shape_str(*a, sa),
                       rc_shape_str(*b, sb));
    if (broadcast_shape(m, a, &out) != 0 || !rc_shape_eq(out, *a))
        return rc_fail(g, n, "mask %s does not broadcast to %s", rc_shape_str(*m, sm),
                       rc_shape_str(*a, sa));
    n->val.shape = *a;
    return 0;
}

/* Operand "a" of the broadcast loop is the value, "b" the mask. */
static void where_fwd(rc_graph *g, rc_node *n)
{
    (void)g;
    const rc_real *M = n->in[0]->val.data, *A = n->in[1]->val.data,
                  *B = n->in[2]->val.data;
    rc_real *Y = n->val.data;
    bcast bc = bcast_of(n, n->in[1], n->in[0]);
#define WHERE_F(o, i, j) Y[o] = M[j] != 0 ? A[i] : B[i]
#define WHERE_F_RUN(o, i, j, n) SCALAR_RUN(WHERE_F, o, i, j, n)
    BCAST_LOOP_RUN(bc, WHERE_F, WHERE_F_RUN);
}

static void where_bwd(rc_graph *g, rc_node *n)
{
    const rc_real *M = n->in[0]->val.data, *G = n->grad;
    bcast bc = bcast_of(n, n->in[1], n->in[0]);
    for (int side = 1; side <= 2; side++) {
        rc_node *x = n->in[side];
        if (!x->requires_grad)
            continue;
        rc_real *GX = rc_grad_buf(g, x);
        if (!GX)
            return;
        const bool take = side == 1; /* a takes where the mask is set */
#define WHERE_G(o, i, j) GX[i] += ((M[j] != 0) == take) ? G[o] : 0
#define WHERE_G_RUN(o, i, j, n) SCALAR_RUN(WHERE_G, o, i, j, n)
        BCAST_LOOP_RUN(bc, WHERE_G, WHERE_G_RUN);
    }
}

static const rc_op op_where = {"where", where_shape, where_fwd, where_bwd, 0};

rc_node *rc_where_at(rc_site at, rc_graph *g, rc_node *mask, rc_node *a, rc_node *b)
{
    return rc_apply(at, g, &op_where, 3, (rc_node *const[]){mask, a, b}, NULL);
}
