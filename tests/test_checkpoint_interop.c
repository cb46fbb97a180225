/* Interop with PyTorch, both ways, on a 2-layer bidirectional LSTM named as
 * torch.nn.LSTM names its parameters (weight_ih_l0, ..., bias_hh_l1_reverse).
 * recur's LSTM here is composed from ops in torch's formulation (gates
 * i, f, g, o; two biases), so outputs can be compared:
 *   1. recur saves its weights (with Adam state alongside); tests/interop_lstm.py
 *      loads the file into torch.nn.LSTM and checks its output against
 *      recur's within 1e-5;
 *   2. the script writes a safetensors file with its own writer; recur loads
 *      it, every value equals torch's, and recur's output equals torch's
 *      within 1e-5.
 * Skips (77) when /usr/bin/python3 (or RECUR_PYTHON) cannot import torch. */
#include <sys/wait.h>

#include "check.h"
#include "optim_support.h"
#include "recur/checkpoint.h"
#include "recur/ops.h"

enum { IN = 3, HID = 4, LAYERS = 2, T = 5, B = 2 };
#define TOL 1e-5

static const char *python(void)
{
    const char *p = getenv("RECUR_PYTHON");
    return p ? p : "/usr/bin/python3";
}

static int run(const char *a0, const char *a1, const char *a2, const char *a3)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        execl(a0, a0, a1, a2, a3, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static const char *names[] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};

static void make_lstm(rc_params *ps)
{
    char name[64];
    for (int l = 0; l < LAYERS; l++)
        for (int d = 0; d < 2; d++)
            for (int k = 0; k < 4; k++) {
                snprintf(name, sizeof name, "%s_l%d%s", names[k], l, d ? "_reverse" : "");
                int in = l == 0 ? IN : 2 * HID;
                rc_param(ps, name, k == 0 ? RC_SHAPE(4 * HID, in)
                                 : k == 1 ? RC_SHAPE(4 * HID, HID) : RC_SHAPE(4 * HID));
            }
}

static rc_node *P(rc_params *ps, const char *what, int l, int d)
{
    char name[64];
    snprintf(name, sizeof name, "%s_l%d%s", what, l, d ? "_reverse" : "");
    return rc_params_find(ps, name);
}

/* torch.nn.LSTM's forward: y[t] = [h_fwd[t], h_bwd[t]] of the last layer. */
static void lstm_forward(rc_graph *g, rc_params *ps, rc_node *x[T], rc_node *y[T])
{
    rc_node *in[T], *out[2][T];
    for (int t = 0; t < T; t++)
        in[t] = x[t];
    for (int l = 0; l < LAYERS; l++) {
        for (int d = 0; d < 2; d++) {
            rc_node *h = rc_fill(g, RC_SHAPE(B, HID), 0), *c = h;
            for (int s = 0; s < T; s++) {
                int t = d ? T - 1 - s : s;
                rc_node *z = rc_add(g, rc_add(g, rc_matmul_nt(g, in[t], P(ps, "weight_ih", l, d)),
                                              P(ps, "bias_ih", l, d)),
                                    rc_add(g, rc_matmul_nt(g, h, P(ps, "weight_hh", l, d)),
                                           P(ps, "bias_hh", l, d)));
                rc_node *i = rc_sigmoid(g, rc_slice(g, z, 1, 0, HID));
                rc_node *f = rc_sigmoid(g, rc_slice(g, z, 1, HID, HID));
                rc_node *gg = rc_tanh(g, rc_slice(g, z, 1, 2 * HID, HID));
                rc_node *o = rc_sigmoid(g, rc_slice(g, z, 1, 3 * HID, HID));
                c = rc_add(g, rc_mul(g, f, c), rc_mul(g, i, gg));
                h = rc_mul(g, o, rc_tanh(g, c));
                out[d][t] = h;
            }
        }
        for (int t = 0; t < T; t++)
            in[t] = rc_concat2(g, out[0][t], out[1][t], 1);
    }
    for (int t = 0; t < T; t++)
        y[t] = in[t];
}

static void put_values(FILE *f, const char *key, const rc_real *v, size_t n)
{
    fprintf(f, "%s", key);
    for (size_t k = 0; k < n; k++)
        fprintf(f, " %.17g", (double)v[k]);
    fprintf(f, "\n");
}

/* One line "KEY v v ..." of a text file; returns the count read. */
static size_t get_values(const char *path, const char *key, double *out, size_t max)
{
    FILE *f = fopen(path, "r");
    static char line[1 << 16];
    size_t n = 0, klen = strlen(key);
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, key, klen) || line[klen] != ' ')
            continue;
        for (char *tok = strtok(line + klen, " \n"); tok && n < max; tok = strtok(NULL, " \n"))
            out[n++] = strtod(tok, NULL);
        break;
    }
    if (f)
        fclose(f);
    return n;
}

int main(void)
{
    if (run(python(), "-c", "import torch", NULL) != 0) {
        printf("checkpoint_interop: skipped, %s cannot import torch (apt-get install "
               "python3-torch)\n", python());
        return 77;
    }
    char script[4096], dir[64], path[256], io[256], err[RC_CHECKPOINT_ERROR_SIZE];
    const char *fx = getenv("RECUR_FIXTURES");
    if (fx) {
        snprintf(script, sizeof script, "%s/../interop_lstm.py", fx);
    } else {
        const char *slash = strrchr(__FILE__, '/');
        snprintf(script, sizeof script, "%.*s/interop_lstm.py",
                 slash ? (int)(slash - __FILE__) : 1, slash ? __FILE__ : ".");
    }
    if (!tmpdir_make(dir))
        return 1;
    rc_graph *g = rc_graph_new();
    rc_node *x[T], *y[T];
    rc_rng rng;
    rc_rng_seed(&rng, 2024);

    /* 1. recur -> torch */
    rc_params *ps = rc_params_new();
    make_lstm(ps);
    CHECK(rc_params_count(ps) == 16);
    for (size_t i = 0; i < rc_params_count(ps); i++)
        rc_param_uniform(rc_params_at(ps, i), -0.5, 0.5, &rng);
    rc_optim *opt = rc_optim_new(ps, &(rc_optim_config){.kind = RC_ADAM, .lr = 1e-3,
                                                        .beta1 = 0.9, .beta2 = 0.999});
    rc_real xs[T][B * IN];
    for (int t = 0; t < T; t++) {
        for (int k = 0; k < B * IN; k++)
            xs[t][k] = (rc_real)rc_rng_normal(&rng);
        x[t] = rc_input(g, RC_SHAPE(B, IN), xs[t]);
    }
    lstm_forward(g, ps, x, y);
    CHECK_NO_ERROR(g);
    snprintf(path, sizeof path, "%s/recur_lstm.safetensors", dir);
    snprintf(io, sizeof io, "%s/recur_io.txt", dir);
    CHECK(rc_checkpoint_save(path, ps, opt, err, sizeof err) == 0);
    FILE *f = fopen(io, "w");
    put_values(f, "x", &xs[0][0], T * B * IN);
    fprintf(f, "y");
    for (int t = 0; t < T; t++)
        for (size_t k = 0; k < rc_size(y[t]); k++)
            fprintf(f, " %.17g", (double)rc_data(y[t])[k]);
    fprintf(f, "\n");
    fclose(f);
    int rc = run(python(), script, "check-recur", dir);
    CHECK(rc == 0);
    rc_optim_free(opt);
    rc_params_free(ps);

    /* 2. torch -> recur */
    CHECK(run(python(), script, "write-torch", dir) == 0);
    snprintf(path, sizeof path, "%s/torch_lstm.safetensors", dir);
    snprintf(io, sizeof io, "%s/torch_io.txt", dir);
    ps = rc_params_new();
    make_lstm(ps);
    CHECK(rc_checkpoint_load(path, ps, NULL, err, sizeof err) == 0);
    if (err[0])
        fprintf(stderr, "%s\n", err);
    static double want[4096];
    int exact = 1;
    for (size_t i = 0; i < rc_params_count(ps); i++) {
        rc_node *p = rc_params_at(ps, i);
        size_t n = get_values(io, rc_param_name(p), want, 4096);
        CHECK(n == rc_size(p));
        for (size_t k = 0; k < n; k++)
            exact &= rc_data(p)[k] == (rc_real)(float)want[k];
    }
    CHECK(exact);
    double xv[T * B * IN], yv[T * B * 2 * HID];
    CHECK(get_values(io, "x", xv, T * B * IN) == T * B * IN);
    CHECK(get_values(io, "y", yv, T * B * 2 * HID) == T * B * 2 * HID);
    rc_graph_reset(g);
    for (int t = 0; t < T; t++) {
        for (int k = 0; k < B * IN; k++)
            xs[t][k] = (rc_real)xv[t * B * IN + k];
        x[t] = rc_input(g, RC_SHAPE(B, IN), xs[t]);
    }
    lstm_forward(g, ps, x, y);
    CHECK_NO_ERROR(g);
    double dev = 0;
    for (int t = 0; t < T; t++)
        for (int k = 0; k < B * 2 * HID; k++)
            dev = fmax(dev, fabs((double)rc_data(y[t])[k] - yv[t * B * 2 * HID + k]));
    printf("recur on torch's file vs torch.nn.LSTM's output: max |diff| %.3g; weights %s\n",
           dev, exact ? "bit-identical" : "DIFFER");
    CHECK(dev <= TOL);

    /* torch's file with a parameter the model lacks is refused by name */
    rc_params *ps2 = rc_params_new();
    make_lstm(ps2);
    rc_param(ps2, "extra.weight", RC_SHAPE(2));
    CHECK(rc_checkpoint_load(path, ps2, NULL, err, sizeof err) == -1);
    CHECK(strstr(err, "tensor 'extra.weight' of the model is missing") != NULL);
    rc_params_free(ps2);

    rc_params_free(ps);
    rc_graph_free(g);
    tmpdir_remove(dir);
    return check_finish("checkpoint_interop");
}
