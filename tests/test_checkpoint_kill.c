/* Kill test: a child saves checkpoints in a loop and is killed with SIGKILL
 * at random moments, 50 times. Every time, the checkpoint on disk must load
 * cleanly and be one whole save: every value in it (parameters and optimizer
 * state) equals the step count it records, so a torn or mixed file fails. */
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "check.h"
#include "optim_support.h"
#include "recur/checkpoint.h"
#include "recur/op.h"

#define KILLS 50

typedef struct model {
    rc_params *ps;
    rc_optim *opt;
} model;

static model make_model(void)
{
    model m = {rc_params_new(), NULL};
    rc_param(m.ps, "weight_ih_l0", RC_SHAPE(256, 128));
    rc_param(m.ps, "weight_hh_l0", RC_SHAPE(256, 64));
    rc_param(m.ps, "bias_ih_l0", RC_SHAPE(256));
    m.opt = rc_optim_new(m.ps, &(rc_optim_config){.kind = RC_ADAM, .lr = 1e-3, .beta1 = 0.9,
                                                  .beta2 = 0.999, .eps = 1e-8});
    return m;
}

/* Every value, parameter and state, set to k. */
static void stamp(model *m, long k)
{
    for (size_t i = 0; i < rc_params_count(m->ps); i++) {
        rc_node *p = rc_params_at(m->ps, i);
        for (size_t j = 0; j < p->val.size; j++) {
            p->val.data[j] = (rc_real)k;
            for (size_t s = 0; s < rc_optim_state_count(m->opt); s++)
                rc_optim_state(m->opt, s)[p->offset + j] = (rc_real)k;
        }
    }
    rc_optim_set_steps(m->opt, k);
}

/* -1 if any value differs from the recorded step */
static long consistent(model *m)
{
    long k = rc_optim_steps(m->opt);
    for (size_t i = 0; i < rc_params_count(m->ps); i++) {
        rc_node *p = rc_params_at(m->ps, i);
        for (size_t j = 0; j < p->val.size; j++) {
            if (p->val.data[j] != (rc_real)k)
                return -1;
            for (size_t s = 0; s < rc_optim_state_count(m->opt); s++)
                if (rc_optim_state(m->opt, s)[p->offset + j] != (rc_real)k)
                    return -1;
        }
    }
    return k;
}

static void saver(const char *path, long start)
{
    char err[RC_CHECKPOINT_ERROR_SIZE];
    model m = make_model();
    for (long k = start;; k++) {
        stamp(&m, k);
        if (rc_checkpoint_save(path, m.ps, m.opt, err, sizeof err) != 0) {
            fprintf(stderr, "saver: %s\n", err);
            _exit(3);
        }
    }
}

int main(void)
{
    char dir[64], path[128], err[RC_CHECKPOINT_ERROR_SIZE];
    if (!tmpdir_make(dir))
        return 1;
    snprintf(path, sizeof path, "%s/ckpt.safetensors", dir);
    model first = make_model();
    stamp(&first, 0);
    CHECK(rc_checkpoint_save(path, first.ps, first.opt, err, sizeof err) == 0);
    rc_optim_free(first.opt);
    rc_params_free(first.ps);

    rc_rng rng;
    rc_rng_seed(&rng, (uint64_t)time(NULL));
    long last = 0, start = 1;
    int loaded = 0, advanced = 0, torn_temps = 0;
    for (int i = 0; i < KILLS; i++) {
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0)
            saver(path, start);
        CHECK(pid > 0);
        if (pid < 0)
            break;
        /* 0.2 .. 40 ms: lands before, between and inside saves */
        long ns = 200000 + (long)(rc_rng_uniform(&rng) * 40e6);
        nanosleep(&(struct timespec){0, ns}, NULL);
        kill(pid, SIGKILL);
        int status = 0;
        waitpid(pid, &status, 0);
        CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

        model m = make_model();
        int rc = rc_checkpoint_load(path, m.ps, m.opt, err, sizeof err);
        if (rc != 0)
            fprintf(stderr, "kill %d: %s\n", i, err);
        CHECK(rc == 0);
        long k = consistent(&m);
        CHECK(k >= last); /* never older than what we saw before */
        loaded += rc == 0 && k >= 0;
        advanced += k > last;
        if (k > last)
            last = k;
        start = last + 1;
        rc_optim_free(m.opt);
        rc_params_free(m.ps);
        /* a save killed before its rename leaves its temporary behind */
        DIR *d = opendir(dir);
        struct dirent *e;
        char tmp[4096];
        while ((e = readdir(d)))
            if (strstr(e->d_name, ".tmp.")) {
                torn_temps++;
                snprintf(tmp, sizeof tmp, "%s/%s", dir, e->d_name);
                unlink(tmp);
            }
        closedir(d);
    }
    CHECK(loaded == KILLS);
    CHECK(advanced > 0);
    printf("checkpoint_kill: %d SIGKILLs, %d clean loads, the file advanced %d times "
           "(to step %ld), %d kills landed inside a save\n",
           KILLS, loaded, advanced, last, torn_temps);
    tmpdir_remove(dir);
    return check_finish("checkpoint_kill");
}
