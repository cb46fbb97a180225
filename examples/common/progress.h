/* progress.h - timing and a progress line for the examples' training loops.
 * On a terminal the line refreshes in place; in a log, a new line is
 * printed every `every` steps. Header-only. */
#ifndef RECUR_EXAMPLES_PROGRESS_H
#define RECUR_EXAMPLES_PROGRESS_H

#include <stdbool.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static inline double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef struct progress {
    double start, last_print;
    long total_steps;
    double tokens;
    bool tty;
} progress;

static inline progress progress_start(long total_steps)
{
    progress p = {now_seconds(), 0, total_steps, 0, isatty(fileno(stdout)) != 0};
    return p;
}

/* Report step (1-based) with its loss; tokens processed so far drive tok/s. */
static inline void progress_step(progress *p, const char *label, long step, double loss,
                                 double tokens_this_step)
{
    p->tokens += tokens_this_step;
    double t = now_seconds(), spent = t - p->start;
    bool last = step == p->total_steps;
    if (!last && t - p->last_print < (p->tty ? 0.25 : 10.0))
        return;
    p->last_print = t;
    double eta = step > 0 ? spent / (double)step * (double)(p->total_steps - step) : 0;
    printf("%s%s step %ld/%ld  loss %.4f  %.0f tok/s  %.0fs elapsed  ETA %.0fs%s",
           p->tty ? "\r" : "", label, step, p->total_steps, loss,
           spent > 0 ? p->tokens / spent : 0, spent, eta, p->tty && !last ? "   " : "\n");
    fflush(stdout);
}

#endif
