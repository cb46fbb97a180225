#!/usr/bin/env python3
"""Derive the coefficients of recur's float tanh and exp (ops/isa.h).

tanh(x) for |x| < 0.625: x + x^3 P(x^2), from mpmath's Chebyshev fit of
tanh(x)/x as a polynomial of degree 5 in s = x^2 on [0, 0.625^2].
exp(r) for |r| <= ln(2)/2: a Chebyshev fit of degree 6.

Needs only python3-mpmath; takes a second. Prints the coefficients (highest
power first) and the fits' errors in exact arithmetic; float rounding adds
to these, and the sweep in tests/test_ops_elementwise.c measures the result."""
import mpmath as mp

mp.mp.dps = 30


def tanh_over_x(s):
    return mp.tanh(mp.sqrt(s)) / mp.sqrt(s) if s > 0 else mp.mpf(1)


for name, f, lo, hi, degree in (("tanh(x)/x in x^2", tanh_over_x, 0, mp.mpf("0.625")**2, 5),
                                ("exp", mp.exp, -mp.log(2) / 2, mp.log(2) / 2, 6)):
    poly, err = mp.chebyfit(f, [lo, hi], degree + 1, error=True)
    print(f"{name}: error {mp.nstr(err, 3)}")
    print("  " + ", ".join(mp.nstr(c, 12) for c in poly))
