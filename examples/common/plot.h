/* plot.h - line charts as a standalone SVG file (training curves). */
#ifndef RECUR_EXAMPLES_PLOT_H
#define RECUR_EXAMPLES_PLOT_H

typedef struct plot_series {
    const char *title;   /* panel title, e.g. "training loss" */
    const char *xlabel;  /* e.g. "step" */
    const double *x, *y;
    int n;
} plot_series;

/* One panel per series, stacked vertically. Writes to a temporary file and
 * renames it over path, so a reader never sees half a plot. Returns 0 or -1. */
int plot_svg(const char *path, const plot_series *series, int count);

#endif
