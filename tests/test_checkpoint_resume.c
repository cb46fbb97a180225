/* Resume: N steps, save, load in a fresh process (this program re-executed),
 * M more steps == N + M steps in one go, bit for bit, for every optimizer
 * (with gradient clipping and a warm-up + cosine schedule in the loop). */
#include <sys/wait.h>

#include "check.h"
#include "optim_support.h"
#include "recur/checkpoint.h"
#include "recur/op.h"
#include "recur/ops.h"

#define N_STEPS 7
#define M_STEPS 6

typedef struct run {
    rc_params *ps;
    rc_node *W, *b, *V;
    rc_optim *opt;
    rc_graph *g;
} run;

static rc_optim_config config_of(int which)
{
    rc_optim_config c;
    switch (which) {
    case 0: c = rc_sgd_defaults(0.1); c.momentum = 0.9; c.nesterov = true; c.weight_decay = 1e-3; break;
    case 1: c = rc_adam_defaults(); c.amsgrad = true; c.weight_decay = 0.01; break;
    case 2: c = rc_adamw_defaults(); break;
    case 3: c = rc_rmsprop_defaults(); c.momentum = 0.5; c.centered = true; break;
    case 4: c = rc_adagrad_defaults(); c.lr_decay = 0.01; c.initial_accumulator_value = 0.1; break;
    default: c = rc_sgd_defaults(0.05); break;
    }
    c.lr = 0; /* set from the schedule every step */
    return c;
}
#define N_CONFIGS 6

/* A fresh model; seed changes the initial weights (a resumed run must not
 * depend on them). */
static run make_run(int which, uint64_t seed)
{
    run r;
    r.ps = rc_params_new();
    r.W = rc_param(r.ps, "weight_hh_l0", RC_SHAPE(8, 8));
    r.b = rc_param(r.ps, "bias_hh_l0", RC_SHAPE(8));
    r.V = rc_param(r.ps, "out.weight", RC_SHAPE(2, 8));
    rc_rng rng;
    rc_rng_seed(&rng, seed);
    for (size_t i = 0; i < rc_params_count(r.ps); i++)
        rc_param_uniform(rc_params_at(r.ps, i), -0.5, 0.5, &rng);
    rc_optim_config c = config_of(which);
    r.opt = rc_optim_new(r.ps, &c);
    r.g = rc_graph_new();
    return r;
}

static void free_run(run *r)
{
    rc_optim_free(r->opt);
    rc_params_free(r->ps);
    rc_graph_free(r->g);
}

/* One training step of a tiny recurrent net; the batch depends only on the
 * step index, as a data loader seeded by it would. */
static int train_step(run *r)
{
    long step = rc_optim_steps(r->opt);
    rc_rng rng;
    rc_rng_seed(&rng, 1000 + (uint64_t)step);
    rc_real x[3][4 * 8], y[4 * 2];
    for (int t = 0; t < 3; t++)
        for (int k = 0; k < 32; k++)
            x[t][k] = (rc_real)rc_rng_normal(&rng);
    for (int k = 0; k < 8; k++)
        y[k] = (rc_real)rc_rng_uniform(&rng);
    rc_graph_reset(r->g);
    rc_params_zero_grad(r->ps);
    rc_node *h = rc_fill(r->g, RC_SHAPE(4, 8), 0);
    for (int t = 0; t < 3; t++)
        h = rc_tanh(r->g, rc_add(r->g, rc_add(r->g, rc_matmul_nt(r->g, h, r->W),
                                              rc_input(r->g, RC_SHAPE(4, 8), x[t])), r->b));
    rc_node *loss = rc_mse(r->g, rc_matmul_nt(r->g, h, r->V), rc_input(r->g, RC_SHAPE(4, 2), y));
    if (rc_backward(r->g, loss) != 0)
        return -1;
    rc_clip_grad_norm(r->ps, 0.5, 2.0);
    rc_schedule s = rc_schedule_cosine(0.05, 3, N_STEPS + M_STEPS, 0.001);
    rc_optim_set_lr(r->opt, rc_schedule_lr(&s, step));
    return rc_optim_step(r->opt);
}

/* Child: fresh process, fresh model; load, train M steps, save to out. */
static int child(int which, const char *in, const char *out)
{
    char err[RC_CHECKPOINT_ERROR_SIZE];
    run r = make_run(which, 999);
    int rc = rc_checkpoint_load(in, r.ps, r.opt, err, sizeof err);
    for (int i = 0; rc == 0 && i < M_STEPS; i++)
        rc = train_step(&r);
    if (rc == 0)
        rc = rc_checkpoint_save(out, r.ps, r.opt, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "child %d: %s\n", which, err);
    free_run(&r);
    return rc == 0 ? 0 : 1;
}

static int run_child(const char *self, int which, const char *in, const char *out)
{
    char arg[16];
    snprintf(arg, sizeof arg, "%d", which);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        execl(self, self, "--resume", arg, in, out, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int main(int argc, char **argv)
{
    if (argc == 5 && !strcmp(argv[1], "--resume"))
        return child(atoi(argv[2]), argv[3], argv[4]);
    char dir[64], in[128], out[128], err[RC_CHECKPOINT_ERROR_SIZE];
    if (!tmpdir_make(dir))
        return 1;
    snprintf(in, sizeof in, "%s/after_n.safetensors", dir);
    snprintf(out, sizeof out, "%s/after_nm.safetensors", dir);
    for (int which = 0; which < N_CONFIGS; which++) {
        /* N + M steps in one go */
        run a = make_run(which, 7);
        for (int i = 0; i < N_STEPS + M_STEPS; i++)
            CHECK(train_step(&a) == 0);
        /* N steps, save; the rest happens in another process */
        run b = make_run(which, 7);
        for (int i = 0; i < N_STEPS; i++)
            CHECK(train_step(&b) == 0);
        CHECK(rc_checkpoint_save(in, b.ps, b.opt, err, sizeof err) == 0);
        CHECK(run_child("/proc/self/exe", which, in, out) == 0);
        run c = make_run(which, 123);
        CHECK(rc_checkpoint_load(out, c.ps, c.opt, err, sizeof err) == 0);
        size_t bytes = rc_params_numel(a.ps) * sizeof(rc_real);
        int same = memcmp(rc_params_values(a.ps), rc_params_values(c.ps), bytes) == 0;
        for (size_t s = 0; s < rc_optim_state_count(a.opt); s++)
            for (size_t i = 0; i < rc_params_count(a.ps); i++) {
                rc_node *p = rc_params_at(a.ps, i);
                same &= memcmp(rc_optim_state(a.opt, s) + p->offset,
                               rc_optim_state(c.opt, s) + p->offset,
                               p->val.size * sizeof(rc_real)) == 0;
            }
        CHECK(same);
        CHECK(rc_optim_steps(c.opt) == N_STEPS + M_STEPS);
        CHECK(rc_optim_lr(c.opt) == rc_optim_lr(a.opt));
        /* and the run really moved: not comparing two untouched models */
        run fresh = make_run(which, 7);
        CHECK(memcmp(rc_params_values(a.ps), rc_params_values(fresh.ps), bytes) != 0);
        printf("%-8s %d + %d steps across processes: %s\n",
               rc_optim_kind_name(config_of(which).kind), N_STEPS, M_STEPS,
               same ? "bit-identical" : "DIFFERENT");
        free_run(&a);
        free_run(&b);
        free_run(&c);
        free_run(&fresh);
    }
    tmpdir_remove(dir);
    return check_finish("checkpoint_resume");
}
