/* tests/check.h - the small assertion kit every test uses.
 * A failed check prints file:line and the values, and the test goes on;
 * check_finish() returns the exit status (0 when all passed). */
#ifndef RECUR_TEST_CHECK_H
#define RECUR_TEST_CHECK_H

#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "recur/gradcheck.h"
#include "recur/graph.h"

/* Gradient-check tolerance the issue sets per build. */
#if RC_REAL_IS_DOUBLE
#define GRAD_TOL 1e-6
#define VALUE_TOL 1e-12
#else
#define GRAD_TOL 1e-2
#define VALUE_TOL 1e-5
#endif

static int check_failed_, check_total_;

#define CHECK(cond)                                                          \
    do {                                                                     \
        check_total_++;                                                      \
        if (!(cond)) {                                                       \
            check_failed_++;                                                 \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                  \
        }                                                                    \
    } while (0)

/* |a - b| <= tol * max(1, |b|) */
#define CHECK_NEAR(a, b, tol)                                                    \
    do {                                                                         \
        double a_ = (double)(a), b_ = (double)(b), t_ = (double)(tol);           \
        check_total_++;                                                          \
        if (!(fabs(a_ - b_) <= t_ * fmax(1.0, fabs(b_)))) {                      \
            check_failed_++;                                                     \
            fprintf(stderr, "%s:%d: CHECK_NEAR failed: %s = %.10g, %s = %.10g\n", \
                    __FILE__, __LINE__, #a, a_, #b, b_);                         \
        }                                                                        \
    } while (0)

/* Every element of node n equals want[0..count). */
#define CHECK_VALUES(n, want, count, tol)                                       \
    do {                                                                        \
        const rc_real *got_ = rc_data(n);                                       \
        check_total_++;                                                         \
        if (!got_ || rc_size(n) != (size_t)(count)) {                           \
            check_failed_++;                                                    \
            fprintf(stderr, "%s:%d: %s has %zu values, want %zu\n", __FILE__,   \
                    __LINE__, #n, got_ ? rc_size(n) : 0, (size_t)(count));      \
            break;                                                              \
        }                                                                       \
        for (size_t k_ = 0; k_ < (size_t)(count); k_++) {                       \
            double w_ = (double)(want)[k_];                                     \
            if (!(fabs((double)got_[k_] - w_) <= (tol) * fmax(1.0, fabs(w_)))) { \
                check_failed_++;                                                \
                fprintf(stderr, "%s:%d: %s[%zu] = %.10g, want %.10g\n",         \
                        __FILE__, __LINE__, #n, k_, (double)got_[k_], w_);      \
                break;                                                          \
            }                                                                   \
        }                                                                       \
    } while (0)

/* The graph carries no error. */
#define CHECK_NO_ERROR(g)                                                       \
    do {                                                                        \
        check_total_++;                                                         \
        if (rc_graph_error(g)) {                                                \
            check_failed_++;                                                    \
            fprintf(stderr, "%s:%d: unexpected error: %s\n", __FILE__, __LINE__, \
                    rc_graph_error(g));                                         \
        }                                                                       \
    } while (0)

/* The graph carries an error whose text contains every given fragment. */
#define CHECK_ERROR_HAS(g, fragment)                                            \
    do {                                                                        \
        const char *e_ = rc_graph_error(g);                                     \
        check_total_++;                                                         \
        if (!e_ || !strstr(e_, (fragment))) {                                   \
            check_failed_++;                                                    \
            fprintf(stderr, "%s:%d: want an error containing \"%s\", got %s\n", \
                    __FILE__, __LINE__, (fragment), e_ ? e_ : "(none)");        \
        }                                                                       \
    } while (0)

/* Gradient check of build over params; passes when the worst relative
 * error is below GRAD_TOL. label names the case in the output. */
static inline void check_grad_(const char *file, int line, const char *label,
                               rc_graph *g, rc_build_fn build, void *ctx,
                               rc_node *const *params, size_t n)
{
    rc_gradcheck_result r;
    check_total_++;
    if (rc_gradcheck(g, build, ctx, params, n, NULL, &r) != 0) {
        check_failed_++;
        fprintf(stderr, "%s:%d: gradcheck %s could not run: %s\n", file, line, label,
                r.error);
        return;
    }
    if (!(r.max_rel_err < GRAD_TOL) || r.checked == 0) {
        check_failed_++;
        fprintf(stderr,
                "%s:%d: gradcheck %s: rel err %.3g at %s[%zu] (tape %.10g, numeric "
                "%.10g), %zu checked\n",
                file, line, label, r.max_rel_err, r.worst_param, r.worst_index,
                r.analytic, r.numeric, r.checked);
    } else if (getenv("RECUR_TEST_VERBOSE")) {
        printf("gradcheck %-28s rel err %.3g over %zu elements\n", label,
               r.max_rel_err, r.checked);
    }
}
#define CHECK_GRAD(label, g, build, ctx, params, n) \
    check_grad_(__FILE__, __LINE__, (label), (g), (build), (ctx), (params), (n))

static inline int check_finish(const char *name)
{
    printf("%s: %d checks, %d failed\n", name, check_total_, check_failed_);
    return check_failed_ ? 1 : 0;
}

#endif
