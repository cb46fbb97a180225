/* Encoder-decoder with attention: init, encode, one decoder step, the
 * teacher-forced loss. Decoding (greedy, beam) is in decode.c. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "recur/op.h"
#include "recur/seq2seq.h"

static int fail(rc_seq2seq *m, const char *msg, const char *detail)
{
    char text[sizeof m->error];
    snprintf(text, sizeof text, "seq2seq: %.150s%.30s", msg, detail ? detail : "");
    memcpy(m->error, text, sizeof text);
    return -1;
}

int rc_seq2seq_init(rc_seq2seq *m, rc_params *ps, const char *prefix,
                    const rc_seq2seq_config *cfg, rc_rng *rng)
{
    memset(m, 0, sizeof *m);
    if (!cfg || !ps)
        return fail(m, "config or parameter store is NULL", NULL);
    m->cfg = *cfg;
    rc_seq2seq_config *c = &m->cfg;
    if (c->attn_size <= 0)
        c->attn_size = c->hidden;
    const int D = c->enc_bidirectional ? 2 : 1;
    if (c->src_vocab <= 0 || c->tgt_vocab <= 0 || c->embed <= 0 || c->hidden <= 0 ||
        c->hidden % D || (unsigned)c->attention > RC_ATTN_GENERAL)
        return fail(m, "bad config (vocabularies, sizes, attention kind; a bidirectional "
                       "encoder needs an even hidden size)", NULL);
    if (c->output_from_state && c->attention != RC_ATTN_ADDITIVE)
        return fail(m, "output_from_state needs additive attention (with dot or general "
                       "attention the context reaches the output only through W_c)", NULL);
    const char *pre = prefix ? prefix : "";
    char name[256];
    const int H = c->hidden, E = c->embed;
#define NAME(s) (snprintf(name, sizeof name, "%s%s", pre, (s)), name)
    if (rc_embed_init(&m->src_emb, ps, NAME("src_embed."), c->src_vocab, E, rng) ||
        rc_embed_init(&m->tgt_emb, ps, NAME("tgt_embed."), c->tgt_vocab, E, rng))
        return fail(m, rc_params_error(ps), NULL);
    rc_rnn_config enc = {c->cell, E, H / D, c->enc_layers, c->enc_bidirectional, false,
                         c->dropout};
    if (rc_rnn_init(&m->enc, ps, NAME("encoder."), &enc, rng))
        return fail(m, m->enc.error, NULL);
    /* The decoder cell, named like torch.nn.LSTMCell/GRUCell under "decoder." */
    const int G = c->cell == RC_LSTM ? 4 : c->cell == RC_GRU ? 3 : 1;
    const int in = E + (c->attention == RC_ATTN_ADDITIVE ? H : 0);
    const rc_real bound = (rc_real)(1 / sqrt((double)H));
    m->dec.w_ih = rc_param(ps, NAME("decoder.weight_ih"), RC_SHAPE(G * H, in));
    m->dec.w_hh = rc_param(ps, NAME("decoder.weight_hh"), RC_SHAPE(G * H, H));
    m->dec.b_ih = rc_param(ps, NAME("decoder.bias_ih"), RC_SHAPE(G * H));
    m->dec.b_hh = rc_param(ps, NAME("decoder.bias_hh"), RC_SHAPE(G * H));
    if (!m->dec.w_ih || !m->dec.w_hh || !m->dec.b_ih || !m->dec.b_hh)
        return fail(m, rc_params_error(ps), NULL);
    if (rng) {
        rc_param_uniform(m->dec.w_ih, -bound, bound, rng);
        rc_param_uniform(m->dec.w_hh, -bound, bound, rng);
        rc_param_uniform(m->dec.b_ih, -bound, bound, rng);
        rc_param_uniform(m->dec.b_hh, -bound, bound, rng);
    }
    int rc = 0;
    if (c->attention == RC_ATTN_ADDITIVE) {
        rc |= rc_linear_init(&m->attn_mem, ps, NAME("attn.mem."), H, c->attn_size, false, rng);
        rc |= rc_linear_init(&m->attn_query, ps, NAME("attn.query."), H, c->attn_size, true,
                             rng);
        m->attn_v = rc_param(ps, NAME("attn.v"), RC_SHAPE(1, c->attn_size));
        if (!m->attn_v)
            return fail(m, rc_params_error(ps), NULL);
        if (rng) {
            rc_real b = (rc_real)(1 / sqrt((double)c->attn_size));
            rc_param_uniform(m->attn_v, -b, b, rng);
        }
    } else if (c->attention == RC_ATTN_GENERAL) {
        rc |= rc_linear_init(&m->attn_query, ps, NAME("attn.query."), H, H, false, rng);
    }
    if (c->attention != RC_ATTN_NONE && !c->output_from_state)
        rc |= rc_linear_init(&m->combine, ps, NAME("attn.combine."), 2 * H, H, false, rng);
    rc |= rc_linear_init(&m->out, ps, NAME("out."), H, c->tgt_vocab, true, rng);
#undef NAME
    return rc ? fail(m, rc_params_error(ps), NULL) : 0;
}

static rc_s2s_memory bad_memory(rc_graph *g)
{
    rc_node *p = rc_poisoned(g);
    return (rc_s2s_memory){p, p, p, p, p, p, 0, 0};
}

/* The last layer's final state, forward and backward halves side by side. */
static rc_node *last_layer_state(rc_graph *g, const rc_rnn *enc, rc_node *s_n, int B)
{
    const int D = enc->dirs, Hd = enc->cfg.hidden_size;
    rc_node *last = rc_slice(g, s_n, 0, (enc->layers - 1) * D, D); /* [D x B x Hd] */
    if (D == 1)
        return rc_reshape(g, last, RC_SHAPE(B, Hd));
    return rc_reshape(g, rc_permute(g, last, 3, (int[]){1, 0, 2}), RC_SHAPE(B, D * Hd));
}

rc_s2s_memory rc_seq2seq_encode_at(rc_site at, rc_graph *g, const rc_seq2seq *m,
                                   const int32_t *src, int S, int B,
                                   const int32_t *src_lengths)
{
    if (!g)
        return (rc_s2s_memory){0};
    if (!m || !src || S <= 0 || B <= 0) {
        rc_fail_at(g, at, "seq2seq_encode", "model or source is NULL, or S=%d B=%d", S, B);
        return bad_memory(g);
    }
    const rc_seq2seq_config *c = &m->cfg;
    rc_node *x = rc_embedding_at(at, g, m->src_emb.weight, src, RC_SHAPE(S, B));
    x = rc_dropout(g, x, c->dropout);
    /* without attention nothing reads the encoder's outputs */
    const bool attends = c->attention != RC_ATTN_NONE;
    rc_rnn_result r = attends ? rc_rnn_forward_at(at, g, &m->enc, x, src_lengths, NULL, NULL)
                              : rc_rnn_final_states_at(at, g, &m->enc, x, src_lengths, NULL,
                                                       NULL);
    rc_s2s_memory mem = {0};
    mem.B = B;
    mem.S = S;
    if (attends)
        mem.mem = rc_permute(g, r.output, 3, (int[]){1, 0, 2}); /* [B x S x H] */
    if (c->attention == RC_ATTN_ADDITIVE)
        mem.mem_proj = rc_linear(g, &m->attn_mem, mem.mem);
    mem.mask = rc_fill(g, RC_SHAPE(B, S), 1);
    mem.neg = rc_fill(g, RC_SHAPE(B, S), -1e9f);
    if (rc_ok(mem.mask) && src_lengths)
        for (int b = 0; b < B; b++)
            for (int s = 0; s < S; s++)
                rc_data(mem.mask)[b * S + s] = s < src_lengths[b] ? 1 : 0;
    mem.h0 = last_layer_state(g, &m->enc, r.h_n, B);
    mem.c0 = c->cell == RC_LSTM ? last_layer_state(g, &m->enc, r.c_n, B) : NULL;
    return rc_graph_error(g) ? bad_memory(g) : mem;
}

rc_s2s_state rc_seq2seq_start(rc_graph *g, const rc_seq2seq *m, const rc_s2s_memory *mem)
{
    rc_s2s_state st = {mem->h0, mem->c0, NULL};
    if (m->cfg.attention == RC_ATTN_ADDITIVE)
        st.ctx = rc_fill(g, RC_SHAPE(mem->B, m->cfg.hidden), 0);
    return st;
}

/* [T*B x X] rows t-major as [B x T x X], and back: a reshape when T = 1. */
static rc_node *batch_major(rc_graph *g, rc_node *x, int T, int B, int X)
{
    x = rc_reshape(g, x, RC_SHAPE(T, B, X));
    return T == 1 ? rc_reshape(g, x, RC_SHAPE(B, 1, X)) : rc_permute(g, x, 3, (int[]){1, 0, 2});
}

static rc_node *time_major(rc_graph *g, rc_node *x, int T, int B, int X)
{
    if (T > 1)
        x = rc_permute(g, x, 3, (int[]){1, 0, 2});
    return rc_reshape(g, x, RC_SHAPE(T * B, X));
}

/* Masked attention over the memory from the queries q [T*B x H], rows
 * t-major: the contexts [T*B x H]. A decoder step attends with T = 1; the
 * teacher-forced loss without input feeding attends from every step's state
 * at once (no state waits for a context), the scores of all steps one
 * batched product [B x T x H] . mem^T and the contexts another. Additive
 * attention feeds its context into the next step: T = 1 only. weights (T =
 * 1): the attention [B x S]. */
static rc_node *attend(rc_graph *g, const rc_seq2seq *m, const rc_s2s_memory *mem,
                       rc_node *q, int T, rc_node **weights)
{
    const int B = mem->B, S = mem->S, H = m->cfg.hidden;
    rc_node *scores, *neg;
    if (m->cfg.attention == RC_ATTN_ADDITIVE) { /* v . tanh(W_m mem + W_q q + b) */
        scores = rc_additive_scores(g, mem->mem_proj, rc_linear(g, &m->attn_query, q),
                                    m->attn_v);
        scores = rc_reshape(g, scores, RC_SHAPE(B, 1, S));
    } else {
        if (m->cfg.attention == RC_ATTN_GENERAL)
            q = rc_linear(g, &m->attn_query, q);
        scores = rc_matmul_nt(g, batch_major(g, q, T, B, H), mem->mem); /* [B x T x S] */
    }
    neg = T == 1 ? rc_reshape(g, mem->neg, RC_SHAPE(B, 1, S))
                 : rc_fill(g, RC_SHAPE(B, T, S), -1e9f);
    /* -1e9 underflows to exactly 0 after the softmax's max shift */
    rc_node *mask = rc_reshape(g, mem->mask, RC_SHAPE(B, 1, S));
    rc_node *alpha = rc_softmax(g, rc_where(g, mask, scores, neg));
    if (weights)
        *weights = rc_reshape(g, alpha, RC_SHAPE(B, S));
    return time_major(g, rc_matmul(g, alpha, mem->mem), T, B, H);
}

/* The decoder cell one step on, from embedded input x [B x E], or from its
 * input product gi (x W_ih^T, hoisted out of the loop by the caller; x is
 * then NULL). Additive attention attends from the previous state first and
 * feeds the context in. */
static void advance(rc_graph *g, const rc_seq2seq *m, const rc_s2s_memory *mem,
                    rc_s2s_state *st, rc_node *x, rc_node *gi, rc_node **weights)
{
    if (m->cfg.attention == RC_ATTN_ADDITIVE) {
        st->ctx = attend(g, m, mem, st->h, 1, weights);
        x = rc_concat2(g, x, st->ctx, 1);
    }
    if (!gi)
        gi = rc_matmul_nt(g, x, m->dec.w_ih); /* the step adds b_ih */
    if (m->cfg.cell == RC_LSTM)
        rc_lstm_step(g, &m->dec, gi, &st->h, &st->c);
    else if (m->cfg.cell == RC_GRU)
        st->h = rc_gru_step(g, &m->dec, gi, st->h);
    else
        st->h = rc_rnn_step(g, &m->dec, gi, st->h, m->cfg.cell == RC_RNN_RELU);
}

/* Whether the output layer reads h alone (no W_c layer). */
static bool from_state(const rc_seq2seq *m)
{
    return m->cfg.attention == RC_ATTN_NONE || m->cfg.output_from_state;
}

/* The pre-output tanh(W_c [h; ctx]) of any number of rows (h itself
 * without attention or with output_from_state). */
static rc_node *pre_output(rc_graph *g, const rc_seq2seq *m, rc_node *h, rc_node *ctx)
{
    if (from_state(m))
        return h;
    return rc_tanh(g, rc_linear(g, &m->combine, rc_concat2(g, h, ctx, 1)));
}

rc_node *rc_seq2seq_step(rc_graph *g, const rc_seq2seq *m, const rc_s2s_memory *mem,
                         rc_s2s_state *st, const int32_t *prev, rc_node **attn)
{
    rc_node *x = rc_embedding(g, m->tgt_emb.weight, prev, RC_SHAPE(mem->B));
    x = rc_dropout(g, x, m->cfg.dropout);
    advance(g, m, mem, st, x, NULL, attn);
    const rc_attention kind = m->cfg.attention;
    if (kind != RC_ATTN_NONE && kind != RC_ATTN_ADDITIVE) /* attends from the new state */
        st->ctx = attend(g, m, mem, st->h, 1, attn);
    rc_node *o = pre_output(g, m, st->h, st->ctx);
    return rc_linear(g, &m->out, rc_dropout(g, o, m->cfg.dropout));
}

rc_node *rc_seq2seq_loss_at(rc_site at, rc_graph *g, const rc_seq2seq *m,
                            const int32_t *src, int S, int B, const int32_t *src_lengths,
                            const int32_t *tgt, int T)
{
    if (!g)
        return NULL;
    if (!tgt || T <= 0) {
        rc_fail_at(g, at, "seq2seq_loss", "target is NULL or T=%d", T);
        return rc_poisoned(g);
    }
    rc_s2s_memory mem = rc_seq2seq_encode_at(at, g, m, src, S, B, src_lengths);
    if (rc_graph_error(g))
        return rc_poisoned(g);
    /* decoder inputs: bos, then the targets shifted by one */
    int32_t *inputs = rc_arena_alloc(g, (size_t)T * (size_t)B * sizeof *inputs);
    rc_node **outs = rc_arena_alloc(g, (size_t)T * sizeof *outs);
    if (!inputs || !outs)
        return rc_poisoned(g);
    for (int b = 0; b < B; b++)
        inputs[b] = m->cfg.bos_id;
    memcpy(inputs + B, tgt, (size_t)(T - 1) * (size_t)B * sizeof *inputs);
    rc_node *emb = rc_embedding_at(at, g, m->tgt_emb.weight, inputs, RC_SHAPE(T * B));
    emb = rc_dropout(g, emb, m->cfg.dropout);
    rc_s2s_state st = rc_seq2seq_start(g, m, &mem);
    /* Without input feeding every step's input is known: one product for all
     * the input projections, as the recurrent layers do. */
    const rc_attention kind = m->cfg.attention;
    rc_node *gi_all = kind == RC_ATTN_ADDITIVE ? NULL : rc_matmul_nt(g, emb, m->dec.w_ih);
    if (gi_all)
        rc_rows_read_once(gi_all); /* only the steps below see it */
    rc_node **ctxs = kind == RC_ATTN_ADDITIVE ? rc_arena_alloc(g, (size_t)T * sizeof *ctxs)
                                              : NULL;
    if (kind == RC_ATTN_ADDITIVE && !ctxs)
        return rc_poisoned(g);
    for (int t = 0; t < T; t++) {
        rc_node *x = gi_all ? NULL : rc_slice(g, emb, 0, t * B, B);
        rc_node *gi = gi_all ? rc_slice(g, gi_all, 0, t * B, B) : NULL;
        advance(g, m, &mem, &st, x, gi, NULL);
        outs[t] = st.h;
        if (ctxs)
            ctxs[t] = st.ctx;
    }
    /* The pre-outputs of all steps at once: nothing feeds back from them
     * (and, but for additive attention, from the contexts either). */
    rc_node *h_all = rc_concat(g, 0, T, outs);
    rc_node *ctx_all = from_state(m)              ? NULL
                       : kind == RC_ATTN_ADDITIVE ? rc_concat(g, 0, T, ctxs)
                                                  : attend(g, m, &mem, h_all, T, NULL);
    /* One output product for every real target token: padded positions are
     * gathered away first, so the largest product skips them. */
    int32_t *rows = inputs, n = 0; /* reuse: the inputs are embedded already */
    int32_t *targets = rc_arena_alloc(g, (size_t)T * (size_t)B * sizeof *targets);
    if (!targets)
        return rc_poisoned(g);
    for (int k = 0; k < T * B; k++)
        if (tgt[k] != m->cfg.pad_id) {
            rows[n] = k;
            targets[n++] = tgt[k];
        }
    if (n == 0) {
        rc_fail_at(g, at, "seq2seq_loss", "every target token is padding");
        return rc_poisoned(g);
    }
    rc_node *o = pre_output(g, m, h_all, ctx_all);
    if (n < T * B) /* with no padding the gather would be a copy */
        o = rc_embedding(g, o, rows, RC_SHAPE(n));
    return rc_linear_cross_entropy_at(at, g, rc_dropout(g, o, m->cfg.dropout), m->out.weight,
                                      m->out.bias, targets, m->cfg.pad_id, RC_MEAN);
}
