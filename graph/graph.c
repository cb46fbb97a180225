/* The graph: arena, tape, sticky error, rc_apply (record and compute one op)
 * and backward (the tape walked in reverse). */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

struct rc_graph {
    rc_arena arena;
    rc_arena runs; /* rc_arena_alloc_run's region */
    rc_node **tape; /* kept across resets, grown only past its largest use */
    size_t ntape, captape;
    bool grad_on, training, check_finite, backward_done, failed;
    rc_rng rng;
    rc_node poison;
    /* backward work postponed to the end of the walk (rc_defer) */
    struct deferred {
        rc_deferred_fn fn;
        rc_node *node;
    } *deferred;
    size_t ndeferred, capdeferred;
    struct memo *memo; /* rc_memo_put entries, in the arena */
    char error[768];
    /* RECUR_PROFILE=1: time and arena bytes per op kind, forward and backward */
    bool profiling;
    /* backward's deferred work; rc_apply's NaN/Inf scans (an op that scans its
     * own output, n->checked, counts that in its own time) */
    double deferred_s, scan_s;
    size_t deferred_bytes, steps; /* steps: resets of a used arena */
    struct op_time {
        const rc_op *op;
        double fwd, bwd;
        size_t fwd_bytes, bwd_bytes; /* summed over steps */
        long calls;
    } prof[64];
};

static double seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static struct op_time *op_time_of(rc_graph *g, const rc_op *op)
{
    for (int k = 0; k < 64; k++) {
        if (g->prof[k].op == op)
            return &g->prof[k];
        if (!g->prof[k].op) {
            g->prof[k].op = op;
            return &g->prof[k];
        }
    }
    return &g->prof[63]; /* more kinds than slots: lump the rest together */
}

/* bytes handed out since the last reset */
static size_t handed(const rc_graph *g) { return g->arena.handed + g->runs.handed; }

void rc_graph_profile_print(const rc_graph *g, FILE *fp)
{
    if (!g || !fp)
        return;
    double total = 0;
    for (int k = 0; k < 64 && g->prof[k].op; k++)
        total += g->prof[k].fwd + g->prof[k].bwd;
    total += g->deferred_s + g->scan_s;
    /* arena MB per step: what an op's nodes, values and gradients hold */
    const size_t steps = g->steps + (handed(g) > 0);
    const double mb = 1.0 / ((double)(1 << 20) * (double)(steps ? steps : 1));
    fprintf(fp, "%-16s %10s %10s %10s %6s %9s %9s\n", "op", "calls", "fwd s", "bwd s", "share",
            "fwd MB", "bwd MB");
    for (int k = 0; k < 64 && g->prof[k].op; k++) {
        const struct op_time *t = &g->prof[k];
        fprintf(fp, "%-16s %10ld %10.3f %10.3f %5.1f%% %9.1f %9.1f\n", t->op->name, t->calls,
                t->fwd, t->bwd, total > 0 ? 100 * (t->fwd + t->bwd) / total : 0,
                (double)t->fwd_bytes * mb, (double)t->bwd_bytes * mb);
    }
    fprintf(fp, "%-16s %10s %10s %10.3f %5.1f%% %9s %9.1f\n", "(deferred)", "", "",
            g->deferred_s, total > 0 ? 100 * g->deferred_s / total : 0, "",
            (double)g->deferred_bytes * mb);
    fprintf(fp, "%-16s %10s %10.3f %10s %5.1f%%\n", "(NaN scan)", "", g->scan_s, "",
            total > 0 ? 100 * g->scan_s / total : 0);
}

/* ---- shapes ------------------------------------------------------------ */

size_t rc_shape_size(rc_shape s)
{
    size_t n = 1;
    for (int i = 0; i < s.ndim; i++)
        n *= (size_t)(s.d[i] > 0 ? s.d[i] : 0);
    return n;
}

bool rc_shape_eq(rc_shape a, rc_shape b)
{
    if (a.ndim != b.ndim)
        return false;
    for (int i = 0; i < a.ndim; i++)
        if (a.d[i] != b.d[i])
            return false;
    return true;
}

const char *rc_shape_str(rc_shape s, char *buf)
{
    if (s.ndim < 0 || s.ndim > RC_MAX_DIMS) {
        snprintf(buf, 64, "[bad ndim %d]", s.ndim);
        return buf;
    }
    int k = snprintf(buf, 64, "[");
    for (int i = 0; i < s.ndim; i++)
        k += snprintf(buf + k, (size_t)(64 - k), i ? "x%d" : "%d", s.d[i]);
    snprintf(buf + k, (size_t)(64 - k), "]");
    return buf;
}

static bool shape_valid(rc_shape s)
{
    if (s.ndim < 0 || s.ndim > RC_MAX_DIMS)
        return false;
    for (int i = 0; i < s.ndim; i++)
        if (s.d[i] <= 0)
            return false;
    return true;
}

/* ---- lifecycle --------------------------------------------------------- */

rc_graph *rc_graph_new(void)
{
    rc_graph *g = rc__alloc(sizeof *g);
    if (!g)
        return NULL;
    memset(g, 0, sizeof *g);
    g->grad_on = g->training = g->check_finite = true;
    const char *prof = getenv("RECUR_PROFILE");
    g->profiling = prof && *prof && strcmp(prof, "0") != 0;
    g->poison.poisoned = true;
    rc_rng_seed(&g->rng, 0x5eed);
    return g;
}

void rc_graph_free(rc_graph *g)
{
    if (!g)
        return;
    if (g->profiling)
        rc_graph_profile_print(g, stderr);
    rc__arena_free(&g->arena);
    rc__arena_free(&g->runs);
    rc__free(g->tape);
    rc__free(g->deferred);
    rc__free(g);
}

void rc_graph_reset(rc_graph *g)
{
    if (!g)
        return;
    g->steps += handed(g) > 0;
    rc__arena_rewind(&g->arena);
    rc__arena_rewind(&g->runs);
    g->ntape = g->ndeferred = 0;
    g->memo = NULL;
    g->failed = g->backward_done = false;
    g->error[0] = '\0';
}

void rc_graph_set_grad(rc_graph *g, bool on) { if (g) g->grad_on = on; }
bool rc_graph_grad_enabled(const rc_graph *g) { return g && g->grad_on; }
void rc_graph_set_training(rc_graph *g, bool on) { if (g) g->training = on; }
bool rc_graph_training(const rc_graph *g) { return g && g->training; }
void rc_graph_set_check_finite(rc_graph *g, bool on) { if (g) g->check_finite = on; }
bool rc_graph_checks_finite(const rc_graph *g) { return g && g->check_finite; }
void rc_graph_seed(rc_graph *g, uint64_t seed) { if (g) rc_rng_seed(&g->rng, seed); }
rc_rng *rc_graph_rng(rc_graph *g) { return g ? &g->rng : NULL; }
size_t rc_graph_tape_length(const rc_graph *g) { return g ? g->ntape : 0; }
size_t rc_graph_arena_bytes(const rc_graph *g)
{
    return g ? g->arena.capacity + g->runs.capacity : 0;
}

const char *rc_graph_error(const rc_graph *g)
{
    if (!g)
        return "graph is NULL";
    return g->failed ? g->error : NULL;
}

/* ---- errors -------------------------------------------------------------- */

static int vfail_at(rc_graph *g, const char *what, rc_site at, const char *fmt,
                    va_list ap)
{
    if (!g || g->failed)
        return -1;
    g->failed = true;
    int k = snprintf(g->error, sizeof g->error, "%s at %s:%d: ", what,
                     at.file ? at.file : "?", at.line);
    if (k < 0 || (size_t)k >= sizeof g->error)
        k = 0;
    vsnprintf(g->error + k, sizeof g->error - (size_t)k, fmt, ap);
    return -1;
}

int rc_fail_at(rc_graph *g, rc_site at, const char *what, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail_at(g, what, at, fmt, ap);
    va_end(ap);
    return -1;
}

int rc_vfail(rc_graph *g, const rc_node *n, const char *fmt, va_list ap)
{
    const char *what = n && n->op ? n->op->name : "input";
    return vfail_at(g, what, n ? n->at : (rc_site){NULL, 0}, fmt, ap);
}

int rc_fail(rc_graph *g, const rc_node *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rc_vfail(g, n, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- memory -------------------------------------------------------------- */

static void *arena_alloc(rc_graph *g, rc_arena *a, size_t bytes)
{
    void *p = rc__arena_alloc(a, bytes);
    if (!p)
        rc_fail_at(g, (rc_site){__FILE__, __LINE__}, "arena",
                    "out of memory asking for %zu bytes", bytes);
    return p;
}

void *rc_arena_alloc(rc_graph *g, size_t bytes) { return arena_alloc(g, &g->arena, bytes); }

void *rc_arena_alloc_run(rc_graph *g, size_t bytes) { return arena_alloc(g, &g->runs, bytes); }

void *rc_arena_zalloc(rc_graph *g, size_t bytes)
{
    void *p = rc_arena_alloc(g, bytes);
    if (p)
        memset(p, 0, bytes);
    return p;
}

static bool is_view(const rc_node *n) { return n->op && (n->op->flags & RC_OP_VIEW); }

/* A view's gradient is its input's gradient at the same offset: consumers of
 * the view accumulate straight into the input's buffer, and the view needs no
 * backward (nor a place on the tape). */
rc_real *rc_grad_buf(rc_graph *g, rc_node *n)
{
    if (n->grad)
        return n->grad;
    if (is_view(n)) {
        rc_node *x = n->in[0];
        rc_real *gx = rc_grad_buf(g, x);
        if (gx)
            n->grad = gx + (n->val.data - x->val.data);
    } else {
        n->grad = rc_arena_zalloc(g, n->val.size * sizeof(rc_real));
    }
    return n->grad;
}

void rc_rows_read_once(rc_node *x)
{
    if (rc_ok(x) && x->op && !is_view(x))
        x->read_once = true;
}

/* The node that owns x's gradient buffer when x has none yet: x, or the base
 * of views that each cover all of their input (reshapes: views are
 * contiguous, so the same start and size is the same layout). NULL when x
 * has a buffer or needs none, or a view covers only part of its input. */
static rc_node *whole_grad_owner(rc_node *x)
{
    if (!x->requires_grad || x->grad)
        return NULL;
    while (is_view(x)) {
        rc_node *base = x->in[0];
        if (x->val.data != base->val.data || x->val.size != base->val.size || base->grad)
            return NULL;
        x = base;
    }
    return x;
}

/* x and the views between it and its owner take buf as their gradient. */
static rc_real *take_grad(rc_node *x, rc_real *buf)
{
    for (rc_node *v = x; buf; v = v->in[0]) {
        v->grad = buf;
        if (!is_view(v))
            break;
    }
    return buf;
}

bool rc_grad_shareable(const rc_node *x)
{
    return whole_grad_owner((rc_node *)x) != NULL;
}

bool rc_grad_share(rc_node *x, rc_real *buf)
{
    return whole_grad_owner(x) && take_grad(x, buf);
}

rc_real *rc_grad_for_write(rc_graph *g, rc_node *x, bool *fresh)
{
    *fresh = false;
    const rc_node *owner = whole_grad_owner(x);
    if (!owner)
        return x->requires_grad ? rc_grad_buf(g, x) : NULL;
    *fresh = true;
    return take_grad(x, rc_arena_alloc(g, owner->val.size * sizeof(rc_real)));
}

/* A heap array that resets keep (the tape, the deferred list), with room for
 * one more element: the same array, or a copy of it twice the size (the
 * first one `first` long), so growth stops at the largest step. NULL when
 * out of memory (the array and *cap are left as they were). */
static void *with_room(void *items, size_t *cap, size_t used, size_t size, size_t first)
{
    if (used < *cap)
        return items;
    size_t n = *cap ? 2 * *cap : first;
    void *grown = rc__alloc(n * size);
    if (!grown)
        return NULL;
    if (used)
        memcpy(grown, items, used * size);
    rc__free(items);
    *cap = n;
    return grown;
}

static int tape_push(rc_graph *g, rc_node *n)
{
    rc_node **tape = with_room(g->tape, &g->captape, g->ntape, sizeof *tape, 1024);
    if (!tape)
        return rc_fail_at(g, n->at, "tape", "out of memory growing the tape");
    g->tape = tape;
    g->tape[g->ntape++] = n;
    return 0;
}

/* ---- memo and deferred backward work ------------------------------------- */

struct memo {
    const void *key;
    int tag;
    void *value;
    struct memo *next;
};

void *rc_memo_get(rc_graph *g, const void *key, int tag)
{
    for (struct memo *m = g->memo; m; m = m->next)
        if (m->key == key && m->tag == tag)
            return m->value;
    return NULL;
}

void rc_memo_put(rc_graph *g, const void *key, int tag, void *value)
{
    struct memo *m = rc_arena_alloc(g, sizeof *m);
    if (!m)
        return;
    *m = (struct memo){key, tag, value, g->memo};
    g->memo = m;
}

int rc_defer(rc_graph *g, rc_deferred_fn fn, rc_node *n)
{
    struct deferred *d = with_room(g->deferred, &g->capdeferred, g->ndeferred, sizeof *d, 256);
    if (!d)
        return rc_fail(g, n, "out of memory deferring backward work");
    g->deferred = d;
    g->deferred[g->ndeferred++] = (struct deferred){fn, n};
    return 0;
}

/* Each deferring function once, with its nodes in the order deferred. */
static void run_deferred(rc_graph *g)
{
    rc_node **nodes = g->ndeferred ? rc_arena_alloc(g, g->ndeferred * sizeof *nodes) : NULL;
    for (size_t i = 0; nodes && i < g->ndeferred && !g->failed; i++) {
        rc_deferred_fn fn = g->deferred[i].fn;
        if (!fn)
            continue;
        size_t count = 0;
        for (size_t j = i; j < g->ndeferred; j++)
            if (g->deferred[j].fn == fn) {
                nodes[count++] = g->deferred[j].node;
                g->deferred[j].fn = NULL;
            }
        fn(g, nodes, count);
    }
    g->ndeferred = 0;
}

/* ---- nodes ----------------------------------------------------------------- */

/* Finite iff x*0 == 0 (x*0 is NaN for NaN and Inf). Four 64-byte vector
 * accumulators, so four add chains run at once: one chain waits on the add's
 * latency, and an array of lanes GCC kept in memory (4x slower). It reads
 * every op's output, so it gets a clone per vector width (graph/ cannot use
 * the ops' kernel tables). */
typedef rc_real finite_vec __attribute__((vector_size(64)));
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
bool rc_all_finite(const rc_real *x, size_t n)
{
    enum { VL = 64 / sizeof(rc_real) };
    finite_vec a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, v0, v1, v2, v3;
    size_t i = 0;
    for (; i + 4 * VL <= n; i += 4 * VL) {
        memcpy(&v0, x + i, sizeof v0);
        memcpy(&v1, x + i + VL, sizeof v1);
        memcpy(&v2, x + i + 2 * VL, sizeof v2);
        memcpy(&v3, x + i + 3 * VL, sizeof v3);
        a0 += v0 * 0;
        a1 += v1 * 0;
        a2 += v2 * 0;
        a3 += v3 * 0;
    }
    rc_real rest = 0;
    for (; i < n; i++)
        rest += x[i] * 0;
    const finite_vec sum = (a0 + a1) + (a2 + a3);
    for (int k = 0; k < (int)VL; k++)
        rest += sum[k];
    return rest == 0;
}

static rc_node *leaf(rc_site at, rc_graph *g, const char *what, rc_shape s)
{
    if (!g)
        return NULL;
    if (g->failed)
        return &g->poison;
    char buf[64];
    if (!shape_valid(s)) {
        rc_fail_at(g, at, what, "invalid shape %s (1..4 dims, each > 0)",
                    rc_shape_str(s, buf));
        return &g->poison;
    }
    rc_node *n = rc_arena_zalloc(g, sizeof *n);
    if (!n)
        return &g->poison;
    n->val.shape = s;
    n->val.size = rc_shape_size(s);
    n->val.data = rc_arena_alloc(g, n->val.size * sizeof(rc_real));
    n->at = at;
    return n->val.data ? n : &g->poison;
}

rc_node *rc_input_at(rc_site at, rc_graph *g, rc_shape s, const rc_real *data)
{
    rc_node *n = leaf(at, g, "input", s);
    if (!rc_ok(n))
        return n;
    if (!data) {
        memset(n->val.data, 0, n->val.size * sizeof(rc_real));
        return n;
    }
    memcpy(n->val.data, data, n->val.size * sizeof(rc_real));
    if (g->check_finite && !rc_all_finite(data, n->val.size)) {
        for (size_t i = 0; i < n->val.size; i++)
            if (!isfinite(data[i])) {
                rc_fail_at(g, at, "input", "element %zu is %g", i, (double)data[i]);
                break;
            }
        return &g->poison;
    }
    return n;
}

rc_node *rc_fill_at(rc_site at, rc_graph *g, rc_shape s, rc_real value)
{
    rc_node *n = leaf(at, g, "fill", s);
    if (!rc_ok(n))
        return n;
    if (!isfinite(value)) {
        rc_fail_at(g, at, "fill", "value is %g", (double)value);
        return &g->poison;
    }
    for (size_t i = 0; i < n->val.size; i++)
        n->val.data[i] = value;
    return n;
}

rc_node *rc_detach_at(rc_site at, rc_graph *g, rc_node *x)
{
    if (!g)
        return NULL;
    if (g->failed || (x && x->poisoned))
        return &g->poison;
    if (!x) {
        rc_fail_at(g, at, "detach", "input is NULL");
        return &g->poison;
    }
    rc_node *n = leaf(at, g, "detach", x->val.shape);
    if (rc_ok(n))
        memcpy(n->val.data, x->val.data, n->val.size * sizeof(rc_real));
    return n;
}

rc_node *rc_poisoned(rc_graph *g) { return g ? &g->poison : NULL; }
bool rc_ok(const rc_node *n) { return n && !n->poisoned; }
rc_real *rc_data(rc_node *n) { return rc_ok(n) ? n->val.data : NULL; }
rc_real *rc_grad(rc_node *n) { return rc_ok(n) ? n->grad : NULL; }
rc_shape rc_shape_of(const rc_node *n) { return rc_ok(n) ? n->val.shape : (rc_shape){0, {0}}; }
size_t rc_size(const rc_node *n) { return rc_ok(n) ? n->val.size : 0; }
rc_real rc_item(const rc_node *n) { return rc_ok(n) && n->val.size ? n->val.data[0] : (rc_real)NAN; }

/* Names the first input holding a non-finite value, to tell apart an op
 * that produced a NaN from one that was handed one. */
static void fail_not_finite(rc_graph *g, rc_node *n)
{
    char s[64];
    for (int k = 0; k < n->nin; k++) {
        rc_node *x = n->in[k];
        if (!rc_all_finite(x->val.data, x->val.size)) {
            const char *kind = x->name ? "parameter" : "input";
            rc_fail(g, n, "input %d %s %s (%s) already holds NaN/Inf", k,
                    rc_shape_str(x->val.shape, s), x->name ? x->name : "", kind);
            return;
        }
    }
    for (size_t i = 0; i < n->val.size; i++)
        if (!isfinite(n->val.data[i])) {
            rc_fail(g, n, "produced %g at element %zu of its %s output",
                    (double)n->val.data[i], i, rc_shape_str(n->val.shape, s));
            return;
        }
}

rc_node *rc_apply(rc_site at, rc_graph *g, const rc_op *op, int nin,
                  rc_node *const in[], const rc_attrs *attrs)
{
    if (!g)
        return NULL;
    if (g->failed)
        return &g->poison;
    for (int k = 0; k < nin; k++) {
        if (!in[k]) {
            rc_fail_at(g, at, op->name, "input %d is NULL", k);
            return &g->poison;
        }
        if (in[k]->poisoned)
            return &g->poison;
    }
    rc_node *n = rc_arena_zalloc(g, sizeof *n);
    rc_node **ins = rc_arena_alloc(g, (size_t)(nin ? nin : 1) * sizeof *ins);
    if (!n || !ins)
        return &g->poison;
    memcpy(ins, in, (size_t)nin * sizeof *ins);
    for (int k = 0; k < nin; k++) { /* a parameter's count runs on across steps */
        in[k]->uses += in[k]->uses < INT_MAX;
        n->requires_grad |= g->grad_on && in[k]->requires_grad;
    }
    n->op = op;
    n->in = ins;
    n->nin = nin;
    n->at = at;
    if (attrs) {
        memcpy(n->i, attrs->i, sizeof n->i);
        memcpy(n->f, attrs->f, sizeof n->f);
        if (attrs->aux_bytes) {
            if (!attrs->aux) {
                rc_fail(g, n, "the index/mask array is NULL");
                return &g->poison;
            }
            if (!(n->aux = rc_arena_alloc(g, attrs->aux_bytes)))
                return &g->poison;
            memcpy(n->aux, attrs->aux, attrs->aux_bytes);
        }
    }
    if (op->shape(g, n) != 0) {
        if (!g->failed) /* a shape check must say why; make sure something does */
            rc_fail(g, n, "shape check failed");
        return &g->poison;
    }
    char s[64];
    if (!shape_valid(n->val.shape)) {
        rc_fail(g, n, "would produce the invalid shape %s", rc_shape_str(n->val.shape, s));
        return &g->poison;
    }
    n->val.size = rc_shape_size(n->val.shape);
    const size_t bytes0 = handed(g);
    if (!(op->flags & RC_OP_VIEW) &&
        !(n->val.data = rc_arena_alloc(g, n->val.size * sizeof(rc_real))))
        return &g->poison;
    if (g->profiling) {
        double t0 = seconds();
        op->forward(g, n);
        struct op_time *t = op_time_of(g, op);
        t->fwd += seconds() - t0;
        t->fwd_bytes += handed(g) - bytes0;
        t->calls++;
    } else {
        op->forward(g, n);
    }
    if (g->failed)
        return &g->poison;
    /* a view's values were checked where they were computed; n->checked: by
     * the forward itself, part by part */
    double t0 = g->profiling ? seconds() : 0;
    const bool finite = !g->check_finite || (op->flags & RC_OP_VIEW) || n->checked ||
                        rc_all_finite(n->val.data, n->val.size);
    if (g->profiling)
        g->scan_s += seconds() - t0;
    if (!finite) {
        fail_not_finite(g, n);
        return &g->poison;
    }
    if (n->requires_grad && !(op->flags & RC_OP_VIEW) && tape_push(g, n) != 0)
        return &g->poison;
    return n;
}

/* ---- backward ---------------------------------------------------------------- */

int rc_backward(rc_graph *g, rc_node *loss)
{
    const rc_site here = {"rc_backward", 0};
    char s[64];
    if (!g)
        return -1;
    if (g->failed)
        return -1;
    if (!loss)
        return rc_fail_at(g, here, "backward", "loss is NULL");
    if (loss->poisoned)
        return -1;
    if (loss->val.size != 1)
        return rc_fail_at(g, loss->at, "backward", "loss must be a scalar, got %s",
                           rc_shape_str(loss->val.shape, s));
    if (g->backward_done)
        return rc_fail_at(g, loss->at, "backward",
                           "already ran on this tape; rc_graph_reset before the next step");
    if (!loss->requires_grad)
        return rc_fail_at(g, loss->at, "backward",
                           "the loss depends on no parameter (or was built with "
                           "gradients off)");
    rc_real *seed = rc_grad_buf(g, loss);
    if (!seed)
        return -1;
    seed[0] += 1;
    for (size_t i = g->ntape; i-- > 0;) {
        rc_node *n = g->tape[i];
        if (!n->grad && !(n->op->flags & RC_OP_BACKWARD_ALWAYS))
            continue; /* nothing downstream of it reached the loss */
        if (g->profiling) {
            double t0 = seconds();
            const size_t bytes0 = handed(g);
            n->op->backward(g, n);
            struct op_time *t = op_time_of(g, n->op);
            t->bwd += seconds() - t0;
            t->bwd_bytes += handed(g) - bytes0;
        } else {
            n->op->backward(g, n);
        }
        if (g->failed)
            return -1;
    }
    double t0 = g->profiling ? seconds() : 0;
    const size_t bytes0 = handed(g);
    run_deferred(g);
    if (g->profiling) {
        g->deferred_s += seconds() - t0;
        g->deferred_bytes += handed(g) - bytes0;
    }
    if (g->failed)
        return -1;
    g->backward_done = true;
    return 0;
}
