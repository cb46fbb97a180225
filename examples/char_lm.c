/* char_lm: a character language model (many-to-many) that then writes text
 * one character at a time (one-to-many), on the King James Bible or the
 * fortunes file. The cell is torch.nn's LSTM or GRU, or the minimal gated
 * unit defined in user code (examples/mgu_cell.h).
 *
 *   char_lm [--text kjv|fortunes] [--cell lstm|gru|mgu] [--minutes M] [--hidden H]
 *           [--layers L] [--batch B] [--bptt T] [--lr LR] [--sample N]
 *           [--prompt TEXT] [--temperature X] [--eval-chars N] [--seed S] [--data DIR]
 *
 * Training reads the first 90% of the text as B parallel streams and carries
 * the state from one chunk of T characters to the next (truncated BPTT: the
 * state is copied out, the graph reset, and the copy fed back in). The score
 * is nats per character on the last 10%, against DATA.md's 6-gram model. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/progress.h"
#include "common/text.h"
#include "mgu_cell.h"
#include "recur/optim.h"

typedef struct options {
    const char *text, *prompt;
    int cell; /* RC_LSTM, RC_GRU, or MGU */
    double minutes, lr, temperature;
    int hidden, embed, layers, batch, bptt, sample;
    long eval_chars;
    uint64_t seed;
} options;

enum { MGU = 100 };

/* The model: embedding -> recurrent stack (or the user's MGU) -> linear. */
typedef struct model {
    int cell, L, H;
    rc_embed emb;
    rc_rnn rnn;
    mgu mgu;
    rc_linear out;
} model;

/* Recurrent state carried between chunks, outside any graph. */
typedef struct state {
    rc_real *h, *c; /* [L x B x H] */
    int B;
} state;

static int model_init(model *m, rc_params *ps, int V, const options *o, rc_rng *rng)
{
    m->cell = o->cell;
    m->L = o->cell == MGU ? 1 : o->layers;
    m->H = o->hidden;
    if (rc_embed_init(&m->emb, ps, "embed.", V, o->embed, rng) ||
        rc_linear_init(&m->out, ps, "out.", o->hidden, V, true, rng))
        return -1;
    if (o->cell == MGU)
        return mgu_init(&m->mgu, ps, "mgu.", o->embed, o->hidden, rng);
    rc_rnn_config cfg = {(rc_cell_kind)o->cell, o->embed, o->hidden, o->layers, false, false,
                         0};
    return rc_rnn_init(&m->rnn, ps, "rnn.", &cfg, rng);
}

/* Logits [T*B x V] for ids [T x B], starting from st and leaving the final
 * state in it. */
static rc_node *forward(rc_graph *g, const model *m, const int32_t *ids, int T, state *st)
{
    const int B = st->B, H = m->H, L = m->L;
    rc_node *x = rc_embedding(g, m->emb.weight, ids, RC_SHAPE(T, B));
    rc_node *h0 = rc_input(g, RC_SHAPE(L, B, H), st->h), *out, *h_n, *c_n = NULL;
    if (m->cell == MGU) { /* the user's cell, driven step by step */
        rc_node *h = rc_reshape(g, h0, RC_SHAPE(B, H));
        rc_node **outs = malloc((size_t)T * sizeof *outs);
        for (int t = 0; outs && t < T; t++)
            outs[t] = h = mgu_cell(g, &m->mgu, rc_reshape(g, rc_slice(g, x, 0, t, 1),
                                                           RC_SHAPE(B, m->emb.dim)), h);
        out = outs ? rc_concat(g, 0, T, outs) : NULL;
        free(outs);
        h_n = h;
    } else {
        rc_node *c0 = m->cell == RC_LSTM ? rc_input(g, RC_SHAPE(L, B, H), st->c) : NULL;
        rc_rnn_result r = rc_rnn_forward(g, &m->rnn, x, NULL, h0, c0);
        out = r.output;
        h_n = r.h_n;
        c_n = r.c_n;
    }
    rc_node *logits = rc_linear(g, &m->out, rc_reshape(g, out, RC_SHAPE(T * B, H)));
    if (rc_ok(logits)) { /* carry the state to the next chunk */
        memcpy(st->h, rc_data(h_n), (size_t)L * B * H * sizeof(rc_real));
        if (c_n)
            memcpy(st->c, rc_data(c_n), (size_t)L * B * H * sizeof(rc_real));
    }
    return logits;
}

static int state_init(state *st, const model *m, int B)
{
    size_t n = (size_t)m->L * (size_t)B * (size_t)m->H;
    st->B = B;
    st->h = calloc(n, sizeof(rc_real));
    st->c = calloc(n, sizeof(rc_real));
    return st->h && st->c ? 0 : -1;
}

static void state_free(state *st)
{
    free(st->h);
    free(st->c);
}

/* Chunk `chunk` of B parallel streams over ids[0..n): inputs and next-char
 * targets, time-major. Returns false past the end. */
static bool next_chunk(const int32_t *ids, size_t n, int B, int T, long chunk, int32_t *in,
                       int32_t *tgt)
{
    size_t stream = (n - 1) / (size_t)B, off = (size_t)chunk * (size_t)T;
    if (off + (size_t)T > stream)
        return false;
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++) {
            size_t i = (size_t)b * stream + off + (size_t)t;
            in[t * B + b] = ids[i];
            tgt[t * B + b] = ids[i + 1];
        }
    return true;
}

/* Mean nats per character over ids[0..n), in chunks with the state carried. */
static double evaluate(rc_graph *g, const model *m, const int32_t *ids, size_t n)
{
    enum { B = 16, T = 128 };
    state st;
    int32_t *in = malloc(B * T * sizeof *in), *tgt = malloc(B * T * sizeof *tgt);
    double total = 0;
    long count = 0;
    if (in && tgt && state_init(&st, m, B) == 0) {
        rc_graph_set_grad(g, false);
        rc_graph_set_training(g, false);
        for (long chunk = 0; next_chunk(ids, n, B, T, chunk, in, tgt); chunk++) {
            rc_graph_reset(g);
            rc_node *loss = rc_cross_entropy(g, forward(g, m, in, T, &st), tgt, -1, RC_SUM);
            total += rc_item(loss);
            count += B * T;
        }
        rc_graph_set_grad(g, true);
        rc_graph_set_training(g, true);
        state_free(&st);
    }
    free(in);
    free(tgt);
    return count ? total / (double)count : NAN;
}

/* One-to-many: feed the prompt, then draw each next character from the
 * softmax at the given temperature and feed it back. */
static void sample(rc_graph *g, const model *m, const tx_vocab *v, const char *prompt, int n,
                   double temperature, rc_rng *rng)
{
    state st;
    size_t len;
    int32_t *ids = tx_encode_chars(v, prompt, strlen(prompt), &len);
    if (!ids || len == 0 || state_init(&st, m, 1) != 0) {
        free(ids);
        return;
    }
    rc_graph_set_grad(g, false);
    rc_graph_set_training(g, false);
    printf("%s", prompt);
    const int V = (int)tx_vocab_size(v);
    int32_t next = ids[len - 1];
    for (size_t k = 0; k + 1 < len; k++) { /* the prompt sets the state */
        rc_graph_reset(g);
        forward(g, m, ids + k, 1, &st);
    }
    for (int k = 0; k < n; k++) {
        rc_graph_reset(g);
        rc_node *p = rc_softmax(g, rc_scale(g, forward(g, m, &next, 1, &st), 1 / temperature));
        if (!rc_ok(p))
            break;
        double u = rc_rng_uniform(rng), acc = 0;
        next = V - 1;
        for (int j = 0; j < V; j++)
            if ((acc += rc_data(p)[j]) > u) {
                next = j;
                break;
            }
        char *ch = tx_decode(v, &next, 1, "");
        printf("%s", ch ? ch : "");
        free(ch);
    }
    printf("\n");
    rc_graph_set_grad(g, true);
    rc_graph_set_training(g, true);
    state_free(&st);
    free(ids);
}

static int parse(int argc, char **argv, options *o)
{
    *o = (options){.text = "kjv", .prompt = NULL, .cell = RC_LSTM, .minutes = 3, .lr = 2e-3,
                   .temperature = 0.8, .hidden = 256, .embed = 64, .layers = 1, .batch = 32,
                   .bptt = 64, .sample = 400, .eval_chars = 0, .seed = 1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            return fprintf(stderr, "char_lm: %s needs a value\n", a), -1;
        i++;
        if (strcmp(a, "--text") == 0) o->text = v;
        else if (strcmp(a, "--prompt") == 0) o->prompt = v;
        else if (strcmp(a, "--minutes") == 0) o->minutes = atof(v);
        else if (strcmp(a, "--lr") == 0) o->lr = atof(v);
        else if (strcmp(a, "--temperature") == 0) o->temperature = atof(v);
        else if (strcmp(a, "--hidden") == 0) o->hidden = atoi(v);
        else if (strcmp(a, "--embed") == 0) o->embed = atoi(v);
        else if (strcmp(a, "--layers") == 0) o->layers = atoi(v);
        else if (strcmp(a, "--batch") == 0) o->batch = atoi(v);
        else if (strcmp(a, "--bptt") == 0) o->bptt = atoi(v);
        else if (strcmp(a, "--sample") == 0) o->sample = atoi(v);
        else if (strcmp(a, "--eval-chars") == 0) o->eval_chars = atol(v);
        else if (strcmp(a, "--seed") == 0) o->seed = (uint64_t)atoll(v);
        else if (strcmp(a, "--data") == 0) setenv("RECUR_DATA", v, 1);
        else if (strcmp(a, "--cell") == 0)
            o->cell = strcmp(v, "lstm") == 0 ? RC_LSTM
                      : strcmp(v, "gru") == 0 ? RC_GRU
                      : strcmp(v, "mgu") == 0 ? MGU
                                              : -1;
        else
            return fprintf(stderr, "char_lm: unknown option %s\n", a), -1;
    }
    if (o->cell < 0 || o->minutes <= 0 || o->hidden <= 0 || o->embed <= 0 || o->layers <= 0 ||
        o->batch <= 0 || o->bptt <= 0 || o->temperature <= 0 || o->sample < 0 ||
        (strcmp(o->text, "kjv") != 0 && strcmp(o->text, "fortunes") != 0))
        return fprintf(stderr, "char_lm: option out of range\n"), -1;
    if (!o->prompt)
        o->prompt = strcmp(o->text, "kjv") == 0 ? "And God said" : "A ";
    return 0;
}

int main(int argc, char **argv)
{
    options o;
    if (parse(argc, argv, &o) != 0)
        return 2;
    const bool kjv = strcmp(o.text, "kjv") == 0;
    char *path = tx_data_file(kjv ? "kjv.txt" : "fortunes.txt"), *text = NULL;
    size_t n = 0;
    bool missing = !path || access(path, R_OK) != 0;
    if (missing || tx_load_text(path, &text, &n) != 0) {
        fprintf(stderr, "char_lm: %s\n  (run: bash tools/fetch-data.sh)\n",
                missing ? "the text is missing from data/" : tx_error());
        free(path);
        return missing ? 77 : 1; /* 77: no data, a skipped test */
    }
    free(path);
    /* the vocabulary from the training part only */
    size_t split = tx_text_split(text, n, 0.9), n_train, n_test;
    tx_vocab *counts = tx_vocab_new();
    tx_count_chars(counts, text, split);
    tx_vocab *v = tx_vocab_cut(counts, 1, 0);
    tx_vocab_free(counts);
    int32_t *train = tx_encode_chars(v, text, split, &n_train);
    int32_t *test = tx_encode_chars(v, text + split, n - split, &n_test);
    free(text);
    if (o.eval_chars > 0 && (size_t)o.eval_chars < n_test)
        n_test = (size_t)o.eval_chars;
    const int V = (int)tx_vocab_size(v);
    printf("%s: %zu characters for training, %zu held out (the last 10%%), %d symbols\n",
           o.text, n_train, n_test, V - TX_NSPECIAL);

    rc_params *ps = rc_params_new();
    rc_rng rng;
    rc_rng_seed(&rng, o.seed);
    model m;
    if (model_init(&m, ps, V, &o, &rng) != 0) {
        fprintf(stderr, "char_lm: %s\n", m.rnn.error[0] ? m.rnn.error : rc_params_error(ps));
        return 1;
    }
    printf("model: %s, %d layer(s), hidden %d, %zu parameters\n",
           o.cell == MGU ? "MGU (user-defined)" : o.cell == RC_GRU ? "GRU" : "LSTM", m.L,
           m.H, rc_params_numel(ps));
    rc_optim_config oc = rc_adam_defaults();
    oc.lr = o.lr;
    rc_optim *opt = rc_optim_new(ps, &oc);
    rc_graph *g = rc_graph_new();
    const int B = o.batch, T = o.bptt;
    int32_t *in = malloc((size_t)B * T * sizeof *in), *tgt = malloc((size_t)B * T * sizeof *tgt);
    state st;
    state_init(&st, &m, B);
    const double start = now_seconds(), budget = 60 * o.minutes;
    long step = 0, chunk = 0;
    int status = 0;
    const bool tty = isatty(fileno(stdout));
    double last_print = 0;
    while (now_seconds() - start < budget) {
        if (!next_chunk(train, n_train, B, T, chunk++, in, tgt)) { /* next epoch */
            chunk = 0;
            memset(st.h, 0, (size_t)m.L * B * m.H * sizeof(rc_real));
            memset(st.c, 0, (size_t)m.L * B * m.H * sizeof(rc_real));
            continue;
        }
        rc_graph_reset(g);
        rc_params_zero_grad(ps);
        rc_node *loss = rc_cross_entropy(g, forward(g, &m, in, T, &st), tgt, -1, RC_MEAN);
        if (rc_backward(g, loss) != 0) {
            fprintf(stderr, "\nchar_lm: step %ld: %s\n", step, rc_graph_error(g));
            status = 1;
            break;
        }
        if (isfinite(rc_clip_grad_norm(ps, 5.0, 2.0)))
            rc_optim_step(opt);
        step++;
        double t = now_seconds() - start;
        if (t - last_print > (tty ? 0.5 : 15)) {
            printf("%sstep %ld  loss %.3f nats/char  %.0f chars/s  %.0fs, ETA %.0fs%s",
                   tty ? "\r" : "", step, rc_item(loss), (double)step * B * T / t, t,
                   budget - t, tty ? "   " : "\n");
            fflush(stdout);
            last_print = t;
        }
    }
    if (status == 0) {
        double nats = evaluate(g, &m, test, n_test);
        printf("\nheld-out: %.3f nats/char (%.3f bits) over %zu characters after %ld steps "
               "(%.0f s); the 6-gram baseline is %.3f\n\nsample:\n",
               nats, nats / log(2), n_test, step, now_seconds() - start, kjv ? 1.343 : 1.719);
        sample(g, &m, v, o.prompt, o.sample, o.temperature, &rng);
    }
    state_free(&st);
    free(in);
    free(tgt);
    free(train);
    free(test);
    rc_graph_free(g);
    rc_optim_free(opt);
    rc_params_free(ps);
    tx_vocab_free(v);
    return status;
}
