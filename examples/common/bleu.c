/* Corpus BLEU over token ids. Sentences are short, so n-grams are counted
 * by direct comparison: O(len^2) per sentence, no allocation. */
#include "bleu.h"

#include <math.h>
#include <string.h>

static int same(const int32_t *a, const int32_t *b, int n)
{
    return memcmp(a, b, (size_t)n * sizeof *a) == 0;
}

/* occurrences of the n-gram g in s */
static int count(const int32_t *s, int len, const int32_t *g, int n)
{
    int c = 0;
    for (int i = 0; i + n <= len; i++)
        c += same(s + i, g, n);
    return c;
}

void bleu_add(bleu_stats *s, const int32_t *hyp, int hyp_len, const int32_t *ref, int ref_len)
{
    s->hyp_len += (size_t)hyp_len;
    s->ref_len += (size_t)ref_len;
    for (int n = 1; n <= 4; n++) {
        for (int i = 0; i + n <= hyp_len; i++) {
            s->total[n - 1]++;
            /* count each distinct n-gram once, at its first occurrence */
            int first = 1;
            for (int j = 0; j < i && first; j++)
                first = !same(hyp + j, hyp + i, n);
            if (!first)
                continue;
            int in_hyp = count(hyp, hyp_len, hyp + i, n);
            int in_ref = count(ref, ref_len, hyp + i, n);
            s->match[n - 1] += (size_t)(in_hyp < in_ref ? in_hyp : in_ref);
        }
    }
}

double bleu_score(const bleu_stats *s, double *bp, double precisions[4])
{
    double log_sum = 0;
    int zero = 0;
    for (int n = 0; n < 4; n++) {
        double p = s->total[n] ? (double)s->match[n] / (double)s->total[n] : 0;
        if (precisions)
            precisions[n] = p;
        if (p == 0)
            zero = 1;
        else
            log_sum += log(p);
    }
    double c = (double)s->hyp_len, r = (double)s->ref_len;
    double penalty = c == 0 ? 0 : c > r ? 1 : exp(1 - r / c);
    if (bp)
        *bp = penalty;
    return zero ? 0 : penalty * exp(log_sum / 4);
}
