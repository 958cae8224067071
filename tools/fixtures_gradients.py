#!/usr/bin/env python3
"""Generate Keras 3 (TensorFlow backend) gradient fixtures for the `rnn` crate's backward
passes (`rnn::train`).

Each case runs a recurrent layer over a masked batch from given initial states, in float64 on
weights and inputs that are float32 values, and records `tf.GradientTape`'s gradients of the
loss `sum(w_out * outputs) + sum_k sum(w_k * final_state_k)` with respect to the weights, the
inputs and the initial states. One JSON file per case in tests/fixtures/gradients/, in the
format of tools/README.md plus `loss_weights` and `gradients`.

Every gradient is also checked against float64 central differences of the independent NumPy
reference of fixtures_keras.py (its masked loop and padding policies) at a sample of
coordinates; the script aborts if they disagree, so a fixture never records a gradient whose
semantics we have not understood.

Run:  /tmp/venv/bin/python tools/fixtures_gradients.py
"""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import fixtures_keras as fk  # noqa: E402  (sets the Keras backend before importing it)

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

OUT = fk.ROOT / "tests" / "fixtures" / "gradients"
B, T, I, H = fk.B, fk.T, fk.I, fk.H
# Left padding, holes, trailing padding: every kind of masked step in one batch.
HOLES = np.array([[1, 1, 0, 1, 1, 0], [0, 0, 1, 1, 1, 1], [1, 0, 1, 0, 1, 0]], bool)
# Central differences of the reference: step, coordinates sampled per tensor, tolerance.
STEP = 1e-6
SAMPLES = 12
REL_TOL = 1e-6


def loss_of(y, states, w_out, w_states):
    return float(np.sum(w_out * y) + sum(np.sum(w * s) for w, s in zip(w_states, states)))


def reference_check(name, cell, cfg, w, x, s0, grads, w_out, w_states, zero_output,
                    go_backwards, rng):
    """Keras's gradients against central differences of fixtures_keras.ref_run."""
    def loss(w, x, s0):
        y, states = fk.ref_run(cell, cfg, w, x, s0, mask=HOLES, zero_output=zero_output,
                               go_backwards=go_backwards)
        return loss_of(y, states, w_out, w_states)

    def probe(key, value, rebuild):
        flat = np.asarray(value, np.float64).reshape(-1)
        for j in rng.choice(flat.size, size=min(SAMPLES, flat.size), replace=False):
            up, down = flat.copy(), flat.copy()
            up[j] += STEP
            down[j] -= STEP
            numeric = (rebuild(up.reshape(np.shape(value))) -
                       rebuild(down.reshape(np.shape(value)))) / (2 * STEP)
            keras_value = grads[key].reshape(-1)[j]
            err = abs(keras_value - numeric) / max(abs(keras_value), abs(numeric), 1e-2)
            if not err < REL_TOL:
                raise SystemExit(f"{name}: d loss / d {key}[{j}]: Keras {keras_value}, "
                                 f"central difference {numeric} (relative error {err})")

    for key in w:
        probe(key, w[key], lambda v, key=key: loss({**w, key: v}, x, s0))
    probe("inputs", x, lambda v: loss(w, v, s0))
    for k in range(len(s0)):
        probe(f"initial_state/{k}", s0[k],
              lambda v, k=k: loss(w, x, [v if j == k else s for j, s in enumerate(s0)]))


def case(name, cell, cfg_kw, *, zero_output=False, go_backwards=False):
    rng = fk.rng_for(name)
    cfg = fk.cell_config(cell, H, I, **cfg_kw)
    # float32 values computed in float64: the Rust f32 cell holds exactly these weights.
    w = {k: v.astype(np.float64) for k, v in fk.random_weights(rng, cell, cfg, np.float32).items()}
    x = rng.normal(0.0, 1.0, (B, T, I)).astype(np.float32).astype(np.float64)
    s0 = [s.astype(np.float64) for s in fk.random_states(rng, cell, H, np.float32)]
    w_out = rng.normal(0.0, 1.0, (B, T, H)).astype(np.float32).astype(np.float64)
    w_states = [rng.normal(0.0, 1.0, (B, H)).astype(np.float32).astype(np.float64) for _ in s0]

    layer = keras.layers.RNN(fk.keras_cell(cell, cfg), return_sequences=True, return_state=True,
                             go_backwards=go_backwards, zero_output_for_mask=zero_output)
    mask = tf.constant(HOLES)
    layer(tf.constant(x), initial_state=[tf.constant(s) for s in s0], mask=mask)
    layer.set_weights(fk.weights_list(cell, w))

    xv = tf.constant(x)
    sv = [tf.constant(s) for s in s0]
    with tf.GradientTape() as tape:
        tape.watch(xv)
        for s in sv:
            tape.watch(s)
        y, *states = layer(xv, initial_state=sv, mask=mask)
        loss = tf.reduce_sum(w_out * y) + tf.add_n([tf.reduce_sum(ws * s)
                                                    for ws, s in zip(w_states, states)])
    variables = {v.path.rsplit("/", 1)[-1]: v for v in layer.trainable_weights}
    assert sorted(variables) == sorted(w), (sorted(variables), sorted(w))
    keys = list(w)
    wrt = [xv, *sv, *(variables[k] for k in keys)]
    got = tape.gradient(loss, wrt)
    grads = {"inputs": fk.np_(got[0])}
    for k in range(len(sv)):
        grads[f"initial_state/{k}"] = fk.np_(got[1 + k])
    for k, g in zip(keys, got[1 + len(sv):]):
        grads[k] = fk.np_(g)

    # The forward agrees with the reference, and the gradients with its central differences.
    y_ref, s_ref = fk.ref_run(cell, cfg, w, x, s0, mask=HOLES, zero_output=zero_output,
                              go_backwards=go_backwards)
    fk.check(name, "outputs", fk.np_(y), y_ref, tol=1e-12)
    for s, r in zip(states, s_ref):
        fk.check(name, "final state", fk.np_(s), r, tol=1e-12)
    reference_check(name, cell, cfg, w, x, s0, grads, w_out, w_states, zero_output,
                    go_backwards, rng)

    doc = {
        "name": name,
        "framework": "keras",
        "cell": cell,
        "dtype": "float64",
        "config": cfg,
        "layer": (f"keras.layers.RNN({type(layer.cell).__name__}(...), return_sequences=True, "
                  f"return_state=True, go_backwards={go_backwards}, "
                  f"zero_output_for_mask={zero_output}) in float64 under tf.GradientTape"),
        "go_backwards": go_backwards,
        "zero_output_for_mask": zero_output,
        "weights": {k: fk.tensor(v, np.float64) for k, v in w.items()},
        "inputs": fk.tensor(x, np.float64),
        "mask": fk.mask_tensor(HOLES),
        "initial_state": [fk.tensor(s, np.float64) for s in s0],
        "outputs": fk.tensor(fk.np_(y), np.float64),
        "final_state": [fk.tensor(fk.np_(s), np.float64) for s in states],
        "loss_weights": {"outputs": fk.tensor(w_out, np.float64),
                         "final_state": [fk.tensor(ws, np.float64) for ws in w_states]},
        "gradients": {k: fk.tensor(v, np.float64) for k, v in grads.items()},
    }
    return doc


def main():
    fk.OUT = OUT
    # The cells take the global policy when built (set_floatx alone is not enough: the
    # policy caches the floatx of its first use).
    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")
    docs = [
        case("grad_lstm", "lstm", {}),
        case("grad_lstm_zero_output", "lstm", {}, zero_output=True),
        case("grad_lstm_go_backwards", "lstm", {}, go_backwards=True),
        case("grad_gru_reset_after", "gru", {}),
        case("grad_gru_reset_before", "gru", {"reset_after": False}),
        case("grad_gru_hard_sigmoid", "gru", {"recurrent_activation": "hard_sigmoid"}),
        case("grad_simple_rnn", "simple_rnn", {}),
        case("grad_simple_rnn_relu", "simple_rnn", {"activation": "relu"}),
    ]
    for d in docs:
        fk.write(d)


if __name__ == "__main__":
    main()
