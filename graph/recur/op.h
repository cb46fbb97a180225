/* recur/op.h - the op-author interface: what an op is, what a node holds.
 *
 * An op is one rc_op entry with its shape check, forward and backward side by
 * side. A builder calls rc_apply(), which appends a node, runs the shape
 * check, allocates the output in the arena, runs forward, checks the output
 * is finite and records the node on the tape when a gradient may be needed.
 * The built-in ops in ops/ use exactly this interface; so can users.
 */
#ifndef RECUR_OP_H
#define RECUR_OP_H

#include <stdarg.h>

#include "recur/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rc_op {
    const char *name;
    /* Check the inputs and set n->val.shape. On failure call rc_fail() and
     * return -1; nothing is allocated or computed then. */
    int (*shape)(rc_graph *g, rc_node *n);
    /* Compute n->val from the inputs. */
    void (*forward)(rc_graph *g, rc_node *n);
    /* Add d loss / d input into rc_grad_buf(g, input) for each input that
     * requires a gradient, from n->grad. Accumulate, never overwrite (unless
     * rc_grad_for_write said the buffer is fresh). NULL for views. */
    void (*backward)(rc_graph *g, rc_node *n);
    unsigned flags;
} rc_op;

/* flags */
/* Forward points n->val.data into input 0's data (no copy, no alloc). The
 * view's gradient is then input 0's gradient at the same offset, so a view
 * has no backward and is not recorded on the tape. */
#define RC_OP_VIEW 1u
/* Backward runs even when no gradient reached the node (n->grad NULL then):
 * for an op that writes its own part of a buffer other ops share, which
 * must not be left as it was (a fused cell's rows of a hoisted projection's
 * gradient, see ops/cell.c). */
#define RC_OP_BACKWARD_ALWAYS 2u

/* Inline attributes an op may read; set by the builder through rc_attrs. */
typedef struct rc_attrs {
    int i[4];
    double f[2];
    const void *aux;  /* copied into the arena (ids, masks) when aux_bytes > 0 */
    size_t aux_bytes;
} rc_attrs;

struct rc_node {
    const rc_op *op;      /* NULL for leaves (inputs, parameters) */
    rc_node **in;         /* nin inputs, in the arena */
    int nin;
    rc_tensor val;        /* output */
    rc_real *grad;        /* d loss / d val; lazily allocated, NULL if none */
    bool requires_grad;   /* some parameter upstream: keep on the tape (set
                             before forward, which may keep nothing for a
                             backward that will not run) */
    bool poisoned;        /* result of a failed call */
    bool checked;         /* forward found its output finite (see rc_all_finite) */
    int uses;             /* input slots of later nodes that read it, so far: a
                             backward seeing 1 from its own knows no other op
                             will add into this node's gradient */
    bool read_once;       /* see rc_rows_read_once */
    int i[4];             /* attributes (axis, flags, ...) */
    double f[2];
    void *aux;            /* op-owned arena memory: ids, masks, saved values */
    rc_site at;           /* where the builder was called */
    /* parameters only */
    const char *name;
    size_t offset;        /* into the store's flat buffers */
};

/* Append a node for op over inputs and compute it; see the top of the file.
 * Returns a poisoned node (never NULL unless g is NULL) when the graph
 * already failed, an input is NULL or poisoned, or the op's shape check
 * fails. */
rc_node *rc_apply(rc_site at, rc_graph *g, const rc_op *op, int nin,
                  rc_node *const in[], const rc_attrs *attrs);

/* Record the graph's error: "<op> at <file>:<line>: <message>". Only the
 * first error sticks. Returns -1 for convenience in shape checks. */
int rc_fail(rc_graph *g, const rc_node *n, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
int rc_vfail(rc_graph *g, const rc_node *n, const char *fmt, va_list ap);

/* The same for code above ops (layers, user modules) that has no node:
 * records "<what> at <file>:<line>: <message>". Returns -1. */
int rc_fail_at(rc_graph *g, rc_site at, const char *what, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* Whether x[0..n) holds no NaN or Inf. rc_apply scans every op's output
 * with it after forward, on the calling thread. A forward that splits its
 * work over threads can instead scan each part while it is still in cache
 * (when rc_graph_checks_finite) and set n->checked when all parts pass;
 * rc_apply then skips its scan. If a part fails, leave n->checked false:
 * rc_apply's scan finds the value and names the op. */
bool rc_all_finite(const rc_real *x, size_t n);

/* The graph's poisoned node: what a failed builder returns. */
rc_node *rc_poisoned(rc_graph *g);

/* 64-byte aligned arena memory, valid until rc_graph_reset. NULL (and an
 * error on the graph) when out of memory. rc_arena_zalloc zeroes it. */
void *rc_arena_alloc(rc_graph *g, size_t bytes);
void *rc_arena_zalloc(rc_graph *g, size_t bytes);
/* The same from a second region of the arena that only this call uses, so
 * buffers asked for one after another lie one after another (mostly: a new
 * block of the region breaks the run) whatever else is allocated between:
 * for per-step buffers that a later op reads as one block, such as a
 * recurrent cell's d gates, which its weight's deferred gradient then reads
 * in place instead of copying. */
void *rc_arena_alloc_run(rc_graph *g, size_t bytes);

/* A per-graph memo for data an op derives once and shares across its calls,
 * e.g. a weight's transpose for every time step: the value put under (key,
 * tag) until rc_graph_reset. Values must live in the arena. */
void *rc_memo_get(rc_graph *g, const void *key, int tag);
void rc_memo_put(rc_graph *g, const void *key, int tag, void *value);

/* Backward work an op postpones until the whole tape has been walked: fn
 * runs once before rc_backward returns, with every node deferred to it in
 * the order deferred (matmul sums a repeated weight's per-step gradient
 * pieces in one product this way). What fn reads must stay unchanged until
 * then: input values and the deferring node's own gradient do. Returns -1
 * (error recorded) when out of memory. */
typedef void (*rc_deferred_fn)(rc_graph *g, rc_node *const nodes[], size_t count);
int rc_defer(rc_graph *g, rc_deferred_fn fn, rc_node *n);

/* The gradient buffer of n, zero-filled on first use. For parameters this is
 * their persistent grad. NULL only when out of memory (error recorded). */
rc_real *rc_grad_buf(rc_graph *g, rc_node *n);

/* Declares that x (a matrix computed by an op) is read by one op in
 * forward only, whole or (through views) each row block by one op, and
 * that nothing else will read x's values: that op may then keep its own
 * data there. For a value its creator never hands out, e.g. a layer's
 * hoisted input projection, which every time step reads rows of (a fused
 * LSTM step keeps its gate activations there), or rc_lstm_cell's input
 * product. Ignored for leaves and views. */
void rc_rows_read_once(rc_node *x);

/* For a backward that writes every element of x's gradient: when x has no
 * gradient buffer yet (nor, for a reshape, the node it views), a new one
 * that is NOT zeroed and *fresh = true, so the
 * caller overwrites instead of accumulating (saves a zero-fill and a read);
 * otherwise the existing buffer and *fresh = false. NULL when x needs no
 * gradient or out of memory. */
rc_real *rc_grad_for_write(rc_graph *g, rc_node *x, bool *fresh);

/* For a backward whose gradient for x equals an arena buffer it computed
 * (e.g. d z of a fused cell): when x needs a gradient and has no buffer yet
 * (nor, for a reshape, the node it views), x takes buf as its gradient and
 * this returns true; the caller may finish the gradient in buf within this
 * backward, and must not use buf otherwise afterwards. Otherwise false: add buf into
 * rc_grad_buf(g, x) yourself. rc_grad_shareable says beforehand which it
 * will be (so a buffer that will not be kept can be a reused scratch). */
bool rc_grad_share(rc_node *x, rc_real *buf);
bool rc_grad_shareable(const rc_node *x);

/* The gradient buffer of input x if x needs a gradient, else NULL: how most
 * backward functions start ("nothing to do" and "out of memory" both stop). */
static inline rc_real *rc_input_grad(rc_graph *g, rc_node *x)
{
    return x->requires_grad ? rc_grad_buf(g, x) : NULL;
}

#ifdef __cplusplus
}
#endif
#endif
