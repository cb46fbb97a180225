/* A recurrent cell defined in user code: the Minimal Gated Unit (Zhou et
 * al. 2016), one gate instead of the GRU's two:
 *   f  = sigmoid(W_f x + U_f h + b_f)
 *   h~ = tanh(W_h x + U_h (f * h) + b_h)
 *   h' = (1 - f) * h + f * h~
 * Nothing in recur knows this cell: it is a few ops, and running it T times
 * records T steps that backward turns into BPTT. */
#ifndef RECUR_EXAMPLES_MGU_CELL_H
#define RECUR_EXAMPLES_MGU_CELL_H

#include <math.h>
#include <stdio.h>

#include "recur/nn.h"

typedef struct mgu {
    rc_linear Wf, Uf, Wh, Uh; /* biases live on the W_* */
} mgu;

static inline int mgu_init(mgu *c, rc_params *ps, const char *prefix, int in, int H,
                           rc_rng *rng)
{
    char a[128], b[128], d[128], e[128];
    snprintf(a, sizeof a, "%sW_f.", prefix);
    snprintf(b, sizeof b, "%sU_f.", prefix);
    snprintf(d, sizeof d, "%sW_h.", prefix);
    snprintf(e, sizeof e, "%sU_h.", prefix);
    return rc_linear_init(&c->Wf, ps, a, in, H, true, rng) ||
           rc_linear_init(&c->Uf, ps, b, H, H, false, rng) ||
           rc_linear_init(&c->Wh, ps, d, in, H, true, rng) ||
           rc_linear_init(&c->Uh, ps, e, H, H, false, rng);
}

static inline rc_node *mgu_cell(rc_graph *g, const mgu *c, rc_node *x, rc_node *h)
{
    rc_node *f = rc_sigmoid(g, rc_add(g, rc_linear(g, &c->Wf, x), rc_linear(g, &c->Uf, h)));
    rc_node *cand = rc_tanh(g, rc_add(g, rc_linear(g, &c->Wh, x),
                                      rc_linear(g, &c->Uh, rc_mul(g, f, h))));
    return rc_add(g, h, rc_mul(g, f, rc_sub(g, cand, h))); /* (1 - f) h + f h~ */
}

#endif
