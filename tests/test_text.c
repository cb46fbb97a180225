/* tests/test_text.c - examples/common/text.{h,c}: UTF-8, tokenizers,
 * vocabulary (growth, forced hash collisions, save/load), splits, loaders on
 * small hand-made files including malformed ones, and the real data.
 *
 *   test_text [units|data]     (default: both)
 *
 * The data checks look for data/ in $RECUR_DATA, else next to this source
 * file's folder (../data), else ./data and ../data; without it they skip:
 * exit 77 when nothing failed. Needs only text.h (no recur headers). */
#if !defined(_POSIX_C_SOURCE) || _POSIX_C_SOURCE < 200809L
#undef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include "text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int total, failed;

#define CHECK(cond)                                                                       \
    do {                                                                                  \
        total++;                                                                          \
        if (!(cond)) {                                                                    \
            failed++;                                                                     \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);      \
        }                                                                                 \
    } while (0)

#define CHECK_STR(got, want)                                                              \
    do {                                                                                  \
        const char *g_ = (got), *w_ = (want);                                             \
        total++;                                                                          \
        if (!g_ || strcmp(g_, w_) != 0) {                                                 \
            failed++;                                                                     \
            fprintf(stderr, "%s:%d: %s is \"%s\", want \"%s\"\n", __FILE__, __LINE__, #got, \
                    g_ ? g_ : "(null)", w_);                                              \
        }                                                                                 \
    } while (0)

/* The call failed and tx_error() mentions fragment. */
#define CHECK_FAILS(expr, fragment)                                                       \
    do {                                                                                  \
        total++;                                                                          \
        if (!(expr) || !strstr(tx_error(), (fragment))) {                                 \
            failed++;                                                                     \
            fprintf(stderr, "%s:%d: want %s to fail mentioning \"%s\"; error: \"%s\"\n",   \
                    __FILE__, __LINE__, #expr, (fragment), tx_error());                   \
        }                                                                                 \
    } while (0)

static char tmpdir[64];

static char *tmp_path(const char *name)
{
    static char p[8][128];
    static int k;
    k = (k + 1) % 8;
    snprintf(p[k], sizeof p[k], "%s/%s", tmpdir, name);
    return p[k];
}

static const char *write_tmp(const char *name, const char *content, size_t n)
{
    char *p = tmp_path(name);
    FILE *f = fopen(p, "wb");
    if (!f) {
        perror(p);
        exit(1);
    }
    fwrite(content, 1, n, f);
    fclose(f);
    return p;
}
#define WRITE_TMP(name, literal) write_tmp((name), (literal), sizeof(literal) - 1)

/* ---- UTF-8 ---------------------------------------------------------------- */

static void test_utf8(void)
{
    const char *s = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"; /* a é € 😀 */
    const uint32_t want[] = {0x61, 0xE9, 0x20AC, 0x1F600};
    const size_t lens[] = {1, 2, 3, 4};
    size_t i = 0, n = strlen(s);
    for (int k = 0; k < 4; k++) {
        uint32_t cp;
        bool ok;
        size_t l = tx_utf8_next(s + i, n - i, &cp, &ok);
        CHECK(l == lens[k] && cp == want[k] && ok);
        char enc[4];
        CHECK(tx_utf8_encode(cp, enc) == l && memcmp(enc, s + i, l) == 0);
        i += l;
    }
    CHECK(tx_utf8_count(s, n, NULL) == 4);

    /* invalid input: U+FFFD per maximal invalid prefix */
    struct {
        const char *s;
        size_t chars, bad;
    } cases[] = {
        {"\xC3", 1, 1},                 /* truncated 2-byte */
        {"\xE2\x82", 1, 1},             /* truncated 3-byte: one U+FFFD */
        {"\xE2\x82" "A", 2, 1},         /* ... then A */
        {"\xC0\xAF", 2, 2},             /* overlong '/' */
        {"\xED\xA0\x80", 3, 3},         /* surrogate U+D800 */
        {"\xF4\x90\x80\x80", 4, 4},     /* past U+10FFFF */
        {"\x80", 1, 1},                 /* stray continuation */
        {"\xFF\xFE", 2, 2},
        {"ok\xEF\xBF\xBD", 3, 0},       /* a real U+FFFD is valid */
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        size_t bad = 0;
        size_t c = tx_utf8_count(cases[k].s, strlen(cases[k].s), &bad);
        CHECK(c == cases[k].chars && bad == cases[k].bad);
        if (c != cases[k].chars || bad != cases[k].bad)
            fprintf(stderr, "  case %zu: %zu chars, %zu invalid\n", k, c, bad);
    }
    uint32_t cp;
    bool ok = true;
    CHECK(tx_utf8_next("\xE2\x82" "A", 3, &cp, &ok) == 2 && cp == TX_REPLACEMENT && !ok);
    char enc[4];
    CHECK(tx_utf8_encode(0xD800, enc) == 0);
    CHECK(tx_utf8_encode(0x110000, enc) == 0);
    CHECK(tx_utf8_encode(0x10FFFF, enc) == 4);
    /* every encodable code point decodes back */
    for (uint32_t c = 0; c <= 0x10FFFF; c += (c < 0x3000 ? 1 : 97)) {
        size_t l = tx_utf8_encode(c, enc);
        if (!l) continue;
        uint32_t back;
        if (tx_utf8_next(enc, l, &back, &ok) != l || back != c || !ok) {
            CHECK(!"encode/decode roundtrip");
            break;
        }
    }
}

/* ---- vocabulary ------------------------------------------------------------- */

static void test_vocab_basics(void)
{
    tx_vocab *v = tx_vocab_new();
    CHECK(v && tx_vocab_size(v) == 4);
    CHECK_STR(tx_vocab_str(v, TX_PAD, NULL), "<pad>");
    CHECK_STR(tx_vocab_str(v, TX_UNK, NULL), "<unk>");
    CHECK_STR(tx_vocab_str(v, TX_BOS, NULL), "<bos>");
    CHECK_STR(tx_vocab_str(v, TX_EOS, NULL), "<eos>");
    CHECK(tx_vocab_add(v, "der", 3) == 4);
    CHECK(tx_vocab_add(v, "die", 3) == 5);
    CHECK(tx_vocab_add(v, "der", 3) == 4);
    CHECK(tx_vocab_count(v, 4) == 2 && tx_vocab_count(v, 5) == 1);
    CHECK(tx_vocab_find(v, "das", 3) == -1);
    CHECK(tx_vocab_id(v, "das", 3) == TX_UNK);
    CHECK(tx_vocab_add(v, "<unk>", 5) == TX_UNK);
    CHECK(tx_vocab_add(v, "a\0b", 3) == 6 && tx_vocab_find(v, "a", 1) == -1); /* NUL inside */
    CHECK(tx_vocab_add(v, "", 0) == 7 && tx_vocab_find(v, "", 0) == 7);
    CHECK(tx_vocab_str(v, 8, NULL) == NULL && tx_vocab_str(v, -1, NULL) == NULL);
    size_t len = 0;
    CHECK(tx_vocab_str(v, 6, &len) && len == 3);
    tx_vocab_free(v);
    tx_vocab_free(NULL);
}

static void test_vocab_growth_and_collisions(void)
{
    enum { N = 100000, NC = 3000 };
    char t[32];
    tx_vocab *v = tx_vocab_new();
    for (int k = 0; k < N; k++) {
        int l = snprintf(t, sizeof t, "tok%d", k);
        if (tx_vocab_add(v, t, (size_t)l) != 4 + k) {
            CHECK(!"growth: ids in insertion order");
            break;
        }
    }
    CHECK(tx_vocab_size(v) == 4 + N);
    int bad = 0;
    for (int k = 0; k < N; k++) {
        int l = snprintf(t, sizeof t, "tok%d", k);
        bad += tx_vocab_find(v, t, (size_t)l) != 4 + k;
    }
    CHECK(bad == 0);
    CHECK(tx_vocab_find(v, "tok100000", 9) == -1);
    tx_vocab_free(v);

    /* Forced full-hash collisions: only 4 distinct hash values. */
    v = tx_vocab_new();
    tx_vocab_set_hash_mask(v, 0x3);
    CHECK(tx_vocab_find(v, "<eos>", 5) == TX_EOS);
    for (int k = 0; k < NC; k++) {
        int l = snprintf(t, sizeof t, "c%d", k);
        tx_vocab_add(v, t, (size_t)l);
        tx_vocab_add(v, t, (size_t)l);
    }
    bad = 0;
    for (int k = 0; k < NC; k++) {
        int l = snprintf(t, sizeof t, "c%d", k);
        int32_t id = tx_vocab_find(v, t, (size_t)l);
        bad += id != 4 + k || tx_vocab_count(v, id) != 2;
    }
    CHECK(bad == 0 && tx_vocab_size(v) == 4 + NC);
    CHECK(tx_vocab_find(v, "c3000", 5) == -1 && tx_vocab_find(v, "c", 1) == -1);
    /* back to the full hash: same ids */
    tx_vocab_set_hash_mask(v, UINT64_MAX);
    CHECK(tx_vocab_find(v, "c1234", 5) == 4 + 1234 && tx_vocab_find(v, "<unk>", 5) == TX_UNK);
    tx_vocab_free(v);
}

static void test_vocab_cut(void)
{
    /* counts: b 3, a 3, c 2, d 1, e 1; two insertion orders */
    const char *order1[] = {"b", "a", "c", "d", "e", "b", "a", "c", "b", "a"};
    const char *order2[] = {"e", "d", "c", "c", "a", "a", "a", "b", "b", "b"};
    tx_vocab *v1 = tx_vocab_new(), *v2 = tx_vocab_new();
    for (int k = 0; k < 10; k++) {
        tx_vocab_add(v1, order1[k], 1);
        tx_vocab_add(v2, order2[k], 1);
    }
    tx_vocab *c1 = tx_vocab_cut(v1, 1, 0), *c2 = tx_vocab_cut(v2, 1, 0);
    const char *want[] = {"<pad>", "<unk>", "<bos>", "<eos>", "a", "b", "c", "d", "e"};
    CHECK(tx_vocab_size(c1) == 9 && tx_vocab_size(c2) == 9);
    for (int k = 0; k < 9; k++) {
        CHECK_STR(tx_vocab_str(c1, k, NULL), want[k]);
        CHECK_STR(tx_vocab_str(c2, k, NULL), want[k]);
    }
    CHECK(tx_vocab_count(c1, 4) == 3 && tx_vocab_count(c1, 6) == 2);
    tx_vocab *m2 = tx_vocab_cut(v1, 2, 0), *s6 = tx_vocab_cut(v1, 1, 6), *s2 = tx_vocab_cut(v1, 1, 2);
    CHECK(tx_vocab_size(m2) == 7 && tx_vocab_find(m2, "d", 1) == -1 && tx_vocab_find(m2, "c", 1) == 6);
    CHECK(tx_vocab_size(s6) == 6 && tx_vocab_find(s6, "b", 1) == 5 && tx_vocab_id(s6, "c", 1) == TX_UNK);
    CHECK(tx_vocab_size(s2) == 4); /* the specials always stay */
    tx_vocab_free(v1);
    tx_vocab_free(v2);
    tx_vocab_free(c1);
    tx_vocab_free(c2);
    tx_vocab_free(m2);
    tx_vocab_free(s6);
    tx_vocab_free(s2);
}

static void test_vocab_save_load(void)
{
    tx_vocab *v = tx_vocab_new();
    const char *toks[] = {"Haus", "tab\there", "new\nline", "back\\slash", "ü€😀", "\x7f\x01",
                          "cr\r", "\\x41", " ", ""};
    for (int k = 0; k < 10; k++)
        for (int r = 0; r <= k; r++) tx_vocab_add(v, toks[k], strlen(toks[k]));
    tx_vocab_add(v, "nul\0in", 6);
    const char *path = tmp_path("vocab.txt");
    CHECK(tx_vocab_save(v, path) == 0);
    tx_vocab *w = tx_vocab_load(path);
    CHECK(w && tx_vocab_size(w) == tx_vocab_size(v));
    for (size_t id = 0; w && id < tx_vocab_size(v); id++) {
        size_t la, lb;
        const char *a = tx_vocab_str(v, (int32_t)id, &la), *b = tx_vocab_str(w, (int32_t)id, &lb);
        CHECK(a && b && la == lb && memcmp(a, b, la) == 0);
        CHECK(tx_vocab_count(v, (int32_t)id) == tx_vocab_count(w, (int32_t)id));
        CHECK(tx_vocab_find(w, a, la) == (int32_t)id);
    }
    tx_vocab_free(w);
    tx_vocab_free(v);

    /* malformed files fail with the file named */
    const char *p;
    p = WRITE_TMP("v_hdr.txt", "hello\n");
    CHECK_FAILS(tx_vocab_load(p) == NULL, "v_hdr.txt:1: not a recur vocabulary");
    p = WRITE_TMP("v_spec.txt", "# recur-vocab 1 4\n0\t<pad>\n0\t<bos>\n0\t<unk>\n0\t<eos>\n");
    CHECK_FAILS(tx_vocab_load(p) == NULL, "v_spec.txt:3: id 1 must be <unk>");
    p = WRITE_TMP("v_dup.txt", "# recur-vocab 1 6\n0\t<pad>\n0\t<unk>\n0\t<bos>\n0\t<eos>\n1\tx\n1\tx\n");
    CHECK_FAILS(tx_vocab_load(p) == NULL, "v_dup.txt:7: duplicate token");
    p = WRITE_TMP("v_size.txt", "# recur-vocab 1 9\n0\t<pad>\n0\t<unk>\n0\t<bos>\n0\t<eos>\n");
    CHECK_FAILS(tx_vocab_load(p) == NULL, "header says 9 tokens, file has 4");
    p = WRITE_TMP("v_esc.txt", "# recur-vocab 1 5\n0\t<pad>\n0\t<unk>\n0\t<bos>\n0\t<eos>\n1\ta\\q\n");
    CHECK_FAILS(tx_vocab_load(p) == NULL, "bad escape");
    p = WRITE_TMP("v_cnt.txt", "# recur-vocab 1 5\n0\t<pad>\n0\t<unk>\n0\t<bos>\n0\t<eos>\nx\ta\n");
    CHECK_FAILS(tx_vocab_load(p) == NULL, "want COUNT<TAB>TOKEN");
    CHECK_FAILS(tx_vocab_load(tmp_path("missing.txt")) == NULL, "missing.txt");
}

/* ---- tokenizers ---------------------------------------------------------------- */

static void check_words(const char *s, int flags, const char *want_joined)
{
    tx_words w;
    CHECK(tx_split_words(s, strlen(s), flags, &w) == 0);
    char got[512] = "";
    size_t at = 0;
    for (size_t k = 0; k < w.n && at < sizeof got - 1; k++)
        at += (size_t)snprintf(got + at, sizeof got - at, "%s%s", k ? "|" : "", w.tok[k]);
    total++;
    if (strcmp(got, want_joined) != 0) {
        failed++;
        fprintf(stderr, "words of \"%s\": got \"%s\", want \"%s\"\n", s, got, want_joined);
    }
    tx_words_free(&w);
}

static void test_words(void)
{
    check_words("Steve kommt nach seinem Vater.", 0, "Steve|kommt|nach|seinem|Vater|.");
    check_words("Steve takes after his father.", TX_LOWER, "steve|takes|after|his|father|.");
    check_words("Don't e-mail me 3.5 or 1,000 times, ok?!", TX_LOWER,
                "don't|e-mail|me|3.5|or|1,000|times|,|ok|?|!");
    check_words("I\xE2\x80\x99ve made it.", 0, "I\xE2\x80\x99ve|made|it|.");
    check_words("'quoted' -- end- -start 3. a.b", 0, "'|quoted|'|-|-|end|-|-|start|3|.|a|.|b");
    check_words("\xC2\xAB" "Ja" "\xC2\xBB, sagte er\xE2\x80\xA6", 0,
                "\xC2\xAB|Ja|\xC2\xBB|,|sagte|er|\xE2\x80\xA6");
    check_words("\xC3\x84\xC3\x96\xC3\x9C \xE1\xBA\x9E \xCE\x91\xCE\x92\xCE\x93 \xD0\x94\xD0\x96 "
                "\xC5\x81\xC3\xB3" "d\xC5\xBA",
                TX_LOWER,
                "\xC3\xA4\xC3\xB6\xC3\xBC|\xC3\x9F|\xCE\xB1\xCE\xB2\xCE\xB3|\xD0\xB4\xD0\xB6|"
                "\xC5\x82\xC3\xB3" "d\xC5\xBA");
    check_words("  \t\n ", 0, "");
    check_words("", 0, "");
    check_words("a\xFF" "b \xE2\x82", 0, "a\xEF\xBF\xBD" "b|\xEF\xBF\xBD");
    check_words("x\xC2\xA0y\tz\x01w", 0, "x|y|z|w");           /* NBSP, tab, control */
    check_words("50% 10$ a+b (x)", 0, "50|%|10|$|a|+|b|(|x|)");

    /* counting, cutting and encoding words */
    tx_vocab *c = tx_vocab_new();
    const char *corpus[] = {"Das ist gut.", "Das ist schlecht.", "Ist das gut?"};
    for (int k = 0; k < 3; k++) CHECK(tx_count_words(c, corpus[k], strlen(corpus[k]), TX_LOWER) == 0);
    tx_vocab *v = tx_vocab_cut(c, 2, 0); /* das ist (3), . gut (2) */
    CHECK(tx_vocab_size(v) == 8);
    CHECK_STR(tx_vocab_str(v, 4, NULL), "das");
    size_t n;
    int32_t *ids = tx_encode_words(v, "Das ist sehr gut!", 17, TX_LOWER, true, true, &n);
    int32_t want[] = {TX_BOS, 4, 5, TX_UNK, 7, TX_UNK, TX_EOS};
    CHECK(ids && n == 7 && memcmp(ids, want, sizeof want) == 0);
    char *back = tx_decode(v, ids, n, " ");
    CHECK_STR(back, "das ist <unk> gut <unk>");
    free(back);
    free(ids);
    ids = tx_encode_words(v, "", 0, 0, false, false, &n);
    CHECK(ids && n == 0);
    free(ids);
    int32_t odd[] = {TX_PAD, 4, 999, -5, TX_EOS, 5};
    back = tx_decode(v, odd, 6, "_");
    CHECK_STR(back, "das_<unk>_<unk>");
    free(back);
    tx_vocab_free(v);
    tx_vocab_free(c);
}

static void test_chars(void)
{
    const char *train = "h\xC3\xA9llo w\xC3\xB6rld\n\xFF";
    tx_vocab *c = tx_vocab_new();
    CHECK(tx_count_chars(c, train, strlen(train)) == 0);
    /* h é l o ' ' w ö r d \n U+FFFD */
    CHECK(tx_vocab_size(c) == 4 + 11);
    CHECK(tx_vocab_count(c, tx_vocab_find(c, "l", 1)) == 3);
    CHECK(tx_vocab_find(c, "\xEF\xBF\xBD", 3) >= 4);
    tx_vocab *v = tx_vocab_cut(c, 1, 0);
    CHECK_STR(tx_vocab_str(v, 4, NULL), "l"); /* most frequent first */
    size_t n;
    const char *s = "h\xC3\xB6lle\xE2\x82";
    int32_t *ids = tx_encode_chars(v, s, strlen(s), &n);
    CHECK(ids && n == 6);
    CHECK(ids && ids[0] == tx_vocab_find(v, "h", 1) && ids[1] == tx_vocab_find(v, "\xC3\xB6", 2) &&
          ids[2] == 4 && ids[3] == 4 && ids[4] == TX_UNK &&
          ids[5] == tx_vocab_find(v, "\xEF\xBF\xBD", 3));
    char *back = tx_decode(v, ids, n, "");
    CHECK_STR(back, "h\xC3\xB6ll<unk>\xEF\xBF\xBD");
    free(back);
    free(ids);
    ids = tx_encode_chars(v, "", 0, &n);
    CHECK(ids && n == 0);
    free(ids);
    tx_vocab_free(v);
    tx_vocab_free(c);
}

/* ---- splits ------------------------------------------------------------------------ */

static void test_splits(void)
{
    uint64_t st = 0;
    CHECK(tx_splitmix64(&st) == 0xE220A8397B1DCDAFull); /* reference value for seed 0 */
    st = 7;
    int hist[5] = {0};
    for (int k = 0; k < 5000; k++) hist[tx_rand_below(&st, 5)]++;
    for (int k = 0; k < 5; k++) CHECK(hist[k] > 850 && hist[k] < 1150);

    tx_split a, b, c;
    CHECK(tx_split_random(1000, 0.1, 42, &a) == 0 && a.n_train == 900 && a.n_test == 100);
    CHECK(tx_split_random(1000, 0.1, 42, &b) == 0);
    CHECK(tx_split_random(1000, 0.1, 43, &c) == 0);
    CHECK(memcmp(a.test, b.test, 100 * sizeof(size_t)) == 0);
    CHECK(memcmp(a.test, c.test, 100 * sizeof(size_t)) != 0);
    char seen[1000] = {0};
    int dup = 0;
    for (size_t k = 0; k < a.n_train; k++) dup += seen[a.train[k]]++;
    for (size_t k = 0; k < a.n_test; k++) dup += seen[a.test[k]]++;
    CHECK(dup == 0);
    for (size_t k = 1; k < a.n_test; k++) CHECK(a.test[k - 1] < a.test[k]);
    tx_split_free(&a);
    tx_split_free(&b);
    tx_split_free(&c);
    tx_split_free(&c); /* twice is fine */
    CHECK(tx_split_random(10, 0, 1, &a) == 0 && a.n_test == 0 && a.n_train == 10);
    tx_split_free(&a);
    CHECK(tx_split_random(10, 1, 1, &a) == 0 && a.n_test == 10 && a.n_train == 0);
    tx_split_free(&a);
    CHECK(tx_split_random(0, 0.1, 1, &a) == 0 && a.n_test == 0 && a.n_train == 0);
    tx_split_free(&a);
    CHECK_FAILS(tx_split_random(10, 1.5, 1, &a) != 0, "not in [0, 1]");
    CHECK(tx_split_every(25, 10, &a) == 0 && a.n_test == 2 && a.test[0] == 9 && a.test[1] == 19 &&
          a.n_train == 23 && a.train[9] == 10);
    tx_split_free(&a);
    CHECK_FAILS(tx_split_every(25, 0, &a) != 0, "k must be");

    size_t idx[50];
    for (size_t k = 0; k < 50; k++) idx[k] = k;
    tx_shuffle(idx, 50, 9);
    size_t sum = 0, moved = 0;
    for (size_t k = 0; k < 50; k++) {
        sum += idx[k];
        moved += idx[k] != k;
    }
    CHECK(sum == 50 * 49 / 2 && moved > 30);

    const char *t = "ab\ncd\nef\n";
    CHECK(tx_text_split(t, 9, 0.5) == 6);
    CHECK(tx_text_split(t, 9, 0.34) == 3);  /* pos 3 is a line start */
    CHECK(tx_text_split(t, 9, 1.0) == 9 && tx_text_split(t, 9, 0) == 0);
    CHECK(tx_text_split("\xC3\xA9\xC3\xA9", 4, 0.25) == 2); /* no newline: char boundary */
}

/* ---- loaders on small files ----------------------------------------------------------- */

static void test_load_small(void)
{
    char *text;
    size_t n;
    CHECK_FAILS(tx_load_text(tmp_path("nope.txt"), &text, &n) != 0, "fetch-data.sh");
    CHECK_FAILS(tx_load_text(WRITE_TMP("empty.txt", ""), &text, &n) != 0, "empty.txt is empty");
    CHECK(tx_load_text(WRITE_TMP("t.txt", "Ab\n"), &text, &n) == 0 && n == 3 && strcmp(text, "Ab\n") == 0);
    free(text);

    /* trans-de-en */
    const char *de_en =
        "# comment :: not a pair\n"
        "Steve kommt nach seinem Vater. :: Steve takes after his father.\n"
        "Haus {n} | Er kam nach Hause. [ugs.]; Er ging heim. :: house | He came home.; He went home.\n"
        "Ich helfe jdm. gern. :: I like to help sb.\n"
        "Das ist (sehr) gut. :: That is (very) good.\n"
        "Ja / nein ist gut. :: Yes / no is fine.\n"
        "Zu kurz. :: Too short.\n"
        "Eins | Zwei drei vier. :: One\n"
        "Steve kommt nach seinem Vater. :: Steve takes after his father.\n"
        "Wo   bist\tdu <Wo?> jetzt? :: Where are   you now?\r\n"
        "Kein Satz :: No sentence\n";
    tx_pairs p;
    CHECK(tx_load_trans(write_tmp("de-en", de_en, strlen(de_en)), &p) == 0 || !fprintf(stderr, "  %s\n", tx_error()));
    CHECK(p.n == 3 && p.n_kept == 4);
    if (p.n == 3) {
        CHECK_STR(p.pairs[0].src, "Steve kommt nach seinem Vater.");
        CHECK_STR(p.pairs[0].tgt, "Steve takes after his father.");
        CHECK_STR(p.pairs[1].src, "Er kam nach Hause.");
        CHECK_STR(p.pairs[1].tgt, "He came home.");
        CHECK_STR(p.pairs[2].src, "Wo bist du jetzt?");
        CHECK_STR(p.pairs[2].tgt, "Where are you now?");
    }
    tx_pairs_free(&p);
    tx_pairs_free(&p);
    CHECK_FAILS(tx_load_trans(WRITE_TMP("bad-de-en", "hello world\n\x01\x02\n"), &p) != 0,
                "bad-de-en: no 'GERMAN :: ENGLISH' lines");
    CHECK_FAILS(tx_load_trans(tmp_path("none"), &p) != 0, "none");

    /* sentiment JSON */
    const char *js =
        "[{\"text\":\"Great \\\"fun\\\" caf\\u00e9 \\ud83d\\ude00 \xC3\xA5\",\"class\":1},\n"
        " {\"class\": 0, \"text\": \"  bad \xC2\x96 slow\\u0085  \", \"extra\": true},\n"
        " {\"text\":\"\",\"class\":null}, {\"text\":\"no label\",\"class\":null},\n"
        " {\"text\":\"lone \\udc00\",\"class\":0}]\n";
    tx_labeled_set s;
    CHECK(tx_load_sentiment(write_tmp("s.json", js, strlen(js)), &s) == 0 || !fprintf(stderr, "  %s\n", tx_error()));
    CHECK(s.n == 3 && s.n_dropped == 2);
    if (s.n == 3) {
        CHECK_STR(s.items[0].text, "Great \"fun\" caf\xC3\xA9 \xF0\x9F\x98\x80 \xC3\xA5");
        CHECK(s.items[0].label == 1 && s.items[1].label == 0);
        CHECK_STR(s.items[1].text, "bad \xE2\x80\x93 slow\xE2\x80\xA6"); /* cp1252 – and … */
        CHECK_STR(s.items[2].text, "lone \xEF\xBF\xBD");
    }
    tx_labeled_free(&s);
    struct {
        const char *name, *json, *msg;
    } bad[] = {
        {"b1.json", "[{\"text\":\"a\",\"class\":1}", "s.json"},
        {"b2.json", "[{\"text\":\"a\",\"class\":2}]", "b2.json:1:22: \"class\" must be 0, 1 or null"},
        {"b3.json", "{\"text\":\"a\"}", "expected '['"},
        {"b4.json", "[{\"text\":[1],\"class\":1}]", "nested values"},
        {"b5.json", "[{\"text\":\"a\",\"class\":1}] x", "unexpected text after the array"},
        {"b6.json", "[{\"text\":\"a\\q\",\"class\":1}]", "bad escape"},
        {"b7.json", "[{\"text\":\"a", "unterminated string"},
        {"b8.json", "[{\"text\":\"a\",\"class\":1},]", "expected '{'"},
        {"b9.json", "[]", "no records"},
        {"b10.json", "[{\"text\":\"a\",\"class\":\"1\"}]", "not a string"},
        {"b11.json", "[{\"text\":\"a\n\",\"class\":1}]", "control character"},
        {"b12.json", "", "expected '['"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        const char *path = write_tmp(bad[k].name, bad[k].json, strlen(bad[k].json));
        int rc = tx_load_sentiment(path, &s);
        total++;
        if (rc == 0 || !strstr(tx_error(), k == 0 ? "end of file" : bad[k].msg) ||
            !strstr(tx_error(), bad[k].name)) {
            failed++;
            fprintf(stderr, "sentiment %s: rc %d, error \"%s\", want \"%s\"\n", bad[k].name, rc,
                    tx_error(), bad[k].msg);
        }
        if (rc == 0) tx_labeled_free(&s);
    }

    /* Brown */
    char *bdir = tmp_path("brown");
    mkdir(bdir, 0700);
    write_tmp("brown/cb02", "\n\n\tThird/ap one/cd ./.\n", 22);
    WRITE_TMP("brown/ca01",
              "\n\n\tThe/at Fulton/np-tl County/nn-tl said/vbd 1/2/cd ./.\n\n\n"
              "\tIt/pps won't/md*  go/vb ./.\n   \n");
    WRITE_TMP("brown/cats.txt", "ca01 news\n");
    WRITE_TMP("brown/README", "ignored\n");
    tx_corpus c;
    CHECK(tx_load_brown(bdir, &c) == 0);
    CHECK(c.n == 3 && c.n_tokens == 13 && c.n_files == 2);
    if (c.n == 3) {
        CHECK(c.sent[0].n == 6 && c.sent[1].n == 4 && c.sent[2].n == 3);
        CHECK_STR(c.sent[0].tok[1].word, "Fulton");
        CHECK_STR(c.sent[0].tok[1].tag, "np-tl");
        CHECK_STR(c.sent[0].tok[4].word, "1/2"); /* split at the last '/' */
        CHECK_STR(c.sent[0].tok[4].tag, "cd");
        CHECK_STR(c.sent[1].tok[1].tag, "md*");
        CHECK_STR(c.sent[2].tok[0].word, "Third"); /* cb02 after ca01 */
    }
    tx_corpus_free(&c);
    tx_corpus_free(&c);
    char *bad_dir = tmp_path("brown_bad");
    mkdir(bad_dir, 0700);
    WRITE_TMP("brown_bad/ca01", "\tThe/at\n\tjury said/vbd\n");
    CHECK_FAILS(tx_load_brown(bad_dir, &c) != 0, "brown_bad/ca01:2: token 'jury' is not word/tag");
    WRITE_TMP("brown_bad/ca01", "\tThe/at /nn\n");
    CHECK_FAILS(tx_load_brown(bad_dir, &c) != 0, "token '/nn'");
    char *empty_dir = tmp_path("brown_empty");
    mkdir(empty_dir, 0700);
    CHECK_FAILS(tx_load_brown(empty_dir, &c) != 0, "holds no Brown corpus files");
    CHECK_FAILS(tx_load_brown(tmp_path("brown_none"), &c) != 0, "fetch-data.sh --only brown");

    struct {
        const char *full, *simple;
    } tags[] = {{"np-tl", "np"},   {"fw-in", "in"},  {"pps+md", "pps"}, {"nn-tl-hl", "nn"},
                {"md*", "md"},     {"*", "*"},       {"*-hl", "*"},     {"fw-*-tl", "*"},
                {"NN-TL", "nn"},   {"nns$", "nns$"}, {"dod*-tl", "dod"}, {"fw-nn+bez-nc", "nn"},
                {"ppss+bez*", "ppss"}, {"--", "--"}, {"-hl", "-hl"}, {"", ""}};
    for (size_t k = 0; k < sizeof tags / sizeof *tags; k++) {
        char out[16];
        size_t l = tx_brown_simplify(tags[k].full, out, sizeof out);
        CHECK(l == strlen(tags[k].simple));
        CHECK_STR(out, tags[k].simple);
    }
    char small[3];
    CHECK(tx_brown_simplify("abcd", small, sizeof small) == 4 && strcmp(small, "ab") == 0);
}

/* ---- the real data ----------------------------------------------------------------- */

static char data_dir[4096];

static bool find_data(void)
{
    const char *env = getenv("RECUR_DATA");
    char cand[4][4096];
    int nc = 0;
    if (env && *env) snprintf(cand[nc++], sizeof cand[0], "%s", env);
    /* next to this source file: SRCDIR/../data */
    snprintf(cand[nc], sizeof cand[0], "%s", __FILE__);
    char *slash = strrchr(cand[nc], '/');
    if (slash) {
        *slash = 0;
        strncat(cand[nc], "/../data", sizeof cand[0] - strlen(cand[nc]) - 1);
    } else {
        snprintf(cand[nc], sizeof cand[0], "../data");
    }
    nc++;
    snprintf(cand[nc++], sizeof cand[0], "data");
    snprintf(cand[nc++], sizeof cand[0], "../data");
    for (int k = 0; k < nc; k++) {
        char probe[4200];
        snprintf(probe, sizeof probe, "%.4000s/brown/ca01", cand[k]);
        if (access(probe, R_OK) == 0) {
            snprintf(data_dir, sizeof data_dir, "%.4000s", cand[k]);
            return true;
        }
        if (k == 0 && env && *env) break; /* RECUR_DATA set: use nothing else */
    }
    return false;
}

static char *dpath(const char *rel)
{
    static char p[4][4200];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", data_dir, rel);
    return p[k];
}

static void test_data(void)
{
    printf("data: %s\n", data_dir);
    tx_pairs p;
    if (tx_load_trans(dpath("trans-de-en/de-en"), &p) == 0) {
        printf("trans-de-en: %zu unique clean pairs (%zu before dropping duplicates)\n", p.n, p.n_kept);
        CHECK(p.n > 17500 && p.n < 18000); /* DATA.md: about 17,750 */
        bool found = false;
        for (size_t k = 0; k < p.n; k++)
            found |= strcmp(p.pairs[k].src, "Steve kommt nach seinem Vater.") == 0 &&
                     strcmp(p.pairs[k].tgt, "Steve takes after his father.") == 0;
        CHECK(found);
        tx_pairs_free(&p);
    } else {
        CHECK(!"load trans-de-en");
        fprintf(stderr, "  %s\n", tx_error());
    }

    const char *texts[][2] = {{"kjv", "kjv.txt"}, {"fortunes", "fortunes.txt"}};
    for (int k = 0; k < 2; k++) {
        char *t;
        size_t n, bad = 0;
        if (tx_load_text(dpath(texts[k][1]), &t, &n) != 0) {
            CHECK(!"load text");
            fprintf(stderr, "  %s\n", tx_error());
            continue;
        }
        size_t chars = tx_utf8_count(t, n, &bad);
        tx_vocab *v = tx_vocab_new();
        CHECK(tx_count_chars(v, t, n) == 0);
        size_t sym = tx_vocab_size(v) - TX_NSPECIAL;
        printf("%s: %zu characters, %zu symbols, %zu invalid UTF-8\n", texts[k][0], chars, sym, bad);
        CHECK(bad == 0);
        if (k == 0) {
            CHECK(chars == 4137850 && sym == 63); /* DATA.md: 4.14M chars, 63 symbols */
            CHECK(strncmp(t, "In the beginning God created the heaven and the earth.\n", 55) == 0);
        } else {
            CHECK(chars > 2400000 && chars < 2550000); /* DATA.md: 2.48M */
        }
        size_t ids_n;
        int32_t *ids = tx_encode_chars(v, t, n, &ids_n);
        CHECK(ids && ids_n == chars);
        size_t unk = 0;
        for (size_t i = 0; ids && i < ids_n; i++) unk += ids[i] == TX_UNK;
        CHECK(unk == 0);
        free(ids);
        tx_vocab_free(v);
        free(t);
    }

    const char *sets[] = {"imdb", "yelp", "amazon"};
    for (int k = 0; k < 3; k++) {
        char rel[64];
        snprintf(rel, sizeof rel, "sentiment/%s.json", sets[k]);
        tx_labeled_set s;
        if (tx_load_sentiment(dpath(rel), &s) != 0) {
            CHECK(!"load sentiment");
            fprintf(stderr, "  %s\n", tx_error());
            continue;
        }
        size_t pos = 0, c1 = 0;
        for (size_t i = 0; i < s.n; i++) {
            pos += s.items[i].label;
            for (const unsigned char *q = (const unsigned char *)s.items[i].text; *q; q++)
                c1 += q[0] == 0xC2 && q[1] >= 0x80 && q[1] <= 0x9F;
        }
        printf("sentiment/%s: %zu records, %zu positive, %zu dropped\n", sets[k], s.n, pos, s.n_dropped);
        CHECK(s.n == 1000 && pos == 500 && s.n_dropped == 1 && c1 == 0);
        tx_labeled_free(&s);
    }

    tx_corpus c;
    if (tx_load_brown(dpath("brown"), &c) == 0) {
        tx_vocab *full = tx_vocab_new(), *simple = tx_vocab_new();
        for (size_t s = 0; s < c.n; s++)
            for (size_t t = 0; t < c.sent[s].n; t++) {
                char g[64];
                tx_vocab_add(full, c.sent[s].tok[t].tag, strlen(c.sent[s].tok[t].tag));
                size_t l = tx_brown_simplify(c.sent[s].tok[t].tag, g, sizeof g);
                tx_vocab_add(simple, g, l);
            }
        size_t nf = tx_vocab_size(full) - TX_NSPECIAL, ns = tx_vocab_size(simple) - TX_NSPECIAL;
        printf("brown: %zu files, %zu sentences, %zu tokens, %zu full tags, %zu simplified tags\n",
               c.n_files, c.n, c.n_tokens, nf, ns);
        CHECK(c.n_files == 500 && c.n == 57340 && c.n_tokens == 1161192); /* DATA.md */
        CHECK(nf == 472 && ns == 92);
        tx_vocab_free(full);
        tx_vocab_free(simple);
        tx_corpus_free(&c);
    } else {
        CHECK(!"load brown");
        fprintf(stderr, "  %s\n", tx_error());
    }
}

int main(int argc, char **argv)
{
    bool units = argc < 2 || strcmp(argv[1], "units") == 0;
    bool data = argc < 2 || strcmp(argv[1], "data") == 0;
    if (!units && !data) {
        fprintf(stderr, "usage: test_text [units|data]\n");
        return 2;
    }
    bool skipped = false;
    if (units) {
        snprintf(tmpdir, sizeof tmpdir, "/tmp/test_text.XXXXXX");
        if (!mkdtemp(tmpdir)) {
            perror("mkdtemp");
            return 1;
        }
        test_utf8();
        test_vocab_basics();
        test_vocab_growth_and_collisions();
        test_vocab_cut();
        test_vocab_save_load();
        test_words();
        test_chars();
        test_splits();
        test_load_small();
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    }
    if (data) {
        if (find_data())
            test_data();
        else {
            printf("data checks skipped: no data/ (run tools/fetch-data.sh or set RECUR_DATA)\n");
            skipped = true;
        }
    }
    printf("test_text: %d checks, %d failed\n", total, failed);
    if (failed) return 1;
    return skipped && !units ? 77 : 0;
}
