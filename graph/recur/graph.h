/* recur/graph.h - tensors, the graph (arena + tape), parameters, backward.
 *
 * A graph records every op call as a node on a tape, in execution order, and
 * computes it at once (eager). rc_backward() walks the tape in reverse and
 * accumulates gradients, so running a recurrent cell T times and calling
 * backward is backprop through time.
 *
 * Memory: nodes, activations and their gradients live in the graph's arena.
 * rc_graph_reset() rewinds it, so a training loop that builds the same shapes
 * every step allocates nothing after the first step. Parameters live outside
 * the arena, in an rc_params store (one contiguous value buffer, one
 * contiguous grad buffer, each parameter a named view).
 *
 * Errors are sticky: a failing call records one message (op, shapes, call
 * site) on the graph and returns a poisoned node that later ops pass through.
 * Test rc_graph_error(g) or the return of rc_backward(). recur never aborts
 * on user input.
 */
#ifndef RECUR_GRAPH_H
#define RECUR_GRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "recur/config.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One real type for the whole library: float by default, double when built
 * with -Dreal=double (used for tight gradient checks). */
#if RC_REAL_IS_DOUBLE
typedef double rc_real;
#else
typedef float rc_real;
#endif

#define RC_MAX_DIMS 4

/* A row-major shape of 0..4 dims (0 dims = scalar, size 1). */
typedef struct rc_shape {
    int ndim;
    int d[RC_MAX_DIMS];
} rc_shape;

#define RC__NARG(...) RC__NARG_(__VA_ARGS__, 4, 3, 2, 1, 0)
#define RC__NARG_(a, b, c, d, n, ...) n
/* RC_SHAPE(B, H) -> a 2-D shape. RC_SCALAR -> a 0-D shape. */
#define RC_SHAPE(...) ((rc_shape){RC__NARG(__VA_ARGS__), {__VA_ARGS__}})
#define RC_SCALAR ((rc_shape){0, {0}})

/* Dense row-major tensor; data is 64-byte aligned when recur allocated it. */
typedef struct rc_tensor {
    rc_real *data;
    rc_shape shape;
    size_t size; /* number of elements */
} rc_tensor;

typedef struct rc_graph rc_graph;
typedef struct rc_node rc_node;
typedef struct rc_params rc_params;

/* Where a builder was called from; every public builder is a macro that
 * passes RC_HERE so error messages name the caller's file and line. */
typedef struct rc_site {
    const char *file;
    int line;
} rc_site;
#define RC_HERE ((rc_site){__FILE__, __LINE__})

/* ---- memory hook ------------------------------------------------------ */

/* Every heap allocation recur makes goes through this allocator. alloc must
 * return memory aligned to `align` (a power of two, at most 64) or NULL. */
typedef struct rc_allocator {
    void *(*alloc)(void *ctx, size_t size, size_t align);
    void (*release)(void *ctx, void *ptr);
    void *ctx;
} rc_allocator;

/* Install a custom allocator (NULL restores the default). Not thread-safe:
 * call before creating any graph or parameter store. */
void rc_set_allocator(const rc_allocator *a);

/* ---- random numbers (xoshiro256**) ------------------------------------ */

typedef struct rc_rng {
    uint64_t s[4];
} rc_rng;

void rc_rng_seed(rc_rng *r, uint64_t seed);
uint64_t rc_rng_next(rc_rng *r);
double rc_rng_uniform(rc_rng *r); /* [0, 1) */
double rc_rng_normal(rc_rng *r);  /* N(0, 1) */

/* ---- shapes ----------------------------------------------------------- */

size_t rc_shape_size(rc_shape s);
bool rc_shape_eq(rc_shape a, rc_shape b);
/* Formats e.g. "[32x256]" into buf (at least 64 bytes); returns buf. */
const char *rc_shape_str(rc_shape s, char *buf);

/* ---- graph lifecycle -------------------------------------------------- */

rc_graph *rc_graph_new(void); /* NULL if out of memory */
void rc_graph_free(rc_graph *g);
/* Drop every node and the error, rewind the arena; keeps the memory.
 * Change parameter values (an optimizer step, a finite-difference probe) only
 * between a reset and the next ops: backward reads the values the forward
 * used, and products keep a weight's transpose for the rest of the graph. */
void rc_graph_reset(rc_graph *g);

/* Gradient recording (default on). Off = inference: ops compute but record
 * nothing on the tape. */
void rc_graph_set_grad(rc_graph *g, bool enabled);
bool rc_graph_grad_enabled(const rc_graph *g);
/* Training mode (default on); in eval mode dropout is the identity. */
void rc_graph_set_training(rc_graph *g, bool training);
bool rc_graph_training(const rc_graph *g);
/* Check every op's output for NaN/Inf (default on; a cheap vector scan). */
void rc_graph_set_check_finite(rc_graph *g, bool enabled);
bool rc_graph_checks_finite(const rc_graph *g);
/* Seeds the graph's generator (dropout). */
void rc_graph_seed(rc_graph *g, uint64_t seed);
rc_rng *rc_graph_rng(rc_graph *g);

/* Time spent per op kind (calls, forward and backward seconds) since the
 * graph was made; collected only when the environment has RECUR_PROFILE=1
 * (or 2, which adds ops.h's products by shape), which also prints the table
 * to stderr when the graph is freed. */
void rc_graph_profile_print(const rc_graph *g, FILE *fp);

/* The first error recorded since the last reset, or NULL. */
const char *rc_graph_error(const rc_graph *g);
size_t rc_graph_tape_length(const rc_graph *g);   /* nodes recorded */
size_t rc_graph_arena_bytes(const rc_graph *g);   /* arena capacity */

/* ---- leaves ----------------------------------------------------------- */

/* A constant input of shape s, copied from data (zeros if data is NULL).
 * Never receives a gradient. NaN/Inf in data is an error. */
rc_node *rc_input_at(rc_site at, rc_graph *g, rc_shape s, const rc_real *data);
#define rc_input(...) rc_input_at(RC_HERE, __VA_ARGS__)

/* A constant filled with one value. */
rc_node *rc_fill_at(rc_site at, rc_graph *g, rc_shape s, rc_real value);
#define rc_fill(...) rc_fill_at(RC_HERE, __VA_ARGS__)

/* A copy of x that gradients do not flow through (truncated BPTT). */
rc_node *rc_detach_at(rc_site at, rc_graph *g, rc_node *x);
#define rc_detach(...) rc_detach_at(RC_HERE, __VA_ARGS__)

/* ---- reading nodes ---------------------------------------------------- */

rc_real *rc_data(rc_node *n);         /* values (NULL for a poisoned node) */
rc_real *rc_grad(rc_node *n);         /* gradient, NULL if none reached it */
rc_shape rc_shape_of(const rc_node *n);
size_t rc_size(const rc_node *n);
rc_real rc_item(const rc_node *n);    /* first element; NaN if poisoned */
bool rc_ok(const rc_node *n);         /* false for NULL or poisoned */

/* ---- backward --------------------------------------------------------- */

/* Backprop from a scalar loss: accumulates d loss / d x into every recorded
 * node and parameter that needs it (parameter grads add up across calls
 * until rc_params_zero_grad). Once per tape: reset before the next step.
 * Returns 0, or -1 with the error on the graph. */
int rc_backward(rc_graph *g, rc_node *loss);

/* ---- parameters ------------------------------------------------------- */

rc_params *rc_params_new(void);
void rc_params_free(rc_params *ps);

/* A new zero-initialised parameter named e.g. "weight_ih_l0" (unique within
 * ps). Its node can be passed to any op on any graph. Returns NULL (message
 * in rc_params_error) on a duplicate name, bad shape or no memory.
 * Create parameters before building graphs: growing the store moves data. */
rc_node *rc_param(rc_params *ps, const char *name, rc_shape s);
const char *rc_params_error(const rc_params *ps);

size_t rc_params_count(const rc_params *ps);  /* number of tensors */
size_t rc_params_numel(const rc_params *ps);  /* number of reals */
rc_node *rc_params_at(const rc_params *ps, size_t i);
rc_node *rc_params_find(const rc_params *ps, const char *name);
const char *rc_param_name(const rc_node *p);  /* NULL if not a parameter */

/* The flat value and grad buffers (rc_params_numel reals each), in creation
 * order; every parameter is a view into them. */
rc_real *rc_params_values(rc_params *ps);
rc_real *rc_params_grads(rc_params *ps);
void rc_params_zero_grad(rc_params *ps);

/* A summary: one line per parameter (name, shape, count) and the total
 * number of parameters (not counting alignment padding). */
void rc_params_print(const rc_params *ps, FILE *fp);

/* Fill a parameter from U(lo, hi). */
void rc_param_uniform(rc_node *p, rc_real lo, rc_real hi, rc_rng *rng);

#ifdef __cplusplus
}
#endif
#endif
