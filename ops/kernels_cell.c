/* Fused LSTM, GRU and attention pointwise math (see kernels.h), one batch
 * row at a time so a row's gates stay in L1 between the passes. Compiled
 * once per ISA: the plain loops vectorise under that ISA's flags, the
 * transcendentals are the same vector functions the unfused sigmoid/tanh
 * ops use, so fused and composed cells agree to rounding. */
#include "isa.h"

DEFINE_MAP(map_tanh, VTANH)
DEFINE_MAP(map_sigmoid, vsigmoid)

/* a = x + y (+ bias_x + bias_y); y and the biases may be NULL */
static void sum4(rc_real *restrict a, const rc_real *restrict x, const rc_real *restrict y,
                 const rc_real *restrict bx, const rc_real *restrict by, int n)
{
    for (int k = 0; k < n; k++)
        a[k] = x[k] + (y ? y[k] : 0) + (bx ? bx[k] : 0) + (by ? by[k] : 0);
}

/* sum4 in place (x = a), when act is gi's own row; the same order of
 * additions, so the same numbers */
static void add3(rc_real *restrict a, const rc_real *restrict y, const rc_real *restrict bx,
                 const rc_real *restrict by, int n)
{
    for (int k = 0; k < n; k++)
        a[k] = a[k] + (y ? y[k] : 0) + (bx ? bx[k] : 0) + (by ? by[k] : 0);
}

void ISA_FN(lstm_fwd)(int B, int H, const rc_real *gi, const rc_real *gh, const rc_real *bi,
                      const rc_real *bh,
                      const rc_real *c, rc_real *h_out, rc_real *c_out, rc_real *act)
{
    const size_t G = 4 * (size_t)H;
    for (int b = 0; b < B; b++) {
        rc_real *restrict a = act + b * G;
        const rc_real *ghr = gh ? gh + b * G : NULL;
        if (a == gi + b * G) {
            if (ghr || bi || bh) /* else z is there already */
                add3(a, ghr, bi, bh, 4 * H);
        } else
            sum4(a, gi + b * G, ghr, bi, bh, 4 * H);
        map_sigmoid(a, a, 2 * (size_t)H);       /* i, f */
        map_tanh(a + 2 * H, a + 2 * H, (size_t)H); /* g */
        map_sigmoid(a + 3 * H, a + 3 * H, (size_t)H); /* o */
        const rc_real *restrict i = a, *restrict f = a + H, *restrict g = a + 2 * H,
                                *restrict o = a + 3 * H, *restrict cp = c + (size_t)b * H;
        rc_real *restrict cn = c_out + (size_t)b * H, *restrict hn = h_out + (size_t)b * H;
        for (int k = 0; k < H; k++)
            cn[k] = f[k] * cp[k] + i[k] * g[k];
        map_tanh(hn, cn, (size_t)H);
        for (int k = 0; k < H; k++)
            hn[k] *= o[k];
    }
}

/* n units of one row; the gates lie S apart in act and dz. restrict on
 * parameters is what lets GCC vectorise without alias checks (it ignores
 * restrict on block-scope pointers). dcp NULL: the state needs no gradient
 * (a second copy of the loop, so neither has a mask). */
#define LSTM_BWD_LOOP(ACC_DC)                                                    \
    for (int k = 0; k < n; k++) {                                                \
        const rc_real d_c = dcr[k] + dhr[k] * o[k] * (1 - tc[k] * tc[k]);        \
        z[k] = d_c * g[k] * i[k] * (1 - i[k]);                                   \
        z[S + k] = d_c * cp[k] * f[k] * (1 - f[k]);                              \
        z[2 * S + k] = d_c * i[k] * (1 - g[k] * g[k]);                           \
        z[3 * S + k] = dhr[k] * tc[k] * o[k] * (1 - o[k]);                       \
        ACC_DC;                                                                  \
    }

static void lstm_bwd_units(int n, size_t S, const rc_real *restrict i,
                           const rc_real *restrict f, const rc_real *restrict g,
                           const rc_real *restrict o, const rc_real *restrict tc,
                           const rc_real *restrict cp, const rc_real *restrict dhr,
                           const rc_real *restrict dcr, rc_real *restrict z,
                           rc_real *restrict dcp)
{
    if (dcp)
        LSTM_BWD_LOOP(dcp[k] += d_c * f[k])
    else
        LSTM_BWD_LOOP((void)0)
}

/* tanh(c') is recomputed, UNITS at a time into an L1 buffer, rather than
 * kept: act stays 4H per row, the size of the step's gi rows, where a layer
 * lets it live (ops/cell.c). When dz is act itself (those rows become the
 * projection's gradient) the gates are read from a copy. */
enum { UNITS = 256 };

void ISA_FN(lstm_bwd)(int B, int H, const rc_real *act, const rc_real *c, const rc_real *c_out,
                      const rc_real *dh, const rc_real *dc_out, rc_real *dz, rc_real *dc)
{
    rc_real tc[UNITS], gates[4 * UNITS];
    for (int b = 0; b < B; b++)
        for (int u = 0; u < H; u += UNITS) {
            const int n = H - u < UNITS ? H - u : UNITS;
            const rc_real *a = act + 4 * (size_t)b * H + u;
            size_t stride = (size_t)H;
            if (act == dz) {
                for (int q = 0; q < 4; q++)
                    memcpy(gates + q * UNITS, a + q * stride, (size_t)n * sizeof *a);
                a = gates;
                stride = UNITS;
            }
            const size_t at = (size_t)b * H + u;
            map_tanh(tc, c_out + at, (size_t)n);
            lstm_bwd_units(n, (size_t)H, a, a + stride, a + 2 * stride, a + 3 * stride, tc,
                           c + at, dh + at, dc_out + at, dz + 4 * (size_t)b * H + u,
                           dc ? dc + at : NULL);
        }
}

/* x + y + bx + by at unit k, in sum4's order */
static inline vec gate_sum(const rc_real *x, const rc_real *y, const rc_real *bx,
                           const rc_real *by, int k)
{
    return VADD(VADD(VADD(LOAD(x + k), LOAD(y + k)), LOAD(bx + k)), LOAD(by + k));
}

/* A GRU row in one pass in registers, when every input is there and H is
 * whole vectors (W4: about 1% faster than the passes below) */
static void gru_fwd_row_fused(int H, const rc_real *gir, const rc_real *ghr, const rc_real *bi,
                              const rc_real *bh, const rc_real *hp, rc_real *a, rc_real *out)
{
    for (int k = 0; k < H; k += VW) {
        const int kz = H + k, kn = 2 * H + k;
        const vec r = vsigmoid(gate_sum(gir, ghr, bi, bh, k)),
                  z = vsigmoid(gate_sum(gir, ghr, bi, bh, kz));
        const vec hn = VADD(LOAD(ghr + kn), LOAD(bh + kn));
        const vec n = VTANH(VFMA(r, hn, VADD(LOAD(gir + kn), LOAD(bi + kn))));
        STORE(a + k, r);
        STORE(a + kz, z);
        STORE(a + kn, n);
        STORE(a + 3 * H + k, hn);
        STORE(out + k, VFMA(z, VSUB(LOAD(hp + k), n), n));
    }
}

void ISA_FN(gru_fwd)(int B, int H, const rc_real *gi, const rc_real *gh, const rc_real *bi,
                     const rc_real *bh,
                     const rc_real *h, rc_real *h_out, rc_real *act)
{
    const size_t G = 3 * (size_t)H;
    for (int b = 0; b < B; b++) {
        rc_real *restrict a = act + b * 4 * (size_t)H;
        const rc_real *restrict gir = gi + b * G, *restrict ghr = gh ? gh + b * G : NULL;
        if (ghr && bi && bh && H % VW == 0) {
            gru_fwd_row_fused(H, gir, ghr, bi, bh, h + (size_t)b * H, a, h_out + (size_t)b * H);
            continue;
        }
        sum4(a, gir, ghr, bi, bh, 2 * H);
        map_sigmoid(a, a, 2 * (size_t)H); /* r, z */
        const rc_real *restrict r = a, *restrict zg = a + H, *restrict hp = h + (size_t)b * H;
        rc_real *restrict n = a + 2 * H, *restrict hn = a + 3 * H,
                          *restrict out = h_out + (size_t)b * H;
        for (int k = 0; k < H; k++) {
            hn[k] = (ghr ? ghr[2 * H + k] : 0) + (bh ? bh[2 * H + k] : 0);
            n[k] = gir[2 * H + k] + (bi ? bi[2 * H + k] : 0) + r[k] * hn[k];
        }
        map_tanh(n, n, (size_t)H);
        for (int k = 0; k < H; k++)
            out[k] = n[k] + zg[k] * (hp[k] - n[k]);
    }
}

#define GRU_BWD_LOOP(ACC_DH)                                                     \
    for (int k = 0; k < H; k++) {                                                \
        const rc_real dn = d[k] * (1 - zg[k]) * (1 - n[k] * n[k]);               \
        const rc_real dr = dn * hn[k] * r[k] * (1 - r[k]);                       \
        const rc_real dzk = d[k] * (hp[k] - n[k]) * zg[k] * (1 - zg[k]);         \
        gi[k] = dr;                                                              \
        gh[k] = dr;                                                              \
        gi[H + k] = dzk;                                                         \
        gh[H + k] = dzk;                                                         \
        gi[2 * H + k] = dn;                                                      \
        gh[2 * H + k] = dn * r[k];                                               \
        ACC_DH;                                                                  \
    }

static void gru_bwd_row(int H, const rc_real *restrict r, const rc_real *restrict zg,
                        const rc_real *restrict n, const rc_real *restrict hn,
                        const rc_real *restrict hp, const rc_real *restrict d,
                        rc_real *restrict gi, rc_real *restrict gh, rc_real *restrict dhp)
{
    if (dhp)
        GRU_BWD_LOOP(dhp[k] += d[k] * zg[k])
    else
        GRU_BWD_LOOP((void)0)
}

/* n reals from p of the next batch row, asked for while this one runs: a
 * step's rows are a few short streams (gates, states, their gradients),
 * which the hardware prefetcher picks up late at each page, and most come
 * from L3 (W4's GRU backward: 5.3 -> 5.0 ms a step, RECUR_PROFILE; in the
 * forward passes and the LSTM's backward it made no difference or cost). */
static inline void prefetch_row(const rc_real *p, size_t n, bool write)
{
    prefetch_span(p, n * sizeof *p, write);
}

void ISA_FN(gru_bwd)(int B, int H, const rc_real *act, const rc_real *h, const rc_real *dh_out,
                     rc_real *dgi, rc_real *dgh, rc_real *dh)
{
    for (int b = 0; b < B; b++) {
        const rc_real *a = act + b * 4 * (size_t)H;
        const size_t row = (size_t)b * H;
        if (b + 1 < B) {
            prefetch_row(a + 4 * H, 4 * (size_t)H, false);
            prefetch_row(h + row + H, (size_t)H, false);
            prefetch_row(dh_out + row + H, (size_t)H, false);
            prefetch_row(dgi + 3 * (row + H), 3 * (size_t)H, true);
            prefetch_row(dgh + 3 * (row + H), 3 * (size_t)H, true);
            if (dh)
                prefetch_row(dh + row + H, (size_t)H, true);
        }
        gru_bwd_row(H, a, a + H, a + 2 * H, a + 3 * H, h + row, dh_out + row, dgi + 3 * row,
                    dgh + 3 * row, dh ? dh + row : NULL);
    }
}

/* Additive attention, VW units at a time in registers. A tail of A runs the
 * same code on zero-padded copies (v's zeros keep it out of the score). */
static inline vec additive_term(const rc_real *k, const rc_real *q, const rc_real *v, vec acc)
{
    return VFMA(VTANH(VADD(LOAD(k), LOAD(q))), LOAD(v), acc);
}

void ISA_FN(additive_fwd)(int S, int A, const rc_real *keys, const rc_real *q, const rc_real *v,
                          rc_real *scores)
{
    const int body = A / VW * VW, tail = A - body;
    rc_real pq[VW] = {0}, pv[VW] = {0}, pk[VW] = {0}, lanes[VW];
    memcpy(pq, q + body, (size_t)tail * sizeof *q);
    memcpy(pv, v + body, (size_t)tail * sizeof *v);
    for (int s = 0; s < S; s++) {
        const rc_real *kr = keys + (size_t)s * A;
        vec acc = SET1(0.0);
        for (int a = 0; a < body; a += VW)
            acc = additive_term(kr + a, q + a, v + a, acc);
        if (tail) {
            memcpy(pk, kr + body, (size_t)tail * sizeof *kr);
            acc = additive_term(pk, pq, pv, acc);
        }
        STORE(lanes, acc);
        rc_real sum = 0;
        for (int l = 0; l < VW; l++)
            sum += lanes[l];
        scores[s] = sum;
    }
}

/* d pre = ds v (1 - e^2) with e = tanh(k + q); dk and dq += d pre, dv += ds e */
static inline void additive_grad(const rc_real *k, const rc_real *q, const rc_real *v, vec ds,
                                 rc_real *dk, rc_real *dq, rc_real *dv)
{
    const vec e = VTANH(VADD(LOAD(k), LOAD(q)));
    const vec dpre = VMUL(VMUL(ds, LOAD(v)), VSUB(SET1(1.0), VMUL(e, e)));
    if (dk)
        STORE(dk, VADD(LOAD(dk), dpre));
    if (dq)
        STORE(dq, VADD(LOAD(dq), dpre));
    if (dv)
        STORE(dv, VFMA(ds, e, LOAD(dv)));
}

void ISA_FN(additive_bwd)(int S, int A, const rc_real *keys, const rc_real *q, const rc_real *v,
                          const rc_real *dscores, rc_real *dkeys, rc_real *dq, rc_real *dv)
{
    const int body = A / VW * VW, tail = A - body;
    const size_t tail_bytes = (size_t)tail * sizeof *q;
    rc_real pq[VW] = {0}, pv[VW] = {0}, pk[VW] = {0}, pdk[VW] = {0}, pdq[VW] = {0},
            pdv[VW] = {0};
    memcpy(pq, q + body, tail_bytes);
    memcpy(pv, v + body, tail_bytes);
    if (dq)
        memcpy(pdq, dq + body, tail_bytes);
    if (dv)
        memcpy(pdv, dv + body, tail_bytes);
    for (int s = 0; s < S; s++) {
        const rc_real *kr = keys + (size_t)s * A;
        rc_real *dkr = dkeys ? dkeys + (size_t)s * A : NULL;
        const vec ds = SET1(dscores[s]);
        for (int a = 0; a < body; a += VW)
            additive_grad(kr + a, q + a, v + a, ds, dkr ? dkr + a : NULL, dq ? dq + a : NULL,
                          dv ? dv + a : NULL);
        if (tail) {
            memcpy(pk, kr + body, tail_bytes);
            if (dkr)
                memcpy(pdk, dkr + body, tail_bytes);
            additive_grad(pk, pq, pv, ds, dkr ? pdk : NULL, dq ? pdq : NULL, dv ? pdv : NULL);
            if (dkr)
                memcpy(dkr + body, pdk, tail_bytes);
        }
    }
    if (dq)
        memcpy(dq + body, pdq, tail_bytes);
    if (dv)
        memcpy(dv + body, pdv, tail_bytes);
}
