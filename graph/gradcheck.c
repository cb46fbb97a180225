/* Finite-difference gradient check, public so users can test their models. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "recur/gradcheck.h"

#if RC_REAL_IS_DOUBLE
static const double default_eps = 1e-5, default_floor = 1e-4;
#else
/* float32 differences are noise-bound (the loss rounds at ~1e-7 of itself):
 * over the test suite the worst error is 0.0054 with 1e-2, 0.0103 with 5e-3 */
static const double default_eps = 1e-2, default_floor = 1e-2;
#endif

/* Rebuild the loss from scratch with the generator seeded as for every
 * other evaluation, so stochastic ops (dropout) draw the same numbers. */
static int evaluate(rc_graph *g, rc_build_fn build, void *ctx, uint64_t seed,
                    bool with_grad, rc_node **loss, char *err, size_t errlen)
{
    rc_graph_reset(g);
    rc_graph_seed(g, seed);
    rc_graph_set_grad(g, with_grad);
    *loss = build(g, ctx);
    const char *e = rc_graph_error(g);
    if (e || !*loss) {
        snprintf(err, errlen, "the builder failed: %s", e ? e : "it returned NULL");
        return -1;
    }
    if (rc_size(*loss) != 1) {
        char s[64];
        snprintf(err, errlen, "the builder must return a scalar loss, got %s",
                 rc_shape_str(rc_shape_of(*loss), s));
        return -1;
    }
    return 0;
}

int rc_gradcheck(rc_graph *g, rc_build_fn build, void *ctx,
                 rc_node *const params[], size_t nparams,
                 const rc_gradcheck_opts *opts, rc_gradcheck_result *res)
{
    rc_gradcheck_result dummy;
    if (!res)
        res = &dummy;
    memset(res, 0, sizeof *res);
    if (!g || !build || (!params && nparams)) {
        snprintf(res->error, sizeof res->error, "graph, builder or parameter list is NULL");
        return -1;
    }
    for (size_t k = 0; k < nparams; k++)
        if (!params[k] || !params[k]->name) {
            snprintf(res->error, sizeof res->error,
                     "entry %zu is not a parameter (make it with rc_param)", k);
            return -1;
        }
    const double eps = opts && opts->eps > 0 ? opts->eps : default_eps;
    const double floor_ = opts && opts->floor > 0 ? opts->floor : default_floor;
    const size_t max_per = opts ? opts->max_per_param : 0;
    const uint64_t seed = opts ? opts->seed : 0;
    const bool was_grad = rc_graph_grad_enabled(g);

    /* The tape's gradients, without disturbing what the caller's grads hold. */
    size_t total = 0;
    for (size_t k = 0; k < nparams; k++)
        total += params[k]->val.size;
    rc_real *saved = rc__alloc(2 * (total ? total : 1) * sizeof(rc_real));
    if (!saved) {
        snprintf(res->error, sizeof res->error, "out of memory");
        return -1;
    }
    rc_real *analytic = saved + total;
    for (size_t k = 0, off = 0; k < nparams; off += params[k]->val.size, k++) {
        memcpy(saved + off, params[k]->grad, params[k]->val.size * sizeof(rc_real));
        memset(params[k]->grad, 0, params[k]->val.size * sizeof(rc_real));
    }
    int rc = -1;
    rc_node *loss;
    if (evaluate(g, build, ctx, seed, true, &loss, res->error, sizeof res->error))
        goto done;
    if (rc_backward(g, loss) != 0) {
        snprintf(res->error, sizeof res->error, "backward failed: %s", rc_graph_error(g));
        goto done;
    }
    for (size_t k = 0, off = 0; k < nparams; off += params[k]->val.size, k++)
        memcpy(analytic + off, params[k]->grad, params[k]->val.size * sizeof(rc_real));

    rc_rng pick;
    rc_rng_seed(&pick, seed ^ 0x9c4ec4);
    for (size_t k = 0, off = 0; k < nparams; off += params[k]->val.size, k++) {
        rc_node *p = params[k];
        size_t n = p->val.size, count = max_per && max_per < n ? max_per : n;
        for (size_t j = 0; j < count; j++) {
            size_t idx = count == n ? j : (size_t)(rc_rng_next(&pick) % n);
            rc_real orig = p->val.data[idx];
            double fp, fm;
            p->val.data[idx] = (rc_real)(orig + eps);
            double hp = (double)p->val.data[idx] - (double)orig; /* step actually taken */
            int bad = evaluate(g, build, ctx, seed, false, &loss, res->error, sizeof res->error);
            fp = (double)rc_item(loss);
            p->val.data[idx] = (rc_real)(orig - eps);
            double hm = (double)orig - (double)p->val.data[idx];
            bad = bad || evaluate(g, build, ctx, seed, false, &loss, res->error,
                                  sizeof res->error);
            fm = (double)rc_item(loss);
            p->val.data[idx] = orig;
            if (bad)
                goto done;
            double num = (fp - fm) / (hp + hm), ana = (double)analytic[off + idx];
            double den = fmax(fmax(fabs(ana), fabs(num)), floor_);
            double err = fabs(ana - num) / den;
            res->checked++;
            if (err > res->max_rel_err || res->checked == 1) {
                res->max_rel_err = err;
                res->worst_param = p->name;
                res->worst_index = idx;
                res->analytic = ana;
                res->numeric = num;
            }
        }
    }
    rc = 0;
done:
    for (size_t k = 0, off = 0; k < nparams; off += params[k]->val.size, k++)
        memcpy(params[k]->grad, saved + off, params[k]->val.size * sizeof(rc_real));
    rc__free(saved);
    rc_graph_reset(g);
    rc_graph_set_grad(g, was_grad);
    return rc;
}

int rc_gradcheck_params(rc_graph *g, rc_build_fn build, void *ctx, rc_params *ps,
                        const rc_gradcheck_opts *opts, rc_gradcheck_result *res)
{
    size_t n = rc_params_count(ps);
    rc_node **list = rc__alloc((n ? n : 1) * sizeof *list);
    if (!list) {
        if (res)
            snprintf(res->error, sizeof res->error, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        list[i] = rc_params_at(ps, i);
    int rc = rc_gradcheck(g, build, ctx, list, n, opts, res);
    rc__free(list);
    return rc;
}
