/* Recurrent cells, each a few ops that read like the equations of
 * torch.nn.RNNCell / LSTMCell / GRUCell. The *_step forms take the input
 * product gi = x W_ih^T precomputed (layers hoist it out of the time loop)
 * and add b_ih themselves (inside the fused op: no pass over a
 * [T*B x G*H] projection for the bias); the *_cell forms compute gi, and
 * their errors name the user's call site. */
#include "recur/nn.h"
#include "recur/op.h"

static rc_node *input_proj(rc_site at, rc_graph *g, const rc_cell_weights *w, rc_node *x)
{
    return rc_matmul_at(at, g, x, w->w_ih, RC_TRANS_B);
}

/* The same, for a fused LSTM step alone to read: it keeps its activations
 * there (ops/cell.c), as a layer's steps do in the hoisted projection
 * (W1c: 8 MB less arena a step; W1c/W1 0.87 -> 0.93 at 1 thread). */
static rc_node *input_proj_read_once(rc_site at, rc_graph *g, const rc_cell_weights *w,
                                     rc_node *x)
{
    rc_node *gi = input_proj(at, g, w, x);
    rc_rows_read_once(gi);
    return gi;
}

/* The LSTM and GRU steps are one fused op each, which also makes h W_hh^T
 * (ops/cell.c); tests/test_ops_cell.c checks the fused ops against the same
 * equations written as primitive ops. */

static rc_node *rnn_step_at(rc_site at, rc_graph *g, const rc_cell_weights *w, rc_node *gi,
                            rc_node *h, bool relu)
{
    rc_node *gh = rc_matmul_bias_at(at, g, h, w->w_hh, w->b_hh, RC_TRANS_B);
    rc_node *z = rc_add_at(at, g, gi, gh);
    if (w->b_ih)
        z = rc_add_at(at, g, z, w->b_ih);
    return relu ? rc_relu_at(at, g, z) : rc_tanh_at(at, g, z);
}

/* i, f, g, o = gates; c' = f c + i g; h' = o tanh(c') */
static void lstm_step_at(rc_site at, rc_graph *g, const rc_cell_weights *w, rc_node *gi,
                         rc_node **h, rc_node **c)
{
    rc_node *hc = rc_lstm_fused_hh_at(at, g, gi, *h, w->w_hh, w->b_ih, w->b_hh, *c);
    *h = rc_select_at(at, g, hc, 0);
    *c = rc_select_at(at, g, hc, 1);
}

/* r, z from input and hidden parts together; the reset gate scales the
 * hidden part of n including its bias, as torch.nn.GRU does. */
static rc_node *gru_step_at(rc_site at, rc_graph *g, const rc_cell_weights *w, rc_node *gi,
                            rc_node *h)
{
    return rc_gru_fused_hh_at(at, g, gi, h, w->w_hh, w->b_ih, w->b_hh);
}

rc_node *rc_rnn_step(rc_graph *g, const rc_cell_weights *w, rc_node *gi, rc_node *h,
                     bool relu)
{
    return rnn_step_at(RC_HERE, g, w, gi, h, relu);
}

void rc_lstm_step(rc_graph *g, const rc_cell_weights *w, rc_node *gi, rc_node **h,
                  rc_node **c)
{
    lstm_step_at(RC_HERE, g, w, gi, h, c);
}

rc_node *rc_gru_step(rc_graph *g, const rc_cell_weights *w, rc_node *gi, rc_node *h)
{
    return gru_step_at(RC_HERE, g, w, gi, h);
}

rc_node *rc_rnn_cell_at(rc_site at, rc_graph *g, const rc_cell_weights *w, rc_node *x,
                        rc_node *h, bool relu)
{
    return rnn_step_at(at, g, w, input_proj(at, g, w, x), h, relu);
}

void rc_lstm_cell_at(rc_site at, rc_graph *g, const rc_cell_weights *w, rc_node *x,
                     rc_node **h, rc_node **c)
{
    lstm_step_at(at, g, w, input_proj_read_once(at, g, w, x), h, c);
}

rc_node *rc_gru_cell_at(rc_site at, rc_graph *g, const rc_cell_weights *w, rc_node *x,
                        rc_node *h)
{
    return gru_step_at(at, g, w, input_proj(at, g, w, x), h);
}
