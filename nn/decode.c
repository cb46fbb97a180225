/* Decoding a trained seq2seq model: greedy for a batch, beam search for one
 * sentence. Both run with gradients off on the caller's graph. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "recur/op.h"
#include "recur/seq2seq.h"

/* Restores the graph's gradient mode on every exit. */
typedef struct no_grad {
    rc_graph *g;
    bool was;
} no_grad;

static no_grad no_grad_begin(rc_graph *g)
{
    no_grad s = {g, rc_graph_grad_enabled(g)};
    rc_graph_set_grad(g, false);
    return s;
}

static int no_grad_end(no_grad s, int rc)
{
    rc_graph_set_grad(s.g, s.was);
    return rc_graph_error(s.g) ? -1 : rc;
}

static int argmax(const rc_real *v, int n)
{
    int best = 0;
    for (int j = 1; j < n; j++)
        if (v[j] > v[best])
            best = j;
    return best;
}

int rc_seq2seq_greedy(rc_graph *g, const rc_seq2seq *m, const int32_t *src, int S, int B,
                      const int32_t *src_lengths, int max_len, int32_t *out, int *out_len,
                      rc_real *attn)
{
    if (!g || !m || !out || !out_len || max_len <= 0 || B <= 0)
        return g ? rc_fail_at(g, RC_HERE, "seq2seq_greedy", "bad arguments") : -1;
    no_grad ng = no_grad_begin(g);
    const int V = m->cfg.tgt_vocab;
    rc_s2s_memory mem = rc_seq2seq_encode(g, m, src, S, B, src_lengths);
    rc_s2s_state st = rc_seq2seq_start(g, m, &mem);
    int32_t *prev = rc_arena_alloc(g, (size_t)B * sizeof *prev);
    if (!prev || rc_graph_error(g))
        return no_grad_end(ng, -1);
    for (int b = 0; b < B; b++) {
        prev[b] = m->cfg.bos_id;
        out_len[b] = 0;
    }
    for (int i = 0; i < B * max_len; i++)
        out[i] = m->cfg.pad_id;
    int done = 0;
    for (int t = 0; t < max_len && done < B; t++) {
        rc_node *weights = NULL;
        rc_node *logits = rc_seq2seq_step(g, m, &mem, &st, prev, attn ? &weights : NULL);
        if (rc_graph_error(g))
            return no_grad_end(ng, -1);
        for (int b = 0; b < B; b++) {
            if (attn && weights)
                memcpy(attn + ((size_t)b * max_len + t) * S, rc_data(weights) + (size_t)b * S,
                       (size_t)S * sizeof *attn);
            if (out_len[b] && out[b * max_len + out_len[b] - 1] == m->cfg.eos_id)
                continue; /* finished: keep feeding, record nothing */
            prev[b] = argmax(rc_data(logits) + (size_t)b * V, V);
            out[b * max_len + out_len[b]++] = prev[b];
            done += prev[b] == m->cfg.eos_id;
        }
    }
    return no_grad_end(ng, 0);
}

/* ---- beam search -------------------------------------------------------------- */

typedef struct hyp {
    double score;   /* summed log-probability */
    int parent;     /* row of the previous step's beam */
    int32_t token;
} hyp;

static int by_score_desc(const void *a, const void *b)
{
    double x = ((const hyp *)a)->score, y = ((const hyp *)b)->score;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* The rows `rows` of x [n x ...] as a new [count x ...] node (gather). */
static rc_node *take_rows(rc_graph *g, rc_node *x, const int32_t *rows, int count)
{
    if (!x)
        return NULL;
    rc_shape s = rc_shape_of(x);
    int inner = (int)(rc_size(x) / (size_t)s.d[0]);
    rc_node *flat = rc_reshape(g, x, RC_SHAPE(s.d[0], inner));
    rc_node *picked = rc_embedding(g, flat, rows, RC_SHAPE(count));
    s.d[0] = count;
    return rc_reshape(g, picked, s);
}

static rc_s2s_memory take_memory(rc_graph *g, const rc_s2s_memory *m1, const int32_t *rows,
                                 int count)
{
    rc_s2s_memory mk = *m1;
    mk.B = count;
    mk.mem = take_rows(g, m1->mem, rows, count);
    mk.mem_proj = take_rows(g, m1->mem_proj, rows, count);
    mk.mask = take_rows(g, m1->mask, rows, count);
    mk.neg = take_rows(g, m1->neg, rows, count);
    return mk;
}

int rc_seq2seq_beam(rc_graph *g, const rc_seq2seq *m, const int32_t *src, int S, int k,
                    int max_len, double len_alpha, int32_t *out)
{
    if (!g || !m || !out || k <= 0 || max_len <= 0)
        return g ? rc_fail_at(g, RC_HERE, "seq2seq_beam", "bad arguments") : -1;
    no_grad ng = no_grad_begin(g);
    const int V = m->cfg.tgt_vocab, W = 2 * k; /* a step keeps <= k live + k finished */
    const int32_t eos = m->cfg.eos_id;
    /* history per step and slot: the token and the previous step's slot */
    int32_t *tokens = calloc((size_t)max_len * (size_t)W, sizeof *tokens);
    int32_t *from = calloc((size_t)max_len * (size_t)W, sizeof *from);
    hyp *cand = malloc((size_t)k * (size_t)k * sizeof *cand);
    hyp *live = malloc((size_t)k * sizeof *live);
    int32_t *rows = malloc((size_t)k * sizeof *rows), *prev = malloc((size_t)k * sizeof *prev);
    int *slot_of = malloc(2 * (size_t)k * sizeof *slot_of), *next_slot = slot_of + k;
    int best_t = -1, best_slot = -1;
    double best = -INFINITY;
    if (!tokens || !from || !cand || !live || !rows || !prev || !slot_of) {
        rc_fail_at(g, RC_HERE, "seq2seq_beam", "out of memory");
        goto done;
    }
    rc_s2s_memory m1 = rc_seq2seq_encode(g, m, src, S, 1, NULL);
    rc_s2s_state st = rc_seq2seq_start(g, m, &m1);
    int nlive = 1, finished = 0;
    live[0] = (hyp){0, 0, m->cfg.bos_id};
    prev[0] = m->cfg.bos_id;
    slot_of[0] = -1;
    for (int t = 0; t < max_len && nlive > 0 && finished < k; t++) {
        memset(rows, 0, (size_t)nlive * sizeof *rows);
        rc_s2s_memory mk = take_memory(g, &m1, rows, nlive);
        rc_node *logp = rc_log_softmax(g, rc_seq2seq_step(g, m, &mk, &st, prev, NULL));
        if (rc_graph_error(g))
            goto done;
        /* each live row's k best next tokens (first index wins ties, as argmax) */
        int nc = 0;
        for (int r = 0; r < nlive; r++) {
            const rc_real *lp = rc_data(logp) + (size_t)r * V;
            for (int j = 0; j < k && j < V; j++) {
                int pick = -1;
                for (int v = 0; v < V; v++) {
                    bool taken = false;
                    for (int q = nc - j; q < nc; q++)
                        taken |= cand[q].token == v;
                    if (!taken && (pick < 0 || lp[v] > lp[pick]))
                        pick = v;
                }
                cand[nc++] = (hyp){live[r].score + lp[pick], r, pick};
            }
        }
        qsort(cand, (size_t)nc, sizeof *cand, by_score_desc);
        int next = 0, slots = 0;
        for (int q = 0; q < nc && next < k && finished < k; q++) {
            tokens[t * W + slots] = cand[q].token;
            from[t * W + slots] = slot_of[cand[q].parent];
            if (cand[q].token == eos) { /* finished: ranked length-normalised */
                double norm = cand[q].score / pow(t + 1, len_alpha);
                if (norm > best)
                    best = norm, best_t = t, best_slot = slots;
                finished++;
            } else {
                live[next] = cand[q];
                rows[next] = cand[q].parent;
                prev[next] = cand[q].token;
                next_slot[next++] = slots;
            }
            slots++;
        }
        if (next > 0) { /* the decoder state follows the survivors' parents */
            st.h = take_rows(g, st.h, rows, next);
            st.c = take_rows(g, st.c, rows, next);
            st.ctx = take_rows(g, st.ctx, rows, next);
        }
        memcpy(slot_of, next_slot, (size_t)next * sizeof *slot_of);
        nlive = next;
        if (best_t < 0 && nlive > 0 && (t == max_len - 1 || finished >= k)) {
            best_t = t; /* nothing finished: the best live hypothesis */
            best_slot = slot_of[0];
        }
    }
    for (int t = best_t, sl = best_slot; t >= 0 && sl >= 0; t--) { /* backtrack */
        out[t] = tokens[t * W + sl];
        sl = from[t * W + sl];
    }
done:
    free(tokens);
    free(from);
    free(cand);
    free(live);
    free(rows);
    free(prev);
    free(slot_of);
    return no_grad_end(ng, best_t >= 0 ? best_t + 1 : -1);
}
