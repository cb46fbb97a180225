/* A minimal SVG line chart: axes with min/max labels, a polyline, dots. */
#include "plot.h"

#include <math.h>
#include <stdio.h>

enum { WIDTH = 640, PANEL = 240, MARGIN = 56 };

static void panel(FILE *f, const plot_series *s, int top)
{
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (int i = 0; i < s->n; i++) {
        x0 = fmin(x0, s->x[i]), x1 = fmax(x1, s->x[i]);
        y0 = fmin(y0, s->y[i]), y1 = fmax(y1, s->y[i]);
    }
    if (s->n == 0)
        x0 = y0 = 0, x1 = y1 = 1;
    if (x1 == x0)
        x1 = x0 + 1;
    if (y1 == y0)
        y1 = y0 + 1;
    const double w = WIDTH - 2 * MARGIN, h = PANEL - 2 * MARGIN + 16;
    const double left = MARGIN, bottom = top + PANEL - MARGIN + 8;
#define PX(v) (left + ((v) - x0) / (x1 - x0) * w)
#define PY(v) (bottom - ((v) - y0) / (y1 - y0) * h)
    fprintf(f, "<text x='%d' y='%d' font-size='15' font-weight='bold'>%s</text>\n", MARGIN,
            top + 24, s->title);
    fprintf(f, "<rect x='%g' y='%g' width='%g' height='%g' fill='none' stroke='#999'/>\n", left,
            bottom - h, w, h);
    fprintf(f, "<text x='%g' y='%g' font-size='11' text-anchor='end'>%.4g</text>\n", left - 4,
            bottom, y0);
    fprintf(f, "<text x='%g' y='%g' font-size='11' text-anchor='end'>%.4g</text>\n", left - 4,
            bottom - h + 10, y1);
    fprintf(f, "<text x='%g' y='%g' font-size='11'>%.4g</text>\n", left, bottom + 14, x0);
    fprintf(f, "<text x='%g' y='%g' font-size='11' text-anchor='end'>%.4g %s</text>\n",
            left + w, bottom + 14, x1, s->xlabel);
    fprintf(f, "<polyline fill='none' stroke='#1f77b4' stroke-width='1.5' points='");
    for (int i = 0; i < s->n; i++)
        fprintf(f, "%.1f,%.1f ", PX(s->x[i]), PY(s->y[i]));
    fprintf(f, "'/>\n");
    if (s->n <= 60)
        for (int i = 0; i < s->n; i++)
            fprintf(f, "<circle cx='%.1f' cy='%.1f' r='2.5' fill='#1f77b4'/>\n", PX(s->x[i]),
                    PY(s->y[i]));
#undef PX
#undef PY
}

int plot_svg(const char *path, const plot_series *series, int count)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    fprintf(f, "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' "
               "font-family='sans-serif'>\n<rect width='100%%' height='100%%' fill='white'/>\n",
            WIDTH, PANEL * count);
    for (int k = 0; k < count; k++)
        panel(f, &series[k], k * PANEL);
    fprintf(f, "</svg>\n");
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        remove(tmp);
        return -1;
    }
    return 0;
}
