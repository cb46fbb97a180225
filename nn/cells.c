/* Recurrent cells, each a few ops that read like the equations of
 * torch.nn.RNNCell / LSTMCell / GRUCell. The *_step forms take the input
 * projection gi = x W_ih^T + b_ih precomputed (layers hoist it out of the
 * time loop); the *_cell forms compute it. */
#include "recur/nn.h"
#include "recur/op.h"

static int hidden_of(const rc_cell_weights *w)
{
    return rc_ok(w->w_hh) ? rc_shape_of(w->w_hh).d[1] : 1;
}

/* h W_hh^T + b_hh */
static rc_node *hidden_proj(rc_graph *g, const rc_cell_weights *w, rc_node *h)
{
    rc_node *gh = rc_matmul_nt(g, h, w->w_hh);
    return w->b_hh ? rc_add(g, gh, w->b_hh) : gh;
}

static rc_node *input_proj(rc_site at, rc_graph *g, const rc_cell_weights *w, rc_node *x)
{
    rc_node *gi = rc_matmul_at(at, g, x, w->w_ih, RC_TRANS_B);
    return w->b_ih ? rc_add_at(at, g, gi, w->b_ih) : gi;
}

/* gate k of H columns */
static rc_node *gate(rc_graph *g, rc_node *z, int k, int H)
{
    return rc_slice(g, z, 1, k * H, H);
}

rc_node *rc_rnn_step(rc_graph *g, const rc_cell_weights *w, rc_node *gi, rc_node *h,
                     bool relu)
{
    rc_node *z = rc_add(g, gi, hidden_proj(g, w, h));
    return relu ? rc_relu(g, z) : rc_tanh(g, z);
}

/* i, f, g, o = gates; c' = f c + i g; h' = o tanh(c') */
void rc_lstm_step(rc_graph *g, const rc_cell_weights *w, rc_node *gi, rc_node **h,
                  rc_node **c)
{
    const int H = hidden_of(w);
    rc_node *z = rc_add(g, gi, hidden_proj(g, w, *h));
    rc_node *i = rc_sigmoid(g, gate(g, z, 0, H));
    rc_node *f = rc_sigmoid(g, gate(g, z, 1, H));
    rc_node *cand = rc_tanh(g, gate(g, z, 2, H));
    rc_node *o = rc_sigmoid(g, gate(g, z, 3, H));
    *c = rc_add(g, rc_mul(g, f, *c), rc_mul(g, i, cand));
    *h = rc_mul(g, o, rc_tanh(g, *c));
}

/* r, z from input and hidden parts together; the reset gate scales the
 * hidden part of n including its bias, as torch.nn.GRU does. */
rc_node *rc_gru_step(rc_graph *g, const rc_cell_weights *w, rc_node *gi, rc_node *h)
{
    const int H = hidden_of(w);
    rc_node *gh = hidden_proj(g, w, h);
    rc_node *r = rc_sigmoid(g, rc_add(g, gate(g, gi, 0, H), gate(g, gh, 0, H)));
    rc_node *z = rc_sigmoid(g, rc_add(g, gate(g, gi, 1, H), gate(g, gh, 1, H)));
    rc_node *n = rc_tanh(g, rc_add(g, gate(g, gi, 2, H), rc_mul(g, r, gate(g, gh, 2, H))));
    return rc_add(g, n, rc_mul(g, z, rc_sub(g, h, n))); /* (1 - z) n + z h */
}

rc_node *rc_rnn_cell_at(rc_site at, rc_graph *g, const rc_cell_weights *w, rc_node *x,
                        rc_node *h, bool relu)
{
    return rc_rnn_step(g, w, input_proj(at, g, w, x), h, relu);
}

void rc_lstm_cell_at(rc_site at, rc_graph *g, const rc_cell_weights *w, rc_node *x,
                     rc_node **h, rc_node **c)
{
    rc_lstm_step(g, w, input_proj(at, g, w, x), h, c);
}

rc_node *rc_gru_cell_at(rc_site at, rc_graph *g, const rc_cell_weights *w, rc_node *x,
                        rc_node *h)
{
    return rc_gru_step(g, w, input_proj(at, g, w, x), h);
}
