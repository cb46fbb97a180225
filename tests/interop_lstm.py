#!/usr/bin/python3
"""The PyTorch side of tests/test_checkpoint_interop.c (safetensors both ways).

    interop_lstm.py check-recur DIR   recur wrote DIR/recur_lstm.safetensors and
                                      DIR/recur_io.txt (input, recur's output):
                                      load the file into torch.nn.LSTM, run the
                                      input, compare outputs; exit 0 or 1
    interop_lstm.py write-torch DIR   write DIR/torch_lstm.safetensors (own writer)
                                      and DIR/torch_io.txt (input, torch's
                                      output, every weight value) for recur

The LSTM is nn.LSTM(3, 4, num_layers=2, bidirectional=True) on [T=5, B=2, 3].
The safetensors pip package is not needed: the reader is json +
torch.frombuffer, the writer is json + bytes.
"""

import json
import struct
import sys

import torch

IN, HID, LAYERS, T, B = 3, 4, 2, 5, 2
TOL = 1e-5
DTYPES = {"F32": torch.float32, "F64": torch.float64}


def read_safetensors(path):
    """-> ({name: tensor}, metadata); checks the bounds it relies on."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    assert 8 + n <= len(blob), "header length past the end"
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    data = blob[8 + n:]
    meta = header.pop("__metadata__", {})
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        assert 0 <= begin <= end <= len(data), f"{name}: offsets outside the data"
        t = torch.frombuffer(bytearray(data[begin:end]), dtype=DTYPES[info["dtype"]])
        tensors[name] = t.reshape(info["shape"])
    return tensors, meta


def write_safetensors(path, tensors, metadata):
    header, chunks, offset = {"__metadata__": metadata}, [], 0
    for name, t in tensors.items():
        raw = t.detach().contiguous().numpy().tobytes()  # little-endian on x86/arm
        dtype = {torch.float32: "F32", torch.float64: "F64"}[t.dtype]
        header[name] = {"dtype": dtype, "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))


def read_io(path):
    """Lines 'KEY v v v ...' -> {KEY: [floats]}"""
    out = {}
    with open(path) as f:
        for line in f:
            key, *vals = line.split()
            out[key] = [float(v) for v in vals]
    return out


def check_recur(d):
    tensors, meta = read_safetensors(f"{d}/recur_lstm.safetensors")
    # optimizer state rides along under optim.*; the model takes the rest
    weights = {k: v for k, v in tensors.items() if not k.startswith("optim.")}
    dtype = next(iter(weights.values())).dtype
    lstm = torch.nn.LSTM(IN, HID, num_layers=LAYERS, bidirectional=True).to(dtype)
    lstm.load_state_dict(weights, strict=True)  # same names, same shapes, nothing extra
    io = read_io(f"{d}/recur_io.txt")
    x = torch.tensor(io["x"], dtype=dtype).reshape(T, B, IN)
    want = torch.tensor(io["y"], dtype=dtype).reshape(T, B, 2 * HID)
    with torch.no_grad():
        y, _ = lstm(x)
    dev = (y - want).abs().max().item()
    print(f"torch.nn.LSTM on recur's file vs recur's output: max |diff| {dev:.3g} "
          f"({dtype}, {len(weights)} tensors, optim.step {meta.get('optim.step')})")
    return 0 if dev <= TOL else 1


def write_torch(d):
    torch.manual_seed(5)
    lstm = torch.nn.LSTM(IN, HID, num_layers=LAYERS, bidirectional=True)
    x = torch.randn(T, B, IN)
    with torch.no_grad():
        y, _ = lstm(x)
    state = lstm.state_dict()
    write_safetensors(f"{d}/torch_lstm.safetensors", state, {"format": "pt"})
    with open(f"{d}/torch_io.txt", "w") as f:
        f.write("x " + " ".join(repr(float(v)) for v in x.reshape(-1)) + "\n")
        f.write("y " + " ".join(repr(float(v)) for v in y.reshape(-1)) + "\n")
        for name, t in state.items():
            f.write(name + " " + " ".join(repr(float(v)) for v in t.reshape(-1)) + "\n")
    print(f"wrote {d}/torch_lstm.safetensors ({len(state)} tensors)")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("check-recur", "write-torch"):
        sys.exit(__doc__)
    sys.exit(check_recur(sys.argv[2]) if sys.argv[1] == "check-recur" else write_torch(sys.argv[2]))
