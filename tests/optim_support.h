/* tests/optim_support.h - helpers shared by the optim/checkpoint tests.
 * Tests run in the build folder; __FILE__ is this source's path relative to
 * it, so tests/fixtures is found next to it. RECUR_FIXTURES overrides. */
#ifndef RECUR_TEST_OPTIM_SUPPORT_H
#define RECUR_TEST_OPTIM_SUPPORT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Opens tests/fixtures/<name>; NULL (and a message) if it is not there. */
static inline FILE *fixture_open(const char *name)
{
    char path[4096];
    const char *dir = getenv("RECUR_FIXTURES");
    if (dir) {
        snprintf(path, sizeof path, "%s/%s", dir, name);
    } else {
        const char *here = __FILE__;
        const char *slash = strrchr(here, '/');
        int len = slash ? (int)(slash - here) : 1;
        snprintf(path, sizeof path, "%.*s/fixtures/%s", len, slash ? here : ".", name);
    }
    FILE *f = fopen(path, "r");
    if (!f)
        fprintf(stderr, "cannot open fixture %s (set RECUR_FIXTURES to tests/fixtures)\n",
                path);
    return f;
}

#endif
