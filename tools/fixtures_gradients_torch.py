#!/usr/bin/env python3
"""Generate PyTorch gradient fixtures for the `rnn` crate's backward passes (`rnn::train`).

Each case runs nn.LSTM, nn.GRU or nn.RNN (tanh, relu) over a packed batch of sequences of
unequal, unsorted lengths (`pack_padded_sequence(..., enforce_sorted=False)`) from given
initial states, in float64 on weights and inputs that are float32 values, and records
`torch.autograd`'s gradients of the loss `sum(w_out * outputs) + sum_k sum(w_k * h_n_k)`
(the outputs padded with zeros by `pad_packed_sequence`; LSTM: h_n then c_n) with respect to
the weights (PyTorch's names and layout), the inputs and the initial states. One JSON file per
case in tests/fixtures/gradients/, in the format of tools/README.md plus `lengths`,
`loss_weights` and `gradients`.

Every gradient is also checked against float64 central differences of the independent NumPy
reference of fixtures_torch.py (its packed-sequence loop) at a sample of coordinates; the
script aborts if they disagree.

Run:  /tmp/venv/bin/python tools/fixtures_gradients_torch.py
"""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import fixtures_torch as ft  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

OUT = ft.ROOT / "tests" / "fixtures" / "gradients"
B, T, I, H = ft.B, ft.T, ft.I, ft.H
# Unsorted, one full, one of a single step: the packing reorders the batch and back.
LENGTHS = [4, 6, 1]
# Central differences of the reference: step, coordinates sampled per tensor, tolerance.
STEP = 1e-6
SAMPLES = 12
REL_TOL = 1e-6
PARAMETERS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def tensor64(a):
    a = np.asarray(a, dtype=np.float64)
    return {"shape": list(a.shape), "data": [float(v) for v in a.reshape(-1)]}


def f32_values(a):
    """float32 values held in float64: the Rust f32 cell holds exactly these."""
    return np.asarray(a, np.float32).astype(np.float64)


def loss_of(y, finals, w_out, w_states):
    return float(np.sum(w_out * y) + sum(np.sum(w * s) for w, s in zip(w_states, finals)))


def reference_check(name, kind, nonlinearity, w, x, s0, grads, w_out, w_states, rng):
    """PyTorch's gradients against central differences of fixtures_torch.ref_module."""
    def loss(w, x, s0):
        sd = {k + "_l0": v for k, v in w.items()}
        y, finals = ft.ref_module(kind, sd, x, [s[None] for s in s0], 1, False, LENGTHS,
                                  nonlinearity)
        return loss_of(y, [f[0] for f in finals], w_out, w_states)

    def probe(key, value, rebuild):
        flat = np.asarray(value, np.float64).reshape(-1)
        for j in rng.choice(flat.size, size=min(SAMPLES, flat.size), replace=False):
            up, down = flat.copy(), flat.copy()
            up[j] += STEP
            down[j] -= STEP
            numeric = (rebuild(up.reshape(np.shape(value))) -
                       rebuild(down.reshape(np.shape(value)))) / (2 * STEP)
            torch_value = grads[key].reshape(-1)[j]
            err = abs(torch_value - numeric) / max(abs(torch_value), abs(numeric), 1e-2)
            if not err < REL_TOL:
                raise SystemExit(f"{name}: d loss / d {key}[{j}]: PyTorch {torch_value}, "
                                 f"central difference {numeric} (relative error {err})")

    for key in w:
        probe(key, w[key], lambda v, key=key: loss({**w, key: v}, x, s0))
    probe("inputs", x, lambda v: loss(w, v, s0))
    for k in range(len(s0)):
        probe(f"initial_state/{k}", s0[k],
              lambda v, k=k: loss(w, x, [v if j == k else s for j, s in enumerate(s0)]))


def case(name, kind, nonlinearity="tanh"):
    rng = ft.rng_for(name)
    module, margs = ft.make_module(kind, nonlinearity=nonlinearity)
    module = module.double()
    w = {k: f32_values(rng.uniform(-0.6, 0.6, (tuple(module.state_dict()[k + "_l0"].shape))))
         for k in PARAMETERS}
    module.load_state_dict({k + "_l0": torch.from_numpy(v) for k, v in w.items()})
    x = f32_values(rng.normal(0.0, 1.0, (B, T, I)))
    n_states = 2 if kind == "lstm" else 1
    s0 = [f32_values(rng.normal(0.0, 0.5, (B, H))) for _ in range(n_states)]
    w_out = f32_values(rng.normal(0.0, 1.0, (B, T, H)))
    w_states = [f32_values(rng.normal(0.0, 1.0, (B, H))) for _ in range(n_states)]

    xt = torch.tensor(x, requires_grad=True)
    st = [torch.tensor(s[None], requires_grad=True) for s in s0]
    packed = torch.nn.utils.rnn.pack_padded_sequence(
        xt, torch.tensor(LENGTHS), batch_first=True, enforce_sorted=False)
    yp, hn = module(packed, tuple(st) if kind == "lstm" else st[0])
    y, out_lengths = torch.nn.utils.rnn.pad_packed_sequence(yp, batch_first=True, total_length=T)
    assert out_lengths.tolist() == LENGTHS
    finals = list(hn) if kind == "lstm" else [hn]
    loss = (torch.sum(torch.from_numpy(w_out) * y) +
            sum(torch.sum(torch.from_numpy(ws) * f[0]) for ws, f in zip(w_states, finals)))
    params = dict(module.named_parameters())
    wrt = [xt, *st, *(params[k + "_l0"] for k in PARAMETERS)]
    got = torch.autograd.grad(loss, wrt)
    grads = {"inputs": got[0].numpy()}
    for k in range(n_states):
        grads[f"initial_state/{k}"] = got[1 + k].numpy()[0]
    for k, g in zip(PARAMETERS, got[1 + n_states:]):
        grads[k] = g.numpy()

    # The forward agrees with the reference, and the gradients with its central differences.
    y = y.detach().numpy()
    finals = [f.detach().numpy()[0] for f in finals]
    ry, rf = ft.ref_module(kind, {k + "_l0": v for k, v in w.items()}, x,
                           [s[None] for s in s0], 1, False, LENGTHS, nonlinearity)
    ft.check(name, "outputs", y, ry, tol=1e-12)
    for a, r in zip(finals, rf):
        ft.check(name, "final state", a, r[0], tol=1e-12)
    reference_check(name, kind, nonlinearity, w, x, s0, grads, w_out, w_states, rng)

    return {
        "name": name,
        "framework": "torch",
        "cell": {"lstm": "lstm", "gru": "gru", "rnn": "simple_rnn"}[kind],
        "dtype": "float64",
        "torch_module": margs,
        "layer": (f"torch.nn.{margs['class']} in float64 on pack_padded_sequence(lengths, "
                  "enforce_sorted=False), outputs from pad_packed_sequence, under "
                  "torch.autograd.grad"),
        "config": {"units": H, "input_dim": I, "use_bias": True,
                   "activation": nonlinearity if kind == "rnn" else "tanh"},
        "weights": {k: tensor64(v) for k, v in w.items()},
        "inputs": tensor64(x),
        "lengths": LENGTHS,
        "mask": {"shape": [B, T], "data": [int(t < n) for n in LENGTHS for t in range(T)]},
        "initial_state": [tensor64(s) for s in s0],
        "outputs": tensor64(y),
        "final_state": [tensor64(f) for f in finals],
        "loss_weights": {"outputs": tensor64(w_out),
                         "final_state": [tensor64(ws) for ws in w_states]},
        "gradients": {k: tensor64(v) for k, v in grads.items()},
    }


def main():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    ft.OUT = OUT
    for doc in [
        case("torch_grad_lstm", "lstm"),
        case("torch_grad_gru", "gru"),
        case("torch_grad_rnn_tanh", "rnn", "tanh"),
        case("torch_grad_rnn_relu", "rnn", "relu"),
    ]:
        ft.write(doc)


if __name__ == "__main__":
    main()
