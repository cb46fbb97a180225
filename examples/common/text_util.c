/* text_util.c - the error message, string pool, byte buffer and file reads
 * shared by the text support files. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text_internal.h"

/* ---- errors -------------------------------------------------------------- */

static _Thread_local char tx_err[512];

const char *tx_error(void) { return tx_err; }

int tx__fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tx_err, sizeof tx_err, fmt, ap);
    va_end(ap);
    return -1;
}

int tx__fail_oom(const char *what) { return tx__fail("out of memory (%s)", what); }

/* ---- a chunked string pool: stable pointers, one free -------------------- */


void *tx__pool_alloc(pool *p, size_t n)
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

char *tx__pool_strndup(pool *p, const char *s, size_t n)
{
    char *r = tx__pool_alloc(p, n + 1);
    if (!r) return NULL;
    if (n) memcpy(r, s, n);
    r[n] = 0;
    return r;
}

void tx__pool_free(pool *p)
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

bool tx__buf_reserve(buf *b, size_t extra)
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

bool tx__buf_put(buf *b, const void *s, size_t n)
{
    if (!tx__buf_reserve(b, n)) return false;
    if (n) memcpy(b->b + b->n, s, n);
    b->n += n;
    return true;
}

/* Grows an array of elements of size sz to hold at least need. */
bool tx__grow(void **arr, size_t *cap, size_t need, size_t sz)
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
int tx__read_file(const char *path, pool *p, char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return tx__fail("cannot open %s: %s (fetch the data with tools/fetch-data.sh)", path,
                    strerror(errno));
    long sz = -1;
    if (fseek(f, 0, SEEK_END) == 0) sz = ftell(f);
    if (sz < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return tx__fail("cannot read %s: not a regular file", path);
    }
    char *b = p ? tx__pool_alloc(p, (size_t)sz + 1) : malloc((size_t)sz + 1);
    if (!b) {
        fclose(f);
        return tx__fail("out of memory reading %s (%ld bytes)", path, sz);
    }
    size_t got = fread(b, 1, (size_t)sz, f);
    int err = ferror(f);
    fclose(f);
    if (err || got != (size_t)sz) {
        if (!p) free(b);
        return tx__fail("cannot read %s: %s", path, err ? strerror(errno) : "file changed size");
    }
    b[got] = 0;
    *out = b;
    *len = got;
    return 0;
}

/* value of one hex digit, or -1 */
int tx__hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}
