/* translate: German -> English with an attention encoder-decoder, recur's
 * main demo (many-to-many, asynchronous).
 *
 *   translate [train] [options]            train, then show held-out translations and BLEU
 *   translate translate --load CKPT [SENTENCE...]   (no sentence: one per line of stdin)
 *   translate attention --load CKPT SENTENCE         print the attention matrix
 *
 * Data: the Ding dictionary's example sentences (tools/fetch-data.sh), about
 * 17,750 clean pairs, split 90/10 by a seeded shuffle. Words are lowercased
 * and punctuation split off; BLEU is corpus BLEU-4 on those tokens. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/bleu.h"
#include "common/plot.h"
#include "common/progress.h"
#include "common/text.h"
#include "recur/checkpoint.h"
#include "recur/optim.h"
#include "recur/seq2seq.h"

typedef struct options {
    const char *mode, *load, *save, *plot, *data;
    double minutes, lr, dropout;
    int epochs, hidden, embed, layers, batch, max_len, vocab_min, beam, eval_size, show, test_size;
    bool bidir, resume;
    rc_cell_kind cell;
    rc_attention attention;
    uint64_t seed;
} options;

/* What a checkpoint needs beside its tensors: the model's shape and the
 * training curve so far. Written as "key value" lines next to the file. */
typedef struct meta {
    rc_seq2seq_config model;
    int epoch;
    long step;
    int n_loss, n_bleu;
    double loss_x[4096], loss_y[4096], bleu_x[512], bleu_y[512];
} meta;

static const char *attention_name[] = {"none", "additive", "dot", "general"};

static void usage(void)
{
    fprintf(stderr,
            "usage: translate [train] [--minutes M] [--epochs N] [--hidden H] [--embed E]\n"
            "                 [--cell lstm|gru] [--attention additive|dot|general|none]\n"
            "                 [--layers L] [--no-bidir] [--batch B] [--lr LR] [--dropout P]\n"
            "                 [--max-len N] [--vocab-min C] [--beam K] [--eval-size N]\n"
            "                 [--test-size N] [--show N]\n"
            "                 [--save CKPT] [--resume] [--plot SVG] [--seed S] [--data DIR]\n"
            "       translate translate --load CKPT [--beam K] [SENTENCE...]\n"
            "       translate attention --load CKPT SENTENCE\n");
}

static int parse(int argc, char **argv, options *o, char ***rest, int *nrest)
{
    *o = (options){.mode = "train", .save = "runs/translate/model.safetensors",
                   .plot = "runs/translate/curves.svg", .minutes = 3, .lr = 2e-3,
                   .dropout = 0.1, .epochs = 1000, .hidden = 256, .embed = 128, .layers = 1,
                   .batch = 64, .max_len = 16, .vocab_min = 2, .beam = 1, .eval_size = 600,
                   .show = 8, .bidir = true, .cell = RC_GRU, .attention = RC_ATTN_ADDITIVE,
                   .seed = 1};
    int i = 1;
    if (i < argc && argv[i][0] != '-')
        o->mode = argv[i++];
    *rest = argv + argc;
    *nrest = 0;
    for (; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
#define NUM(flag, field, conv)                  \
    if (strcmp(a, flag) == 0 && v) {            \
        o->field = conv(v);                     \
        i++;                                    \
        continue;                               \
    }
        NUM("--minutes", minutes, atof) NUM("--epochs", epochs, atoi)
        NUM("--hidden", hidden, atoi) NUM("--embed", embed, atoi) NUM("--layers", layers, atoi)
        NUM("--batch", batch, atoi) NUM("--lr", lr, atof) NUM("--dropout", dropout, atof)
        NUM("--max-len", max_len, atoi) NUM("--vocab-min", vocab_min, atoi)
        NUM("--beam", beam, atoi) NUM("--eval-size", eval_size, atoi) NUM("--show", show, atoi)
        NUM("--test-size", test_size, atoi)
        NUM("--seed", seed, (uint64_t)atoll)
#undef NUM
        if (strcmp(a, "--load") == 0 && v) { o->load = v; i++; continue; }
        if (strcmp(a, "--save") == 0 && v) { o->save = v; i++; continue; }
        if (strcmp(a, "--plot") == 0 && v) { o->plot = v; i++; continue; }
        if (strcmp(a, "--data") == 0 && v) { setenv("RECUR_DATA", v, 1); i++; continue; }
        if (strcmp(a, "--no-bidir") == 0) { o->bidir = false; continue; }
        if (strcmp(a, "--resume") == 0) { o->resume = true; continue; }
        if (strcmp(a, "--cell") == 0 && v) {
            o->cell = strcmp(v, "lstm") == 0 ? RC_LSTM : strcmp(v, "gru") == 0 ? RC_GRU : -1;
            i++;
            if ((int)o->cell < 0)
                return fprintf(stderr, "translate: --cell takes lstm or gru\n"), -1;
            continue;
        }
        if (strcmp(a, "--attention") == 0 && v) {
            int k = 0;
            while (k < 4 && strcmp(v, attention_name[k]) != 0)
                k++;
            if (k == 4)
                return fprintf(stderr, "translate: unknown attention %s\n", v), -1;
            o->attention = (rc_attention)k;
            i++;
            continue;
        }
        if (a[0] == '-')
            return fprintf(stderr, "translate: unknown or incomplete option %s\n", a), -1;
        *rest = argv + i;
        *nrest = argc - i;
        break;
    }
    if (o->minutes <= 0 || o->epochs <= 0 || o->hidden <= 0 || o->embed <= 0 ||
        o->batch <= 0 || o->max_len < 2 || o->beam <= 0 || o->eval_size < 0 || o->lr <= 0 ||
        (o->bidir && o->hidden % 2))
        return fprintf(stderr, "translate: option out of range\n"), -1;
    return 0;
}

/* ---- files next to a checkpoint ------------------------------------------------ */

static char *sidecar(const char *ckpt, const char *suffix)
{
    size_t n = strlen(ckpt) + strlen(suffix) + 1;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s%s", ckpt, suffix);
    return p;
}

static void make_parent_dirs(const char *path)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *s = buf + 1; *s; s++)
        if (*s == '/') {
            *s = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                return;
            *s = '/';
        }
}

static int save_meta(const char *ckpt, const meta *m)
{
    char *path = sidecar(ckpt, ".meta"), *tmp = sidecar(ckpt, ".meta.tmp");
    FILE *f = path && tmp ? fopen(tmp, "w") : NULL;
    int rc = -1;
    if (f) {
        const rc_seq2seq_config *c = &m->model;
        fprintf(f, "recur-translate 1\nsrc_vocab %d\ntgt_vocab %d\nembed %d\nhidden %d\n"
                   "cell %d\nlayers %d\nbidir %d\nattention %d\nattn_size %d\ndropout %.17g\n"
                   "epoch %d\nstep %ld\n",
                c->src_vocab, c->tgt_vocab, c->embed, c->hidden, (int)c->cell, c->enc_layers,
                (int)c->enc_bidirectional, (int)c->attention, c->attn_size, c->dropout,
                m->epoch, m->step);
        for (int k = 0; k < m->n_loss; k++)
            fprintf(f, "loss %.17g %.17g\n", m->loss_x[k], m->loss_y[k]);
        for (int k = 0; k < m->n_bleu; k++)
            fprintf(f, "bleu %.17g %.17g\n", m->bleu_x[k], m->bleu_y[k]);
        rc = fclose(f) == 0 && rename(tmp, path) == 0 ? 0 : -1;
    }
    free(path);
    free(tmp);
    return rc;
}

static int load_meta(const char *ckpt, meta *m)
{
    char *path = sidecar(ckpt, ".meta");
    FILE *f = path ? fopen(path, "r") : NULL;
    memset(m, 0, sizeof *m);
    char key[32];
    int ok = f && fscanf(f, "recur-translate %31s", key) == 1;
    rc_seq2seq_config *c = &m->model;
    int cell = 0, bidir = 0, attn = 0;
    while (ok && fscanf(f, "%31s", key) == 1) {
        double x, y;
        if (strcmp(key, "loss") == 0 || strcmp(key, "bleu") == 0) {
            ok = fscanf(f, "%lf %lf", &x, &y) == 2;
            bool loss = key[0] == 'l';
            int *n = loss ? &m->n_loss : &m->n_bleu, cap = loss ? 4096 : 512;
            if (ok && *n < cap) {
                (loss ? m->loss_x : m->bleu_x)[*n] = x;
                (loss ? m->loss_y : m->bleu_y)[(*n)++] = y;
            }
            continue;
        }
        long v;
        if (strcmp(key, "dropout") == 0) {
            ok = fscanf(f, "%lf", &c->dropout) == 1;
            continue;
        }
        ok = fscanf(f, "%ld", &v) == 1;
        if (strcmp(key, "src_vocab") == 0) c->src_vocab = (int)v;
        else if (strcmp(key, "tgt_vocab") == 0) c->tgt_vocab = (int)v;
        else if (strcmp(key, "embed") == 0) c->embed = (int)v;
        else if (strcmp(key, "hidden") == 0) c->hidden = (int)v;
        else if (strcmp(key, "cell") == 0) cell = (int)v;
        else if (strcmp(key, "layers") == 0) c->enc_layers = (int)v;
        else if (strcmp(key, "bidir") == 0) bidir = (int)v;
        else if (strcmp(key, "attention") == 0) attn = (int)v;
        else if (strcmp(key, "attn_size") == 0) c->attn_size = (int)v;
        else if (strcmp(key, "epoch") == 0) m->epoch = (int)v;
        else if (strcmp(key, "step") == 0) m->step = v;
    }
    if (f)
        fclose(f);
    if (!f || c->hidden <= 0 || attn < 0 || attn > 3 || cell < 0 || cell > 3) {
        fprintf(stderr, "translate: cannot read %s\n", path ? path : ckpt);
        free(path);
        return -1;
    }
    free(path);
    c->cell = (rc_cell_kind)cell;
    c->enc_bidirectional = bidir;
    c->attention = (rc_attention)attn;
    c->pad_id = TX_PAD;
    c->bos_id = TX_BOS;
    c->eos_id = TX_EOS;
    return 0;
}

/* ---- data ------------------------------------------------------------------------ */

typedef struct corpus {
    tx_pairs pairs;
    tx_split split;
    tx_vocab *src_vocab, *tgt_vocab;
    int32_t **src, **tgt; /* per pair; tgt ends with eos */
    int *src_len, *tgt_len;
    size_t *train; /* training pairs within the length limit */
    size_t n_train;
} corpus;

static void corpus_free(corpus *c)
{
    for (size_t i = 0; c->src && i < c->pairs.n; i++) {
        free(c->src[i]);
        free(c->tgt[i]);
    }
    free(c->src);
    free(c->tgt);
    free(c->src_len);
    free(c->tgt_len);
    free(c->train);
    tx_split_free(&c->split);
    tx_vocab_free(c->src_vocab);
    tx_vocab_free(c->tgt_vocab);
    tx_pairs_free(&c->pairs);
}

/* Vocabularies from the training split only, then every pair as ids. */
static int corpus_load(corpus *c, const options *o, const meta *resumed)
{
    memset(c, 0, sizeof *c);
    char *path = tx_data_file("trans-de-en/de-en");
    bool missing = !path || access(path, R_OK) != 0;
    int rc = missing ? -1 : tx_load_trans(path, &c->pairs);
    free(path);
    if (rc != 0) {
        fprintf(stderr, "translate: %s\n  (run: bash tools/fetch-data.sh)\n",
                missing ? "data/trans-de-en/de-en is missing" : tx_error());
        return missing ? 77 : -1;
    }
    if (tx_split_random(c->pairs.n, 0.1, o->seed, &c->split) != 0)
        return -1;
    if (resumed) { /* the saved vocabularies fix the ids */
        char *sv = sidecar(o->save, ".src.vocab"), *tv = sidecar(o->save, ".tgt.vocab");
        c->src_vocab = sv ? tx_vocab_load(sv) : NULL;
        c->tgt_vocab = tv ? tx_vocab_load(tv) : NULL;
        free(sv);
        free(tv);
    } else {
        tx_vocab *sc = tx_vocab_new(), *tc = tx_vocab_new();
        for (size_t k = 0; k < c->split.n_train && sc && tc; k++) {
            const tx_pair *p = &c->pairs.pairs[c->split.train[k]];
            tx_count_words(sc, p->src, strlen(p->src), TX_LOWER);
            tx_count_words(tc, p->tgt, strlen(p->tgt), TX_LOWER);
        }
        c->src_vocab = sc ? tx_vocab_cut(sc, (uint64_t)o->vocab_min, 0) : NULL;
        c->tgt_vocab = tc ? tx_vocab_cut(tc, (uint64_t)o->vocab_min, 0) : NULL;
        tx_vocab_free(sc);
        tx_vocab_free(tc);
    }
    size_t n = c->pairs.n;
    c->src = calloc(n, sizeof *c->src);
    c->tgt = calloc(n, sizeof *c->tgt);
    c->src_len = calloc(n, sizeof *c->src_len);
    c->tgt_len = calloc(n, sizeof *c->tgt_len);
    c->train = calloc(c->split.n_train + 1, sizeof *c->train);
    if (!c->src_vocab || !c->tgt_vocab || !c->src || !c->tgt || !c->src_len || !c->tgt_len ||
        !c->train) {
        fprintf(stderr, "translate: %s\n", tx_error()[0] ? tx_error() : "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const tx_pair *p = &c->pairs.pairs[i];
        size_t ls, lt;
        c->src[i] = tx_encode_words(c->src_vocab, p->src, strlen(p->src), TX_LOWER, false,
                                    false, &ls);
        c->tgt[i] = tx_encode_words(c->tgt_vocab, p->tgt, strlen(p->tgt), TX_LOWER, false,
                                    true, &lt);
        if (!c->src[i] || !c->tgt[i])
            return -1;
        c->src_len[i] = (int)ls;
        c->tgt_len[i] = (int)lt;
    }
    for (size_t k = 0; k < c->split.n_train; k++) {
        size_t i = c->split.train[k];
        if (c->src_len[i] >= 1 && c->src_len[i] <= o->max_len && c->tgt_len[i] <= o->max_len + 1)
            c->train[c->n_train++] = i;
    }
    return 0;
}

/* Sorting a window of shuffled pairs by length makes batches of similar
 * lengths: much less padding to compute on. */
static const corpus *sort_corpus;

static int by_length(const void *a, const void *b)
{
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    int d = sort_corpus->src_len[i] - sort_corpus->src_len[j];
    return d ? d : sort_corpus->tgt_len[i] - sort_corpus->tgt_len[j];
}

static void bucket(corpus *c, uint64_t seed, int B)
{
    const size_t window = 32 * (size_t)B;
    tx_shuffle(c->train, c->n_train, seed);
    sort_corpus = c;
    for (size_t at = 0; at < c->n_train; at += window)
        qsort(c->train + at, c->n_train - at < window ? c->n_train - at : window,
              sizeof *c->train, by_length);
}

/* Pairs idx[0..B) as padded time-major batches; returns S and T. */
static void make_batch(const corpus *c, const size_t *idx, int B, int32_t *src, int32_t *slen,
                       int32_t *tgt, int *S, int *T)
{
    *S = *T = 1;
    for (int b = 0; b < B; b++) {
        *S = c->src_len[idx[b]] > *S ? c->src_len[idx[b]] : *S;
        *T = c->tgt_len[idx[b]] > *T ? c->tgt_len[idx[b]] : *T;
    }
    for (int b = 0; b < B; b++) {
        size_t i = idx[b];
        slen[b] = c->src_len[i];
        for (int t = 0; t < *S; t++)
            src[t * B + b] = t < c->src_len[i] ? c->src[i][t] : TX_PAD;
        for (int t = 0; tgt && t < *T; t++)
            tgt[t * B + b] = t < c->tgt_len[i] ? c->tgt[i][t] : TX_PAD;
    }
}

/* ---- evaluation ------------------------------------------------------------------- */

/* Translate one tokenised sentence; returns a malloc'd string. */
static char *translate_ids(rc_graph *g, const rc_seq2seq *m, const tx_vocab *tv,
                           const int32_t *src, int S, int beam, int max_len)
{
    int32_t out[256];
    int n, len;
    if (max_len > 256)
        max_len = 256;
    rc_graph_reset(g);
    if (beam > 1) {
        n = rc_seq2seq_beam(g, m, src, S, beam, max_len, 1.0, out);
    } else {
        int32_t slen = S;
        n = rc_seq2seq_greedy(g, m, src, S, 1, &slen, max_len, out, &len, NULL) == 0 ? len : -1;
    }
    if (n < 0) {
        fprintf(stderr, "translate: %s\n", rc_graph_error(g));
        return NULL;
    }
    return tx_decode(tv, out, (size_t)n, " ");
}

/* Corpus BLEU of the first n held-out pairs, over word strings (so a <unk> in
 * the output never matches a rare word of the reference). */
static double held_out_bleu(rc_graph *g, const rc_seq2seq *m, const corpus *c, int n, int beam,
                            int max_len)
{
    tx_vocab *words = tx_vocab_new();
    bleu_stats stats = {0};
    if (n > (int)c->split.n_test)
        n = (int)c->split.n_test;
    for (int k = 0; k < n && words; k++) {
        size_t i = c->split.test[k];
        char *hyp = translate_ids(g, m, c->tgt_vocab, c->src[i], c->src_len[i], beam, max_len);
        if (!hyp)
            break;
        const char *ref = c->pairs.pairs[i].tgt;
        tx_count_words(words, ref, strlen(ref), TX_LOWER);
        tx_count_words(words, hyp, strlen(hyp), TX_LOWER);
        size_t nh, nr;
        int32_t *h = tx_encode_words(words, hyp, strlen(hyp), TX_LOWER, false, false, &nh);
        int32_t *r = tx_encode_words(words, ref, strlen(ref), TX_LOWER, false, false, &nr);
        if (h && r)
            bleu_add(&stats, h, (int)nh, r, (int)nr);
        free(h);
        free(r);
        free(hyp);
    }
    tx_vocab_free(words);
    return 100 * bleu_score(&stats, NULL, NULL);
}

static void show_examples(rc_graph *g, const rc_seq2seq *m, const corpus *c, int count,
                          int beam, int max_len)
{
    for (int k = 0; k < count && k < (int)c->split.n_test; k++) {
        size_t i = c->split.test[k];
        char *hyp = translate_ids(g, m, c->tgt_vocab, c->src[i], c->src_len[i], beam, max_len);
        printf("  de:  %s\n  ref: %s\n  out: %s\n\n", c->pairs.pairs[i].src,
               c->pairs.pairs[i].tgt, hyp ? hyp : "(failed)");
        free(hyp);
    }
}

/* ---- training ------------------------------------------------------------------------ */

static int write_plot(const char *path, const meta *mt)
{
    plot_series s[2] = {
        {"training loss (cross-entropy per target token)", "step", mt->loss_x, mt->loss_y,
         mt->n_loss},
        {"held-out BLEU", "epoch", mt->bleu_x, mt->bleu_y, mt->n_bleu}};
    make_parent_dirs(path);
    return plot_svg(path, s, 2);
}

static int save_all(const options *o, rc_params *ps, rc_optim *opt, const corpus *c,
                    const meta *mt)
{
    char err[RC_CHECKPOINT_ERROR_SIZE];
    char *sv = sidecar(o->save, ".src.vocab"), *tv = sidecar(o->save, ".tgt.vocab");
    make_parent_dirs(o->save);
    int rc = sv && tv && tx_vocab_save(c->src_vocab, sv) == 0 &&
                     tx_vocab_save(c->tgt_vocab, tv) == 0 && save_meta(o->save, mt) == 0
                 ? 0
                 : -1;
    if (rc == 0 && rc_checkpoint_save(o->save, ps, opt, err, sizeof err) != 0) {
        fprintf(stderr, "translate: %s\n", err);
        rc = -1;
    }
    free(sv);
    free(tv);
    return rc;
}

static int train(const options *o)
{
    static meta mt;
    bool resumed = o->resume && load_meta(o->save, &mt) == 0;
    if (o->resume && !resumed)
        fprintf(stderr, "translate: nothing to resume at %s; starting afresh\n", o->save);
    corpus c;
    int loaded_rc = corpus_load(&c, o, resumed ? &mt : NULL);
    if (loaded_rc != 0) {
        corpus_free(&c);
        return loaded_rc == 77 ? 77 : 1; /* 77: no data, a skipped test */
    }
    rc_seq2seq_config cfg = resumed ? mt.model
                                    : (rc_seq2seq_config){
                                          (int)tx_vocab_size(c.src_vocab),
                                          (int)tx_vocab_size(c.tgt_vocab), o->embed, o->hidden,
                                          o->cell, o->layers, o->bidir, o->attention, 0,
                                          o->dropout, TX_PAD, TX_BOS, TX_EOS, false};
    if (!resumed)
        mt.model = cfg;
    printf("data: %zu sentence pairs, %zu train (%zu within %d words), %zu held out "
           "(seed %llu)\nvocabulary: %d German, %d English words (min count %d)\n",
           c.pairs.n, c.split.n_train, c.n_train, o->max_len, c.split.n_test,
           (unsigned long long)o->seed, cfg.src_vocab, cfg.tgt_vocab, o->vocab_min);
    rc_params *ps = rc_params_new();
    rc_rng rng;
    rc_rng_seed(&rng, o->seed);
    rc_seq2seq m;
    if (rc_seq2seq_init(&m, ps, "", &cfg, &rng) != 0) {
        fprintf(stderr, "translate: %s\n", m.error);
        rc_params_free(ps);
        corpus_free(&c);
        return 1;
    }
    rc_optim_config oc = rc_adam_defaults();
    oc.lr = o->lr;
    rc_optim *opt = rc_optim_new(ps, &oc);
    char err[RC_CHECKPOINT_ERROR_SIZE];
    if (resumed && rc_checkpoint_load(o->save, ps, opt, err, sizeof err) != 0) {
        fprintf(stderr, "translate: %s\n", err);
        rc_optim_free(opt);
        rc_params_free(ps);
        corpus_free(&c);
        return 1;
    }
    printf("model: %s encoder (%d layer%s, %s), %s attention, hidden %d, embed %d, %zu "
           "parameters; %d thread%s (RECUR_NUM_THREADS)\n%s\n",
           cfg.cell == RC_LSTM ? "LSTM" : "GRU", cfg.enc_layers, cfg.enc_layers > 1 ? "s" : "",
           cfg.enc_bidirectional ? "bidirectional" : "one direction",
           attention_name[cfg.attention], cfg.hidden, cfg.embed, rc_params_numel(ps),
           rc_num_threads(), rc_num_threads() > 1 ? "s" : "",
           resumed ? "resumed from the checkpoint" : "");

    const int B = o->batch;
    int32_t *src = malloc((size_t)B * (size_t)(o->max_len + 2) * sizeof *src);
    int32_t *tgt = malloc((size_t)B * (size_t)(o->max_len + 2) * sizeof *tgt);
    int32_t *slen = malloc((size_t)B * sizeof *slen);
    rc_graph *g = rc_graph_new();
    const double budget = o->minutes * 60, start = now_seconds();
    const bool tty = isatty(fileno(stdout));
    double tokens = 0, last_print = 0, loss_sum = 0;
    int loss_count = 0, status = 0;
    for (int epoch = mt.epoch; epoch < o->epochs && now_seconds() - start < budget; epoch++) {
        bucket(&c, o->seed * 1000003u + (uint64_t)epoch, B);
        rc_graph_set_training(g, true);
        for (size_t at = 0; at + (size_t)B <= c.n_train && now_seconds() - start < budget;
             at += (size_t)B) {
            int S, T;
            make_batch(&c, c.train + at, B, src, slen, tgt, &S, &T);
            rc_graph_reset(g);
            rc_params_zero_grad(ps);
            rc_node *loss = rc_seq2seq_loss(g, &m, src, S, B, slen, tgt, T);
            if (rc_backward(g, loss) != 0) {
                fprintf(stderr, "\ntranslate: step %ld: %s\n", mt.step, rc_graph_error(g));
                status = 1;
                goto out;
            }
            double norm = rc_clip_grad_norm(ps, 5.0, 2.0);
            if (isfinite(norm) && rc_optim_step(opt) != 0) {
                fprintf(stderr, "\ntranslate: %s\n", rc_optim_error(opt));
                status = 1;
                goto out;
            }
            mt.step++;
            for (int b = 0; b < B; b++)
                tokens += c.tgt_len[c.train[at + (size_t)b]];
            loss_sum += rc_item(loss);
            loss_count++;
            double t = now_seconds() - start;
            if (loss_count == 50 && mt.n_loss < 4096) { /* the curve: mean of 50 steps */
                mt.loss_x[mt.n_loss] = (double)mt.step;
                mt.loss_y[mt.n_loss++] = loss_sum / loss_count;
            }
            if (t - last_print > (tty ? 0.5 : 15)) {
                printf("%sepoch %d  step %ld  loss %.3f  %.0f tok/s  %.0fs, ETA %.0fs%s",
                       tty ? "\r" : "", epoch + 1, mt.step, loss_sum / loss_count, tokens / t,
                       t, budget - t, tty ? "   " : "\n");
                fflush(stdout);
                last_print = t;
            }
            if (loss_count == 50)
                loss_sum = 0, loss_count = 0;
        }
        /* every epoch: held-out BLEU, curves and a checkpoint */
        rc_graph_set_training(g, false);
        double bleu = held_out_bleu(g, &m, &c, o->eval_size, 1, o->max_len + 4);
        mt.epoch = epoch + 1;
        if (mt.n_bleu < 512) {
            mt.bleu_x[mt.n_bleu] = mt.epoch;
            mt.bleu_y[mt.n_bleu++] = bleu;
        }
        printf("%sepoch %d done: held-out BLEU %.2f (greedy, first %d test pairs)%s\n",
               tty ? "\r" : "", mt.epoch, bleu, o->eval_size, tty ? "            " : "");
        if (save_all(o, ps, opt, &c, &mt) != 0 || write_plot(o->plot, &mt) != 0)
            fprintf(stderr, "translate: could not write %s or %s\n", o->save, o->plot);
    }
    rc_graph_set_training(g, false);
    printf("\nheld-out translations (%s):\n\n", o->beam > 1 ? "beam search" : "greedy");
    show_examples(g, &m, &c, o->show, o->beam, o->max_len + 4);
    int n_test = o->test_size > 0 && o->test_size < (int)c.split.n_test ? o->test_size
                                                                        : (int)c.split.n_test;
    double greedy = held_out_bleu(g, &m, &c, n_test, 1, o->max_len + 4);
    double beam4 = held_out_bleu(g, &m, &c, n_test, 4, o->max_len + 4);
    printf("held-out BLEU over %d test pairs: %.2f greedy, %.2f beam 4 "
           "(%ld steps, %.0f s)\ncheckpoint: %s   curves: %s\n",
           n_test, greedy, beam4, mt.step, now_seconds() - start, o->save, o->plot);
out:
    free(src);
    free(tgt);
    free(slen);
    rc_graph_free(g);
    rc_optim_free(opt);
    rc_params_free(ps);
    corpus_free(&c);
    return status;
}

/* ---- using a trained model ------------------------------------------------------------ */

typedef struct loaded {
    rc_params *ps;
    rc_seq2seq m;
    tx_vocab *sv, *tv;
} loaded;

static void loaded_free(loaded *l)
{
    rc_params_free(l->ps);
    tx_vocab_free(l->sv);
    tx_vocab_free(l->tv);
}

static int load_model(const char *ckpt, loaded *l)
{
    static meta mt;
    memset(l, 0, sizeof *l);
    char err[RC_CHECKPOINT_ERROR_SIZE];
    char *sv = sidecar(ckpt, ".src.vocab"), *tv = sidecar(ckpt, ".tgt.vocab");
    int rc = -1;
    if (load_meta(ckpt, &mt) == 0 && (l->sv = tx_vocab_load(sv)) && (l->tv = tx_vocab_load(tv))) {
        l->ps = rc_params_new();
        if (rc_seq2seq_init(&l->m, l->ps, "", &mt.model, NULL) != 0)
            fprintf(stderr, "translate: %s\n", l->m.error);
        else if (rc_checkpoint_load(ckpt, l->ps, NULL, err, sizeof err) != 0)
            fprintf(stderr, "translate: %s\n", err);
        else
            rc = 0;
    } else if (!l->sv || !l->tv) {
        fprintf(stderr, "translate: %s\n", tx_error());
    }
    free(sv);
    free(tv);
    return rc;
}

static int translate_sentences(const options *o, char **sentences, int n)
{
    loaded l;
    if (!o->load || load_model(o->load, &l) != 0) {
        if (!o->load)
            fprintf(stderr, "translate: give the model with --load CKPT\n");
        return 1;
    }
    rc_graph *g = rc_graph_new();
    rc_graph_set_training(g, false);
    char line[4096];
    for (int k = 0; n ? k < n : fgets(line, sizeof line, stdin) != NULL; k++) {
        const char *s = n ? sentences[k] : line;
        size_t len;
        int32_t *ids = tx_encode_words(l.sv, s, strlen(s), TX_LOWER, false, false, &len);
        if (!ids || len == 0) {
            free(ids);
            continue;
        }
        char *out = translate_ids(g, &l.m, l.tv, ids, (int)len, o->beam, 2 * (int)len + 8);
        printf("%s\n", out ? out : "");
        fflush(stdout);
        free(out);
        free(ids);
    }
    rc_graph_free(g);
    loaded_free(&l);
    return 0;
}

/* The attention weights of a greedy translation, one row per output word. */
static int show_attention(const options *o, const char *sentence)
{
    loaded l;
    if (!o->load || !sentence || load_model(o->load, &l) != 0) {
        fprintf(stderr, "translate: attention needs --load CKPT and a sentence\n");
        return 1;
    }
    int status = 1;
    size_t S;
    int32_t *ids = tx_encode_words(l.sv, sentence, strlen(sentence), TX_LOWER, false, false, &S);
    rc_graph *g = rc_graph_new();
    rc_graph_set_training(g, false);
    enum { MAX = 48 };
    int32_t out[MAX], slen = (int32_t)S;
    int len;
    rc_real *w = ids && S ? calloc(MAX * S, sizeof *w) : NULL;
    if (l.m.cfg.attention == RC_ATTN_NONE)
        fprintf(stderr, "translate: this model has no attention\n");
    else if (w && rc_seq2seq_greedy(g, &l.m, ids, (int)S, 1, &slen, MAX, out, &len, w) == 0) {
        printf("%-14s", "");
        for (size_t s = 0; s < S; s++)
            printf(" %-7.7s", tx_vocab_str(l.sv, ids[s], NULL));
        printf("\n");
        for (int t = 0; t < len; t++) {
            printf("%-14.14s", tx_vocab_str(l.tv, out[t], NULL));
            for (size_t s = 0; s < S; s++)
                printf(" %7.2f", (double)w[(size_t)t * S + s]);
            printf("\n");
        }
        status = 0;
    }
    free(w);
    free(ids);
    rc_graph_free(g);
    loaded_free(&l);
    return status;
}

int main(int argc, char **argv)
{
    options o;
    char **rest;
    int nrest;
    if (parse(argc, argv, &o, &rest, &nrest) != 0) {
        usage();
        return 2;
    }
    if (strcmp(o.mode, "train") == 0)
        return train(&o);
    if (strcmp(o.mode, "translate") == 0)
        return translate_sentences(&o, rest, nrest);
    if (strcmp(o.mode, "attention") == 0)
        return show_attention(&o, nrest ? rest[0] : NULL);
    usage();
    return 2;
}
