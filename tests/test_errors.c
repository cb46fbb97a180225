/* Bad input is reported, never aborted on: the message names the op, the
 * shapes and the caller's file:line; the first error sticks and poisons
 * everything built after it. */
#include "check.h"
#include "recur/ops.h"

static rc_node *vec(rc_graph *g, rc_shape s) { return rc_fill(g, s, 0.5f); }

int main(void)
{
    rc_graph *g = rc_graph_new();
    rc_params *ps = rc_params_new();
    rc_node *W = rc_param(ps, "W", RC_SHAPE(5, 2));

    /* shape error: op name, both shapes, call site */
    rc_node *a = vec(g, RC_SHAPE(3, 4));
    rc_node *bad = rc_matmul(g, a, W);
    CHECK(!rc_ok(bad));
    CHECK(rc_data(bad) == NULL);
    CHECK(isnan(rc_item(bad)));
    CHECK_ERROR_HAS(g, "matmul");
    CHECK_ERROR_HAS(g, "[3x4]");
    CHECK_ERROR_HAS(g, "[5x2]");
    CHECK_ERROR_HAS(g, "test_errors.c:");
    /* poison passes through; the first message stays */
    rc_node *later = rc_tanh(g, rc_add(g, bad, a));
    CHECK(!rc_ok(later));
    CHECK_ERROR_HAS(g, "matmul");
    CHECK(rc_backward(g, later) == -1);
    CHECK_ERROR_HAS(g, "matmul");
    /* reset clears it */
    rc_graph_reset(g);
    CHECK_NO_ERROR(g);

    /* NULL inputs */
    CHECK(!rc_ok(rc_add(g, vec(g, RC_SHAPE(2)), NULL)));
    CHECK_ERROR_HAS(g, "add");
    CHECK_ERROR_HAS(g, "input 1 is NULL");
    rc_graph_reset(g);

    /* broadcasting that does not fit */
    rc_mul(g, vec(g, RC_SHAPE(2, 3)), vec(g, RC_SHAPE(2)));
    CHECK_ERROR_HAS(g, "mul");
    CHECK_ERROR_HAS(g, "do not broadcast");
    rc_graph_reset(g);

    /* NaN produced by an op, and NaN handed in */
    rc_log(g, rc_fill(g, RC_SHAPE(4), -1.0f));
    CHECK_ERROR_HAS(g, "log");
    CHECK_ERROR_HAS(g, "produced");
    rc_graph_reset(g);
    rc_input(g, RC_SHAPE(3), (rc_real[]){1, NAN, 2});
    CHECK_ERROR_HAS(g, "input");
    CHECK_ERROR_HAS(g, "element 1");
    rc_graph_reset(g);
    rc_data(W)[3] = INFINITY;
    rc_matmul(g, vec(g, RC_SHAPE(1, 5)), W);
    CHECK_ERROR_HAS(g, "matmul");
    CHECK_ERROR_HAS(g, "W");
    CHECK_ERROR_HAS(g, "already holds NaN/Inf");
    rc_data(W)[3] = 0;
    rc_graph_reset(g);

    /* ids out of range */
    rc_node *table = rc_param(ps, "table", RC_SHAPE(4, 3));
    rc_embedding(g, table, (int32_t[]){1, 7, 2}, RC_SHAPE(3));
    CHECK_ERROR_HAS(g, "embedding");
    CHECK_ERROR_HAS(g, "id 7 at position 1");
    rc_graph_reset(g);
    rc_cross_entropy(g, vec(g, RC_SHAPE(2, 3)), (int32_t[]){0, 3}, -100, RC_MEAN);
    CHECK_ERROR_HAS(g, "cross_entropy");
    CHECK_ERROR_HAS(g, "target 3 of row 1");
    rc_graph_reset(g);

    /* axis and range errors */
    rc_slice(g, vec(g, RC_SHAPE(2, 3)), 1, 2, 2);
    CHECK_ERROR_HAS(g, "slice");
    rc_graph_reset(g);
    rc_concat2(g, vec(g, RC_SHAPE(2, 3)), vec(g, RC_SHAPE(3, 3)), 1);
    CHECK_ERROR_HAS(g, "concat");
    CHECK_ERROR_HAS(g, "[3x3]");
    rc_graph_reset(g);
    rc_reshape(g, vec(g, RC_SHAPE(2, 3)), RC_SHAPE(4, 2));
    CHECK_ERROR_HAS(g, "cannot view [2x3] as [4x2]");
    rc_graph_reset(g);
    rc_dropout(g, vec(g, RC_SHAPE(2)), 1.5);
    CHECK_ERROR_HAS(g, "dropout");
    rc_graph_reset(g);
    rc_input(g, RC_SHAPE(2, 0), NULL);
    CHECK_ERROR_HAS(g, "invalid shape");
    rc_graph_reset(g);

    /* backward misuse */
    rc_node *y = rc_matmul(g, vec(g, RC_SHAPE(1, 5)), W);
    CHECK(rc_backward(g, y) == -1);
    CHECK_ERROR_HAS(g, "scalar");
    rc_graph_reset(g);
    CHECK(rc_backward(g, rc_sum(g, vec(g, RC_SHAPE(3)))) == -1);
    CHECK_ERROR_HAS(g, "depends on no parameter");
    rc_graph_reset(g);
    rc_node *loss = rc_sum(g, rc_matmul(g, vec(g, RC_SHAPE(1, 5)), W));
    CHECK(rc_backward(g, loss) == 0);
    CHECK(rc_backward(g, loss) == -1);
    CHECK_ERROR_HAS(g, "already ran");
    rc_graph_reset(g);

    /* parameters */
    CHECK(rc_param(ps, "W", RC_SHAPE(2)) == NULL);
    CHECK(rc_params_error(ps) && strstr(rc_params_error(ps), "exists already"));
    CHECK(rc_param(ps, "neg", RC_SHAPE(2, -1)) == NULL);
    CHECK(strstr(rc_params_error(ps), "invalid shape"));

    /* no graph at all: NULL back, no crash */
    CHECK(rc_add(NULL, W, W) == NULL);
    CHECK(rc_backward(NULL, W) == -1);
    CHECK(rc_graph_error(NULL) != NULL);

    rc_graph_free(g);
    rc_params_free(ps);
    return check_finish("errors");
}
