/* Encoder-decoder: gradients of the whole model for every attention kind
 * with variable lengths on both sides; padded source positions get exactly
 * zero attention; beam search with k = 1 is greedy decoding. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "recur/seq2seq.h"

enum { SV = 9, TV = 8, S = 5, T = 4, B = 3 };
enum { PAD = 0, BOS = 2, EOS = 3 };

typedef struct setup {
    rc_seq2seq m;
    int32_t src[S * B], tgt[T * B], src_len[B];
} setup;

static rc_node *loss_of(rc_graph *g, void *ctx)
{
    setup *s = ctx;
    return rc_seq2seq_loss(g, &s->m, s->src, S, B, s->src_len, s->tgt, T);
}

/* Random sentences of lengths src_len / tgt_len, padded; targets end in eos. */
static void make_batch(setup *s, rc_rng *rng)
{
    static const int32_t src_len[B] = {5, 2, 4}, tgt_len[B] = {3, 4, 1}; /* with eos */
    for (int b = 0; b < B; b++) {
        s->src_len[b] = src_len[b];
        for (int t = 0; t < S; t++)
            s->src[t * B + b] = t < src_len[b] ? 4 + (int32_t)(rc_rng_next(rng) % (SV - 4)) : PAD;
        for (int t = 0; t < T; t++)
            s->tgt[t * B + b] = t < tgt_len[b] - 1   ? 4 + (int32_t)(rc_rng_next(rng) % (TV - 4))
                                : t == tgt_len[b] - 1 ? EOS
                                                      : PAD;
    }
}

static void gradcheck_case(const char *label, rc_cell_kind cell, rc_attention attn,
                           bool bidir, int layers, bool from_state)
{
    rc_params *ps = rc_params_new();
    rc_rng rng;
    rc_rng_seed(&rng, 100 + (uint64_t)attn);
    static setup s;
    rc_seq2seq_config cfg = {SV, TV, 3, 4, cell, layers, bidir, attn, 3, 0, PAD, BOS, EOS, from_state};
    CHECK(rc_seq2seq_init(&s.m, ps, "", &cfg, &rng) == 0);
    make_batch(&s, &rng);
    rc_graph *g = rc_graph_new();
    rc_gradcheck_result r;
    check_total_++;
    if (rc_gradcheck_params(g, loss_of, &s, ps, NULL, &r) != 0 || !(r.max_rel_err < GRAD_TOL)) {
        check_failed_++;
        fprintf(stderr, "gradcheck %s: %s rel err %.3g at %s[%zu] (%g vs %g)\n", label, r.error,
                r.max_rel_err, r.worst_param, r.worst_index, r.analytic, r.numeric);
    } else if (getenv("RECUR_TEST_VERBOSE")) {
        printf("gradcheck %-26s rel err %.3g over %zu elements\n", label, r.max_rel_err,
               r.checked);
    }
    /* padded targets count for nothing: changing them leaves the loss */
    rc_graph_reset(g);
    rc_real before = rc_item(loss_of(g, &s));
    s.tgt[3 * B + 0] = PAD == 0 ? PAD : 0; /* sentence 0 is 3 long: step 3 is padding */
    s.src[4 * B + 1] = 5;                  /* sentence 1 is 2 long: step 4 is padding */
    rc_graph_reset(g);
    CHECK(rc_item(loss_of(g, &s)) == before);
    rc_graph_free(g);
    rc_params_free(ps);
}

/* The teacher-forced loss (which runs the attention and pre-outputs of all
 * steps at once where nothing feeds back) equals the mean cross-entropy of
 * rc_seq2seq_step run step by step on the same inputs. */
static void loss_matches_steps(rc_cell_kind cell, rc_attention attn, bool from_state)
{
    rc_params *ps = rc_params_new();
    rc_rng rng;
    rc_rng_seed(&rng, 300 + (uint64_t)attn);
    static setup s;
    rc_seq2seq_config cfg = {SV, TV, 6, 8, cell, 1, true, attn, 5, 0, PAD, BOS, EOS, from_state};
    CHECK(rc_seq2seq_init(&s.m, ps, "", &cfg, &rng) == 0);
    make_batch(&s, &rng);
    rc_graph *g = rc_graph_new();
    rc_graph_set_grad(g, false);
    const double whole = rc_item(loss_of(g, &s));
    rc_graph_reset(g);
    rc_s2s_memory mem = rc_seq2seq_encode(g, &s.m, s.src, S, B, s.src_len);
    rc_s2s_state st = rc_seq2seq_start(g, &s.m, &mem);
    int32_t prev[B] = {BOS, BOS, BOS};
    double sum = 0;
    int count = 0;
    for (int t = 0; t < T; t++) {
        rc_node *logits = rc_seq2seq_step(g, &s.m, &mem, &st, prev, NULL);
        CHECK(rc_ok(logits));
        if (!rc_ok(logits))
            break;
        for (int b = 0; b < B; b++) {
            const int32_t want = s.tgt[t * B + b];
            const rc_real *row = rc_data(logits) + b * TV;
            double max = row[0], z = 0;
            for (int v = 1; v < TV; v++)
                max = fmax(max, row[v]);
            for (int v = 0; v < TV; v++)
                z += exp(row[v] - max);
            if (want != PAD) {
                sum += log(z) + max - row[want];
                count++;
            }
            prev[b] = want;
        }
    }
    const double steps = sum / count;
    check_total_++;
    if (!(fabs(whole - steps) < 1e-5 * fmax(1, fabs(steps)))) {
        check_failed_++;
        fprintf(stderr, "cell %d attention %d: loss %.9g, step by step %.9g\n", (int)cell,
                (int)attn, whole, steps);
    }
    CHECK_NO_ERROR(g);
    rc_graph_free(g);
    rc_params_free(ps);
}

static void attention_and_decoding(rc_attention attn)
{
    rc_params *ps = rc_params_new();
    rc_rng rng;
    rc_rng_seed(&rng, 7);
    static setup s;
    rc_seq2seq_config cfg = {SV, TV, 6, 8, RC_GRU, 1, true, attn, 0, 0, PAD, BOS, EOS, false};
    CHECK(rc_seq2seq_init(&s.m, ps, "s2s.", &cfg, &rng) == 0);
    make_batch(&s, &rng);
    rc_graph *g = rc_graph_new();
    rc_graph_set_grad(g, false);
    rc_s2s_memory mem = rc_seq2seq_encode(g, &s.m, s.src, S, B, s.src_len);
    rc_s2s_state st = rc_seq2seq_start(g, &s.m, &mem);
    int32_t prev[B] = {BOS, BOS, BOS};
    int zero_ok = 1, sum_ok = 1;
    for (int t = 0; t < 3; t++) {
        rc_node *w = NULL;
        rc_node *logits = rc_seq2seq_step(g, &s.m, &mem, &st, prev, &w);
        CHECK(rc_ok(logits));
        CHECK((attn == RC_ATTN_NONE) == (w == NULL));
        if (!rc_ok(w))
            continue;
        for (int b = 0; b < B; b++) {
            double sum = 0;
            for (int j = 0; j < S; j++) {
                rc_real a = rc_data(w)[b * S + j];
                sum += a;
                if (j >= s.src_len[b])
                    zero_ok &= a == 0; /* exactly */
            }
            sum_ok &= fabs(sum - 1) < 1e-5;
        }
    }
    CHECK(zero_ok);
    CHECK(sum_ok);
    CHECK_NO_ERROR(g);

    /* beam k = 1 == greedy, sentence by sentence */
    enum { MAX = 7 };
    int32_t greedy[B * MAX], beam[MAX];
    int glen[B];
    rc_real weights[B * MAX * S];
    rc_graph_reset(g);
    CHECK(rc_seq2seq_greedy(g, &s.m, s.src, S, B, s.src_len, MAX, greedy, glen, weights) == 0);
    for (int b = 0; b < B; b++) {
        int32_t one[S];
        for (int t = 0; t < s.src_len[b]; t++)
            one[t] = s.src[t * B + b];
        rc_graph_reset(g);
        int n = rc_seq2seq_beam(g, &s.m, one, s.src_len[b], 1, MAX, 0.0, beam);
        CHECK(n == glen[b]);
        if (n != glen[b] || getenv("RECUR_TEST_VERBOSE")) {
            printf("attn %d sentence %d: greedy", (int)attn, b);
            for (int t = 0; t < glen[b]; t++)
                printf(" %d", greedy[b * MAX + t]);
            printf(" | beam");
            for (int t = 0; t < n; t++)
                printf(" %d", beam[t]);
            printf("\n");
        }
        CHECK(n > 0 && memcmp(beam, greedy + b * MAX, (size_t)n * sizeof *beam) == 0);
        rc_graph_reset(g);
        CHECK(rc_seq2seq_beam(g, &s.m, one, s.src_len[b], 4, MAX, 1.0, beam) > 0);
    }
    if (attn != RC_ATTN_NONE) {
        int padded_zero = 1;
        for (int t = 0; t < glen[1]; t++)
            for (int j = s.src_len[1]; j < S; j++)
                padded_zero &= weights[(1 * MAX + t) * S + j] == 0;
        CHECK(padded_zero);
    }
    CHECK_NO_ERROR(g);
    rc_graph_free(g);
    rc_params_free(ps);
}

/* output_from_state: additive attention without W_c (no such parameter,
 * torch_bench's W4a parameter count); refused with dot attention. */
static void output_from_state(void)
{
    rc_params *ps = rc_params_new();
    rc_seq2seq m;
    /* W4a's shapes: V 2000, E 128, H 256 */
    rc_seq2seq_config cfg = {2000, 2000, 128, 256, RC_GRU, 1, false, RC_ATTN_ADDITIVE, 0, 0,
                             -1, 0, 1, true};
    CHECK(rc_seq2seq_init(&m, ps, "", &cfg, NULL) == 0);
    CHECK(rc_params_find(ps, "attn.combine.weight") == NULL);
    CHECK(rc_params_numel(ps) == 1947088); /* torch_bench's Seq2Seq("bahdanau", ...) */
    rc_params_free(ps);
    ps = rc_params_new();
    cfg.attention = RC_ATTN_DOT;
    CHECK(rc_seq2seq_init(&m, ps, "", &cfg, NULL) != 0);
    CHECK(strstr(m.error, "output_from_state needs additive attention") != NULL);
    rc_params_free(ps);
}

int main(void)
{
    gradcheck_case("s2s_gru_none", RC_GRU, RC_ATTN_NONE, false, 1, false);
    gradcheck_case("s2s_lstm_additive_bidir", RC_LSTM, RC_ATTN_ADDITIVE, true, 1, false);
    gradcheck_case("s2s_gru_additive_from_state", RC_GRU, RC_ATTN_ADDITIVE, false, 1, true);
    gradcheck_case("s2s_gru_dot_bidir_2layer", RC_GRU, RC_ATTN_DOT, true, 2, false);
    gradcheck_case("s2s_lstm_general", RC_LSTM, RC_ATTN_GENERAL, false, 1, false);
    for (int attn = RC_ATTN_NONE; attn <= RC_ATTN_GENERAL; attn++) {
        loss_matches_steps(RC_GRU, (rc_attention)attn, false);
        loss_matches_steps(RC_LSTM, (rc_attention)attn, false);
    }
    loss_matches_steps(RC_GRU, RC_ATTN_ADDITIVE, true);
    loss_matches_steps(RC_LSTM, RC_ATTN_ADDITIVE, true);
    output_from_state();
    attention_and_decoding(RC_ATTN_NONE);
    attention_and_decoding(RC_ATTN_ADDITIVE);
    attention_and_decoding(RC_ATTN_DOT);
    attention_and_decoding(RC_ATTN_GENERAL);
    return check_finish("nn_seq2seq");
}
