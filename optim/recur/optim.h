/* recur/optim.h - optimizers, gradient clipping, learning-rate schedules.
 *
 * An optimizer updates every parameter of an rc_params store at once: the
 * store keeps all values in one flat buffer and all gradients in another, so
 * each step is one flat loop over rc_params_numel reals (vectorised by the
 * compiler). Hyper-parameters, defaults and update formulas are those of
 * torch.optim 1.13 (SGD, Adam, AdamW, RMSprop, Adagrad), step for step:
 * trajectories match torch's to rounding (tests/test_optim.c).
 *
 *   rc_optim_config c = rc_adam_defaults();
 *   c.lr = 3e-4;
 *   rc_optim *opt = rc_optim_new(ps, &c);
 *   for (...) {
 *       rc_params_zero_grad(ps);
 *       ... rc_backward(g, loss) ...
 *       rc_clip_grad_norm(ps, 1.0, 2.0);
 *       rc_optim_set_lr(opt, rc_schedule_lr(&sched, rc_optim_steps(opt)));
 *       if (rc_optim_step(opt) != 0) puts(rc_optim_error(opt));
 *   }
 *
 * Errors never abort: a bad hyper-parameter (or a store that grew after the
 * optimizer was made) is recorded on the optimizer, rc_optim_step returns -1
 * and rc_optim_error says why.
 */
#ifndef RECUR_OPTIM_H
#define RECUR_OPTIM_H

#include <stdbool.h>
#include <stddef.h>

#include "recur/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum rc_optim_kind {
    RC_SGD,
    RC_ADAM,
    RC_ADAMW,
    RC_RMSPROP,
    RC_ADAGRAD,
} rc_optim_kind;

/* Every field of every optimizer; each uses the ones torch's class takes.
 * Start from rc_*_defaults() (torch's defaults) and change what you need. */
typedef struct rc_optim_config {
    rc_optim_kind kind;
    double lr;
    double weight_decay;  /* all; AdamW's is decoupled: p *= 1 - lr * wd */
    bool maximize;        /* all: ascend instead of descend */
    double momentum;      /* SGD, RMSprop */
    double dampening;     /* SGD */
    bool nesterov;        /* SGD: needs momentum > 0 and dampening 0 */
    double beta1, beta2;  /* Adam, AdamW */
    bool amsgrad;         /* Adam, AdamW */
    double eps;           /* Adam, AdamW, RMSprop, Adagrad */
    double alpha;         /* RMSprop: smoothing constant */
    bool centered;        /* RMSprop */
    double lr_decay;      /* Adagrad */
    double initial_accumulator_value; /* Adagrad */
    /* all: the step leaves every gradient zero, as rc_params_zero_grad would
     * (torch's optimizer.zero_grad() after step()). Adam and AdamW clear each
     * one in the pass that reads it, which costs less than a pass of its own;
     * the gradients cannot be read after the step then. Default false. */
    bool zero_grad;
} rc_optim_config;

/* torch.optim's defaults. SGD has no default lr in torch; pass one. */
rc_optim_config rc_sgd_defaults(double lr);  /* momentum 0, dampening 0 */
rc_optim_config rc_adam_defaults(void);      /* lr 1e-3, betas .9/.999, eps 1e-8 */
rc_optim_config rc_adamw_defaults(void);     /* as Adam, weight_decay 1e-2 */
rc_optim_config rc_rmsprop_defaults(void);   /* lr 1e-2, alpha .99, eps 1e-8 */
rc_optim_config rc_adagrad_defaults(void);   /* lr 1e-2, eps 1e-10 */

typedef struct rc_optim rc_optim;

/* An optimizer over every parameter in ps (create the parameters first).
 * State buffers start at zero (Adagrad's at initial_accumulator_value).
 * Returns NULL only when ps is NULL or memory runs out; an invalid config
 * gives an optimizer whose rc_optim_error says what is wrong. */
rc_optim *rc_optim_new(rc_params *ps, const rc_optim_config *cfg);
void rc_optim_free(rc_optim *o);

/* One update of every parameter from its gradient. Returns 0, or -1 with
 * the reason in rc_optim_error (nothing is updated then). */
int rc_optim_step(rc_optim *o);
const char *rc_optim_error(const rc_optim *o); /* NULL when fine */

const rc_optim_config *rc_optim_get_config(const rc_optim *o);
double rc_optim_lr(const rc_optim *o);
void rc_optim_set_lr(rc_optim *o, double lr); /* e.g. from a schedule */
long rc_optim_steps(const rc_optim *o);       /* steps taken so far */
const char *rc_optim_kind_name(rc_optim_kind kind); /* "sgd", "adam", ... */

/* The optimizer's state, as torch names it: "momentum_buffer", "exp_avg",
 * "exp_avg_sq", "max_exp_avg_sq", "square_avg", "grad_avg", "sum". Each is
 * a flat buffer laid out like rc_params_values (same offsets), so
 * rc_optim_state(o, i) + p->offset is parameter p's slice. Checkpoints
 * save and restore these. */
size_t rc_optim_state_count(const rc_optim *o);
const char *rc_optim_state_name(const rc_optim *o, size_t i);
rc_real *rc_optim_state(rc_optim *o, size_t i);
/* Restores the step counter (checkpoints); fails on a negative count. */
int rc_optim_set_steps(rc_optim *o, long steps);

/* ---- gradient clipping -------------------------------------------------- */

/* torch.nn.utils.clip_grad_norm_: the norm of all gradients together
 * (norm_type 2 = Euclidean, INFINITY = max |g|, any p > 0), returned as it
 * was before clipping; every gradient is then scaled by
 * min(1, max_norm / (norm + 1e-6)). As in torch, a NaN norm turns every
 * gradient into NaN and an infinite one zeroes them: test the returned norm
 * with isfinite() and skip the step. Returns NaN for a NULL store or
 * norm_type <= 0. */
double rc_clip_grad_norm(rc_params *ps, double max_norm, double norm_type);
/* torch.nn.utils.clip_grad_value_: clamps every gradient to [-v, v]. */
void rc_clip_grad_value(rc_params *ps, double clip_value);

/* ---- learning-rate schedules --------------------------------------------- */

typedef enum rc_schedule_kind {
    RC_SCHED_CONSTANT,
    RC_SCHED_STEP,        /* torch StepLR: base * gamma^floor(step / step_size) */
    RC_SCHED_EXPONENTIAL, /* torch ExponentialLR: base * gamma^step */
    RC_SCHED_COSINE,      /* linear warm-up, then cosine down to min_lr */
} rc_schedule_kind;

/* A schedule is a pure function of the step index, so resuming a run needs
 * only the optimizer's step count. */
typedef struct rc_schedule {
    rc_schedule_kind kind;
    double base_lr;
    long step_size;    /* STEP */
    double gamma;      /* STEP, EXPONENTIAL */
    long warmup_steps; /* COSINE: lr rises linearly base/warmup .. base */
    long total_steps;  /* COSINE: warm-up included; min_lr from here on */
    double min_lr;     /* COSINE (torch CosineAnnealingLR's eta_min) */
} rc_schedule;

rc_schedule rc_schedule_constant(double lr);
rc_schedule rc_schedule_step(double base_lr, long step_size, double gamma);
rc_schedule rc_schedule_exponential(double base_lr, double gamma);
rc_schedule rc_schedule_cosine(double base_lr, long warmup_steps, long total_steps,
                               double min_lr);

/* The learning rate for step index `step` (0 for the first update):
 *   COSINE, step < warmup:  base * (step + 1) / warmup
 *   COSINE, after:          min + (base - min) * (1 + cos(pi * t / T)) / 2
 *                           t = step - warmup, T = total - warmup (t capped at T)
 * With warmup 0 this is torch's CosineAnnealingLR(T_max = total) closed form.
 * Invalid schedules (step_size < 1, ...) give NaN. */
double rc_schedule_lr(const rc_schedule *s, long step);

#ifdef __cplusplus
}
#endif
#endif
