/* Linear and Embedding: torch.nn's names, shapes and initialisation. */
#include <math.h>
#include <stdio.h>

#include "recur/nn.h"
#include "recur/op.h"

int rc_linear_init(rc_linear *l, rc_params *ps, const char *prefix, int in, int out,
                   bool bias, rc_rng *rng)
{
    char name[256];
    *l = (rc_linear){NULL, NULL, in, out};
    snprintf(name, sizeof name, "%sweight", prefix ? prefix : "");
    if (!(l->weight = rc_param(ps, name, RC_SHAPE(out, in))))
        return -1;
    if (bias) {
        snprintf(name, sizeof name, "%sbias", prefix ? prefix : "");
        if (!(l->bias = rc_param(ps, name, RC_SHAPE(out))))
            return -1;
    }
    if (rng) {
        rc_real bound = (rc_real)(1 / sqrt((double)in));
        rc_param_uniform(l->weight, -bound, bound, rng);
        rc_param_uniform(l->bias, -bound, bound, rng);
    }
    return 0;
}

rc_node *rc_linear_at(rc_site at, rc_graph *g, const rc_linear *l, rc_node *x)
{
    if (!l || !l->weight) {
        rc_fail_at(g, at, "linear", "layer is not initialised");
        return rc_poisoned(g);
    }
    rc_shape s = rc_shape_of(x);
    if (!rc_ok(x)) /* NULL or poisoned: let the op report or pass it on */
        return rc_matmul_at(at, g, x, l->weight, RC_TRANS_B);
    if (s.ndim > 2) { /* [... x in] -> [rows x in] -> [... x out] */
        rc_shape flat = {2, {(int)(rc_size(x) / (size_t)s.d[s.ndim - 1]), s.d[s.ndim - 1]}};
        rc_node *y = rc_linear_at(at, g, l, rc_reshape_at(at, g, x, flat));
        s.d[s.ndim - 1] = l->out;
        return rc_reshape_at(at, g, y, s);
    }
    return rc_matmul_bias_at(at, g, x, l->weight, l->bias, RC_TRANS_B);
}

int rc_embed_init(rc_embed *e, rc_params *ps, const char *prefix, int num, int dim,
                  rc_rng *rng)
{
    char name[256];
    *e = (rc_embed){NULL, num, dim};
    snprintf(name, sizeof name, "%sweight", prefix ? prefix : "");
    if (!(e->weight = rc_param(ps, name, RC_SHAPE(num, dim))))
        return -1;
    if (rng)
        for (size_t k = 0; k < rc_size(e->weight); k++)
            rc_data(e->weight)[k] = (rc_real)rc_rng_normal(rng);
    return 0;
}
