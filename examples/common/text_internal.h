/* text_internal.h - what the text support files share: the error message,
 * a chunked string pool, a growable byte buffer, whole-file reads. Not part
 * of the examples' API (text.h). */
#ifndef RECUR_EXAMPLES_TEXT_INTERNAL_H
#define RECUR_EXAMPLES_TEXT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "text.h"

typedef struct pool_chunk {
    struct pool_chunk *next;
    size_t used, cap;
    max_align_t data[];
} pool_chunk;

typedef struct {
    pool_chunk *head;
} pool;

typedef struct {
    char *b;
    size_t n, cap;
} buf;

int tx__fail(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
int tx__fail_oom(const char *what);
void *tx__pool_alloc(pool *p, size_t n);
char *tx__pool_strndup(pool *p, const char *s, size_t n);
void tx__pool_free(pool *p);
bool tx__buf_reserve(buf *b, size_t extra);
bool tx__buf_put(buf *b, const void *s, size_t n);
bool tx__grow(void **arr, size_t *cap, size_t need, size_t sz);
int tx__hexval(int c); /* value of a hex digit, or -1 */
int tx__read_file(const char *path, pool *p, char **out, size_t *len);

#endif
