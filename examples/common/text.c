/* examples/common/text.c - see text.h. */
#if !defined(_POSIX_C_SOURCE) || _POSIX_C_SOURCE < 200809L
#undef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include "text.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/* ---- errors -------------------------------------------------------------- */

static _Thread_local char tx_err[512];

const char *tx_error(void) { return tx_err; }

static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tx_err, sizeof tx_err, fmt, ap);
    va_end(ap);
    return -1;
}

static int fail_oom(const char *what) { return fail("out of memory (%s)", what); }

/* ---- a chunked string pool: stable pointers, one free -------------------- */

typedef struct pool_chunk {
    struct pool_chunk *next;
    size_t used, cap;
    max_align_t data[];
} pool_chunk;

typedef struct {
    pool_chunk *head;
} pool;

static void *pool_alloc(pool *p, size_t n)
{
    n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    if (!p->head || p->head->cap - p->head->used < n) {
        size_t cap = n > ((size_t)1 << 20) ? n : ((size_t)1 << 20);
        pool_chunk *c = malloc(sizeof *c + cap);
        if (!c) return NULL;
        c->used = 0;
        c->cap = cap;
        if (p->head && n > ((size_t)1 << 19)) { /* big block: keep the open chunk in front */
            c->next = p->head->next;
            p->head->next = c;
            c->used = n;
            return c->data;
        }
        c->next = p->head;
        p->head = c;
    }
    void *r = (char *)p->head->data + p->head->used;
    p->head->used += n;
    return r;
}

static char *pool_strndup(pool *p, const char *s, size_t n)
{
    char *r = pool_alloc(p, n + 1);
    if (!r) return NULL;
    if (n) memcpy(r, s, n);
    r[n] = 0;
    return r;
}

static void pool_free(pool *p)
{
    pool_chunk *c = p ? p->head : NULL;
    while (c) {
        pool_chunk *next = c->next;
        free(c);
        c = next;
    }
    if (p) p->head = NULL;
}

/* A growable byte buffer. */
typedef struct {
    char *b;
    size_t n, cap;
} buf;

static bool buf_reserve(buf *b, size_t extra)
{
    if (b->cap - b->n >= extra) return true;
    size_t cap = b->cap ? b->cap : 64;
    while (cap - b->n < extra) {
        if (cap > SIZE_MAX / 2) return false;
        cap *= 2;
    }
    char *nb = realloc(b->b, cap);
    if (!nb) return false;
    b->b = nb;
    b->cap = cap;
    return true;
}

static bool buf_put(buf *b, const void *s, size_t n)
{
    if (!buf_reserve(b, n)) return false;
    if (n) memcpy(b->b + b->n, s, n);
    b->n += n;
    return true;
}

/* Grows an array of elements of size sz to hold at least need. */
static bool grow(void **arr, size_t *cap, size_t need, size_t sz)
{
    if (need <= *cap) return true;
    size_t c = *cap ? *cap : 16;
    while (c < need) c *= 2;
    if (c > SIZE_MAX / sz) return false;
    void *a = realloc(*arr, c * sz);
    if (!a) return false;
    *arr = a;
    *cap = c;
    return true;
}

/* ---- files ------------------------------------------------------------- */

/* Reads path whole into a malloc'd (or pool, when p) NUL-terminated buffer. */
static int read_file(const char *path, pool *p, char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return fail("cannot open %s: %s (fetch the data with tools/fetch-data.sh)", path,
                    strerror(errno));
    long sz = -1;
    if (fseek(f, 0, SEEK_END) == 0) sz = ftell(f);
    if (sz < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return fail("cannot read %s: not a regular file", path);
    }
    char *b = p ? pool_alloc(p, (size_t)sz + 1) : malloc((size_t)sz + 1);
    if (!b) {
        fclose(f);
        return fail("out of memory reading %s (%ld bytes)", path, sz);
    }
    size_t got = fread(b, 1, (size_t)sz, f);
    int err = ferror(f);
    fclose(f);
    if (err || got != (size_t)sz) {
        if (!p) free(b);
        return fail("cannot read %s: %s", path, err ? strerror(errno) : "file changed size");
    }
    b[got] = 0;
    *out = b;
    *len = got;
    return 0;
}

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

/* ---- vocabulary ------------------------------------------------------------ */

struct tx_vocab {
    char **str;
    uint32_t *len;
    uint64_t *count, *hash;
    size_t n, cap;
    int32_t *slot; /* ids, -1 for empty; nslot a power of two */
    size_t nslot;
    uint64_t mask;
    pool strings;
};

static const char *const special_tokens[TX_NSPECIAL] = {"<pad>", "<unk>", "<bos>", "<eos>"};

static uint64_t vhash(const tx_vocab *v, const char *s, size_t n)
{
    return XXH3_64bits(s, n) & v->mask;
}

static size_t slot_of(uint64_t h, size_t nslot) { return (size_t)(h ^ (h >> 29)) & (nslot - 1); }

static int32_t vfind(const tx_vocab *v, const char *s, size_t n, uint64_t h)
{
    if (!v->nslot) return -1;
    size_t m = v->nslot - 1;
    for (size_t i = slot_of(h, v->nslot);; i = (i + 1) & m) {
        int32_t id = v->slot[i];
        if (id < 0) return -1;
        if (v->hash[id] == h && v->len[id] == n && memcmp(v->str[id], s, n) == 0) return id;
    }
}

static bool vrehash(tx_vocab *v, size_t nslot)
{
    int32_t *slot = malloc(nslot * sizeof *slot);
    if (!slot) return false;
    memset(slot, 0xff, nslot * sizeof *slot); /* all -1 */
    for (size_t id = 0; id < v->n; id++) {
        size_t i = slot_of(v->hash[id], nslot);
        while (slot[i] >= 0) i = (i + 1) & (nslot - 1);
        slot[i] = (int32_t)id;
    }
    free(v->slot);
    v->slot = slot;
    v->nslot = nslot;
    return true;
}

static int32_t vinsert(tx_vocab *v, const char *s, size_t n, uint64_t h, uint64_t count)
{
    if (v->n >= INT32_MAX || n > UINT32_MAX) return -1;
    if ((v->n + 1) * 2 > v->nslot && !vrehash(v, v->nslot ? v->nslot * 2 : 64)) return -1;
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 64;
        char **str = realloc(v->str, cap * sizeof *str);
        if (str) v->str = str;
        uint32_t *len = realloc(v->len, cap * sizeof *len);
        if (len) v->len = len;
        uint64_t *cnt = realloc(v->count, cap * sizeof *cnt);
        if (cnt) v->count = cnt;
        uint64_t *hs = realloc(v->hash, cap * sizeof *hs);
        if (hs) v->hash = hs;
        if (!str || !len || !cnt || !hs) return -1;
        v->cap = cap;
    }
    char *copy = pool_strndup(&v->strings, s, n);
    if (!copy) return -1;
    int32_t id = (int32_t)v->n++;
    v->str[id] = copy;
    v->len[id] = (uint32_t)n;
    v->count[id] = count;
    v->hash[id] = h;
    size_t i = slot_of(h, v->nslot);
    while (v->slot[i] >= 0) i = (i + 1) & (v->nslot - 1);
    v->slot[i] = id;
    return id;
}

tx_vocab *tx_vocab_new(void)
{
    tx_vocab *v = calloc(1, sizeof *v);
    if (!v) {
        fail_oom("vocabulary");
        return NULL;
    }
    v->mask = UINT64_MAX;
    for (int k = 0; k < TX_NSPECIAL; k++) {
        const char *t = special_tokens[k];
        if (vinsert(v, t, strlen(t), vhash(v, t, strlen(t)), 0) != k) {
            tx_vocab_free(v);
            fail_oom("vocabulary");
            return NULL;
        }
    }
    return v;
}

void tx_vocab_free(tx_vocab *v)
{
    if (!v) return;
    free(v->str);
    free(v->len);
    free(v->count);
    free(v->hash);
    free(v->slot);
    pool_free(&v->strings);
    free(v);
}

int32_t tx_vocab_add(tx_vocab *v, const char *tok, size_t len)
{
    if (!v || (!tok && len)) return fail("tx_vocab_add: NULL argument");
    uint64_t h = vhash(v, tok, len);
    int32_t id = vfind(v, tok, len, h);
    if (id >= 0) {
        v->count[id]++;
        return id;
    }
    id = vinsert(v, tok, len, h, 1);
    if (id < 0) return fail("vocabulary: out of memory or full (%zu tokens)", v->n);
    return id;
}

int32_t tx_vocab_find(const tx_vocab *v, const char *tok, size_t len)
{
    if (!v || (!tok && len)) return -1;
    return vfind(v, tok, len, vhash(v, tok, len));
}

int32_t tx_vocab_id(const tx_vocab *v, const char *tok, size_t len)
{
    int32_t id = tx_vocab_find(v, tok, len);
    return id < 0 ? TX_UNK : id;
}

const char *tx_vocab_str(const tx_vocab *v, int32_t id, size_t *len)
{
    if (!v || id < 0 || (size_t)id >= v->n) return NULL;
    if (len) *len = v->len[id];
    return v->str[id];
}

uint64_t tx_vocab_count(const tx_vocab *v, int32_t id)
{
    if (!v || id < 0 || (size_t)id >= v->n) return 0;
    return v->count[id];
}

size_t tx_vocab_size(const tx_vocab *v) { return v ? v->n : 0; }

void tx_vocab_set_hash_mask(tx_vocab *v, uint64_t mask)
{
    if (!v) return;
    v->mask = mask;
    for (size_t id = 0; id < v->n; id++) v->hash[id] = vhash(v, v->str[id], v->len[id]);
    if (!vrehash(v, v->nslot)) { /* keep the old table: rebuild in place */
        memset(v->slot, 0xff, v->nslot * sizeof *v->slot);
        for (size_t id = 0; id < v->n; id++) {
            size_t i = slot_of(v->hash[id], v->nslot);
            while (v->slot[i] >= 0) i = (i + 1) & (v->nslot - 1);
            v->slot[i] = (int32_t)id;
        }
    }
}

static _Thread_local const tx_vocab *cut_src; /* qsort has no context argument */

static int cut_cmp(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    const tx_vocab *v = cut_src;
    if (v->count[x] != v->count[y]) return v->count[x] > v->count[y] ? -1 : 1;
    size_t lx = v->len[x], ly = v->len[y];
    int c = memcmp(v->str[x], v->str[y], lx < ly ? lx : ly);
    if (c) return c;
    return lx < ly ? -1 : lx > ly;
}

tx_vocab *tx_vocab_cut(const tx_vocab *counts, uint64_t min_count, size_t max_size)
{
    if (!counts) {
        fail("tx_vocab_cut: NULL vocabulary");
        return NULL;
    }
    size_t m = 0;
    int32_t *ids = malloc((counts->n + 1) * sizeof *ids);
    tx_vocab *v = tx_vocab_new();
    if (!ids || !v) goto oom;
    for (size_t id = TX_NSPECIAL; id < counts->n; id++)
        if (counts->count[id] >= min_count) ids[m++] = (int32_t)id;
    cut_src = counts;
    qsort(ids, m, sizeof *ids, cut_cmp);
    if (max_size) m = max_size <= TX_NSPECIAL ? 0 : (m < max_size - TX_NSPECIAL ? m : max_size - TX_NSPECIAL);
    for (int k = 0; k < TX_NSPECIAL; k++) v->count[k] = counts->count[k];
    for (size_t k = 0; k < m; k++) {
        int32_t id = ids[k];
        if (vinsert(v, counts->str[id], counts->len[id], vhash(v, counts->str[id], counts->len[id]),
                    counts->count[id]) < 0)
            goto oom;
    }
    free(ids);
    return v;
oom:
    free(ids);
    tx_vocab_free(v);
    fail_oom("vocabulary cut");
    return NULL;
}

int tx_vocab_save(const tx_vocab *v, const char *path)
{
    if (!v || !path) return fail("tx_vocab_save: NULL argument");
    FILE *f = fopen(path, "w");
    if (!f) return fail("cannot write %s: %s", path, strerror(errno));
    fprintf(f, "# recur-vocab 1 %zu\n", v->n);
    for (size_t id = 0; id < v->n; id++) {
        fprintf(f, "%llu\t", (unsigned long long)v->count[id]);
        for (size_t k = 0; k < v->len[id]; k++) {
            unsigned char c = (unsigned char)v->str[id][k];
            switch (c) {
            case '\\': fputs("\\\\", f); break;
            case '\t': fputs("\\t", f); break;
            case '\n': fputs("\\n", f); break;
            case '\r': fputs("\\r", f); break;
            default:
                if (c < 0x20 || c == 0x7f)
                    fprintf(f, "\\x%02x", c);
                else
                    fputc(c, f);
            }
        }
        fputc('\n', f);
    }
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) return fail("cannot write %s: %s", path, strerror(errno));
    return 0;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

tx_vocab *tx_vocab_load(const char *path)
{
    char *text;
    size_t n;
    if (!path) {
        fail("tx_vocab_load: NULL path");
        return NULL;
    }
    if (read_file(path, NULL, &text, &n) != 0) return NULL;
    tx_vocab *v = NULL;
    buf tok = {0};
    size_t size = 0, line = 1;
    char *p = text, *end = text + n;
    char *eol = memchr(p, '\n', n);
    {
        char hdr[64];
        size_t hl = eol ? (size_t)(eol - p) : n;
        if (hl >= sizeof hdr) hl = sizeof hdr - 1;
        memcpy(hdr, p, hl);
        hdr[hl] = 0;
        char extra;
        if (!eol || sscanf(hdr, "# recur-vocab 1 %zu %c", &size, &extra) != 1) {
            fail("%s:1: not a recur vocabulary (want '# recur-vocab 1 SIZE')", path);
            goto out;
        }
    }
    v = calloc(1, sizeof *v);
    if (!v) {
        fail_oom("vocabulary");
        goto out;
    }
    v->mask = UINT64_MAX;
    p = eol + 1;
    while (p < end) {
        line++;
        eol = memchr(p, '\n', (size_t)(end - p));
        char *le = eol ? eol : end;
        char *tab = memchr(p, '\t', (size_t)(le - p));
        char *q = NULL;
        errno = 0;
        unsigned long long cnt = tab && tab > p && *p >= '0' && *p <= '9' ? strtoull(p, &q, 10) : 0;
        if (!tab || tab == p || q != tab || errno) {
            fail("%s:%zu: want COUNT<TAB>TOKEN", path, line);
            goto bad;
        }
        tok.n = 0;
        for (char *c = tab + 1; c < le; c++) {
            char ch = *c;
            if (ch == '\\') {
                if (c + 1 >= le) {
                    fail("%s:%zu: dangling backslash", path, line);
                    goto bad;
                }
                c++;
                if (*c == '\\') ch = '\\';
                else if (*c == 't') ch = '\t';
                else if (*c == 'n') ch = '\n';
                else if (*c == 'r') ch = '\r';
                else if (*c == 'x' && c + 2 < le && hexval(c[1]) >= 0 && hexval(c[2]) >= 0) {
                    ch = (char)(hexval(c[1]) * 16 + hexval(c[2]));
                    c += 2;
                } else {
                    fail("%s:%zu: bad escape '\\%c'", path, line, *c);
                    goto bad;
                }
            }
            if (!buf_put(&tok, &ch, 1)) {
                fail_oom("vocabulary");
                goto bad;
            }
        }
        uint64_t h = vhash(v, tok.b ? tok.b : "", tok.n);
        if (vfind(v, tok.b ? tok.b : "", tok.n, h) >= 0) {
            fail("%s:%zu: duplicate token", path, line);
            goto bad;
        }
        size_t id = v->n;
        if (id < TX_NSPECIAL && (tok.n != strlen(special_tokens[id]) ||
                                 memcmp(tok.b, special_tokens[id], tok.n) != 0)) {
            fail("%s:%zu: id %zu must be %s", path, line, id, special_tokens[id]);
            goto bad;
        }
        if (vinsert(v, tok.b ? tok.b : "", tok.n, h, cnt) < 0) {
            fail_oom("vocabulary");
            goto bad;
        }
        p = eol ? eol + 1 : end;
    }
    if (v->n != size || size < TX_NSPECIAL) {
        fail("%s: header says %zu tokens, file has %zu", path, size, v->n);
        goto bad;
    }
    goto out;
bad:
    tx_vocab_free(v);
    v = NULL;
out:
    free(tok.b);
    free(text);
    return v;
}

/* ---- character tokens ------------------------------------------------------ */

int tx_count_chars(tx_vocab *v, const char *s, size_t n)
{
    if (!v || (!s && n)) return fail("tx_count_chars: NULL argument");
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        bool ok;
        size_t l = tx_utf8_next(s + i, n - i, &cp, &ok);
        if (tx_vocab_add(v, ok ? s + i : "\xEF\xBF\xBD", ok ? l : 3) < 0) return -1;
        i += l;
    }
    return 0;
}

int32_t *tx_encode_chars(const tx_vocab *v, const char *s, size_t n, size_t *len)
{
    *len = 0;
    if (!v || (!s && n)) {
        fail("tx_encode_chars: NULL argument");
        return NULL;
    }
    int32_t *ids = malloc((n ? n : 1) * sizeof *ids), ascii[128];
    if (!ids) {
        fail_oom("character ids");
        return NULL;
    }
    for (int c = 0; c < 128; c++) {
        char ch = (char)c;
        ascii[c] = tx_vocab_id(v, &ch, 1);
    }
    size_t i = 0, m = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            ids[m++] = ascii[c];
            i++;
            continue;
        }
        uint32_t cp;
        bool ok;
        size_t l = tx_utf8_next(s + i, n - i, &cp, &ok);
        ids[m++] = tx_vocab_id(v, ok ? s + i : "\xEF\xBF\xBD", ok ? l : 3);
        i += l;
    }
    *len = m;
    return ids;
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
            if (!buf_put(&w, enc, tx_utf8_encode(c, enc))) goto oom;
            i += l;
            rc = emit(ctx, w.b, w.n);
            continue;
        }
        uint32_t prev = c;
        if (!buf_put(&w, enc, tx_utf8_encode(flags & TX_LOWER ? to_lower(c) : c, enc))) goto oom;
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
            if (!buf_put(&w, enc, tx_utf8_encode(flags & TX_LOWER ? to_lower(c) : c, enc))) goto oom;
            prev = c;
            i += l;
        }
        rc = emit(ctx, w.b, w.n);
    }
    free(w.b);
    return rc;
oom:
    free(w.b);
    return fail_oom("word tokens");
}

typedef struct {
    buf text;
    size_t *off;
    size_t n, cap;
} split_ctx;

static int split_emit(void *ctx, const char *tok, size_t len)
{
    split_ctx *c = ctx;
    if (!grow((void **)&c->off, &c->cap, c->n + 1, sizeof *c->off)) return fail_oom("word tokens");
    c->off[c->n++] = c->text.n;
    if (!buf_put(&c->text, tok, len) || !buf_put(&c->text, "", 1)) return fail_oom("word tokens");
    return 0;
}

int tx_split_words(const char *s, size_t n, int flags, tx_words *out)
{
    memset(out, 0, sizeof *out);
    if (!s && n) return fail("tx_split_words: NULL text");
    split_ctx c = {0};
    int rc = words_each(s, n, flags, split_emit, &c);
    if (rc == 0 && !(out->tok = malloc((c.n ? c.n : 1) * sizeof *out->tok))) rc = fail_oom("word tokens");
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
    if (!v || (!s && n)) return fail("tx_count_words: NULL argument");
    return words_each(s, n, flags, count_emit, v);
}

typedef struct {
    const tx_vocab *v;
    int32_t *ids;
    size_t n, cap;
} encode_ctx;

static int encode_push(encode_ctx *c, int32_t id)
{
    if (!grow((void **)&c->ids, &c->cap, c->n + 1, sizeof *c->ids)) return fail_oom("word ids");
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
        fail("tx_encode_words: NULL argument");
        return NULL;
    }
    encode_ctx c = {v, NULL, 0, 0};
    bool ok = !(bos && encode_push(&c, TX_BOS) != 0) && words_each(s, n, flags, encode_emit, &c) == 0 &&
              !(eos && encode_push(&c, TX_EOS) != 0);
    if (ok && !c.ids && !(c.ids = malloc(sizeof *c.ids))) ok = fail_oom("word ids") == 0;
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
            t = special_tokens[TX_UNK];
            l = strlen(t);
        }
        if ((!first && !buf_put(&b, sep, seplen)) || !buf_put(&b, t, l)) goto oom;
        first = false;
    }
    if (!buf_put(&b, "", 1)) goto oom;
    return b.b;
oom:
    free(b.b);
    fail_oom("decode");
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
        return fail_oom("split");
    }
    return 0;
}

int tx_split_random(size_t n, double test_fraction, uint64_t seed, tx_split *out)
{
    memset(out, 0, sizeof *out);
    if (!(test_fraction >= 0 && test_fraction <= 1))
        return fail("tx_split_random: test fraction %g is not in [0, 1]", test_fraction);
    size_t n_test = (size_t)llround((double)n * test_fraction);
    if (n_test > n) n_test = n;
    size_t *perm = malloc((n ? n : 1) * sizeof *perm);
    if (!perm) return fail_oom("split");
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
    if (k == 0) return fail("tx_split_every: k must be >= 1");
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
        fail_oom("path");
        return NULL;
    }
    snprintf(p, n, "%s/%s", d, rel ? rel : "");
    return p;
}

int tx_load_text(const char *path, char **text, size_t *len)
{
    *text = NULL;
    *len = 0;
    if (!path) return fail("tx_load_text: NULL path");
    if (read_file(path, NULL, text, len) != 0) return -1;
    if (*len == 0) {
        free(*text);
        *text = NULL;
        return fail("%s is empty (fetch the data again with tools/fetch-data.sh --force)", path);
    }
    return 0;
}

/* ---- trans-de-en -------------------------------------------------------------- */

static const char *find_str(const char *s, size_t n, const char *pat, size_t pl)
{
    if (pl == 0 || n < pl) return NULL;
    for (const char *p = s, *end = s + n - pl; p <= end; p++) {
        p = memchr(p, pat[0], (size_t)(end - p) + 1);
        if (!p) return NULL;
        if (memcmp(p, pat, pl) == 0) return p;
    }
    return NULL;
}

/* Python's str.split() white space, so the cleaning matches DATA.md's count. */
static bool is_py_space(uint32_t c)
{
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
           c == 0x202F || c == 0x205F || c == 0x3000;
}

/* The first synonym of a sub-entry without annotations, white space
 * collapsed, into out (reset); returns its word count. */
static size_t clean_entry(const char *s, size_t n, buf *out, bool *oom)
{
    const char *semi = find_str(s, n, "; ", 2);
    if (semi) n = (size_t)(semi - s);
    buf tmp = {0};
    for (size_t i = 0; i < n; i++) {
        char close = s[i] == '{' ? '}' : s[i] == '[' ? ']' : s[i] == '<' ? '>' : 0;
        if (close) {
            const char *e = memchr(s + i + 1, close, n - i - 1);
            if (e) {
                i = (size_t)(e - s);
                continue;
            }
        }
        if (!buf_put(&tmp, s + i, 1)) *oom = true;
    }
    out->n = 0;
    size_t words = 0, i = 0;
    bool in_word = false;
    while (i < tmp.n) {
        uint32_t c;
        size_t l = tx_utf8_next(tmp.b + i, tmp.n - i, &c, NULL);
        if (is_py_space(c)) {
            in_word = false;
        } else {
            if (!in_word) {
                if (words && !buf_put(out, " ", 1)) *oom = true;
                words++;
                in_word = true;
            }
            if (!buf_put(out, tmp.b + i, l)) *oom = true;
        }
        i += l;
    }
    free(tmp.b);
    return words;
}

static bool sentence_ok(const buf *b, size_t words)
{
    static const char *const placeholders[] = {"etw.", "jdm.", "sth.", "sb."};
    if (b->n == 0 || words < 3) return false;
    char last = b->b[b->n - 1];
    if (last != '.' && last != '!' && last != '?') return false;
    if (memchr(b->b, '(', b->n) || memchr(b->b, ')', b->n) || memchr(b->b, 0, b->n)) return false;
    if (find_str(b->b, b->n, " / ", 3)) return false;
    for (size_t k = 0; k < sizeof placeholders / sizeof *placeholders; k++)
        if (find_str(b->b, b->n, placeholders[k], strlen(placeholders[k]))) return false;
    return true;
}

static size_t count_str(const char *s, size_t n, const char *pat, size_t pl)
{
    size_t c = 0;
    const char *p;
    while ((p = find_str(s, n, pat, pl))) {
        c++;
        n -= (size_t)(p - s) + pl;
        s = p + pl;
    }
    return c;
}

int tx_load_trans(const char *path, tx_pairs *out)
{
    memset(out, 0, sizeof *out);
    if (!path) return fail("tx_load_trans: NULL path");
    char *text;
    size_t n;
    if (read_file(path, NULL, &text, &n) != 0) return -1;
    pool *pl = calloc(1, sizeof *pl);
    tx_vocab *seen = tx_vocab_new();
    buf de = {0}, en = {0}, key = {0};
    size_t cap = 0, lines = 0, entries = 0;
    bool oom = !pl || !seen;
    const char *p = text, *end = text + n;
    while (p < end && !oom) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *le = eol ? eol : end;
        const char *ls = p;
        p = eol ? eol + 1 : end;
        if (le > ls && le[-1] == '\r') le--;
        if (le == ls || *ls == '#') continue;
        const char *sep = find_str(ls, (size_t)(le - ls), " :: ", 4);
        if (!sep) continue;
        lines++;
        const char *d = ls, *dend = sep, *e = sep + 4, *eend = le;
        if (count_str(d, (size_t)(dend - d), " | ", 3) != count_str(e, (size_t)(eend - e), " | ", 3))
            continue;
        while (d <= dend && e <= eend && !oom) {
            const char *dn = find_str(d, (size_t)(dend - d), " | ", 3);
            const char *en_ = find_str(e, (size_t)(eend - e), " | ", 3);
            const char *dseg_end = dn ? dn : dend, *eseg_end = en_ ? en_ : eend;
            entries++;
            size_t wd = clean_entry(d, (size_t)(dseg_end - d), &de, &oom);
            size_t we = clean_entry(e, (size_t)(eseg_end - e), &en, &oom);
            if (!oom && sentence_ok(&de, wd) && sentence_ok(&en, we)) {
                out->n_kept++;
                key.n = 0;
                if (!buf_put(&key, de.b, de.n) || !buf_put(&key, "", 1) || !buf_put(&key, en.b, en.n)) {
                    oom = true;
                    break;
                }
                if (tx_vocab_find(seen, key.b, key.n) < 0) {
                    if (tx_vocab_add(seen, key.b, key.n) < 0 ||
                        !grow((void **)&out->pairs, &cap, out->n + 1, sizeof *out->pairs)) {
                        oom = true;
                        break;
                    }
                    tx_pair *pr = &out->pairs[out->n];
                    pr->src = pool_strndup(pl, de.b, de.n);
                    pr->tgt = pool_strndup(pl, en.b, en.n);
                    if (!pr->src || !pr->tgt) oom = true;
                    out->n++;
                }
            }
            if (!dn || !en_) break;
            d = dn + 3;
            e = en_ + 3;
        }
    }
    free(text);
    free(de.b);
    free(en.b);
    free(key.b);
    tx_vocab_free(seen);
    out->pool_ = pl;
    if (oom) {
        tx_pairs_free(out);
        return fail("out of memory loading %s", path);
    }
    if (lines == 0 || out->n == 0) {
        tx_pairs_free(out);
        return fail("%s: no 'GERMAN :: ENGLISH' lines with clean sentence pairs (%zu dictionary "
                    "lines, %zu sub-entries): not the trans-de-en dictionary?",
                    path, lines, entries);
    }
    return 0;
}

void tx_pairs_free(tx_pairs *p)
{
    if (!p) return;
    free(p->pairs);
    pool_free(p->pool_);
    free(p->pool_);
    memset(p, 0, sizeof *p);
}

/* ---- sentiment JSON ----------------------------------------------------------- */

typedef struct {
    const char *s, *path;
    size_t n, i;
} json;

static int json_fail(const json *j, const char *what)
{
    size_t line = 1, col = 1;
    for (size_t k = 0; k < j->i && k < j->n; k++) {
        if (j->s[k] == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    if (j->i >= j->n) return fail("%s: %s at end of file (truncated?)", j->path, what);
    return fail("%s:%zu:%zu: %s", j->path, line, col, what);
}

static void json_ws(json *j)
{
    while (j->i < j->n && (j->s[j->i] == ' ' || j->s[j->i] == '\t' || j->s[j->i] == '\n' ||
                           j->s[j->i] == '\r'))
        j->i++;
}

static bool json_eat(json *j, char c)
{
    json_ws(j);
    if (j->i < j->n && j->s[j->i] == c) {
        j->i++;
        return true;
    }
    return false;
}

static int json_hex4(json *j, uint32_t *v)
{
    if (j->n - j->i < 4) return -1;
    *v = 0;
    for (int k = 0; k < 4; k++) {
        int h = hexval(j->s[j->i + (size_t)k]);
        if (h < 0) return -1;
        *v = *v * 16 + (uint32_t)h;
    }
    j->i += 4;
    return 0;
}

static const uint16_t cp1252[32] = {
    0x20AC, 0x81,   0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x8D,   0x017D, 0x8F,   0x90,   0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D,   0x017E, 0x0178};

static bool put_cp(buf *b, uint32_t cp)
{
    char enc[4];
    if (cp >= 0x80 && cp <= 0x9F) cp = cp1252[cp - 0x80];
    size_t l = tx_utf8_encode(cp, enc);
    if (!l) l = tx_utf8_encode(TX_REPLACEMENT, enc);
    return buf_put(b, enc, l);
}

/* A JSON string (the opening quote next) decoded to UTF-8 into out. */
static int json_string(json *j, buf *out)
{
    out->n = 0;
    if (!json_eat(j, '"')) return json_fail(j, "expected a string");
    for (;;) {
        if (j->i >= j->n) return json_fail(j, "unterminated string");
        unsigned char c = (unsigned char)j->s[j->i];
        if (c == '"') {
            j->i++;
            return 0;
        }
        if (c < 0x20) return json_fail(j, "control character in a string");
        uint32_t cp;
        if (c == '\\') {
            if (++j->i >= j->n) return json_fail(j, "unterminated string");
            char e = j->s[j->i++];
            switch (e) {
            case '"': cp = '"'; break;
            case '\\': cp = '\\'; break;
            case '/': cp = '/'; break;
            case 'b': cp = '\b'; break;
            case 'f': cp = '\f'; break;
            case 'n': cp = '\n'; break;
            case 'r': cp = '\r'; break;
            case 't': cp = '\t'; break;
            case 'u':
                if (json_hex4(j, &cp) != 0) return json_fail(j, "bad \\u escape");
                if (cp >= 0xD800 && cp <= 0xDBFF && j->n - j->i >= 6 && j->s[j->i] == '\\' &&
                    j->s[j->i + 1] == 'u') {
                    uint32_t lo;
                    size_t save = j->i;
                    j->i += 2;
                    if (json_hex4(j, &lo) == 0 && lo >= 0xDC00 && lo <= 0xDFFF)
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    else
                        j->i = save;
                }
                if (cp >= 0xD800 && cp <= 0xDFFF) cp = TX_REPLACEMENT; /* lone surrogate */
                break;
            default: j->i--; return json_fail(j, "bad escape in a string");
            }
        } else {
            j->i += tx_utf8_next(j->s + j->i, j->n - j->i, &cp, NULL);
        }
        if (!put_cp(out, cp)) return fail_oom("sentiment text");
    }
}

/* A scalar that is not a string: number, null, true, false. Sets *is_null;
 * *num (and *is_int) for numbers. */
static int json_scalar(json *j, bool *is_null, double *num, bool *is_num)
{
    json_ws(j);
    *is_null = *is_num = false;
    const char *s = j->s + j->i;
    size_t left = j->n - j->i;
    if (left >= 4 && memcmp(s, "null", 4) == 0) {
        j->i += 4;
        *is_null = true;
        return 0;
    }
    if (left >= 4 && memcmp(s, "true", 4) == 0) {
        j->i += 4;
        return 0;
    }
    if (left >= 5 && memcmp(s, "false", 5) == 0) {
        j->i += 5;
        return 0;
    }
    char tmp[64];
    size_t k = 0;
    while (k < left && k < sizeof tmp - 1 && strchr("+-0123456789.eE", s[k]) && s[k]) {
        tmp[k] = s[k];
        k++;
    }
    tmp[k] = 0;
    char *endp;
    if (k == 0) return json_fail(j, "expected a value (string, number, null, true or false)");
    *num = strtod(tmp, &endp);
    if (*endp) return json_fail(j, "bad number");
    *is_num = true;
    j->i += k;
    return 0;
}

int tx_load_sentiment(const char *path, tx_labeled_set *out)
{
    memset(out, 0, sizeof *out);
    if (!path) return fail("tx_load_sentiment: NULL path");
    char *text;
    size_t n, cap = 0;
    if (read_file(path, NULL, &text, &n) != 0) return -1;
    json j = {text, path, n, 0};
    buf key = {0}, val = {0};
    pool *pl = calloc(1, sizeof *pl);
    int rc = -1;
    out->pool_ = pl;
    if (!pl) {
        fail_oom("sentiment");
        goto done;
    }
    if (!json_eat(&j, '[')) {
        json_fail(&j, "expected '[' (a JSON array of records)");
        goto done;
    }
    if (!json_eat(&j, ']')) {
        do {
            if (!json_eat(&j, '{')) {
                json_fail(&j, "expected '{' (a record)");
                goto done;
            }
            bool have_text = false, have_label = false;
            int label = 0;
            char *rec_text = NULL;
            size_t rec_len = 0;
            if (!json_eat(&j, '}')) {
                do {
                    json_ws(&j);
                    if (json_string(&j, &key) != 0) goto done;
                    if (!json_eat(&j, ':')) {
                        json_fail(&j, "expected ':'");
                        goto done;
                    }
                    json_ws(&j);
                    bool is_text = key.n == 4 && memcmp(key.b, "text", 4) == 0;
                    bool is_class = key.n == 5 && memcmp(key.b, "class", 5) == 0;
                    if (j.i < j.n && j.s[j.i] == '"') {
                        if (json_string(&j, &val) != 0) goto done;
                        if (is_class) {
                            json_fail(&j, "\"class\" must be 0, 1 or null, not a string");
                            goto done;
                        }
                        if (is_text) { /* trim */
                            size_t a = 0, b = val.n;
                            while (a < b && strchr(" \t\r\n", val.b[a])) a++;
                            while (b > a && strchr(" \t\r\n", val.b[b - 1])) b--;
                            rec_text = pool_strndup(pl, val.b + a, b - a);
                            rec_len = b - a;
                            if (!rec_text) {
                                fail_oom("sentiment text");
                                goto done;
                            }
                            have_text = true;
                        }
                    } else if (j.i < j.n && (j.s[j.i] == '{' || j.s[j.i] == '[')) {
                        json_fail(&j, "nested values are not expected in a record");
                        goto done;
                    } else {
                        bool is_null, is_num;
                        double num = 0;
                        size_t vstart = j.i;
                        if (json_scalar(&j, &is_null, &num, &is_num) != 0) goto done;
                        if (is_class && !is_null) {
                            if (!is_num || (num != 0 && num != 1)) {
                                j.i = vstart;
                                json_fail(&j, "\"class\" must be 0, 1 or null");
                                goto done;
                            }
                            label = (int)num;
                            have_label = true;
                        }
                        if (is_text && !is_null) {
                            j.i = vstart;
                            json_fail(&j, "\"text\" must be a string");
                            goto done;
                        }
                    }
                } while (json_eat(&j, ','));
                if (!json_eat(&j, '}')) {
                    json_fail(&j, "expected ',' or '}' in a record");
                    goto done;
                }
            }
            if (!have_text || !have_label || rec_len == 0) {
                out->n_dropped++;
                continue;
            }
            if (!grow((void **)&out->items, &cap, out->n + 1, sizeof *out->items)) {
                fail_oom("sentiment records");
                goto done;
            }
            out->items[out->n].text = rec_text;
            out->items[out->n].label = label;
            out->n++;
        } while (json_eat(&j, ','));
        if (!json_eat(&j, ']')) {
            json_fail(&j, "expected ',' or ']' after a record");
            goto done;
        }
    }
    json_ws(&j);
    if (j.i != j.n) {
        json_fail(&j, "unexpected text after the array");
        goto done;
    }
    if (out->n == 0) {
        fail("%s: no records with a text and a class", path);
        goto done;
    }
    rc = 0;
done:
    free(text);
    free(key.b);
    free(val.b);
    if (rc != 0) tx_labeled_free(out);
    return rc;
}

void tx_labeled_free(tx_labeled_set *s)
{
    if (!s) return;
    free(s->items);
    pool_free(s->pool_);
    free(s->pool_);
    memset(s, 0, sizeof *s);
}

/* ---- Brown corpus ----------------------------------------------------------------- */

static bool brown_name(const char *s)
{
    return strlen(s) == 4 && s[0] == 'c' && s[1] >= 'a' && s[1] <= 'r' && s[2] >= '0' &&
           s[2] <= '9' && s[3] >= '0' && s[3] <= '9';
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int tx_load_brown(const char *dir, tx_corpus *out)
{
    memset(out, 0, sizeof *out);
    if (!dir) return fail("tx_load_brown: NULL folder");
    DIR *d = opendir(dir);
    if (!d)
        return fail("cannot open the Brown corpus folder %s: %s (fetch it with tools/fetch-data.sh "
                    "--only brown)",
                    dir, strerror(errno));
    char **names = NULL, *path = NULL;
    size_t nn = 0, ncap = 0, tcap = 0, scap = 0;
    size_t *sent_start = NULL; /* token index where each sentence starts */
    pool *pl = calloc(1, sizeof *pl);
    int rc = -1;
    out->pool_ = pl;
    if (!pl) {
        closedir(d);
        fail_oom("Brown corpus");
        goto done;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!brown_name(e->d_name)) continue;
        if (!grow((void **)&names, &ncap, nn + 1, sizeof *names) ||
            !(names[nn] = pool_strndup(pl, e->d_name, 4))) {
            closedir(d);
            fail_oom("Brown corpus");
            goto done;
        }
        nn++;
    }
    closedir(d);
    if (nn == 0) {
        fail("%s holds no Brown corpus files c[a-r][0-9][0-9] (fetch them with "
             "tools/fetch-data.sh --only brown)",
             dir);
        goto done;
    }
    qsort(names, nn, sizeof *names, cmp_str);
    path = malloc(strlen(dir) + 8);
    if (!path) {
        fail_oom("Brown corpus");
        goto done;
    }
    for (size_t f = 0; f < nn; f++) {
        sprintf(path, "%s/%s", dir, names[f]);
        char *text;
        size_t n;
        if (read_file(path, pl, &text, &n) != 0) goto done;
        size_t line = 0;
        char *p = text, *end = text + n;
        while (p < end) {
            char *eol = memchr(p, '\n', (size_t)(end - p));
            char *le = eol ? eol : end;
            line++;
            size_t first = out->n_tokens;
            char *q = p;
            while (q < le) {
                while (q < le && (*q == ' ' || *q == '\t' || *q == '\r')) q++;
                if (q >= le) break;
                char *ts = q;
                while (q < le && *q != ' ' && *q != '\t' && *q != '\r') q++;
                char *slash = NULL;
                for (char *c = q - 1; c >= ts; c--)
                    if (*c == '/') {
                        slash = c;
                        break;
                    }
                if (!slash || slash == ts || slash == q - 1 || memchr(ts, 0, (size_t)(q - ts))) {
                    int tl = (int)(q - ts < 40 ? q - ts : 40);
                    for (char *c = ts; c < ts + tl; c++)
                        if (!*c) *c = '?';
                    fail("%s:%zu: token '%.*s' is not word/tag", path, line, tl, ts);
                    goto done;
                }
                if (!grow((void **)&out->tokens_, &tcap, out->n_tokens + 1, sizeof *out->tokens_)) {
                    fail_oom("Brown tokens");
                    goto done;
                }
                *slash = 0;
                if (q < end) *q = 0; /* q is a separator, '\n' or end (text is NUL-terminated) */
                out->tokens_[out->n_tokens].word = ts;
                out->tokens_[out->n_tokens].tag = slash + 1;
                out->n_tokens++;
                q++;
            }
            if (out->n_tokens > first) {
                if (!grow((void **)&sent_start, &scap, out->n + 2, sizeof *sent_start)) {
                    fail_oom("Brown sentences");
                    goto done;
                }
                sent_start[out->n++] = first;
            }
            p = eol ? eol + 1 : end;
        }
    }
    if (out->n == 0) {
        fail("%s: the Brown files hold no sentences", dir);
        goto done;
    }
    out->sent = malloc(out->n * sizeof *out->sent);
    if (!out->sent) {
        fail_oom("Brown sentences");
        goto done;
    }
    sent_start[out->n] = out->n_tokens;
    for (size_t s = 0; s < out->n; s++) {
        out->sent[s].tok = out->tokens_ + sent_start[s];
        out->sent[s].n = sent_start[s + 1] - sent_start[s];
    }
    out->n_files = nn;
    rc = 0;
done:
    free(names);
    free(path);
    free(sent_start);
    if (rc != 0) tx_corpus_free(out);
    return rc;
}

void tx_corpus_free(tx_corpus *c)
{
    if (!c) return;
    free(c->sent);
    free(c->tokens_);
    pool_free(c->pool_);
    free(c->pool_);
    memset(c, 0, sizeof *c);
}

size_t tx_brown_simplify(const char *tag, char *out, size_t cap)
{
    if (!tag) tag = "";
    size_t n = strlen(tag);
    const char *s = tag;
    if (n > 3 && (s[0] == 'f' || s[0] == 'F') && (s[1] == 'w' || s[1] == 'W') && s[2] == '-') {
        s += 3;
        n -= 3;
    }
    const char *plus = memchr(s, '+', n);
    if (plus && plus > s) n = (size_t)(plus - s);
    for (bool again = true; again;) {
        again = false;
        static const char *const suffixes[] = {"-tl", "-hl", "-nc"};
        for (int k = 0; k < 3; k++) {
            if (n > 3 && (s[n - 3] == '-') && (s[n - 2] | 0x20) == suffixes[k][1] &&
                (s[n - 1] | 0x20) == suffixes[k][2]) {
                n -= 3;
                again = true;
            }
        }
    }
    if (n > 1 && s[n - 1] == '*') n--;
    if (cap) {
        size_t m = n < cap - 1 ? n : cap - 1;
        for (size_t k = 0; k < m; k++) out[k] = (char)(s[k] >= 'A' && s[k] <= 'Z' ? s[k] + 32 : s[k]);
        out[m] = 0;
    }
    return n;
}
