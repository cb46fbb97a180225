/* vocab.c - the xxHash-keyed vocabulary and character tokens. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "text_internal.h"

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
    char *copy = tx__pool_strndup(&v->strings, s, n);
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
        tx__fail_oom("vocabulary");
        return NULL;
    }
    v->mask = UINT64_MAX;
    for (int k = 0; k < TX_NSPECIAL; k++) {
        const char *t = special_tokens[k];
        if (vinsert(v, t, strlen(t), vhash(v, t, strlen(t)), 0) != k) {
            tx_vocab_free(v);
            tx__fail_oom("vocabulary");
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
    tx__pool_free(&v->strings);
    free(v);
}

int32_t tx_vocab_add(tx_vocab *v, const char *tok, size_t len)
{
    if (!v || (!tok && len)) return tx__fail("tx_vocab_add: NULL argument");
    uint64_t h = vhash(v, tok, len);
    int32_t id = vfind(v, tok, len, h);
    if (id >= 0) {
        v->count[id]++;
        return id;
    }
    id = vinsert(v, tok, len, h, 1);
    if (id < 0) return tx__fail("vocabulary: out of memory or full (%zu tokens)", v->n);
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
        tx__fail("tx_vocab_cut: NULL vocabulary");
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
    tx__fail_oom("vocabulary cut");
    return NULL;
}

int tx_vocab_save(const tx_vocab *v, const char *path)
{
    if (!v || !path) return tx__fail("tx_vocab_save: NULL argument");
    FILE *f = fopen(path, "w");
    if (!f) return tx__fail("cannot write %s: %s", path, strerror(errno));
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
    if (fclose(f) != 0 || bad) return tx__fail("cannot write %s: %s", path, strerror(errno));
    return 0;
}

tx_vocab *tx_vocab_load(const char *path)
{
    char *text;
    size_t n;
    if (!path) {
        tx__fail("tx_vocab_load: NULL path");
        return NULL;
    }
    if (tx__read_file(path, NULL, &text, &n) != 0) return NULL;
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
            tx__fail("%s:1: not a recur vocabulary (want '# recur-vocab 1 SIZE')", path);
            goto out;
        }
    }
    v = calloc(1, sizeof *v);
    if (!v) {
        tx__fail_oom("vocabulary");
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
            tx__fail("%s:%zu: want COUNT<TAB>TOKEN", path, line);
            goto bad;
        }
        tok.n = 0;
        for (char *c = tab + 1; c < le; c++) {
            char ch = *c;
            if (ch == '\\') {
                if (c + 1 >= le) {
                    tx__fail("%s:%zu: dangling backslash", path, line);
                    goto bad;
                }
                c++;
                if (*c == '\\') ch = '\\';
                else if (*c == 't') ch = '\t';
                else if (*c == 'n') ch = '\n';
                else if (*c == 'r') ch = '\r';
                else if (*c == 'x' && c + 2 < le && tx__hexval(c[1]) >= 0 && tx__hexval(c[2]) >= 0) {
                    ch = (char)(tx__hexval(c[1]) * 16 + tx__hexval(c[2]));
                    c += 2;
                } else {
                    tx__fail("%s:%zu: bad escape '\\%c'", path, line, *c);
                    goto bad;
                }
            }
            if (!tx__buf_put(&tok, &ch, 1)) {
                tx__fail_oom("vocabulary");
                goto bad;
            }
        }
        uint64_t h = vhash(v, tok.b ? tok.b : "", tok.n);
        if (vfind(v, tok.b ? tok.b : "", tok.n, h) >= 0) {
            tx__fail("%s:%zu: duplicate token", path, line);
            goto bad;
        }
        size_t id = v->n;
        if (id < TX_NSPECIAL && (tok.n != strlen(special_tokens[id]) ||
                                 memcmp(tok.b, special_tokens[id], tok.n) != 0)) {
            tx__fail("%s:%zu: id %zu must be %s", path, line, id, special_tokens[id]);
            goto bad;
        }
        if (vinsert(v, tok.b ? tok.b : "", tok.n, h, cnt) < 0) {
            tx__fail_oom("vocabulary");
            goto bad;
        }
        p = eol ? eol + 1 : end;
    }
    if (v->n != size || size < TX_NSPECIAL) {
        tx__fail("%s: header says %zu tokens, file has %zu", path, size, v->n);
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
    if (!v || (!s && n)) return tx__fail("tx_count_chars: NULL argument");
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
        tx__fail("tx_encode_chars: NULL argument");
        return NULL;
    }
    int32_t *ids = malloc((n ? n : 1) * sizeof *ids), ascii[128];
    if (!ids) {
        tx__fail_oom("character ids");
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

