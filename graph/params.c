/* Parameter store: every value in one contiguous buffer, every gradient in
 * another, each parameter a named node viewing both. */
#include <stdio.h>
#include <string.h>

#include "internal.h"

struct rc_params {
    rc_node **nodes;
    size_t count, cap;
    rc_real *values, *grads;
    size_t numel, capel;
    char error[256];
};

rc_params *rc_params_new(void)
{
    rc_params *ps = rc__alloc(sizeof *ps);
    if (ps)
        memset(ps, 0, sizeof *ps);
    return ps;
}

void rc_params_free(rc_params *ps)
{
    if (!ps)
        return;
    for (size_t i = 0; i < ps->count; i++) {
        rc__free((void *)ps->nodes[i]->name);
        rc__free(ps->nodes[i]);
    }
    rc__free(ps->nodes);
    rc__free(ps->values);
    rc__free(ps->grads);
    rc__free(ps);
}

static rc_node *param_error(rc_params *ps, const char *fmt, const char *name,
                            const char *detail)
{
    snprintf(ps->error, sizeof ps->error, fmt, name ? name : "(null)", detail);
    return NULL;
}

/* Grow the flat buffers to hold `need` reals; re-point every view. */
static int reserve(rc_params *ps, size_t need)
{
    if (need <= ps->capel)
        return 0;
    size_t cap = ps->capel ? ps->capel : 1024;
    while (cap < need)
        cap *= 2;
    rc_real *v = rc__alloc(cap * sizeof *v), *g = rc__alloc(cap * sizeof *g);
    if (!v || !g) {
        rc__free(v);
        rc__free(g);
        return -1;
    }
    if (ps->numel) {
        memcpy(v, ps->values, ps->numel * sizeof *v);
        memcpy(g, ps->grads, ps->numel * sizeof *g);
    }
    rc__free(ps->values);
    rc__free(ps->grads);
    ps->values = v;
    ps->grads = g;
    ps->capel = cap;
    for (size_t i = 0; i < ps->count; i++) {
        ps->nodes[i]->val.data = v + ps->nodes[i]->offset;
        ps->nodes[i]->grad = g + ps->nodes[i]->offset;
    }
    return 0;
}

rc_node *rc_param(rc_params *ps, const char *name, rc_shape s)
{
    char buf[64];
    if (!ps)
        return NULL;
    if (!name || !*name)
        return param_error(ps, "parameter name %s is empty%s", name, "");
    if (rc_params_find(ps, name))
        return param_error(ps, "parameter %s exists already%s", name, "");
    bool ok = s.ndim >= 0 && s.ndim <= RC_MAX_DIMS;
    for (int i = 0; ok && i < s.ndim; i++)
        ok = s.d[i] > 0;
    if (!ok)
        return param_error(ps, "parameter %s: invalid shape %s", name,
                           rc_shape_str(s, buf));
    size_t size = rc_shape_size(s);
    /* Keep each view 64-byte aligned: round offsets to 16 floats / 8 doubles. */
    const size_t lane = 64 / sizeof(rc_real);
    size_t offset = (ps->numel + lane - 1) / lane * lane;
    if (ps->count == ps->cap) {
        size_t cap = ps->cap ? 2 * ps->cap : 16;
        rc_node **nodes = rc__alloc(cap * sizeof *nodes);
        if (!nodes)
            return param_error(ps, "parameter %s: out of memory%s", name, "");
        if (ps->count)
            memcpy(nodes, ps->nodes, ps->count * sizeof *nodes);
        rc__free(ps->nodes);
        ps->nodes = nodes;
        ps->cap = cap;
    }
    rc_node *p = rc__alloc(sizeof *p);
    size_t len = strlen(name) + 1;
    char *copy = rc__alloc(len);
    if (!p || !copy || reserve(ps, offset + size) != 0) {
        rc__free(p);
        rc__free(copy);
        return param_error(ps, "parameter %s: out of memory%s", name, "");
    }
    memcpy(copy, name, len);
    memset(p, 0, sizeof *p);
    p->val.shape = s;
    p->val.size = size;
    p->offset = offset;
    p->val.data = ps->values + offset;
    p->grad = ps->grads + offset;
    p->requires_grad = true;
    p->name = copy;
    p->at = (rc_site){copy, 0};
    /* zero the new slot and its alignment padding */
    memset(ps->values + ps->numel, 0, (offset + size - ps->numel) * sizeof(rc_real));
    memset(ps->grads + ps->numel, 0, (offset + size - ps->numel) * sizeof(rc_real));
    ps->numel = offset + size;
    ps->nodes[ps->count++] = p;
    return p;
}

const char *rc_params_error(const rc_params *ps)
{
    return ps && ps->error[0] ? ps->error : NULL;
}

size_t rc_params_count(const rc_params *ps) { return ps ? ps->count : 0; }
size_t rc_params_numel(const rc_params *ps) { return ps ? ps->numel : 0; }
rc_real *rc_params_values(rc_params *ps) { return ps ? ps->values : NULL; }
rc_real *rc_params_grads(rc_params *ps) { return ps ? ps->grads : NULL; }
const char *rc_param_name(const rc_node *p) { return p ? p->name : NULL; }

rc_node *rc_params_at(const rc_params *ps, size_t i)
{
    return ps && i < ps->count ? ps->nodes[i] : NULL;
}

rc_node *rc_params_find(const rc_params *ps, const char *name)
{
    if (!ps || !name)
        return NULL;
    for (size_t i = 0; i < ps->count; i++)
        if (strcmp(ps->nodes[i]->name, name) == 0)
            return ps->nodes[i];
    return NULL;
}

void rc_params_zero_grad(rc_params *ps)
{
    if (ps && ps->numel)
        memset(ps->grads, 0, ps->numel * sizeof(rc_real));
}

void rc_params_print(const rc_params *ps, FILE *fp)
{
    if (!ps || !fp)
        return;
    size_t total = 0;
    char buf[64];
    for (size_t i = 0; i < ps->count; i++) {
        const rc_node *p = ps->nodes[i];
        fprintf(fp, "  %-32s %-16s %10zu\n", p->name, rc_shape_str(p->val.shape, buf),
                p->val.size);
        total += p->val.size;
    }
    fprintf(fp, "  %zu tensors, %zu parameters\n", ps->count, total);
}

void rc_param_uniform(rc_node *p, rc_real lo, rc_real hi, rc_rng *rng)
{
    if (!p || !p->val.data || !rng)
        return;
    for (size_t i = 0; i < p->val.size; i++)
        p->val.data[i] = (rc_real)(lo + (hi - lo) * rc_rng_uniform(rng));
}
