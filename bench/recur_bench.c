/* recur_bench - recur's side of the PyTorch comparison (issue 7).
 *
 *   recur_bench WORKLOAD THREADS [--mode train|infer] [--steps N] [--warmup W]
 *                                [--seed S] [--tag TAG] [--no-check-finite]
 *   recur_bench mm THREADS [--path cblas|recur|both] [--shape MxKxN]
 *
 * WORKLOAD is one of W1 W2 W3 W1g W1c W4 W4a W4l: the shapes, FLOP model and
 * timing rules of ../shared/bench/torch_bench.py (read that script with this
 * one). One workload per process; the result is one line on stdout starting
 * with "RESULT " and then key=value pairs with torch_bench.py's keys, except
 * that `torch=` (the version) is `recur=`, `torch_threads=` is
 * `blas_threads=`, and these are added:
 *   impl=recur threads_impl=openblas|none blas_core=...  check_finite=0|1
 *   fold=0|1   (matmul's embedding fold: RECUR_FOLD=0 turns it off)
 *   allocs_first_step=N allocs_per_step=X   (recur heap allocations, counted
 *       through rc_set_allocator; per step over every step after the first)
 *
 * Train step = rc_graph_reset + zero-grad + forward + cross-entropy
 * + rc_backward + Adam step (torch: zero_grad + forward + loss + backward +
 * step); the zero-grad is rc_params_zero_grad before the first step, after
 * that the previous step's Adam pass (rc_optim_config.zero_grad). Infer
 * step = rc_graph_reset + forward + loss with gradients off (torch:
 * no_grad, eval). `warmup` steps are discarded; median, best and
 * worst of `steps` timed steps are reported.
 *
 * Threads (--threads-impl): `recur` (the default) runs THREADS of recur's
 * own threads (rc_set_num_threads) with OpenBLAS at one thread; `openblas`
 * keeps recur at one thread and gives OpenBLAS THREADS. OpenBLAS reads
 * OPENBLAS_NUM_THREADS when the library is loaded, so when the environment
 * does not already say the wanted count the program sets
 * OPENBLAS_NUM_THREADS and OMP_NUM_THREADS and re-executes itself once.
 * OPENBLAS_CORETYPE is taken as inherited and reported.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "recur/nn.h"
#include "recur/optim.h"
#include "recur/seq2seq.h"

#if RC_HAVE_BLAS && defined(BENCH_HAVE_OPENBLAS)
#include <cblas.h>
#define HAVE_OPENBLAS 1
#else
#define HAVE_OPENBLAS 0
#endif

/* ------------------------------------------------------------ workloads */

typedef enum { LM, S2S } kind_t;

typedef struct workload {
    const char *name;
    kind_t kind;
    const char *cell; /* LM: "lstm", "gru", "lstmcell_loop"; S2S: NULL */
    const char *attn; /* S2S: "none", "bahdanau", "luong_dot" */
    int V, E, H, B, T, S, steps;
} workload;

/* The table of torch_bench.py's WORKLOADS, field for field. */
static const workload WORKLOADS[] = {
    {"W1", LM, "lstm", NULL, 65, 128, 256, 32, 64, 0, 30},
    {"W2", LM, "lstm", NULL, 65, 32, 64, 1, 100, 0, 200},
    {"W3", LM, "lstm", NULL, 1000, 512, 1024, 64, 32, 0, 12},
    {"W1g", LM, "gru", NULL, 65, 128, 256, 32, 64, 0, 30},
    {"W1c", LM, "lstmcell_loop", NULL, 65, 128, 256, 32, 64, 0, 30},
    {"W4", S2S, NULL, "none", 2000, 128, 256, 32, 20, 20, 30},
    {"W4a", S2S, NULL, "bahdanau", 2000, 128, 256, 32, 20, 20, 30},
    {"W4l", S2S, NULL, "luong_dot", 2000, 128, 256, 32, 20, 20, 30},
};

/* ------------------------------------------------------------ FLOP model */

static double gates(const char *cell)
{
    return strcmp(cell, "gru") == 0 ? 3 : strcmp(cell, "rnn") == 0 ? 1 : 4;
}

static double flops_lm(const workload *w, double mult)
{
    double B = w->B, T = w->T, E = w->E, H = w->H, V = w->V;
    double per_t = mult * B * (E + H) * gates(w->cell) * H + mult * B * H * V;
    return T * per_t;
}

static double flops_s2s(const workload *w, double mult)
{
    double B = w->B, S = w->S, T = w->T, E = w->E, H = w->H, V = w->V;
    double enc = S * mult * B * (E + H) * 3 * H;
    if (strcmp(w->attn, "none") == 0)
        return enc + T * (mult * B * (E + H) * 3 * H + mult * B * H * V);
    if (strcmp(w->attn, "bahdanau") == 0) {
        double once = mult * B * S * H * H;
        double per_t = mult * B * H * H + mult * B * S * H + mult * B * S * H +
                       mult * B * (E + H + H) * 3 * H + mult * B * H * V;
        return enc + once + T * per_t;
    }
    double per_t = mult * B * (E + H) * 3 * H + 2 * mult * B * S * H + mult * B * 2 * H * H +
                   mult * B * H * V;
    return enc + T * per_t;
}

/* ------------------------------------------------------------ counting allocator */

static size_t n_allocs;

static void *counting_alloc(void *ctx, size_t size, size_t align)
{
    (void)ctx;
    n_allocs++;
    if (align < sizeof(void *))
        align = sizeof(void *);
    void *p = NULL;
    return posix_memalign(&p, align, size ? size : 1) == 0 ? p : NULL;
}

static void counting_release(void *ctx, void *p)
{
    (void)ctx;
    free(p);
}

/* ------------------------------------------------------------ timing, contention */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void sys_jiffies(long long *total, long long *busy)
{
    long long v[8] = {0};
    FILE *f = fopen("/proc/stat", "r");
    if (f) {
        if (fscanf(f, "cpu %lld %lld %lld %lld %lld %lld %lld %lld", &v[0], &v[1], &v[2],
                   &v[3], &v[4], &v[5], &v[6], &v[7]) != 8)
            memset(v, 0, sizeof v);
        fclose(f);
    }
    long long s = 0;
    for (int k = 0; k < 8; k++)
        s += v[k];
    *total = s;
    *busy = s - (v[3] + v[4]);
}

static long long self_jiffies(void)
{
    char buf[4096];
    FILE *f = fopen("/proc/self/stat", "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p)
        return 0;
    /* after ")": state(0) ppid(1) ... utime is field 11, stime 12 */
    long long ut = 0, st = 0;
    int field = 0;
    for (char *tok = strtok(p + 1, " "); tok; tok = strtok(NULL, " "), field++) {
        if (field == 11)
            ut = atoll(tok);
        else if (field == 12) {
            st = atoll(tok);
            break;
        }
    }
    return ut + st;
}

typedef struct contention {
    double t0;
    long long tot0, busy0, self0;
    double self_cores, other_cores;
} contention;

static void cont_begin(contention *c)
{
    c->t0 = now();
    sys_jiffies(&c->tot0, &c->busy0);
    c->self0 = self_jiffies();
}

static void cont_end(contention *c)
{
    double wall = now() - c->t0;
    long long tot1, busy1;
    sys_jiffies(&tot1, &busy1);
    long long self1 = self_jiffies();
    double hz = (double)sysconf(_SC_CLK_TCK);
    c->self_cores = (double)(self1 - c->self0) / hz / wall;
    double ncpu = (double)sysconf(_SC_NPROCESSORS_ONLN);
    long long dt = tot1 - c->tot0 > 1 ? tot1 - c->tot0 : 1;
    double busy_cores = (double)(busy1 - c->busy0) / (double)dt * ncpu;
    c->other_cores = fmax(busy_cores - c->self_cores, 0.0);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* statistics.median: the mean of the middle two for an even count */
static double median(const double *v, int n)
{
    double *s = malloc((size_t)n * sizeof *s);
    memcpy(s, v, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    double m = n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
    free(s);
    return m;
}

/* ------------------------------------------------------------ options, output */

typedef struct options {
    const char *workload;
    int threads;
    int train;
    int steps, warmup;
    uint64_t seed;
    const char *tag;
    int check_finite;
    const char *mm_path;  /* mm: cblas, recur, both */
    const char *mm_shape; /* mm: MxKxN or NULL for all */
    bool recur_threads;   /* --threads-impl recur (default) or openblas */
} options;

static void usage(void)
{
    fprintf(stderr,
            "usage: recur_bench WORKLOAD THREADS [--mode train|infer] [--steps N]\n"
            "                   [--warmup W] [--seed S] [--tag TAG] [--no-check-finite]\n"
            "                   [--threads-impl recur|openblas]\n"
            "       recur_bench mm THREADS [--path cblas|recur|both] [--shape MxKxN]\n"
            "WORKLOAD: W1 W2 W3 W1g W1c W4 W4a W4l\n");
    exit(2);
}

static char out_line[8192];
static size_t out_len;

static void field(const char *key, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void field(const char *key, const char *fmt, ...)
{
    char val[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(val, sizeof val, fmt, ap);
    va_end(ap);
    out_len += (size_t)snprintf(out_line + out_len, sizeof out_line - out_len, "%s%s=%s",
                                out_len ? " " : "RESULT ", key, val);
}

static void emit(void)
{
    printf("%s\n", out_line);
    fflush(stdout);
    out_len = 0;
    out_line[0] = 0;
}

static const char *blas_core(void)
{
#if HAVE_OPENBLAS
    const char *c = openblas_get_corename();
    return c && *c ? c : "unknown";
#else
    return "none";
#endif
}

static int blas_threads(void)
{
#if HAVE_OPENBLAS
    return openblas_get_num_threads();
#else
    return 1;
#endif
}

static void common_fields(const options *o)
{
    const char *ct = getenv("OPENBLAS_CORETYPE");
    const char *isa = getenv("RECUR_ISA");
    field("recur", "%s", RC_VERSION);
    field("impl", "recur");
    field("threads", "%d", o->threads);
    field("blas_threads", "%d", blas_threads());
    field("recur_threads", "%d", rc_num_threads());
    field("threads_impl", "%s",
          o->recur_threads ? "recur" : RC_HAVE_BLAS ? "openblas" : "none");
    field("openblas_coretype", "%s", ct && *ct ? ct : "auto");
    field("blas_core", "%s", blas_core());
    field("recur_isa", "%s", isa && *isa ? isa : "auto");
}

/* ------------------------------------------------------------ models */

typedef struct model {
    const workload *w;
    rc_params *ps;
    /* LM */
    rc_embed emb;
    rc_rnn rnn;              /* W1 W2 W3 W1g */
    rc_cell_weights cell;    /* W1c: torch.nn.LSTMCell's four tensors */
    rc_linear out;
    rc_node **outs;          /* W1c: T per-step outputs (user memory) */
    /* S2S */
    rc_seq2seq s2s;
    /* data */
    int32_t *x, *y;          /* LM: [T x B] inputs and targets */
    int32_t *src, *tgt;      /* S2S: [S x B] source, [T x B] targets */
} model;

static int build_model(model *m, const workload *w, rc_rng *rng)
{
    m->w = w;
    m->ps = rc_params_new();
    if (!m->ps)
        return -1;
    if (w->kind == LM) {
        if (rc_embed_init(&m->emb, m->ps, "emb.", w->V, w->E, rng))
            return fprintf(stderr, "%s\n", rc_params_error(m->ps)), -1;
        if (strcmp(w->cell, "lstmcell_loop") == 0) {
            /* torch.nn.LSTMCell(E, H): weight_ih, weight_hh, bias_ih, bias_hh,
             * U(-1/sqrt(H), 1/sqrt(H)); driven step by step below */
            const int GH = 4 * w->H;
            m->cell.w_ih = rc_param(m->ps, "rnn.weight_ih", RC_SHAPE(GH, w->E));
            m->cell.w_hh = rc_param(m->ps, "rnn.weight_hh", RC_SHAPE(GH, w->H));
            m->cell.b_ih = rc_param(m->ps, "rnn.bias_ih", RC_SHAPE(GH));
            m->cell.b_hh = rc_param(m->ps, "rnn.bias_hh", RC_SHAPE(GH));
            if (!m->cell.w_ih || !m->cell.w_hh || !m->cell.b_ih || !m->cell.b_hh)
                return fprintf(stderr, "%s\n", rc_params_error(m->ps)), -1;
            rc_real bound = (rc_real)(1 / sqrt((double)w->H));
            rc_param_uniform(m->cell.w_ih, -bound, bound, rng);
            rc_param_uniform(m->cell.w_hh, -bound, bound, rng);
            rc_param_uniform(m->cell.b_ih, -bound, bound, rng);
            rc_param_uniform(m->cell.b_hh, -bound, bound, rng);
            m->outs = calloc((size_t)w->T, sizeof *m->outs);
        } else {
            rc_rnn_config cfg = {strcmp(w->cell, "gru") == 0 ? RC_GRU : RC_LSTM, .input_size = w->E,
                                 .hidden_size = w->H, .num_layers = 1};
            if (rc_rnn_init(&m->rnn, m->ps, "rnn.", &cfg, rng))
                return fprintf(stderr, "%s\n", m->rnn.error), -1;
        }
        if (rc_linear_init(&m->out, m->ps, "out.", w->H, w->V, true, rng))
            return fprintf(stderr, "%s\n", rc_params_error(m->ps)), -1;
        const size_t n = (size_t)w->T * (size_t)w->B;
        m->x = malloc(n * sizeof *m->x);
        m->y = malloc(n * sizeof *m->y);
        for (size_t k = 0; k < n; k++)
            m->x[k] = (int32_t)(rc_rng_next(rng) % (uint64_t)w->V);
        for (size_t k = 0; k < n; k++)
            m->y[k] = (int32_t)(rc_rng_next(rng) % (uint64_t)w->V);
    } else {
        rc_attention a = strcmp(w->attn, "none") == 0       ? RC_ATTN_NONE
                         : strcmp(w->attn, "bahdanau") == 0 ? RC_ATTN_ADDITIVE
                                                            : RC_ATTN_DOT;
        /* pad_id -1: no target is ignored (random ids are all real tokens);
         * bos_id 0 is fed first, then the targets shifted by one. */
        rc_seq2seq_config cfg = {.src_vocab = w->V, .tgt_vocab = w->V, .embed = w->E,
                                 .hidden = w->H, .cell = RC_GRU, .enc_layers = 1,
                                 .attention = a, .pad_id = -1, .bos_id = 0, .eos_id = 1,
                                 /* W4a: logits from h_t, as torch_bench's Bahdanau decoder */
                                 .output_from_state = a == RC_ATTN_ADDITIVE};
        if (rc_seq2seq_init(&m->s2s, m->ps, "", &cfg, rng))
            return fprintf(stderr, "%s\n", m->s2s.error), -1;
        const size_t ns = (size_t)w->S * (size_t)w->B, nt = (size_t)w->T * (size_t)w->B;
        m->src = malloc(ns * sizeof *m->src);
        m->tgt = malloc(nt * sizeof *m->tgt);
        for (size_t k = 0; k < ns; k++)
            m->src[k] = (int32_t)(rc_rng_next(rng) % (uint64_t)w->V);
        for (size_t k = 0; k < nt; k++)
            m->tgt[k] = (int32_t)(rc_rng_next(rng) % (uint64_t)w->V);
    }
    return 0;
}

/* The scalar loss of one forward pass on g. */
static rc_node *forward_loss(rc_graph *g, model *m)
{
    const workload *w = m->w;
    if (w->kind == S2S)
        return rc_seq2seq_loss(g, &m->s2s, m->src, w->S, w->B, NULL, m->tgt, w->T);
    rc_node *e = rc_embedding(g, m->emb.weight, m->x, RC_SHAPE(w->T, w->B)); /* [T x B x E] */
    rc_node *y;
    if (m->outs) { /* W1c: the cell in a loop, as torch's LSTMCell loop */
        rc_node *e2 = rc_reshape(g, e, RC_SHAPE(w->T * w->B, w->E));
        rc_node *h = rc_fill(g, RC_SHAPE(w->B, w->H), 0);
        rc_node *c = rc_fill(g, RC_SHAPE(w->B, w->H), 0);
        for (int t = 0; t < w->T; t++) {
            rc_lstm_cell(g, &m->cell, rc_slice(g, e2, 0, t * w->B, w->B), &h, &c);
            m->outs[t] = h;
        }
        y = rc_concat(g, 0, w->T, m->outs); /* [T*B x H] */
    } else {
        y = rc_rnn_forward(g, &m->rnn, e, NULL, NULL, NULL).output; /* [T x B x H] */
    }
    /* Linear + cross_entropy as one op: the same model and loss */
    return rc_linear_cross_entropy(g, y, m->out.weight, m->out.bias, m->y, -1, RC_MEAN);
}

static size_t n_params(const rc_params *ps)
{
    size_t n = 0;
    for (size_t k = 0; k < rc_params_count(ps); k++)
        n += rc_size(rc_params_at(ps, k));
    return n;
}

static int run_model(const options *o, const workload *w)
{
    rc_set_allocator(&(rc_allocator){counting_alloc, counting_release, NULL});
    const int steps = o->steps > 0 ? o->steps : w->steps;
    rc_rng rng;
    rc_rng_seed(&rng, o->seed);
    model m = {0};
    if (build_model(&m, w, &rng))
        return 1;
    rc_optim_config oc = rc_adam_defaults(); /* lr 1e-3, as torch_bench */
    oc.zero_grad = true; /* each step's zero-grad done in the previous step's Adam pass */
    rc_optim *opt = o->train ? rc_optim_new(m.ps, &oc) : NULL;
    rc_graph *g = rc_graph_new();
    if (!g || (o->train && !opt))
        return fprintf(stderr, "out of memory\n"), 1;
    rc_graph_set_grad(g, o->train);
    rc_graph_set_training(g, o->train);
    rc_graph_set_check_finite(g, o->check_finite);
    rc_graph_seed(g, o->seed);

    const int total = o->warmup + steps;
    double *times = calloc((size_t)steps, sizeof *times);
    double *losses = calloc((size_t)total, sizeof *losses);
    size_t allocs_first = 0, allocs_after_first = 0;
    contention cont;
    for (int k = 0; k < total; k++) {
        if (k == o->warmup)
            cont_begin(&cont);
        size_t a0 = n_allocs;
        double t0 = now();
        rc_graph_reset(g);
        if (o->train && (k == 0 || !oc.zero_grad))
            rc_params_zero_grad(m.ps);
        rc_node *loss = forward_loss(g, &m);
        int bad = !rc_ok(loss) || rc_graph_error(g);
        if (!bad && o->train)
            bad = rc_backward(g, loss) != 0 || rc_optim_step(opt) != 0;
        double lv = (double)rc_item(loss);
        double t1 = now();
        if (bad) {
            fprintf(stderr, "recur_bench %s: step %d failed: %s\n", w->name, k,
                    rc_graph_error(g) ? rc_graph_error(g)
                    : opt && rc_optim_error(opt) ? rc_optim_error(opt) : "?");
            return 1;
        }
        losses[k] = lv;
        if (k >= o->warmup)
            times[k - o->warmup] = t1 - t0;
        if (k == 0)
            allocs_first = n_allocs - a0;
        else
            allocs_after_first += n_allocs - a0;
    }
    cont_end(&cont);

    double med = median(times, steps), mn = times[0], mx = times[0];
    for (int k = 1; k < steps; k++) {
        mn = fmin(mn, times[k]);
        mx = fmax(mx, times[k]);
    }
    const double tokens = (double)w->B * w->T;
    const double flops = w->kind == LM ? flops_lm(w, o->train ? 6 : 2)
                                       : flops_s2s(w, o->train ? 6 : 2);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);

    field("workload", "%s", w->name);
    field("mode", "%s", o->train ? "train" : "infer");
    if (w->kind == LM)
        field("cell", "%s", w->cell);
    else
        field("attn", "%s", w->attn);
    field("V", "%d", w->V);
    field("E", "%d", w->E);
    field("H", "%d", w->H);
    field("B", "%d", w->B);
    if (w->kind == S2S)
        field("S", "%d", w->S);
    field("T", "%d", w->T);
    common_fields(o);
    field("n_params", "%zu", n_params(m.ps));
    field("steps", "%d", steps);
    field("warmup", "%d", o->warmup);
    field("tokens_per_step", "%.0f", tokens);
    field("step_s_med", "%.5g", med);
    field("step_s_min", "%.5g", mn);
    field("step_s_max", "%.5g", mx);
    field("tok_s_med", "%.6g", tokens / med);
    field("tok_s_best", "%.6g", tokens / mn);
    field("tok_s_worst", "%.6g", tokens / mx);
    field("flops_per_step", "%.4e", flops);
    field("gflops_med", "%.4g", flops / med / 1e9);
    field("loss_first", "%.5g", losses[0]);
    field("loss_last", "%.5g", losses[total - 1]);
    field("self_cores", "%.3g", cont.self_cores);
    field("other_cores", "%.3g", cont.other_cores);
    field("self_maxrss_kb", "%ld", ru.ru_maxrss);
    field("check_finite", "%d", o->check_finite);
    const char *fold = getenv("RECUR_FOLD"); /* matmul's embedding fold (ops.h) */
    field("fold", "%d", !(fold && !strcmp(fold, "0")));
    field("allocs_first_step", "%zu", allocs_first);
    field("allocs_per_step", "%.4g",
          total > 1 ? (double)allocs_after_first / (total - 1) : 0.0);
    field("arena_bytes", "%zu", rc_graph_arena_bytes(g));
    field("tape_nodes", "%zu", rc_graph_tape_length(g));
    if (o->tag)
        field("tag", "%s", o->tag);
    emit();

    free(times);
    free(losses);
    rc_graph_free(g);
    rc_optim_free(opt);
    rc_params_free(m.ps);
    free(m.outs);
    free(m.x);
    free(m.y);
    free(m.src);
    free(m.tgt);
    return 0;
}

/* ------------------------------------------------------------ mm: the GEMM ceiling */

static const int MM_SHAPES[][3] = { /* (M, K, N): C[MxN] = A[MxK] . B[KxN] */
    {1024, 1024, 1024}, {2048, 2048, 2048}, {32, 384, 1024}, {64, 1536, 4096}, {1, 96, 256},
};

typedef struct mm_ctx {
    int path_recur, nt, M, K, N;
    rc_real *a, *b, *c;
    rc_graph *g;
    rc_node *na, *nb;
} mm_ctx;

static void mm_op(mm_ctx *x)
{
    if (x->path_recur) { /* one product through the graph, gradients off */
        rc_graph_reset(x->g);
        rc_matmul_ex(x->g, x->na, x->nb, x->nt ? RC_TRANS_B : 0);
        return;
    }
#if HAVE_OPENBLAS && !RC_REAL_IS_DOUBLE
    cblas_sgemm(CblasRowMajor, CblasNoTrans, x->nt ? CblasTrans : CblasNoTrans, x->M, x->N,
                x->K, 1.0f, x->a, x->K, x->b, x->nt ? x->K : x->N, 0.0f, x->c, x->N);
#endif
}

static int run_mm(const options *o)
{
    int only[3] = {0, 0, 0};
    if (o->mm_shape && sscanf(o->mm_shape, "%dx%dx%d", &only[0], &only[1], &only[2]) != 3)
        usage();
    int paths[2], np = 0;
    const char *p = o->mm_path ? o->mm_path : "both";
    int can_cblas = HAVE_OPENBLAS && !RC_REAL_IS_DOUBLE;
    if ((!strcmp(p, "cblas") || !strcmp(p, "both")) && can_cblas)
        paths[np++] = 0;
    if (!strcmp(p, "recur") || !strcmp(p, "both") || (!strcmp(p, "cblas") && !can_cblas))
        paths[np++] = 1;
    rc_rng rng;
    rc_rng_seed(&rng, o->seed);
    const int nshapes = (int)(sizeof MM_SHAPES / sizeof MM_SHAPES[0]);
    int shapes[8][3], ns = 0;
    if (o->mm_shape)
        memcpy(shapes[ns++], only, sizeof only);
    else
        for (int s = 0; s < nshapes; s++)
            memcpy(shapes[ns++], MM_SHAPES[s], sizeof only);
    for (int s = 0; s < ns; s++)
        for (int nt = 0; nt < 2; nt++)
            for (int pi = 0; pi < np; pi++) {
                mm_ctx x = {paths[pi], nt, shapes[s][0], shapes[s][1], shapes[s][2],
                            NULL, NULL, NULL, NULL, NULL, NULL};
                const size_t sa = (size_t)x.M * x.K, sb = (size_t)x.K * x.N,
                             sc = (size_t)x.M * x.N;
                x.a = malloc(sa * sizeof *x.a);
                x.b = malloc(sb * sizeof *x.b);
                x.c = malloc(sc * sizeof *x.c);
                for (size_t k = 0; k < sa; k++)
                    x.a[k] = (rc_real)rc_rng_normal(&rng);
                for (size_t k = 0; k < sb; k++)
                    x.b[k] = (rc_real)rc_rng_normal(&rng);
                rc_graph *keep = NULL;
                if (x.path_recur) {
                    /* inputs on an outer graph that is never reset; products on g */
                    keep = rc_graph_new();
                    x.g = rc_graph_new();
                    rc_graph_set_grad(keep, false);
                    rc_graph_set_grad(x.g, false);
                    x.na = rc_input(keep, RC_SHAPE(x.M, x.K), x.a);
                    x.nb = rc_input(keep, nt ? RC_SHAPE(x.N, x.K) : RC_SHAPE(x.K, x.N), x.b);
                }
                const double flop = 2.0 * x.M * x.N * x.K;
                long reps = 1;
                for (;;) { /* calibrate: one sample >= 5 ms */
                    double t0 = now();
                    for (long r = 0; r < reps; r++)
                        mm_op(&x);
                    if (now() - t0 > 5e-3)
                        break;
                    reps *= 2;
                }
                double samples[4096];
                int n = 0;
                contention cont;
                cont_begin(&cont);
                double tstart = now();
                while ((now() - tstart < 1.5 || n < 11) && n < 4096) {
                    double t0 = now();
                    for (long r = 0; r < reps; r++)
                        mm_op(&x);
                    samples[n++] = (now() - t0) / (double)reps;
                }
                cont_end(&cont);
                qsort(samples, (size_t)n, sizeof *samples, cmp_double);
                double med = samples[n / 2];
                field("workload", "mm");
                field("M", "%d", x.M);
                field("K", "%d", x.K);
                field("N", "%d", x.N);
                field("layout", "%s", nt ? "NT" : "NN");
                field("path", "%s", x.path_recur ? "recur" : "cblas");
                common_fields(o);
                field("samples", "%d", n);
                field("reps", "%ld", reps);
                field("med_us", "%.5g", med * 1e6);
                field("gflops_med", "%.4g", flop / med / 1e9);
                field("gflops_best", "%.4g", flop / samples[0] / 1e9);
                field("self_cores", "%.3g", cont.self_cores);
                field("other_cores", "%.3g", cont.other_cores);
                if (o->tag)
                    field("tag", "%s", o->tag);
                emit();
                rc_graph_free(x.g);
                rc_graph_free(keep);
                free(x.a);
                free(x.b);
                free(x.c);
            }
    return 0;
}

/* ------------------------------------------------------------ main */

/* OpenBLAS sizes its pool when it is loaded: make the environment say
 * THREADS, then start again (once). */
static void ensure_thread_env(char **argv, int threads)
{
    char want[16];
    snprintf(want, sizeof want, "%d", threads);
    const char *have = getenv("OPENBLAS_NUM_THREADS");
    const char *omp = getenv("OMP_NUM_THREADS");
    if (have && !strcmp(have, want) && omp && !strcmp(omp, want))
        return;
    setenv("OPENBLAS_NUM_THREADS", want, 1);
    setenv("OMP_NUM_THREADS", want, 1);
    if (getenv("RECUR_BENCH_REEXEC"))
        return; /* already restarted once; go on with what we have */
    setenv("RECUR_BENCH_REEXEC", "1", 1);
    execv("/proc/self/exe", argv);
    fprintf(stderr, "recur_bench: re-exec failed (%s); set OPENBLAS_NUM_THREADS=%s\n",
            strerror(errno), want);
}

int main(int argc, char **argv)
{
    if (argc < 3)
        usage();
    options o = {argv[1], atoi(argv[2]), 1, 0, 2, 0, NULL, 1, NULL, NULL, true};
    if (o.threads < 1)
        usage();
    for (int k = 3; k < argc; k++) {
        const char *a = argv[k];
        const char *v = k + 1 < argc ? argv[k + 1] : NULL;
        if (!strcmp(a, "--no-check-finite")) {
            o.check_finite = 0;
            continue;
        }
        if (!v)
            usage();
        if (!strcmp(a, "--mode")) {
            if (strcmp(v, "train") && strcmp(v, "infer"))
                usage();
            o.train = !strcmp(v, "train");
        } else if (!strcmp(a, "--steps")) {
            o.steps = atoi(v);
        } else if (!strcmp(a, "--warmup")) {
            o.warmup = atoi(v);
        } else if (!strcmp(a, "--seed")) {
            o.seed = strtoull(v, NULL, 10);
        } else if (!strcmp(a, "--tag")) {
            o.tag = v;
        } else if (!strcmp(a, "--path")) {
            o.mm_path = v;
        } else if (!strcmp(a, "--shape")) {
            o.mm_shape = v;
        } else if (!strcmp(a, "--threads-impl")) {
            if (strcmp(v, "recur") && strcmp(v, "openblas"))
                usage();
            o.recur_threads = !strcmp(v, "recur");
        } else {
            usage();
        }
        k++;
    }
    if (o.warmup < 0 || o.steps < 0)
        usage();
    const workload *w = NULL;
    for (size_t k = 0; k < sizeof WORKLOADS / sizeof WORKLOADS[0]; k++)
        if (!strcmp(o.workload, WORKLOADS[k].name))
            w = &WORKLOADS[k];
    if (!w && strcmp(o.workload, "mm"))
        usage();
    if (!w) /* mm measures the machine: BLAS's own threads */
        o.recur_threads = false;
    const int blas_want = o.recur_threads ? 1 : o.threads;
    ensure_thread_env(argv, blas_want);
#if HAVE_OPENBLAS
    openblas_set_num_threads(blas_want); /* belt and braces; the pool is sized by env */
#endif
    rc_set_num_threads(o.recur_threads ? o.threads : 1);
    return w ? run_model(&o, w) : run_mm(&o);
}
