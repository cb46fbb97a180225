/* Optimizers against torch.optim: 20-step trajectories from the fixtures
 * written by tools/gen_optim_fixtures.py must agree within 1e-6 relative,
 * in float32 and float64 builds. Plus hand-computed steps, config errors,
 * clipping and schedules. */
#include <math.h>

#include "check.h"
#include "optim_support.h"
#include "recur/optim.h"

#if RC_REAL_IS_DOUBLE
#define TAG "f64"
#else
#define TAG "f32"
#endif
#define MAXN 64
#define REL_TOL 1e-6

static double rel_dev(double got, double want)
{
    return fabs(got - want) / fmax(fabs(want), 1e-30);
}

/* key=value from the fixture onto a config */
static int apply(rc_optim_config *c, const char *kv)
{
    char key[64];
    double v;
    if (sscanf(kv, "%63[^=]=%lf", key, &v) != 2)
        return -1;
#define F(name) if (!strcmp(key, #name)) { c->name = v; return 0; }
#define B(name) if (!strcmp(key, #name)) { c->name = v != 0; return 0; }
    F(lr) F(weight_decay) F(momentum) F(dampening) F(beta1) F(beta2) F(eps) F(alpha)
    F(lr_decay) F(initial_accumulator_value)
    B(maximize) B(nesterov) B(amsgrad) B(centered)
#undef F
#undef B
    return -1;
}

static rc_optim_config defaults(const char *kind)
{
    if (!strcmp(kind, "adam")) return rc_adam_defaults();
    if (!strcmp(kind, "adamw")) return rc_adamw_defaults();
    if (!strcmp(kind, "rmsprop")) return rc_rmsprop_defaults();
    if (!strcmp(kind, "adagrad")) return rc_adagrad_defaults();
    return rc_sgd_defaults(0.1);
}

static int read_values(char *rest, double *out, int max)
{
    int n = 0;
    for (char *tok = strtok(rest, " \n"); tok && n < max; tok = strtok(NULL, " \n"))
        out[n++] = strtod(tok, NULL);
    return n;
}

typedef struct {
    rc_params *ps;
    rc_node *p[2];
    int n; /* reals over both parameters (no padding) */
    double a[MAXN], t[MAXN], c[MAXN];
} problem;

/* The fixture's gradient, op for op: a * (p - t) + c * ((p * p) * p). */
static void set_grads(problem *pr)
{
    int k = 0;
    for (int i = 0; i < 2; i++) {
        rc_real *v = rc_data(pr->p[i]), *g = rc_grad(pr->p[i]);
        for (size_t j = 0; j < rc_size(pr->p[i]); j++, k++) {
            rc_real a = (rc_real)pr->a[k], t = (rc_real)pr->t[k], c = (rc_real)pr->c[k];
            rc_real s = v[j] - t, x = a * s, cube = v[j] * v[j] * v[j], y = c * cube;
            g[j] = x + y;
        }
    }
}

/* Runs every case of tests/fixtures/optim_<kind>.txt; returns the worst
 * relative deviation (or INFINITY when the file could not be used). With
 * zero_grad the optimizer clears the gradients in its step: the same
 * trajectory, and every gradient zero after each step. */
static double run_fixture(const char *kind, bool zero_grad, int *cases_out)
{
    char name[64], line[65536];
    snprintf(name, sizeof name, "optim_%s.txt", kind);
    FILE *f = fixture_open(name);
    CHECK(f != NULL);
    if (!f)
        return INFINITY;
    double worst = 0;
    int cases = 0, rows = 0;
    problem pr = {0};
    rc_optim *opt = NULL;
    rc_optim_config cfg = defaults(kind);
    double p0[MAXN];
    char case_name[64] = "";
    while (fgets(line, sizeof line, f)) {
        char *rest = strchr(line, ' ');
        rest = rest ? rest + 1 : line + strlen(line);
        if (!strncmp(line, "case ", 5)) {
            sscanf(rest, "%63s", case_name);
            cfg = defaults(kind);
            pr.ps = rc_params_new();
            pr.n = 0;
        } else if (!strncmp(line, "config", 6)) {
            for (char *tok = strtok(rest, " \n"); tok; tok = strtok(NULL, " \n"))
                if (apply(&cfg, tok) != 0) {
                    fprintf(stderr, "%s: unknown config %s\n", case_name, tok);
                    CHECK(0);
                }
        } else if (!strncmp(line, "param ", 6)) {
            char pname[32];
            int d[2] = {0, 0};
            int got = sscanf(rest, "%31s %d %d", pname, &d[0], &d[1]);
            rc_shape s = got == 3 ? RC_SHAPE(d[0], d[1]) : RC_SHAPE(d[0]);
            int i = rc_params_count(pr.ps) == 0 ? 0 : 1;
            pr.p[i] = rc_param(pr.ps, pname, s);
            pr.n += (int)rc_shape_size(s);
        } else if (line[0] == 'a' && line[1] == ' ') {
            CHECK(read_values(rest, pr.a, MAXN) == pr.n);
        } else if (line[0] == 't' && line[1] == ' ') {
            CHECK(read_values(rest, pr.t, MAXN) == pr.n);
        } else if (line[0] == 'c' && line[1] == ' ') {
            CHECK(read_values(rest, pr.c, MAXN) == pr.n);
        } else if (!strncmp(line, "p0 ", 3)) {
            CHECK(read_values(rest, p0, MAXN) == pr.n);
            int k = 0;
            for (int i = 0; i < 2; i++)
                for (size_t j = 0; j < rc_size(pr.p[i]); j++)
                    rc_data(pr.p[i])[j] = (rc_real)p0[k++];
            cfg.zero_grad = zero_grad;
            opt = rc_optim_new(pr.ps, &cfg);
            CHECK(opt && !rc_optim_error(opt));
        } else if (!strncmp(line, TAG " ", 4)) {
            long step = strtol(rest, &rest, 10);
            double want[MAXN];
            CHECK(read_values(rest, want, MAXN) == pr.n);
            set_grads(&pr);
            CHECK(rc_optim_step(opt) == 0);
            CHECK(rc_optim_steps(opt) == step);
            size_t nonzero = 0;
            for (size_t k = 0; k < rc_params_numel(pr.ps); k++)
                nonzero += rc_params_grads(pr.ps)[k] != 0;
            if (zero_grad && nonzero) {
                fprintf(stderr, "%s step %ld: %zu gradients left after a zero_grad step\n",
                        case_name, step, nonzero);
                CHECK(nonzero == 0);
            }
            CHECK(zero_grad || nonzero > 0);
            double w = 0;
            int k = 0;
            for (int i = 0; i < 2; i++)
                for (size_t j = 0; j < rc_size(pr.p[i]); j++, k++)
                    w = fmax(w, rel_dev(rc_data(pr.p[i])[j], want[k]));
            if (!(w <= REL_TOL)) {
                fprintf(stderr, "%s step %ld: relative deviation %.3g from torch\n",
                        case_name, step, w);
                CHECK(w <= REL_TOL);
            }
            worst = fmax(worst, w);
            rows++;
        } else if (!strncmp(line, "end", 3)) {
            /* the alignment padding between the two views never moves */
            rc_real *all = rc_params_values(pr.ps);
            size_t pad0 = rc_size(pr.p[0]), pad1 = (size_t)(rc_data(pr.p[1]) - all);
            for (size_t k = pad0; k < pad1; k++)
                CHECK(all[k] == 0);
            rc_optim_free(opt);
            rc_params_free(pr.ps);
            opt = NULL;
            pr.ps = NULL;
            cases++;
        }
    }
    fclose(f);
    CHECK(rows == 20 * cases && cases > 0);
    *cases_out = cases;
    return worst;
}

static void hand_computed(void)
{
    rc_params *ps = rc_params_new();
    rc_node *p = rc_param(ps, "p", RC_SHAPE(2));
    rc_real *v = rc_data(p), *g = rc_grad(p);

    /* Adam, step 1: m = 0.1 g, v = 0.001 g^2, bias-corrected m/sqrt(v) = sign(g) */
    v[0] = 1, v[1] = -2;
    rc_optim_config c = rc_adam_defaults();
    c.lr = 0.1;
    rc_optim *o = rc_optim_new(ps, &c);
    g[0] = 0.5, g[1] = -4;
    CHECK(rc_optim_step(o) == 0);
    CHECK_NEAR(v[0], 1 - 0.1 * 0.5 / (0.5 + 1e-8), 1e-6);
    CHECK_NEAR(v[1], -2 + 0.1 * 4 / (4 + 1e-8), 1e-6);
    CHECK(rc_optim_state_count(o) == 2);
    CHECK(!strcmp(rc_optim_state_name(o, 0), "exp_avg"));
    CHECK_NEAR(rc_optim_state(o, 0)[0], 0.05, 1e-7);
    CHECK_NEAR(rc_optim_state(o, 1)[1], 0.001 * 16, 1e-7);
    rc_optim_free(o);

    /* SGD momentum: the buffer starts as the first gradient (no dampening) */
    v[0] = 1, v[1] = 1;
    c = rc_sgd_defaults(0.5);
    c.momentum = 0.9;
    c.dampening = 0.5;
    o = rc_optim_new(ps, &c);
    g[0] = 1, g[1] = 2;
    rc_optim_step(o);
    CHECK_NEAR(v[0], 0.5, 1e-7);
    CHECK_NEAR(v[1], 0.0, 1e-7);
    rc_optim_step(o); /* buf = 0.9 * 1 + 0.5 * 1 = 1.4 */
    CHECK_NEAR(v[0], 0.5 - 0.5 * 1.4, 1e-6);
    rc_optim_free(o);

    /* AdamW decays the weight itself: p *= 1 - lr * wd before the Adam step */
    v[0] = 2, v[1] = 2;
    g[0] = 0, g[1] = 0;
    c = rc_adamw_defaults();
    c.lr = 0.1;
    c.weight_decay = 0.5;
    o = rc_optim_new(ps, &c);
    rc_optim_step(o);
    CHECK_NEAR(v[0], 2 * (1 - 0.05), 1e-7);
    rc_optim_free(o);

    /* RMSprop: eps outside the sqrt: g / (sqrt(0.01 g^2) + eps) = 10 */
    v[0] = 0, v[1] = 0;
    g[0] = 1e-3, g[1] = 1;
    c = rc_rmsprop_defaults();
    c.eps = 1e-4;
    o = rc_optim_new(ps, &c);
    rc_optim_step(o);
    CHECK_NEAR(v[0], -0.01 * 1e-3 / (sqrt(0.01 * 1e-6) + 1e-4), 1e-6);
    CHECK_NEAR(v[1], -0.01 * 1 / (0.1 + 1e-4), 1e-6);
    rc_optim_free(o);

    /* Adagrad: lr / (1 + (step - 1) * lr_decay), accumulator starts at init */
    v[0] = 0, v[1] = 0;
    g[0] = 2, g[1] = 2;
    c = rc_adagrad_defaults();
    c.lr = 1;
    c.lr_decay = 1;
    c.initial_accumulator_value = 5;
    o = rc_optim_new(ps, &c);
    rc_optim_step(o); /* sum 9: -1 * 2 / 3 */
    CHECK_NEAR(v[0], -2.0 / 3, 1e-6);
    rc_optim_step(o); /* sum 13, clr 1/2 */
    CHECK_NEAR(v[0], -2.0 / 3 - 0.5 * 2 / sqrt(13), 1e-6);
    rc_optim_free(o);
    rc_params_free(ps);
}

static void errors(void)
{
    rc_params *ps = rc_params_new();
    rc_node *p = rc_param(ps, "p", RC_SHAPE(3));
    rc_optim_config c = rc_sgd_defaults(0.1);
    c.nesterov = true;
    rc_optim *o = rc_optim_new(ps, &c);
    CHECK(o != NULL);
    CHECK(rc_optim_step(o) == -1);
    CHECK(rc_optim_error(o) && strstr(rc_optim_error(o), "nesterov"));
    CHECK(rc_data(p)[0] == 0 && rc_optim_steps(o) == 0);
    rc_optim_free(o);

    c = rc_adam_defaults();
    c.beta2 = 1.5;
    o = rc_optim_new(ps, &c);
    CHECK(rc_optim_step(o) == -1);
    CHECK(rc_optim_error(o) && strstr(rc_optim_error(o), "beta2"));
    rc_optim_free(o);

    c = rc_adam_defaults();
    c.lr = -1;
    o = rc_optim_new(ps, &c);
    CHECK(rc_optim_error(o) && strstr(rc_optim_error(o), "learning rate"));
    rc_optim_free(o);

    /* a store that grows after the optimizer was made is refused */
    o = rc_optim_new(ps, &(rc_optim_config){.kind = RC_SGD, .lr = 0.1});
    CHECK(rc_optim_step(o) == 0);
    rc_param(ps, "late", RC_SHAPE(40));
    CHECK(rc_optim_step(o) == -1);
    CHECK(rc_optim_error(o) && strstr(rc_optim_error(o), "grew"));
    rc_optim_free(o);
    CHECK(rc_optim_new(NULL, &c) == NULL);
    CHECK(rc_optim_step(NULL) == -1);
    rc_params_free(ps);
}

static void clipping(void)
{
    rc_params *ps = rc_params_new();
    rc_node *a = rc_param(ps, "a", RC_SHAPE(2));
    rc_node *b = rc_param(ps, "b", RC_SHAPE(1));
    rc_real *ga = rc_grad(a), *gb = rc_grad(b);
    ga[0] = 3, ga[1] = 0, gb[0] = -4; /* norm 5 across parameters */
    double n = rc_clip_grad_norm(ps, 1.0, 2.0);
    CHECK_NEAR(n, 5.0, 1e-12);
    double coef = 1.0 / (5.0 + 1e-6);
    CHECK_NEAR(ga[0], 3 * coef, 1e-7);
    CHECK_NEAR(gb[0], -4 * coef, 1e-7);
    /* under the limit: untouched, norm still returned */
    ga[0] = 3, gb[0] = -4;
    CHECK_NEAR(rc_clip_grad_norm(ps, 10.0, 2.0), 5.0, 1e-12);
    CHECK(ga[0] == 3 && gb[0] == -4);
    /* max norm and 1-norm */
    CHECK_NEAR(rc_clip_grad_norm(ps, 100.0, INFINITY), 4.0, 1e-12);
    CHECK_NEAR(rc_clip_grad_norm(ps, 100.0, 1.0), 7.0, 1e-12);
    CHECK_NEAR(rc_clip_grad_norm(ps, 100.0, 3.0), cbrt(27.0 + 64.0), 1e-12);
    CHECK(isnan(rc_clip_grad_norm(ps, 1.0, 0.0)));
    /* NaN norm: returned, and (as torch) the gradients become NaN */
    ga[1] = NAN;
    CHECK(isnan(rc_clip_grad_norm(ps, 1.0, 2.0)));
    CHECK(isnan(gb[0]));
    /* by value */
    ga[0] = 3, ga[1] = -0.25, gb[0] = -4;
    rc_clip_grad_value(ps, 0.5);
    CHECK(ga[0] == 0.5f && ga[1] == -0.25f && gb[0] == -0.5f);
    rc_params_free(ps);
}

static void schedules(void)
{
    FILE *f = fixture_open("optim_schedules.txt");
    CHECK(f != NULL);
    if (!f)
        return;
    char line[4096], kind[32];
    int rows = 0;
    double worst = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#')
            continue;
        double base, x, y, z;
        int got = sscanf(line, "%31s %lf %lf %lf %lf", kind, &base, &x, &y, &z);
        rc_schedule s;
        if (!strcmp(kind, "step") && got >= 4)
            s = rc_schedule_step(base, (long)x, y);
        else if (!strcmp(kind, "exponential") && got >= 3)
            s = rc_schedule_exponential(base, x);
        else if (!strcmp(kind, "cosine") && got == 5)
            s = rc_schedule_cosine(base, (long)x, (long)y, z);
        else {
            CHECK(!"unknown schedule line");
            continue;
        }
        double want[64];
        int n = read_values(strchr(line, ':') + 2, want, 64);
        CHECK(n > 10);
        for (int k = 0; k < n; k++) {
            double d = rel_dev(rc_schedule_lr(&s, k), want[k]);
            worst = fmax(worst, d);
            if (!(d < 1e-12))
                fprintf(stderr, "%s step %d: lr %.17g, torch %.17g\n", kind, k,
                        rc_schedule_lr(&s, k), want[k]);
            CHECK(d < 1e-12);
        }
        rows++;
    }
    fclose(f);
    CHECK(rows == 4);
    printf("schedules: %d torch schedules, max relative deviation %.3g\n", rows, worst);
    rc_schedule bad = rc_schedule_step(0.1, 0, 0.5);
    CHECK(isnan(rc_schedule_lr(&bad, 3)));
    rc_schedule cos = rc_schedule_cosine(1.0, 0, 10, 0.0);
    CHECK_NEAR(rc_schedule_lr(&cos, 5), 0.5, 1e-12);
    CHECK_NEAR(rc_schedule_lr(&cos, 50), 0.0, 1e-12); /* stays at min after the end */
    rc_schedule c = rc_schedule_constant(0.3);
    CHECK(rc_schedule_lr(&c, 1000) == 0.3);
}

int main(void)
{
    const char *kinds[] = {"sgd", "adam", "adamw", "rmsprop", "adagrad"};
    for (int i = 0; i < 5; i++)
        for (int zero = 0; zero < 2; zero++) {
            int cases = 0;
            double worst = run_fixture(kinds[i], zero, &cases);
            printf("%-8s %d cases x 20 steps (%s%s): max relative deviation from torch %.3g\n",
                   kinds[i], cases, TAG, zero ? ", zero_grad" : "", worst);
            CHECK(worst <= REL_TOL);
        }
    hand_computed();
    errors();
    clipping();
    schedules();
    return check_finish("optim");
}
