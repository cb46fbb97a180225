/* recur/seq2seq.h - encoder-decoder translation models with attention,
 * composed from the recurrent layers and ops.
 *
 * Encoder: embedding + (bi)LSTM/GRU stack over the padded source batch (each
 * sentence its own length). Decoder: one recurrent cell, started from the
 * encoder's final states (forward and backward halves side by side), fed the
 * previous target token (teacher forcing in training). Attention, masked so
 * padded source positions get exactly zero weight:
 *   additive (Bahdanau): score = v . tanh(W_m m_s + W_q h_{t-1}), and the
 *       context is fed to the cell with the embedding;
 *   dot (Luong):         score = m_s . h_t;
 *   general (Luong):     score = m_s . W_a h_t;
 * Luong-style and additive both predict from tanh(W_c [h_t ; context]).
 * Token ids are time-major arrays [T x B] (row t holds step t of every
 * sentence), padded with cfg.pad_id.
 */
#ifndef RECUR_SEQ2SEQ_H
#define RECUR_SEQ2SEQ_H

#include "recur/nn.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum rc_attention {
    RC_ATTN_NONE,
    RC_ATTN_ADDITIVE, /* Bahdanau */
    RC_ATTN_DOT,      /* Luong dot */
    RC_ATTN_GENERAL   /* Luong general */
} rc_attention;

typedef struct rc_seq2seq_config {
    int src_vocab, tgt_vocab;
    int embed;           /* embedding size, both sides */
    int hidden;          /* decoder state; a bidirectional encoder uses hidden/2 per direction */
    rc_cell_kind cell;   /* RC_LSTM, RC_GRU (or an RC_RNN_*) */
    int enc_layers;      /* 0 means 1 */
    bool enc_bidirectional;
    rc_attention attention;
    int attn_size;       /* additive scoring layer; 0 means hidden */
    double dropout;      /* embeddings, between encoder layers, before the output */
    int32_t pad_id, bos_id, eos_id;
    /* Additive attention only: the logits come from the state h_t alone,
     * which the context fed as input, with no W_c [h ; context] layer
     * (torch_bench's W4a model, and many Bahdanau decoders). Dot and general
     * attention reach the output only through W_c: an error there. */
    bool output_from_state; /* last, so positional initialisers stay valid */
} rc_seq2seq_config;

typedef struct rc_seq2seq {
    rc_seq2seq_config cfg;
    rc_embed src_emb, tgt_emb;
    rc_rnn enc;
    rc_cell_weights dec;      /* "decoder.weight_ih", ... */
    rc_linear attn_mem;       /* additive: W_m */
    rc_linear attn_query;     /* additive: W_q; general: W_a */
    rc_node *attn_v;          /* additive: v [1 x attn_size] */
    rc_linear combine;        /* W_c [h ; context] -> hidden */
    rc_linear out;            /* hidden -> tgt_vocab */
    char error[192];          /* why rc_seq2seq_init failed */
} rc_seq2seq;

/* Creates every parameter under prefix ("encoder.weight_ih_l0", "src_embed.weight",
 * "decoder.weight_hh", "out.weight", ...) initialised as torch.nn would.
 * Returns 0, or -1 with the reason in m->error. */
int rc_seq2seq_init(rc_seq2seq *m, rc_params *ps, const char *prefix,
                    const rc_seq2seq_config *cfg, rc_rng *rng);

/* A source batch, encoded once and read by every decoder step. */
typedef struct rc_s2s_memory {
    rc_node *mem;      /* [B x S x hidden] encoder outputs, batch-major;
                          NULL without attention (nothing reads them) */
    rc_node *mem_proj; /* additive: W_m mem, [B x S x attn_size] */
    rc_node *mask;     /* [B x S]: 1 for real tokens, 0 for padding */
    rc_node *neg;      /* [B x S] of -1e9: the score a padded position gets */
    rc_node *h0, *c0;  /* decoder start state [B x hidden] (c0 LSTM only) */
    int B, S;
} rc_s2s_memory;

/* src [S x B] ids, src_lengths[B] in [1, S] (NULL: all S). */
rc_s2s_memory rc_seq2seq_encode_at(rc_site at, rc_graph *g, const rc_seq2seq *m,
                                   const int32_t *src, int S, int B,
                                   const int32_t *src_lengths);
#define rc_seq2seq_encode(...) rc_seq2seq_encode_at(RC_HERE, __VA_ARGS__)

typedef struct rc_s2s_state {
    rc_node *h, *c, *ctx; /* ctx: the last context (additive input feeding) */
} rc_s2s_state;

rc_s2s_state rc_seq2seq_start(rc_graph *g, const rc_seq2seq *m, const rc_s2s_memory *mem);

/* One decoder step from prev[B] token ids: returns logits [B x tgt_vocab],
 * advances *st; *attn (if not NULL) receives the weights [B x S]. */
rc_node *rc_seq2seq_step(rc_graph *g, const rc_seq2seq *m, const rc_s2s_memory *mem,
                         rc_s2s_state *st, const int32_t *prev, rc_node **attn);

/* Teacher-forced mean cross-entropy over the real target tokens. tgt [T x B]
 * holds each sentence's tokens followed by eos, then pad_id (no bos: the
 * decoder is fed bos first, then tgt shifted by one). */
rc_node *rc_seq2seq_loss_at(rc_site at, rc_graph *g, const rc_seq2seq *m,
                            const int32_t *src, int S, int B, const int32_t *src_lengths,
                            const int32_t *tgt, int T);
#define rc_seq2seq_loss(...) rc_seq2seq_loss_at(RC_HERE, __VA_ARGS__)

/* Greedy decoding of a batch with gradients off: out [B x max_len] gets the
 * ids up to and including eos, then pad_id; out_len[B] the lengths (with
 * eos). attn (optional) [B x max_len x S] gets the weights. Resets nothing:
 * call on a graph you reset afterwards. Returns 0, or -1 (see the graph). */
int rc_seq2seq_greedy(rc_graph *g, const rc_seq2seq *m, const int32_t *src, int S, int B,
                      const int32_t *src_lengths, int max_len, int32_t *out, int *out_len,
                      rc_real *attn);

/* Beam search for one source sentence src[S] with beam width k: keeps the k
 * best partial translations by summed log-probability, finishes a
 * hypothesis at eos, and returns the finished one with the best score /
 * length^len_alpha (len_alpha 0: no normalisation). out[max_len] gets it (with
 * eos if reached); returns its length, or -1 (see the graph). k = 1 gives
 * exactly the greedy translation. */
int rc_seq2seq_beam(rc_graph *g, const rc_seq2seq *m, const int32_t *src, int S, int k,
                    int max_len, double len_alpha, int32_t *out);

#ifdef __cplusplus
}
#endif
#endif
