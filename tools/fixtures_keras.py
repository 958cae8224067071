#!/usr/bin/env python3
"""Generate Keras 3 (TensorFlow backend) parity fixtures for the `rnn` crate.

Writes one JSON file per case to tests/fixtures/keras/. The format is described in
tools/README.md. Every case is also recomputed by an independent float64 NumPy
reference (gate layouts and mask policies as stated in DESIGN.md) and the script
aborts if Keras disagrees, so a fixture never records behaviour that we have not
understood.

Run:  /tmp/venv/bin/python tools/fixtures_keras.py
"""
import os

os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ["CUDA_VISIBLE_DEVICES"] = ""
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import json
import pathlib
import zlib

import numpy as np
import keras

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "keras"

B, T, I, H = 3, 6, 5, 4
TOL = 1e-5


# --------------------------------------------------------------------------- helpers


def rng_for(name):
    """A generator seeded by the case name: each case is reproducible on its own."""
    return np.random.default_rng(zlib.crc32(name.encode()))


def tensor(a, dtype):
    a = np.asarray(a, dtype=dtype)
    # float(np.float32) is the exact value as a Python float; its repr round-trips.
    return {"shape": list(a.shape), "data": [float(v) for v in a.reshape(-1)]}


def mask_tensor(m):
    m = np.asarray(m)
    return {"shape": list(m.shape), "data": [int(v) for v in m.reshape(-1)]}


def write(doc):
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / (doc["name"] + ".json")
    text = json.dumps(doc, separators=(",", ":")) + "\n"
    path.write_text(text)
    assert len(text) < 200_000, path
    print(f"wrote {path.relative_to(ROOT)} ({len(text)} bytes)")


def np_(t):
    return np.asarray(keras.ops.convert_to_numpy(t))


def check(name, what, got, want, tol=TOL):
    err = float(np.max(np.abs(np.asarray(got, np.float64) - np.asarray(want, np.float64))))
    if not err <= tol:
        raise SystemExit(f"{name}: Keras {what} differs from the NumPy reference by {err}")


# ------------------------------------------------------------- NumPy reference (float64)

ACT = {
    "tanh": np.tanh,
    "relu": lambda x: np.maximum(x, 0.0),
    "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
    # Keras 3: relu6(x + 3) / 6, i.e. clip(x / 6 + 0.5, 0, 1) (Keras 2 used 0.2 x + 0.5).
    "hard_sigmoid": lambda x: np.clip(x / 6.0 + 0.5, 0.0, 1.0),
    "linear": lambda x: x,
}


def ref_step(cell, cfg, w, x, states):
    """One step of a Keras-layout cell. Returns (output, new_states)."""
    act = ACT[cfg.get("activation", "tanh")]
    ract = ACT[cfg.get("recurrent_activation", "sigmoid")]
    k, rk, b = w["kernel"], w["recurrent_kernel"], w.get("bias")
    n = rk.shape[0]
    if cell == "simple_rnn":
        (h,) = states
        z = x @ k + h @ rk + (b if b is not None else 0.0)
        h = act(z)
        return h, [h]
    if cell == "lstm":
        h, c = states
        z = x @ k + h @ rk + (b if b is not None else 0.0)
        i, f, g, o = (z[:, j * n:(j + 1) * n] for j in range(4))
        c = ract(f) * c + ract(i) * act(g)
        h = ract(o) * act(c)
        return h, [h, c]
    if cell == "gru":
        (h,) = states
        if cfg["reset_after"]:
            bx, bh = (b[0], b[1]) if b is not None else (0.0, 0.0)
            mx = x @ k + bx
            mh = h @ rk + bh
            z = ract(mx[:, :n] + mh[:, :n])
            r = ract(mx[:, n:2 * n] + mh[:, n:2 * n])
            hh = act(mx[:, 2 * n:] + r * mh[:, 2 * n:])
        else:
            mx = x @ k + (b if b is not None else 0.0)
            z = ract(mx[:, :n] + h @ rk[:, :n])
            r = ract(mx[:, n:2 * n] + h @ rk[:, n:2 * n])
            hh = act(mx[:, 2 * n:] + (r * h) @ rk[:, 2 * n:])
        h = z * h + (1.0 - z) * hh
        return h, [h]
    raise ValueError(cell)


def ref_run(cell, cfg, w, x, states, mask=None, zero_output=False, go_backwards=False):
    """Keras's masked loop: a masked step keeps the state; its output is the previous
    output (zero before any valid step), or zero with zero_output_for_mask.
    go_backwards reverses the whole time axis (inputs and mask) and returns outputs in
    processing order."""
    x = np.asarray(x, np.float64)
    w = {key: np.asarray(v, np.float64) for key, v in w.items()}
    states = [np.asarray(s, np.float64) for s in states]
    nb, nt = x.shape[:2]
    if mask is None:
        mask = np.ones((nb, nt), bool)
    mask = np.asarray(mask, bool)
    if go_backwards:
        x, mask = x[:, ::-1], mask[:, ::-1]
    prev = None
    outs = []
    for t in range(nt):
        y, new = ref_step(cell, cfg, w, x[:, t], states)
        m = mask[:, t:t + 1]
        if prev is None:
            prev = np.zeros_like(y)
        y = np.where(m, y, 0.0 if zero_output else prev)
        states = [np.where(m, s1, s0) for s1, s0 in zip(new, states)]
        outs.append(y)
        prev = y
    return np.stack(outs, axis=1), states


# ------------------------------------------------------------------------- case makers


def cell_config(cell, units, input_dim, **kw):
    cfg = {"units": units, "input_dim": input_dim}
    if cell == "simple_rnn":
        cfg.update(activation=kw.get("activation", "tanh"), use_bias=kw.get("use_bias", True))
    elif cell == "gru":
        cfg.update(
            activation=kw.get("activation", "tanh"),
            recurrent_activation=kw.get("recurrent_activation", "sigmoid"),
            use_bias=kw.get("use_bias", True),
            reset_after=kw.get("reset_after", True),
        )
    elif cell == "lstm":
        cfg.update(
            activation=kw.get("activation", "tanh"),
            recurrent_activation=kw.get("recurrent_activation", "sigmoid"),
            use_bias=kw.get("use_bias", True),
            unit_forget_bias=kw.get("unit_forget_bias", True),
        )
    return cfg


def keras_cell(cell, cfg):
    args = {k: v for k, v in cfg.items() if k not in ("units", "input_dim")}
    if cell == "simple_rnn":
        return keras.layers.SimpleRNNCell(cfg["units"], **args)
    if cell == "gru":
        return keras.layers.GRUCell(cfg["units"], **args)
    if cell == "lstm":
        return keras.layers.LSTMCell(cfg["units"], **args)
    raise ValueError(cell)


def keras_layer(cell, cfg, **layer_kw):
    args = {k: v for k, v in cfg.items() if k not in ("units", "input_dim")}
    cls = {"simple_rnn": keras.layers.SimpleRNN, "gru": keras.layers.GRU,
           "lstm": keras.layers.LSTM}[cell]
    return cls(cfg["units"], return_sequences=True, return_state=True, **args, **layer_kw)


def random_weights(rng, cell, cfg, dtype):
    n, i = cfg["units"], cfg["input_dim"]
    k = {"simple_rnn": 1, "gru": 3, "lstm": 4}[cell]
    w = {
        "kernel": rng.uniform(-0.6, 0.6, (i, k * n)).astype(dtype),
        "recurrent_kernel": rng.uniform(-0.6, 0.6, (n, k * n)).astype(dtype),
    }
    if cfg["use_bias"]:
        shape = (2, k * n) if cell == "gru" and cfg["reset_after"] else (k * n,)
        w["bias"] = rng.uniform(-0.6, 0.6, shape).astype(dtype)
    return w


def n_states(cell):
    return 2 if cell == "lstm" else 1


def random_states(rng, cell, units, dtype, nb=B):
    return [rng.normal(0.0, 0.5, (nb, units)).astype(dtype) for _ in range(n_states(cell))]


def weights_list(cell, w):
    return [w[k] for k in ("kernel", "recurrent_kernel", "bias") if k in w]


def doc_head(name, cell, cfg, dtype, layer_src, **extra):
    d = {"name": name, "framework": "keras", "cell": cell, "dtype": dtype,
         "layer": layer_src, "config": cfg}
    d.update(extra)
    return d


def single_case(name, cell, cfg_kw, *, dtype="float32", with_state=True, mask=None,
                zero_output=False, go_backwards=False, via="layer", rng_name=None):
    """One recurrent layer (or RNN(cell)) over [B, T, I] with return_sequences and
    return_state."""
    rng = rng_for(rng_name or name)
    cfg = cell_config(cell, H, I, **cfg_kw)
    w = random_weights(rng, cell, cfg, dtype)
    x = rng.normal(0.0, 1.0, (B, T, I)).astype(dtype)
    s0 = random_states(rng, cell, H, dtype) if with_state else None

    if via == "layer":
        layer = keras_layer(cell, cfg, go_backwards=go_backwards)
        assert not zero_output
        src = (f"keras.layers.{type(layer).__name__}({H}, return_sequences=True, "
               f"return_state=True{', go_backwards=True' if go_backwards else ''}, ...)")
    else:
        layer = keras.layers.RNN(keras_cell(cell, cfg), return_sequences=True,
                                 return_state=True, zero_output_for_mask=zero_output,
                                 go_backwards=go_backwards)
        src = (f"keras.layers.RNN({type(layer.cell).__name__}({H}, ...), return_sequences=True, "
               f"return_state=True{', zero_output_for_mask=True' if zero_output else ''}"
               f"{', go_backwards=True' if go_backwards else ''})")
    layer.build((B, T, I))
    layer.set_weights(weights_list(cell, w))
    kw = {}
    if s0 is not None:
        kw["initial_state"] = [keras.ops.convert_to_tensor(s) for s in s0]
    if mask is not None:
        kw["mask"] = keras.ops.convert_to_tensor(np.asarray(mask, bool))
    res = layer(keras.ops.convert_to_tensor(x), **kw)
    y, states = np_(res[0]), [np_(s) for s in res[1:]]
    assert y.dtype == np.dtype(dtype), (y.dtype, dtype)

    ry, rs = ref_run(cell, cfg, w, x,
                     s0 if s0 is not None else [np.zeros((B, H))] * n_states(cell),
                     mask=mask, zero_output=zero_output, go_backwards=go_backwards)
    tol = 1e-12 if dtype == "float64" else TOL
    check(name, "outputs", y, ry, tol)
    for a, b in zip(states, rs):
        check(name, "final state", a, b, tol)

    doc = doc_head(name, cell, cfg, dtype, src,
                   go_backwards=go_backwards, zero_output_for_mask=zero_output)
    doc["weights"] = {k: tensor(v, dtype) for k, v in w.items()}
    doc["inputs"] = tensor(x, dtype)
    if mask is not None:
        doc["mask"] = mask_tensor(mask)
    if s0 is not None:
        doc["initial_state"] = [tensor(s, dtype) for s in s0]
    doc["outputs"] = tensor(y, dtype)
    doc["final_state"] = [tensor(s, dtype) for s in states]
    return doc


def dense_case(name, units, activation):
    rng = rng_for(name)
    dense = keras.layers.Dense(units, activation=activation)
    dense.build((B, I))
    k = rng.uniform(-0.6, 0.6, (I, units)).astype("float32")
    b = rng.uniform(-0.6, 0.6, (units,)).astype("float32")
    dense.set_weights([k, b])
    x = rng.normal(0.0, 1.0, (B, I)).astype("float32")
    y = np_(dense(x))
    act = activation or "linear"
    check(name, "outputs", y, ACT[act](x.astype(np.float64) @ k + b))
    doc = {"name": name, "framework": "keras", "cell": "dense", "dtype": "float32",
           "layer": f"keras.layers.Dense({units}, activation={activation!r})",
           "config": {"units": units, "input_dim": I, "activation": act, "use_bias": True},
           "weights": {"kernel": tensor(k, "float32"), "bias": tensor(b, "float32")},
           "inputs": tensor(x, "float32"), "outputs": tensor(y, "float32")}
    return doc


def stacked_case(name):
    rng = rng_for(name)
    cells = [("lstm", cell_config("lstm", 4, I)), ("gru", cell_config("gru", 3, 4))]
    layer = keras.layers.RNN(
        keras.layers.StackedRNNCells([keras_cell(c, cfg) for c, cfg in cells]),
        return_sequences=True, return_state=True)
    layer.build((B, T, I))
    ws = [random_weights(rng, c, cfg, "float32") for c, cfg in cells]
    layer.set_weights([a for (c, _), w in zip(cells, ws) for a in weights_list(c, w)])
    x = rng.normal(0.0, 1.0, (B, T, I)).astype("float32")
    s0 = [random_states(rng, c, cfg["units"], "float32") for c, cfg in cells]
    # Keras wants the initial state nested per cell: [[h0, c0], h1].
    res = layer(x, initial_state=[s0[0], s0[1][0]])
    flat = [np_(t) for t in keras.tree.flatten(res)]
    y, states = flat[0], flat[1:]

    # reference: layer 0 over the sequence, then layer 1 over its outputs
    y0, st0 = ref_run("lstm", cells[0][1], ws[0], x, s0[0])
    y1, st1 = ref_run("gru", cells[1][1], ws[1], y0, s0[1])
    check(name, "outputs", y, y1)
    for a, b in zip(states, st0 + st1):
        check(name, "final state", a, b)

    doc = doc_head(name, "stacked", {"input_dim": I, "cells": [dict(cell=c, **cfg) for c, cfg in cells]},
                   "float32",
                   "keras.layers.RNN(keras.layers.StackedRNNCells([LSTMCell(4), GRUCell(3)]), "
                   "return_sequences=True, return_state=True)",
                   go_backwards=False, zero_output_for_mask=False)
    doc["weights"] = {f"l{j}/{k}": tensor(v, "float32") for j, w in enumerate(ws) for k, v in w.items()}
    doc["inputs"] = tensor(x, "float32")
    doc["initial_state"] = [tensor(s, "float32") for s in s0[0] + s0[1]]
    doc["outputs"] = tensor(y, "float32")
    doc["final_state"] = [tensor(s, "float32") for s in states]
    return doc


def bidirectional_case(name, merge_mode, mask):
    rng = rng_for("keras_bidirectional")  # the four merge modes share weights and data
    cfg = cell_config("lstm", H, I)
    layer = keras.layers.Bidirectional(
        keras.layers.LSTM(H, return_sequences=True, return_state=True), merge_mode=merge_mode)
    layer.build((B, T, I))
    wf = random_weights(rng, "lstm", cfg, "float32")
    wb = random_weights(rng, "lstm", cfg, "float32")
    layer.set_weights(weights_list("lstm", wf) + weights_list("lstm", wb))
    x = rng.normal(0.0, 1.0, (B, T, I)).astype("float32")
    s0 = random_states(rng, "lstm", H, "float32") + random_states(rng, "lstm", H, "float32")
    res = layer(x, initial_state=s0, mask=np.asarray(mask, bool))
    y, states = np_(res[0]), [np_(s) for s in res[1:]]

    # reference: Bidirectional forces zero_output_for_mask=True on both halves (when
    # return_sequences), runs the backward half with go_backwards (whole time axis
    # reversed) and flips its output sequence back to the original time order.
    yf, sf = ref_run("lstm", cfg, wf, x, s0[:2], mask=mask, zero_output=True)
    yb, sb = ref_run("lstm", cfg, wb, x, s0[2:], mask=mask, zero_output=True, go_backwards=True)
    yb = yb[:, ::-1]
    merged = {"concat": np.concatenate([yf, yb], -1), "sum": yf + yb,
              "mul": yf * yb, "ave": (yf + yb) / 2}[merge_mode]
    check(name, "outputs", y, merged)
    for a, b in zip(states, sf + sb):
        check(name, "final state", a, b)

    doc = doc_head(name, "lstm", cfg, "float32",
                   f"keras.layers.Bidirectional(keras.layers.LSTM({H}, return_sequences=True, "
                   f"return_state=True), merge_mode={merge_mode!r})",
                   merge_mode=merge_mode, go_backwards=False,
                   # forced by Bidirectional on both halves
                   zero_output_for_mask=True)
    doc["weights"] = {f"{d}/{k}": tensor(v, "float32")
                      for d, w in (("forward", wf), ("backward", wb)) for k, v in w.items()}
    doc["inputs"] = tensor(x, "float32")
    doc["mask"] = mask_tensor(mask)
    doc["initial_state"] = [tensor(s, "float32") for s in s0]
    doc["outputs"] = tensor(y, "float32")
    doc["final_state"] = [tensor(s, "float32") for s in states]
    return doc


def seed002_case():
    """Seed 002: Keras GRU vs tf.nn.dynamic_rnn on padded sequences."""
    tokens = np.array([[1, 2, 1, 0, 0], [0, 1, 2, 1, 0]])
    emb_w = (np.ones((3, 2)) * np.transpose([[0.37, 1, 2]])).astype("float32")
    emb = keras.layers.Embedding(3, 2, trainable=False)
    emb.build((2, 5))
    emb.set_weights([emb_w])
    x = np_(emb(tokens))
    masking = keras.layers.Masking(mask_value=0.37)
    mask = np.asarray(np_(masking.compute_mask(x)), bool)
    assert (mask == np.any(x != 0.37, axis=-1)).all()
    xm = np_(masking(x))  # Masking also zeroes the masked inputs

    cfg = {"units": 1, "input_dim": 2, "activation": "linear", "recurrent_activation": "linear",
           "use_bias": True, "reset_after": False}
    common = dict(activation=None, recurrent_activation=None, kernel_initializer="ones",
                  recurrent_initializer="zeros", use_bias=True, bias_initializer="ones",
                  reset_after=False)
    gru = keras.layers.GRU(1, return_sequences=True, return_state=True, **common)
    y_un, s_un = (np_(t) for t in gru(x))
    y_km, s_km = (np_(t) for t in gru(xm, mask=mask))
    rnn0 = keras.layers.RNN(keras.layers.GRUCell(1, **common), return_sequences=True,
                            return_state=True, zero_output_for_mask=True)
    y_zm, s_zm = (np_(t) for t in rnn0(xm, mask=mask))
    w = {k: np_(v) for k, v in zip(("kernel", "recurrent_kernel", "bias"), gru.get_weights())}

    # tf.nn.dynamic_rnn(sequence_length=[3, 4]) on the Masking output, as in the seed:
    # row 1's first step is masked (zeroed) input but inside the length; with this GRU a
    # zero input leaves h = 0 unchanged, so it equals the zero-output mask policy.
    lengths = [3, 4]
    rmask = np.arange(5)[None, :] < np.array(lengths)[:, None]
    y_dyn, _ = ref_run("gru", cfg, w, xm, [np.zeros((2, 1))], mask=rmask, zero_output=True)
    check("seed002", "zero-masked outputs (vs dynamic_rnn lengths)", y_zm, y_dyn)

    table_unmasked = [[-6, -50, -156, -272.7276, -475.83362],
                      [-1.2876, -9.862801, -69.314, -213.94202, -373.54672]]
    table_keras = [[-6, -50, -156, -156, -156], [0, -6, -50, -156, -156]]
    table_dyn = [[-6, -50, -156, 0, 0], [0, -6, -50, -156, 0]]
    print("seed 002 (Keras", keras.__version__, ")")
    for label, got, want in (("unmasked", y_un, table_unmasked),
                             ("keras mask", y_km, table_keras),
                             ("zero masked", y_zm, table_dyn)):
        got = got[..., 0]
        print(f"  {label:12s}", np.array2string(got, precision=5, max_line_width=200).replace("\n", ""))
        rel = np.max(np.abs(got - np.array(want)) / np.maximum(1.0, np.abs(np.array(want))))
        print(f"  {'':12s} max relative difference to the seed's table: {rel:.2e}")
        assert rel < 1e-6, (label, got, want)
    for label, got in (("unmasked", y_un), ("keras mask", y_km), ("zero masked", y_zm)):
        ry, _ = ref_run("gru", cfg, w, x if label == "unmasked" else xm, [np.zeros((2, 1))],
                        mask=None if label == "unmasked" else mask,
                        zero_output=label == "zero masked")
        check("seed002", label, got, ry, 1e-4)

    doc = {"name": "seed002", "framework": "keras", "cell": "gru", "dtype": "float32",
           "layer": "keras.layers.GRU(1, activation=None, recurrent_activation=None, "
                    "kernel_initializer='ones', recurrent_initializer='zeros', "
                    "bias_initializer='ones', reset_after=False)",
           "config": cfg,
           "embedding": tensor(emb_w, "float32"),
           "tokens": {"shape": [2, 5], "data": [int(v) for v in tokens.reshape(-1)]},
           "lengths": lengths,
           "note": "inputs are the raw embedded tokens (masked steps hold 0.37). "
                   "outputs_keras_mask: Masking(0.37) mask, Keras default policy (carry the "
                   "last output, keep the state). outputs_zero_masked: same mask, "
                   "zero_output_for_mask=True; equals the seed's tf.nn.dynamic_rnn("
                   "sequence_length=lengths) column, which ran on the Masking output (masked "
                   "inputs zeroed), where a zero input leaves this GRU's state unchanged. "
                   "Use the mask, not the lengths, on the raw inputs.",
           "weights": {k: tensor(v, "float32") for k, v in w.items()},
           "inputs": tensor(x, "float32"),
           "mask": mask_tensor(mask),
           "outputs_unmasked": tensor(y_un, "float32"),
           "outputs_keras_mask": tensor(y_km, "float32"),
           "outputs_zero_masked": tensor(y_zm, "float32"),
           "final_state_unmasked": [tensor(s_un, "float32")],
           "final_state_masked": [tensor(s_km, "float32")]}
    assert np.array_equal(s_km, s_zm)
    return doc


def right_padded(lengths, nt=T):
    return (np.arange(nt)[None, :] < np.array(lengths)[:, None]).astype(np.int64)


def main():
    keras.config.set_floatx("float32")
    keras.utils.set_random_seed(0)
    docs = []
    # 1. SimpleRNN
    docs.append(single_case("keras_simple_rnn", "simple_rnn", {}))
    docs.append(single_case("keras_simple_rnn_relu", "simple_rnn", {"activation": "relu"}))
    docs.append(single_case("keras_simple_rnn_nobias", "simple_rnn", {"use_bias": False}))
    # 2. GRU
    docs.append(single_case("keras_gru_reset_after", "gru", {}))
    docs.append(single_case("keras_gru_reset_before", "gru", {"reset_after": False}))
    docs.append(single_case("keras_gru_hard_sigmoid", "gru", {"recurrent_activation": "hard_sigmoid"}))
    docs.append(single_case("keras_gru_nobias", "gru", {"use_bias": False}))
    # 3. LSTM
    docs.append(single_case("keras_lstm", "lstm", {}))
    docs.append(single_case("keras_lstm_hard_sigmoid", "lstm", {"recurrent_activation": "hard_sigmoid"}))
    docs.append(single_case("keras_lstm_relu", "lstm", {"activation": "relu"}))
    docs.append(single_case("keras_lstm_nobias", "lstm", {"use_bias": False}))
    # 4. zero initial state
    docs.append(single_case("keras_lstm_zero_init", "lstm", {}, with_state=False))
    # 5. Dense
    docs.append(dense_case("keras_dense_linear", 4, None))
    docs.append(dense_case("keras_dense_tanh", 3, "tanh"))
    # 6. StackedRNNCells
    docs.append(stacked_case("keras_stacked"))
    # 7. float64
    # set_floatx alone is not enough: the first layer built caches the global dtype
    # policy (derived from floatx at that moment), so set the policy as well.
    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")
    try:
        docs.append(single_case("keras_lstm_f64", "lstm", {}, dtype="float64"))
    finally:
        keras.config.set_floatx("float32")
        keras.config.set_dtype_policy("float32")
    # 8. seed 002
    docs.append(seed002_case())
    # 9. masking semantics
    holes = np.array([[1, 1, 0, 1, 1, 0], [0, 0, 1, 1, 1, 1], [1, 0, 1, 0, 1, 0]])
    docs.append(single_case("keras_lstm_mask_holes", "lstm", {}, mask=holes,
                            rng_name="keras_lstm_mask"))
    docs.append(single_case("keras_lstm_mask_zero_output", "lstm", {}, mask=holes,
                            zero_output=True, via="rnn", rng_name="keras_lstm_mask"))
    docs.append(single_case("keras_lstm_go_backwards_mask", "lstm", {},
                            mask=right_padded([6, 4, 2]), go_backwards=True))
    for mode in ("concat", "sum", "mul", "ave"):
        docs.append(bidirectional_case(f"keras_bidirectional_{mode}", mode, right_padded([6, 4, 2])))

    for d in docs:
        write(d)


if __name__ == "__main__":
    main()
