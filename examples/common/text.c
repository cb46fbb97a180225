/* text.c - UTF-8, the word tokenizer, seeded splits and the data folder. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text_internal.h"

/* ---- UTF-8 --------------------------------------------------------------- */

size_t tx_utf8_next(const char *s, size_t n, uint32_t *cp, bool *valid)
{
    const unsigned char *u = (const unsigned char *)s;
    if (n == 0) {
        *cp = TX_REPLACEMENT;
        if (valid) *valid = false;
        return 0;
    }
    unsigned c = u[0];
    if (valid) *valid = true;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t need;
    uint32_t v;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
        v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        v = c & 0x0F;
        if (c == 0xE0) lo = 0xA0; /* no overlong forms */
        if (c == 0xED) hi = 0x9F; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        v = c & 0x07;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F; /* <= U+10FFFF */
    } else {
        goto bad1;
    }
    for (size_t i = 1; i <= need; i++) {
        if (i >= n || u[i] < lo || u[i] > hi) {
            *cp = TX_REPLACEMENT;
            if (valid) *valid = false;
            return i; /* the maximal invalid prefix */
        }
        v = (v << 6) | (u[i] & 0x3F);
        lo = 0x80;
        hi = 0xBF;
    }
    *cp = v;
    return need + 1;
bad1:
    *cp = TX_REPLACEMENT;
    if (valid) *valid = false;
    return 1;
}

size_t tx_utf8_encode(uint32_t cp, char out[4])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp >= 0xD800 && cp <= 0xDFFF) return 0;
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    if (cp <= 0x10FFFF) {
        out[0] = (char)(0xF0 | (cp >> 18));
        out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[3] = (char)(0x80 | (cp & 0x3F));
        return 4;
    }
    return 0;
}

size_t tx_utf8_count(const char *s, size_t n, size_t *n_invalid)
{
    size_t count = 0, bad = 0, i = 0;
    while (i < n) {
        if ((unsigned char)s[i] < 0x80) { /* fast path */
            i++;
            count++;
            continue;
        }
        uint32_t cp;
        bool ok;
        i += tx_utf8_next(s + i, n - i, &cp, &ok);
        count++;
        bad += !ok;
    }
    if (n_invalid) *n_invalid += bad;
    return count;
}

/* ---- word tokens ------------------------------------------------------------ */

static bool is_space(uint32_t c)
{
    return c <= 0x20 || c == 0x7f || (c >= 0x80 && c <= 0xA0) || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
           c == 0x205F || c == 0x3000;
}

static bool is_punct(uint32_t c)
{
    if (c < 0x80)
        return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) ||
               (c >= 0x7B && c <= 0x7E);
    if (c >= 0xA1 && c <= 0xBF)
        return !(c == 0xAA || c == 0xB5 || c == 0xBA || c == 0xB9 || c == 0xB2 || c == 0xB3 ||
                 (c >= 0xBC && c <= 0xBE));
    return c == 0xD7 || c == 0xF7 || (c >= 0x2010 && c <= 0x205E) || (c >= 0x20A0 && c <= 0x20CF) ||
           (c >= 0x2190 && c <= 0x2BFF) || (c >= 0x3001 && c <= 0x303F);
}

static bool is_word(uint32_t c) { return !is_space(c) && !is_punct(c); }
static bool is_digit(uint32_t c) { return c >= '0' && c <= '9'; }

static uint32_t to_lower(uint32_t c)
{
    if (c < 0x80) return c >= 'A' && c <= 'Z' ? c + 32 : c;
    if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 32;
    if (c < 0x100) return c;
    if (c <= 0x17F) {
        if (c == 0x130) return 'i';
        if (c == 0x178) return 0xFF;
        if ((c <= 0x137) || (c >= 0x14A && c <= 0x177)) return c % 2 == 0 ? c + 1 : c;
        if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) return c % 2 == 1 ? c + 1 : c;
        return c;
    }
    if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) return c + 32;
    if (c == 0x386) return 0x3AC;
    if (c >= 0x388 && c <= 0x38A) return c + 37;
    if (c == 0x38C) return 0x3CC;
    if (c == 0x38E || c == 0x38F) return c + 63;
    if (c >= 0x410 && c <= 0x42F) return c + 32;
    if (c >= 0x400 && c <= 0x40F) return c + 80;
    if (c == 0x1E9E) return 0xDF;
    return c;
}

/* Calls emit(ctx, token, len) for every token of s; returns -1 if emit does. */
typedef int (*emit_fn)(void *ctx, const char *tok, size_t len);

static int words_each(const char *s, size_t n, int flags, emit_fn emit, void *ctx)
{
    buf w = {0};
    size_t i = 0;
    int rc = 0;
    while (i < n && rc == 0) {
        uint32_t c;
        size_t l = tx_utf8_next(s + i, n - i, &c, NULL);
        if (is_space(c)) {
            i += l;
            continue;
        }
        char enc[4];
        w.n = 0;
        if (is_punct(c)) {
            if (!tx__buf_put(&w, enc, tx_utf8_encode(c, enc))) goto oom;
            i += l;
            rc = emit(ctx, w.b, w.n);
            continue;
        }
        uint32_t prev = c;
        if (!tx__buf_put(&w, enc, tx_utf8_encode(flags & TX_LOWER ? to_lower(c) : c, enc))) goto oom;
        i += l;
        while (i < n) {
            l = tx_utf8_next(s + i, n - i, &c, NULL);
            if (!is_word(c)) {
                bool join = false;
                if (i + l < n) {
                    uint32_t next;
                    tx_utf8_next(s + i + l, n - i - l, &next, NULL);
                    if (c == '\'' || c == 0x2019 || c == '-' || c == 0x2010)
                        join = is_word(next);
                    else if (c == '.' || c == ',')
                        join = is_digit(prev) && is_digit(next);
                }
                if (!join) break;
            }
            if (!tx__buf_put(&w, enc, tx_utf8_encode(flags & TX_LOWER ? to_lower(c) : c, enc))) goto oom;
            prev = c;
            i += l;
        }
        rc = emit(ctx, w.b, w.n);
    }
    free(w.b);
    return rc;
oom:
    free(w.b);
    return tx__fail_oom("word tokens");
}

typedef struct {
    buf text;
    size_t *off;
    size_t n, cap;
} split_ctx;

static int split_emit(void *ctx, const char *tok, size_t len)
{
    split_ctx *c = ctx;
    if (!tx__grow((void **)&c->off, &c->cap, c->n + 1, sizeof *c->off)) return tx__fail_oom("word tokens");
    c->off[c->n++] = c->text.n;
    if (!tx__buf_put(&c->text, tok, len) || !tx__buf_put(&c->text, "", 1)) return tx__fail_oom("word tokens");
    return 0;
}

int tx_split_words(const char *s, size_t n, int flags, tx_words *out)
{
    memset(out, 0, sizeof *out);
    if (!s && n) return tx__fail("tx_split_words: NULL text");
    split_ctx c = {0};
    int rc = words_each(s, n, flags, split_emit, &c);
    if (rc == 0 && !(out->tok = malloc((c.n ? c.n : 1) * sizeof *out->tok))) rc = tx__fail_oom("word tokens");
    if (rc != 0) {
        free(c.text.b);
        free(c.off);
        return -1;
    }
    for (size_t k = 0; k < c.n; k++) out->tok[k] = c.text.b + c.off[k];
    out->n = c.n;
    out->buf_ = c.text.b;
    free(c.off);
    return 0;
}

void tx_words_free(tx_words *w)
{
    if (!w) return;
    free(w->tok);
    free(w->buf_);
    memset(w, 0, sizeof *w);
}

static int count_emit(void *ctx, const char *tok, size_t len)
{
    return tx_vocab_add(ctx, tok, len) < 0 ? -1 : 0;
}

int tx_count_words(tx_vocab *v, const char *s, size_t n, int flags)
{
    if (!v || (!s && n)) return tx__fail("tx_count_words: NULL argument");
    return words_each(s, n, flags, count_emit, v);
}

typedef struct {
    const tx_vocab *v;
    int32_t *ids;
    size_t n, cap;
} encode_ctx;

static int encode_push(encode_ctx *c, int32_t id)
{
    if (!tx__grow((void **)&c->ids, &c->cap, c->n + 1, sizeof *c->ids)) return tx__fail_oom("word ids");
    c->ids[c->n++] = id;
    return 0;
}

static int encode_emit(void *ctx, const char *tok, size_t len)
{
    encode_ctx *c = ctx;
    return encode_push(c, tx_vocab_id(c->v, tok, len));
}

int32_t *tx_encode_words(const tx_vocab *v, const char *s, size_t n, int flags, bool bos, bool eos,
                         size_t *len)
{
    *len = 0;
    if (!v || (!s && n)) {
        tx__fail("tx_encode_words: NULL argument");
        return NULL;
    }
    encode_ctx c = {v, NULL, 0, 0};
    bool ok = !(bos && encode_push(&c, TX_BOS) != 0) && words_each(s, n, flags, encode_emit, &c) == 0 &&
              !(eos && encode_push(&c, TX_EOS) != 0);
    if (ok && !c.ids && !(c.ids = malloc(sizeof *c.ids))) ok = tx__fail_oom("word ids") == 0;
    if (!ok) {
        free(c.ids);
        return NULL;
    }
    *len = c.n;
    return c.ids;
}

char *tx_decode(const tx_vocab *v, const int32_t *ids, size_t n, const char *sep)
{
    buf b = {0};
    bool first = true;
    size_t seplen = sep ? strlen(sep) : 0;
    for (size_t k = 0; k < n; k++) {
        int32_t id = ids[k];
        if (id == TX_EOS) break;
        if (id == TX_PAD || id == TX_BOS) continue;
        size_t l;
        const char *t = tx_vocab_str(v, id, &l);
        if (!t) {
            t = "<unk>";
            l = strlen(t);
        }
        if ((!first && !tx__buf_put(&b, sep, seplen)) || !tx__buf_put(&b, t, l)) goto oom;
        first = false;
    }
    if (!tx__buf_put(&b, "", 1)) goto oom;
    return b.b;
oom:
    free(b.b);
    tx__fail_oom("decode");
    return NULL;
}

/* ---- splits ------------------------------------------------------------------ */

uint64_t tx_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint64_t tx_rand_below(uint64_t *state, uint64_t bound)
{
    if (bound <= 1) return 0;
    uint64_t threshold = (0 - bound) % bound, r; /* 2^64 mod bound */
    do r = tx_splitmix64(state);
    while (r < threshold);
    return r % bound;
}

void tx_shuffle(size_t *idx, size_t n, uint64_t seed)
{
    uint64_t st = seed;
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)tx_rand_below(&st, i);
        size_t t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

static int split_alloc(tx_split *out, size_t n_train, size_t n_test)
{
    out->train = malloc((n_train ? n_train : 1) * sizeof(size_t));
    out->test = malloc((n_test ? n_test : 1) * sizeof(size_t));
    out->n_train = n_train;
    out->n_test = n_test;
    if (!out->train || !out->test) {
        tx_split_free(out);
        return tx__fail_oom("split");
    }
    return 0;
}

int tx_split_random(size_t n, double test_fraction, uint64_t seed, tx_split *out)
{
    memset(out, 0, sizeof *out);
    if (!(test_fraction >= 0 && test_fraction <= 1))
        return tx__fail("tx_split_random: test fraction %g is not in [0, 1]", test_fraction);
    size_t n_test = (size_t)llround((double)n * test_fraction);
    if (n_test > n) n_test = n;
    size_t *perm = malloc((n ? n : 1) * sizeof *perm);
    if (!perm) return tx__fail_oom("split");
    for (size_t i = 0; i < n; i++) perm[i] = i;
    tx_shuffle(perm, n, seed);
    if (split_alloc(out, n - n_test, n_test) != 0) {
        free(perm);
        return -1;
    }
    if (n_test) memcpy(out->test, perm, n_test * sizeof *perm);
    if (n - n_test) memcpy(out->train, perm + n_test, (n - n_test) * sizeof *perm);
    free(perm);
    qsort(out->test, out->n_test, sizeof(size_t), cmp_size);
    qsort(out->train, out->n_train, sizeof(size_t), cmp_size);
    return 0;
}

int tx_split_every(size_t n, size_t k, tx_split *out)
{
    memset(out, 0, sizeof *out);
    if (k == 0) return tx__fail("tx_split_every: k must be >= 1");
    size_t n_test = n / k;
    if (split_alloc(out, n - n_test, n_test) != 0) return -1;
    size_t a = 0, b = 0;
    for (size_t i = 0; i < n; i++) {
        if (i % k == k - 1)
            out->test[b++] = i;
        else
            out->train[a++] = i;
    }
    return 0;
}

void tx_split_free(tx_split *s)
{
    if (!s) return;
    free(s->train);
    free(s->test);
    memset(s, 0, sizeof *s);
}

size_t tx_text_split(const char *s, size_t n, double train_fraction)
{
    if (!s || n == 0 || !(train_fraction > 0)) return 0;
    if (!(train_fraction < 1)) return n;
    size_t pos = (size_t)((double)n * train_fraction);
    if (pos >= n) return n;
    if (pos == 0 || s[pos - 1] == '\n') return pos;
    const char *nl = memchr(s + pos, '\n', n - pos);
    if (nl) return (size_t)(nl - s) + 1;
    while (pos < n && ((unsigned char)s[pos] & 0xC0) == 0x80) pos++;
    return pos;
}

/* ---- data folder ---------------------------------------------------------------- */

const char *tx_data_dir(void)
{
    const char *d = getenv("RECUR_DATA");
    return d && *d ? d : "data";
}

char *tx_data_file(const char *rel)
{
    const char *d = tx_data_dir();
    size_t n = strlen(d) + 1 + (rel ? strlen(rel) : 0) + 1;
    char *p = malloc(n);
    if (!p) {
        tx__fail_oom("path");
        return NULL;
    }
    snprintf(p, n, "%s/%s", d, rel ? rel : "");
    return p;
}

int tx_load_text(const char *path, char **text, size_t *len)
{
    *text = NULL;
    *len = 0;
    if (!path) return tx__fail("tx_load_text: NULL path");
    if (tx__read_file(path, NULL, text, len) != 0) return -1;
    if (*len == 0) {
        free(*text);
        *text = NULL;
        return tx__fail("%s is empty (fetch the data again with tools/fetch-data.sh --force)", path);
    }
    return 0;
}

