/* Checkpoints: safetensors files written atomically, loaded only after the
 * whole file checked out (see recur/checkpoint.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "recur/checkpoint.h"
#include "recur/op.h"
#include "internal.h"
#include "safetensors.h"

#if RC_REAL_IS_DOUBLE
#define DTYPE "F64"
#else
#define DTYPE "F32"
#endif

static int errorf(char *err, size_t errlen, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static int errorf(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* ---- a growing string ------------------------------------------------------ */

typedef struct sbuf {
    char *s;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *p = realloc(b->s, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->s = p, b->cap = cap;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = '\0';
}

static void sb_str(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_printf(sbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        sb_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* A JSON string literal: quotes, backslashes and control bytes escaped. */
static void sb_json(sbuf *b, const char *s)
{
    sb_put(b, "\"", 1);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            char e[2] = {'\\', (char)ch};
            sb_put(b, e, 2);
        } else if (ch < 0x20) {
            sb_printf(b, "\\u%04x", ch);
        } else {
            sb_put(b, s, 1);
        }
    }
    sb_put(b, "\"", 1);
}

/* ---- what a checkpoint holds ------------------------------------------------ */

typedef struct item {
    char *name;
    rc_shape shape;
    rc_real *data; /* the parameter's or the state's slice */
    size_t n;
} item;

typedef struct plan {
    item *items;
    size_t n;
} plan;

static void plan_free(plan *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->items[i].name);
    free(p->items);
    p->items = NULL;
    p->n = 0;
}

static char *join3(const char *a, const char *b, const char *c)
{
    size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
    char *s = malloc(la + lb + lc + 1);
    if (s) {
        memcpy(s, a, la);
        memcpy(s + la, b, lb);
        memcpy(s + la + lb, c, lc + 1);
    }
    return s;
}

/* Parameters in creation order, then each optimizer state per parameter. */
static int make_plan(rc_params *ps, rc_optim *opt, plan *pl)
{
    size_t np = rc_params_count(ps), ns = opt ? rc_optim_state_count(opt) : 0;
    pl->n = 0;
    pl->items = calloc(np * (1 + ns) + 1, sizeof *pl->items);
    if (!pl->items)
        return -1;
    for (size_t s = 0; s <= ns; s++) {
        for (size_t i = 0; i < np; i++) {
            rc_node *p = rc_params_at(ps, i);
            item *it = &pl->items[pl->n++];
            it->shape = p->val.shape;
            it->n = p->val.size;
            if (s == 0) {
                it->name = join3(rc_param_name(p), "", "");
                it->data = p->val.data;
            } else {
                const char *st = rc_optim_state_name(opt, s - 1);
                it->name = join3("optim.", st, "");
                char *full = it->name ? join3(it->name, ".", rc_param_name(p)) : NULL;
                free(it->name);
                it->name = full;
                it->data = rc_optim_state(opt, s - 1) + p->offset;
            }
            if (!it->name)
                return -1;
        }
    }
    return 0;
}

static int by_item_name(const void *a, const void *b)
{
    return strcmp((*(const item *const *)a)->name, (*(const item *const *)b)->name);
}

/* ---- saving --------------------------------------------------------------- */

static int write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n > (1u << 30) ? (1u << 30) : n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int build_header(const plan *pl, rc_optim *opt, sbuf *h)
{
    sb_str(h, "{\"__metadata__\":{\"format\":\"pt\",\"recur.version\":\"" RC_VERSION
              "\",\"recur.checksum\":\"xxh3-64\"");
    if (opt) {
        sb_str(h, ",\"optim.kind\":");
        sb_json(h, rc_optim_kind_name(rc_optim_get_config(opt)->kind));
        sb_printf(h, ",\"optim.step\":\"%ld\",\"optim.lr\":\"%.17g\"", rc_optim_steps(opt),
                  rc_optim_lr(opt));
    }
    for (size_t i = 0; i < pl->n; i++) {
        const item *it = &pl->items[i];
        sb_str(h, ",");
        char *key = join3("xxh3.", it->name, "");
        if (!key)
            return -1;
        sb_json(h, key);
        free(key);
        sb_printf(h, ":\"%016" PRIx64 "\"",
                  (uint64_t)XXH3_64bits(it->data, it->n * sizeof(rc_real)));
    }
    sb_str(h, "}");
    uint64_t off = 0;
    for (size_t i = 0; i < pl->n; i++) {
        const item *it = &pl->items[i];
        sb_str(h, ",");
        sb_json(h, it->name);
        sb_str(h, ":{\"dtype\":\"" DTYPE "\",\"shape\":[");
        for (int d = 0; d < it->shape.ndim; d++)
            sb_printf(h, "%s%d", d ? "," : "", it->shape.d[d]);
        uint64_t end = off + it->n * sizeof(rc_real);
        sb_printf(h, "],\"data_offsets\":[%" PRIu64 ",%" PRIu64 "]}", off, end);
        off = end;
    }
    sb_str(h, "}");
    while (h->n % 8) /* the data starts 8-byte aligned */
        sb_str(h, " ");
    return h->oom ? -1 : 0;
}

static int check_names(const plan *pl, const char *path, char *err, size_t errlen)
{
    const item **order = malloc((pl->n + 1) * sizeof *order);
    if (!order)
        return errorf(err, errlen, "%s: out of memory", path);
    int rc = 0;
    for (size_t i = 0; i < pl->n && rc == 0; i++) {
        order[i] = &pl->items[i];
        if (!st_utf8_ok(pl->items[i].name) || !strcmp(pl->items[i].name, "__metadata__"))
            rc = errorf(err, errlen, "%s: cannot save tensor name '%s' (not UTF-8, or "
                        "reserved)", path, pl->items[i].name);
    }
    if (rc == 0) {
        qsort(order, pl->n, sizeof *order, by_item_name);
        for (size_t i = 1; i < pl->n && rc == 0; i++)
            if (!strcmp(order[i]->name, order[i - 1]->name))
                rc = errorf(err, errlen, "%s: two tensors would be named '%s'", path,
                            order[i]->name);
    }
    free(order);
    return rc;
}

int rc_checkpoint_save(const char *path, rc_params *ps, rc_optim *opt, char *err,
                       size_t errlen)
{
    if (!path || !ps)
        return errorf(err, errlen, "checkpoint save: %s is NULL", path ? "params" : "path");
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    return errorf(err, errlen, "%s: saving on big-endian hosts is not supported", path);
#endif
    char why[160];
    if (opt && rc__optim_covers(opt, ps, why, sizeof why) != 0)
        return errorf(err, errlen, "%s: cannot save the optimizer: %s", path, why);
    plan pl = {0};
    sbuf h = {0};
    char *tmp = NULL;
    int fd = -1, rc = -1, created = 0;
    if (make_plan(ps, opt, &pl) != 0) {
        errorf(err, errlen, "%s: out of memory", path);
        goto out;
    }
    if (check_names(&pl, path, err, errlen) != 0)
        goto out;
    if (build_header(&pl, opt, &h) != 0) {
        errorf(err, errlen, "%s: out of memory building the header", path);
        goto out;
    }
    tmp = join3(path, ".tmp.XXXXXX", "");
    if (!tmp) {
        errorf(err, errlen, "%s: out of memory", path);
        goto out;
    }
    fd = mkstemp(tmp);
    if (fd < 0) {
        errorf(err, errlen, "%s: cannot create a temporary file next to it: %s", path,
               strerror(errno));
        goto out;
    }
    created = 1;
    uint8_t len[8];
    for (int i = 0; i < 8; i++)
        len[i] = (uint8_t)((uint64_t)h.n >> (8 * i));
    int ok = fchmod(fd, 0644) == 0 && write_all(fd, len, 8) == 0 &&
             write_all(fd, h.s, h.n) == 0;
    for (size_t i = 0; ok && i < pl.n; i++)
        ok = write_all(fd, pl.items[i].data, pl.items[i].n * sizeof(rc_real)) == 0;
    if (!ok || fsync(fd) != 0) {
        errorf(err, errlen, "%s: writing %s failed: %s", path, tmp, strerror(errno));
        goto out;
    }
    int cr = close(fd);
    fd = -1;
    if (cr != 0) {
        errorf(err, errlen, "%s: closing %s failed: %s", path, tmp, strerror(errno));
        goto out;
    }
    if (rename(tmp, path) != 0) {
        errorf(err, errlen, "%s: renaming %s over it failed: %s", path, tmp, strerror(errno));
        goto out;
    }
    free(tmp);
    tmp = NULL; /* renamed: nothing to clean up */
    /* make the rename itself durable */
    const char *slash = strrchr(path, '/');
    char *dir = slash ? join3("", "", path) : join3(".", "", "");
    if (dir && slash)
        dir[slash == path ? 1 : slash - path] = '\0';
    int dfd = dir ? open(dir, O_RDONLY | O_DIRECTORY) : -1;
    if (dfd < 0 || fsync(dfd) != 0) {
        errorf(err, errlen, "%s: saved, but syncing its folder %s failed: %s", path,
               dir ? dir : "?", strerror(errno));
        if (dfd >= 0)
            close(dfd);
        free(dir);
        goto out;
    }
    close(dfd);
    free(dir);
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    if (tmp && created)
        unlink(tmp); /* a failed save leaves no temporary behind */
    free(tmp);
    free(h.s);
    plan_free(&pl);
    return rc;
}

/* ---- loading -------------------------------------------------------------- */

static const char *file_shape(const st_tensor *t, char *buf, size_t n)
{
    size_t at = (size_t)snprintf(buf, n, "[");
    for (int d = 0; d < t->ndim && at < n; d++)
        at += (size_t)snprintf(buf + at, n - at, "%s%" PRIu64, d ? "x" : "", t->shape[d]);
    if (at < n)
        snprintf(buf + at, n - at, "]");
    return buf;
}

/* The tensor must exist with a loadable dtype and the parameter's shape. */
static const st_tensor *match(const st_header *h, const char *name, const rc_node *p,
                              const char *label, char *err, size_t errlen)
{
    char a[160], b[64];
    const st_tensor *t = st_find(h, name);
    if (!t)
        return errorf(err, errlen, "%s: tensor '%s' of the model is missing from the file",
                      label, name), NULL;
    if (strcmp(t->dtype, "F32") && strcmp(t->dtype, "F64"))
        return errorf(err, errlen, "%s: tensor '%s' has dtype %s; recur loads F32 and F64",
                      label, name, t->dtype), NULL;
    int same = t->ndim == p->val.shape.ndim;
    for (int d = 0; same && d < t->ndim; d++)
        same = t->shape[d] == (uint64_t)p->val.shape.d[d];
    if (!same)
        return errorf(err, errlen, "%s: tensor '%s' has shape %s in the file, %s in the "
                      "model", label, name, file_shape(t, a, sizeof a),
                      rc_shape_str(p->val.shape, b)), NULL;
    return t;
}

/* Little-endian file bytes to rc_real, whatever the host's byte order. */
static void convert(const st_header *h, const st_tensor *t, rc_real *dst, size_t n)
{
    const uint8_t *src = h->data + t->begin;
    if (t->elsize == 4) {
        for (size_t k = 0; k < n; k++) {
            const uint8_t *q = src + 4 * k;
            uint32_t u = (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 |
                         (uint32_t)q[3] << 24;
            float f;
            memcpy(&f, &u, 4);
            dst[k] = (rc_real)f;
        }
    } else {
        for (size_t k = 0; k < n; k++) {
            uint64_t u = 0;
            for (int i = 7; i >= 0; i--)
                u = u << 8 | src[8 * k + (size_t)i];
            double f;
            memcpy(&f, &u, 8);
            dst[k] = (rc_real)f;
        }
    }
}

static int parse_hex64(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    int n = 0;
    for (; *s; s++, n++) {
        int d = *s >= '0' && *s <= '9' ? *s - '0' : *s >= 'a' && *s <= 'f' ? *s - 'a' + 10 : -1;
        if (d < 0 || n == 16)
            return -1;
        v = v << 4 | (uint64_t)d;
    }
    *out = v;
    return n == 16 ? 0 : -1;
}

static int parse_step(const char *s, long *out)
{
    long v = 0;
    if (!s || !*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (0x7fffffffL - (*s - '0')) / 10)
            return -1;
        v = v * 10 + (*s - '0');
    }
    *out = v;
    return 0;
}

static int verify_checksums(const st_header *h, const char *label, char *err, size_t errlen)
{
    const char *kind = st_meta_get(h, "recur.checksum");
    if (kind && strcmp(kind, "xxh3-64"))
        return errorf(err, errlen, "%s: unknown checksum kind '%.32s' (recur writes xxh3-64)",
                      label, kind);
    size_t longest = 0;
    for (size_t i = 0; i < h->ntensors; i++)
        longest = strlen(h->tensors[i].name) > longest ? strlen(h->tensors[i].name) : longest;
    char *key = malloc(longest + 8);
    if (!key)
        return errorf(err, errlen, "%s: out of memory", label);
    int rc = 0;
    for (size_t i = 0; i < h->ntensors && rc == 0; i++) {
        const st_tensor *t = &h->tensors[i];
        memcpy(key, "xxh3.", 5);
        memcpy(key + 5, t->name, strlen(t->name) + 1);
        const char *want = st_meta_get(h, key);
        uint64_t w, got;
        if (!want) {
            if (kind)
                rc = errorf(err, errlen, "%s: tensor '%s' has no checksum in __metadata__",
                            label, t->name);
            continue;
        }
        if (parse_hex64(want, &w) != 0) {
            rc = errorf(err, errlen, "%s: checksum of tensor '%s' is not 16 hex digits: "
                        "'%.40s'", label, t->name, want);
            continue;
        }
        got = XXH3_64bits(h->data + t->begin, (size_t)(t->end - t->begin));
        if (got != w)
            rc = errorf(err, errlen, "%s: checksum mismatch in tensor '%s': the header "
                        "records %016" PRIx64 ", the data hashes to %016" PRIx64
                        " (the file is corrupt)", label, t->name, w, got);
    }
    free(key);
    return rc;
}

/* Everything is checked against the file before anything is copied. */
static int load_checked(const st_header *h, const char *label, rc_params *ps, rc_optim *opt,
                        char *err, size_t errlen)
{
    size_t np = rc_params_count(ps), ns = opt ? rc_optim_state_count(opt) : 0;
    const st_tensor **src = calloc(np * (1 + ns) + 1, sizeof *src);
    unsigned char *used = calloc(h->ntensors + 1, 1);
    char *name = NULL;
    long step = 0;
    double lr = 0;
    int rc = -1;
    if (!src || !used) {
        errorf(err, errlen, "%s: out of memory", label);
        goto out;
    }
    for (size_t i = 0; i < np; i++) {
        rc_node *p = rc_params_at(ps, i);
        if (!(src[i] = match(h, rc_param_name(p), p, label, err, errlen)))
            goto out;
        used[src[i] - h->tensors] = 1;
    }
    if (opt) {
        const char *kind = st_meta_get(h, "optim.kind");
        const char *mine = rc_optim_kind_name(rc_optim_get_config(opt)->kind);
        const char *s_step = st_meta_get(h, "optim.step"), *s_lr = st_meta_get(h, "optim.lr");
        char *end = NULL;
        if (!kind) {
            errorf(err, errlen, "%s: the file holds no optimizer state (no optim.kind in "
                   "__metadata__)", label);
            goto out;
        }
        if (strcmp(kind, mine)) {
            errorf(err, errlen, "%s: the file's optimizer is '%.32s', this one is '%s'", label,
                   kind, mine);
            goto out;
        }
        if (parse_step(s_step, &step) != 0) {
            errorf(err, errlen, "%s: optim.step in __metadata__ is missing or not a count",
                   label);
            goto out;
        }
        if (s_lr)
            lr = strtod(s_lr, &end);
        if (!s_lr || end == s_lr || *end || !(lr >= 0) || !isfinite(lr)) {
            errorf(err, errlen, "%s: optim.lr in __metadata__ is missing or not a rate", label);
            goto out;
        }
    }
    for (size_t s = 0; s < ns; s++) {
        for (size_t i = 0; i < np; i++) {
            rc_node *p = rc_params_at(ps, i);
            char *pre = join3("optim.", rc_optim_state_name(opt, s), ".");
            free(name);
            name = pre ? join3(pre, rc_param_name(p), "") : NULL;
            free(pre);
            if (!name) {
                errorf(err, errlen, "%s: out of memory", label);
                goto out;
            }
            const st_tensor *t = match(h, name, p, label, err, errlen);
            if (!t)
                goto out;
            src[(s + 1) * np + i] = t;
            used[t - h->tensors] = 1;
        }
    }
    for (size_t i = 0; i < h->ntensors; i++) {
        const char *n = h->tensors[i].name;
        if (used[i] || (!opt && !strncmp(n, "optim.", 6)))
            continue;
        if (!strncmp(n, "optim.", 6))
            errorf(err, errlen, "%s: tensor '%s' is optimizer state this %s optimizer does "
                   "not have", label, n, rc_optim_kind_name(rc_optim_get_config(opt)->kind));
        else
            errorf(err, errlen, "%s: tensor '%s' is in the file but not in the model", label,
                   n);
        goto out;
    }
    if (verify_checksums(h, label, err, errlen) != 0)
        goto out;
    /* the whole file checked out: now copy */
    for (size_t s = 0; s <= ns; s++) {
        rc_real *base = s ? rc_optim_state(opt, s - 1) : NULL;
        for (size_t i = 0; i < np; i++) {
            rc_node *p = rc_params_at(ps, i);
            convert(h, src[s * np + i], s ? base + p->offset : p->val.data, p->val.size);
        }
    }
    if (opt) {
        rc_optim_set_steps(opt, step);
        rc_optim_set_lr(opt, lr);
    }
    rc = 0;
out:
    free(name);
    free(src);
    free(used);
    return rc;
}

int rc_checkpoint_load_buffer(const void *data, size_t size, const char *label,
                              rc_params *ps, rc_optim *opt, char *err, size_t errlen)
{
    char msg[RC_CHECKPOINT_ERROR_SIZE];
    st_header h;
    label = label ? label : "(buffer)";
    if (!ps)
        return errorf(err, errlen, "%s: params is NULL", label);
    if (opt && rc_optim_error(opt))
        return errorf(err, errlen, "%s: the optimizer is unusable: %s", label,
                      rc_optim_error(opt));
    if (opt && rc__optim_covers(opt, ps, msg, sizeof msg) != 0)
        return errorf(err, errlen, "%s: cannot load into the optimizer: %s", label, msg);
    if (st_parse(data, size, &h, msg, sizeof msg) != 0)
        return errorf(err, errlen, "%s: %s", label, msg);
    int rc = load_checked(&h, label, ps, opt, err, errlen);
    st_free(&h);
    return rc;
}

int rc_checkpoint_load(const char *path, rc_params *ps, rc_optim *opt, char *err,
                       size_t errlen)
{
    if (!path)
        return errorf(err, errlen, "checkpoint load: path is NULL");
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return errorf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return errorf(err, errlen, "%s: not a regular file", path);
    }
    if ((uint64_t)st.st_size > SIZE_MAX / 2) {
        close(fd);
        return errorf(err, errlen, "%s: too large to load (%lld bytes)", path,
                      (long long)st.st_size);
    }
    size_t size = (size_t)st.st_size, got = 0;
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) {
        close(fd);
        return errorf(err, errlen, "%s: out of memory for %zu bytes", path, size);
    }
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            free(buf);
            return errorf(err, errlen, "%s: read failed: %s", path, strerror(e));
        }
        if (r == 0)
            break; /* shrank while reading: the parser reports the truncation */
        got += (size_t)r;
    }
    close(fd);
    int rc = rc_checkpoint_load_buffer(buf, got, path, ps, opt, err, errlen);
    free(buf);
    return rc;
}
