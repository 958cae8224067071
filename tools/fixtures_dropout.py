#!/usr/bin/env python3
"""Generate Keras 3 (TensorFlow backend) fixtures for the `rnn` crate's dropout in training
(`Rnn::dropout`): Keras's `dropout` and `recurrent_dropout` on LSTM, GRU (both variants) and
SimpleRNN cells, called with `training=True` on a masked batch, with the masks made known.

The masks are the crate's: this script draws them as `rnn` does (SplitMix64 hashes of the
seed, the run's draw, the sequence, and the unit's coordinates; see
`rnn-core/src/drivers/dropout.rs`) and hands them to Keras by replacing the cell's
`get_dropout_mask` / `get_recurrent_dropout_mask`, in the shapes Keras asks for: one mask per
gate when `recurrent_dropout` is set (Keras's `implementation=1`), one shared input mask
otherwise. Each fixture records the keep flags, so the Rust test checks its masks first.

Keras's forward is also checked against an independent float64 NumPy reference
(fixtures_keras.ref_run) of the cell whose kernel rows are scaled by the masks, sequence by
sequence: `(x ⊙ m_g) · W_g = x · (m_g ⊙ W_g)`, the identity the crate applies dropout with
(and which shows that GRU's interpolation and LSTM's carry are not dropped).

The loss and keys are those of fixtures_gradients.py, plus `dropout` (`rate`,
`recurrent_rate`, `seed`) and `dropout_masks` (`input` [G, B, I], `recurrent` [G, B, H], keep
flags as 0/1).

Run:  /tmp/venv/bin/python tools/fixtures_dropout.py
"""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import fixtures_keras as fk  # noqa: E402  (sets the Keras backend before importing it)
from fixtures_gradients import HOLES, taped, driver_doc  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

OUT = fk.ROOT / "tests" / "fixtures" / "dropout"
B, T, I, H = fk.B, fk.T, fk.I, fk.H
M64 = (1 << 64) - 1
GATES = {"lstm": 4, "gru": 3, "simple_rnn": 1}


def mix(z):
    """SplitMix64's step and finaliser, as `rnn` hashes."""
    z = (z + 0x9E3779B97F4A7C15) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def kept(key, which, gate, unit, rate):
    if rate <= 0.0:
        return True
    bits = mix(mix(mix(key ^ which) ^ gate) ^ unit)
    return (bits >> 11) * (1.0 / (1 << 53)) >= rate


def keep_flags(seed, draw, gates, rate, recurrent_rate):
    """`input` [G, B, I] and `recurrent` [G, B, H] keep flags of a batch's sequences."""
    inputs = np.zeros((gates, B, I), bool)
    recurrent = np.zeros((gates, B, H), bool)
    for b in range(B):
        key = mix(mix(mix(seed) ^ draw) ^ b)
        for g in range(gates):
            shared = g if recurrent_rate > 0.0 else 0
            for j in range(I):
                inputs[g, b, j] = kept(key, 0, shared, j, rate)
            for j in range(H):
                recurrent[g, b, j] = kept(key, 1, g, j, recurrent_rate)
    return inputs, recurrent


def folded(cell, w, inputs, recurrent, rate, recurrent_rate, b):
    """Sequence b's weights with its masks folded into the kernels' rows, gate by gate."""
    out = dict(w)
    for name, flags, r in (("kernel", inputs, rate), ("recurrent_kernel", recurrent,
                                                       recurrent_rate)):
        k = np.array(w[name], np.float64)
        gates = GATES[cell]
        for g in range(gates):
            scale = flags[g, b].astype(np.float64) / (1.0 - r)
            k[:, g * H:(g + 1) * H] *= scale[:, None]
        out[name] = k
    return out


def case(name, cell, cfg_kw, rate, recurrent_rate, seed=11):
    rng = fk.rng_for(name)
    cfg = fk.cell_config(cell, H, I, **cfg_kw)
    w = {k: v.astype(np.float64) for k, v in fk.random_weights(rng, cell, cfg, np.float32).items()}
    x = rng.normal(0.0, 1.0, (B, T, I)).astype(np.float32).astype(np.float64)
    s0 = [s.astype(np.float64) for s in fk.random_states(rng, cell, H, np.float32)]
    w_out = rng.normal(0.0, 1.0, (B, T, H)).astype(np.float32).astype(np.float64)
    w_states = [rng.normal(0.0, 1.0, (B, H)).astype(np.float32).astype(np.float64) for _ in s0]

    gates = GATES[cell]
    inputs, recurrent = keep_flags(seed, 0, gates, rate, recurrent_rate)
    args = {k: v for k, v in cfg.items() if k not in ("units", "input_dim")}
    cls = {"simple_rnn": keras.layers.SimpleRNNCell, "gru": keras.layers.GRUCell,
           "lstm": keras.layers.LSTMCell}[cell]
    keras_cell = cls(H, dropout=rate, recurrent_dropout=recurrent_rate, **args)
    # The masks Keras asks for: a list of one per gate when it splits the gates
    # (`dropout_mask_count`, set with a recurrent rate), else one.
    per_gate = getattr(keras_cell, "dropout_mask_count", None) is not None
    assert per_gate == (recurrent_rate > 0.0 and cell != "simple_rnn"), name

    def masks(flags, r):
        values = [tf.constant(flags[g].astype(np.float64) / (1.0 - r)) for g in range(gates)]
        return values if per_gate else values[0]

    keras_cell.get_dropout_mask = lambda _: masks(inputs, rate) if rate > 0 else None
    keras_cell.get_recurrent_dropout_mask = (
        lambda _: masks(recurrent, recurrent_rate) if recurrent_rate > 0 else None)

    layer = keras.layers.RNN(keras_cell, return_sequences=True, return_state=True)
    mask = tf.constant(HOLES)
    layer(tf.constant(x), initial_state=[tf.constant(s) for s in s0], mask=mask)
    layer.set_weights(fk.weights_list(cell, w))
    variables = {v.path.rsplit("/", 1)[-1]: v for v in layer.trainable_weights}

    def run(xv, sv):
        y, *states = layer(xv, initial_state=sv, mask=mask, training=True)
        return y, states

    y, states, grads = taped(name, run, w, variables, x, s0, w_out, w_states)

    # Dropout changed the run, and the run is the masked-kernel cell's, sequence by sequence.
    y_plain, _ = fk.ref_run(cell, cfg, w, x, s0, mask=HOLES)
    assert np.abs(y - y_plain).max() > 1e-3, f"{name}: dropout changed nothing"
    for b in range(B):
        wb = folded(cell, w, inputs, recurrent, rate, recurrent_rate, b)
        y_ref, s_ref = fk.ref_run(cell, cfg, wb, x[b:b + 1], [s[b:b + 1] for s in s0],
                                  mask=HOLES[b:b + 1])
        fk.check(name, f"outputs of sequence {b}", y[b:b + 1], y_ref, tol=1e-12)
        for s, r in zip(states, s_ref):
            fk.check(name, f"final state of sequence {b}", s[b:b + 1], r, tol=1e-12)

    layer_src = (f"keras.layers.RNN({cls.__name__}(..., dropout={rate}, "
                 f"recurrent_dropout={recurrent_rate}), return_sequences=True, "
                 "return_state=True) in float64 under tf.GradientTape, training=True, "
                 "get_dropout_mask/get_recurrent_dropout_mask returning rnn's masks")
    return driver_doc(
        name, cell, cfg, layer_src, w, x, HOLES, s0, y, states, w_out, w_states, grads,
        dropout={"rate": rate, "recurrent_rate": recurrent_rate, "seed": seed},
        dropout_masks={"input": fk.mask_tensor(inputs), "recurrent": fk.mask_tensor(recurrent)},
    )


def main():
    fk.OUT = OUT
    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")
    docs = [
        case("dropout_lstm", "lstm", {}, 0.4, 0.3),
        case("dropout_lstm_inputs_only", "lstm", {}, 0.4, 0.0),
        case("dropout_gru_reset_after", "gru", {}, 0.4, 0.3),
        case("dropout_gru_reset_before", "gru", {"reset_after": False}, 0.4, 0.3),
        case("dropout_simple_rnn", "simple_rnn", {}, 0.4, 0.3),
    ]
    for d in docs:
        fk.write(d)


if __name__ == "__main__":
    main()
