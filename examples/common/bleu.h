/* bleu.h - corpus BLEU (Papineni et al. 2002) over token ids: clipped
 * n-gram precisions for n = 1..4 summed over the corpus, their geometric
 * mean, and the brevity penalty exp(1 - r/c) when the hypotheses are shorter
 * than the references. No smoothing: a corpus with no matching 4-gram
 * scores 0, as sacreBLEU and multi-bleu.perl do. */
#ifndef RECUR_EXAMPLES_BLEU_H
#define RECUR_EXAMPLES_BLEU_H

#include <stddef.h>
#include <stdint.h>

typedef struct bleu_stats {
    size_t match[4], total[4]; /* clipped matches / hypothesis n-grams */
    size_t hyp_len, ref_len;
} bleu_stats;

/* Add one sentence pair (one reference). */
void bleu_add(bleu_stats *s, const int32_t *hyp, int hyp_len, const int32_t *ref, int ref_len);

/* BLEU in [0, 1]; *bp and precisions[4] (optional) get the parts. */
double bleu_score(const bleu_stats *s, double *bp, double precisions[4]);

#endif
