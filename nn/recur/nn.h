/* recur/nn.h - layers and recurrent cells, composed only from ops.
 *
 * Cells are plain functions of ops that read like their equations; a layer
 * runs a cell over time, so backward over the recorded steps is BPTT.
 * Parameter names, shapes, gate order and initialisation follow torch.nn
 * exactly (LSTM gates i,f,g,o; GRU r,z,n; weight_ih_l0, bias_hh_l1_reverse,
 * ...; U(-1/sqrt(H), 1/sqrt(H))), so weights move between recur and PyTorch.
 *
 * Sequences are time-major, as torch.nn's default: x is [T x B x I].
 */
#ifndef RECUR_NN_H
#define RECUR_NN_H

#include "recur/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Linear and Embedding ------------------------------------------------ */

/* y = x W^T + b, W [out x in], b [out] (torch.nn.Linear: "<prefix>weight",
 * "<prefix>bias", init U(-1/sqrt(in), 1/sqrt(in))). */
typedef struct rc_linear {
    rc_node *weight, *bias; /* bias NULL when built without */
    int in, out;
} rc_linear;

int rc_linear_init(rc_linear *l, rc_params *ps, const char *prefix, int in, int out,
                   bool bias, rc_rng *rng);
/* x [... x in] -> [... x out] */
rc_node *rc_linear_at(rc_site at, rc_graph *g, const rc_linear *l, rc_node *x);
#define rc_linear(...) rc_linear_at(RC_HERE, __VA_ARGS__)

/* Lookup table "<prefix>weight" [num x dim], init N(0, 1) like torch. */
typedef struct rc_embed {
    rc_node *weight;
    int num, dim;
} rc_embed;

int rc_embed_init(rc_embed *e, rc_params *ps, const char *prefix, int num, int dim,
                  rc_rng *rng);

/* ---- cells ------------------------------------------------------------------
 * One time step. x [B x I], states [B x H]; W_ih [G*H x I], W_hh [G*H x H],
 * biases [G*H] (either may be NULL), with G = 1 (RNN), 4 (LSTM), 3 (GRU). */

typedef struct rc_cell_weights {
    rc_node *w_ih, *w_hh, *b_ih, *b_hh;
} rc_cell_weights;

/* h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)  (relu instead when relu) */
rc_node *rc_rnn_cell_at(rc_site at, rc_graph *g, const rc_cell_weights *w, rc_node *x,
                        rc_node *h, bool relu);
#define rc_rnn_cell(...) rc_rnn_cell_at(RC_HERE, __VA_ARGS__)

/* LSTM: updates *h and *c in place (the new nodes). */
void rc_lstm_cell_at(rc_site at, rc_graph *g, const rc_cell_weights *w, rc_node *x,
                     rc_node **h, rc_node **c);
#define rc_lstm_cell(...) rc_lstm_cell_at(RC_HERE, __VA_ARGS__)

/* GRU: h' = (1 - z) n + z h, n = tanh(W_in x + b_in + r (W_hn h + b_hn)) */
rc_node *rc_gru_cell_at(rc_site at, rc_graph *g, const rc_cell_weights *w, rc_node *x,
                        rc_node *h);
#define rc_gru_cell(...) rc_gru_cell_at(RC_HERE, __VA_ARGS__)

/* The same steps from a precomputed input product gi = x W_ih^T [B x G*H]
 * (without the bias: the step adds b_ih); layers hoist that product out of
 * the time loop. */
rc_node *rc_rnn_step(rc_graph *g, const rc_cell_weights *w, rc_node *gi, rc_node *h,
                     bool relu);
void rc_lstm_step(rc_graph *g, const rc_cell_weights *w, rc_node *gi, rc_node **h,
                  rc_node **c);
rc_node *rc_gru_step(rc_graph *g, const rc_cell_weights *w, rc_node *gi, rc_node *h);

/* ---- recurrent layers ---------------------------------------------------------- */

typedef enum rc_cell_kind { RC_RNN_TANH, RC_RNN_RELU, RC_LSTM, RC_GRU } rc_cell_kind;

typedef struct rc_rnn_config {
    rc_cell_kind cell;
    int input_size, hidden_size;
    int num_layers;     /* 0 means 1 */
    bool bidirectional;
    bool no_bias;       /* torch's bias=False */
    double dropout;     /* between layers, in training mode */
} rc_rnn_config;

#define RC_RNN_MAX_LAYERS 8

/* A stack of recurrent layers, like torch.nn.RNN / LSTM / GRU. */
typedef struct rc_rnn {
    rc_rnn_config cfg;
    int layers, dirs, gates;
    rc_cell_weights w[RC_RNN_MAX_LAYERS][2]; /* [layer][direction] */
    char error[192];                         /* why rc_rnn_init failed */
} rc_rnn;

/* Creates "<prefix>weight_ih_l0", ... in torch's order and initialises them
 * U(-1/sqrt(H), 1/sqrt(H)) from rng (rng NULL: leave them zero). Returns 0,
 * or -1 with the reason in m->error. */
int rc_rnn_init(rc_rnn *m, rc_params *ps, const char *prefix, const rc_rnn_config *cfg,
                rc_rng *rng);

typedef struct rc_rnn_result {
    rc_node *output; /* [T x B x dirs*H]: last layer, [forward | backward] */
    rc_node *h_n;    /* [layers*dirs x B x H], index layer*dirs + direction */
    rc_node *c_n;    /* LSTM only, same layout */
} rc_rnn_result;

/* Run the stack over x [T x B x I]. lengths (B entries in [1, T], or NULL for
 * all T) gives each sequence its own length with torch's packed-sequence
 * semantics: padded steps leave the state alone and output zeros, and the
 * backward direction starts at each sequence's own last step. h0 / c0
 * [layers*dirs x B x H] may be NULL (zeros). On error every field is a
 * poisoned node and the graph says why. */
rc_rnn_result rc_rnn_forward_at(rc_site at, rc_graph *g, const rc_rnn *m, rc_node *x,
                                const int32_t *lengths, rc_node *h0, rc_node *c0);
#define rc_rnn_forward(...) rc_rnn_forward_at(RC_HERE, __VA_ARGS__)

/* rc_rnn_forward for the final states alone (output NULL): the last layer's
 * outputs are neither gathered into [T x B x dirs*H] nor kept, as for an
 * encoder that only hands its state on. */
rc_rnn_result rc_rnn_final_states_at(rc_site at, rc_graph *g, const rc_rnn *m, rc_node *x,
                                     const int32_t *lengths, rc_node *h0, rc_node *c0);
#define rc_rnn_final_states(...) rc_rnn_final_states_at(RC_HERE, __VA_ARGS__)

/* Number of reals the stack's parameters hold (the torch formula). */
size_t rc_rnn_param_count(const rc_rnn_config *cfg);

#ifdef __cplusplus
}
#endif
#endif
