#!/usr/bin/env python3
"""Generate PyTorch parity fixtures for the `rnn` crate.

Writes one JSON file per case to tests/fixtures/torch/, and the state_dict of the
2-layer bidirectional LSTM as a .safetensors file (for the weight-file import). The
format is described in tools/README.md. Every case is recomputed by an independent
float64 NumPy reference in PyTorch's gate layout (LSTM i,f,g,o; GRU r,z,n) and the
script aborts if PyTorch disagrees.

Run:  /tmp/venv/bin/python tools/fixtures_torch.py
"""
import os

os.environ["CUDA_VISIBLE_DEVICES"] = ""

import json
import pathlib
import zlib

import numpy as np
import torch
from safetensors.torch import save_file

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "torch"

B, T, I, H = 3, 6, 5, 4
TOL = 1e-5


# --------------------------------------------------------------------------- helpers


def rng_for(name):
    return np.random.default_rng(zlib.crc32(name.encode()))


def tensor(a):
    a = np.asarray(a, dtype=np.float32)
    return {"shape": list(a.shape), "data": [float(v) for v in a.reshape(-1)]}


def write(doc):
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / (doc["name"] + ".json")
    text = json.dumps(doc, separators=(",", ":")) + "\n"
    path.write_text(text)
    assert len(text) < 200_000, path
    print(f"wrote {path.relative_to(ROOT)} ({len(text)} bytes)")


def check(name, what, got, want, tol=TOL):
    err = float(np.max(np.abs(np.asarray(got, np.float64) - np.asarray(want, np.float64))))
    if not err <= tol:
        raise SystemExit(f"{name}: PyTorch {what} differs from the NumPy reference by {err}")


# ------------------------------------------------------------- NumPy reference (float64)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def ref_step(kind, p, x, states, nonlinearity="tanh"):
    """One step in PyTorch's layout; p holds weight_ih, weight_hh, bias_ih, bias_hh."""
    gi = x @ p["weight_ih"].T + p["bias_ih"]
    gh = states[0] @ p["weight_hh"].T + p["bias_hh"]
    n = p["weight_hh"].shape[1]
    if kind == "rnn":
        act = np.tanh if nonlinearity == "tanh" else (lambda v: np.maximum(v, 0.0))
        h = act(gi + gh)
        return [h]
    if kind == "lstm":
        g = gi + gh
        i, f, gg, o = (g[:, j * n:(j + 1) * n] for j in range(4))
        c = sigmoid(f) * states[1] + sigmoid(i) * np.tanh(gg)
        h = sigmoid(o) * np.tanh(c)
        return [h, c]
    if kind == "gru":
        r = sigmoid(gi[:, :n] + gh[:, :n])
        z = sigmoid(gi[:, n:2 * n] + gh[:, n:2 * n])
        nn_ = np.tanh(gi[:, 2 * n:] + r * gh[:, 2 * n:])
        return [(1.0 - z) * nn_ + z * states[0]]
    raise ValueError(kind)


def ref_direction(kind, p, x, states, lengths=None, reverse=False, nonlinearity="tanh"):
    """Run one direction of one layer. With lengths (right padding), steps past the end
    keep the state and output zero (packed-sequence semantics); reverse reverses only
    the valid prefix of each sequence (as PyTorch's packed reverse direction does)."""
    nb, nt = x.shape[:2]
    lengths = np.full(nb, nt) if lengths is None else np.asarray(lengths)
    outs = np.zeros((nb, nt, states[0].shape[1]))
    states = [s.copy() for s in states]
    for b in range(nb):
        st = [s[b:b + 1] for s in states]
        steps = range(lengths[b])
        for t in (reversed(steps) if reverse else steps):
            st = ref_step(kind, p, x[b:b + 1, t], st, nonlinearity)
            outs[b, t] = st[0][0]
        for s, v in zip(states, st):
            s[b] = v[0]
    return outs, states


def ref_module(kind, sd, x, s0, num_layers, bidirectional, lengths=None, nonlinearity="tanh"):
    """A whole nn.LSTM/GRU/RNN(batch_first=True). sd: state_dict as float64 arrays;
    s0: list of [L*D, B, H] arrays (h, or h and c)."""
    dirs = 2 if bidirectional else 1
    inp = x
    finals = [np.zeros_like(s) for s in s0]
    for layer in range(num_layers):
        outs = []
        for d in range(dirs):
            sfx = f"_l{layer}" + ("_reverse" if d == 1 else "")
            p = {k: sd[k + sfx] for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
            idx = layer * dirs + d
            y, st = ref_direction(kind, p, inp, [s[idx] for s in s0], lengths,
                                  reverse=d == 1, nonlinearity=nonlinearity)
            outs.append(y)
            for f, s in zip(finals, st):
                f[idx] = s
        inp = np.concatenate(outs, axis=-1)
    return inp, finals


# ------------------------------------------------------------------------- cases


def make_module(kind, num_layers=1, bidirectional=False, nonlinearity="tanh"):
    args = dict(input_size=I, hidden_size=H, num_layers=num_layers, bias=True,
                batch_first=True, bidirectional=bidirectional)
    if kind == "rnn":
        args["nonlinearity"] = nonlinearity
    cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[kind]
    module = cls(**args)
    return module, {"class": cls.__name__, **args}


def case(name, kind, *, num_layers=1, bidirectional=False, nonlinearity="tanh",
         lengths=None, safetensors=False):
    rng = rng_for(name)
    module, margs = make_module(kind, num_layers, bidirectional, nonlinearity)
    sd = {k: torch.from_numpy(rng.uniform(-0.6, 0.6, tuple(v.shape)).astype(np.float32))
          for k, v in module.state_dict().items()}
    module.load_state_dict(sd)
    module.eval()
    dirs = 2 if bidirectional else 1
    x = rng.normal(0.0, 1.0, (B, T, I)).astype(np.float32)
    n_states = 2 if kind == "lstm" else 1
    s0 = [rng.normal(0.0, 0.5, (num_layers * dirs, B, H)).astype(np.float32)
          for _ in range(n_states)]
    hx = tuple(torch.from_numpy(s) for s in s0) if kind == "lstm" else torch.from_numpy(s0[0])

    with torch.no_grad():
        xt = torch.from_numpy(x)
        if lengths is not None:
            packed = torch.nn.utils.rnn.pack_padded_sequence(
                xt, torch.tensor(lengths), batch_first=True, enforce_sorted=True)
            yp, hn = module(packed, hx)
            y, out_lengths = torch.nn.utils.rnn.pad_packed_sequence(
                yp, batch_first=True, total_length=T)
            assert out_lengths.tolist() == list(lengths)
        else:
            y, hn = module(xt, hx)
    y = y.numpy()
    finals = [t.numpy() for t in (hn if kind == "lstm" else (hn,))]

    sd64 = {k: v.numpy().astype(np.float64) for k, v in sd.items()}
    ry, rf = ref_module(kind, sd64, x.astype(np.float64), [s.astype(np.float64) for s in s0],
                        num_layers, bidirectional, lengths, nonlinearity)
    check(name, "outputs", y, ry)
    for a, b in zip(finals, rf):
        check(name, "final state", a, b)

    single = num_layers == 1 and not bidirectional
    cfg = {"units": H, "input_dim": I, "use_bias": True}
    if kind == "rnn":
        cfg["activation"] = nonlinearity
    else:
        cfg.update(activation="tanh", recurrent_activation="sigmoid")
    if kind == "gru":
        cfg["reset_after"] = True  # PyTorch applies r to (W_hn h + b_hn)
    doc = {"name": name, "framework": "torch",
           "cell": {"lstm": "lstm", "gru": "gru", "rnn": "simple_rnn"}[kind],
           "dtype": "float32", "torch_module": margs, "config": cfg}
    # Single layer: plain names and [B, H] states; otherwise state_dict names and
    # torch's [num_layers * num_directions, B, H] states.
    doc["weights"] = {(k[:-len("_l0")] if single else k): tensor(v.numpy()) for k, v in sd.items()}
    doc["inputs"] = tensor(x)
    if lengths is not None:
        doc["lengths"] = list(lengths)
        doc["mask"] = {"shape": [B, T],
                       "data": [int(t < n) for n in lengths for t in range(T)]}
    doc["initial_state"] = [tensor(s[0] if single else s) for s in s0]
    doc["outputs"] = tensor(y)
    doc["final_state"] = [tensor(s[0] if single else s) for s in finals]
    write(doc)

    if safetensors:
        path = OUT / (name + ".safetensors")
        save_file({k: v.contiguous() for k, v in module.state_dict().items()}, str(path))
        print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size} bytes)")


def main():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    case("torch_lstm", "lstm")
    case("torch_gru", "gru")
    case("torch_rnn_tanh", "rnn", nonlinearity="tanh")
    case("torch_rnn_relu", "rnn", nonlinearity="relu")
    case("torch_lstm_2layer_bidir", "lstm", num_layers=2, bidirectional=True, safetensors=True)
    case("torch_gru_packed", "gru", lengths=[6, 4, 1])


if __name__ == "__main__":
    main()
