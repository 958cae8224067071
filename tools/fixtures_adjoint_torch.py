#!/usr/bin/env python3
"""PyTorch gradients of the custom decoder cell of examples/common/custom_cell.rs, for the
backward that `#[cell]` generates (tests/adjoint_torch.rs).

The cell, at the example's sizes (12 features, latent 8, hidden 10, second output 15): at each
step `s = proj([h; z_enc])`, `h' = GRUCell(x, s)` (PyTorch's GRU is Keras's `reset_after`),
outputs `(h', other(x))`; `z_enc` a constant of the sequence. One sequence of 5 steps from a
given initial state, in float64 on weights and inputs that are float32 values; the loss
`sum(w_h * h'_t) + sum(w_o * other_t) + sum(w_s * h_T)`. `torch.autograd`'s gradients of the
weights (PyTorch's names and layout), the inputs, the initial state and `z_enc` are written to
tests/fixtures/adjoint/torch_decoder.json, after a check against float64 central differences
of the same loss at a sample of coordinates.

Run:  /tmp/venv/bin/python tools/fixtures_adjoint_torch.py
"""
import json
import pathlib

import numpy as np
import torch

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "adjoint" / "torch_decoder.json"
F, L, H, A, T = 12, 8, 10, 15, 5


def f32(rng, *shape, scale=0.5):
    """float32 values held in float64: the Rust f32 cell holds exactly these."""
    return (rng.uniform(-scale, scale, size=shape).astype(np.float32)).astype(np.float64)


def main():
    rng = np.random.default_rng(21)
    w = {
        "gru/weight_ih": f32(rng, 3 * H, F),
        "gru/weight_hh": f32(rng, 3 * H, H),
        "gru/bias_ih": f32(rng, 3 * H),
        "gru/bias_hh": f32(rng, 3 * H),
        "dense_proj/weight": f32(rng, H, H + L),
        "dense_proj/bias": f32(rng, H),
        "other_output/weight": f32(rng, A, F),
        "other_output/bias": f32(rng, A),
    }
    x = f32(rng, T, F, scale=1.0)
    h0 = f32(rng, H, scale=1.0)
    z_enc = f32(rng, L, scale=1.0)
    w_h = rng.uniform(-1, 1, size=(T, H))
    w_o = rng.uniform(-1, 1, size=(T, A))
    w_s = rng.uniform(-1, 1, size=H)

    def loss(w, x, h0, z_enc):
        wt = w
        h = h0
        total = 0.0
        for t in range(T):
            s = torch.nn.functional.linear(torch.cat([h, z_enc]), wt["dense_proj/weight"],
                                           wt["dense_proj/bias"])
            h = torch._VF.gru_cell(x[t][None], s[None], wt["gru/weight_ih"], wt["gru/weight_hh"],
                                   wt["gru/bias_ih"], wt["gru/bias_hh"])[0]
            other = torch.nn.functional.linear(x[t], wt["other_output/weight"],
                                               wt["other_output/bias"])
            total = total + (torch.tensor(w_h[t]) * h).sum() + (torch.tensor(w_o[t]) * other).sum()
        return total + (torch.tensor(w_s) * h).sum()

    tw = {k: torch.tensor(v, requires_grad=True) for k, v in w.items()}
    tx = torch.tensor(x, requires_grad=True)
    th0 = torch.tensor(h0, requires_grad=True)
    tz = torch.tensor(z_enc, requires_grad=True)
    value = loss(tw, tx, th0, tz)
    value.backward()
    grads = {k: v.grad.numpy() for k, v in tw.items()}
    grads["inputs"] = tx.grad.numpy()
    grads["initial_state"] = th0.grad.numpy()
    grads["z_enc"] = tz.grad.numpy()

    # PyTorch's gradients against central differences of the same loss.
    def numeric(key, j):
        def at(delta):
            args = {k: torch.tensor(v) for k, v in w.items()}
            xs, hs, zs = torch.tensor(x), torch.tensor(h0), torch.tensor(z_enc)
            target = {"inputs": xs, "initial_state": hs, "z_enc": zs}.get(key, args.get(key))
            target.view(-1)[j] += delta
            return float(loss(args, xs, hs, zs))
        return (at(1e-6) - at(-1e-6)) / 2e-6

    for key, g in grads.items():
        flat = g.reshape(-1)
        for j in rng.choice(flat.size, size=min(8, flat.size), replace=False):
            n = numeric(key, j)
            err = abs(flat[j] - n) / max(abs(flat[j]), abs(n), 1e-2)
            if not err < 1e-6:
                raise SystemExit(f"d loss / d {key}[{j}]: autograd {flat[j]}, central {n}")

    def tensor(a):
        a = np.asarray(a, dtype=np.float64)
        return {"shape": list(a.shape), "data": [float(v) for v in a.reshape(-1)]}

    doc = {
        "name": "torch_decoder",
        "weights": {k: tensor(v) for k, v in w.items()},
        "inputs": tensor(x),
        "initial_state": tensor(h0),
        "z_enc": tensor(z_enc),
        "loss_weights": {"h": tensor(w_h), "other": tensor(w_o), "final_state": tensor(w_s)},
        "loss": float(value.detach()),
        "gradients": {k: tensor(v) for k, v in grads.items()},
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(doc, separators=(",", ":")) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
