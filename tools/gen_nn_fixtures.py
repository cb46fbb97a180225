#!/usr/bin/python3
"""Reference values for recur's recurrent layers, computed by torch.nn.

For RNN (tanh), LSTM and GRU, 2 layers, bidirectional, variable lengths via
packed sequences, with an initial state: writes the torch.nn parameters, the
input, the outputs (padded with zeros), h_n / c_n, and the gradients of
    loss = <output, R_out> + <h_n, R_h> (+ <c_n, R_c>)
with respect to every parameter, the input and the initial state, in float64.

usage: /usr/bin/python3 tools/gen_nn_fixtures.py tests/fixtures
File format (text): a `config` line, then one `tensor NAME NDIM D0.. V0 V1 ..`
line per tensor.
"""
import os
import sys

import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

T, B, I, H, L = 5, 3, 4, 6, 2
LENGTHS = [5, 2, 4]


def write_tensor(f, name, t):
    t = t.detach().double().contiguous()
    dims = " ".join(str(d) for d in t.shape)
    vals = " ".join(repr(float(v)) for v in t.flatten())
    f.write(f"tensor {name} {t.dim()} {dims} {vals}\n")


def make(kind, out_dir):
    torch.manual_seed({"rnn": 1, "lstm": 2, "gru": 3}[kind])
    cls = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[kind]
    m = cls(I, H, num_layers=L, bidirectional=True).double()
    x = torch.randn(T, B, I, dtype=torch.float64, requires_grad=True)
    h0 = (0.5 * torch.randn(2 * L, B, H, dtype=torch.float64)).requires_grad_()
    c0 = (0.5 * torch.randn(2 * L, B, H, dtype=torch.float64)).requires_grad_()
    lengths = torch.tensor(LENGTHS)
    packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
    if kind == "lstm":
        out_p, (h_n, c_n) = m(packed, (h0, c0))
    else:
        out_p, h_n = m(packed, h0)
        c_n = None
    out, _ = pad_packed_sequence(out_p, total_length=T)
    r_out = torch.randn_like(out)
    r_h = torch.randn_like(h_n)
    loss = (out * r_out).sum() + (h_n * r_h).sum()
    r_c = None
    if c_n is not None:
        r_c = torch.randn_like(c_n)
        loss = loss + (c_n * r_c).sum()
    loss.backward()
    path = os.path.join(out_dir, f"nn_{kind}.txt")
    with open(path, "w") as f:
        f.write(f"config cell={kind} T={T} B={B} I={I} H={H} L={L} D=2 "
                f"lengths={','.join(map(str, LENGTHS))} torch={torch.__version__}\n")
        for name, p in m.named_parameters():
            write_tensor(f, name, p)
        write_tensor(f, "x", x)
        write_tensor(f, "h0", h0)
        write_tensor(f, "output", out)
        write_tensor(f, "h_n", h_n)
        write_tensor(f, "r_out", r_out)
        write_tensor(f, "r_h", r_h)
        if c_n is not None:
            write_tensor(f, "c0", c0)
            write_tensor(f, "c_n", c_n)
            write_tensor(f, "r_c", r_c)
            write_tensor(f, "grad.c0", c0.grad)
        write_tensor(f, "loss", loss.reshape(1))
        for name, p in m.named_parameters():
            write_tensor(f, "grad." + name, p.grad)
        write_tensor(f, "grad.x", x.grad)
        write_tensor(f, "grad.h0", h0.grad)
    print("wrote", path)


if __name__ == "__main__":
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures"
    os.makedirs(out_dir, exist_ok=True)
    for kind in ("rnn", "lstm", "gru"):
        make(kind, out_dir)
