/* tests/op_check.h - what the op tests share: fixed random weights so a
 * loss sum(out * W) makes every output element count with its own weight,
 * and a parameter constructor that stops the test when it fails. */
#ifndef RECUR_TEST_OP_CHECK_H
#define RECUR_TEST_OP_CHECK_H

#include <stdlib.h>

#include "check.h"
#include "recur/ops.h"

#define NW 4096
static rc_real W_[NW];

static inline void init_weights(void)
{
    rc_rng r;
    rc_rng_seed(&r, 0x5eed);
    for (int k = 0; k < NW; k++) {
        double m = 0.5 + rc_rng_uniform(&r);
        W_[k] = (rc_real)(rc_rng_uniform(&r) < 0.5 ? -m : m);
    }
}

/* sum(out * W): every output element counts, each with its own weight. */
static inline rc_node *wsum(rc_graph *g, rc_node *out)
{
    if (!rc_ok(out) || rc_size(out) > NW)
        return out;
    return rc_sum(g, rc_mul(g, out, rc_input(g, rc_shape_of(out), W_)));
}

static inline rc_node *new_param(rc_params *ps, const char *name, rc_shape s)
{
    rc_node *p = rc_param(ps, name, s);
    if (!p) {
        fprintf(stderr, "rc_param(%s) failed: %s\n", name, rc_params_error(ps));
        exit(1);
    }
    return p;
}

#endif
