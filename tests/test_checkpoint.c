/* Checkpoints: the file layout, a round trip with optimizer state, and every
 * way the loader must refuse a file (with a message naming the file and the
 * problem, and the model left exactly as it was). */
#include <stdint.h>

#include "check.h"
#include "optim_support.h"
#include "recur/checkpoint.h"
#include "recur/op.h"

static char dir[64], path[256], err[RC_CHECKPOINT_ERROR_SIZE];

#define CHECK_ERR_HAS(frag)                                                         \
    do {                                                                            \
        check_total_++;                                                             \
        if (!strstr(err, (frag))) {                                                 \
            check_failed_++;                                                        \
            fprintf(stderr, "%s:%d: want an error with \"%s\", got \"%s\"\n",       \
                    __FILE__, __LINE__, (frag), err);                               \
        }                                                                           \
    } while (0)

typedef struct model {
    rc_params *ps;
    rc_node *w, *b;
} model;

/* w [2x3], b [3], every value set to fill */
static model make_model(rc_real fill)
{
    model m = {rc_params_new(), NULL, NULL};
    m.w = rc_param(m.ps, "w", RC_SHAPE(2, 3));
    m.b = rc_param(m.ps, "b", RC_SHAPE(3));
    for (size_t k = 0; k < 6; k++)
        rc_data(m.w)[k] = fill;
    for (size_t k = 0; k < 3; k++)
        rc_data(m.b)[k] = fill;
    return m;
}

static int untouched(model *m, rc_real fill)
{
    for (size_t k = 0; k < 6; k++)
        if (rc_data(m->w)[k] != fill)
            return 0;
    for (size_t k = 0; k < 3; k++)
        if (rc_data(m->b)[k] != fill)
            return 0;
    return 1;
}

/* A file from a header string and data bytes, as a foreign writer would. */
static void write_raw(const char *header, const void *data, size_t n)
{
    size_t h = strlen(header);
    unsigned char *buf = malloc(8 + h + n + 1);
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)((uint64_t)h >> (8 * i));
    memcpy(buf + 8, header, h);
    if (n)
        memcpy(buf + 8 + h, data, n);
    CHECK(spit(path, buf, 8 + h + n) == 0);
    free(buf);
}

/* Loading the file at path must fail with frag in the message, the path in
 * it, and the model untouched. */
static void refuse_(int line, const char *frag)
{
    model m = make_model(7);
    err[0] = 0;
    int rc = rc_checkpoint_load(path, m.ps, NULL, err, sizeof err);
    check_total_++;
    if (rc != -1 || !strstr(err, frag) || !strstr(err, path) || !untouched(&m, 7)) {
        check_failed_++;
        fprintf(stderr, "%s:%d: want refusal with \"%s\": rc %d, err \"%s\", model %s\n",
                __FILE__, line, frag, rc, err, untouched(&m, 7) ? "intact" : "CHANGED");
    }
    rc_params_free(m.ps);
}
#define refuse(frag) refuse_(__LINE__, (frag))

static const float good_data[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
#define W_JSON "\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}"
#define B_JSON "\"b\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[24,36]}"

static void foreign_files(void)
{
    /* a well-formed file from another writer: no checksums, F32 in any build */
    write_raw("{" W_JSON "," B_JSON "}", good_data, 36);
    model m = make_model(0);
    CHECK(rc_checkpoint_load(path, m.ps, NULL, err, sizeof err) == 0);
    CHECK(rc_data(m.w)[0] == 1 && rc_data(m.w)[5] == 6 && rc_data(m.b)[2] == 9);
    /* F64 data loads too; trailing space padding and whitespace are fine */
    double d64[9] = {0.5, 1, 2, 3, 4, 5, 6, 7, -8};
    write_raw("{ \"__metadata__\" : {\"format\":\"pt\"},\n"
              "\"b\":{\"dtype\":\"F64\",\"shape\":[3],\"data_offsets\":[48,72]},"
              "\"w\":{\"dtype\":\"F64\",\"shape\":[2,3],\"data_offsets\":[0,48]}}     ",
              d64, 72);
    CHECK(rc_checkpoint_load(path, m.ps, NULL, err, sizeof err) == 0);
    CHECK(rc_data(m.w)[0] == 0.5 && rc_data(m.b)[2] == -8);
    /* an escaped name decodes: "w" written as "\u0077" */
    write_raw("{\"\\u0077\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
              B_JSON "}", good_data, 36);
    CHECK(rc_checkpoint_load(path, m.ps, NULL, err, sizeof err) == 0);
    rc_params_free(m.ps);

    /* structure */
    CHECK(spit(path, "", 0) == 0);
    refuse("truncated");
    CHECK(spit(path, "\x10\0\0\0", 4) == 0);
    refuse("truncated");
    write_raw("{" W_JSON "," B_JSON "}", good_data, 36);
    size_t n;
    unsigned char *buf = slurp(path, &n);
    buf[0] = 0xff, buf[6] = 0x01; /* header length far past the end */
    CHECK(spit(path, buf, n) == 0);
    refuse("runs past the end");
    free(buf);

    /* malformed JSON */
    const char *bad_json[][2] = {
        {"[" W_JSON "]", "must start with '{'"},
        {"{" W_JSON "," B_JSON, "ends where"},
        {"{" W_JSON "," B_JSON "}x", "after the header object"},
        {"{" W_JSON ",," B_JSON "}", "expected a string"},
        {"{" W_JSON "," B_JSON ",}", "expected a string"},
        {"{\"w\" {\"dtype\":\"F32\"}}", "expected ':'"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24],\"x\":1}}",
         "unexpected field"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[2,-3],\"data_offsets\":[0,24]}}", "negative"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3.0],\"data_offsets\":[0,24]}}",
         "fraction"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[02,3],\"data_offsets\":[0,24]}}",
         "leading zero"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,99999999999999999999]}}",
         "too large"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0]}}", "2 numbers"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}",
         "more than 8"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3]}}", "lacks data_offsets"},
        {"{\"w\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}",
         "twice"},
        {"{\"w\":{\"dtype\":F32,\"shape\":[2,3],\"data_offsets\":[0,24]}}", "a string"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}, \"w\":{}}",
         "no dtype"},
        {"{\"w\\x\":{}}", "bad escape"},
        {"{\"w\\ud800\":{}}", "surrogate"},
        {"{\"w\x01\":{}}", "control character"},
        {"{\"w\xc3\x28\":{}}", "invalid UTF-8"},
        {"{\"w\\u0000\":{}}", "\\u0000"},
        {"{\"__metadata__\":{\"a\":1}}", "not a string"},
        {"{\"__metadata__\":{\"a\":\"1\"},\"__metadata__\":{}}", "__metadata__ given twice"},
        {"{\"__metadata__\":{\"a\":\"1\",\"a\":\"2\"}}", "appears twice"},
        {"{\"__metadata__\":{\"a\":{\"b\":\"c\"}}}", "not a string"},
    };
    for (size_t i = 0; i < sizeof bad_json / sizeof bad_json[0]; i++) {
        write_raw(bad_json[i][0], good_data, 36);
        refuse(bad_json[i][1]);
    }
    /* the same tensor twice: a duplicate name */
    write_raw("{" W_JSON "," W_JSON "}", good_data, 24);
    refuse("appears twice");

    /* dtypes */
    write_raw("{\"w\":{\"dtype\":\"F33\",\"shape\":[2,3],\"data_offsets\":[0,24]}," B_JSON "}",
              good_data, 36);
    refuse("unknown dtype \"F33\"");
    write_raw("{\"w\":{\"dtype\":\"F16\",\"shape\":[2,3],\"data_offsets\":[0,12]},"
              "\"b\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[12,24]}}",
              good_data, 24);
    refuse("dtype F16");

    /* offsets */
    write_raw("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
              "\"b\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[24,40]}}",
              good_data, 36);
    refuse("outside the 36 bytes");
    write_raw("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[24,0]}," B_JSON "}",
              good_data, 36);
    refuse("end before");
    write_raw("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]}," B_JSON "}",
              good_data, 36);
    refuse("need 24");
    write_raw("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
              "\"b\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[16,28]}}",
              good_data, 36);
    refuse("overlap");
    write_raw("{" W_JSON "," B_JSON "}", good_data, 36 - 4); /* data cut short */
    refuse("outside the 32 bytes");
    write_raw("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
              "\"b\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[28,40]}}",
              good_data, 40 - 4);
    refuse("outside");
    float more[10] = {0};
    write_raw("{" W_JSON "," B_JSON "}", more, 40);
    refuse("belong to no tensor");
    write_raw("{\"w\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],"
              "\"data_offsets\":[0,24]}," B_JSON "}", good_data, 36);
    refuse("overflows");

    /* names and shapes against the model */
    write_raw("{" W_JSON "}", good_data, 24);
    refuse("tensor 'b' of the model is missing");
    write_raw("{" W_JSON "," B_JSON ",\"c\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[36,40]}}",
              more, 40);
    refuse("tensor 'c' is in the file but not in the model");
    write_raw("{\"w\":{\"dtype\":\"F32\",\"shape\":[3,2],\"data_offsets\":[0,24]}," B_JSON "}",
              good_data, 36);
    refuse("tensor 'w' has shape [3x2] in the file, [2x3] in the model");
    write_raw("{\"w\":{\"dtype\":\"F32\",\"shape\":[6],\"data_offsets\":[0,24]}," B_JSON "}",
              good_data, 36);
    refuse("has shape [6]");

    /* checksums recorded but wrong / missing / malformed */
    write_raw("{\"__metadata__\":{\"recur.checksum\":\"xxh3-64\"}," W_JSON "," B_JSON "}",
              good_data, 36);
    refuse("has no checksum");
    write_raw("{\"__metadata__\":{\"xxh3.w\":\"0123\"}," W_JSON "," B_JSON "}", good_data, 36);
    refuse("not 16 hex digits");
    write_raw("{\"__metadata__\":{\"xxh3.w\":\"0123456789abcdef\"}," W_JSON "," B_JSON "}",
              good_data, 36);
    refuse("checksum mismatch in tensor 'w'");
    write_raw("{\"__metadata__\":{\"recur.checksum\":\"md5\"}," W_JSON "," B_JSON "}",
              good_data, 36);
    refuse("unknown checksum kind");
    strcpy(path + strlen(path), ".none");
    refuse("cannot open");
    path[strlen(path) - 5] = 0;
}

static void round_trip(void)
{
    rc_params *ps = rc_params_new();
    rc_node *w = rc_param(ps, "weight_ih_l0", RC_SHAPE(4, 3));
    rc_node *s = rc_param(ps, "scale", RC_SCALAR);
    rc_node *q = rc_param(ps, "odd \"name\"\\/\t", RC_SHAPE(2, 1, 1, 3));
    rc_rng rng;
    rc_rng_seed(&rng, 42);
    rc_param_uniform(w, -1, 1, &rng);
    rc_param_uniform(s, -1, 1, &rng);
    rc_param_uniform(q, -1, 1, &rng);
    rc_optim_config c = rc_adam_defaults();
    c.amsgrad = true;
    rc_optim *opt = rc_optim_new(ps, &c);
    for (int i = 0; i < 3; i++) {
        rc_real *g = rc_params_grads(ps);
        for (size_t k = 0; k < rc_params_numel(ps); k++)
            g[k] = (rc_real)(0.1 * (double)(k % 7) - 0.3);
        CHECK(rc_optim_step(opt) == 0);
    }
    rc_optim_set_lr(opt, 0.125);
    CHECK(rc_checkpoint_save(path, ps, opt, err, sizeof err) == 0);

    /* the layout: LE length, JSON header padded to 8, F32/F64 data */
    size_t n;
    unsigned char *buf = slurp(path, &n);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | buf[i];
    CHECK(hlen % 8 == 0 && 8 + hlen < n);
    CHECK(buf[8] == '{');
    char *header = calloc(1, hlen + 1);
    memcpy(header, buf + 8, hlen);
    CHECK(strstr(header, "\"__metadata__\":{\"format\":\"pt\""));
    CHECK(strstr(header, "\"optim.kind\":\"adam\""));
    CHECK(strstr(header, "\"optim.step\":\"3\""));
    CHECK(strstr(header, "\"optim.lr\":\"0.125\""));
    CHECK(strstr(header, "\"optim.max_exp_avg_sq.weight_ih_l0\":{"));
    CHECK(strstr(header, "\"xxh3.optim.exp_avg.scale\":\""));
    CHECK(strstr(header, "\"odd \\\"name\\\"\\\\/\\u0009\""));
#if RC_REAL_IS_DOUBLE
    CHECK(strstr(header, "\"weight_ih_l0\":{\"dtype\":\"F64\",\"shape\":[4,3],"
                         "\"data_offsets\":[0,96]}"));
    CHECK(strstr(header, "\"scale\":{\"dtype\":\"F64\",\"shape\":[],"));
#else
    CHECK(strstr(header, "\"weight_ih_l0\":{\"dtype\":\"F32\",\"shape\":[4,3],"
                         "\"data_offsets\":[0,48]}"));
    CHECK(strstr(header, "\"scale\":{\"dtype\":\"F32\",\"shape\":[],"));
#endif
    CHECK(memcmp(buf + 8 + hlen, rc_data(w), 12 * sizeof(rc_real)) == 0);
    CHECK(n == 8 + hlen + 4 * 19 * sizeof(rc_real)); /* params + 3 states */
    free(header);

    /* load into a fresh model and optimizer: everything identical */
    rc_params *ps2 = rc_params_new();
    rc_node *w2 = rc_param(ps2, "weight_ih_l0", RC_SHAPE(4, 3));
    rc_param(ps2, "scale", RC_SCALAR);
    rc_node *q2 = rc_param(ps2, "odd \"name\"\\/\t", RC_SHAPE(2, 1, 1, 3));
    rc_optim *opt2 = rc_optim_new(ps2, &c);
    CHECK(rc_checkpoint_load(path, ps2, opt2, err, sizeof err) == 0);
    CHECK(memcmp(rc_data(w2), rc_data(w), 12 * sizeof(rc_real)) == 0);
    CHECK(memcmp(rc_data(q2), rc_data(q), 6 * sizeof(rc_real)) == 0);
    CHECK(rc_params_find(ps2, "scale") && rc_item(rc_params_find(ps2, "scale")) == rc_item(s));
    for (size_t i = 0; i < 3; i++)
        for (size_t j = 0; j < 3; j++) {
            rc_node *p = rc_params_at(ps, j);
            CHECK(memcmp(rc_optim_state(opt2, i) + p->offset, rc_optim_state(opt, i) + p->offset,
                         p->val.size * sizeof(rc_real)) == 0);
        }
    CHECK(rc_optim_steps(opt2) == 3 && rc_optim_lr(opt2) == 0.125);

    /* a weights-only load ignores the optimizer tensors */
    rc_params_zero_grad(ps2);
    memset(rc_data(w2), 0, 12 * sizeof(rc_real));
    CHECK(rc_checkpoint_load(path, ps2, NULL, err, sizeof err) == 0);
    CHECK(memcmp(rc_data(w2), rc_data(w), 12 * sizeof(rc_real)) == 0);

    /* optimizer mismatches are refused and change nothing */
    memset(rc_data(w2), 0, 12 * sizeof(rc_real));
    rc_optim *sgd = rc_optim_new(ps2, &(rc_optim_config){.kind = RC_SGD, .lr = 0.1});
    CHECK(rc_checkpoint_load(path, ps2, sgd, err, sizeof err) == -1);
    CHECK_ERR_HAS("the file's optimizer is 'adam', this one is 'sgd'");
    CHECK(rc_data(w2)[0] == 0 && rc_optim_steps(sgd) == 0);
    rc_optim *plain = rc_optim_new(ps2, &(rc_optim_config){.kind = RC_ADAM, .lr = 1e-3,
                                                           .beta1 = 0.9, .beta2 = 0.999});
    CHECK(rc_checkpoint_load(path, ps2, plain, err, sizeof err) == -1);
    CHECK_ERR_HAS("'optim.max_exp_avg_sq.");
    CHECK_ERR_HAS("is optimizer state this adam optimizer does not have");
    CHECK(rc_data(w2)[0] == 0);
    /* a file without optimizer state, loaded with an optimizer */
    char path2[300];
    snprintf(path2, sizeof path2, "%s/weights.safetensors", dir);
    CHECK(rc_checkpoint_save(path2, ps, NULL, err, sizeof err) == 0);
    CHECK(rc_checkpoint_load(path2, ps2, opt2, err, sizeof err) == -1);
    CHECK_ERR_HAS("holds no optimizer state");
    CHECK_ERR_HAS("weights.safetensors");
    rc_optim_free(sgd);
    rc_optim_free(plain);

    /* one flipped byte anywhere in the data: the checksum catches it */
    buf[n - 5] ^= 0x10;
    CHECK(spit(path, buf, n) == 0);
    CHECK(rc_checkpoint_load(path, ps2, opt2, err, sizeof err) == -1);
    CHECK_ERR_HAS("checksum mismatch in tensor 'optim.max_exp_avg_sq.");
    CHECK_ERR_HAS(path);
    CHECK(rc_data(w2)[0] == 0);
    buf[n - 5] ^= 0x10;
    buf[8 + hlen + 3] ^= 0x01; /* first parameter's first value */
    CHECK(spit(path, buf, n) == 0);
    CHECK(rc_checkpoint_load(path, ps2, NULL, err, sizeof err) == -1);
    CHECK_ERR_HAS("checksum mismatch in tensor 'weight_ih_l0'");
    /* every truncation of a real file is refused without reading past it */
    buf[8 + hlen + 3] ^= 0x01;
    int refused = 0;
    for (size_t cut = 0; cut < n; cut++)
        refused += rc_checkpoint_load_buffer(buf, cut, "cut", ps2, opt2, err, sizeof err) == -1;
    CHECK(refused == (int)n);
    CHECK(rc_data(w2)[0] == 0);
    CHECK(rc_checkpoint_load_buffer(buf, n, "whole", ps2, opt2, err, sizeof err) == 0);
    free(buf);

    /* save failures: no folder, bad name; nothing is left behind */
    snprintf(path2, sizeof path2, "%s/no/such/dir/x.safetensors", dir);
    CHECK(rc_checkpoint_save(path2, ps, opt, err, sizeof err) == -1);
    CHECK_ERR_HAS("cannot create a temporary file");
    /* an optimizer that does not cover the store (it grew, or is another's) */
    rc_params *grown = rc_params_new();
    rc_param(grown, "a", RC_SHAPE(3));
    rc_optim *small = rc_optim_new(grown, &c);
    rc_param(grown, "late", RC_SHAPE(100));
    CHECK(rc_checkpoint_save(path2, grown, small, err, sizeof err) == -1);
    CHECK_ERR_HAS("grew from 3 to");
    CHECK(rc_checkpoint_load(path, grown, small, err, sizeof err) == -1);
    CHECK_ERR_HAS("cannot load into the optimizer");
    CHECK(rc_checkpoint_load(path, ps2, small, err, sizeof err) == -1);
    CHECK_ERR_HAS("another parameter store");
    rc_optim_free(small);
    rc_params_free(grown);
    rc_params *bad = rc_params_new();
    rc_param(bad, "bad\xff", RC_SHAPE(1));
    CHECK(rc_checkpoint_save(path, bad, NULL, err, sizeof err) == -1);
    CHECK_ERR_HAS("not UTF-8");
    rc_params_free(bad);
    rc_optim_free(opt);
    rc_optim_free(opt2);
    rc_params_free(ps);
    rc_params_free(ps2);
}

int main(void)
{
    if (!tmpdir_make(dir))
        return 1;
    snprintf(path, sizeof path, "%s/ckpt.safetensors", dir);
    foreign_files();
    round_trip();
    /* only the checkpoints remain: failed saves removed their temporaries */
    DIR *d = opendir(dir);
    struct dirent *e;
    int temps = 0;
    while ((e = readdir(d)))
        temps += strstr(e->d_name, ".tmp.") != NULL;
    closedir(d);
    CHECK(temps == 0);
    tmpdir_remove(dir);
    return check_finish("checkpoint");
}
