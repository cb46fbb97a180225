#!/usr/bin/env python3
"""Derive the coefficients of recur's float tanh and exp (ops/isa.h).

tanh(x) = x P(s) / Q(s), s = x^2, P(0) = 1, deg P = deg Q = 4: minimal
relative error on [0, 9], by linearised least squares (Sanathanan-Koerner
weights 1/Q of the previous round) with Lawson's reweighting toward minimax.
exp(r) on [-ln2/2, ln2/2]: mpmath's Chebyshev fit of degree 6.

Needs only python3-mpmath; takes a few seconds. Prints the coefficients
and the fits' errors in exact arithmetic (float rounding adds to these; the
sweep in tests/test_ops_elementwise.c measures the result)."""
import mpmath as mp

mp.mp.dps = 40
DEG = 4  # of P and Q in s
X = 9    # tanh(x) is 1 in float beyond


def fit_tanh(rounds=40, points=1200):
    xs = [X * (1 - mp.cos(mp.pi * (i + 0.5) / points)) for i in range(points)]
    xs = [x for x in xs if 1e-6 < x <= X] + [mp.mpf(X)]
    ss = [x * x for x in xs]
    gs = [mp.tanh(x) / x for x in xs]
    weights = [mp.mpf(1)] * len(xs)
    q_prev = [mp.mpf(1)] * len(xs)
    n = 2 * DEG + 1  # unknowns: p1..p4, q0..q4
    for _ in range(rounds):
        # minimise sum w ((P(s) - g Q(s)) / (g Q_prev(s)))^2: normal equations
        A, rhs = mp.zeros(n, n), mp.zeros(n, 1)
        for s, g, w, qp in zip(ss, gs, weights, q_prev):
            sc = w / (g * qp)
            row = [s**k * sc for k in range(1, DEG + 1)] + [-g * s**k * sc for k in range(DEG + 1)]
            for i in range(n):
                rhs[i] -= row[i] * sc  # P's constant 1 moved to the right
                for j in range(n):
                    A[i, j] += row[i] * row[j]
        c = mp.lu_solve(A, rhs)
        p = [mp.mpf(1)] + [c[k] for k in range(DEG)]
        q = [c[DEG + k] for k in range(DEG + 1)]
        errs = []
        for i, (s, g) in enumerate(zip(ss, gs)):
            q_prev[i] = mp.polyval(q[::-1], s)
            errs.append(mp.polyval(p[::-1], s) / q_prev[i] / g - 1)
        worst = max(abs(e) for e in errs)
        weights = [w * mp.sqrt(abs(e) / worst) + mp.mpf(10)**-30 for w, e in zip(weights, errs)]
        total = sum(weights)
        weights = [w * len(weights) / total for w in weights]
    return p, q, worst


p, q, worst = fit_tanh()
print("tanh: relative error", mp.nstr(worst, 3))
print("  P:", ", ".join(mp.nstr(v, 12) for v in p))
print("  Q:", ", ".join(mp.nstr(v, 12) for v in q))
h = mp.log(2) / 2
poly, err = mp.chebyfit(mp.exp, [-h, h], 7, error=True)
print("exp: error", mp.nstr(err, 3))
print("  highest power first:", ", ".join(mp.nstr(v, 17) for v in poly))
