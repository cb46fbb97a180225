/* Fused LSTM and GRU pointwise math (see kernels.h), one batch row at a time
 * so a row's gates stay in L1 between the passes. Compiled once per ISA: the
 * plain loops vectorise under that ISA's flags, the transcendentals are the
 * same SLEEF maps the unfused sigmoid/tanh ops use, so fused and composed
 * cells agree to rounding. */
#include "isa.h"

DEFINE_MAP(map_tanh, VTANH)
DEFINE_MAP(map_sigmoid, vsigmoid)

/* a = x + y (+ bias); y and bias may be NULL */
static void sum3(rc_real *restrict a, const rc_real *restrict x, const rc_real *restrict y,
                 const rc_real *restrict bias, int n)
{
    for (int k = 0; k < n; k++)
        a[k] = x[k] + (y ? y[k] : 0) + (bias ? bias[k] : 0);
}

void ISA_FN(lstm_fwd)(int B, int H, const rc_real *gi, const rc_real *gh, const rc_real *bias,
                      const rc_real *c, rc_real *h_out, rc_real *c_out, rc_real *act)
{
    const size_t G = 4 * (size_t)H;
    for (int b = 0; b < B; b++) {
        rc_real *restrict a = act + b * 5 * (size_t)H;
        sum3(a, gi + b * G, gh ? gh + b * G : NULL, bias, 4 * H);
        map_sigmoid(a, a, 2 * (size_t)H);       /* i, f */
        map_tanh(a + 2 * H, a + 2 * H, (size_t)H); /* g */
        map_sigmoid(a + 3 * H, a + 3 * H, (size_t)H); /* o */
        const rc_real *restrict i = a, *restrict f = a + H, *restrict g = a + 2 * H,
                                *restrict o = a + 3 * H, *restrict cp = c + (size_t)b * H;
        rc_real *restrict cn = c_out + (size_t)b * H, *restrict hn = h_out + (size_t)b * H,
                          *restrict tc = a + 4 * H;
        for (int k = 0; k < H; k++)
            cn[k] = f[k] * cp[k] + i[k] * g[k];
        map_tanh(tc, cn, (size_t)H);
        for (int k = 0; k < H; k++)
            hn[k] = o[k] * tc[k];
    }
}

void ISA_FN(lstm_bwd)(int B, int H, const rc_real *act, const rc_real *c, const rc_real *dh,
                      const rc_real *dc_out, rc_real *dz, rc_real *dc)
{
    const size_t G = 4 * (size_t)H;
    for (int b = 0; b < B; b++) {
        const rc_real *restrict a = act + b * 5 * (size_t)H;
        const rc_real *restrict i = a, *restrict f = a + H, *restrict g = a + 2 * H,
                                *restrict o = a + 3 * H, *restrict tc = a + 4 * H,
                                *restrict cp = c + (size_t)b * H;
        const rc_real *restrict dhr = dh ? dh + (size_t)b * H : NULL;
        const rc_real *restrict dcr = dc_out ? dc_out + (size_t)b * H : NULL;
        rc_real *restrict z = dz + b * G;
        rc_real *restrict dcp = dc ? dc + (size_t)b * H : NULL;
        for (int k = 0; k < H; k++) {
            const rc_real d_h = dhr ? dhr[k] : 0;
            const rc_real d_c = (dcr ? dcr[k] : 0) + d_h * o[k] * (1 - tc[k] * tc[k]);
            z[k] = d_c * g[k] * i[k] * (1 - i[k]);
            z[H + k] = d_c * cp[k] * f[k] * (1 - f[k]);
            z[2 * H + k] = d_c * i[k] * (1 - g[k] * g[k]);
            z[3 * H + k] = d_h * tc[k] * o[k] * (1 - o[k]);
            if (dcp)
                dcp[k] += d_c * f[k];
        }
    }
}

void ISA_FN(gru_fwd)(int B, int H, const rc_real *gi, const rc_real *gh, const rc_real *bias,
                     const rc_real *h, rc_real *h_out, rc_real *act)
{
    const size_t G = 3 * (size_t)H;
    for (int b = 0; b < B; b++) {
        rc_real *restrict a = act + b * 4 * (size_t)H;
        const rc_real *restrict gir = gi + b * G, *restrict ghr = gh ? gh + b * G : NULL;
        sum3(a, gir, ghr, bias, 2 * H);
        map_sigmoid(a, a, 2 * (size_t)H); /* r, z */
        const rc_real *restrict r = a, *restrict zg = a + H, *restrict hp = h + (size_t)b * H;
        rc_real *restrict n = a + 2 * H, *restrict hn = a + 3 * H,
                          *restrict out = h_out + (size_t)b * H;
        for (int k = 0; k < H; k++) {
            hn[k] = (ghr ? ghr[2 * H + k] : 0) + (bias ? bias[2 * H + k] : 0);
            n[k] = gir[2 * H + k] + r[k] * hn[k];
        }
        map_tanh(n, n, (size_t)H);
        for (int k = 0; k < H; k++)
            out[k] = n[k] + zg[k] * (hp[k] - n[k]);
    }
}

void ISA_FN(gru_bwd)(int B, int H, const rc_real *act, const rc_real *h, const rc_real *dh_out,
                     rc_real *dgi, rc_real *dgh, rc_real *dh)
{
    const size_t G = 3 * (size_t)H;
    for (int b = 0; b < B; b++) {
        const rc_real *restrict a = act + b * 4 * (size_t)H;
        const rc_real *restrict r = a, *restrict zg = a + H, *restrict n = a + 2 * H,
                                *restrict hn = a + 3 * H, *restrict hp = h + (size_t)b * H;
        const rc_real *restrict d = dh_out ? dh_out + (size_t)b * H : NULL;
        rc_real *restrict gi = dgi + b * G, *restrict gh = dgh + b * G;
        rc_real *restrict dhp = dh ? dh + (size_t)b * H : NULL;
        for (int k = 0; k < H; k++) {
            const rc_real dk = d ? d[k] : 0;
            const rc_real dn = dk * (1 - zg[k]) * (1 - n[k] * n[k]);
            const rc_real dr = dn * hn[k] * r[k] * (1 - r[k]);
            const rc_real dzk = dk * (hp[k] - n[k]) * zg[k] * (1 - zg[k]);
            gi[k] = gh[k] = dr;
            gi[H + k] = gh[H + k] = dzk;
            gi[2 * H + k] = dn;
            gh[2 * H + k] = dn * r[k];
            if (dhp)
                dhp[k] += dk * zg[k];
        }
    }
}
