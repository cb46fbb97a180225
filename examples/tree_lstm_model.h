/* A binary Tree-LSTM (Tai et al. 2015, N-ary with N = 2) over a balanced
 * bracketing of a sentence, composed from ops: the tape records whatever
 * structure the recursion walks, so backward through it is
 * backpropagation through structure. Shared by examples/tree_sentiment.c and
 * its gradient test. */
#ifndef RECUR_EXAMPLES_TREE_LSTM_H
#define RECUR_EXAMPLES_TREE_LSTM_H

#include "recur/nn.h"

typedef struct tree_lstm {
    int H;
    rc_embed emb;
    rc_linear leaf;   /* x -> [i, o, u] for a word */
    rc_linear inner;  /* [h_left ; h_right] -> [i, f_left, f_right, o, u] */
    rc_linear out;    /* root h -> classes */
} tree_lstm;

static inline int tree_lstm_init(tree_lstm *m, rc_params *ps, int vocab, int E, int H,
                                 int classes, rc_rng *rng)
{
    m->H = H;
    return rc_embed_init(&m->emb, ps, "embed.", vocab, E, rng) ||
           rc_linear_init(&m->leaf, ps, "leaf.", E, 3 * H, true, rng) ||
           rc_linear_init(&m->inner, ps, "inner.", 2 * H, 5 * H, true, rng) ||
           rc_linear_init(&m->out, ps, "out.", H, classes, true, rng);
}

/* Gate k (H columns) of z. */
static inline rc_node *tl_gate(rc_graph *g, rc_node *z, int k, int H)
{
    return rc_slice(g, z, 1, k * H, H);
}

/* Words [lo, hi) of the sentence: h and c [1 x H] of that subtree. */
static inline void tree_lstm_node(rc_graph *g, const tree_lstm *m, rc_node *words, int lo,
                                  int hi, rc_node **h, rc_node **c)
{
    const int H = m->H;
    if (hi - lo == 1) { /* leaf: c = i u, h = o tanh(c) */
        rc_node *z = rc_linear(g, &m->leaf, rc_slice(g, words, 0, lo, 1));
        *c = rc_mul(g, rc_sigmoid(g, tl_gate(g, z, 0, H)), rc_tanh(g, tl_gate(g, z, 2, H)));
        *h = rc_mul(g, rc_sigmoid(g, tl_gate(g, z, 1, H)), rc_tanh(g, *c));
        return;
    }
    rc_node *hl, *cl, *hr, *cr;
    const int mid = lo + (hi - lo) / 2;
    tree_lstm_node(g, m, words, lo, mid, &hl, &cl);
    tree_lstm_node(g, m, words, mid, hi, &hr, &cr);
    /* c = i u + f_l c_l + f_r c_r, one forget gate per child */
    rc_node *z = rc_linear(g, &m->inner, rc_concat2(g, hl, hr, 1));
    rc_node *i = rc_sigmoid(g, tl_gate(g, z, 0, H));
    rc_node *fl = rc_sigmoid(g, tl_gate(g, z, 1, H));
    rc_node *fr = rc_sigmoid(g, tl_gate(g, z, 2, H));
    rc_node *o = rc_sigmoid(g, tl_gate(g, z, 3, H));
    rc_node *u = rc_tanh(g, tl_gate(g, z, 4, H));
    *c = rc_add(g, rc_mul(g, i, u), rc_add(g, rc_mul(g, fl, cl), rc_mul(g, fr, cr)));
    *h = rc_mul(g, o, rc_tanh(g, *c));
}

/* Class logits [1 x classes] of one sentence of n >= 1 word ids. */
static inline rc_node *tree_lstm_logits(rc_graph *g, const tree_lstm *m, const int32_t *ids,
                                        int n)
{
    rc_node *words = rc_embedding(g, m->emb.weight, ids, RC_SHAPE(n));
    rc_node *h, *c;
    tree_lstm_node(g, m, words, 0, n, &h, &c);
    return rc_linear(g, &m->out, h);
}

#endif
