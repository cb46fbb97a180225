/* pos_tagger: many-to-many synchronous sequence labelling. A bidirectional
 * LSTM tags every word of a Brown corpus sentence with its simplified
 * part-of-speech tag (tx_brown_simplify: 472 tags -> 92).
 *
 *   pos_tagger [--epochs N] [--steps N] [--embed E] [--suffix-embed E] [--hidden H]
 *              [--layers L] [--batch B] [--lr LR] [--dropout P] [--clip C]
 *              [--min-count N] [--seed S] [--eval-sentences N] [--data DIR] [--smoke]
 *
 * Split: every 10th sentence is held out (tx_split_every(n, 10): sentences
 * 9, 19, 29, ... counting from 0), the split of DATA.md's baseline; no seed
 * is involved. The program computes that baseline itself on the same
 * held-out tokens: each (lowercased) training word gets its most frequent
 * training tag, a word never seen in training gets the most frequent tag.
 *
 * Each token is three embeddings, concatenated: its lowercased word (words
 * seen fewer than --min-count times in training become <unk>, which is how
 * the model learns something for unseen words), its last three letters
 * (lowercased; a cheap morphology feature: -ing, -ed, -ly, -s ...) and its
 * shape (lower, Capitalised, ALL CAPS, number, punctuation, ...). Then
 * bidirectional LSTM layer(s), a linear layer to the tags, and per-token
 * cross-entropy over a padded batch with the padding ignored
 * (ignore_index = TX_PAD). */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/progress.h"
#include "common/text.h"
#include "common/train_util.h"
#include "recur/nn.h"
#include "recur/optim.h"

static const char *const PROG = "pos_tagger";

typedef struct options {
    int epochs, embed, suffix_embed, hidden, layers, batch, min_count;
    long steps, eval_sentences;
    double lr, dropout, clip;
    uint64_t seed;
    bool smoke;
} options;

/* ---- token features ---------------------------------------------------------- */

enum { SUFFIX_LEN = 3 };

/* Word shapes; 0 is padding. */
enum {
    SHAPE_PAD, SHAPE_LOWER, SHAPE_CAPITALISED, SHAPE_UPPER, SHAPE_NUMBER, SHAPE_HAS_DIGIT,
    SHAPE_HYPHENATED, SHAPE_PUNCT, SHAPE_OTHER, SHAPE_FIRST_CAP, NSHAPES
};

static int shape_of(const char *w, bool first_in_sentence)
{
    int lower = 0, upper = 0, digit = 0, alpha = 0, hyphen = 0, other = 0, n = 0;
    for (const unsigned char *p = (const unsigned char *)w; *p; p++, n++) {
        if (islower(*p)) lower++, alpha++;
        else if (isupper(*p)) upper++, alpha++;
        else if (isdigit(*p)) digit++;
        else if (*p == '-') hyphen++;
        else if (*p == '.' || *p == ',') ;
        else other++;
    }
    if (n == 0)
        return SHAPE_OTHER;
    if (alpha == 0 && digit == 0)
        return SHAPE_PUNCT;
    if (digit && !alpha)
        return SHAPE_NUMBER;
    if (digit)
        return SHAPE_HAS_DIGIT;
    if (hyphen && lower)
        return SHAPE_HYPHENATED;
    if (upper && !lower)
        return SHAPE_UPPER;
    if (isupper((unsigned char)w[0]))
        return first_in_sentence ? SHAPE_FIRST_CAP : SHAPE_CAPITALISED;
    return other ? SHAPE_OTHER : SHAPE_LOWER;
}

/* ASCII lowercase copy into out (cap bytes); returns its length. The Brown
 * files are ASCII. */
static size_t lower_copy(const char *w, char *out, size_t cap)
{
    size_t n = 0;
    for (; w[n] && n + 1 < cap; n++)
        out[n] = (char)tolower((unsigned char)w[n]);
    out[n] = 0;
    return n;
}

/* ---- the data set ------------------------------------------------------------- */

typedef struct tagged_data {
    tx_corpus corpus;
    tx_split split;
    tx_vocab *words, *suffixes, *tags; /* model vocabularies (training part only) */
    tx_vocab *all_words;               /* every training word (baseline, unseen words) */
    size_t *start;                     /* sentence s is tokens [start[s], start[s+1]) */
    int32_t *word, *suffix, *shape, *tag;
    int32_t *baseline;                 /* the most-frequent-tag guess per token */
    bool *unseen;                      /* word never seen in training */
    long train_tokens;
} tagged_data;

static void data_free(tagged_data *d)
{
    tx_corpus_free(&d->corpus);
    tx_split_free(&d->split);
    tx_vocab_free(d->words);
    tx_vocab_free(d->suffixes);
    tx_vocab_free(d->tags);
    tx_vocab_free(d->all_words);
    free(d->start);
    free(d->word);
    free(d->suffix);
    free(d->shape);
    free(d->tag);
    free(d->baseline);
    free(d->unseen);
    memset(d, 0, sizeof *d);
}

static const char *suffix_of(const char *lw, size_t n)
{
    return n > SUFFIX_LEN ? lw + n - SUFFIX_LEN : lw;
}

/* The most frequent training tag of every training word: counts (word, tag)
 * pairs in a vocabulary keyed "word\ttag", then keeps the best per word
 * (ties: the tag more frequent overall, i.e. the smaller tag id). */
static int most_frequent_tags(tagged_data *d, int32_t *best_of_word)
{
    const tx_corpus *c = &d->corpus;
    tx_vocab *pairs = tx_vocab_new();
    uint64_t *best_n = calloc(tx_vocab_size(d->all_words), sizeof *best_n);
    int rc = -1;
    if (!pairs || !best_n)
        goto done;
    for (size_t k = 0; k < d->split.n_train; k++) {
        const tx_sentence *se = &c->sent[d->split.train[k]];
        for (size_t t = 0; t < se->n; t++) {
            char key[512], tag[64];
            size_t wl = lower_copy(se->tok[t].word, key, 256);
            size_t gl = tx_brown_simplify(se->tok[t].tag, tag, sizeof tag);
            key[wl] = '\t';
            memcpy(key + wl + 1, tag, gl < 63 ? gl : 63);
            if (tx_vocab_add(pairs, key, wl + 1 + (gl < 63 ? gl : 63)) < 0)
                goto done;
        }
    }
    for (size_t w = 0; w < tx_vocab_size(d->all_words); w++)
        best_of_word[w] = -1;
    for (int32_t k = TX_NSPECIAL; k < (int32_t)tx_vocab_size(pairs); k++) {
        size_t kl;
        const char *key = tx_vocab_str(pairs, k, &kl), *tab = strrchr(key, '\t');
        int32_t w = tx_vocab_find(d->all_words, key, (size_t)(tab - key));
        int32_t g = tx_vocab_find(d->tags, tab + 1, kl - (size_t)(tab - key) - 1);
        uint64_t n = tx_vocab_count(pairs, k);
        if (w < 0 || g < 0)
            goto done; /* cannot happen: both were counted from the same tokens */
        if (n > best_n[w] || (n == best_n[w] && g < best_of_word[w])) {
            best_n[w] = n;
            best_of_word[w] = g;
        }
    }
    rc = 0;
done:
    tx_vocab_free(pairs);
    free(best_n);
    return rc;
}

/* Loads data/brown, splits it, builds the vocabularies from the training
 * sentences and encodes every token. 0, 1 when the data is missing, -1. */
static int data_load(tagged_data *d, int min_count)
{
    memset(d, 0, sizeof *d);
    char *dir = tx_data_file("brown");
    if (!dir)
        return fprintf(stderr, "%s: out of memory\n", PROG), -1;
    int st = tu_check_file(PROG, dir);
    if (st == 0 && tx_load_brown(dir, &d->corpus) != 0) {
        fprintf(stderr, "%s: %s\n", PROG, tx_error());
        st = -1;
    }
    free(dir);
    if (st != 0)
        return st;
    const tx_corpus *c = &d->corpus;
    tx_vocab *suf_counts = tx_vocab_new(), *tag_counts = tx_vocab_new();
    int32_t *best = NULL;
    int rc = -1;
    d->all_words = tx_vocab_new();
    if (!suf_counts || !tag_counts || !d->all_words)
        goto oom;
    if (tx_split_every(c->n, 10, &d->split) != 0) {
        fprintf(stderr, "%s: %s\n", PROG, tx_error());
        goto done;
    }
    for (size_t k = 0; k < d->split.n_train; k++) {
        const tx_sentence *se = &c->sent[d->split.train[k]];
        for (size_t t = 0; t < se->n; t++) {
            char lw[256], tag[64];
            size_t n = lower_copy(se->tok[t].word, lw, sizeof lw);
            size_t gl = tx_brown_simplify(se->tok[t].tag, tag, sizeof tag);
            const char *suf = suffix_of(lw, n);
            if (tx_vocab_add(d->all_words, lw, n) < 0 ||
                tx_vocab_add(suf_counts, suf, strlen(suf)) < 0 ||
                tx_vocab_add(tag_counts, tag, gl < sizeof tag ? gl : sizeof tag - 1) < 0)
                goto oom;
        }
        d->train_tokens += (long)se->n;
    }
    d->words = tx_vocab_cut(d->all_words, (uint64_t)min_count, 0);
    d->suffixes = tx_vocab_cut(suf_counts, 2, 0);
    d->tags = tx_vocab_cut(tag_counts, 1, 0); /* most frequent tag first */
    d->start = malloc((c->n + 1) * sizeof *d->start);
    const size_t N = c->n_tokens ? c->n_tokens : 1;
    d->word = malloc(N * sizeof *d->word);
    d->suffix = malloc(N * sizeof *d->suffix);
    d->shape = malloc(N * sizeof *d->shape);
    d->tag = malloc(N * sizeof *d->tag);
    d->baseline = malloc(N * sizeof *d->baseline);
    d->unseen = malloc(N * sizeof *d->unseen);
    best = malloc(tx_vocab_size(d->all_words) * sizeof *best);
    if (!d->words || !d->suffixes || !d->tags || !d->start || !d->word || !d->suffix ||
        !d->shape || !d->tag || !d->baseline || !d->unseen || !best ||
        most_frequent_tags(d, best) != 0)
        goto oom;
    size_t i = 0;
    for (size_t s = 0; s < c->n; s++) {
        d->start[s] = i;
        for (size_t t = 0; t < c->sent[s].n; t++, i++) {
            const tx_tagged *tk = &c->sent[s].tok[t];
            char lw[256], tag[64];
            size_t n = lower_copy(tk->word, lw, sizeof lw);
            size_t gl = tx_brown_simplify(tk->tag, tag, sizeof tag);
            const char *suf = suffix_of(lw, n);
            d->word[i] = tx_vocab_id(d->words, lw, n);
            d->suffix[i] = tx_vocab_id(d->suffixes, suf, strlen(suf));
            d->shape[i] = shape_of(tk->word, t == 0);
            /* a tag never seen in training maps to <unk>: never predicted */
            d->tag[i] = tx_vocab_id(d->tags, tag, gl < sizeof tag ? gl : sizeof tag - 1);
            int32_t w = tx_vocab_find(d->all_words, lw, n);
            d->unseen[i] = w < 0;
            d->baseline[i] = w >= 0 && best[w] >= 0 ? best[w] : TX_NSPECIAL;
        }
    }
    d->start[c->n] = i;
    rc = 0;
    goto done;
oom:
    fprintf(stderr, "%s: out of memory while preparing the Brown corpus\n", PROG);
done:
    free(best);
    tx_vocab_free(suf_counts);
    tx_vocab_free(tag_counts);
    if (rc != 0)
        data_free(d);
    return rc;
}

static int sent_len(const tagged_data *d, size_t s)
{
    return (int)(d->start[s + 1] - d->start[s]);
}

/* ---- the model ------------------------------------------------------------------ */

typedef struct tagger {
    rc_embed word, suffix, shape;
    rc_rnn rnn;
    rc_linear out;
    int D, H, C;
} tagger;

enum { SHAPE_EMBED = 8 };

static int tagger_init(tagger *m, rc_params *ps, const tagged_data *d, const options *o,
                       rc_rng *rng)
{
    m->D = 2;
    m->H = o->hidden;
    m->C = (int)tx_vocab_size(d->tags);
    const int in = o->embed + o->suffix_embed + SHAPE_EMBED;
    rc_rnn_config cfg = {.cell = RC_LSTM, .input_size = in, .hidden_size = o->hidden,
                         .num_layers = o->layers, .bidirectional = true,
                         .dropout = o->dropout};
    if (rc_embed_init(&m->word, ps, "word_embed.", (int)tx_vocab_size(d->words), o->embed,
                      rng) != 0 ||
        rc_embed_init(&m->suffix, ps, "suffix_embed.", (int)tx_vocab_size(d->suffixes),
                      o->suffix_embed, rng) != 0 ||
        rc_embed_init(&m->shape, ps, "shape_embed.", NSHAPES, SHAPE_EMBED, rng) != 0 ||
        rc_rnn_init(&m->rnn, ps, "rnn.", &cfg, rng) != 0 ||
        rc_linear_init(&m->out, ps, "out.", 2 * o->hidden, m->C, true, rng) != 0) {
        fprintf(stderr, "%s: cannot build the model: %s\n", PROG,
                m->rnn.error[0] ? m->rnn.error : rc_params_error(ps));
        return -1;
    }
    const rc_embed *e[3] = {&m->word, &m->suffix, &m->shape};
    for (int k = 0; k < 3; k++) { /* N(0, 0.1) rather than N(0, 1) */
        rc_real *v = rc_data(e[k]->weight);
        for (size_t j = 0; j < (size_t)e[k]->num * (size_t)e[k]->dim; j++)
            v[j] *= (rc_real)0.1;
    }
    return 0;
}

/* Buffers for one padded, time-major batch [T x B]. */
typedef struct batch_buf {
    int32_t *word, *suffix, *shape, *tag, *len;
} batch_buf;

/* Tag logits [T*B x C] of sentences sents[0..B) (T = the longest); fills the
 * targets (TX_PAD on padding) in bb->tag. */
static rc_node *logits_of(rc_graph *g, const tagger *m, const tagged_data *d,
                          const size_t *sents, int B, int T, batch_buf *bb, double dropout)
{
    for (int b = 0; b < B; b++) {
        const size_t s0 = d->start[sents[b]];
        const int n = sent_len(d, sents[b]);
        bb->len[b] = n;
        for (int t = 0; t < T; t++) {
            const int k = t * B + b;
            const bool real = t < n;
            bb->word[k] = real ? d->word[s0 + t] : TX_PAD;
            bb->suffix[k] = real ? d->suffix[s0 + t] : TX_PAD;
            bb->shape[k] = real ? d->shape[s0 + t] : SHAPE_PAD;
            bb->tag[k] = real ? d->tag[s0 + t] : TX_PAD;
        }
    }
    const rc_shape ts = RC_SHAPE(T, B);
    rc_node *parts[3] = {rc_embedding(g, m->word.weight, bb->word, ts),
                         rc_embedding(g, m->suffix.weight, bb->suffix, ts),
                         rc_embedding(g, m->shape.weight, bb->shape, ts)};
    rc_node *x = rc_dropout(g, rc_concat(g, 2, 3, parts), dropout);
    rc_rnn_result r = rc_rnn_forward(g, &m->rnn, x, bb->len, NULL, NULL);
    rc_node *h = rc_dropout(g, r.output, dropout); /* [T x B x 2H] */
    return rc_linear(g, &m->out, rc_reshape(g, h, RC_SHAPE(T * B, 2 * m->H)));
}

static int longest(const tagged_data *d, const size_t *sents, int B)
{
    int T = 1;
    for (int b = 0; b < B; b++)
        T = sent_len(d, sents[b]) > T ? sent_len(d, sents[b]) : T;
    return T;
}

typedef struct tally {
    long right, total, unseen_right, unseen_total;
} tally;

static void tally_token(tally *t, bool right, bool unseen)
{
    t->right += right;
    t->total++;
    t->unseen_right += right && unseen;
    t->unseen_total += unseen;
}

/* Token accuracy of the model and of the baseline on the first n_eval
 * held-out sentences (no-grad eval mode, batches sorted by length). */
static int evaluate(rc_graph *g, const tagger *m, const tagged_data *d, size_t n_eval, int B,
                    batch_buf *bb, tally *model, tally *base)
{
    *model = (tally){0};
    *base = (tally){0};
    tu_len_idx *byl = malloc((n_eval ? n_eval : 1) * sizeof *byl);
    size_t *sents = malloc((size_t)B * sizeof *sents);
    int rc = 0;
    if (!byl || !sents) {
        fprintf(stderr, "%s: out of memory\n", PROG);
        rc = -1;
        goto done;
    }
    for (size_t i = 0; i < n_eval; i++)
        byl[i] = (tu_len_idx){sent_len(d, d->split.test[i]), d->split.test[i]};
    qsort(byl, n_eval, sizeof *byl, tu_cmp_len);
    rc_graph_set_grad(g, false);
    rc_graph_set_training(g, false);
    for (size_t i = 0; i < n_eval; i += (size_t)B) {
        const int nb = n_eval - i < (size_t)B ? (int)(n_eval - i) : B;
        for (int b = 0; b < nb; b++)
            sents[b] = byl[i + (size_t)b].idx;
        const int T = longest(d, sents, nb);
        rc_graph_reset(g);
        rc_node *lg = logits_of(g, m, d, sents, nb, T, bb, 0);
        if (!rc_ok(lg)) {
            fprintf(stderr, "%s: evaluation: %s\n", PROG, rc_graph_error(g));
            rc = -1;
            break;
        }
        for (int b = 0; b < nb; b++)
            for (int t = 0; t < bb->len[b]; t++) {
                const rc_real *z = rc_data(lg) + (size_t)(t * nb + b) * (size_t)m->C;
                int arg = 0;
                for (int k = 1; k < m->C; k++)
                    arg = z[k] > z[arg] ? k : arg;
                const size_t tok = d->start[sents[b]] + (size_t)t;
                tally_token(model, arg == d->tag[tok], d->unseen[tok]);
                tally_token(base, d->baseline[tok] == d->tag[tok], d->unseen[tok]);
            }
    }
    rc_graph_set_grad(g, true);
    rc_graph_set_training(g, true);
done:
    free(byl);
    free(sents);
    return rc;
}

/* ---- flags ------------------------------------------------------------------------ */

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: pos_tagger [options]\n"
            "  --epochs N           passes over the training sentences (2)\n"
            "  --steps N            stop after N steps (default: all epochs)\n"
            "  --embed E            word embedding size (64)\n"
            "  --suffix-embed E     size of the 3-letter-suffix embedding (32)\n"
            "  --hidden H           LSTM hidden size per direction (64)\n"
            "  --layers L           bidirectional LSTM layers (1)\n"
            "  --batch B            sentences per step (32)\n"
            "  --lr LR              Adam learning rate, cosine-decayed (3e-3)\n"
            "  --dropout P          on the embeddings, between layers and on the outputs (0.25)\n"
            "  --clip C             clip the gradient norm to C (5)\n"
            "  --min-count N        rarer training words become <unk> (2)\n"
            "  --seed S             initialisation, batch order, dropout (1)\n"
            "  --eval-sentences N   score only the first N held-out sentences (0: all)\n"
            "  --data DIR           data folder (default $RECUR_DATA or data)\n"
            "  --smoke              150 steps and 500 held-out sentences, as a test\n"
            "                       (exit 77 when the data is missing)\n");
}

/* The command line into o (0), --help (1) or a refusal (-1). */
static int parse(int argc, char **argv, options *o)
{
    *o = (options){.epochs = 2, .embed = 64, .suffix_embed = 32, .hidden = 64, .layers = 1,
                   .batch = 32, .min_count = 2, .lr = 3e-3, .dropout = 0.25, .clip = 5,
                   .seed = 1};
    bool steps_set = false, eval_set = false;
    const tu_flag flags[] = {
        {"--smoke", TU_SWITCH, &o->smoke, .on = true},
        {"--epochs", TU_INT, &o->epochs, .lo = 1, .hi = 1000},
        {"--steps", TU_LONG, &o->steps, .lo = 1, .hi = 1e8, .given = &steps_set},
        TU_MODEL_FLAGS(o),
        {"--suffix-embed", TU_INT, &o->suffix_embed, .lo = 1, .hi = 4096},
        {"--layers", TU_INT, &o->layers, .lo = 1, .hi = RC_RNN_MAX_LAYERS},
        {"--eval-sentences", TU_LONG, &o->eval_sentences, .lo = 0, .hi = 1e8, .given = &eval_set},
        {.name = NULL}};
    const int r = tu_parse_flags(PROG, argc, argv, flags, usage);
    if (r)
        return r;
    if (o->smoke) {
        if (!steps_set)
            o->steps = 150;
        if (!eval_set)
            o->eval_sentences = 500;
    }
    return 0;
}

/* ---- main ------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    options o;
    int st = parse(argc, argv, &o);
    if (st != 0)
        return st > 0 ? 0 : 2;
    const double t0 = now_seconds();
    tagged_data d;
    st = data_load(&d, o.min_count);
    if (st != 0)
        return st > 0 && o.smoke ? TU_EXIT_SKIP : 1;
    const size_t n_train = d.split.n_train;
    size_t n_eval = d.split.n_test;
    if (o.eval_sentences > 0 && (size_t)o.eval_sentences < n_eval)
        n_eval = (size_t)o.eval_sentences;
    printf("brown: %zu sentences, %zu tokens; training on %zu sentences (%ld tokens), "
           "holding out every 10th (%zu sentences%s); %zu words (min count %d, "
           "lowercased), %zu suffixes, %zu tags; loaded in %.1f s%s\n",
           d.corpus.n, d.corpus.n_tokens, n_train, d.train_tokens, d.split.n_test,
           n_eval < d.split.n_test ? ", scoring the first ones only" : "",
           tx_vocab_size(d.words) - TX_NSPECIAL, o.min_count,
           tx_vocab_size(d.suffixes) - TX_NSPECIAL, tx_vocab_size(d.tags) - TX_NSPECIAL,
           now_seconds() - t0, o.smoke ? " [smoke run]" : "");

    const int B = o.batch;
    int Tmax = 1;
    for (size_t s = 0; s < d.corpus.n; s++)
        Tmax = sent_len(&d, s) > Tmax ? sent_len(&d, s) : Tmax;
    const size_t cells = (size_t)Tmax * (size_t)B;
    batch_buf bb = {malloc(cells * sizeof(int32_t)), malloc(cells * sizeof(int32_t)),
                    malloc(cells * sizeof(int32_t)), malloc(cells * sizeof(int32_t)),
                    malloc((size_t)B * sizeof(int32_t))};
    size_t *order = malloc((n_train ? n_train : 1) * sizeof *order);
    size_t *sents = malloc((size_t)B * sizeof *sents);
    tu_len_idx *scratch = malloc((n_train ? n_train : 1) * sizeof *scratch);
    int *train_len = malloc((n_train ? n_train : 1) * sizeof *train_len);
    rc_params *ps = rc_params_new();
    rc_graph *g = rc_graph_new();
    rc_optim *opt = NULL;
    tagger m;
    rc_rng rng;
    rc_rng_seed(&rng, o.seed);
    int status = 1;
    if (!bb.word || !bb.suffix || !bb.shape || !bb.tag || !bb.len || !order || !sents ||
        !scratch || !train_len || !ps || !g) {
        fprintf(stderr, "%s: out of memory\n", PROG);
        goto done;
    }
    if (tagger_init(&m, ps, &d, &o, &rng) != 0)
        goto done;
    rc_optim_config oc = rc_adam_defaults();
    oc.lr = o.lr;
    if (!(opt = rc_optim_new(ps, &oc))) {
        fprintf(stderr, "%s: out of memory\n", PROG);
        goto done;
    }
    printf("model: [word %d | suffix %d | shape %d] -> bidirectional LSTM, %d layer(s), "
           "hidden %d -> linear %d tags; %zu parameters\n",
           o.embed, o.suffix_embed, SHAPE_EMBED, o.layers, o.hidden, m.C - TX_NSPECIAL,
           rc_params_numel(ps));
    rc_graph_seed(g, o.seed);
    for (size_t i = 0; i < n_train; i++) {
        train_len[i] = sent_len(&d, d.split.train[i]);
    }
    const long steps_per_epoch = (long)((n_train + (size_t)B - 1) / (size_t)B);
    long total = steps_per_epoch * o.epochs;
    if (o.steps > 0 && o.steps < total)
        total = o.steps;
    /* warm-up over 100 steps (fewer in short runs: it must not pass the end) */
    rc_schedule sched = rc_schedule_cosine(o.lr, total >= 1000 ? 100 : total / 10, total,
                                           o.lr * 0.05);
    progress p = progress_start(total);
    long step = 0;
    for (int ep = 0; step < total; ep++) {
        /* order[] indexes the training list; sentences are d.split.train[order[i]] */
        tu_bucket_order(order, scratch, train_len, n_train, B, o.seed * 1000003u + (uint64_t)ep);
        double ep_loss = 0;
        long ep_tokens = 0;
        for (size_t i = 0; i < n_train && step < total; i += (size_t)B) {
            const int nb = n_train - i < (size_t)B ? (int)(n_train - i) : B;
            long tokens = 0;
            for (int b = 0; b < nb; b++) {
                sents[b] = d.split.train[order[i + (size_t)b]];
                tokens += sent_len(&d, sents[b]);
            }
            rc_graph_reset(g);
            rc_params_zero_grad(ps);
            rc_node *lg = logits_of(g, &m, &d, sents, nb, longest(&d, sents, nb), &bb,
                                    o.dropout);
            rc_node *loss = rc_cross_entropy(g, lg, bb.tag, TX_PAD, RC_MEAN);
            if (tu_update(PROG, step, g, ps, opt, &sched, loss, o.clip) != 0)
                goto done;
            ep_loss += rc_item(loss) * (double)tokens;
            ep_tokens += tokens;
            progress_step(&p, "train", ++step, rc_item(loss), (double)tokens);
        }
        if (!p.tty || step == total)
            printf("epoch %d: mean loss %.4f over %ld tokens\n", ep + 1,
                   ep_loss / (double)(ep_tokens ? ep_tokens : 1), ep_tokens);
    }
    const double train_seconds = now_seconds() - p.start;
    tally model, base;
    if (evaluate(g, &m, &d, n_eval, B, &bb, &model, &base) != 0)
        goto done;
    printf("trained %ld steps (%.2f epochs) in %.1f s\n", step,
           (double)step / (double)steps_per_epoch, train_seconds);
    printf("held-out token accuracy (every 10th sentence: %zu sentences, %ld tokens):\n",
           n_eval, model.total);
    printf("  BiLSTM tagger            %.2f%%   (words unseen in training: %.2f%% of %ld)\n",
           100.0 * (double)model.right / (double)model.total,
           100.0 * (double)model.unseen_right / (double)(model.unseen_total ? model.unseen_total : 1),
           model.unseen_total);
    printf("  most-frequent-tag        %.2f%%   (words unseen in training: %.2f%%)\n",
           100.0 * (double)base.right / (double)base.total,
           100.0 * (double)base.unseen_right / (double)(base.unseen_total ? base.unseen_total : 1));
    status = 0;
done:
    free(bb.word);
    free(bb.suffix);
    free(bb.shape);
    free(bb.tag);
    free(bb.len);
    free(order);
    free(sents);
    free(scratch);
    free(train_len);
    rc_optim_free(opt);
    rc_graph_free(g);
    rc_params_free(ps);
    data_free(&d);
    return status;
}
