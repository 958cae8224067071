#!/usr/bin/env python3
"""Generate the training fixtures of the `rnn` crate: optimizers, clipping, learning-rate
schedules and losses, from Keras 3 (TensorFlow backend) and PyTorch.

Writes tests/fixtures/optim/{optimizers,schedules,losses}.json:

- optimizers.json: three float32 tensors (shapes [3, 4], [4], [2, 2, 3]) and five steps of
  fixed gradients; for each optimizer case, the tensors after every step. The hyperparameters
  each library picks by default are recorded from the optimizer objects themselves.
- schedules.json: each schedule's learning rate at chosen steps.
- losses.json: loss values and the gradient of the reduced loss with respect to the
  predictions (tf.GradientTape), with sample weights, reductions, masks over steps, and the
  last valid output of each sequence.

Sanity checks abort the script when the two libraries disagree where they must agree (SGD
with momentum at a constant learning rate), so a fixture never records a misunderstanding.

Run:  /tmp/venv/bin/python tools/fixtures_optim.py
"""
import os

os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ["CUDA_VISIBLE_DEVICES"] = ""
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import json
import pathlib
import subprocess
import sys

import numpy as np

# TensorFlow and PyTorch each carry an LLVM; run in one process they abort. The PyTorch
# cases run in a child process (`fixtures_optim.py torch`), which never imports TensorFlow.
if sys.argv[1:] == ["torch"]:
    import torch
else:
    import keras
    import tensorflow as tf

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "optim"

SHAPES = [("kernel", (3, 4)), ("bias", (4,)), ("blocks", (2, 2, 3))]
STEPS = 5
# Gradient scales per step: some steps exceed every clipping threshold below, some none.
SCALES = [0.5, 2.0, 1.0, 3.0, 0.2]


def f32(a):
    return np.asarray(a, dtype=np.float32)


def scalar(x):
    """A float32 value as the shortest decimal that reads back to the same float32."""
    return float(str(np.float32(x))) if isinstance(x, np.float32) else float(x)


def tensor(a):
    a = np.asarray(a)
    return {"shape": list(a.shape), "data": [scalar(x) for x in a.reshape(-1)]}


# --------------------------------------------------------------------------- optimizers


def initial_and_grads():
    rng = np.random.default_rng(20240611)
    init = [f32(rng.normal(size=s)) for _, s in SHAPES]
    grads = [[f32(rng.normal(size=s) * scale) for _, s in SHAPES] for scale in SCALES]
    # The bias's gradients are tiny, their second moments near ε: where ε sits (Keras's ε̂
    # on √v, PyTorch's ε on the corrected √v, RMSprop's inside or outside the root) shows.
    for step in grads:
        step[1] *= np.float32(1e-6)
    return init, grads


def run_keras(opt, init, grads):
    variables = [keras.Variable(w) for w in init]
    trace = []
    for step in grads:
        opt.apply_gradients(zip([tf.constant(g) for g in step], variables))
        trace.append([v.numpy() for v in variables])
    return trace


def run_torch(make_opt, init, grads, global_clipnorm=None):
    params = [torch.nn.Parameter(torch.tensor(w)) for w in init]
    opt = make_opt(params)
    trace = []
    for step in grads:
        for p, g in zip(params, step):
            p.grad = torch.tensor(g)
        if global_clipnorm is not None:
            torch.nn.utils.clip_grad_norm_(params, global_clipnorm)
        opt.step()
        trace.append([p.detach().numpy().copy() for p in params])
    return trace


def torch_cases(init, grads):
    """The PyTorch cases and defaults, run in the child process."""
    T = torch.optim
    cases = {
        "sgd_momentum_torch": run_torch(
            lambda p: T.SGD(p, lr=0.1, momentum=0.9), init, grads
        ),
        "sgd_nesterov_torch": run_torch(
            lambda p: T.SGD(p, lr=0.1, momentum=0.9, nesterov=True), init, grads
        ),
        "adam_torch": run_torch(lambda p: T.Adam(p, lr=0.01, foreach=False), init, grads),
        "adamw_torch": run_torch(
            lambda p: T.AdamW(p, lr=0.01, weight_decay=0.1, foreach=False), init, grads
        ),
        "rmsprop_torch": run_torch(lambda p: T.RMSprop(p, lr=0.01, foreach=False), init, grads),
        "global_clipnorm_torch": run_torch(
            lambda p: T.SGD(p, lr=0.1, momentum=0.9), init, grads, global_clipnorm=2.0
        ),
    }
    p = [torch.nn.Parameter(torch.zeros(1))]
    adam_t = torch.optim.Adam(p).defaults
    adamw_t = torch.optim.AdamW(p).defaults
    rms_t = torch.optim.RMSprop(p).defaults
    defaults = {
        "adam_torch": {
            "beta_1": adam_t["betas"][0],
            "beta_2": adam_t["betas"][1],
            "epsilon": adam_t["eps"],
        },
        "adamw_torch": {
            "beta_1": adamw_t["betas"][0],
            "beta_2": adamw_t["betas"][1],
            "epsilon": adamw_t["eps"],
            "weight_decay": adamw_t["weight_decay"],
        },
        "rmsprop_torch": {"rho": rms_t["alpha"], "epsilon": rms_t["eps"]},
    }
    return {
        "cases": {n: [[t.tolist() for t in step] for step in tr] for n, tr in cases.items()},
        "defaults": defaults,
    }


def optimizer_cases(init, grads, torch_out):
    K = keras.optimizers
    exp = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5)
    cases = {
        "sgd_momentum_keras": run_keras(K.SGD(0.1, momentum=0.9), init, grads),
        "sgd_nesterov_keras": run_keras(K.SGD(0.1, momentum=0.9, nesterov=True), init, grads),
        # Keras's momentum holds -lr·velocity: with a decaying learning rate it departs from
        # PyTorch's.
        "sgd_momentum_keras_exponential_decay": run_keras(K.SGD(exp, momentum=0.9), init, grads),
        "adam_keras": run_keras(K.Adam(0.01), init, grads),
        "adamw_keras": run_keras(K.AdamW(0.01, weight_decay=0.1), init, grads),
        "rmsprop_keras": run_keras(K.RMSprop(0.01), init, grads),
        "clipnorm_keras": run_keras(K.SGD(0.1, momentum=0.9, clipnorm=1.0), init, grads),
        "clipvalue_keras": run_keras(K.SGD(0.1, momentum=0.9, clipvalue=0.5), init, grads),
        "global_clipnorm_keras": run_keras(
            K.SGD(0.1, momentum=0.9, global_clipnorm=2.0), init, grads
        ),
    }
    for name, trace in torch_out["cases"].items():
        cases[name] = [[f32(t) for t in step] for step in trace]
    # Where the libraries must agree, they do.
    for a, b in zip(cases["sgd_momentum_keras"], cases["sgd_momentum_torch"]):
        for x, y in zip(a, b):
            assert np.allclose(x, y, rtol=1e-5, atol=1e-6), "SGD momentum: Keras ≠ PyTorch"
    # The ε conventions differ visibly on the bias.
    for a, b in [("adam_keras", "adam_torch"), ("rmsprop_keras", "rmsprop_torch")]:
        assert not np.allclose(cases[a][-1][1], cases[b][-1][1], rtol=1e-4), (a, b)
    # And clipping changed something (every mode is exercised).
    for name in ["clipnorm_keras", "clipvalue_keras", "global_clipnorm_keras"]:
        assert not np.allclose(cases[name][-1][0], cases["sgd_momentum_keras"][-1][0]), name
    return {
        name: [[tensor(t) for t in step] for step in trace] for name, trace in cases.items()
    }


def defaults(torch_out):
    """The hyperparameters each library chooses when none is given, read from its objects."""
    K = keras.optimizers
    adam_k, adamw_k, rms_k = K.Adam(), K.AdamW(), K.RMSprop()
    return {
        "adam_keras": {
            "beta_1": adam_k.beta_1,
            "beta_2": adam_k.beta_2,
            "epsilon": adam_k.epsilon,
        },
        "adamw_keras": {
            "beta_1": adamw_k.beta_1,
            "beta_2": adamw_k.beta_2,
            "epsilon": adamw_k.epsilon,
            "weight_decay": adamw_k.weight_decay,
        },
        "rmsprop_keras": {"rho": rms_k.rho, "epsilon": rms_k.epsilon},
        **torch_out["defaults"],
    }


# --------------------------------------------------------------------------- schedules

SCHEDULE_STEPS = [0, 1, 2, 5, 9, 10, 11, 25, 49, 50, 51, 99, 100, 109, 110, 111, 1000]


def schedule_cases():
    S = keras.optimizers.schedules
    schedules = {
        "exponential": (
            S.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5),
            {"initial": 0.1, "decay_steps": 10, "decay_rate": 0.5, "staircase": False},
        ),
        "exponential_staircase": (
            S.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5, staircase=True),
            {"initial": 0.1, "decay_steps": 10, "decay_rate": 0.5, "staircase": True},
        ),
        "piecewise": (
            S.PiecewiseConstantDecay([10, 50], [0.1, 0.05, 0.01]),
            {"boundaries": [10, 50], "values": [0.1, 0.05, 0.01]},
        ),
        "cosine": (
            S.CosineDecay(0.1, decay_steps=100, alpha=0.1),
            {"initial": 0.1, "decay_steps": 100, "alpha": 0.1},
        ),
        "cosine_warmup": (
            S.CosineDecay(0.01, decay_steps=100, alpha=0.1, warmup_target=0.1, warmup_steps=10),
            {
                "initial": 0.01,
                "decay_steps": 100,
                "alpha": 0.1,
                "warmup_target": 0.1,
                "warmup_steps": 10,
            },
        ),
    }
    return {
        name: {
            "config": config,
            "steps": SCHEDULE_STEPS,
            "values": [float(schedule(step)) for step in SCHEDULE_STEPS],
        }
        for name, (schedule, config) in schedules.items()
    }


# --------------------------------------------------------------------------- losses

B, N, T = 4, 3, 5


def keras_loss(name, from_logits, reduction):
    L = keras.losses
    if name == "mse":
        return L.MeanSquaredError(reduction=reduction)
    cls = {
        "categorical_crossentropy": L.CategoricalCrossentropy,
        "sparse_categorical_crossentropy": L.SparseCategoricalCrossentropy,
        "binary_crossentropy": L.BinaryCrossentropy,
    }[name]
    return cls(from_logits=from_logits, reduction=reduction)


def loss_and_grad(loss, y_true, y_pred, sample_weight=None, mask=None):
    pred = tf.Variable(y_pred)
    with tf.GradientTape() as tape:
        p = tf.identity(pred)
        if mask is not None:
            keras.src.backend.set_keras_mask(p, tf.constant(mask))
        value = loss(y_true, p, sample_weight=sample_weight)
    return float(value), tape.gradient(value, pred).numpy()


def loss_inputs(rng, name, from_logits, shape):
    """Targets and predictions of `shape` + [N], with values that reach the clipping."""
    lead = shape
    if name == "sparse_categorical_crossentropy":
        y_true = rng.integers(0, N, size=lead)
    elif name == "categorical_crossentropy":
        y_true = np.eye(N)[rng.integers(0, N, size=lead)]
        # A soft label (summing to one) in the first row.
        y_true.reshape(-1, N)[0] = [0.2, 0.5, 0.3]
    elif name == "binary_crossentropy":
        y_true = rng.integers(0, 2, size=lead + (N,)).astype(float)
        y_true.reshape(-1, N)[0] = [0.25, 1.0, 0.0]
    else:
        y_true = rng.normal(size=lead + (N,))
    if from_logits or name == "mse":
        y_pred = rng.normal(size=lead + (N,)) * 2.0
    else:
        y_pred = rng.uniform(0.05, 0.95, size=lead + (N,))
        flat = y_pred.reshape(-1, N)
        if name == "binary_crossentropy":
            flat[1] = [0.0, 1.0, 0.5]  # clipped to [ε, 1 − ε]: no gradient through 0 and 1
        else:
            flat[1] = [0.0, 0.7, 0.6]  # not normalised, and a zero the clipping lifts
            flat[2:] /= flat[2:].sum(axis=-1, keepdims=True)
    return f32(y_true) if name != "sparse_categorical_crossentropy" else y_true, f32(y_pred)


def loss_cases():
    rng = np.random.default_rng(31)
    cases = []
    kinds = [
        ("mse", False),
        ("categorical_crossentropy", True),
        ("categorical_crossentropy", False),
        ("sparse_categorical_crossentropy", True),
        ("sparse_categorical_crossentropy", False),
        ("binary_crossentropy", True),
        ("binary_crossentropy", False),
    ]
    weights = f32([0.5, 2.0, 0.0, 1.5])
    for name, from_logits in kinds:
        y_true, y_pred = loss_inputs(rng, name, from_logits, (B,))
        for reduction in ["sum_over_batch_size", "sum", "mean_with_sample_weight"]:
            for sw in [None, weights]:
                loss = keras_loss(name, from_logits, reduction)
                value, grad = loss_and_grad(loss, y_true, y_pred, sample_weight=sw)
                cases.append(
                    {
                        "loss": name,
                        "from_logits": from_logits,
                        "reduction": reduction,
                        "over": "samples",
                        "y_true": tensor(y_true),
                        "y_pred": tensor(y_pred),
                        "sample_weight": None if sw is None else tensor(sw),
                        "mask": None,
                        "value": scalar(np.float32(value)),
                        "grad": tensor(grad),
                    }
                )
        # Every step's output, with and without a mask.
        y_true, y_pred = loss_inputs(rng, name, from_logits, (B, T))
        mask = np.ones((B, T), dtype=bool)
        mask[0, 3:] = False
        mask[1, 1:] = False
        mask[3, 2:] = False
        for reduction in ["sum_over_batch_size", "sum", "mean_with_sample_weight"]:
            for m in [None, mask]:
                for sw in [None, weights]:
                    loss = keras_loss(name, from_logits, reduction)
                    # One weight per sequence, shaped [B, 1] as Keras broadcasts it over
                    # the steps (a [B] vector would be broadcast over the last axis).
                    sw_steps = None if sw is None else sw[:, None]
                    value, grad = loss_and_grad(
                        loss, y_true, y_pred, sample_weight=sw_steps, mask=m
                    )
                    cases.append(
                        {
                            "loss": name,
                            "from_logits": from_logits,
                            "reduction": reduction,
                            "over": "steps",
                            "y_true": tensor(y_true),
                            "y_pred": tensor(y_pred),
                            "sample_weight": None if sw is None else tensor(sw),
                            "mask": None if m is None else tensor(m.astype(float)),
                            "value": scalar(np.float32(value)),
                            "grad": tensor(grad),
                        }
                    )
        # The last valid output of each sequence, its lengths those of the mask above.
        lengths = mask.sum(axis=1)
        y_last, _ = loss_inputs(rng, name, from_logits, (B,))
        loss = keras_loss(name, from_logits, "sum_over_batch_size")
        pred = tf.Variable(y_pred)
        with tf.GradientTape() as tape:
            last = tf.gather_nd(pred, [[b, int(lengths[b]) - 1] for b in range(B)])
            value = loss(y_last, last, sample_weight=weights)
        cases.append(
            {
                "loss": name,
                "from_logits": from_logits,
                "reduction": "sum_over_batch_size",
                "over": "last",
                "y_true": tensor(y_last),
                "y_pred": tensor(y_pred),
                "sample_weight": tensor(weights),
                "lengths": [int(x) for x in lengths],
                "mask": None,
                "value": scalar(np.float32(value)),
                "grad": tensor(tape.gradient(value, pred).numpy()),
            }
        )
    return cases


def main():
    init, grads = initial_and_grads()
    if sys.argv[1:] == ["torch"]:
        json.dump(torch_cases(init, grads), sys.stdout)
        return
    child = subprocess.run(
        [sys.executable, __file__, "torch"], check=True, capture_output=True, text=True
    )
    torch_out = json.loads(child.stdout)
    OUT.mkdir(parents=True, exist_ok=True)
    optimizers = {
        "tensors": [{"name": n, "shape": list(s)} for n, s in SHAPES],
        "initial": [tensor(w) for w in init],
        "grads": [[tensor(g) for g in step] for step in grads],
        "defaults": defaults(torch_out),
        "cases": optimizer_cases(init, grads, torch_out),
    }
    files = {
        "optimizers.json": optimizers,
        "schedules.json": schedule_cases(),
        "losses.json": loss_cases(),
    }
    for name, content in files.items():
        (OUT / name).write_text(json.dumps(content, separators=(",", ":")) + "\n")
        print("wrote", OUT / name)


if __name__ == "__main__":
    main()
