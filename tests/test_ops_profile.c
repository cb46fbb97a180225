/* RECUR_PROFILE=2: the per-op table (rc_graph_profile_print) and the
 * products by shape (rc_products_profile_print) count what ran, with the
 * shapes and transposes each product had. */
#include <stdint.h>

#include "check.h"
#include "recur/ops.h"

enum { LINE = 256, MAX_LINES = 64, M = 64, K = 48, N = 32 };

/* What fp holds from the start, as lines. */
static int read_lines(FILE *fp, char lines[MAX_LINES][LINE])
{
    rewind(fp);
    int n = 0;
    while (n < MAX_LINES && fgets(lines[n], LINE, fp))
        n++;
    return n;
}

/* The products row M x N x K with op letters `op`: its calls and GFLOP/s,
 * or calls -1 when there is none. Row: M N K op [packed] calls s GFLOP/s share. */
static long product_row(char lines[MAX_LINES][LINE], int n, int M, int N, int K,
                        const char *op, double *gflops)
{
    for (int i = 1; i < n; i++) {
        char copy[LINE], *tok[10];
        int t = 0;
        strcpy(copy, lines[i]);
        for (char *s = strtok(copy, " \n"); s && t < 10; s = strtok(NULL, " \n"))
            tok[t++] = s;
        if (t < 8 || atoi(tok[0]) != M || atoi(tok[1]) != N || atoi(tok[2]) != K ||
            strcmp(tok[3], op) != 0)
            continue;
        const int c = strcmp(tok[4], "packed") == 0 ? 5 : 4;
        *gflops = atof(tok[c + 2]);
        return atol(tok[c]);
    }
    return -1;
}

int main(void)
{
    /* before the first product: the choice is made once */
    setenv("RECUR_PROFILE", "2", 1);
    rc_graph *g = rc_graph_new();
    rc_params *ps = rc_params_new();
    rc_node *p = rc_param(ps, "p", RC_SHAPE(K, N));
    for (size_t k = 0; k < K * N; k++)
        rc_data(p)[k] = (rc_real)(0.01 * (double)(k % 100) - 0.5);
    static rc_real xs[M * K];
    for (int k = 0; k < M * K; k++)
        xs[k] = (rc_real)(0.001 * (k % 1000));

    /* twice: x [M x K] p [K x N] forward (NN), its weight gradient x^T dC (TN);
     * big enough that their rate shows in the table's one decimal */
    for (int step = 0; step < 2; step++) {
        rc_graph_reset(g);
        rc_node *x = rc_input(g, RC_SHAPE(M, K), xs);
        rc_node *loss = rc_sum(g, rc_matmul(g, x, p));
        CHECK(rc_ok(loss));
        CHECK(rc_backward(g, loss) == 0);
    }

    FILE *fp = tmpfile();
    CHECK(fp != NULL);
    if (!fp)
        return check_finish("ops_profile");
    char lines[MAX_LINES][LINE];
    rc_products_profile_print(fp);
    int n = read_lines(fp, lines);
    CHECK(n >= 4 && strncmp(lines[0], "product", 7) == 0);
    double gf = 0;
    CHECK(product_row(lines, n, M, N, K, "NN", &gf) == 2);
    CHECK(gf > 0);
    CHECK(product_row(lines, n, K, N, M, "TN", &gf) == 2);
    CHECK(gf > 0);
    CHECK(product_row(lines, n, N, K, M, "NN", &gf) == -1); /* not a shape that ran */
    CHECK(n >= 1 && strncmp(lines[n - 1], "(all)", 5) == 0);

    /* past the table's 127 shapes the rest share one row: 2 + 130 shapes */
    static rc_real ones[2 * 130];
    for (int k = 0; k < 2 * 130; k++)
        ones[k] = 1;
    for (int k = 1; k <= 130; k++) {
        rc_graph_reset(g);
        rc_node *a = rc_input(g, RC_SHAPE(2, k), ones), *b = rc_input(g, RC_SHAPE(k, 2), ones);
        CHECK(rc_ok(rc_matmul(g, a, b)));
    }
    fclose(fp);
    fp = tmpfile();
    CHECK(fp != NULL);
    if (!fp)
        return check_finish("ops_profile");
    rc_products_profile_print(fp);
    n = read_lines(fp, lines);
    long other = -1;
    for (int i = 0; i < n; i++)
        if (strstr(lines[i], "(other shapes)"))
            other = atol(strstr(lines[i], ")") + 1);
    CHECK(other == 132 - 127);
    CHECK(product_row(lines, n, 2, 2, 125, "NN", &gf) == 1); /* the last with a row */
    CHECK(product_row(lines, n, 2, 2, 126, "NN", &gf) == -1);

    /* the per-op table counts the two forwards of matmul */
    fclose(fp);
    fp = tmpfile();
    CHECK(fp != NULL);
    if (!fp)
        return check_finish("ops_profile");
    rc_graph_profile_print(g, fp);
    n = read_lines(fp, lines);
    long matmul_calls = -1;
    for (int i = 0; i < n; i++)
        if (strncmp(lines[i], "matmul ", 7) == 0)
            matmul_calls = atol(lines[i] + 7);
    CHECK(matmul_calls == 2 + 130);
    fclose(fp);

    rc_params_free(ps);
    rc_graph_free(g);
    return check_finish("ops_profile");
}
