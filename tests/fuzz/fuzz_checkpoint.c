/* libFuzzer target for the checkpoint loader (built by tools/fuzz.sh).
 * Every input is loaded twice into a fixed model (w [2x3], b [3]): with an
 * Adam optimizer and without. Beyond ASan/UBSan's checks, the harness
 * enforces the loader's contract: a refusal carries a message naming the
 * input, and leaves the model and the optimizer exactly as they were. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "recur/checkpoint.h"

static rc_params *ps;
static rc_optim *opt;

static size_t snapshot(rc_real *out)
{
    size_t n = rc_params_numel(ps), k = 0;
    memcpy(out, rc_params_values(ps), n * sizeof *out);
    k += n;
    for (size_t s = 0; s < rc_optim_state_count(opt); s++, k += n)
        memcpy(out + k, rc_optim_state(opt, s), n * sizeof *out);
    out[k++] = (rc_real)rc_optim_steps(opt);
    out[k++] = (rc_real)rc_optim_lr(opt);
    return k;
}

static void load(const uint8_t *data, size_t size, rc_optim *o)
{
    static rc_real before[4096], after[4096];
    char err[RC_CHECKPOINT_ERROR_SIZE] = "";
    size_t n = snapshot(before);
    if (rc_checkpoint_load_buffer(data, size, "fuzz-input", ps, o, err, sizeof err) != 0) {
        if (strncmp(err, "fuzz-input: ", 12) != 0)
            abort(); /* a refusal must say which file and why */
        snapshot(after);
        if (memcmp(before, after, n * sizeof *before) != 0)
            abort(); /* a refused file must not change anything */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ps) {
        ps = rc_params_new();
        rc_param(ps, "w", RC_SHAPE(2, 3));
        rc_param(ps, "b", RC_SHAPE(3));
        rc_optim_config c = rc_adam_defaults();
        opt = rc_optim_new(ps, &c);
    }
    load(data, size, opt);
    load(data, size, NULL);
    return 0;
}
