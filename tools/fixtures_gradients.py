#!/usr/bin/env python3
"""Generate Keras 3 (TensorFlow backend) gradient fixtures for the `rnn` crate's backward
passes (`rnn::train`).

Each case runs a recurrent layer over a masked batch from given initial states, in float64 on
weights and inputs that are float32 values, and records `tf.GradientTape`'s gradients of the
loss `sum(w_out * outputs) + sum_k sum(w_k * final_state_k)` with respect to the weights, the
inputs and the initial states. One JSON file per case in tests/fixtures/gradients/, in the
format of tools/README.md plus `loss_weights` and `gradients`.

The same for the drivers: `Bidirectional(LSTM)` in each merge mode, a stacked
`RNN(StackedRNNCells([LSTMCell, GRUCell]))`, and truncated backpropagation through a stateful
LSTM and GRU over two chunks (the second chunk's gradient from `tf.stop_gradient` of the
carried state).

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


def central_check(name, w, x, s0, grads, loss, rng):
    """Gradients against central differences of `loss(w, x, s0)` (a float64 reference) at
    a sample of coordinates of every weight, the inputs and every initial state."""
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


def reference_check(name, cell, cfg, w, x, s0, grads, w_out, w_states, zero_output,
                    go_backwards, rng):
    """Keras's gradients against central differences of fixtures_keras.ref_run."""
    def loss(w, x, s0):
        y, states = fk.ref_run(cell, cfg, w, x, s0, mask=HOLES, zero_output=zero_output,
                               go_backwards=go_backwards)
        return loss_of(y, states, w_out, w_states)

    central_check(name, w, x, s0, grads, loss, rng)


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


# ------------------------------------------------------------------------------- drivers
# The same loss and checks over the drivers: a Bidirectional LSTM (each merge mode), a stack
# of cells in one RNN, and truncated backpropagation through a stateful layer.


def f64_of_f32(a):
    return np.asarray(a, np.float32).astype(np.float64)


def taped(name, run, w, variables, x, s0, w_out, w_states):
    """`run(x, s0) -> (outputs, final states)` under tf.GradientTape: the loss, the outputs,
    the final states and the gradients by name (`variables` maps `w`'s names to Keras's
    variables)."""
    assert sorted(variables) == sorted(w), (sorted(variables), sorted(w))
    xv = tf.constant(x)
    sv = [tf.convert_to_tensor(s) for s in s0]
    with tf.GradientTape() as tape:
        tape.watch(xv)
        for v in sv:
            tape.watch(v)
        y, states = run(xv, sv)
        loss = tf.reduce_sum(w_out * y) + tf.add_n([tf.reduce_sum(ws * st)
                                                    for ws, st in zip(w_states, states)])
    keys = list(w)
    got = tape.gradient(loss, [xv, *sv, *(variables[k] for k in keys)])
    assert all(g is not None for g in got), name
    grads = {"inputs": fk.np_(got[0])}
    for k in range(len(sv)):
        grads[f"initial_state/{k}"] = fk.np_(got[1 + k])
    for k, g in zip(keys, got[1 + len(sv):]):
        grads[k] = fk.np_(g)
    return fk.np_(y), [fk.np_(st) for st in states], grads


def driver_doc(name, cell, cfg, layer_src, w, x, mask, s0, y, states, w_out, w_states, grads,
               **extra):
    doc = {"name": name, "framework": "keras", "cell": cell, "dtype": "float64",
           "config": cfg, "layer": layer_src, **extra,
           "weights": {k: fk.tensor(v, np.float64) for k, v in w.items()},
           "inputs": fk.tensor(x, np.float64)}
    if mask is not None:
        doc["mask"] = fk.mask_tensor(mask)
    doc.update({
        "initial_state": [fk.tensor(st, np.float64) for st in s0],
        "outputs": fk.tensor(y, np.float64),
        "final_state": [fk.tensor(st, np.float64) for st in states],
        "loss_weights": {"outputs": fk.tensor(w_out, np.float64),
                         "final_state": [fk.tensor(ws, np.float64) for ws in w_states]},
        "gradients": {k: fk.tensor(v, np.float64) for k, v in grads.items()},
    })
    return doc


MERGES = {"concat": lambda f, b: np.concatenate([f, b], -1), "sum": lambda f, b: f + b,
          "mul": lambda f, b: f * b, "ave": lambda f, b: (f + b) / 2}


def bidirectional_case(merge_mode):
    name = f"grad_bidirectional_lstm_{merge_mode}"
    rng = fk.rng_for(name)
    cfg = fk.cell_config("lstm", H, I)
    layer = keras.layers.Bidirectional(
        keras.layers.LSTM(H, return_sequences=True, return_state=True), merge_mode=merge_mode)
    layer.build((B, T, I))
    halves = ("forward", "backward")
    ws = {d: {k: f64_of_f32(v) for k, v in fk.random_weights(rng, "lstm", cfg, np.float32).items()}
          for d in halves}
    w = {f"{d}/{k}": v for d in halves for k, v in ws[d].items()}
    layer.set_weights(fk.weights_list("lstm", ws["forward"]) +
                      fk.weights_list("lstm", ws["backward"]))
    # Keras's variables in set_weights's order: each half's kernel, recurrent kernel, bias.
    variables = dict(zip(w, layer.trainable_weights))
    for key, v in variables.items():
        assert tuple(v.shape) == w[key].shape, (key, v.path)
    x = f64_of_f32(rng.normal(0.0, 1.0, (B, T, I)))
    s0 = [f64_of_f32(st) for st in fk.random_states(rng, "lstm", H, np.float32) +
          fk.random_states(rng, "lstm", H, np.float32)]
    width = 2 * H if merge_mode == "concat" else H
    w_out = f64_of_f32(rng.normal(0.0, 1.0, (B, T, width)))
    w_states = [f64_of_f32(rng.normal(0.0, 1.0, (B, H))) for _ in s0]

    def run(xv, sv):
        y, *states = layer(xv, initial_state=sv, mask=tf.constant(HOLES))
        return y, states

    y, states, grads = taped(name, run, w, variables, x, s0, w_out, w_states)

    # The reference: Bidirectional forces zero_output_for_mask=True on both halves, runs the
    # backward half with go_backwards and flips its outputs back to time order.
    def reference(w, x, s0):
        wf = {k: w[f"forward/{k}"] for k in ws["forward"]}
        wb = {k: w[f"backward/{k}"] for k in ws["backward"]}
        yf, sf = fk.ref_run("lstm", cfg, wf, x, s0[:2], mask=HOLES, zero_output=True)
        yb, sb = fk.ref_run("lstm", cfg, wb, x, s0[2:], mask=HOLES, zero_output=True,
                            go_backwards=True)
        return MERGES[merge_mode](yf, yb[:, ::-1]), sf + sb

    y_ref, s_ref = reference(w, x, s0)
    fk.check(name, "outputs", y, y_ref, tol=1e-12)
    for a, r in zip(states, s_ref):
        fk.check(name, "final state", a, r, tol=1e-12)
    central_check(name, w, x, s0, grads,
                  lambda w, x, s0: loss_of(*reference(w, x, s0), w_out, w_states), rng)
    return driver_doc(
        name, "lstm", cfg,
        f"keras.layers.Bidirectional(keras.layers.LSTM({H}, return_sequences=True, "
        f"return_state=True), merge_mode={merge_mode!r}) in float64 under tf.GradientTape",
        w, x, HOLES, s0, y, states, w_out, w_states, grads, merge_mode=merge_mode,
        # forced by Bidirectional on both halves
        zero_output_for_mask=True)


def stacked_case():
    name = "grad_stacked_lstm_gru"
    rng = fk.rng_for(name)
    cells = [("lstm", fk.cell_config("lstm", 4, I)), ("gru", fk.cell_config("gru", 3, 4))]
    layer = keras.layers.RNN(
        keras.layers.StackedRNNCells([fk.keras_cell(c, cfg) for c, cfg in cells]),
        return_sequences=True, return_state=True)
    layer.build((B, T, I))
    ws = [{k: f64_of_f32(v) for k, v in fk.random_weights(rng, c, cfg, np.float32).items()}
          for c, cfg in cells]
    w = {f"l{j}/{k}": v for j, wj in enumerate(ws) for k, v in wj.items()}
    layer.set_weights([a for (c, _), wj in zip(cells, ws) for a in fk.weights_list(c, wj)])
    variables = dict(zip(w, layer.trainable_weights))
    for key, v in variables.items():
        assert tuple(v.shape) == w[key].shape, (key, v.path)
    x = f64_of_f32(rng.normal(0.0, 1.0, (B, T, I)))
    s0 = [f64_of_f32(st) for c, cfg in cells
          for st in fk.random_states(rng, c, cfg["units"], np.float32)]
    w_out = f64_of_f32(rng.normal(0.0, 1.0, (B, T, 3)))
    w_states = [f64_of_f32(rng.normal(0.0, 1.0, st.shape)) for st in s0]

    def run(xv, sv):
        # Keras wants the initial state nested per cell: [[h0, c0], h1].
        res = layer(xv, initial_state=[sv[:2], sv[2]], mask=tf.constant(HOLES))
        flat = keras.tree.flatten(res)
        return flat[0], flat[1:]

    y, states, grads = taped(name, run, w, variables, x, s0, w_out, w_states)

    # The reference: a masked step skips the whole stack, so layer by layer under one mask.
    def reference(w, x, s0):
        w0 = {k: w[f"l0/{k}"] for k in ws[0]}
        w1 = {k: w[f"l1/{k}"] for k in ws[1]}
        y0, st0 = fk.ref_run("lstm", cells[0][1], w0, x, s0[:2], mask=HOLES)
        y1, st1 = fk.ref_run("gru", cells[1][1], w1, y0, s0[2:], mask=HOLES)
        return y1, st0 + st1

    y_ref, s_ref = reference(w, x, s0)
    fk.check(name, "outputs", y, y_ref, tol=1e-12)
    for a, r in zip(states, s_ref):
        fk.check(name, "final state", a, r, tol=1e-12)
    central_check(name, w, x, s0, grads,
                  lambda w, x, s0: loss_of(*reference(w, x, s0), w_out, w_states), rng)
    return driver_doc(
        name, "stacked", {"input_dim": I, "cells": [dict(cell=c, **cfg) for c, cfg in cells]},
        "keras.layers.RNN(keras.layers.StackedRNNCells([LSTMCell(4), GRUCell(3)]), "
        "return_sequences=True, return_state=True) in float64 under tf.GradientTape",
        w, x, HOLES, s0, y, states, w_out, w_states, grads,
        go_backwards=False, zero_output_for_mask=False)


# The second chunk's mask: holes, but every sequence's first step valid (Keras does not carry
# the last output into a new call; the crate's stream does, and a valid first step uses none).
SECOND_CHUNK_MASK = np.array([[1, 1, 0, 1, 1, 0], [1, 0, 0, 1, 1, 1], [1, 0, 1, 0, 1, 0]], bool)


def truncated_case(cell, cfg_kw):
    name = f"grad_truncated_{cell}"
    rng = fk.rng_for(name)
    cfg = fk.cell_config(cell, H, I, **cfg_kw)
    w = {k: f64_of_f32(v) for k, v in fk.random_weights(rng, cell, cfg, np.float32).items()}
    layer = keras.layers.RNN(fk.keras_cell(cell, cfg), return_sequences=True,
                             return_state=True, stateful=True)
    layer.build((B, T, I))
    layer.set_weights(fk.weights_list(cell, w))
    variables = {v.path.rsplit("/", 1)[-1]: v for v in layer.trainable_weights}
    first = f64_of_f32(rng.normal(0.0, 1.0, (B, T, I)))
    second = f64_of_f32(rng.normal(0.0, 1.0, (B, T, I)))
    s0 = [f64_of_f32(st) for st in fk.random_states(rng, cell, H, np.float32)]
    w_out = f64_of_f32(rng.normal(0.0, 1.0, (B, T, H)))
    w_states = [f64_of_f32(rng.normal(0.0, 1.0, (B, H))) for _ in s0]

    # The first chunk from s0; the stateful layer keeps its final state for the next call.
    y1, *states1 = layer(tf.constant(first), initial_state=[tf.constant(st) for st in s0])
    carried = [fk.np_(st) for st in layer.states]
    for a, b in zip(carried, states1):
        assert np.array_equal(a, fk.np_(b)), name

    # The second chunk from the carried state, its gradient cut there (`tf.stop_gradient`);
    # `taped` watches the cut state, whose adjoint is the truncated one.
    cut = [tf.stop_gradient(st) for st in states1]

    def run(xv, sv):
        y, *states = layer(xv, initial_state=sv, mask=tf.constant(SECOND_CHUNK_MASK))
        return y, states

    y, states, grads = taped(name, run, w, variables, second, cut, w_out, w_states)
    for a, b in zip(layer.states, states):
        assert np.array_equal(fk.np_(a), b), name

    def reference(w, x, start):
        return fk.ref_run(cell, cfg, w, x, start, mask=SECOND_CHUNK_MASK)

    y1_ref, carried_ref = fk.ref_run(cell, cfg, w, first, s0)
    fk.check(name, "first chunk outputs", fk.np_(y1), y1_ref, tol=1e-12)
    for a, r in zip(carried, carried_ref):
        fk.check(name, "carried state", a, r, tol=1e-12)
    y_ref, s_ref = reference(w, second, carried)
    fk.check(name, "outputs", y, y_ref, tol=1e-12)
    for a, r in zip(states, s_ref):
        fk.check(name, "final state", a, r, tol=1e-12)
    central_check(name, w, second, carried, grads,
                  lambda w, x, s: loss_of(*reference(w, x, s), w_out, w_states), rng)
    doc = driver_doc(
        name, cell, cfg,
        f"keras.layers.RNN({type(layer.cell).__name__}(...), return_sequences=True, "
        "return_state=True, stateful=True) in float64 over two chunks, the second under "
        "tf.GradientTape from tf.stop_gradient of the carried state",
        w, second, SECOND_CHUNK_MASK, carried, y, states, w_out, w_states, grads,
        go_backwards=False, zero_output_for_mask=False)
    # The first chunk, unmasked, from these states; `initial_state` above is the state it
    # ends in, carried into the second (whose inputs are `inputs`).
    doc["first_chunk"] = {"inputs": fk.tensor(first, np.float64),
                          "initial_state": [fk.tensor(st, np.float64) for st in s0]}
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
    docs += [bidirectional_case(m) for m in MERGES]
    docs += [stacked_case(), truncated_case("lstm", {}), truncated_case("gru", {})]
    for d in docs:
        fk.write(d)


if __name__ == "__main__":
    main()
