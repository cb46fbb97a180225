/* sentiment: many-to-one sequence classification. An LSTM (or GRU) reads a
 * sentence's word embeddings and the class comes from its LAST STATE, on the
 * UCI "Sentiment Labelled Sentences" (imdb, yelp, amazon; 1,000 each).
 *
 *   sentiment [--cell lstm|gru] [--epochs N] [--steps N] [--embed E] [--hidden H]
 *             [--layers L] [--unidirectional] [--batch B] [--lr LR] [--dropout P] [--clip C]
 *             [--weight-decay W] [--min-count N] [--split-seed S] [--seed S]
 *             [--data DIR] [--save FILE] [--smoke]
 *
 * Split: each source is split 90/10 by tx_split_random(n, 0.1, split seed)
 * (default 1); the model trains on the union of the three training parts and
 * is scored on each held-out part against the npm package's word-list scorer
 * (DATA.md: 0.726 / 0.765 / 0.696). The vocabulary comes from the training
 * sentences only (lowercased words seen at least --min-count times).
 *
 * Batches are padded; rc_rnn_forward gets each sentence's length, so padded
 * steps leave the state alone (torch's packed sequences) and h_n is the state
 * after each sentence's own last word. With the default bidirectional layer
 * the classifier reads both directions' final states, concatenated.
 *
 * --save FILE writes the trained parameters and Adam state as a safetensors
 * checkpoint (and the vocabulary next to it as FILE.vocab). --smoke trains
 * one epoch (a test: exit 77 when the data is missing). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/progress.h"
#include "common/text.h"
#include "common/train_util.h"
#include "recur/checkpoint.h"
#include "recur/nn.h"
#include "recur/optim.h"

static const char *const PROG = "sentiment";

typedef struct options {
    rc_cell_kind cell;
    bool bidirectional, smoke;
    long steps;
    int epochs, embed, hidden, layers, batch, min_count;
    double lr, dropout, clip, weight_decay;
    uint64_t split_seed, seed;
    const char *save;
} options;

typedef struct model {
    rc_embed emb;
    rc_rnn rnn;
    rc_linear out;
    int L, D, H;
} model;

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: sentiment [options]\n"
            "  --cell lstm|gru      recurrent cell (lstm)\n"
            "  --epochs N           passes over the training sentences (8)\n"
            "  --steps N            stop after N steps (default: all epochs)\n"
            "  --embed E            word embedding size (64)\n"
            "  --hidden H           hidden size per direction (64)\n"
            "  --layers L           stacked layers (1)\n"
            "  --unidirectional     one direction only (default: bidirectional)\n"
            "  --batch B            sentences per step (32)\n"
            "  --lr LR              Adam learning rate, cosine-decayed (3e-3)\n"
            "  --dropout P          on embeddings, between layers, before the classifier (0.5)\n"
            "  --clip C             clip the gradient norm to C (5)\n"
            "  --weight-decay W     Adam's L2 penalty (0)\n"
            "  --min-count N        rarer training words become <unk> (2)\n"
            "  --split-seed S       seed of the 90/10 split of each source (1)\n"
            "  --seed S             initialisation, batch order, dropout (1)\n"
            "  --data DIR           data folder (default $RECUR_DATA or data)\n"
            "  --save FILE          save a checkpoint (safetensors) and FILE.vocab\n"
            "  --smoke              one epoch, as a test (exit 77 when the data is missing)\n");
}

/* The command line into o (0), --help (1) or a refusal (-1). */
static int parse(int argc, char **argv, options *o)
{
    *o = (options){.cell = RC_LSTM, .bidirectional = true, .epochs = 8, .embed = 64,
                   .hidden = 64, .layers = 1, .batch = 32, .min_count = 2, .lr = 3e-3,
                   .dropout = 0.5, .clip = 5, .split_seed = 1, .seed = 1};
    bool epochs_set = false;
    const char *cell = NULL;
    const tu_flag flags[] = {
        {"--smoke", TU_SWITCH, &o->smoke, .on = true},
        {"--bidirectional", TU_SWITCH, &o->bidirectional, .on = true},
        {"--unidirectional", TU_SWITCH, &o->bidirectional, .on = false},
        {"--cell", TU_TEXT, .dst = &cell},
        {"--epochs", TU_INT, &o->epochs, .lo = 1, .hi = 10000, .given = &epochs_set},
        {"--steps", TU_LONG, &o->steps, .lo = 1, .hi = 1e8},
        TU_MODEL_FLAGS(o),
        {"--layers", TU_INT, &o->layers, .lo = 1, .hi = RC_RNN_MAX_LAYERS},
        {"--weight-decay", TU_DOUBLE, &o->weight_decay, .lo = 0, .hi = 1},
        {"--split-seed", TU_U64, .dst = &o->split_seed},
        {"--save", TU_TEXT, .dst = &o->save},
        {.name = NULL}};
    const int r = tu_parse_flags(PROG, argc, argv, flags, usage);
    if (r)
        return r;
    if (cell && strcmp(cell, "lstm") != 0 && strcmp(cell, "gru") != 0) {
        fprintf(stderr, "%s: --cell must be lstm or gru, got '%s'\n", PROG, cell);
        return -1;
    }
    if (cell)
        o->cell = strcmp(cell, "gru") == 0 ? RC_GRU : RC_LSTM;
    if (o->smoke && !epochs_set)
        o->epochs = 1;
    return 0;
}

static int model_init(model *m, rc_params *ps, int V, const options *o, rc_rng *rng)
{
    m->L = o->layers;
    m->D = o->bidirectional ? 2 : 1;
    m->H = o->hidden;
    rc_rnn_config cfg = {.cell = o->cell, .input_size = o->embed, .hidden_size = o->hidden,
                         .num_layers = o->layers, .bidirectional = o->bidirectional,
                         .dropout = o->dropout};
    if (rc_embed_init(&m->emb, ps, "embed.", V, o->embed, rng) != 0 ||
        rc_rnn_init(&m->rnn, ps, "rnn.", &cfg, rng) != 0 ||
        rc_linear_init(&m->out, ps, "out.", m->D * m->H, 2, true, rng) != 0) {
        fprintf(stderr, "%s: cannot build the model: %s\n", PROG,
                m->rnn.error[0] ? m->rnn.error : rc_params_error(ps));
        return -1;
    }
    /* small embeddings: N(0, 1) rows swamp a 64-unit LSTM's input gates */
    rc_real *e = rc_data(m->emb.weight);
    for (size_t k = 0; k < (size_t)V * (size_t)o->embed; k++)
        e[k] *= (rc_real)0.1;
    return 0;
}

/* Class logits [B x 2] for the sentences ex[0..B): a padded time-major batch
 * [T x B] of word ids, the recurrent stack over it with each sentence's own
 * length, and a linear layer on the last layer's final state(s). ids has room
 * for T*B entries, lens for B. */
static rc_node *logits_of(rc_graph *g, const model *m, const tu_example *const *ex, int B,
                          int T, int32_t *ids, int32_t *lens, double dropout)
{
    for (int b = 0; b < B; b++) {
        lens[b] = ex[b]->len;
        for (int t = 0; t < T; t++)
            ids[t * B + b] = t < ex[b]->len ? ex[b]->ids[t] : TX_PAD;
    }
    rc_node *x = rc_embedding(g, m->emb.weight, ids, RC_SHAPE(T, B));
    x = rc_dropout(g, x, dropout);
    rc_rnn_result r = rc_rnn_forward(g, &m->rnn, x, lens, NULL, NULL);
    /* h_n [L*D x B x H]: the last layer's D final states -> [B x D*H] */
    rc_node *h = rc_slice(g, r.h_n, 0, (m->L - 1) * m->D, m->D);
    if (m->D == 2)
        h = rc_permute(g, h, 3, (const int[]){1, 0, 2}); /* [B x 2 x H]: fwd | bwd */
    h = rc_reshape(g, h, RC_SHAPE(B, m->D * m->H));
    return rc_linear(g, &m->out, rc_dropout(g, h, dropout));
}

static int max_len(const tu_example *const *ex, int B)
{
    int T = 1;
    for (int b = 0; b < B; b++)
        T = ex[b]->len > T ? ex[b]->len : T;
    return T;
}

/* Held-out accuracy per source, in no-grad eval mode, batches sorted by
 * length. Returns 0, or -1 with the graph's error printed. */
static int evaluate(rc_graph *g, const model *m, const tu_sentiment *d, int B, int32_t *ids,
                    int32_t *lens, const tu_example **batch, tu_score *score)
{
    memset(score, 0, sizeof *score);
    size_t n = d->n_test;
    tu_len_idx *byl = malloc((n ? n : 1) * sizeof *byl);
    if (!byl)
        return fprintf(stderr, "%s: out of memory\n", PROG), -1;
    for (size_t i = 0; i < n; i++)
        byl[i] = (tu_len_idx){d->test[i].len, i};
    qsort(byl, n, sizeof *byl, tu_cmp_len);
    rc_graph_set_grad(g, false);
    rc_graph_set_training(g, false);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i += (size_t)B) {
        int nb = n - i < (size_t)B ? (int)(n - i) : B;
        for (int b = 0; b < nb; b++)
            batch[b] = &d->test[byl[i + (size_t)b].idx];
        rc_graph_reset(g);
        rc_node *lg = logits_of(g, m, batch, nb, max_len(batch, nb), ids, lens, 0);
        if (!rc_ok(lg)) {
            fprintf(stderr, "%s: evaluation: %s\n", PROG, rc_graph_error(g));
            rc = -1;
            break;
        }
        const rc_real *z = rc_data(lg);
        for (int b = 0; b < nb; b++) {
            int pred = z[2 * b + 1] > z[2 * b] ? 1 : 0;
            score->total[batch[b]->source]++;
            score->right[batch[b]->source] += pred == batch[b]->label;
        }
    }
    rc_graph_set_grad(g, true);
    rc_graph_set_training(g, true);
    free(byl);
    return rc;
}

static int save(const char *path, rc_params *ps, rc_optim *opt, const tx_vocab *v)
{
    char err[RC_CHECKPOINT_ERROR_SIZE];
    if (rc_checkpoint_save(path, ps, opt, err, sizeof err) != 0) {
        fprintf(stderr, "%s: %s\n", PROG, err);
        return -1;
    }
    size_t n = strlen(path) + sizeof ".vocab";
    char *vpath = malloc(n);
    if (!vpath)
        return fprintf(stderr, "%s: out of memory\n", PROG), -1;
    snprintf(vpath, n, "%s.vocab", path);
    int rc = tx_vocab_save(v, vpath);
    if (rc != 0)
        fprintf(stderr, "%s: %s\n", PROG, tx_error());
    else
        printf("saved the model and Adam state (%zu parameters, step %ld) to %s and the "
               "vocabulary to %s\n",
               rc_params_numel(ps), rc_optim_steps(opt), path, vpath);
    free(vpath);
    return rc;
}

int main(int argc, char **argv)
{
    options o;
    int st = parse(argc, argv, &o);
    if (st != 0)
        return st > 0 ? 0 : 2;
    if (o.save && tu_check_writable(PROG, o.save) != 0)
        return 1;
    tu_sentiment d;
    st = tu_sentiment_load(PROG, &d, o.split_seed, o.min_count);
    if (st != 0)
        return st > 0 && o.smoke ? TU_EXIT_SKIP : 1;
    const size_t n_train = d.n_train;
    const int V = (int)tx_vocab_size(d.vocab);
    printf("sentiment: %zu training sentences (imdb+yelp+amazon), %zu held out "
           "(tx_split_random(n, 0.1, seed %llu) per source), vocabulary %d words "
           "(min count %d, lowercased)%s\n",
           n_train, d.n_test, (unsigned long long)o.split_seed, V - TX_NSPECIAL, o.min_count,
           o.smoke ? " [smoke run]" : "");

    rc_params *ps = rc_params_new();
    rc_graph *g = rc_graph_new();
    rc_rng rng;
    rc_rng_seed(&rng, o.seed);
    model m;
    rc_optim *opt = NULL;
    const int B = o.batch;
    int Tmax = 1;
    for (size_t i = 0; i < d.n_train; i++)
        Tmax = d.train[i].len > Tmax ? d.train[i].len : Tmax;
    for (size_t i = 0; i < d.n_test; i++)
        Tmax = d.test[i].len > Tmax ? d.test[i].len : Tmax;
    int32_t *ids = malloc((size_t)Tmax * (size_t)B * sizeof *ids);
    int32_t *lens = malloc((size_t)B * sizeof *lens), *labels = malloc((size_t)B * sizeof *labels);
    const tu_example **batch = malloc((size_t)B * sizeof *batch);
    size_t *order = malloc(n_train * sizeof *order);
    tu_len_idx *scratch = malloc(n_train * sizeof *scratch);
    int *train_len = malloc(n_train * sizeof *train_len);
    int status = 1;
    if (!ps || !g || !ids || !lens || !labels || !batch || !order || !scratch || !train_len) {
        fprintf(stderr, "%s: out of memory\n", PROG);
        goto done;
    }
    if (model_init(&m, ps, V, &o, &rng) != 0)
        goto done;
    rc_optim_config oc = rc_adam_defaults();
    oc.lr = o.lr;
    oc.weight_decay = o.weight_decay;
    if (!(opt = rc_optim_new(ps, &oc))) {
        fprintf(stderr, "%s: out of memory\n", PROG);
        goto done;
    }
    printf("model: embedding %d -> %s%s, %d layer(s), hidden %d -> last state%s -> linear "
           "2; %zu parameters\n",
           o.embed, o.bidirectional ? "bidirectional " : "", o.cell == RC_GRU ? "GRU" : "LSTM",
           o.layers, o.hidden, o.bidirectional ? "s of both directions" : "",
           rc_params_numel(ps));
    rc_graph_seed(g, o.seed);
    for (size_t i = 0; i < n_train; i++)
        train_len[i] = d.train[i].len;
    const long steps_per_epoch = (long)((n_train + (size_t)B - 1) / (size_t)B);
    long total = steps_per_epoch * o.epochs;
    if (o.steps > 0 && o.steps < total)
        total = o.steps;
    rc_schedule sched = rc_schedule_cosine(o.lr, total < 2 * steps_per_epoch ? total / 10
                                                                              : steps_per_epoch / 2,
                                           total, o.lr * 0.05);
    progress p = progress_start(total);
    long step = 0;
    for (int ep = 0; step < total; ep++) {
        tu_bucket_order(order, scratch, train_len, n_train, B, o.seed * 1000003u + (uint64_t)ep);
        double ep_loss = 0;
        long ep_right = 0;
        size_t ep_n = 0;
        for (size_t i = 0; i < n_train && step < total; i += (size_t)B) {
            int nb = n_train - i < (size_t)B ? (int)(n_train - i) : B;
            long tokens = 0;
            for (int b = 0; b < nb; b++) {
                batch[b] = &d.train[order[i + (size_t)b]];
                labels[b] = batch[b]->label;
                tokens += batch[b]->len;
            }
            rc_graph_reset(g);
            rc_params_zero_grad(ps);
            rc_node *lg = logits_of(g, &m, batch, nb, max_len(batch, nb), ids, lens, o.dropout);
            rc_node *loss = rc_cross_entropy(g, lg, labels, -1, RC_MEAN);
            if (tu_update(PROG, step, g, ps, opt, &sched, loss, o.clip) != 0)
                goto done;
            for (int b = 0; b < nb; b++) {
                const rc_real *z = rc_data(lg) + 2 * b;
                ep_right += (z[1] > z[0]) == (labels[b] == 1);
            }
            ep_loss += rc_item(loss) * nb;
            ep_n += (size_t)nb;
            progress_step(&p, "train", ++step, rc_item(loss), (double)tokens);
        }
        if (!p.tty || step == total)
            printf("epoch %d: mean loss %.4f, training accuracy %.3f (with dropout) over %zu "
                   "sentences\n",
                   ep + 1, ep_loss / (double)ep_n, (double)ep_right / (double)ep_n, ep_n);
    }
    const double train_seconds = now_seconds() - p.start;
    tu_score score;
    if (evaluate(g, &m, &d, B, ids, lens, batch, &score) != 0)
        goto done;
    printf("trained %ld steps (%.2f epochs) in %.1f s; split seed %llu, seed %llu\n", step,
           (double)step / (double)steps_per_epoch, train_seconds, (unsigned long long)o.split_seed,
           (unsigned long long)o.seed);
    tu_score_print(&score);
    if (o.save && save(o.save, ps, opt, d.vocab) != 0)
        goto done;
    status = 0;
done:
    free(ids);
    free(lens);
    free(labels);
    free(batch);
    free(order);
    free(scratch);
    free(train_len);
    rc_optim_free(opt);
    rc_graph_free(g);
    rc_params_free(ps);
    tu_sentiment_free(&d);
    return status;
}
