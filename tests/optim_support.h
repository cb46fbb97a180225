/* tests/optim_support.h - helpers shared by the optim/checkpoint tests.
 * Tests run in the build folder; __FILE__ is this source's path relative to
 * it, so tests/fixtures is found next to it. RECUR_FIXTURES overrides. */
#ifndef RECUR_TEST_OPTIM_SUPPORT_H
#define RECUR_TEST_OPTIM_SUPPORT_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* A fresh folder under /tmp for one test's files; tmpdir_remove deletes it
 * with everything in it (one level deep). */
static inline char *tmpdir_make(char buf[64])
{
    snprintf(buf, 64, "/tmp/recur-test-XXXXXX");
    if (!mkdtemp(buf)) {
        perror("mkdtemp");
        return NULL;
    }
    return buf;
}

static inline void tmpdir_remove(const char *dir)
{
    DIR *d = dir ? opendir(dir) : NULL;
    if (!d)
        return;
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    closedir(d);
    rmdir(dir);
}

/* Reads a whole file; returns a malloc'ed buffer and its size in *n. */
static inline unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc(size > 0 ? (size_t)size : 1);
    *n = buf ? fread(buf, 1, (size_t)size, f) : 0;
    fclose(f);
    return buf;
}

static inline int spit(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(data, 1, n, f);
    return fclose(f) == 0 && w == n ? 0 : -1;
}

#endif
