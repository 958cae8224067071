#!/usr/bin/env python3
"""Keras 3's initialisers, summarised: the fixture of tests/initializers.rs.

For each initialiser (with arguments) and shape, Keras draws one tensor and this script
records its sample moments (mean, std, min, max) and, for `orthogonal`, the largest
deviation of W·Wᵀ (wide) or Wᵀ·W (tall) from gain²·I. The Rust test draws the same
initialiser over the same shape from its own generator and compares, with tolerances
derived from the sample size (see the test). Only these summaries are committed, so the
fixture stays small whatever the shapes.

Keras's LSTM layer is also built with non-default initialisers, to record the shapes it
passes them (fan conventions of the kernel [I, 4H] and the recurrent kernel [H, 4H]), and
each recurrent layer with a fan-based bias initialiser, to record the parts its bias is drawn
in: an LSTM with unit_forget_bias draws [H], ones [H], [2H], each part with its own fans; a
GRU draws its [2, 3H] (reset_after) or [3H] bias whole, a SimpleRNN its [H].

Run:  /tmp/venv/bin/python tools/fixtures_init.py
"""
import os

os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ["CUDA_VISIBLE_DEVICES"] = ""
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import json
import pathlib

import numpy as np
import keras

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "init" / "keras_initializers.json"

LARGE = [256, 512]  # 131,072 draws: moments within about 1% (see the test)

# (Keras class name, config, shape)
CASES = [
    ("Zeros", {}, LARGE),
    ("Ones", {}, LARGE),
    ("Constant", {"value": 0.7}, LARGE),
    ("RandomUniform", {"minval": -1.0, "maxval": 3.0}, LARGE),
    ("RandomUniform", {}, LARGE),
    ("RandomNormal", {"mean": 1.0, "stddev": 0.5}, LARGE),
    ("RandomNormal", {}, LARGE),
    ("TruncatedNormal", {"mean": 0.5, "stddev": 2.0}, LARGE),
    ("TruncatedNormal", {}, LARGE),
    ("GlorotUniform", {}, LARGE),
    ("GlorotNormal", {}, LARGE),
    ("HeUniform", {}, LARGE),
    ("HeNormal", {}, LARGE),
    ("LecunUniform", {}, LARGE),
    ("LecunNormal", {}, LARGE),
    ("VarianceScaling", {"scale": 0.5, "mode": "fan_out", "distribution": "untruncated_normal"}, LARGE),
    ("VarianceScaling", {"scale": 3.0, "mode": "fan_avg", "distribution": "uniform"}, LARGE),
    ("Identity", {"gain": 3.0}, [64, 96]),
    # Fans of a bias [n]: fan_in = fan_out = n.
    ("GlorotUniform", {}, [4096]),
    ("HeNormal", {}, [4096]),
    # Orthogonal: square, wide (an LSTM's recurrent kernel [H, 4H]) and tall, with gain.
    ("Orthogonal", {}, [128, 128]),
    ("Orthogonal", {"gain": 2.5}, [128, 128]),
    ("Orthogonal", {}, [64, 256]),
    ("Orthogonal", {"gain": 0.5}, [64, 256]),
    ("Orthogonal", {"gain": 2.0}, [256, 32]),
]


def summary(w):
    w = np.asarray(w, dtype=np.float64)
    return {
        "n": int(w.size),
        "mean": float(w.mean()),
        "std": float(w.std()),
        "min": float(w.min()),
        "max": float(w.max()),
    }


def orthogonality(w, gain):
    w = np.asarray(w, dtype=np.float64)
    gram = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
    return float(np.abs(gram - gain**2 * np.eye(gram.shape[0])).max())


def main():
    cases = []
    for i, (name, config, shape) in enumerate(CASES):
        seeded = name not in ("Zeros", "Ones", "Constant", "Identity")
        seed = {"seed": 1000 + i} if seeded else {}
        init = keras.initializers.get({"class_name": name, "config": {**config, **seed}})
        w = keras.ops.convert_to_numpy(init(shape, dtype="float32"))
        case = {"initializer": name, "config": config, "shape": shape, **summary(w)}
        if name == "Orthogonal":
            case["orthogonality"] = orthogonality(w, config.get("gain", 1.0))
        cases.append(case)

    # An LSTM layer's own kernels, with fan-based initialisers: Keras passes the kernel as
    # [I, 4H] and the recurrent kernel as [H, 4H], so fan_out is 4H for both.
    I, H = 48, 64
    layers = []
    for kernel, recurrent in [("HeUniform", "GlorotUniform"), ("LecunUniform", "VarianceScaling")]:
        recurrent_config = {"mode": "fan_out", "distribution": "uniform"} if recurrent == "VarianceScaling" else {}
        layer = keras.layers.LSTM(
            H,
            kernel_initializer=keras.initializers.get({"class_name": kernel, "config": {"seed": 7}}),
            recurrent_initializer=keras.initializers.get(
                {"class_name": recurrent, "config": {**recurrent_config, "seed": 8}}
            ),
        )
        layer.build((None, None, I))
        k, r, _ = [w.numpy() for w in layer.weights]
        layers.append({
            "layer": "LSTM",
            "inputs": I,
            "units": H,
            "kernel_initializer": kernel,
            "recurrent_initializer": {"class_name": recurrent, "config": recurrent_config},
            "kernel": {"shape": list(k.shape), **summary(k)},
            "recurrent_kernel": {"shape": list(r.shape), **summary(r)},
        })

    OUT.parent.mkdir(parents=True, exist_ok=True)
    doc = {"keras": keras.__version__, "cases": cases, "layers": layers, "biases": biases()}
    OUT.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}: {len(cases)} cases, {len(layers)} layers")


# A bias of BIAS_UNITS units is small, so its parts are summarised over BIAS_LAYERS layers,
# each built with its own seed: 4,096 draws of the LSTM's [H] parts, enough to tell one fan
# from four times it.
BIAS_UNITS, BIAS_LAYERS, BIAS_INPUTS = 64, 64, 3


def biases():
    """Per layer kind and fan-based bias initialiser, the moments of each part of the bias,
    over BIAS_LAYERS layers."""
    kinds = {
        "LSTM": (keras.layers.LSTM, {}, {"input": (0, 1), "forget": (1, 2), "cell_and_output": (2, 4)}),
        "GRU": (keras.layers.GRU, {}, {"whole": (0, 6)}),
        "GRU reset_before": (keras.layers.GRU, {"reset_after": False}, {"whole": (0, 3)}),
        "SimpleRNN": (keras.layers.SimpleRNN, {}, {"whole": (0, 1)}),
    }
    out = []
    for kind, (layer_class, options, parts) in kinds.items():
        for name in ["HeUniform", "LecunNormal"]:
            values = {part: [] for part in parts}
            shape = None
            for k in range(BIAS_LAYERS):
                init = keras.initializers.get({"class_name": name, "config": {"seed": 2000 + k}})
                layer = layer_class(BIAS_UNITS, bias_initializer=init, **options)
                layer.build((None, None, BIAS_INPUTS))
                bias = layer.weights[2].numpy()
                shape = list(bias.shape)
                flat = bias.reshape(-1)
                for part, (start, end) in parts.items():
                    values[part].append(flat[start * BIAS_UNITS:end * BIAS_UNITS])
            out.append({
                "layer": kind,
                "bias_initializer": name,
                "units": BIAS_UNITS,
                "layers": BIAS_LAYERS,
                "shape": shape,
                "parts": {
                    part: {"from": parts[part][0] * BIAS_UNITS, "to": parts[part][1] * BIAS_UNITS,
                           **summary(np.concatenate(v))}
                    for part, v in values.items()
                },
            })
    return out


if __name__ == "__main__":
    main()
