#!/usr/bin/env python3
"""Train the digits LSTM classifier in Keras and export fixtures for the Rust demo.

Input:  data/digits/digits.csv (written by tools/export_digits.py).
Split:  training = first 1437 data rows, test = LAST 360 data rows [1437, 1797).
Input encoding: pixels / 16.0 as float32; image row r (p(8r)..p(8r+7)) is
timestep r, so each sample is 8 timesteps x 8 features.

Model:
  keras.Sequential([keras.Input((8, 8)),
                    keras.layers.LSTM(64),
                    keras.layers.BatchNormalization(),
                    keras.layers.Dense(10, activation="softmax")])

Training: Adam (lr 3e-3, cosine decay), 40 epochs, batch 32, on the 1437
training images plus copies shifted by one pixel up/down/left/right (training
only; the model itself is unchanged). Without the shifts the plain model
plateaus around 93-95% on this test split (92.5-95.8% in the seeds and
learning rates tried); with them it reaches 96.4-98.6% for seeds 1-3.
Seed 1 gives 355/360 = 98.6%.

Outputs:
  tests/fixtures/digits/model.safetensors  float32 weights, Keras names/shapes:
      lstm/kernel [8,256]  lstm/recurrent_kernel [64,256]  lstm/bias [256]
      (columns are the gates in Keras order i, f, c, o; 64 columns each)
      batch_normalization/{gamma,beta,moving_mean,moving_variance} [64]
      dense/kernel [64,10]  dense/bias [10]
      metadata {"bn_epsilon": "0.001"}
  tests/fixtures/digits/expected.json
      {"bn_epsilon", "test_rows": [1437, 1797], "accuracy",
       "predictions": [argmax per test sample],
       "probabilities": [[10 floats] per test sample]}   (from model.predict)

The numpy function `reference_forward` below is the inference spec the Rust
side follows; the script checks it reproduces model.predict within 1e-5.

Usage (from the repo root):
  KERAS_BACKEND=tensorflow CUDA_VISIBLE_DEVICES= TF_CPP_MIN_LOG_LEVEL=3 \
      /tmp/venv/bin/python tools/train_digits.py
  /tmp/venv/bin/python tools/train_digits.py --time-only [--seeds 1 2 3]
      trains once per seed and prints the held-out accuracy and the wall time
      of model.fit; writes nothing (tests/fixtures stay as they are).
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ["CUDA_VISIBLE_DEVICES"] = ""
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402
from safetensors.numpy import save_file  # noqa: E402

SEED = 1
EPOCHS = 40
BATCH_SIZE = 32
LEARNING_RATE = 3e-3  # Adam, cosine-decayed to 0 over the whole run
N_ROWS = 1797
TRAIN_END = 1437  # test set = rows [TRAIN_END, N_ROWS), the last 360
TOLERANCE = 1e-5
MIN_ACCURACY = 0.95

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CSV_PATH = os.path.join(REPO, "data", "digits", "digits.csv")
OUT_DIR = os.path.join(REPO, "tests", "fixtures", "digits")


# --------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------

def load_csv(path):
    """Return (x [N, 8, 8] float32 in [0, 1], y [N] int64)."""
    with open(path, encoding="ascii") as f:
        header = f.readline().strip().split(",")
        assert header == ["label"] + [f"p{i}" for i in range(64)], header
        rows = [[int(v) for v in line.split(",")] for line in f if line.strip()]
    data = np.asarray(rows, dtype=np.int64)
    assert data.shape == (N_ROWS, 65), data.shape
    y = data[:, 0]
    # image row r (pixels p(8r)..p(8r+7)) becomes timestep r
    x = (data[:, 1:].astype(np.float32) / np.float32(16.0)).reshape(-1, 8, 8)
    return x, y


def shift_augment(x, y):
    """Training set plus copies shifted one pixel down/up/right/left (zero fill)."""
    xs, ys = [x], [y]
    for dr, dc in [(1, 0), (-1, 0), (0, 1), (0, -1)]:
        s = np.roll(x, (dr, dc), axis=(1, 2))
        if dr == 1:
            s[:, 0, :] = 0
        if dr == -1:
            s[:, -1, :] = 0
        if dc == 1:
            s[:, :, 0] = 0
        if dc == -1:
            s[:, :, -1] = 0
        xs.append(s)
        ys.append(y)
    return np.concatenate(xs), np.concatenate(ys)


# --------------------------------------------------------------------------
# Reference forward pass (numpy only): the spec for the Rust implementation
# --------------------------------------------------------------------------

def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def reference_forward(w, x, bn_epsilon):
    """Inference of LSTM(64) -> BatchNormalization -> Dense(10, softmax).

    w: dict of the safetensors tensors (Keras names/shapes).
    x: [batch, timesteps=8, features=8].
    Returns probabilities [batch, 10]. Computed in float64.
    """
    x = x.astype(np.float64)
    kernel = w["lstm/kernel"].astype(np.float64)                # [8, 4u]
    recurrent = w["lstm/recurrent_kernel"].astype(np.float64)   # [u, 4u]
    bias = w["lstm/bias"].astype(np.float64)                    # [4u]
    units = recurrent.shape[0]

    batch, timesteps, _ = x.shape
    h = np.zeros((batch, units))  # initial state is zeros
    c = np.zeros((batch, units))
    for t in range(timesteps):
        z = x[:, t, :] @ kernel + h @ recurrent + bias  # [batch, 4u]
        # Keras gate order along the 4u axis: input, forget, cell (candidate), output
        i = sigmoid(z[:, 0 * units:1 * units])  # recurrent_activation = sigmoid
        f = sigmoid(z[:, 1 * units:2 * units])
        g = np.tanh(z[:, 2 * units:3 * units])  # activation = tanh
        o = sigmoid(z[:, 3 * units:4 * units])
        c = f * c + i * g
        h = o * np.tanh(c)
    # return_sequences=False: the LSTM output is the last h

    # BatchNormalization, inference mode (moving statistics)
    mean = w["batch_normalization/moving_mean"].astype(np.float64)
    var = w["batch_normalization/moving_variance"].astype(np.float64)
    gamma = w["batch_normalization/gamma"].astype(np.float64)
    beta = w["batch_normalization/beta"].astype(np.float64)
    y = (h - mean) / np.sqrt(var + bn_epsilon) * gamma + beta

    # Dense + softmax
    logits = y @ w["dense/kernel"].astype(np.float64) + w["dense/bias"].astype(np.float64)
    return softmax(logits)


# --------------------------------------------------------------------------
# Training and export
# --------------------------------------------------------------------------

def f32_json(v):
    """Shortest decimal that round-trips to the same float32."""
    return float(str(np.float32(v)))


def train(seed, x_train, y_train, verbose):
    """The recipe above from scratch; returns the model and the wall time of model.fit."""
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input((8, 8)),
        keras.layers.LSTM(64),
        keras.layers.BatchNormalization(),
        keras.layers.Dense(10, activation="softmax"),
    ])
    x_aug, y_aug = shift_augment(x_train, y_train)
    steps = EPOCHS * -(-len(x_aug) // BATCH_SIZE)
    schedule = keras.optimizers.schedules.CosineDecay(LEARNING_RATE, steps)
    model.compile(loss="sparse_categorical_crossentropy",
                  optimizer=keras.optimizers.Adam(schedule), metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(x_aug, y_aug, epochs=EPOCHS, batch_size=BATCH_SIZE,
              shuffle=True, verbose=verbose)
    return model, time.perf_counter() - start


def time_only(seeds, x_train, y_train, x_test, y_test):
    """Trains once per seed and prints held-out accuracy and training wall time; writes nothing."""
    for seed in seeds:
        model, elapsed = train(seed, x_train, y_train, verbose=0)
        preds = model.predict(x_test, batch_size=BATCH_SIZE, verbose=0).argmax(axis=1)
        correct = int((preds == y_test).sum())
        print(f"seed {seed}: held-out accuracy {correct / len(y_test):.4f} "
              f"({correct}/{len(y_test)}), training wall time {elapsed:.1f} s ({EPOCHS} epochs)",
              flush=True)
    return 0


def main():
    parser = argparse.ArgumentParser(description="Train the digits LSTM in Keras; export fixtures.")
    parser.add_argument("--time-only", action="store_true",
                        help="train per seed, print accuracy and training wall time, write nothing")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3],
                        help="seeds for --time-only (the fixtures always use seed 1)")
    args = parser.parse_args()
    tf.config.experimental.enable_op_determinism()

    x, y = load_csv(CSV_PATH)
    x_train, y_train = x[:TRAIN_END], y[:TRAIN_END]
    x_test, y_test = x[TRAIN_END:], y[TRAIN_END:]
    if args.time_only:
        return time_only(args.seeds, x_train, y_train, x_test, y_test)

    model, elapsed = train(SEED, x_train, y_train, verbose=2)
    print(f"training wall time: {elapsed:.1f} s")

    lstm, bn, dense = model.layers
    assert lstm.activation is keras.activations.tanh
    assert lstm.recurrent_activation is keras.activations.sigmoid
    assert lstm.use_bias and not lstm.return_sequences and not lstm.go_backwards
    assert bn.center and bn.scale and bn.axis in (-1, 1)
    bn_epsilon = float(bn.epsilon)
    assert bn_epsilon == 1e-3, bn_epsilon

    tensors = {
        "lstm/kernel": lstm.cell.kernel,
        "lstm/recurrent_kernel": lstm.cell.recurrent_kernel,
        "lstm/bias": lstm.cell.bias,
        "batch_normalization/gamma": bn.gamma,
        "batch_normalization/beta": bn.beta,
        "batch_normalization/moving_mean": bn.moving_mean,
        "batch_normalization/moving_variance": bn.moving_variance,
        "dense/kernel": dense.kernel,
        "dense/bias": dense.bias,
    }
    tensors = {k: np.ascontiguousarray(keras.ops.convert_to_numpy(v), dtype=np.float32)
               for k, v in tensors.items()}
    shapes = {
        "lstm/kernel": (8, 256), "lstm/recurrent_kernel": (64, 256), "lstm/bias": (256,),
        "batch_normalization/gamma": (64,), "batch_normalization/beta": (64,),
        "batch_normalization/moving_mean": (64,), "batch_normalization/moving_variance": (64,),
        "dense/kernel": (64, 10), "dense/bias": (10,),
    }
    for k, s in shapes.items():
        assert tensors[k].shape == s, (k, tensors[k].shape, s)

    probs = model.predict(x_test, batch_size=BATCH_SIZE, verbose=0).astype(np.float32)
    preds = probs.argmax(axis=1)
    accuracy = float((preds == y_test).mean())
    print(f"test accuracy: {accuracy:.6f} ({int((preds == y_test).sum())}/{len(y_test)})")
    assert accuracy >= MIN_ACCURACY, f"accuracy {accuracy} below {MIN_ACCURACY}; train longer"

    ref = reference_forward(tensors, x_test, bn_epsilon)
    max_diff = float(np.abs(ref - probs.astype(np.float64)).max())
    print(f"numpy reference vs model.predict: max abs diff {max_diff:.3e}")
    assert max_diff <= TOLERANCE, f"reference forward differs by {max_diff}"
    assert np.array_equal(ref.argmax(axis=1), preds), "reference argmax differs"

    os.makedirs(OUT_DIR, exist_ok=True)
    st_path = os.path.join(OUT_DIR, "model.safetensors")
    save_file(tensors, st_path, metadata={"bn_epsilon": repr(bn_epsilon)})

    expected = {
        "bn_epsilon": bn_epsilon,
        "test_rows": [TRAIN_END, N_ROWS],
        "accuracy": accuracy,
        "predictions": [int(p) for p in preds],
        "probabilities": [[f32_json(v) for v in row] for row in probs],
    }
    json_path = os.path.join(OUT_DIR, "expected.json")
    with open(json_path, "w", encoding="ascii", newline="\n") as f:
        f.write("{\n")
        f.write(f'  "bn_epsilon": {json.dumps(expected["bn_epsilon"])},\n')
        f.write(f'  "test_rows": {json.dumps(expected["test_rows"])},\n')
        f.write(f'  "accuracy": {json.dumps(expected["accuracy"])},\n')
        f.write(f'  "predictions": {json.dumps(expected["predictions"])},\n')
        f.write('  "probabilities": [\n')
        f.write(",\n".join("    " + json.dumps(row) for row in expected["probabilities"]))
        f.write("\n  ]\n}\n")
    with open(json_path, encoding="ascii") as f:
        assert json.load(f) == expected

    print(f"wrote {st_path} ({os.path.getsize(st_path)} bytes)")
    print(f"wrote {json_path} ({os.path.getsize(json_path)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
