/* Optimizers: torch.optim 1.13's single-tensor algorithms over the store's
 * flat buffers. Each update mirrors torch's op order (mul_ then add_, the
 * addcmul/addcdiv grouping, scalars rounded to rc_real as torch's kernels
 * do) so trajectories agree to rounding. Loops are branch-free inside (the
 * invariant conditions are unswitched at -O3) and restrict-qualified, so
 * they vectorise. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "kernels.h" /* recur's threads: rc__parallel, rc__split */
#include "recur/ops.h"
#include "recur/optim.h"

#define MAX_STATE 3
#define PI 3.14159265358979323846

/* sqrt in rc_real, as torch's float kernels take it (no trip through double) */
#if RC_REAL_IS_DOUBLE
#define RSQRT sqrt
#else
#define RSQRT sqrtf
#endif

struct rc_optim {
    rc_params *ps;
    rc_optim_config cfg;
    size_t numel; /* store size at creation */
    long steps;
    size_t nstate;
    const char *state_name[MAX_STATE];
    rc_real *state[MAX_STATE];
    char error[256];
};

rc_optim_config rc_sgd_defaults(double lr)
{
    return (rc_optim_config){.kind = RC_SGD, .lr = lr};
}

rc_optim_config rc_adam_defaults(void)
{
    return (rc_optim_config){.kind = RC_ADAM, .lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999,
                             .eps = 1e-8};
}

rc_optim_config rc_adamw_defaults(void)
{
    rc_optim_config c = rc_adam_defaults();
    c.kind = RC_ADAMW;
    c.weight_decay = 1e-2;
    return c;
}

rc_optim_config rc_rmsprop_defaults(void)
{
    return (rc_optim_config){.kind = RC_RMSPROP, .lr = 1e-2, .alpha = 0.99, .eps = 1e-8};
}

rc_optim_config rc_adagrad_defaults(void)
{
    return (rc_optim_config){.kind = RC_ADAGRAD, .lr = 1e-2, .eps = 1e-10};
}

const char *rc_optim_kind_name(rc_optim_kind kind)
{
    switch (kind) {
    case RC_SGD: return "sgd";
    case RC_ADAM: return "adam";
    case RC_ADAMW: return "adamw";
    case RC_RMSPROP: return "rmsprop";
    case RC_ADAGRAD: return "adagrad";
    }
    return "unknown";
}

static void set_error(rc_optim *o, const char *msg, double v)
{
    if (!o->error[0])
        snprintf(o->error, sizeof o->error, "%s optimizer: %s (got %g)",
                 rc_optim_kind_name(o->cfg.kind), msg, v);
}

/* torch's constructor checks, same messages in spirit. */
static void validate(rc_optim *o)
{
    const rc_optim_config *c = &o->cfg;
    if (!(c->lr >= 0))
        set_error(o, "learning rate must be >= 0", c->lr);
    if (!(c->weight_decay >= 0))
        set_error(o, "weight_decay must be >= 0", c->weight_decay);
    switch (c->kind) {
    case RC_SGD:
        if (!(c->momentum >= 0))
            set_error(o, "momentum must be >= 0", c->momentum);
        if (!isfinite(c->dampening))
            set_error(o, "dampening must be finite", c->dampening);
        if (c->nesterov && (c->momentum <= 0 || c->dampening != 0))
            set_error(o, "nesterov needs momentum > 0 and dampening 0", c->momentum);
        break;
    case RC_ADAM:
    case RC_ADAMW:
        if (!(c->eps >= 0))
            set_error(o, "eps must be >= 0", c->eps);
        if (!(c->beta1 >= 0 && c->beta1 < 1))
            set_error(o, "beta1 must be in [0, 1)", c->beta1);
        if (!(c->beta2 >= 0 && c->beta2 < 1))
            set_error(o, "beta2 must be in [0, 1)", c->beta2);
        break;
    case RC_RMSPROP:
        if (!(c->eps >= 0))
            set_error(o, "eps must be >= 0", c->eps);
        if (!(c->alpha >= 0))
            set_error(o, "alpha must be >= 0", c->alpha);
        if (!(c->momentum >= 0))
            set_error(o, "momentum must be >= 0", c->momentum);
        break;
    case RC_ADAGRAD:
        if (!(c->eps >= 0))
            set_error(o, "eps must be >= 0", c->eps);
        if (!(c->lr_decay >= 0))
            set_error(o, "lr_decay must be >= 0", c->lr_decay);
        if (!(c->initial_accumulator_value >= 0))
            set_error(o, "initial_accumulator_value must be >= 0",
                      c->initial_accumulator_value);
        break;
    default:
        set_error(o, "unknown optimizer kind", (double)c->kind);
    }
}

static int add_state(rc_optim *o, const char *name, rc_real fill)
{
    rc_real *b = malloc((o->numel ? o->numel : 1) * sizeof *b);
    if (!b)
        return -1;
    for (size_t k = 0; k < o->numel; k++)
        b[k] = fill;
    o->state_name[o->nstate] = name;
    o->state[o->nstate++] = b;
    return 0;
}

rc_optim *rc_optim_new(rc_params *ps, const rc_optim_config *cfg)
{
    if (!ps || !cfg)
        return NULL;
    rc_optim *o = calloc(1, sizeof *o);
    if (!o)
        return NULL;
    o->ps = ps;
    o->cfg = *cfg;
    o->numel = rc_params_numel(ps);
    validate(o);
    int rc = 0;
    switch (cfg->kind) {
    case RC_SGD:
        if (cfg->momentum != 0)
            rc |= add_state(o, "momentum_buffer", 0);
        break;
    case RC_ADAM:
    case RC_ADAMW:
        rc |= add_state(o, "exp_avg", 0);
        rc |= add_state(o, "exp_avg_sq", 0);
        if (cfg->amsgrad)
            rc |= add_state(o, "max_exp_avg_sq", 0);
        break;
    case RC_RMSPROP:
        rc |= add_state(o, "square_avg", 0);
        if (cfg->momentum > 0)
            rc |= add_state(o, "momentum_buffer", 0);
        if (cfg->centered)
            rc |= add_state(o, "grad_avg", 0);
        break;
    case RC_ADAGRAD:
        rc |= add_state(o, "sum", (rc_real)cfg->initial_accumulator_value);
        break;
    }
    if (rc != 0) {
        rc_optim_free(o);
        return NULL;
    }
    return o;
}

void rc_optim_free(rc_optim *o)
{
    if (!o)
        return;
    for (size_t i = 0; i < o->nstate; i++)
        free(o->state[i]);
    free(o);
}

const char *rc_optim_error(const rc_optim *o)
{
    if (!o)
        return "optimizer is NULL";
    return o->error[0] ? o->error : NULL;
}

const rc_optim_config *rc_optim_get_config(const rc_optim *o) { return o ? &o->cfg : NULL; }
double rc_optim_lr(const rc_optim *o) { return o ? o->cfg.lr : NAN; }
long rc_optim_steps(const rc_optim *o) { return o ? o->steps : 0; }
size_t rc_optim_state_count(const rc_optim *o) { return o ? o->nstate : 0; }

void rc_optim_set_lr(rc_optim *o, double lr)
{
    if (!o)
        return;
    o->cfg.lr = lr;
    if (!(lr >= 0))
        set_error(o, "learning rate must be >= 0", lr);
}

int rc__optim_covers(const rc_optim *o, const rc_params *ps, char *why, size_t n)
{
    if (o->ps != ps)
        return snprintf(why, n, "the optimizer was made for another parameter store"), -1;
    if (rc_params_numel(ps) != o->numel)
        return snprintf(why, n, "the parameter store grew from %zu to %zu reals after "
                        "rc_optim_new", o->numel, rc_params_numel(ps)), -1;
    return 0;
}

int rc_optim_set_steps(rc_optim *o, long steps)
{
    if (!o || steps < 0)
        return -1;
    o->steps = steps;
    return 0;
}

const char *rc_optim_state_name(const rc_optim *o, size_t i)
{
    return o && i < o->nstate ? o->state_name[i] : NULL;
}

rc_real *rc_optim_state(rc_optim *o, size_t i)
{
    return o && i < o->nstate ? o->state[i] : NULL;
}

/* ---- the update loops ---------------------------------------------------- */

/* One clone of each update loop per vector width, picked at load time: the
 * loops are memory-bound streams over every parameter once per step. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define VECTOR_CLONES
#endif

typedef rc_real *restrict rbuf;
typedef const rc_real *restrict cbuf;

/* grad, negated for maximize, plus weight decay (torch: grad.add(param,
 * alpha=wd), skipped when wd is 0). Needs sign, wd and has_wd in scope. */
#define GRAD_IN(k) (has_wd ? sign * g[k] + wd * p[k] : sign * g[k])

VECTOR_CLONES static void sgd(const rc_optim_config *c, size_t n, rbuf p, cbuf g, rbuf buf, bool first)
{
    const rc_real sign = c->maximize ? -1 : 1, wd = (rc_real)c->weight_decay;
    const bool has_wd = c->weight_decay != 0;
    const rc_real mom = (rc_real)c->momentum, damp1 = (rc_real)(1 - c->dampening);
    const rc_real neg_lr = (rc_real)-c->lr;
    if (!buf) {
        for (size_t k = 0; k < n; k++)
            p[k] = p[k] + neg_lr * GRAD_IN(k);
        return;
    }
    if (first) /* torch: the buffer starts as a copy of the first d_p */
        for (size_t k = 0; k < n; k++)
            buf[k] = GRAD_IN(k);
    else
        for (size_t k = 0; k < n; k++)
            buf[k] = buf[k] * mom + damp1 * GRAD_IN(k);
    if (c->nesterov)
        for (size_t k = 0; k < n; k++)
            p[k] = p[k] + neg_lr * (GRAD_IN(k) + mom * buf[k]);
    else
        for (size_t k = 0; k < n; k++)
            p[k] = p[k] + neg_lr * buf[k];
}

/* Adam without amsgrad, AFTER done once element k is read (a second copy of
 * the loop rather than a branch in it). A cache line of each array at a
 * time, the line AHEAD elements on asked for first: the four streams come
 * from L3 in a training step, where the hardware prefetcher alone leaves
 * the loop waiting (1.62M parameters, cold: 1.23-1.29 -> 1.12-1.15 ms). */
enum { LINE = 64 / sizeof(rc_real), AHEAD = 1024 };

#define ADAM_LOOP(AFTER)                                                               \
    for (size_t k0 = 0; k0 < n; k0 += LINE) {                                          \
        if (k0 + AHEAD < n) {                                                          \
            __builtin_prefetch(p + k0 + AHEAD, 1, 3);                                  \
            __builtin_prefetch(g + k0 + AHEAD, 1, 3);                                  \
            __builtin_prefetch(m + k0 + AHEAD, 1, 3);                                  \
            __builtin_prefetch(v + k0 + AHEAD, 1, 3);                                  \
        }                                                                              \
        const size_t end = n - k0 < LINE ? n : k0 + LINE;                              \
        for (size_t k = k0; k < end; k++) {                                            \
            const rc_real gk = GRAD_IN(k);                                             \
            const rc_real mk = m[k] * b1 + omb1 * gk, vk = v[k] * b2 + omb2 * gk * gk; \
            m[k] = mk;                                                                 \
            v[k] = vk;                                                                 \
            AFTER;                                                                     \
            p[k] = p[k] + neg_step * mk / (RSQRT(vk) + eps);                           \
        }                                                                              \
    }

VECTOR_CLONES static void adam(const rc_optim_config *c, long step, size_t n, rbuf p, rbuf g, rbuf m,
                 rbuf v, rbuf vmax)
{
    const bool decoupled = c->kind == RC_ADAMW;
    const rc_real sign = c->maximize ? -1 : 1;
    const rc_real wd = (rc_real)c->weight_decay;
    const bool has_wd = !decoupled && c->weight_decay != 0;
    const rc_real shrink = (rc_real)(1 - c->lr * c->weight_decay);
    const rc_real b1 = (rc_real)c->beta1, omb1 = (rc_real)(1 - c->beta1);
    const rc_real b2 = (rc_real)c->beta2, omb2 = (rc_real)(1 - c->beta2);
    /* torch computes these in Python floats (double), then rounds */
    const double bc1 = 1 - pow(c->beta1, (double)step);
    const double bc2 = 1 - pow(c->beta2, (double)step);
    /* torch: m / (sqrt(v) / sqrt(bc2) + eps); the same as sqrt(bc2) m /
     * (sqrt(v) + sqrt(bc2) eps) with one division instead of two (the
     * divider is what an Adam step waits on) */
    const rc_real neg_step = (rc_real)(-(c->lr / bc1) * sqrt(bc2));
    const rc_real eps = (rc_real)(c->eps * sqrt(bc2));
    if (decoupled) /* torch shrinks the parameter first, rounding it */
        for (size_t k = 0; k < n; k++)
            p[k] = p[k] * shrink;
    /* One pass over the arrays, so the divider's latency hides under their
     * loads (perf, W4: 5.1% of a step with two passes over L1-sized chunks,
     * 3.7% with this one) */
    if (vmax) {
        for (size_t k = 0; k < n; k++) {
            const rc_real gk = GRAD_IN(k);
            const rc_real mk = m[k] * b1 + omb1 * gk, vk = v[k] * b2 + omb2 * gk * gk;
            const rc_real vm = vmax[k] > vk ? vmax[k] : vk;
            m[k] = mk;
            v[k] = vk;
            vmax[k] = vm;
            p[k] = p[k] + neg_step * mk / (RSQRT(vm) + eps);
        }
    } else if (c->zero_grad) { /* g's line is in L1: a store, not a memset's pass */
        ADAM_LOOP(g[k] = 0);
    } else {
        ADAM_LOOP((void)0);
    }
}

VECTOR_CLONES static void rmsprop(const rc_optim_config *c, size_t n, rbuf p, cbuf g, rbuf sq, rbuf buf,
                    rbuf ga)
{
    const rc_real sign = c->maximize ? -1 : 1, wd = (rc_real)c->weight_decay;
    const bool has_wd = c->weight_decay != 0;
    const rc_real a = (rc_real)c->alpha, oma = (rc_real)(1 - c->alpha);
    const rc_real eps = (rc_real)c->eps, mom = (rc_real)c->momentum;
    const rc_real neg_lr = (rc_real)-c->lr;
    for (size_t k = 0; k < n; k++) {
        rc_real gk = GRAD_IN(k);
        sq[k] = sq[k] * a + oma * gk * gk;
    }
    if (ga)
        for (size_t k = 0; k < n; k++)
            ga[k] = ga[k] * a + oma * GRAD_IN(k);
    /* eps goes outside the square root, as in torch */
    if (buf && ga) {
        for (size_t k = 0; k < n; k++)
            buf[k] = buf[k] * mom + GRAD_IN(k) / (RSQRT(sq[k] + (-ga[k]) * ga[k]) + eps);
    } else if (buf) {
        for (size_t k = 0; k < n; k++)
            buf[k] = buf[k] * mom + GRAD_IN(k) / (RSQRT(sq[k]) + eps);
    }
    if (buf)
        for (size_t k = 0; k < n; k++)
            p[k] = p[k] + neg_lr * buf[k];
    else if (ga)
        for (size_t k = 0; k < n; k++)
            p[k] = p[k] + neg_lr * GRAD_IN(k) / (RSQRT(sq[k] + (-ga[k]) * ga[k]) + eps);
    else
        for (size_t k = 0; k < n; k++)
            p[k] = p[k] + neg_lr * GRAD_IN(k) / (RSQRT(sq[k]) + eps);
}

VECTOR_CLONES static void adagrad(const rc_optim_config *c, long step, size_t n, rbuf p, cbuf g, rbuf sum)
{
    const rc_real sign = c->maximize ? -1 : 1, wd = (rc_real)c->weight_decay;
    const bool has_wd = c->weight_decay != 0;
    const rc_real eps = (rc_real)c->eps;
    const rc_real neg_clr = (rc_real)-(c->lr / (1 + (double)(step - 1) * c->lr_decay));
    for (size_t k = 0; k < n; k++) {
        rc_real gk = GRAD_IN(k);
        sum[k] = sum[k] + gk * gk;
        p[k] = p[k] + neg_clr * gk / (RSQRT(sum[k]) + eps);
    }
}

/* One slice [lo, hi) of the flat parameter buffer: every update is
 * elementwise, so slices run on recur's threads independently and give the
 * same bits as one pass. */
typedef struct step_job {
    rc_optim *o;
    long step;
} step_job;

#define AT(buf) ((buf) ? (buf) + lo : NULL)

static void step_part(void *ctx, int part, int parts)
{
    const step_job *j = ctx;
    rc_optim *o = j->o;
    const rc_optim_config *c = &o->cfg;
    int lo_i, hi_i;
    rc__split((int)((o->numel + 63) / 64), 1, part, parts, &lo_i, &hi_i);
    const size_t lo = (size_t)lo_i * 64, hi = (size_t)hi_i * 64 < o->numel ? (size_t)hi_i * 64
                                                                            : o->numel;
    if (hi <= lo)
        return;
    const size_t n = hi - lo;
    rc_real *p = rc_params_values(o->ps) + lo, *g = rc_params_grads(o->ps) + lo;
    switch (c->kind) {
    case RC_SGD:
        sgd(c, n, p, g, o->nstate ? AT(o->state[0]) : NULL, j->step == 1);
        break;
    case RC_ADAM:
    case RC_ADAMW:
        adam(c, j->step, n, p, g, AT(o->state[0]), AT(o->state[1]),
             c->amsgrad ? AT(o->state[2]) : NULL);
        break;
    case RC_RMSPROP: {
        size_t i = 1;
        rc_real *buf = c->momentum > 0 ? o->state[i++] : NULL;
        rc_real *ga = c->centered ? o->state[i++] : NULL;
        rmsprop(c, n, p, g, AT(o->state[0]), AT(buf), AT(ga));
        break;
    }
    case RC_ADAGRAD:
        adagrad(c, j->step, n, p, g, AT(o->state[0]));
        break;
    }
    /* zero_grad: Adam without amsgrad cleared g as it read it */
    const bool cleared = (c->kind == RC_ADAM || c->kind == RC_ADAMW) && !c->amsgrad;
    if (c->zero_grad && !cleared)
        memset(g, 0, n * sizeof *g);
}

enum { STEP_PARALLEL = 1 << 16 }; /* parameters that pay for a fork-join */

int rc_optim_step(rc_optim *o)
{
    if (!o)
        return -1;
    if (o->error[0])
        return -1;
    size_t n = rc_params_numel(o->ps);
    if (n != o->numel) {
        snprintf(o->error, sizeof o->error,
                 "%s optimizer: the parameter store grew from %zu to %zu reals after "
                 "rc_optim_new; create every parameter first",
                 rc_optim_kind_name(o->cfg.kind), o->numel, n);
        return -1;
    }
    if (n == 0) {
        o->steps++;
        return 0;
    }
    step_job j = {o, ++o->steps};
    rc__parallel(step_part, &j, n >= STEP_PARALLEL ? rc_num_threads() : 1);
    return 0;
}

/* ---- clipping ------------------------------------------------------------ */

double rc_clip_grad_norm(rc_params *ps, double max_norm, double norm_type)
{
    if (!ps || !(norm_type > 0))
        return NAN;
    size_t n = rc_params_numel(ps);
    rc_real *restrict g = rc_params_grads(ps);
    double total = 0;
    if (isinf(norm_type)) {
        for (size_t k = 0; k < n; k++) {
            double a = fabs((double)g[k]);
            total = a > total || a != a ? a : total;
        }
    } else if (norm_type == 2) {
        for (size_t k = 0; k < n; k++)
            total += (double)g[k] * g[k];
        total = sqrt(total);
    } else if (norm_type == 1) {
        for (size_t k = 0; k < n; k++)
            total += fabs((double)g[k]);
    } else {
        for (size_t k = 0; k < n; k++)
            total += pow(fabs((double)g[k]), norm_type);
        total = pow(total, 1 / norm_type);
    }
    /* torch: coef = clamp(max_norm / (total + 1e-6), max=1); a NaN norm
     * makes every gradient NaN and an infinite one zeroes them, as there */
    double coef = max_norm / (total + 1e-6);
    if (!(coef >= 1)) {
        const rc_real s = (rc_real)coef;
        for (size_t k = 0; k < n; k++)
            g[k] = g[k] * s;
    }
    return total;
}

void rc_clip_grad_value(rc_params *ps, double clip_value)
{
    if (!ps)
        return;
    size_t n = rc_params_numel(ps);
    rc_real *restrict g = rc_params_grads(ps);
    const rc_real hi = (rc_real)fabs(clip_value), lo = -hi;
    for (size_t k = 0; k < n; k++)
        g[k] = g[k] < lo ? lo : (g[k] > hi ? hi : g[k]);
}

/* ---- schedules ----------------------------------------------------------- */

rc_schedule rc_schedule_constant(double lr)
{
    return (rc_schedule){.kind = RC_SCHED_CONSTANT, .base_lr = lr};
}

rc_schedule rc_schedule_step(double base_lr, long step_size, double gamma)
{
    return (rc_schedule){.kind = RC_SCHED_STEP, .base_lr = base_lr, .step_size = step_size,
                         .gamma = gamma};
}

rc_schedule rc_schedule_exponential(double base_lr, double gamma)
{
    return (rc_schedule){.kind = RC_SCHED_EXPONENTIAL, .base_lr = base_lr, .gamma = gamma};
}

rc_schedule rc_schedule_cosine(double base_lr, long warmup_steps, long total_steps,
                               double min_lr)
{
    return (rc_schedule){.kind = RC_SCHED_COSINE, .base_lr = base_lr,
                         .warmup_steps = warmup_steps, .total_steps = total_steps,
                         .min_lr = min_lr};
}

double rc_schedule_lr(const rc_schedule *s, long step)
{
    if (!s || step < 0)
        return NAN;
    switch (s->kind) {
    case RC_SCHED_CONSTANT:
        return s->base_lr;
    case RC_SCHED_STEP:
        if (s->step_size < 1)
            return NAN;
        return s->base_lr * pow(s->gamma, (double)(step / s->step_size));
    case RC_SCHED_EXPONENTIAL:
        return s->base_lr * pow(s->gamma, (double)step);
    case RC_SCHED_COSINE: {
        if (s->warmup_steps < 0 || s->total_steps <= s->warmup_steps)
            return NAN;
        if (step < s->warmup_steps)
            return s->base_lr * (double)(step + 1) / (double)s->warmup_steps;
        double T = (double)(s->total_steps - s->warmup_steps);
        double t = fmin((double)(step - s->warmup_steps), T);
        return s->min_lr + (s->base_lr - s->min_lr) * (1 + cos(PI * t / T)) / 2;
    }
    }
    return NAN;
}
