#!/usr/bin/env python3
"""Generate the Keras weight-file fixture for the `rnn` crate's Keras import.

Builds a Keras 3 model (GRU, reset_after -> LSTM -> Dense over a sequence), gives it random
weights, exports them with the three-line snippet documented in rnn-core's `weight_file`
module and docs/weights.md, and writes the model's outputs on random inputs:

  tests/fixtures/keras/keras_weights_stack.safetensors   the export, as the snippet writes it
  tests/fixtures/keras/keras_weights_stack.json          inputs [B, T, I] and outputs [B, T, U]

The outputs are also recomputed by an independent float64 NumPy reference, and the script
stops if Keras disagrees (> 1e-5).

Run:  /tmp/venv/bin/python tools/fixtures_weights.py
"""
import os

os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ["CUDA_VISIBLE_DEVICES"] = ""
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import json
import pathlib
import zlib

import keras
import numpy as np, safetensors.numpy as st  # line 1 of the snippet

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "keras"
NAME = "keras_weights_stack"
B, T, I, H1, H2, U = 3, 6, 5, 6, 4, 3
TOL = 1e-5


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def reference(weights, x):
    """GRU (reset_after) -> LSTM -> Dense in float64, Keras gate layouts (GRU z r h, LSTM
    i f c o)."""
    gk, gr, gb, lk, lr, lb, dk, db = [w.astype(np.float64) for w in weights]
    out = np.zeros((B, T, U))
    for b in range(B):
        h1 = np.zeros(H1)
        h2, c2 = np.zeros(H2), np.zeros(H2)
        for t in range(T):
            xs = x[b, t] @ gk + gb[0]
            hs = h1 @ gr + gb[1]
            z = sigmoid(xs[:H1] + hs[:H1])
            r = sigmoid(xs[H1:2 * H1] + hs[H1:2 * H1])
            cand = np.tanh(xs[2 * H1:] + r * hs[2 * H1:])
            h1 = z * h1 + (1 - z) * cand
            g = h1 @ lk + h2 @ lr + lb
            i, f, c, o = (g[k * H2:(k + 1) * H2] for k in range(4))
            c2 = sigmoid(f) * c2 + sigmoid(i) * np.tanh(c)
            h2 = sigmoid(o) * np.tanh(c2)
            out[b, t] = h2 @ dk + db
    return out


def tensor(a):
    a = np.asarray(a, dtype=np.float32)
    return {"shape": list(a.shape), "data": [float(v) for v in a.reshape(-1)]}


def main():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(zlib.crc32(NAME.encode()))
    model = keras.Sequential([
        keras.Input((T, I)),
        keras.layers.GRU(H1, return_sequences=True),
        keras.layers.LSTM(H2, return_sequences=True),
        keras.layers.Dense(U),
    ])
    model.set_weights([rng.uniform(-0.6, 0.6, w.shape).astype(np.float32)
                       for w in model.get_weights()])
    x = rng.normal(0.0, 1.0, (B, T, I)).astype(np.float32)
    y = np.asarray(model(x))
    ref = reference(model.get_weights(), x.astype(np.float64))
    err = float(np.max(np.abs(y - ref)))
    assert err <= TOL, f"Keras disagrees with the reference: {err}"

    # The snippet of docs/weights.md, as a user runs it (its import line is at the top).
    tensors = {f"{i:04d}/{getattr(w, 'path', w.name)}": np.asarray(w) for i, w in enumerate(model.weights)}
    st.save_file(tensors, str(OUT / f"{NAME}.safetensors"))

    doc = {
        "name": NAME,
        "framework": "keras",
        "cell": "stacked",
        "dtype": "float32",
        "layer": "Sequential([GRU(6, return_sequences=True), LSTM(4, return_sequences=True), Dense(3)])",
        "weight_names": list(tensors),
        "weights": {},
        "inputs": tensor(x),
        "outputs": tensor(y),
    }
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{NAME}.json"
    path.write_text(json.dumps(doc, separators=(",", ":")) + "\n")
    print(f"wrote {path.relative_to(ROOT)} and {NAME}.safetensors; "
          f"Keras vs reference {err:.2e}; tensors: {', '.join(tensors)}")


if __name__ == "__main__":
    main()
