/* tree_sentiment: a recursive net on the same tape. The binary Tree-LSTM of
 * examples/tree_lstm_model.h composes each sentence bottom-up over a
 * balanced bracketing of its words (split in the middle, recursively) and
 * classifies it from the root, on the same sentiment sentences as
 * examples/sentiment.c. The tape records whatever structure the recursion
 * walks, so one rc_backward is backpropagation through structure.
 *
 *   tree_sentiment [--epochs N] [--steps N] [--embed E] [--hidden H] [--batch B] [--lr LR]
 *                  [--dropout P] [--clip C] [--weight-decay W] [--min-count N]
 *                  [--split-seed S] [--seed S] [--data DIR] [--smoke]
 *
 * Split and vocabulary are sentiment.c's: each source (imdb, yelp, amazon)
 * is split 90/10 by tx_split_random(n, 0.1, split seed) (default 1), the
 * model trains on the union of the training parts, and held-out accuracy is
 * reported per source against the word-list scorer (DATA.md). A step builds
 * the trees of a mini-batch of sentences on one graph, stacks their root
 * logits and takes the mean cross-entropy: one backward for the batch. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/progress.h"
#include "common/text.h"
#include "common/train_util.h"
#include "recur/optim.h"
#include "tree_lstm_model.h"

static const char *const PROG = "tree_sentiment";

typedef struct options {
    long steps;
    int epochs, embed, hidden, batch, min_count;
    double lr, dropout, clip, weight_decay;
    uint64_t split_seed, seed;
    bool smoke;
} options;

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: tree_sentiment [options]\n"
            "  --epochs N           passes over the training sentences (6)\n"
            "  --steps N            stop after N steps (default: all epochs)\n"
            "  --embed E            word embedding size (64)\n"
            "  --hidden H           Tree-LSTM hidden size (64)\n"
            "  --batch B            sentences per step, losses averaged (16)\n"
            "  --lr LR              Adam learning rate, cosine-decayed (3e-3)\n"
            "  --dropout P          on the word embeddings and the root state (0.5)\n"
            "  --clip C             clip the gradient norm to C (5)\n"
            "  --weight-decay W     Adam's L2 penalty (0)\n"
            "  --min-count N        rarer training words become <unk> (2)\n"
            "  --split-seed S       seed of the 90/10 split of each source (1)\n"
            "  --seed S             initialisation, batch order, dropout (1)\n"
            "  --data DIR           data folder (default $RECUR_DATA or data)\n"
            "  --smoke              60 steps, as a test (exit 77 when the data is missing)\n");
}

/* The command line into o (0), --help (1) or a refusal (-1). */
static int parse(int argc, char **argv, options *o)
{
    *o = (options){.epochs = 6, .embed = 64, .hidden = 64, .batch = 16, .min_count = 2,
                   .lr = 3e-3, .dropout = 0.5, .clip = 5, .split_seed = 1, .seed = 1};
    bool epochs_set = false;
    const tu_flag flags[] = {
        {"--smoke", TU_SWITCH, &o->smoke, .on = true},
        {"--epochs", TU_INT, &o->epochs, .lo = 1, .hi = 10000, .given = &epochs_set},
        {"--steps", TU_LONG, &o->steps, .lo = 1, .hi = 1e8},
        TU_MODEL_FLAGS(o),
        {"--weight-decay", TU_DOUBLE, &o->weight_decay, .lo = 0, .hi = 1},
        {"--split-seed", TU_U64, .dst = &o->split_seed},
        {.name = NULL}};
    const int r = tu_parse_flags(PROG, argc, argv, flags, usage);
    if (r)
        return r;
    if (o->smoke && !epochs_set)
        o->epochs = 1;
    if (o->smoke && !o->steps)
        o->steps = 60;
    return 0;
}

/* Root logits [1 x 2] of one sentence. In eval mode (or with dropout 0)
 * this is exactly tree_lstm_logits(); in training it is the same
 * composition with dropout on the word vectors and on the root state. */
static rc_node *sentence_logits(rc_graph *g, const tree_lstm *m, const tu_example *ex,
                                double dropout)
{
    if (dropout == 0 || !rc_graph_training(g))
        return tree_lstm_logits(g, m, ex->ids, ex->len);
    rc_node *words = rc_embedding(g, m->emb.weight, ex->ids, RC_SHAPE(ex->len));
    rc_node *h, *c;
    tree_lstm_node(g, m, rc_dropout(g, words, dropout), 0, ex->len, &h, &c);
    return rc_linear(g, &m->out, rc_dropout(g, h, dropout));
}

/* Logits [B x 2] of a batch: one tree per sentence, stacked. */
static rc_node *batch_logits(rc_graph *g, const tree_lstm *m, const tu_example *const *ex,
                             int B, rc_node **roots, double dropout)
{
    for (int b = 0; b < B; b++)
        roots[b] = sentence_logits(g, m, ex[b], dropout);
    return B == 1 ? roots[0] : rc_concat(g, 0, B, roots);
}

static int evaluate(rc_graph *g, const tree_lstm *m, const tu_sentiment *d, int B,
                    const tu_example **batch, rc_node **roots, tu_score *score)
{
    memset(score, 0, sizeof *score);
    rc_graph_set_grad(g, false);
    rc_graph_set_training(g, false);
    int rc = 0;
    for (size_t i = 0; i < d->n_test; i += (size_t)B) {
        const int nb = d->n_test - i < (size_t)B ? (int)(d->n_test - i) : B;
        for (int b = 0; b < nb; b++)
            batch[b] = &d->test[i + (size_t)b];
        rc_graph_reset(g);
        rc_node *lg = batch_logits(g, m, batch, nb, roots, 0);
        if (!rc_ok(lg)) {
            fprintf(stderr, "%s: evaluation: %s\n", PROG, rc_graph_error(g));
            rc = -1;
            break;
        }
        for (int b = 0; b < nb; b++) {
            const rc_real *z = rc_data(lg) + 2 * b;
            score->total[batch[b]->source]++;
            score->right[batch[b]->source] += (z[1] > z[0] ? 1 : 0) == batch[b]->label;
        }
    }
    rc_graph_set_grad(g, true);
    rc_graph_set_training(g, true);
    return rc;
}

int main(int argc, char **argv)
{
    options o;
    int st = parse(argc, argv, &o);
    if (st != 0)
        return st > 0 ? 0 : 2;
    tu_sentiment d;
    st = tu_sentiment_load(PROG, &d, o.split_seed, o.min_count);
    if (st != 0)
        return st > 0 && o.smoke ? TU_EXIT_SKIP : 1;
    const size_t n_train = d.n_train;
    const int V = (int)tx_vocab_size(d.vocab), B = o.batch;
    printf("tree_sentiment: %zu training sentences (imdb+yelp+amazon), %zu held out "
           "(tx_split_random(n, 0.1, seed %llu) per source), vocabulary %d words "
           "(min count %d, lowercased)%s\n",
           n_train, d.n_test, (unsigned long long)o.split_seed, V - TX_NSPECIAL, o.min_count,
           o.smoke ? " [smoke run]" : "");

    rc_params *ps = rc_params_new();
    rc_graph *g = rc_graph_new();
    rc_optim *opt = NULL;
    rc_rng rng;
    rc_rng_seed(&rng, o.seed);
    tree_lstm m;
    const tu_example **batch = malloc((size_t)B * sizeof *batch);
    rc_node **roots = malloc((size_t)B * sizeof *roots);
    int32_t *labels = malloc((size_t)B * sizeof *labels);
    size_t *order = malloc((n_train ? n_train : 1) * sizeof *order);
    int status = 1;
    if (!ps || !g || !batch || !roots || !labels || !order) {
        fprintf(stderr, "%s: out of memory\n", PROG);
        goto done;
    }
    if (tree_lstm_init(&m, ps, V, o.embed, o.hidden, 2, &rng) != 0) {
        fprintf(stderr, "%s: cannot build the model: %s\n", PROG, rc_params_error(ps));
        goto done;
    }
    { /* N(0, 0.1) word vectors rather than N(0, 1) */
        rc_real *e = rc_data(m.emb.weight);
        for (size_t k = 0; k < (size_t)V * (size_t)o.embed; k++)
            e[k] *= (rc_real)0.1;
    }
    rc_optim_config oc = rc_adam_defaults();
    oc.lr = o.lr;
    oc.weight_decay = o.weight_decay;
    if (!(opt = rc_optim_new(ps, &oc))) {
        fprintf(stderr, "%s: out of memory\n", PROG);
        goto done;
    }
    printf("model: embedding %d -> binary Tree-LSTM (balanced bracketing), hidden %d -> "
           "root -> linear 2; %zu parameters\n",
           o.embed, o.hidden, rc_params_numel(ps));
    rc_graph_seed(g, o.seed);
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
        for (size_t i = 0; i < n_train; i++)
            order[i] = i;
        tx_shuffle(order, n_train, o.seed * 1000003u + (uint64_t)ep);
        double ep_loss = 0;
        long ep_right = 0;
        size_t ep_n = 0;
        for (size_t i = 0; i < n_train && step < total; i += (size_t)B) {
            const int nb = n_train - i < (size_t)B ? (int)(n_train - i) : B;
            long tokens = 0;
            for (int b = 0; b < nb; b++) {
                batch[b] = &d.train[order[i + (size_t)b]];
                labels[b] = batch[b]->label;
                tokens += batch[b]->len;
            }
            rc_graph_reset(g);
            rc_params_zero_grad(ps);
            rc_node *lg = batch_logits(g, &m, batch, nb, roots, o.dropout);
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
    if (evaluate(g, &m, &d, B, batch, roots, &score) != 0)
        goto done;
    printf("trained %ld steps (%.2f epochs) in %.1f s; split seed %llu, seed %llu\n", step,
           (double)step / (double)steps_per_epoch, train_seconds, (unsigned long long)o.split_seed,
           (unsigned long long)o.seed);
    tu_score_print(&score);
    status = 0;
done:
    free(batch);
    free(roots);
    free(labels);
    free(order);
    rc_optim_free(opt);
    rc_graph_free(g);
    rc_params_free(ps);
    tu_sentiment_free(&d);
    return status;
}
