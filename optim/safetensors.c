/* A strict safetensors header parser: see safetensors.h. Every read goes
 * through the cursor, which knows the header's end; every number is checked
 * before it is used. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors.h"

typedef struct cursor {
    const uint8_t *s;
    size_t len, pos;
    char *pool;   /* decoded strings go here */
    size_t used;  /* bytes of pool used */
    char *err;
    size_t errlen;
    int failed;
} cursor;

static int fail(cursor *c, const char *fmt, ...)
{
    if (!c->failed) {
        va_list ap;
        va_start(ap, fmt);
        int n = snprintf(c->err, c->errlen, "malformed header JSON at byte %zu: ",
                         8 + c->pos);
        if (n >= 0 && (size_t)n < c->errlen)
            vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
        va_end(ap);
        c->failed = 1;
    }
    return -1;
}

static void skip_ws(cursor *c)
{
    while (c->pos < c->len) {
        uint8_t ch = c->s[c->pos];
        if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r')
            break;
        c->pos++;
    }
}

/* The next non-space byte, or -1 at the end. */
static int peek(cursor *c)
{
    skip_ws(c);
    return c->pos < c->len ? c->s[c->pos] : -1;
}

static int expect(cursor *c, char ch, const char *what)
{
    int got = peek(c);
    if (got != ch) {
        if (got < 0)
            return fail(c, "the header ends where %s was expected", what);
        return fail(c, "expected %s, found '%c'", what, got >= 32 && got < 127 ? got : '?');
    }
    c->pos++;
    return 0;
}

/* Length of the UTF-8 sequence at p (n bytes available), 0 if invalid. */
static size_t utf8_len(const uint8_t *p, size_t n)
{
    uint8_t b = p[0];
    size_t len;
    uint32_t cp;
    if (b < 0x80)
        return 1;
    if (b >= 0xC2 && b <= 0xDF)
        len = 2, cp = b & 0x1F;
    else if (b >= 0xE0 && b <= 0xEF)
        len = 3, cp = b & 0x0F;
    else if (b >= 0xF0 && b <= 0xF4)
        len = 4, cp = b & 0x07;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0; /* overlong, out of range, or a surrogate */
    return len;
}

int st_utf8_ok(const char *s)
{
    const uint8_t *p = (const uint8_t *)s;
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        size_t k = utf8_len(p + i, n - i);
        if (!k)
            return 0;
        i += k;
    }
    return 1;
}

static int hex4(cursor *c, uint32_t *out)
{
    uint32_t v = 0;
    if (c->len - c->pos < 4)
        return fail(c, "\\u escape cut short");
    for (int i = 0; i < 4; i++) {
        uint8_t h = c->s[c->pos++];
        int d = h >= '0' && h <= '9' ? h - '0'
              : h >= 'a' && h <= 'f' ? h - 'a' + 10
              : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
        if (d < 0)
            return fail(c, "bad hex digit in a \\u escape");
        v = v << 4 | (uint32_t)d;
    }
    *out = v;
    return 0;
}

static void put_utf8(cursor *c, uint32_t cp)
{
    char *o = c->pool + c->used;
    if (cp < 0x80) {
        o[0] = (char)cp, c->used += 1;
    } else if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6), o[1] = (char)(0x80 | (cp & 0x3F)), c->used += 2;
    } else if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12), o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F)), c->used += 3;
    } else {
        o[0] = (char)(0xF0 | cp >> 18), o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
        o[2] = (char)(0x80 | (cp >> 6 & 0x3F)), o[3] = (char)(0x80 | (cp & 0x3F));
        c->used += 4;
    }
}

/* A JSON string, decoded into the pool (never longer than its encoding,
 * quotes included, so the pool of header size cannot overflow). */
static const char *string(cursor *c)
{
    if (expect(c, '"', "a string") != 0)
        return NULL;
    char *start = c->pool + c->used;
    for (;;) {
        if (c->pos >= c->len)
            return fail(c, "unterminated string"), NULL;
        uint8_t ch = c->s[c->pos];
        if (ch == '"') {
            c->pos++;
            break;
        }
        if (ch < 0x20)
            return fail(c, "control character 0x%02x in a string", ch), NULL;
        if (ch == '\\') {
            if (++c->pos >= c->len)
                return fail(c, "unterminated string"), NULL;
            uint8_t e = c->s[c->pos++];
            const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
            const char *k = e ? strchr(from, e) : NULL;
            if (k) {
                c->pool[c->used++] = to[k - from];
            } else if (e == 'u') {
                uint32_t cp, lo;
                if (hex4(c, &cp) != 0)
                    return NULL;
                if (cp >= 0xDC00 && cp <= 0xDFFF)
                    return fail(c, "lone low surrogate \\u%04x", (unsigned)cp), NULL;
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    if (c->len - c->pos < 2 || c->s[c->pos] != '\\' || c->s[c->pos + 1] != 'u')
                        return fail(c, "high surrogate without its low half"), NULL;
                    c->pos += 2;
                    if (hex4(c, &lo) != 0)
                        return NULL;
                    if (lo < 0xDC00 || lo > 0xDFFF)
                        return fail(c, "high surrogate without its low half"), NULL;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                }
                if (cp == 0)
                    return fail(c, "\\u0000 in a string"), NULL;
                put_utf8(c, cp);
            } else {
                return fail(c, "bad escape \\%c", e >= 32 && e < 127 ? e : '?'), NULL;
            }
            continue;
        }
        size_t k = utf8_len(c->s + c->pos, c->len - c->pos);
        if (!k)
            return fail(c, "invalid UTF-8 in a string"), NULL;
        memcpy(c->pool + c->used, c->s + c->pos, k);
        c->used += k;
        c->pos += k;
    }
    c->pool[c->used++] = '\0';
    return start;
}

/* A non-negative integer without sign, fraction, exponent or leading zero. */
static int uinteger(cursor *c, uint64_t *out)
{
    int ch = peek(c);
    if (ch == '-')
        return fail(c, "negative number");
    if (ch < '0' || ch > '9')
        return fail(c, "expected an integer");
    uint64_t v = 0;
    size_t start = c->pos;
    while (c->pos < c->len && c->s[c->pos] >= '0' && c->s[c->pos] <= '9') {
        unsigned d = c->s[c->pos] - '0';
        if (v > (UINT64_MAX - d) / 10)
            return fail(c, "integer too large");
        v = v * 10 + d;
        c->pos++;
    }
    if (c->s[start] == '0' && c->pos - start > 1)
        return fail(c, "integer with a leading zero");
    if (c->pos < c->len && (c->s[c->pos] == '.' || c->s[c->pos] == 'e' || c->s[c->pos] == 'E'))
        return fail(c, "expected an integer, found a fraction or exponent");
    *out = v;
    return 0;
}

/* [int, int, ...] with at most max entries; returns the count or -1. */
static int int_array(cursor *c, uint64_t *out, int max, const char *what)
{
    if (expect(c, '[', what) != 0)
        return -1;
    int n = 0;
    if (peek(c) == ']') {
        c->pos++;
        return 0;
    }
    for (;;) {
        if (n == max)
            return fail(c, "%s has more than %d entries", what, max);
        if (uinteger(c, &out[n++]) != 0)
            return -1;
        int ch = peek(c);
        if (ch == ']') {
            c->pos++;
            return n;
        }
        if (expect(c, ',', "',' or ']'") != 0)
            return -1;
    }
}

static const struct {
    const char *name;
    size_t size;
} dtypes[] = {
    {"BOOL", 1}, {"U8", 1}, {"I8", 1}, {"F8_E5M2", 1}, {"F8_E4M3", 1}, {"I16", 2},
    {"U16", 2}, {"F16", 2}, {"BF16", 2}, {"I32", 4}, {"U32", 4}, {"F32", 4},
    {"I64", 8}, {"U64", 8}, {"F64", 8},
};

typedef struct grow {
    void *items;
    size_t n, cap, size;
} grow;

static void *grow_push(grow *g)
{
    if (g->n == g->cap) {
        size_t cap = g->cap ? 2 * g->cap : 16;
        void *p = realloc(g->items, cap * g->size);
        if (!p)
            return NULL;
        g->items = p;
        g->cap = cap;
    }
    void *slot = (char *)g->items + g->n++ * g->size;
    memset(slot, 0, g->size);
    return slot;
}

static int tensor_entry(cursor *c, st_tensor *t)
{
    int seen_dtype = 0, seen_shape = 0, seen_offsets = 0;
    if (expect(c, '{', "'{' opening a tensor entry") != 0)
        return -1;
    if (peek(c) == '}')
        return fail(c, "tensor '%s' has no dtype, shape or data_offsets", t->name);
    for (;;) {
        const char *key = string(c);
        if (!key || expect(c, ':', "':'") != 0)
            return -1;
        if (!strcmp(key, "dtype")) {
            const char *d = string(c);
            if (!d || seen_dtype++)
                return d ? fail(c, "tensor '%s': dtype given twice", t->name) : -1;
            for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
                if (!strcmp(d, dtypes[i].name))
                    t->dtype = dtypes[i].name, t->elsize = dtypes[i].size;
            if (!t->dtype)
                return fail(c, "tensor '%s': unknown dtype \"%.32s\"", t->name, d);
        } else if (!strcmp(key, "shape")) {
            if (seen_shape++)
                return fail(c, "tensor '%s': shape given twice", t->name);
            t->ndim = int_array(c, t->shape, ST_MAX_DIMS, "shape");
            if (t->ndim < 0)
                return -1;
        } else if (!strcmp(key, "data_offsets")) {
            uint64_t off[2];
            if (seen_offsets++)
                return fail(c, "tensor '%s': data_offsets given twice", t->name);
            int n = int_array(c, off, 2, "data_offsets");
            if (n < 0)
                return -1;
            if (n != 2)
                return fail(c, "tensor '%s': data_offsets needs 2 numbers", t->name);
            t->begin = off[0], t->end = off[1];
        } else {
            return fail(c, "tensor '%s': unexpected field \"%.32s\"", t->name, key);
        }
        if (peek(c) == '}') {
            c->pos++;
            break;
        }
        if (expect(c, ',', "',' or '}'") != 0)
            return -1;
    }
    if (!seen_dtype || !seen_shape || !seen_offsets)
        return fail(c, "tensor '%s' lacks %s", t->name,
                    !seen_dtype ? "dtype" : !seen_shape ? "shape" : "data_offsets");
    return 0;
}

static int metadata(cursor *c, grow *meta)
{
    if (expect(c, '{', "'{' opening __metadata__") != 0)
        return -1;
    if (peek(c) == '}') {
        c->pos++;
        return 0;
    }
    for (;;) {
        st_meta *m = grow_push(meta);
        if (!m)
            return fail(c, "out of memory");
        m->key = string(c);
        if (!m->key || expect(c, ':', "':'") != 0)
            return -1;
        if (peek(c) != '"')
            return fail(c, "__metadata__ value of \"%.64s\" is not a string", m->key);
        if (!(m->value = string(c)))
            return -1;
        if (peek(c) == '}') {
            c->pos++;
            return 0;
        }
        if (expect(c, ',', "',' or '}'") != 0)
            return -1;
    }
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const st_tensor *)a)->name, ((const st_tensor *)b)->name);
}

static int by_key(const void *a, const void *b)
{
    return strcmp(((const st_meta *)a)->key, ((const st_meta *)b)->key);
}

static int by_begin(const void *a, const void *b)
{
    const st_tensor *x = *(const st_tensor *const *)a, *y = *(const st_tensor *const *)b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

static int errorf(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* Byte ranges: each matches its dtype and shape, lies in the data, and
 * together they tile the data exactly. */
static int check_ranges(st_header *h, char *err, size_t errlen)
{
    for (size_t i = 0; i < h->ntensors; i++) {
        const st_tensor *t = &h->tensors[i];
        uint64_t bytes = t->elsize;
        for (int d = 0; d < t->ndim; d++) {
            if (t->shape[d] && bytes > UINT64_MAX / t->shape[d])
                return errorf(err, errlen, "tensor '%s': shape overflows", t->name);
            bytes *= t->shape[d];
        }
        if (t->end < t->begin)
            return errorf(err, errlen, "tensor '%s': data_offsets [%llu, %llu] end before "
                          "they begin", t->name, (unsigned long long)t->begin,
                          (unsigned long long)t->end);
        if (t->end > h->data_len)
            return errorf(err, errlen, "tensor '%s': data_offsets [%llu, %llu] lie outside "
                          "the %llu bytes of data", t->name, (unsigned long long)t->begin,
                          (unsigned long long)t->end, (unsigned long long)h->data_len);
        if (t->end - t->begin != bytes)
            return errorf(err, errlen, "tensor '%s': data_offsets [%llu, %llu] hold %llu "
                          "bytes, its dtype and shape need %llu", t->name,
                          (unsigned long long)t->begin, (unsigned long long)t->end,
                          (unsigned long long)(t->end - t->begin),
                          (unsigned long long)bytes);
    }
    const st_tensor **order = malloc((h->ntensors ? h->ntensors : 1) * sizeof *order);
    if (!order)
        return errorf(err, errlen, "out of memory");
    for (size_t i = 0; i < h->ntensors; i++)
        order[i] = &h->tensors[i];
    qsort(order, h->ntensors, sizeof *order, by_begin);
    uint64_t at = 0;
    int rc = 0;
    for (size_t i = 0; i < h->ntensors && rc == 0; i++) {
        const st_tensor *t = order[i];
        if (t->begin < at)
            rc = errorf(err, errlen, "tensors '%s' and '%s' overlap (bytes %llu..%llu)",
                        order[i - 1]->name, t->name, (unsigned long long)t->begin,
                        (unsigned long long)at);
        else if (t->begin > at)
            rc = errorf(err, errlen, "data bytes %llu..%llu belong to no tensor",
                        (unsigned long long)at, (unsigned long long)t->begin);
        at = t->end > at ? t->end : at;
    }
    if (rc == 0 && at != h->data_len)
        rc = errorf(err, errlen, "data bytes %llu..%llu after the last tensor belong to no "
                    "tensor", (unsigned long long)at, (unsigned long long)h->data_len);
    free(order);
    return rc;
}

void st_free(st_header *h)
{
    if (!h)
        return;
    free(h->tensors);
    free(h->meta);
    free(h->pool);
    memset(h, 0, sizeof *h);
}

int st_parse(const uint8_t *buf, size_t len, st_header *h, char *err, size_t errlen)
{
    memset(h, 0, sizeof *h);
    if (!buf || len < 8)
        return errorf(err, errlen, "truncated: %zu bytes, less than the 8-byte header length",
                      buf ? len : 0);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | buf[i];
    if (hlen > len - 8)
        return errorf(err, errlen, "truncated: the header length %llu runs past the end of "
                      "the file (%zu bytes after the length)", (unsigned long long)hlen,
                      len - 8);
    if (hlen > ST_MAX_HEADER)
        return errorf(err, errlen, "header length %llu is over the %u-byte limit",
                      (unsigned long long)hlen, ST_MAX_HEADER);
    if (hlen < 2)
        return errorf(err, errlen, "header length %llu is too short for a JSON object",
                      (unsigned long long)hlen);

    cursor c = {.s = buf + 8, .len = (size_t)hlen, .err = err, .errlen = errlen};
    grow tensors = {.size = sizeof(st_tensor)}, meta = {.size = sizeof(st_meta)};
    int seen_meta = 0, rc = -1;
    c.pool = malloc((size_t)hlen + 1);
    if (!c.pool) {
        errorf(err, errlen, "out of memory for a %llu-byte header", (unsigned long long)hlen);
        goto out;
    }
    if (c.s[0] != '{') {
        fail(&c, "the header must start with '{'");
        goto out;
    }
    c.pos = 1;
    if (peek(&c) == '}') {
        c.pos++;
    } else {
        for (;;) {
            const char *key = string(&c);
            if (!key || expect(&c, ':', "':'") != 0)
                goto out;
            if (!strcmp(key, "__metadata__")) {
                if (seen_meta++) {
                    fail(&c, "__metadata__ given twice");
                    goto out;
                }
                if (metadata(&c, &meta) != 0)
                    goto out;
            } else {
                st_tensor *t = grow_push(&tensors);
                if (!t) {
                    fail(&c, "out of memory");
                    goto out;
                }
                t->name = key;
                if (tensor_entry(&c, t) != 0)
                    goto out;
            }
            if (peek(&c) == '}') {
                c.pos++;
                break;
            }
            if (expect(&c, ',', "',' or '}'") != 0)
                goto out;
        }
    }
    /* only spaces may follow (writers pad the header to align the data) */
    if (peek(&c) >= 0) {
        fail(&c, "unexpected bytes after the header object");
        goto out;
    }
    h->tensors = tensors.items, h->ntensors = tensors.n;
    h->meta = meta.items, h->nmeta = meta.n;
    h->pool = c.pool;
    tensors.items = meta.items = NULL;
    c.pool = NULL;
    h->data = buf + 8 + hlen;
    h->data_len = (uint64_t)(len - 8 - (size_t)hlen);
    if (h->ntensors > 1) /* (qsort of NULL, 0 is undefined) */
        qsort(h->tensors, h->ntensors, sizeof *h->tensors, by_name);
    if (h->nmeta > 1)
        qsort(h->meta, h->nmeta, sizeof *h->meta, by_key);
    for (size_t i = 1; i < h->ntensors; i++)
        if (!strcmp(h->tensors[i].name, h->tensors[i - 1].name)) {
            errorf(err, errlen, "tensor '%s' appears twice in the header", h->tensors[i].name);
            goto out;
        }
    for (size_t i = 1; i < h->nmeta; i++)
        if (!strcmp(h->meta[i].key, h->meta[i - 1].key)) {
            errorf(err, errlen, "__metadata__ key '%s' appears twice", h->meta[i].key);
            goto out;
        }
    rc = check_ranges(h, err, errlen);
out:
    free(tensors.items);
    free(meta.items);
    free(c.pool);
    if (rc != 0)
        st_free(h);
    return rc;
}

const st_tensor *st_find(const st_header *h, const char *name)
{
    st_tensor key = {.name = name};
    return h->ntensors ? bsearch(&key, h->tensors, h->ntensors, sizeof key, by_name) : NULL;
}

const char *st_meta_get(const st_header *h, const char *key)
{
    st_meta k = {.key = key};
    const st_meta *m = h->nmeta ? bsearch(&k, h->meta, h->nmeta, sizeof k, by_key) : NULL;
    return m ? m->value : NULL;
}
