/* recur/ops.h - primitive differentiable ops.
 *
 * Every builder takes the graph first, computes its result at once, records
 * it on the tape and returns the new node. On bad input (NULL, wrong shapes,
 * ids out of range) it records an error naming the op, the shapes and the
 * call site on the graph and returns a poisoned node; later ops pass the
 * poison through, so one check of rc_graph_error() (or the return of
 * rc_backward) after a whole step is enough. Shapes below are written
 * [rows x cols]; "..." stands for any leading dims (at most 4 in all).
 *
 * Every public name is a macro that adds the call site: rc_add(g, a, b)
 * calls rc_add_at(RC_HERE, g, a, b), and the arguments are those of the
 * *_at function after `at`. The macros are variadic, so compound literals
 * such as (rc_real[]){1, 2} can be passed directly. Call the *_at functions
 * yourself to report your own caller's site from a wrapper.
 */
#ifndef RECUR_OPS_H
#define RECUR_OPS_H

#include "recur/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- threads ------------------------------------------------------------
 * recur's kernels (products, fused cells) split each op's work over this many
 * threads, the calling one included: one fork-join per op. 1 by default, or
 * RECUR_NUM_THREADS. With more than one, keep BLAS at one thread
 * (OPENBLAS_NUM_THREADS=1; recur asks for that unless you set it). Set it
 * before building graphs, not while another thread runs ops. */
void rc_set_num_threads(int n);
int rc_num_threads(void);

/* Time spent in matrix products by shape (M x N x K, transposes, and
 * "packed" for a weight's per-graph copy): calls, wall seconds (bias and
 * NaN scan included), GFLOP/s and share, slowest first. Collected only when
 * the environment has RECUR_PROFILE=2 (which also prints the per-op table
 * of rc_graph_profile_print) from the first product on, and then printed to
 * stderr at exit as well. Compare the GFLOP/s with the core's FMA peak
 * (bench/gemm_bench --peak) to see which products hold a step back. */
void rc_products_profile_print(FILE *fp);

/* ---- matrix products ---------------------------------------------------- */

#define RC_TRANS_A 1 /* use a^T (last two dims) */
#define RC_TRANS_B 2 /* use b^T (last two dims) */

/* a [M x K] . b [K x N] -> [M x N], with either operand transposed by flags.
 * Batched: a [... x M x K] with b [... x K x N] (same leading dims) or with a
 * 2-D b shared by every batch entry.
 * When a is rows of an embedding (rc_embedding's output or a 2-D view of it)
 * whose table [V x K] has at most half as many rows as the embedding made,
 * and b is 2-D, the product is folded: table . op(b) (+ bias) is made once
 * per graph and weight, and the result gathers its rows by the ids (an
 * "embedding" node). Same values up to rounding; gradients reach the table,
 * b and the bias through the table's product (the embedded rows themselves
 * get none from this product: rc_grad of them stays NULL unless other ops
 * read them; pass a copy, e.g. rc_scale(g, x, 1), to keep it plain). A
 * char-level model's input projection then costs V rows instead of T*B.
 * RECUR_FOLD=0 turns it off. */
rc_node *rc_matmul_at(rc_site at, rc_graph *g, rc_node *a, rc_node *b, int flags);
#define rc_matmul(...) rc_matmul_at(RC_HERE, __VA_ARGS__, 0)
/* a . b^T: with b = W [out x in] this is torch.nn.Linear's x W^T. */
#define rc_matmul_nt(...) rc_matmul_at(RC_HERE, __VA_ARGS__, RC_TRANS_B)
#define rc_matmul_tn(...) rc_matmul_at(RC_HERE, __VA_ARGS__, RC_TRANS_A)
#define rc_matmul_ex(...) rc_matmul_at(RC_HERE, __VA_ARGS__)
/* a . op(b) + bias, bias [N] added to every row (NULL: none): torch's
 * addmm / F.linear in one node, e.g. rc_matmul_bias(g, x, W, b, RC_TRANS_B). */
rc_node *rc_matmul_bias_at(rc_site at, rc_graph *g, rc_node *a, rc_node *b, rc_node *bias,
                           int flags);
#define rc_matmul_bias(...) rc_matmul_bias_at(RC_HERE, __VA_ARGS__)

/* ---- elementwise, with broadcasting ------------------------------------- */

/* a (op) b with numpy broadcasting: shapes are aligned at the last dim and a
 * dim of 1 (or a missing leading dim) stretches; e.g. [B x H] + [H] adds a row
 * to every row, [B x H] * [B x 1] scales each row by its own column value. */
rc_node *rc_add_at(rc_site at, rc_graph *g, rc_node *a, rc_node *b);
rc_node *rc_sub_at(rc_site at, rc_graph *g, rc_node *a, rc_node *b);
rc_node *rc_mul_at(rc_site at, rc_graph *g, rc_node *a, rc_node *b);
rc_node *rc_div_at(rc_site at, rc_graph *g, rc_node *a, rc_node *b);
#define rc_add(...) rc_add_at(RC_HERE, __VA_ARGS__)
#define rc_sub(...) rc_sub_at(RC_HERE, __VA_ARGS__)
#define rc_mul(...) rc_mul_at(RC_HERE, __VA_ARGS__)
#define rc_div(...) rc_div_at(RC_HERE, __VA_ARGS__)

/* s * a + b for scalars s, b (same shape as a). rc_scale is s * a. */
rc_node *rc_affine_at(rc_site at, rc_graph *g, rc_node *a, double s, double b);
#define rc_affine(...) rc_affine_at(RC_HERE, __VA_ARGS__)
#define rc_scale(...) rc_affine_at(RC_HERE, __VA_ARGS__, 0.0)

/* Pointwise functions (vector math: ops/isa.h; same shape out). */
rc_node *rc_sigmoid_at(rc_site at, rc_graph *g, rc_node *a);
rc_node *rc_tanh_at(rc_site at, rc_graph *g, rc_node *a);
rc_node *rc_relu_at(rc_site at, rc_graph *g, rc_node *a);
rc_node *rc_exp_at(rc_site at, rc_graph *g, rc_node *a);
rc_node *rc_log_at(rc_site at, rc_graph *g, rc_node *a);
#define rc_sigmoid(...) rc_sigmoid_at(RC_HERE, __VA_ARGS__)
#define rc_tanh(...) rc_tanh_at(RC_HERE, __VA_ARGS__)
#define rc_relu(...) rc_relu_at(RC_HERE, __VA_ARGS__)
#define rc_exp(...) rc_exp_at(RC_HERE, __VA_ARGS__)
#define rc_log(...) rc_log_at(RC_HERE, __VA_ARGS__)

/* where(mask, a, b): a where mask != 0, else b. a and b have the same shape;
 * mask broadcasts to it (e.g. [B x 1] per sequence, for padded time steps)
 * and gets no gradient. */
rc_node *rc_where_at(rc_site at, rc_graph *g, rc_node *mask, rc_node *a, rc_node *b);
#define rc_where(...) rc_where_at(RC_HERE, __VA_ARGS__)

/* Inverted dropout: zeroes each element with probability p and scales the
 * rest by 1/(1-p), drawing from the graph's generator (rc_graph_seed). In
 * eval mode, or with p == 0, returns a itself. 0 <= p < 1. */
rc_node *rc_dropout_at(rc_site at, rc_graph *g, rc_node *a, double p);
#define rc_dropout(...) rc_dropout_at(RC_HERE, __VA_ARGS__)

/* ---- fused recurrent cells ------------------------------------------------
 * The pointwise part of a cell step in one node, from gi = x W_ih^T and gh =
 * h W_hh^T, both [B x G*H] (the _hh forms below make gh themselves); b_ih,
 * b_hh [G*H] or NULL.
 * torch.nn's equations and gate order; nn/cells.c uses them, and
 * tests/test_ops_cell.c checks them against the same equations written with
 * the primitive ops above. */

/* LSTM (i f g o): z = gi + b_ih + gh + b_hh; c' = f c + i g; h' = o tanh(c').
 * c [B x H]. Returns [2 x B x H]: rc_select(out, 0) is h', 1 is c'. */
rc_node *rc_lstm_fused_at(rc_site at, rc_graph *g, rc_node *gi, rc_node *gh, rc_node *b_ih,
                          rc_node *b_hh, rc_node *c);
#define rc_lstm_fused(...) rc_lstm_fused_at(RC_HERE, __VA_ARGS__)
/* GRU (r z n): r, z = sigmoid(gi + b_ih + gh + b_hh); n = tanh(gi_n + b_in +
 * r (gh_n + b_hn)); h' = (1 - z) n + z h. h [B x H]; returns h' [B x H]. */
rc_node *rc_gru_fused_at(rc_site at, rc_graph *g, rc_node *gi, rc_node *gh, rc_node *b_ih,
                         rc_node *b_hh, rc_node *h);
#define rc_gru_fused(...) rc_gru_fused_at(RC_HERE, __VA_ARGS__)
/* The same steps with the recurrent product inside: gh = h w_hh^T, h [B x K],
 * w_hh [G*H x K] (torch's weight_hh layout), made by the op into a buffer it
 * reuses every step, so a step keeps no gh. w_hh's gradient pieces are
 * summed in one product at the end of backward, as a matmul's of a weight
 * used every step. The GRU's state is h itself. What nn's cells use. */
rc_node *rc_lstm_fused_hh_at(rc_site at, rc_graph *g, rc_node *gi, rc_node *h, rc_node *w_hh,
                             rc_node *b_ih, rc_node *b_hh, rc_node *c);
#define rc_lstm_fused_hh(...) rc_lstm_fused_hh_at(RC_HERE, __VA_ARGS__)
rc_node *rc_gru_fused_hh_at(rc_site at, rc_graph *g, rc_node *gi, rc_node *h, rc_node *w_hh,
                            rc_node *b_ih, rc_node *b_hh);
#define rc_gru_fused_hh(...) rc_gru_fused_hh_at(RC_HERE, __VA_ARGS__)

/* ---- fused attention ---------------------------------------------------- */

/* Additive (Bahdanau) attention energies: scores[b][s] = v . tanh(keys[b][s]
 * + query[b]), keys [B x S x A], query [B x A], v [A] or [1 x A]; returns
 * [B x S]. The same numbers as rc_matmul_nt(rc_tanh(rc_add(keys, query as
 * [B x 1 x A])), v) in one node (tests/test_ops_attention.c). */
rc_node *rc_additive_scores_at(rc_site at, rc_graph *g, rc_node *keys, rc_node *query,
                               rc_node *v);
#define rc_additive_scores(...) rc_additive_scores_at(RC_HERE, __VA_ARGS__)

/* ---- normalisation and losses (over the last axis) ---------------------- */

rc_node *rc_softmax_at(rc_site at, rc_graph *g, rc_node *a);
rc_node *rc_log_softmax_at(rc_site at, rc_graph *g, rc_node *a);
#define rc_softmax(...) rc_softmax_at(RC_HERE, __VA_ARGS__)
#define rc_log_softmax(...) rc_log_softmax_at(RC_HERE, __VA_ARGS__)

typedef enum rc_reduction { RC_MEAN = 0, RC_SUM = 1 } rc_reduction;

/* Fused log-softmax + negative log-likelihood, as torch's cross_entropy:
 * logits [... x C] (N rows), targets[N] class ids in [0, C). Rows whose
 * target equals ignore_index count for nothing (padding); RC_MEAN divides
 * by the number of rows that count (0 if none). Returns a scalar. */
rc_node *rc_cross_entropy_at(rc_site at, rc_graph *g, rc_node *logits,
                             const int32_t *targets, int32_t ignore_index,
                             rc_reduction reduction);
#define rc_cross_entropy(...) rc_cross_entropy_at(RC_HERE, __VA_ARGS__)

/* rc_cross_entropy(x w^T + bias, ...) in one node: x [... x K] (N rows),
 * w [C x K] (torch.nn.Linear's weight), bias [C] or NULL. Equal to the two
 * ops, faster (the logits are made and turned into their gradient a block
 * of rows at a time, while in cache, and never kept), and the logits are not
 * available. A NaN or Inf logit is reported by this op, naming its rows. */
rc_node *rc_linear_cross_entropy_at(rc_site at, rc_graph *g, rc_node *x, rc_node *w,
                                    rc_node *bias, const int32_t *targets,
                                    int32_t ignore_index, rc_reduction reduction);
#define rc_linear_cross_entropy(...) rc_linear_cross_entropy_at(RC_HERE, __VA_ARGS__)

/* Mean squared error mean((a - b)^2) over all elements; a scalar. Same shapes. */
rc_node *rc_mse_at(rc_site at, rc_graph *g, rc_node *a, rc_node *b);
#define rc_mse(...) rc_mse_at(RC_HERE, __VA_ARGS__)

/* ---- lookup, shape and reductions --------------------------------------- */

/* Rows of table [V x E] gathered by ids (ids_shape elements, each in
 * [0, V)) -> ids_shape + [E]. Backward scatter-adds into the table. */
rc_node *rc_embedding_at(rc_site at, rc_graph *g, rc_node *table,
                         const int32_t *ids, rc_shape ids_shape);
#define rc_embedding(...) rc_embedding_at(RC_HERE, __VA_ARGS__)

/* Join n tensors along axis (all other dims equal). */
rc_node *rc_concat_at(rc_site at, rc_graph *g, int axis, int n, rc_node *const parts[]);
#define rc_concat(...) rc_concat_at(RC_HERE, __VA_ARGS__)
#define rc_concat2(g, a, b, axis) rc_concat_at(RC_HERE, (g), (axis), 2, (rc_node *const[]){(a), (b)})

/* len entries of axis starting at start. A view (no copy) when every dim
 * before axis is 1, e.g. rows of a matrix. */
rc_node *rc_slice_at(rc_site at, rc_graph *g, rc_node *a, int axis, int start, int len);
#define rc_slice(...) rc_slice_at(RC_HERE, __VA_ARGS__)

/* a[index] along the first dim, which is dropped: [N x ...] -> [...]. A view. */
rc_node *rc_select_at(rc_site at, rc_graph *g, rc_node *a, int index);
#define rc_select(...) rc_select_at(RC_HERE, __VA_ARGS__)

/* Same data, new shape of the same size (no copy). */
rc_node *rc_reshape_at(rc_site at, rc_graph *g, rc_node *a, rc_shape s);
#define rc_reshape(...) rc_reshape_at(RC_HERE, __VA_ARGS__)

/* Swap the last two dims: [... x M x N] -> [... x N x M]. */
rc_node *rc_transpose_at(rc_site at, rc_graph *g, rc_node *a);
#define rc_transpose(...) rc_transpose_at(RC_HERE, __VA_ARGS__)

/* Reorder dims: output dim k is input dim axes[k], e.g. {1, 0, 2} turns a
 * time-major [T x B x H] into batch-major [B x T x H] (a copy). */
rc_node *rc_permute_at(rc_site at, rc_graph *g, rc_node *a, int ndim, const int *axes);
#define rc_permute(...) rc_permute_at(RC_HERE, __VA_ARGS__)

/* Sum / mean of every element: a scalar. */
rc_node *rc_sum_at(rc_site at, rc_graph *g, rc_node *a);
rc_node *rc_mean_at(rc_site at, rc_graph *g, rc_node *a);
#define rc_sum(...) rc_sum_at(RC_HERE, __VA_ARGS__)
#define rc_mean(...) rc_mean_at(RC_HERE, __VA_ARGS__)
/* Sum over one axis, which is removed: [B x T x H] axis 1 -> [B x H]. */
rc_node *rc_sum_axis_at(rc_site at, rc_graph *g, rc_node *a, int axis);
#define rc_sum_axis(...) rc_sum_axis_at(RC_HERE, __VA_ARGS__)

#ifdef __cplusplus
}
#endif
#endif
