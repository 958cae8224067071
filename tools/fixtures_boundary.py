#!/usr/bin/env python3
"""Keras 3 (TensorFlow backend) fixtures for the batch and array boundary of the `rnn` crate.

Writes tests/fixtures/boundary/*.json, in the format of tools/README.md:
- `boundary_bidirectional_{concat,sum,mul,ave,none}`: Bidirectional(LSTM(3), backward_layer=
  GRU(3)) over a [B, T, F] batch of right-padded sequences, masked by `lengths` (extra key),
  from zero initial states. `outputs` is the merged [B, T, ·] array; for merge_mode=None,
  Keras's two arrays concatenated on the last axis (forward first). `final_state` is Keras's
  list: h_f, c_f, h_b.
- `boundary_stacked_lstm_gru_masked`: RNN(StackedRNNCells([LSTMCell(4), GRUCell(3)])) over a
  [B, T, F] array with a [B, T] mask of any pattern (holes, left padding), from zero states.
  `final_state` is Keras's nested list [[h0, c0], [h1]] flattened: h0, c0, h1.

Each case is checked against fixtures_keras.py's float64 NumPy reference first.

Run:  /tmp/venv/bin/python tools/fixtures_boundary.py
"""
import sys
import pathlib

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import keras  # noqa: E402

import fixtures_keras as fk  # noqa: E402

OUT = fk.ROOT / "tests" / "fixtures" / "boundary"


def write(doc):
    fk.OUT = OUT
    fk.write(doc)


def with_arrays(doc, weights, x, mask, y, states):
    """The case's weights, inputs, mask, outputs and final states, as float32 tensors."""
    doc["weights"] = {k: fk.tensor(v, "float32") for k, v in weights.items()}
    doc["inputs"] = fk.tensor(x, "float32")
    doc["mask"] = fk.mask_tensor(mask)
    doc["outputs"] = fk.tensor(y, "float32")
    doc["final_state"] = [fk.tensor(s, "float32") for s in states]
    return doc


def bidirectional_case(mode):
    name = f"boundary_bidirectional_{mode}"
    rng = fk.rng_for("boundary_bidirectional")  # the merge modes share weights and data
    nb, nt, ni, h = 4, 5, 2, 3
    lengths = [5, 3, 1, 4]
    mask = fk.right_padded(lengths, nt).astype(bool)
    cfg_f = fk.cell_config("lstm", h, ni)
    cfg_b = fk.cell_config("gru", h, ni)
    layer = keras.layers.Bidirectional(
        fk.keras_layer("lstm", cfg_f),
        backward_layer=fk.keras_layer("gru", cfg_b, go_backwards=True),
        merge_mode=None if mode == "none" else mode)
    layer.build((nb, nt, ni))
    wf = fk.random_weights(rng, "lstm", cfg_f, "float32")
    wb = fk.random_weights(rng, "gru", cfg_b, "float32")
    layer.set_weights(fk.weights_list("lstm", wf) + fk.weights_list("gru", wb))
    x = rng.normal(0.0, 1.0, (nb, nt, ni)).astype("float32")
    res = [fk.np_(t) for t in keras.tree.flatten(layer(x, mask=mask))]
    if mode == "none":
        y, states = np.concatenate(res[:2], -1), res[2:]
    else:
        y, states = res[0], res[1:]

    # Bidirectional forces zero_output_for_mask on both halves; the backward half reads the
    # whole time axis reversed and its outputs are flipped back to time order.
    yf, sf = fk.ref_run("lstm", cfg_f, wf, x, [np.zeros((nb, h))] * 2, mask=mask, zero_output=True)
    yb, sb = fk.ref_run("gru", cfg_b, wb, x, [np.zeros((nb, h))], mask=mask, zero_output=True,
                        go_backwards=True)
    yb = yb[:, ::-1]
    merged = {"concat": np.concatenate([yf, yb], -1), "sum": yf + yb, "mul": yf * yb,
              "ave": (yf + yb) / 2, "none": np.concatenate([yf, yb], -1)}[mode]
    fk.check(name, "outputs", y, merged)
    assert len(states) == 3
    for a, b in zip(states, sf + sb):
        fk.check(name, "final state", a, b)

    doc = fk.doc_head(
        name, "bidirectional", {"forward": cfg_f, "backward": cfg_b}, "float32",
        f"keras.layers.Bidirectional(LSTM({h}, return_sequences=True, return_state=True), "
        f"backward_layer=GRU({h}, go_backwards=True, ...), merge_mode={None if mode == 'none' else mode!r})",
        merge_mode=mode, zero_output_for_mask=True, lengths=lengths)
    weights = {f"{d}/{k}": v for d, w in (("forward", wf), ("backward", wb)) for k, v in w.items()}
    return with_arrays(doc, weights, x, mask, y, states)


def stacked_case():
    name = "boundary_stacked_lstm_gru_masked"
    rng = fk.rng_for(name)
    nb, nt, ni = 3, 6, 5
    cells = [("lstm", fk.cell_config("lstm", 4, ni)), ("gru", fk.cell_config("gru", 3, 4))]
    layer = keras.layers.RNN(
        keras.layers.StackedRNNCells([fk.keras_cell(c, cfg) for c, cfg in cells]),
        return_sequences=True, return_state=True)
    layer.build((nb, nt, ni))
    ws = [fk.random_weights(rng, c, cfg, "float32") for c, cfg in cells]
    layer.set_weights([a for (c, _), w in zip(cells, ws) for a in fk.weights_list(c, w)])
    x = rng.normal(0.0, 1.0, (nb, nt, ni)).astype("float32")
    mask = np.array([[1, 1, 0, 1, 1, 0], [0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1]], bool)
    res = layer(x, mask=mask)
    flat = [fk.np_(t) for t in keras.tree.flatten(res)]
    y, states = flat[0], flat[1:]

    # The stack's mask applies to the whole step: layer 1 sees layer 0's outputs, masked
    # steps included (carried, not computed), and skips the same steps.
    zeros = lambda n: np.zeros((nb, n))  # noqa: E731
    y0, st0 = fk.ref_run("lstm", cells[0][1], ws[0], x, [zeros(4), zeros(4)], mask=mask)
    y1, st1 = fk.ref_run("gru", cells[1][1], ws[1], y0, [zeros(3)], mask=mask)
    fk.check(name, "outputs", y, y1)
    assert len(states) == 3
    for a, b in zip(states, st0 + st1):
        fk.check(name, "final state", a, b)

    doc = fk.doc_head(name, "stacked", {"input_dim": ni, "cells": [dict(cell=c, **cfg) for c, cfg in cells]},
                      "float32",
                      "keras.layers.RNN(keras.layers.StackedRNNCells([LSTMCell(4), GRUCell(3)]), "
                      "return_sequences=True, return_state=True)",
                      zero_output_for_mask=False)
    weights = {f"l{j}/{k}": v for j, w in enumerate(ws) for k, v in w.items()}
    return with_arrays(doc, weights, x, mask, y, states)


def main():
    keras.config.set_floatx("float32")
    keras.utils.set_random_seed(0)
    docs = [bidirectional_case(m) for m in ("concat", "sum", "mul", "ave", "none")]
    docs.append(stacked_case())
    for d in docs:
        write(d)


if __name__ == "__main__":
    main()
