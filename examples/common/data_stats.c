/* examples/common/data_stats.c - load every dataset in data/ (or $RECUR_DATA)
 * with the text.h loaders and print its counts and the baselines
 * docs/DATA.md quotes, to check that the loaders read the data as intended.
 *
 *   data_stats [trans|kjv|fortunes|sentiment|brown]...   (default: all)
 *
 * Exit status: 0, 1 when a dataset fails to load, 77 when data/ is missing. */
#include "text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int want(int argc, char **argv, const char *name)
{
    if (argc < 2) return 1;
    for (int k = 1; k < argc; k++)
        if (strcmp(argv[k], name) == 0) return 1;
    return 0;
}

static int report_fail(void)
{
    fprintf(stderr, "data_stats: %s\n", tx_error());
    return 1;
}

static int stats_trans(void)
{
    char *path = tx_data_file("trans-de-en/de-en");
    tx_pairs p;
    int rc = path ? tx_load_trans(path, &p) : -1;
    free(path);
    if (rc) return report_fail();
    tx_vocab *de = tx_vocab_new(), *en = tx_vocab_new();
    tx_split sp;
    if (!de || !en || tx_split_random(p.n, 0.1, 1, &sp) != 0) {
        tx_vocab_free(de);
        tx_vocab_free(en);
        tx_pairs_free(&p);
        return report_fail();
    }
    size_t wde = 0, wen = 0;
    for (size_t k = 0; k < sp.n_train; k++) {
        const tx_pair *pr = &p.pairs[sp.train[k]];
        tx_count_words(de, pr->src, strlen(pr->src), TX_LOWER);
        tx_count_words(en, pr->tgt, strlen(pr->tgt), TX_LOWER);
    }
    for (size_t k = TX_NSPECIAL; k < tx_vocab_size(de); k++) wde += tx_vocab_count(de, (int32_t)k);
    for (size_t k = TX_NSPECIAL; k < tx_vocab_size(en); k++) wen += tx_vocab_count(en, (int32_t)k);
    tx_vocab *de2 = tx_vocab_cut(de, 2, 0), *en2 = tx_vocab_cut(en, 2, 0);
    printf("trans-de-en: %zu unique clean pairs (%zu before removing duplicates); "
           "split seed 1, 10%%: %zu train / %zu test\n",
           p.n, p.n_kept, sp.n_train, sp.n_test);
    printf("  train words (lowercased): de %zu tokens, %zu types (%zu seen >= 2 times); "
           "en %zu tokens, %zu types (%zu seen >= 2 times)\n",
           wde, tx_vocab_size(de) - TX_NSPECIAL, tx_vocab_size(de2) - TX_NSPECIAL, wen,
           tx_vocab_size(en) - TX_NSPECIAL, tx_vocab_size(en2) - TX_NSPECIAL);
    printf("  e.g. \"%s\" -> \"%s\"\n", p.pairs[0].src, p.pairs[0].tgt);
    tx_vocab_free(de);
    tx_vocab_free(en);
    tx_vocab_free(de2);
    tx_vocab_free(en2);
    tx_split_free(&sp);
    tx_pairs_free(&p);
    return 0;
}

static int stats_text(const char *name, const char *rel)
{
    char *path = tx_data_file(rel), *text;
    size_t n, bad = 0;
    int rc = path ? tx_load_text(path, &text, &n) : -1;
    free(path);
    if (rc) return report_fail();
    size_t chars = tx_utf8_count(text, n, &bad);
    tx_vocab *v = tx_vocab_new();
    if (!v || tx_count_chars(v, text, n) != 0) {
        tx_vocab_free(v);
        free(text);
        return report_fail();
    }
    size_t cut = tx_text_split(text, n, 0.9);
    printf("%s: %zu bytes, %zu characters, %zu distinct symbols, %zu invalid UTF-8 sequences; "
           "90/10 split at byte %zu\n",
           name, n, chars, tx_vocab_size(v) - TX_NSPECIAL, bad, cut);
    tx_vocab_free(v);
    free(text);
    return 0;
}

static int stats_sentiment(void)
{
    static const char *const names[] = {"imdb", "yelp", "amazon"};
    for (int k = 0; k < 3; k++) {
        char rel[64];
        snprintf(rel, sizeof rel, "sentiment/%s.json", names[k]);
        char *path = tx_data_file(rel);
        tx_labeled_set s;
        int rc = path ? tx_load_sentiment(path, &s) : -1;
        free(path);
        if (rc) return report_fail();
        size_t pos = 0;
        for (size_t i = 0; i < s.n; i++) pos += s.items[i].label == 1;
        printf("sentiment/%s: %zu records (%zu positive, %zu negative), %zu dropped\n", names[k], s.n,
               pos, s.n - pos, s.n_dropped);
        tx_labeled_free(&s);
    }
    return 0;
}

/* Most-frequent-tag baseline: each (lowercased) training word gets its most
 * frequent training tag (ties: the tag seen first in the corpus); unknown
 * words get the most frequent training tag. Every 10th sentence is held out. */
static size_t lower_word(const char *word, char *w, size_t cap)
{
    size_t wl = strlen(word);
    if (wl >= cap) wl = cap - 1;
    for (size_t i = 0; i < wl; i++) w[i] = (char)(word[i] >= 'A' && word[i] <= 'Z' ? word[i] + 32 : word[i]);
    w[wl] = 0;
    return wl;
}

static double mft_baseline(const tx_corpus *c, bool simplified, size_t *n_tags)
{
    tx_vocab *words = tx_vocab_new(), *tags = tx_vocab_new(), *pairs = tx_vocab_new();
    tx_split sp = {0};
    double acc = -1;
    uint64_t *best_n = NULL, *tag_total = NULL;
    int32_t *best = NULL;
    if (!words || !tags || !pairs || tx_split_every(c->n, 10, &sp) != 0) goto out;
    for (size_t s = 0; s < c->n; s++) /* fixes tag ids in order of first appearance */
        for (size_t t = 0; t < c->sent[s].n; t++) {
            char tag[64];
            const char *g = c->sent[s].tok[t].tag;
            if (simplified) g = (tx_brown_simplify(g, tag, sizeof tag), tag);
            if (tx_vocab_add(tags, g, strlen(g)) < 0) goto out;
        }
    size_t nt = tx_vocab_size(tags);
    *n_tags = nt - TX_NSPECIAL;
    for (size_t k = 0; k < sp.n_train; k++) { /* count (word, tag) pairs */
        const tx_sentence *se = &c->sent[sp.train[k]];
        for (size_t t = 0; t < se->n; t++) {
            char key[320], tag[64];
            size_t wl = lower_word(se->tok[t].word, key, 256);
            const char *g = se->tok[t].tag;
            if (simplified) g = (tx_brown_simplify(g, tag, sizeof tag), tag);
            size_t gl = strlen(g) < 63 ? strlen(g) : 63;
            memcpy(key + wl + 1, g, gl);
            if (tx_vocab_add(words, key, wl) < 0 || tx_vocab_add(pairs, key, wl + 1 + gl) < 0) goto out;
        }
    }
    size_t nw = tx_vocab_size(words);
    best = calloc(nw, sizeof *best);
    best_n = calloc(nw, sizeof *best_n);
    tag_total = calloc(nt, sizeof *tag_total);
    if (!best || !best_n || !tag_total) goto out;
    for (size_t k = TX_NSPECIAL; k < tx_vocab_size(pairs); k++) {
        size_t kl;
        const char *key = tx_vocab_str(pairs, (int32_t)k, &kl);
        size_t wl = strlen(key);
        int32_t wid = tx_vocab_find(words, key, wl), tid = tx_vocab_find(tags, key + wl + 1, kl - wl - 1);
        uint64_t cnt = tx_vocab_count(pairs, (int32_t)k);
        if (wid < 0 || tid < 0) goto out;
        tag_total[tid] += cnt;
        if (cnt > best_n[wid] || (cnt == best_n[wid] && tid < best[wid])) {
            best_n[wid] = cnt;
            best[wid] = tid;
        }
    }
    size_t overall = TX_NSPECIAL;
    for (size_t g = TX_NSPECIAL; g < nt; g++)
        if (tag_total[g] > tag_total[overall]) overall = g;
    size_t right = 0, total = 0;
    for (size_t k = 0; k < sp.n_test; k++) {
        const tx_sentence *se = &c->sent[sp.test[k]];
        for (size_t t = 0; t < se->n; t++) {
            char w[256], tag[64];
            size_t wl = lower_word(se->tok[t].word, w, sizeof w);
            const char *g = se->tok[t].tag;
            if (simplified) g = (tx_brown_simplify(g, tag, sizeof tag), tag);
            int32_t wid = tx_vocab_find(words, w, wl);
            int32_t guess = wid >= 0 ? best[wid] : (int32_t)overall;
            right += guess == tx_vocab_find(tags, g, strlen(g));
            total++;
        }
    }
    acc = total ? (double)right / (double)total : 0;
out:
    free(best);
    free(best_n);
    free(tag_total);
    tx_split_free(&sp);
    tx_vocab_free(words);
    tx_vocab_free(tags);
    tx_vocab_free(pairs);
    return acc;
}

static int stats_brown(void)
{
    char *path = tx_data_file("brown");
    tx_corpus c;
    int rc = path ? tx_load_brown(path, &c) : -1;
    free(path);
    if (rc) return report_fail();
    size_t nfull = 0, nsimple = 0;
    double full = mft_baseline(&c, false, &nfull), simple = mft_baseline(&c, true, &nsimple);
    if (full < 0 || simple < 0) {
        tx_corpus_free(&c);
        return report_fail();
    }
    printf("brown: %zu files, %zu sentences, %zu tokens, %zu full tags, %zu simplified tags\n",
           c.n_files, c.n, c.n_tokens, nfull, nsimple);
    printf("  most-frequent-tag baseline (lowercased words, every 10th sentence held out): "
           "%.2f%% full, %.2f%% simplified\n",
           100 * full, 100 * simple);
    tx_corpus_free(&c);
    return 0;
}

int main(int argc, char **argv)
{
    char *probe = tx_data_file("README");
    FILE *f = probe ? fopen(probe, "r") : NULL;
    if (!f) {
        fprintf(stderr, "data_stats: no data in %s/ (run tools/fetch-data.sh, or set RECUR_DATA)\n",
                tx_data_dir());
        free(probe);
        return 77;
    }
    fclose(f);
    free(probe);
    int bad = 0;
    if (want(argc, argv, "trans")) bad |= stats_trans();
    if (want(argc, argv, "kjv")) bad |= stats_text("kjv", "kjv.txt");
    if (want(argc, argv, "fortunes")) bad |= stats_text("fortunes", "fortunes.txt");
    if (want(argc, argv, "sentiment")) bad |= stats_sentiment();
    if (want(argc, argv, "brown")) bad |= stats_brown();
    return bad;
}
