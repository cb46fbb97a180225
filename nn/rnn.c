/* Recurrent layers: cells run over time, stacked and bidirectional, with
 * torch.nn's parameter layout and packed-sequence semantics. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "recur/nn.h"
#include "recur/op.h"

static int gates_of(rc_cell_kind k)
{
    return k == RC_LSTM ? 4 : k == RC_GRU ? 3 : 1;
}

size_t rc_rnn_param_count(const rc_rnn_config *cfg)
{
    const size_t L = cfg->num_layers > 0 ? (size_t)cfg->num_layers : 1;
    const size_t D = cfg->bidirectional ? 2 : 1, H = (size_t)cfg->hidden_size;
    const size_t GH = (size_t)gates_of(cfg->cell) * H;
    size_t n = 0;
    for (size_t l = 0; l < L; l++) {
        size_t in = l == 0 ? (size_t)cfg->input_size : D * H;
        n += D * (GH * (in + H) + (cfg->no_bias ? 0 : 2 * GH));
    }
    return n;
}

int rc_rnn_init(rc_rnn *m, rc_params *ps, const char *prefix, const rc_rnn_config *cfg,
                rc_rng *rng)
{
    memset(m, 0, sizeof *m);
    if (!cfg || !ps) {
        snprintf(m->error, sizeof m->error, "rnn: config or parameter store is NULL");
        return -1;
    }
    m->cfg = *cfg;
    m->layers = cfg->num_layers > 0 ? cfg->num_layers : 1;
    m->dirs = cfg->bidirectional ? 2 : 1;
    m->gates = gates_of(cfg->cell);
    if ((unsigned)cfg->cell > RC_GRU || cfg->input_size <= 0 || cfg->hidden_size <= 0 ||
        m->layers > RC_RNN_MAX_LAYERS || !(cfg->dropout >= 0 && cfg->dropout < 1)) {
        snprintf(m->error, sizeof m->error,
                 "rnn: bad config (cell %d, input %d, hidden %d, layers %d of at most %d, "
                 "dropout %g)",
                 (int)cfg->cell, cfg->input_size, cfg->hidden_size, m->layers,
                 RC_RNN_MAX_LAYERS, cfg->dropout);
        return -1;
    }
    const int H = cfg->hidden_size, GH = m->gates * H;
    const rc_real bound = (rc_real)(1 / sqrt((double)H));
    const char *pre = prefix ? prefix : "";
    for (int l = 0; l < m->layers; l++)
        for (int d = 0; d < m->dirs; d++) {
            const int in = l == 0 ? cfg->input_size : m->dirs * H;
            const char *sfx = d ? "_reverse" : "";
            rc_cell_weights *w = &m->w[l][d];
            char name[256];
            /* torch's order: weight_ih, weight_hh, bias_ih, bias_hh */
            snprintf(name, sizeof name, "%sweight_ih_l%d%s", pre, l, sfx);
            w->w_ih = rc_param(ps, name, RC_SHAPE(GH, in));
            snprintf(name, sizeof name, "%sweight_hh_l%d%s", pre, l, sfx);
            w->w_hh = rc_param(ps, name, RC_SHAPE(GH, H));
            if (!cfg->no_bias) {
                snprintf(name, sizeof name, "%sbias_ih_l%d%s", pre, l, sfx);
                w->b_ih = rc_param(ps, name, RC_SHAPE(GH));
                snprintf(name, sizeof name, "%sbias_hh_l%d%s", pre, l, sfx);
                w->b_hh = rc_param(ps, name, RC_SHAPE(GH));
            }
            if (!w->w_ih || !w->w_hh || (!cfg->no_bias && (!w->b_ih || !w->b_hh))) {
                snprintf(m->error, sizeof m->error, "rnn: %s", rc_params_error(ps));
                return -1;
            }
            if (rng) {
                rc_param_uniform(w->w_ih, -bound, bound, rng);
                rc_param_uniform(w->w_hh, -bound, bound, rng);
                rc_param_uniform(w->b_ih, -bound, bound, rng);
                rc_param_uniform(w->b_hh, -bound, bound, rng);
            }
        }
    return 0;
}

/* ---- forward ------------------------------------------------------------------ */

typedef struct run {
    rc_graph *g;
    const rc_rnn *m;
    int T, B, H;
    rc_node **masks; /* T masks [B x 1] (1 where t < length), or NULL */
} run;

/* The initial state of (layer, dir) from h0 [L*D x B x H], or zeros. */
static rc_node *initial(const run *r, rc_node *s0, int idx)
{
    if (!s0)
        return rc_fill(r->g, RC_SHAPE(r->B, r->H), 0);
    rc_node *s = rc_slice(r->g, s0, 0, idx, 1);
    return rc_reshape(r->g, s, RC_SHAPE(r->B, r->H));
}

/* One direction of one layer over the whole sequence. x2 is the layer input
 * as [T*B x In]; returns the outputs as [T*B x H] (NULL without `outputs`:
 * only the final states are wanted) and the final states. */
static rc_node *run_direction(const run *r, int l, int d, rc_node *x2, rc_node **h,
                              rc_node **c, bool outputs)
{
    rc_graph *g = r->g;
    const rc_cell_weights *w = &r->m->w[l][d];
    const rc_cell_kind kind = r->m->cfg.cell;
    /* Hoisted: one product for every time step's input projection. */
    rc_node *gi_all = rc_matmul_nt(g, x2, w->w_ih); /* the steps add b_ih */
    rc_rows_read_once(gi_all); /* only the steps below see it */
    rc_node **outs = outputs ? rc_arena_alloc(g, (size_t)r->T * sizeof *outs) : NULL;
    if (outputs && !outs)
        return rc_poisoned(g);
    for (int s = 0; s < r->T; s++) {
        const int t = d == 0 ? s : r->T - 1 - s;
        rc_node *gi = rc_slice(g, gi_all, 0, t * r->B, r->B);
        rc_node *h_new, *c_new = NULL;
        if (kind == RC_LSTM) {
            h_new = *h;
            c_new = *c;
            rc_lstm_step(g, w, gi, &h_new, &c_new);
        } else if (kind == RC_GRU) {
            h_new = rc_gru_step(g, w, gi, *h);
        } else {
            h_new = rc_rnn_step(g, w, gi, *h, kind == RC_RNN_RELU);
        }
        if (r->masks) { /* padded steps keep the state and output zeros */
            rc_node *mask = r->masks[t];
            *h = rc_where(g, mask, h_new, *h);
            if (c_new)
                *c = rc_where(g, mask, c_new, *c);
            if (outs)
                outs[t] = rc_mul(g, h_new, mask);
        } else {
            *h = h_new;
            if (c_new)
                *c = c_new;
            if (outs)
                outs[t] = h_new;
        }
    }
    return outs ? rc_concat(g, 0, r->T, outs) : NULL;
}

static int check_state(rc_site at, rc_graph *g, const char *what, rc_node *s, int n, int B,
                       int H)
{
    char buf[64];
    if (!s || !rc_ok(s))
        return s ? -1 : 0;
    rc_shape sh = rc_shape_of(s);
    if (sh.ndim != 3 || sh.d[0] != n || sh.d[1] != B || sh.d[2] != H)
        return rc_fail_at(g, at, "rnn", "%s must be [%dx%dx%d], got %s", what, n, B, H,
                          rc_shape_str(sh, buf));
    return 0;
}

static rc_rnn_result poisoned(rc_graph *g)
{
    rc_node *p = rc_poisoned(g);
    return (rc_rnn_result){p, p, p};
}

static rc_rnn_result forward(rc_site at, rc_graph *g, const rc_rnn *m, rc_node *x,
                             const int32_t *lengths, rc_node *h0, rc_node *c0, bool outputs)
{
    char buf[64];
    if (!g)
        return (rc_rnn_result){0};
    if (!m || !m->w[0][0].w_hh) {
        rc_fail_at(g, at, "rnn", "layer is not initialised (rc_rnn_init)");
        return poisoned(g);
    }
    if (!rc_ok(x)) {
        if (!x)
            rc_fail_at(g, at, "rnn", "input is NULL");
        return poisoned(g);
    }
    rc_shape xs = rc_shape_of(x);
    if (xs.ndim != 3 || xs.d[2] != m->cfg.input_size) {
        rc_fail_at(g, at, "rnn", "input must be [T x B x %d], got %s", m->cfg.input_size,
                   rc_shape_str(xs, buf));
        return poisoned(g);
    }
    run r = {g, m, xs.d[0], xs.d[1], m->cfg.hidden_size, NULL};
    const int LD = m->layers * m->dirs;
    if (check_state(at, g, "h0", h0, LD, r.B, r.H) ||
        check_state(at, g, "c0", c0, LD, r.B, r.H) || (h0 && !rc_ok(h0)) ||
        (c0 && !rc_ok(c0)))
        return poisoned(g);
    if (lengths) {
        for (int b = 0; b < r.B; b++)
            if (lengths[b] < 1 || lengths[b] > r.T) {
                rc_fail_at(g, at, "rnn", "length %d of sequence %d is outside [1, %d]",
                           (int)lengths[b], b, r.T);
                return poisoned(g);
            }
        if (!(r.masks = rc_arena_alloc(g, (size_t)r.T * sizeof *r.masks)))
            return poisoned(g);
        for (int t = 0; t < r.T; t++) {
            r.masks[t] = rc_fill(g, RC_SHAPE(r.B, 1), 0);
            if (!rc_ok(r.masks[t]))
                return poisoned(g);
            for (int b = 0; b < r.B; b++)
                rc_data(r.masks[t])[b] = t < lengths[b] ? 1 : 0;
        }
    }
    rc_node **hn = rc_arena_alloc(g, 2 * (size_t)LD * sizeof *hn), **cn = hn + LD;
    if (!hn)
        return poisoned(g);
    rc_node *layer_in = rc_reshape(g, x, RC_SHAPE(r.T * r.B, xs.d[2]));
    for (int l = 0; l < m->layers; l++) {
        rc_node *dir_out[2];
        for (int d = 0; d < m->dirs; d++) {
            const int idx = l * m->dirs + d;
            rc_node *h = initial(&r, h0, idx);
            rc_node *c = m->cfg.cell == RC_LSTM ? initial(&r, c0, idx) : NULL;
            dir_out[d] = run_direction(&r, l, d, layer_in, &h, &c,
                                       outputs || l + 1 < m->layers);
            hn[idx] = h;
            cn[idx] = c;
        }
        layer_in = !dir_out[0] ? NULL : m->dirs == 2 ? rc_concat(g, 1, 2, dir_out) : dir_out[0];
        if (l + 1 < m->layers)
            layer_in = rc_dropout(g, layer_in, m->cfg.dropout);
    }
    rc_rnn_result res;
    res.output =
        layer_in ? rc_reshape(g, layer_in, RC_SHAPE(r.T, r.B, m->dirs * r.H)) : NULL;
    res.h_n = rc_reshape(g, rc_concat(g, 0, LD, hn), RC_SHAPE(LD, r.B, r.H));
    res.c_n = m->cfg.cell == RC_LSTM
                  ? rc_reshape(g, rc_concat(g, 0, LD, cn), RC_SHAPE(LD, r.B, r.H))
                  : NULL;
    if (rc_graph_error(g))
        return poisoned(g);
    return res;
}

rc_rnn_result rc_rnn_forward_at(rc_site at, rc_graph *g, const rc_rnn *m, rc_node *x,
                                const int32_t *lengths, rc_node *h0, rc_node *c0)
{
    return forward(at, g, m, x, lengths, h0, c0, true);
}

rc_rnn_result rc_rnn_final_states_at(rc_site at, rc_graph *g, const rc_rnn *m, rc_node *x,
                                     const int32_t *lengths, rc_node *h0, rc_node *c0)
{
    return forward(at, g, m, x, lengths, h0, c0, false);
}
