/* train_util.h - small helpers shared by the sentiment, pos_tagger and
 * tree_sentiment examples: strict flag parsing from a table, a "data
 * missing" check that maps to meson's skip code, the sentiment data set
 * (three sources, seeded 90/10 split per source, a vocabulary from the
 * training part only), and length-bucketed mini-batches. Header-only
 * (static inline). */
#ifndef RECUR_EXAMPLES_TRAIN_UTIL_H
#define RECUR_EXAMPLES_TRAIN_UTIL_H

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/text.h"
#include "recur/optim.h"

/* meson's exit code for a skipped test: the smoke tests use it when the data
 * has not been fetched. */
enum { TU_EXIT_SKIP = 77 };

/* ---- flags --------------------------------------------------------------- */

/* An integer in [lo, hi], the whole string consumed; else a message, -1. */
static inline int tu_parse_long(const char *prog, const char *flag, const char *s, long lo,
                                long hi, long *out)
{
    char *end;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || !*s || *end || errno || v < lo || v > hi) {
        fprintf(stderr, "%s: %s needs an integer in [%ld, %ld], got '%s'\n", prog, flag, lo,
                hi, s ? s : "");
        return -1;
    }
    *out = v;
    return 0;
}

static inline int tu_parse_int(const char *prog, const char *flag, const char *s, int lo,
                               int hi, int *out)
{
    long v;
    if (tu_parse_long(prog, flag, s, lo, hi, &v) != 0)
        return -1;
    *out = (int)v;
    return 0;
}

/* A finite number in [lo, hi]. */
static inline int tu_parse_double(const char *prog, const char *flag, const char *s,
                                  double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = s ? strtod(s, &end) : 0;
    if (!s || !*s || *end || errno || !isfinite(v) || v < lo || v > hi) {
        fprintf(stderr, "%s: %s needs a number in [%g, %g], got '%s'\n", prog, flag, lo, hi,
                s ? s : "");
        return -1;
    }
    *out = v;
    return 0;
}

static inline int tu_parse_u64(const char *prog, const char *flag, const char *s,
                               uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = s ? strtoull(s, &end, 10) : 0;
    if (!s || *s < '0' || *s > '9' || *end || errno) {
        fprintf(stderr, "%s: %s needs a non-negative integer, got '%s'\n", prog, flag,
                s ? s : "");
        return -1;
    }
    *out = (uint64_t)v;
    return 0;
}

/* One flag of a command line: its name, its kind, where its value goes
 * (int *, long *, double *, uint64_t *, const char **; a switch sets a
 * bool * to `on`; TU_ENV sets the environment variable dst names), the
 * range a number must lie in, and, unless NULL, a bool set when the flag is
 * given (for defaults that depend on another flag, as --smoke's do). */
typedef enum { TU_INT, TU_LONG, TU_DOUBLE, TU_U64, TU_TEXT, TU_SWITCH, TU_ENV } tu_kind;

typedef struct tu_flag {
    const char *name;
    tu_kind kind;
    void *dst;
    double lo, hi;
    bool *given;
    bool on;
} tu_flag;

/* The rows every classifier example has, for options o with these fields. */
#define TU_MODEL_FLAGS(o)                                                        \
    {"--embed", TU_INT, &(o)->embed, .lo = 1, .hi = 4096},                       \
        {"--hidden", TU_INT, &(o)->hidden, .lo = 1, .hi = 4096},                 \
        {"--batch", TU_INT, &(o)->batch, .lo = 1, .hi = 4096},                   \
        {"--min-count", TU_INT, &(o)->min_count, .lo = 1, .hi = 1e6},            \
        {"--lr", TU_DOUBLE, &(o)->lr, .lo = 1e-7, .hi = 10},                     \
        {"--dropout", TU_DOUBLE, &(o)->dropout, .lo = 0, .hi = 0.95},            \
        {"--clip", TU_DOUBLE, &(o)->clip, .lo = 1e-6, .hi = 1e6},                \
        {"--seed", TU_U64, .dst = &(o)->seed}

/* Parses argv against flags (a table ending with a NULL name), strictly: a
 * misspelt flag is unknown, not a value gone missing. --help and -h print
 * usage on stdout and return 1; --data DIR, every example's, sets
 * RECUR_DATA. Returns 0, or -1 after a message. */
static inline int tu_parse_flags(const char *prog, int argc, char **argv, const tu_flag *flags,
                                 void (*usage)(FILE *))
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 1;
        }
        if (strncmp(a, "--", 2) != 0 || !strcmp(a, "--")) {
            fprintf(stderr, "%s: unexpected argument '%s' (see --help)\n", prog, a);
            return -1;
        }
        /* --data, every example's, after the table's own flags */
        static const tu_flag data = {"--data", TU_ENV, .dst = "RECUR_DATA"};
        const tu_flag *f = flags;
        while (f->name && strcmp(f->name, a) != 0)
            f++;
        if (!f->name && !strcmp(a, data.name))
            f = &data;
        if (!f->name) {
            fprintf(stderr, "%s: unknown option %s (see --help)\n", prog, a);
            return -1;
        }
        const char *v = NULL;
        if (f->kind != TU_SWITCH) {
            if (i + 1 >= argc) {
                fprintf(stderr, "%s: %s needs a value (see --help)\n", prog, a);
                return -1;
            }
            v = argv[++i];
        }
        int bad = 0;
        if (f->kind == TU_INT)
            bad = tu_parse_int(prog, a, v, (int)f->lo, (int)f->hi, f->dst);
        else if (f->kind == TU_LONG)
            bad = tu_parse_long(prog, a, v, (long)f->lo, (long)f->hi, f->dst);
        else if (f->kind == TU_DOUBLE)
            bad = tu_parse_double(prog, a, v, f->lo, f->hi, f->dst);
        else if (f->kind == TU_U64)
            bad = tu_parse_u64(prog, a, v, f->dst);
        else if (f->kind == TU_TEXT)
            *(const char **)f->dst = v;
        else if (f->kind == TU_ENV)
            bad = setenv(f->dst, v, 1);
        else
            *(bool *)f->dst = f->on;
        if (bad)
            return -1;
        if (f->given)
            *f->given = true;
    }
    return 0;
}

/* ---- data files ---------------------------------------------------------- */

/* 0 when path can be read. Otherwise prints "PATH missing: run bash
 * tools/fetch-data.sh" (or the system's reason) and returns 1 when the file
 * does not exist, -1 for any other problem. */
static inline int tu_check_file(const char *prog, const char *path)
{
    if (access(path, R_OK) == 0)
        return 0;
    int e = errno;
    if (e == ENOENT || e == ENOTDIR) {
        fprintf(stderr, "%s: %s missing: run bash tools/fetch-data.sh (or pass --data DIR)\n",
                prog, path);
        return 1;
    }
    fprintf(stderr, "%s: cannot read %s: %s\n", prog, path, strerror(e));
    return -1;
}

/* 0 when a file can be created at path (its folder exists and is writable),
 * so a run with --save fails at once rather than after training. */
static inline int tu_check_writable(const char *prog, const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 0;
    char *dir = malloc(n + 2);
    if (!dir)
        return fprintf(stderr, "%s: out of memory\n", prog), -1;
    if (!slash)
        strcpy(dir, ".");
    else if (n == 0)
        strcpy(dir, "/");
    else {
        memcpy(dir, path, n);
        dir[n] = 0;
    }
    int rc = access(dir, W_OK | X_OK);
    if (rc != 0)
        fprintf(stderr, "%s: cannot write %s: folder %s: %s\n", prog, path, dir,
                strerror(errno));
    free(dir);
    return rc;
}

/* ---- the sentiment data set ---------------------------------------------- */

enum { TU_NSOURCES = 3 };
static const char *const tu_sources[TU_NSOURCES] = {"imdb", "yelp", "amazon"};
/* The npm package's own word-list scorer on the whole files (DATA.md). */
static const double tu_source_baseline[TU_NSOURCES] = {0.726, 0.765, 0.696};

typedef struct tu_example {
    int32_t *ids; /* len word ids (len >= 1) */
    int len, label, source;
} tu_example;

typedef struct tu_sentiment {
    tx_labeled_set set[TU_NSOURCES];
    tx_vocab *vocab;             /* from the training part only */
    tu_example *train, *test;    /* the union of the three sources' parts */
    size_t n_train, n_test;
    size_t n_test_of[TU_NSOURCES];
    long train_tokens;
} tu_sentiment;

static inline void tu_sentiment_free(tu_sentiment *d)
{
    for (size_t i = 0; d->train && i < d->n_train; i++)
        free(d->train[i].ids);
    for (size_t i = 0; d->test && i < d->n_test; i++)
        free(d->test[i].ids);
    free(d->train);
    free(d->test);
    for (int s = 0; s < TU_NSOURCES; s++)
        tx_labeled_free(&d->set[s]);
    tx_vocab_free(d->vocab);
    memset(d, 0, sizeof *d);
}

/* Encodes one sentence (lowercased words); an empty one becomes <unk>. */
static inline int tu_encode(const tx_vocab *v, const char *text, tu_example *ex)
{
    size_t n = 0;
    ex->ids = tx_encode_words(v, text, strlen(text), TX_LOWER, false, false, &n);
    if (!ex->ids)
        return -1;
    if (n == 0) {
        free(ex->ids);
        if (!(ex->ids = malloc(sizeof *ex->ids)))
            return -1;
        ex->ids[0] = TX_UNK;
        n = 1;
    }
    ex->len = n > INT_MAX ? INT_MAX : (int)n;
    return 0;
}

/* Loads data/sentiment/{imdb,yelp,amazon}.json, holds out a seeded 10% of
 * each source (tx_split_random(n, 0.1, split_seed)) and builds the
 * vocabulary from the training sentences (lowercased words seen at least
 * min_count times; the rest become <unk>). Returns 0; 1 when a file is
 * missing; -1 on any other error (a message is printed either way). */
static inline int tu_sentiment_load(const char *prog, tu_sentiment *d, uint64_t split_seed,
                                    int min_count)
{
    memset(d, 0, sizeof *d);
    tx_split split[TU_NSOURCES] = {{0}};
    tx_vocab *counts = NULL;
    int rc = -1;
    for (int s = 0; s < TU_NSOURCES; s++) {
        char rel[64];
        snprintf(rel, sizeof rel, "sentiment/%s.json", tu_sources[s]);
        char *path = tx_data_file(rel);
        if (!path) {
            fprintf(stderr, "%s: out of memory\n", prog);
            goto done;
        }
        int st = tu_check_file(prog, path);
        if (st == 0 && tx_load_sentiment(path, &d->set[s]) != 0) {
            fprintf(stderr, "%s: %s\n", prog, tx_error());
            st = -1;
        }
        free(path);
        if (st != 0) {
            rc = st;
            goto done;
        }
        if (tx_split_random(d->set[s].n, 0.1, split_seed, &split[s]) != 0) {
            fprintf(stderr, "%s: %s\n", prog, tx_error());
            goto done;
        }
        d->n_train += split[s].n_train;
        d->n_test += split[s].n_test;
        d->n_test_of[s] = split[s].n_test;
    }
    if (!(counts = tx_vocab_new()))
        goto oom;
    for (int s = 0; s < TU_NSOURCES; s++)
        for (size_t k = 0; k < split[s].n_train; k++) {
            const char *t = d->set[s].items[split[s].train[k]].text;
            if (tx_count_words(counts, t, strlen(t), TX_LOWER) != 0)
                goto oom;
        }
    if (!(d->vocab = tx_vocab_cut(counts, (uint64_t)min_count, 0)))
        goto oom;
    d->train = calloc(d->n_train ? d->n_train : 1, sizeof *d->train);
    d->test = calloc(d->n_test ? d->n_test : 1, sizeof *d->test);
    if (!d->train || !d->test)
        goto oom;
    size_t a = 0, b = 0;
    for (int s = 0; s < TU_NSOURCES; s++) {
        for (size_t k = 0; k < split[s].n_train; k++, a++) {
            const tx_labeled *it = &d->set[s].items[split[s].train[k]];
            d->train[a].label = it->label;
            d->train[a].source = s;
            if (tu_encode(d->vocab, it->text, &d->train[a]) != 0)
                goto oom;
            d->train_tokens += d->train[a].len;
        }
        for (size_t k = 0; k < split[s].n_test; k++, b++) {
            const tx_labeled *it = &d->set[s].items[split[s].test[k]];
            d->test[b].label = it->label;
            d->test[b].source = s;
            if (tu_encode(d->vocab, it->text, &d->test[b]) != 0)
                goto oom;
        }
    }
    rc = 0;
    goto done;
oom:
    fprintf(stderr, "%s: out of memory while preparing the sentiment data\n", prog);
done:
    for (int s = 0; s < TU_NSOURCES; s++)
        tx_split_free(&split[s]);
    tx_vocab_free(counts);
    if (rc != 0)
        tu_sentiment_free(d);
    return rc;
}

/* Accuracy bookkeeping per source. */
typedef struct tu_score {
    long right[TU_NSOURCES], total[TU_NSOURCES];
} tu_score;

static inline double tu_score_acc(const tu_score *s, int source) /* -1: overall */
{
    long r = 0, t = 0;
    for (int k = 0; k < TU_NSOURCES; k++)
        if (source < 0 || k == source) {
            r += s->right[k];
            t += s->total[k];
        }
    return t ? (double)r / (double)t : NAN;
}

/* The held-out report shared by sentiment and tree_sentiment. */
static inline void tu_score_print(const tu_score *s)
{
    double base = 0;
    printf("held-out accuracy (model vs the word-list scorer):\n");
    for (int k = 0; k < TU_NSOURCES; k++) {
        printf("  %-7s %.3f  (%ld/%ld)   baseline %.3f\n", tu_sources[k], tu_score_acc(s, k),
               s->right[k], s->total[k], tu_source_baseline[k]);
        base += tu_source_baseline[k] / TU_NSOURCES;
    }
    long r = 0, t = 0;
    for (int k = 0; k < TU_NSOURCES; k++)
        r += s->right[k], t += s->total[k];
    printf("  %-7s %.3f  (%ld/%ld)   baseline %.3f (mean of the three)\n", "overall",
           tu_score_acc(s, -1), r, t, base);
}

/* ---- mini-batches of similar length ------------------------------------- */

typedef struct tu_len_idx {
    int len;
    size_t idx;
} tu_len_idx;

static inline int tu_cmp_len(const void *a, const void *b)
{
    const tu_len_idx *x = a, *y = b;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Writes into order[0..n) a permutation of 0..n-1 cut into batches of B
 * sentences of similar length (less padding): a seeded shuffle, each window
 * of 32 B items sorted by length, then the batches themselves shuffled.
 * scratch holds n entries. */
static inline void tu_bucket_order(size_t *order, tu_len_idx *scratch, const int *len,
                                   size_t n, int B, uint64_t seed)
{
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    tx_shuffle(order, n, seed);
    for (size_t i = 0; i < n; i++)
        scratch[i] = (tu_len_idx){len[order[i]], order[i]};
    const size_t window = (size_t)B * 32;
    for (size_t w = 0; w < n; w += window)
        qsort(scratch + w, n - w < window ? n - w : window, sizeof *scratch, tu_cmp_len);
    /* shuffle the full batches (Fisher-Yates over their indices); a last,
     * partial batch stays at the end so every batch starts at a multiple of B */
    const size_t nb = n / (size_t)B;
    size_t *perm = malloc((nb ? nb : 1) * sizeof *perm);
    if (!perm) { /* fall back to the sorted windows in order */
        for (size_t i = 0; i < n; i++)
            order[i] = scratch[i].idx;
        return;
    }
    for (size_t b = 0; b < nb; b++)
        perm[b] = b;
    tx_shuffle(perm, nb, seed ^ 0x9e3779b97f4a7c15ull);
    size_t o = 0;
    for (size_t b = 0; b < nb; b++)
        for (size_t i = perm[b] * (size_t)B; i < (perm[b] + 1) * (size_t)B; i++)
            order[o++] = scratch[i].idx;
    for (size_t i = nb * (size_t)B; i < n; i++)
        order[o++] = scratch[i].idx;
    free(perm);
}

/* The end of a training step: backward from loss, clip the gradient norm,
 * set the scheduled learning rate and update. A step whose gradient norm is
 * not finite is skipped. Prints the error and returns -1 on failure. */
static inline int tu_update(const char *prog, long step, rc_graph *g, rc_params *ps,
                            rc_optim *opt, const rc_schedule *sched, rc_node *loss,
                            double clip)
{
    if (rc_backward(g, loss) != 0) {
        fprintf(stderr, "\n%s: step %ld: %s\n", prog, step + 1, rc_graph_error(g));
        return -1;
    }
    if (!isfinite(rc_clip_grad_norm(ps, clip, 2.0)))
        return 0;
    rc_optim_set_lr(opt, rc_schedule_lr(sched, rc_optim_steps(opt)));
    if (rc_optim_step(opt) != 0) {
        fprintf(stderr, "\n%s: %s\n", prog, rc_optim_error(opt));
        return -1;
    }
    return 0;
}

#endif
