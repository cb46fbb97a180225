/* Writes the seed corpus of tests/fuzz/fuzz_checkpoint.c into the folder
 * given (tests/fuzz/corpus): real checkpoints of the fuzz model, with and
 * without optimizer state, plus a foreign file without checksums.
 *   cc gen_seeds.c $(pkg-config ...) -o gen_seeds && ./gen_seeds tests/fuzz/corpus
 * (tools/fuzz.sh --seeds does exactly this.) */
#include <stdio.h>
#include <string.h>

#include "recur/checkpoint.h"

int main(int argc, char **argv)
{
    char path[4096], err[RC_CHECKPOINT_ERROR_SIZE];
    if (argc != 2)
        return 2;
    rc_params *ps = rc_params_new();
    rc_node *w = rc_param(ps, "w", RC_SHAPE(2, 3));
    rc_param(ps, "b", RC_SHAPE(3));
    rc_rng rng;
    rc_rng_seed(&rng, 1);
    rc_param_uniform(w, -1, 1, &rng);
    rc_optim_config configs[] = {rc_adam_defaults(), rc_sgd_defaults(0.1)};
    configs[1].momentum = 0.9;
    const char *names[] = {"adam", "sgd_momentum"};
    for (int i = 0; i < 2; i++) {
        rc_optim *opt = rc_optim_new(ps, &configs[i]);
        for (size_t k = 0; k < rc_params_numel(ps); k++)
            rc_params_grads(ps)[k] = (rc_real)(0.25 * (double)k - 1);
        rc_optim_step(opt);
        snprintf(path, sizeof path, "%s/%s.safetensors", argv[1], names[i]);
        if (rc_checkpoint_save(path, ps, opt, err, sizeof err) != 0)
            return fprintf(stderr, "%s\n", err), 1;
        rc_optim_free(opt);
    }
    snprintf(path, sizeof path, "%s/weights_only.safetensors", argv[1]);
    if (rc_checkpoint_save(path, ps, NULL, err, sizeof err) != 0)
        return fprintf(stderr, "%s\n", err), 1;
    /* a foreign file: F64, no checksums, escapes and padding */
    static const char header[] =
        "{\"__metadata__\":{\"format\":\"pt\"},"
        "\"\\u0077\":{\"dtype\":\"F64\",\"shape\":[2,3],\"data_offsets\":[0,48]},"
        "\"b\":{\"dtype\":\"F64\",\"shape\":[3],\"data_offsets\":[48,72]}}   ";
    double data[9] = {1, -2, 3.5, 0.25, 5, 6, 7, 8e-3, 9};
    unsigned char len[8] = {0};
    for (int i = 0; i < 8; i++)
        len[i] = (unsigned char)((sizeof header - 1) >> (8 * i));
    snprintf(path, sizeof path, "%s/foreign_f64.safetensors", argv[1]);
    FILE *f = fopen(path, "wb");
    if (!f)
        return 1;
    fwrite(len, 1, 8, f);
    fwrite(header, 1, sizeof header - 1, f);
    fwrite(data, sizeof data[0], 9, f);
    fclose(f);
    rc_params_free(ps);
    return 0;
}
