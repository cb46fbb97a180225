/* Corpus BLEU against values worked out by hand (and by an independent
 * Counter-based implementation): perfect match, brevity penalty, clipping of
 * repeated words, and a corpus with no matching 4-gram. */
#include "../examples/common/bleu.h"
#include "check.h"

/* Words to ids through a tiny table, enough for these sentences. */
static int ids(const char *text, int32_t *out)
{
    static char words[64][16];
    static int nwords;
    int n = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", text);
    for (char *w = strtok(buf, " "); w; w = strtok(NULL, " ")) {
        int id = 0;
        while (id < nwords && strcmp(words[id], w) != 0)
            id++;
        if (id == nwords)
            snprintf(words[nwords++], sizeof words[0], "%s", w);
        out[n++] = id;
    }
    return n;
}

static double corpus(const char *const pairs[][2], int count, double *bp, double p[4])
{
    bleu_stats s = {0};
    for (int k = 0; k < count; k++) {
        int32_t h[32], r[32];
        int nh = ids(pairs[k][0], h), nr = ids(pairs[k][1], r);
        bleu_add(&s, h, nh, r, nr);
    }
    return bleu_score(&s, bp, p);
}

int main(void)
{
    double bp, p[4];
    const char *const perfect[][2] = {{"the cat sat on the mat", "the cat sat on the mat"}};
    CHECK_NEAR(corpus(perfect, 1, &bp, p), 1.0, 1e-12);

    /* p = 12/12, 9/10, 7/8, 5/6; c = 12 < r = 14: BP = exp(1 - 14/12) */
    const char *const shorter[][2] = {
        {"the cat sat on the mat", "the cat sat on the mat today"},
        {"a dog is in the garden", "a dog is in the big garden"}};
    double want = exp(1 - 14.0 / 12) * pow(1.0 * 0.9 * 0.875 * (5.0 / 6), 0.25);
    CHECK_NEAR(corpus(shorter, 2, &bp, p), want, 1e-12);
    CHECK_NEAR(want, 0.76187709196752, 1e-12);
    CHECK_NEAR(bp, exp(-1.0 / 6), 1e-12);
    CHECK_NEAR(p[1], 0.9, 1e-12);

    /* "the" x 8 in the hypothesis but twice in the reference: clipped to 2;
     * longer hypothesis, no penalty. p = 6/12, 5/11, 4/10, 3/9 */
    const char *const repeats[][2] = {
        {"the the the the the the the cat sat on the mat", "the cat sat on the mat"}};
    CHECK_NEAR(corpus(repeats, 1, &bp, p), 0.41722614486115056, 1e-12);
    CHECK_NEAR(p[0], 0.5, 1e-12);
    CHECK_NEAR(bp, 1.0, 1e-12);

    /* no 4-gram in common: 0, although lower orders match */
    const char *const none[][2] = {{"a b c d", "a b c e"}};
    CHECK(corpus(none, 1, &bp, p) == 0);
    CHECK_NEAR(p[0], 0.75, 1e-12);
    /* an empty hypothesis */
    bleu_stats s = {0};
    int32_t r[3] = {1, 2, 3};
    bleu_add(&s, r, 0, r, 3);
    CHECK(bleu_score(&s, &bp, NULL) == 0 && bp == 0);
    return check_finish("bleu");
}
