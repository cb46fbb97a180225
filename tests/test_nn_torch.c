/* recur's recurrent layers against torch.nn (fixtures made by
 * tools/gen_nn_fixtures.py): 2 layers, bidirectional, packed lengths,
 * initial state; outputs, final states and every gradient within 1e-5. */
#include <stdlib.h>

#include "check.h"
#include "recur/nn.h"

enum { MAX_TENSORS = 64 };

typedef struct tensor {
    char name[64];
    rc_shape shape;
    double *v;
} tensor;

typedef struct fixture {
    int T, B, I, H, L;
    int32_t lengths[8];
    tensor t[MAX_TENSORS];
    int n;
} fixture;

static int load(fixture *f, const char *path)
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        return -1;
    memset(f, 0, sizeof *f);
    char cell[16], lens[64];
    if (fscanf(fp, "config cell=%15s T=%d B=%d I=%d H=%d L=%d D=2 lengths=%63s %*[^\n]", cell,
               &f->T, &f->B, &f->I, &f->H, &f->L, lens) != 7 || f->B > 8) {
        fclose(fp);
        return -1;
    }
    char *p = lens;
    for (int b = 0; b < f->B; b++)
        f->lengths[b] = (int32_t)strtol(p, &p, 10), p += *p == ',';
    while (f->n < MAX_TENSORS) {
        tensor *t = &f->t[f->n];
        if (fscanf(fp, " tensor %63s %d", t->name, &t->shape.ndim) != 2)
            break;
        for (int k = 0; k < t->shape.ndim; k++)
            if (fscanf(fp, "%d", &t->shape.d[k]) != 1)
                break;
        size_t n = rc_shape_size(t->shape);
        t->v = malloc(n * sizeof *t->v);
        for (size_t k = 0; k < n; k++)
            if (fscanf(fp, "%lf", &t->v[k]) != 1)
                break;
        f->n++;
    }
    fclose(fp);
    return 0;
}

static const tensor *get(const fixture *f, const char *name)
{
    for (int k = 0; k < f->n; k++)
        if (strcmp(f->t[k].name, name) == 0)
            return &f->t[k];
    fprintf(stderr, "fixture has no tensor %s\n", name);
    return NULL;
}

static void set(rc_node *p, const tensor *t)
{
    CHECK(t && rc_size(p) == rc_shape_size(t->shape));
    if (t && rc_size(p) == rc_shape_size(t->shape))
        for (size_t k = 0; k < rc_size(p); k++)
            rc_data(p)[k] = (rc_real)t->v[k];
}

/* Worst |got - want| / max(1, |want|) must stay under 1e-5. */
static void compare(const char *kind, const char *what, const rc_real *got, const tensor *want)
{
    check_total_++;
    if (!got || !want) {
        check_failed_++;
        fprintf(stderr, "%s %s: missing\n", kind, what);
        return;
    }
    double worst = 0;
    size_t at = 0;
    for (size_t k = 0; k < rc_shape_size(want->shape); k++) {
        double e = fabs((double)got[k] - want->v[k]) / fmax(1, fabs(want->v[k]));
        if (e > worst)
            worst = e, at = k;
    }
    if (!(worst < 1e-5)) {
        check_failed_++;
        fprintf(stderr, "%s %s[%zu]: %.9g vs torch %.9g\n", kind, what, at, (double)got[at],
                want->v[at]);
    } else if (getenv("RECUR_TEST_VERBOSE")) {
        printf("%-5s %-26s max deviation %.2g\n", kind, what, worst);
    }
}

static void run(const char *dir, const char *kind, rc_cell_kind cell)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/nn_%s.txt", dir, kind);
    static fixture f;
    if (load(&f, path) != 0) {
        check_total_++, check_failed_++;
        fprintf(stderr, "cannot read %s\n", path);
        return;
    }
    rc_params *ps = rc_params_new();
    rc_rnn m;
    rc_rnn_config cfg = {cell, f.I, f.H, f.L, true, false, 0};
    CHECK(rc_rnn_init(&m, ps, "", &cfg, NULL) == 0);
    size_t nweights = rc_params_count(ps);
    for (size_t k = 0; k < nweights; k++)
        set(rc_params_at(ps, k), get(&f, rc_param_name(rc_params_at(ps, k))));
    rc_node *x = rc_param(ps, "x", RC_SHAPE(f.T, f.B, f.I));
    rc_node *h0 = rc_param(ps, "h0", RC_SHAPE(2 * f.L, f.B, f.H));
    rc_node *c0 = cell == RC_LSTM ? rc_param(ps, "c0", RC_SHAPE(2 * f.L, f.B, f.H)) : NULL;
    set(x, get(&f, "x"));
    set(h0, get(&f, "h0"));
    if (c0)
        set(c0, get(&f, "c0"));

    rc_graph *g = rc_graph_new();
    rc_rnn_result r = rc_rnn_forward(g, &m, x, f.lengths, h0, c0);
    CHECK_NO_ERROR(g);
    compare(kind, "output", rc_data(r.output), get(&f, "output"));
    compare(kind, "h_n", rc_data(r.h_n), get(&f, "h_n"));
    if (c0)
        compare(kind, "c_n", rc_data(r.c_n), get(&f, "c_n"));

    rc_real *w = malloc(3 * rc_size(r.output) * sizeof *w);
    const tensor *ro = get(&f, "r_out"), *rh = get(&f, "r_h"), *rcn = c0 ? get(&f, "r_c") : NULL;
    for (size_t k = 0; k < rc_size(r.output); k++)
        w[k] = (rc_real)ro->v[k];
    rc_node *loss = rc_sum(g, rc_mul(g, r.output, rc_input(g, rc_shape_of(r.output), w)));
    for (size_t k = 0; k < rc_size(r.h_n); k++)
        w[k] = (rc_real)rh->v[k];
    loss = rc_add(g, loss, rc_sum(g, rc_mul(g, r.h_n, rc_input(g, rc_shape_of(r.h_n), w))));
    if (c0) {
        for (size_t k = 0; k < rc_size(r.c_n); k++)
            w[k] = (rc_real)rcn->v[k];
        loss = rc_add(g, loss, rc_sum(g, rc_mul(g, r.c_n, rc_input(g, rc_shape_of(r.c_n), w))));
    }
    free(w);
    rc_real l = rc_item(loss);
    compare(kind, "loss", &l, get(&f, "loss"));
    CHECK(rc_backward(g, loss) == 0);
    for (size_t k = 0; k < rc_params_count(ps); k++) {
        char name[96];
        snprintf(name, sizeof name, "grad.%s", rc_param_name(rc_params_at(ps, k)));
        compare(kind, name, rc_grad(rc_params_at(ps, k)), get(&f, name));
    }
    rc_graph_free(g);
    rc_params_free(ps);
    for (int k = 0; k < f.n; k++)
        free(f.t[k].v);
}

int main(void)
{
    const char *dir = getenv("RECUR_FIXTURES");
    if (!dir) {
        fprintf(stderr, "RECUR_FIXTURES is not set (meson test sets it)\n");
        return 77;
    }
    run(dir, "rnn", RC_RNN_TANH);
    run(dir, "lstm", RC_LSTM);
    run(dir, "gru", RC_GRU);
    return check_finish("nn_torch");
}
