/* recur/gradcheck.h - check a model's gradients by central finite differences.
 *
 * You give a function that builds the model's scalar loss on a graph, and the
 * parameters to check. rc_gradcheck runs it once with backward to get the
 * tape's gradients, then for each checked element x of each parameter
 * rebuilds the loss at x+eps and x-eps (gradients off) and compares
 *     numeric = (f(x+eps) - f(x-eps)) / (2 eps)
 * with the tape's value by the relative error
 *     |analytic - numeric| / max(|analytic|, |numeric|, floor).
 * The graph's generator is re-seeded identically before every build, so
 * dropout masks repeat. Parameter values are restored afterwards.
 */
#ifndef RECUR_GRADCHECK_H
#define RECUR_GRADCHECK_H

#include "recur/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Builds the loss (a scalar node) on g from the current parameter values. */
typedef rc_node *(*rc_build_fn)(rc_graph *g, void *ctx);

typedef struct rc_gradcheck_opts {
    double eps;            /* 0 = default: 1e-5 (double build), 1e-2 (float) */
    double floor;          /* 0 = default: 1e-4 (double), 1e-2 (float) */
    size_t max_per_param;  /* 0 = every element; else a seeded sample */
    uint64_t seed;         /* sampling and the graph's generator */
} rc_gradcheck_opts;

typedef struct rc_gradcheck_result {
    double max_rel_err;     /* worst relative error seen */
    const char *worst_param;
    size_t worst_index;     /* flat index into that parameter */
    double analytic, numeric; /* the two values at the worst element */
    size_t checked;         /* elements compared */
    char error[512];        /* empty, or why the check could not run */
} rc_gradcheck_result;

/* Check params[0..nparams) (parameter nodes). Returns 0 when it ran (read
 * res->max_rel_err), -1 when the builder failed or the inputs were bad
 * (res->error says why). opts may be NULL for defaults. */
int rc_gradcheck(rc_graph *g, rc_build_fn build, void *ctx,
                 rc_node *const params[], size_t nparams,
                 const rc_gradcheck_opts *opts, rc_gradcheck_result *res);

/* The same over every parameter of ps. */
int rc_gradcheck_params(rc_graph *g, rc_build_fn build, void *ctx,
                        rc_params *ps, const rc_gradcheck_opts *opts,
                        rc_gradcheck_result *res);

#ifdef __cplusplus
}
#endif
#endif
