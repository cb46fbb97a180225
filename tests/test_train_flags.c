/* examples/common/train_util.h's flag table (tu_parse_flags), which the
 * sentiment, pos_tagger and tree_sentiment examples parse their command
 * lines with: every kind of value lands where its entry says, "given" is
 * set only for flags that came, and each kind of bad command line is
 * refused with -1 (a message on stderr) without touching what it names. */
#include "check.h"
#include "common/train_util.h"

typedef struct opts {
    int epochs;
    long steps;
    double lr;
    uint64_t seed;
    const char *save;
    bool smoke, bidirectional;
} opts;

static int helped;
static void usage(FILE *fp)
{
    (void)fp;
    helped++;
}

/* Parses the NULL-ended words after a program name into o (reset first). */
static int run(opts *o, bool *epochs_given, const char *const *words)
{
    char *argv[32] = {"prog"};
    int argc = 1;
    for (; words[argc - 1] && argc < 32; argc++)
        argv[argc] = (char *)words[argc - 1];
    *o = (opts){.epochs = 3, .steps = 7, .lr = 0.5, .seed = 1, .bidirectional = true};
    *epochs_given = false;
    const tu_flag flags[] = {
        {"--smoke", TU_SWITCH, &o->smoke, .on = true},
        {"--unidirectional", TU_SWITCH, &o->bidirectional, .on = false},
        {"--epochs", TU_INT, &o->epochs, .lo = 1, .hi = 100, .given = epochs_given},
        {"--steps", TU_LONG, &o->steps, .lo = 0, .hi = 5e9},
        {"--lr", TU_DOUBLE, &o->lr, .lo = 1e-6, .hi = 1},
        {"--seed", TU_U64, .dst = &o->seed},
        {"--save", TU_TEXT, .dst = &o->save},
        {.name = NULL}};
    return tu_parse_flags("prog", argc, argv, flags, usage);
}

int main(void)
{
    opts o;
    bool given;

    /* every kind, in any order */
    CHECK(run(&o, &given,
              (const char *const[]){"--lr", "0.25", "--steps", "4000000000", "--smoke",
                                    "--seed", "18446744073709551615", "--epochs", "12",
                                    "--unidirectional", "--save", "m.safetensors", "--data",
                                    "/tmp/recur-flags-data", NULL}) == 0);
    CHECK(o.epochs == 12 && given);
    CHECK(o.steps == 4000000000L);
    CHECK_NEAR(o.lr, 0.25, 0);
    CHECK(o.seed == UINT64_MAX);
    CHECK(o.smoke && !o.bidirectional);
    CHECK(o.save && strcmp(o.save, "m.safetensors") == 0);
    CHECK(getenv("RECUR_DATA") && strcmp(getenv("RECUR_DATA"), "/tmp/recur-flags-data") == 0);

    /* nothing given: the defaults stay, and so does "given" */
    CHECK(run(&o, &given, (const char *const[]){NULL}) == 0);
    CHECK(o.epochs == 3 && !given && o.steps == 7 && !o.smoke && o.bidirectional && !o.save);

    /* --help anywhere: usage, 1 */
    CHECK(run(&o, &given, (const char *const[]){"--epochs", "2", "-h", "--bogus", NULL}) == 1);
    CHECK(helped == 1);

    /* refused: out of range, not a number, a trailing part, unknown, a
     * misspelt flag with a value after it, a missing value, a stray word */
    const char *const *bad[] = {
        (const char *const[]){"--epochs", "0", NULL},
        (const char *const[]){"--epochs", "101", NULL},
        (const char *const[]){"--epochs", "ten", NULL},
        (const char *const[]){"--lr", "0.1x", NULL},
        (const char *const[]){"--lr", "nan", NULL},
        (const char *const[]){"--seed", "-1", NULL},
        (const char *const[]){"--epoch", "5", NULL},
        (const char *const[]){"--steps", NULL},
        (const char *const[]){"--data", NULL},
        (const char *const[]){"extra", NULL},
        (const char *const[]){"--", NULL},
    };
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        CHECK(run(&o, &given, bad[k]) == -1);
        CHECK(o.epochs == 3 && o.steps == 7 && o.seed == 1);
    }
    CHECK(helped == 1);
    return check_finish("train_flags");
}
