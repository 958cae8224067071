#!/usr/bin/env python3
"""Generate the Keras 3 (TensorFlow backend) fixture of `TimeDistributed(Dense)` over an LSTM's
sequence output, for the `rnn` crate's `TimeDistributed` wrapper.

The model is Keras's `Sequential([LSTM(4, return_sequences=True),
TimeDistributed(Dense(3, activation="tanh"))])` over a [B, T, I] batch. The fixture records its
outputs in float32, and, from the same float32 weights and inputs in float64,
`tf.GradientTape`'s gradients of the loss `sum(w_out * outputs)` with respect to every weight
and the inputs. Both are checked against the float64 NumPy reference of fixtures_keras.py (the
LSTM's loop, then the dense layer at each step; the gradients by central differences at a
sample of coordinates), and the script aborts if they disagree.

Writes tests/fixtures/keras/keras_time_distributed_dense.json in the format of tools/README.md:
weights `lstm/{kernel,recurrent_kernel,bias}` and `dense/{kernel,bias}`, `inputs` [B, T, I],
`outputs` [B, T, 3]; extra keys `loss_weights` (`outputs` [B, T, 3]) and `gradients` (the
weights' names, summed over the batch, and `inputs` [B, T, I]).

Run:  /tmp/venv/bin/python tools/fixtures_time_distributed.py
"""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import fixtures_keras as fk  # noqa: E402  (sets the Keras backend before importing it)

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

NAME = "keras_time_distributed_dense"
B, T, I, H, U = fk.B, fk.T, fk.I, fk.H, 3
STEP = 1e-6
SAMPLES = 12
REL_TOL = 1e-6


def model_of(dtype):
    lstm = keras.layers.LSTM(H, return_sequences=True, dtype=dtype)
    dense = keras.layers.TimeDistributed(keras.layers.Dense(U, activation="tanh", dtype=dtype),
                                         dtype=dtype)
    model = keras.Sequential([keras.Input((T, I), dtype=dtype), lstm, dense])
    return model, lstm, dense


def reference(w, x):
    """The LSTM's loop, then the dense layer on each step, in float64."""
    lstm_w = {k.split("/")[1]: v for k, v in w.items() if k.startswith("lstm/")}
    cfg = fk.cell_config("lstm", H, I)
    zeros = [np.zeros((x.shape[0], H))] * 2
    hs, _ = fk.ref_run("lstm", cfg, lstm_w, x, zeros)
    return np.tanh(hs @ np.asarray(w["dense/kernel"], np.float64) + w["dense/bias"])


def main():
    rng = fk.rng_for(NAME)
    cfg = fk.cell_config("lstm", H, I)
    lstm_w = fk.random_weights(rng, "lstm", cfg, "float32")
    w = {f"lstm/{k}": v for k, v in lstm_w.items()}
    w["dense/kernel"] = rng.uniform(-0.6, 0.6, (H, U)).astype("float32")
    w["dense/bias"] = rng.uniform(-0.6, 0.6, (U,)).astype("float32")
    x = rng.normal(0.0, 1.0, (B, T, I)).astype("float32")
    w_out = rng.normal(0.0, 1.0, (B, T, U))
    order = ["lstm/kernel", "lstm/recurrent_kernel", "lstm/bias", "dense/kernel", "dense/bias"]

    model, _, _ = model_of("float32")
    model.set_weights([w[k] for k in order])
    y = fk.np_(model(x))
    assert y.dtype == np.float32
    fk.check(NAME, "outputs", y, reference(w, x))

    # Gradients in float64 from the same (float32-valued) weights and inputs.
    model64, _, _ = model_of("float64")
    model64.set_weights([w[k].astype(np.float64) for k in order])
    x64 = tf.constant(x.astype(np.float64))
    with tf.GradientTape() as tape:
        tape.watch(x64)
        loss = tf.reduce_sum(tf.constant(w_out) * model64(x64))
    variables = model64.trainable_variables
    assert [tuple(v.shape) for v in variables] == [w[k].shape for k in order]
    grads = tape.gradient(loss, [v.value for v in variables] + [x64])
    grads = dict(zip(order + ["inputs"], (np.asarray(g, np.float64) for g in grads)))

    def loss_of(w, x):
        return float(np.sum(w_out * reference(w, x)))

    sample = np.random.default_rng(0)
    for key in order + ["inputs"]:
        value = x if key == "inputs" else w[key]
        flat = np.asarray(value, np.float64).reshape(-1)
        for j in sample.choice(flat.size, size=min(SAMPLES, flat.size), replace=False):
            probes = []
            for sign in (1.0, -1.0):
                moved = flat.copy()
                moved[j] += sign * STEP
                moved = moved.reshape(np.shape(value))
                if key == "inputs":
                    probes.append(loss_of(w, moved))
                else:
                    probes.append(loss_of({**w, key: moved}, x))
            numeric = (probes[0] - probes[1]) / (2 * STEP)
            keras_value = grads[key].reshape(-1)[j]
            err = abs(keras_value - numeric) / max(abs(keras_value), abs(numeric), 1e-2)
            if not err < REL_TOL:
                raise SystemExit(f"{NAME}: d loss / d {key}[{j}]: Keras {keras_value}, "
                                 f"central difference {numeric}")

    doc = {
        "name": NAME, "framework": "keras", "cell": "time_distributed_dense", "dtype": "float32",
        "layer": (f"keras.Sequential([keras.layers.LSTM({H}, return_sequences=True), "
                  f"keras.layers.TimeDistributed(keras.layers.Dense({U}, activation='tanh'))])"),
        "config": {"input_dim": I, "lstm": cfg, "dense": {"units": U, "activation": "tanh"}},
        "weights": {k: fk.tensor(v, "float32") for k, v in w.items()},
        "inputs": fk.tensor(x, "float32"),
        "outputs": fk.tensor(y, "float32"),
        "loss_weights": {"outputs": fk.tensor(w_out, "float64")},
        "gradients": {k: fk.tensor(v, "float64") for k, v in grads.items()},
    }
    fk.write(doc)


if __name__ == "__main__":
    main()
