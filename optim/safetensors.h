/* optim/safetensors.h - internal: a bounded, strict reader of safetensors
 * headers, and the JSON string escaping the writer needs.
 *
 * st_parse checks everything before anything is used: the 8-byte header
 * length against the buffer, the header as JSON of exactly the safetensors
 * shape (an object of tensor entries plus an optional "__metadata__" object
 * of strings; no recursion, so no depth to blow up), every dtype, every
 * shape's byte size against its data_offsets (overflow-checked), every range
 * against the data section, and that the ranges neither overlap nor leave
 * holes (the format requires the data to be indexed entirely). */
#ifndef RECUR_OPTIM_SAFETENSORS_H
#define RECUR_OPTIM_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#define ST_MAX_DIMS 8
#define ST_MAX_HEADER (100u << 20) /* the reference implementation's limit */

typedef struct st_tensor {
    const char *name;
    const char *dtype; /* as written: "F32", "F16", ... (known names only) */
    size_t elsize;     /* bytes per element */
    int ndim;
    uint64_t shape[ST_MAX_DIMS];
    uint64_t begin, end; /* relative to the data section */
} st_tensor;

typedef struct st_meta {
    const char *key, *value;
} st_meta;

typedef struct st_header {
    st_tensor *tensors; /* sorted by name */
    size_t ntensors;
    st_meta *meta; /* sorted by key */
    size_t nmeta;
    const uint8_t *data; /* the data section */
    uint64_t data_len;
    char *pool; /* decoded strings */
} st_header;

/* Parses buf[0..len). Returns 0, or -1 with a message in err (no file name;
 * the caller adds it). st_free is safe after either. */
int st_parse(const uint8_t *buf, size_t len, st_header *h, char *err, size_t errlen);
void st_free(st_header *h);

const st_tensor *st_find(const st_header *h, const char *name);
const char *st_meta_get(const st_header *h, const char *key);

/* true when s is valid UTF-8 without NUL bytes (what names may be) */
int st_utf8_ok(const char *s);

#endif
