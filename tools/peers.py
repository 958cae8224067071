#!/usr/bin/env python3
"""Peer benchmark: `rnn` (Rust) vs PyTorch, TensorFlow/Keras 3, RTNeural and candle,
inference, float32.

Usage (run from anywhere; paths are relative to the repository root):

    python tools/peers.py --peers-only
        Measure the peers only; write tools/peers_results.json.

    python tools/peers.py
        Run `cargo run --release --example perf_table -- --json` (the Rust table), measure
        the peers in the same run, print a ratio table, write tools/peers_results.json,
        docs/PERFORMANCE.md and docs/perf_b1.png.

    python tools/peers.py --rust-json FILE      use a saved Rust table instead of cargo
    python tools/peers.py --peers-json FILE     use saved peer results instead of measuring
                                                (e.g. tools/peers_results.json)

Other options: --budget SECONDS (measurement time per config per variant, default 2),
--rounds N (the budget is split into N interleaved rounds, default 6), --configs a,b,c
(also passed to the Rust table), --peers torch,tf,rtneural,candle (a subset of the peers),
--rtneural-dir DIR (an RTNeural checkout, default $RTNEURAL_DIR; without one the RTNeural
column is skipped with a note),
--wait-idle SECONDS (wait up to this long for a quiet machine before each framework, and
up to min(this, 20 s) before each round; default 60; the CPU load seen is recorded under
"conditions" in the results).

Method: every framework is measured in its own subprocess (so one framework's thread pool
cannot steal cycles from the other), on 2 threads. For each configuration the forward pass
of the whole sequence is built, warmed up (this includes TorchScript/XLA compilation), then
timed call by call; the measurement is split into interleaved rounds over all configurations
so that a burst of machine noise does not hit one configuration only, and before each round
the worker waits (bounded) for the other processes on the machine to go quiet. The reported figure
is the median wall time of one full forward divided by (batch * T): ns per sample-step.

RTNeural (batch-1 rows) and candle-nn (batch-1 and batch-64 LSTM/GRU rows) are native
programs of ours, `tools/rtneural/` and `tools/candle_bench/`, built here and fed the
weights, inputs and outputs of `examples/peer_reference.rs`: each checks its outputs against
ours before timing.

Needs torch, tensorflow (>= 2.16, Keras 3) and numpy; matplotlib for the plot; g++ and an
RTNeural checkout for RTNeural (tools/README.md).
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "tools", "peers_results.json")
DOC = os.path.join(ROOT, "docs", "PERFORMANCE.md")
PLOT = os.path.join(ROOT, "docs", "perf_b1.png")
RUST_CMD = ["cargo", "run", "--release", "--example", "perf_table", "--", "--json"]

THREADS = 2

# ----------------------------------------------------------------------------------------
# Configurations. FLOPs per sample-step count only the matrix products, 2 FLOPs per
# multiply-add (biases, activations, gate element-wise work and state additions are not
# counted). The Rust table should use the same convention.
# ----------------------------------------------------------------------------------------

SEED_CUSTOM = dict(I=12, H=10, Z=8, A=15)  # input x, GRU units, z_enc, arbitrary output
SEED_NESTED = dict(I1=32, I2=64, I3=32, U1=10, U2=20, U3=30)


def _lstm(name, B, H, T, I=None):
    I = H if I is None else I
    return dict(name=name, kind="lstm", B=B, I=I, H=H, T=T, flops=2 * 4 * H * (I + H))


def _custom_flops(c):
    I, H, Z, A = c["I"], c["H"], c["Z"], c["A"]
    # Dense(H) on concat[h, z] + GRUCell(H) on x + Dense(A) on x
    return 2 * (H + Z) * H + 2 * 3 * H * (I + H) + 2 * I * A


def _nested_flops(c):
    # x1 @ kernel_1 + einsum('bij,ijkl->bkl', x2, kernel_2_3)
    return 2 * (c["I1"] * c["U1"] + c["I2"] * c["I3"] * c["U2"] * c["U3"])


CONFIGS = [
    _lstm("lstm-b1-h8", 1, 8, 32),
    _lstm("lstm-b1-h16", 1, 16, 32),
    _lstm("lstm-b1-h32", 1, 32, 32),
    _lstm("lstm-b1-h64", 1, 64, 32),
    _lstm("lstm-b1-h128", 1, 128, 32),
    # The same batch-1 LSTMs through `fused::Lstm` (PyTorch's nn.LSTM is a layer too): the
    # peers are measured once, under the `peer` configuration's name.
    *[dict(_lstm(f"lstm-fused-b1-h{h}", 1, h, 32), peer=f"lstm-b1-h{h}")
      for h in (8, 16, 32, 64, 128)],
    dict(name="gru-b1-h32", kind="gru", B=1, I=32, H=32, T=32, flops=2 * 3 * 32 * (32 + 32)),
    dict(name="gru-fused-b1-h32", kind="gru", B=1, I=32, H=32, T=32,
         flops=2 * 3 * 32 * (32 + 32), peer="gru-b1-h32"),
    _lstm("lstm-b64-h128", 64, 128, 50),
    _lstm("lstm-b64-h256", 64, 256, 100),
    # The same batches through `Rnn::run_batch` on the built-in cell, which lowers them onto
    # the batched kernel.
    dict(_lstm("lstm-rnn-b64-h128", 64, 128, 50), peer="lstm-b64-h128"),
    dict(_lstm("lstm-rnn-b64-h256", 64, 256, 100), peer="lstm-b64-h256"),
    dict(name="seed-custom", kind="seed-custom", B=64, I=12, H=10, T=100,
         flops=_custom_flops(SEED_CUSTOM)),
    dict(name="seed-nested", kind="seed-nested", B=64, I="32 / 64x32", H="10 / 20x30", T=50,
         flops=_nested_flops(SEED_NESTED)),
    # Training: one step (forward, backward, Adam) per call; the last output against zeros
    # (mean squared error), or the digits model on its classes. FLOPs: three times the
    # forward's products (the backward runs two per forward product).
    *[dict(name=f"train-{k}-b{B}-h{H}", kind=f"train-{k}", B=B, I=H, H=H, T=T,
           flops=3 * 2 * (4 if k == "lstm" else 3) * H * (2 * H))
      for k, B, H, T in (("lstm", 1, 32, 32), ("lstm", 32, 64, 32), ("lstm", 64, 128, 50),
                         ("gru", 32, 64, 32))],
    dict(name="train-digits-b32", kind="train-digits", B=32, I=8, H=64, T=8,
         flops=3 * 2 * 4 * 64 * (8 + 64)),
    # The seed cells trained through the backward `#[cell]` generates: every output of both
    # kinds (seed-custom), or the final states (seed-nested), against zeros, mean squared
    # error; PyTorch runs the modules of the inference rows, eager and TorchScript.
    dict(name="train-seed-custom-b64", kind="train-seed-custom", B=64, I=12, H=10, T=100,
         flops=3 * _custom_flops(SEED_CUSTOM)),
    dict(name="train-seed-nested-b64", kind="train-seed-nested", B=64, I="32 / 64x32",
         H="10 / 20x30", T=50, flops=3 * _nested_flops(SEED_NESTED)),
]
BY_NAME = {c["name"]: c for c in CONFIGS}
B1_SWEEP = ["lstm-b1-h8", "lstm-b1-h16", "lstm-b1-h32", "lstm-b1-h64", "lstm-b1-h128"]
B1_FUSED = {f"lstm-b1-h{h}": f"lstm-fused-b1-h{h}" for h in (8, 16, 32, 64, 128)}


def peer_name(n):
    """The configuration whose PyTorch/TensorFlow figures `n` is compared with."""
    return BY_NAME[n].get("peer", n)

# DESIGN.md "Performance model" reference figures (µs per sample-step), for comparison.
DESIGN_REF = {
    "torch": {"lstm-b1-h32": 8.2, "lstm-b64-h128": 3.5, "lstm-b64-h256": 10.2},
    "tf": {"lstm-b1-h32": 18.0, "lstm-b64-h128": 5.5, "lstm-b64-h256": 29.0},
}


# ----------------------------------------------------------------------------------------
# Timing
# ----------------------------------------------------------------------------------------

def warm_up(fn, seconds=0.3, min_calls=3):
    t0 = time.perf_counter()
    n = 0
    while n < min_calls or time.perf_counter() - t0 < seconds:
        fn()
        n += 1


def time_round(fn, seconds, min_calls=3, max_calls=100000):
    """Per-call wall times (ns) for about `seconds` of calls."""
    out = []
    t0 = time.perf_counter_ns()
    limit = int(seconds * 1e9)
    while len(out) < min_calls or (time.perf_counter_ns() - t0 < limit and len(out) < max_calls):
        a = time.perf_counter_ns()
        fn()
        out.append(time.perf_counter_ns() - a)
    return out


def cpu_busy(interval=1.0):
    """Fraction of all CPUs busy (not idle/iowait) over `interval` seconds, from /proc/stat."""
    def snap():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return sum(v), v[3] + (v[4] if len(v) > 4 else 0)
    try:
        t0, i0 = snap()
        time.sleep(interval)
        t1, i1 = snap()
    except OSError:
        return None
    return None if t1 == t0 else 1.0 - (i1 - i0) / (t1 - t0)


def wait_idle(max_wait, threshold=0.25, quiet=False, interval=2.0):
    """Wait (up to max_wait s) until the other processes leave the CPUs mostly idle.
    Returns the last busy fraction seen (None if unknown)."""
    t0 = time.time()
    busy = cpu_busy(interval)
    while busy is not None and busy > threshold and time.time() - t0 < max_wait:
        if not quiet:
            print(f"[peers] machine busy ({busy:.0%} of CPUs); waiting ...", file=sys.stderr,
                  flush=True)
        busy = cpu_busy(interval if quiet else 5.0)
    if busy is not None and busy > threshold and not quiet:
        print(f"[peers] warning: still {busy:.0%} busy; numbers will be noisy", file=sys.stderr)
    return busy


ROUND_WAIT = 0.0  # per-round wait for a quiet machine (set from --wait-idle in workers)
ROUND_BUSY = []  # CPU busy fraction seen before each round (recorded in the results)


def measure_all(variants, budget, rounds):
    """variants: list of (key, fn). Warm all up, then `rounds` interleaved timing rounds;
    before each round wait (up to ROUND_WAIT s) for the other processes to go quiet.
    Returns {key: [per-call ns of round 0, of round 1, ...]}."""
    for key, fn in variants:
        warm_up(fn)
    samples = {key: [] for key, _ in variants}
    for _ in range(rounds):
        busy = wait_idle(ROUND_WAIT, quiet=True, interval=1.0) if ROUND_WAIT > 0 else None
        ROUND_BUSY.append(None if busy is None else round(busy, 3))
        for key, fn in variants:
            samples[key].append(time_round(fn, budget / rounds))
    return samples


def summarize(per_round, cfg):
    """Median over all calls (the reported figure), plus quartiles, min and the best
    per-round median (a hint of what a quiet machine gives), all in ns per sample-step."""
    steps = cfg["B"] * cfg["T"]
    s = sorted(x for r in per_round for x in r)
    q = lambda p: s[min(len(s) - 1, int(p * len(s)))]
    med = statistics.median(s)
    best_round = min(statistics.median(r) for r in per_round if r)
    return dict(ns=med / steps, p25=q(0.25) / steps, p75=q(0.75) / steps,
                min=s[0] / steps, best_round_median=best_round / steps, calls=len(s))


# ----------------------------------------------------------------------------------------
# PyTorch worker
# ----------------------------------------------------------------------------------------

def torch_worker(configs, budget, rounds):
    import numpy as np
    import torch
    from torch import nn, Tensor
    from typing import List, Tuple

    torch.set_num_threads(THREADS)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    torch.manual_seed(0)
    notes = []

    class SeedCustom(nn.Module):
        """Seed 000: h' = GRUCell(x, Dense(concat[h, z_enc])); extra output Dense(x)."""

        def __init__(self, I: int, H: int, Z: int, A: int):
            super().__init__()
            self.dense_proj = nn.Linear(H + Z, H)
            self.gru = nn.GRUCell(I, H)
            self.other_output = nn.Linear(I, A)

        def forward(self, x: Tensor, h: Tensor, z: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
            outs: List[Tensor] = []
            others: List[Tensor] = []
            for t in range(x.size(1)):
                xt = x[:, t]
                hs = self.dense_proj(torch.cat([h, z], 1))
                h = self.gru(xt, hs)
                outs.append(h)
                others.append(self.other_output(xt))
            return torch.stack(outs, 1), torch.stack(others, 1), h

    class SeedNested(nn.Module):
        """Seed 001 NestedCell: outputs x1@k1, einsum(x2, k23); states += outputs."""

        def __init__(self, I1: int, I2: int, I3: int, U1: int, U2: int, U3: int):
            super().__init__()
            self.kernel_1 = nn.Parameter(torch.rand(I1, U1) * 0.1 - 0.05)
            self.kernel_2_3 = nn.Parameter(torch.rand(I2, I3, U2, U3) * 0.1 - 0.05)

        def forward(self, x1: Tensor, x2: Tensor, s1: Tensor, s2: Tensor
                    ) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
            o1 = torch.zeros_like(s1)
            o23 = torch.zeros_like(s2)
            for t in range(x1.size(1)):
                o1 = torch.mm(x1[:, t], self.kernel_1)
                o23 = torch.einsum("bij,ijkl->bkl", x2[:, t], self.kernel_2_3)
                s1 = s1 + o1
                s2 = s2 + o23
            return o1, o23, s1, s2

    def seed_training_steps(c):
        """A training step of a seed cell's module, eager and TorchScript: [(label, step)]."""
        B, T = c["B"], c["T"]
        if c["kind"] == "train-seed-custom":
            p = SEED_CUSTOM
            m = SeedCustom(p["I"], p["H"], p["Z"], p["A"])
            args = (torch.randn(B, T, p["I"]), torch.zeros(B, p["H"]), torch.randn(B, p["Z"]))
            loss_of = lambda r: (r[0] ** 2).mean() + (r[1] ** 2).mean()
        else:
            p = SEED_NESTED
            m = SeedNested(**p)
            args = (torch.randn(B, T, p["I1"]), torch.randn(B, T, p["I2"], p["I3"]),
                    torch.zeros(B, p["U1"]), torch.zeros(B, p["U2"], p["U3"]))
            loss_of = lambda r: (r[2] ** 2).mean() + (r[3] ** 2).mean()
        out = []
        for label, module in (("eager", m), ("jit", script(m, c["name"]))):
            if module is None:
                continue
            opt = torch.optim.Adam(module.parameters(), lr=1e-3, eps=1e-7)

            def step(module=module, opt=opt):
                opt.zero_grad(set_to_none=True)
                loss_of(module(*args)).backward()
                opt.step()
            out.append((label, step))
        return out

    def torch_training_step(c):
        """One training step (forward, loss, backward, Adam) on the configuration's batch."""
        B, T, I, H = c["B"], c["T"], c["I"], c["H"]
        x = torch.randn(B, T, I)
        if c["kind"] == "train-digits":
            rnn = nn.LSTM(I, H, batch_first=True)
            head = nn.Sequential(nn.BatchNorm1d(H, momentum=0.01, eps=1e-3), nn.Linear(H, 10))
            params = list(rnn.parameters()) + list(head.parameters())
            labels = torch.arange(B) % 10
            loss_fn = nn.CrossEntropyLoss()
            loss_of = lambda out: loss_fn(head(out[:, -1]), labels)
        else:
            rnn = (nn.LSTM if c["kind"] == "train-lstm" else nn.GRU)(I, H, batch_first=True)
            params = list(rnn.parameters())
            loss_of = lambda out: (out[:, -1] ** 2).mean()
        opt = torch.optim.Adam(params, lr=1e-3, eps=1e-7)

        def step():
            opt.zero_grad(set_to_none=True)
            out, _ = rnn(x)
            loss_of(out).backward()
            opt.step()
        return step

    def script(m, name):
        import warnings
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return torch.jit.script(m)
        except Exception as e:  # noqa: BLE001
            notes.append(f"{name}: torch.jit.script failed ({type(e).__name__}: {e}); eager only")
            return None

    variants = []  # (key, fn, cfg, variant label)
    for c in configs:
        B, T = c["B"], c["T"]
        if c["kind"] in ("lstm", "gru"):
            cls = nn.LSTM if c["kind"] == "lstm" else nn.GRU
            m = cls(c["I"], c["H"], batch_first=True).eval()
            x = torch.randn(B, T, c["I"])
            variants.append((c["name"] + "|fused", (lambda m=m, x=x: m(x)), c, "fused"))
        elif c["kind"].startswith("train-seed-"):
            variants.extend((c["name"] + "|" + label, step, c, label)
                            for label, step in seed_training_steps(c))
        elif c["kind"].startswith("train-"):
            variants.append((c["name"] + "|eager", torch_training_step(c), c, "eager"))
        elif c["kind"] == "seed-custom":
            p = SEED_CUSTOM
            m = SeedCustom(p["I"], p["H"], p["Z"], p["A"]).eval()
            x = torch.randn(B, T, p["I"])
            h = torch.zeros(B, p["H"])
            z = torch.randn(B, p["Z"])
            variants.append((c["name"] + "|eager", (lambda m=m, x=x, h=h, z=z: m(x, h, z)), c,
                             "eager"))
            j = script(m, c["name"])
            if j is not None:
                variants.append((c["name"] + "|jit", (lambda j=j, x=x, h=h, z=z: j(x, h, z)),
                                 c, "jit"))
        elif c["kind"] == "seed-nested":
            p = SEED_NESTED
            m = SeedNested(**p).eval()
            x1 = torch.randn(B, T, p["I1"])
            x2 = torch.randn(B, T, p["I2"], p["I3"])
            s1 = torch.zeros(B, p["U1"])
            s2 = torch.zeros(B, p["U2"], p["U3"])
            variants.append((c["name"] + "|eager",
                             (lambda m=m, a=x1, b=x2, c1=s1, c2=s2: m(a, b, c1, c2)), c,
                             "eager"))
            j = script(m, c["name"])
            if j is not None:
                variants.append((c["name"] + "|jit",
                                 (lambda j=j, a=x1, b=x2, c1=s1, c2=s2: j(a, b, c1, c2)),
                                 c, "jit"))

    inference = [v for v in variants if not v[2]["kind"].startswith("train-")]
    with torch.inference_mode():
        samples = measure_all([(k, f) for k, f, _, _ in inference], budget, rounds)
    training = [v for v in variants if v[2]["kind"].startswith("train-")]
    samples.update(measure_all([(k, f) for k, f, _, _ in training], budget, rounds))

    ns, detail = {}, {}
    for key, _, c, label in variants:
        st = summarize(samples[key], c)
        name = c["name"]
        detail.setdefault(name, {})[label] = st
    for name, d in detail.items():
        best = min(d, key=lambda v: d[v]["ns"])
        ns[name] = d[best]["ns"]
        d["best"] = best
    versions = {"torch": torch.__version__, "numpy": np.__version__}
    try:
        cfg = torch.__config__.show()
        keep = ("Math Kernel Library", "MKL-DNN", "oneDNN", "OpenMP", "CPU capability")
        items = [ln.strip(" -") for ln in cfg.splitlines()
                 if any(k in ln for k in keep) and "Build settings" not in ln]
        versions["torch_build"] = "; ".join(i.split(" (Git Hash")[0] for i in items)[:300]
    except Exception:  # noqa: BLE001
        pass
    return dict(ns=ns, detail=detail, versions=versions, notes=notes,
                threads=torch.get_num_threads(), round_busy=ROUND_BUSY)


# ----------------------------------------------------------------------------------------
# TensorFlow / Keras 3 worker
# ----------------------------------------------------------------------------------------

def tf_worker(configs, budget, rounds):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(THREADS)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import keras
    from keras import ops

    keras.utils.set_random_seed(0)
    notes = []

    class SeedCustomCell(keras.layers.Layer):
        """Seed 000's CustomMultiTimeStepGRUCell, ported to Keras 3.

        Keras 3's RNN has no `constants=` and packs a single per-step output, so z_enc is
        carried as a pass-through state and the two outputs are concatenated ([B, H + A]);
        both adaptations cost nothing measurable next to the step.
        """

        def __init__(self, units, arbitrary_units, latent, **kw):
            super().__init__(**kw)
            self.units, self.latent = units, latent
            self.gru = keras.layers.GRUCell(units)  # reset_after=True (Keras 3 default)
            self.dense_proj = keras.layers.Dense(units)
            self.other_output = keras.layers.Dense(arbitrary_units)
            self.state_size = [units, latent]
            self.output_size = units + arbitrary_units

        def build(self, input_shape):
            self.gru.build(input_shape)
            self.dense_proj.build((None, self.units + self.latent))
            self.other_output.build(input_shape)

        def call(self, x, states, training=False):
            h, z = states
            hs = self.dense_proj(ops.concatenate([h, z], -1))
            out, _ = self.gru(x, hs, training=training)
            a = self.other_output(x)
            return ops.concatenate([out, a], -1), [out, z]

    class NestedCell(keras.layers.Layer):
        """Seed 001's NestedCell, ported to Keras 3.

        Keras 3's RNN takes one input tensor and packs a single per-step output, so the
        inputs arrive as concat[x1, flatten(x2)] ([B, T, 32 + 64*32]) and are split in the
        step, and the output is concat[o1, flatten(o23)]. The states stay nested.
        """

        def __init__(self, I1, I2, I3, U1, U2, U3, **kw):
            super().__init__(**kw)
            self.i = (I1, I2, I3)
            self.u = (U1, U2, U3)
            self.state_size = [U1, (U2, U3)]
            self.output_size = U1 + U2 * U3

        def build(self, input_shape):
            I1, I2, I3 = self.i
            U1, U2, U3 = self.u
            self.kernel_1 = self.add_weight(shape=(I1, U1), initializer="uniform",
                                            name="kernel_1")
            self.kernel_2_3 = self.add_weight(shape=(I2, I3, U2, U3), initializer="uniform",
                                              name="kernel_2_3")

        def call(self, inputs, states, training=False):
            I1, I2, I3 = self.i
            U1, U2, U3 = self.u
            x1 = inputs[:, :I1]
            x2 = ops.reshape(inputs[:, I1:], (-1, I2, I3))
            s1, s2 = states
            o1 = ops.matmul(x1, self.kernel_1)
            o23 = ops.einsum("bij,ijkl->bkl", x2, self.kernel_2_3)
            out = ops.concatenate([o1, ops.reshape(o23, (-1, U2 * U3))], -1)
            return out, [s1 + o1, s2 + o23]

    def compile_fn(name, layer, args):
        """tf.function(jit_compile=True), falling back to plain tf.function."""
        def body(*a):
            return layer(a[0], initial_state=list(a[1:]) or None, training=False)

        def sync(res):
            # Fetch the smallest output to be sure the computation finished.
            flat = tf.nest.flatten(res)
            small = min(flat, key=lambda t: int(np.prod(t.shape)))
            return small.numpy()

        for xla in (True, False):
            f = tf.function(body, jit_compile=xla)
            try:
                sync(f(*args))
                return (lambda f=f: sync(f(*args))), ("xla" if xla else "graph")
            except Exception as e:  # noqa: BLE001
                if xla:
                    notes.append(f"{name}: XLA failed ({type(e).__name__}: "
                                 f"{str(e).splitlines()[0][:200]}); plain tf.function")
                else:
                    raise

    variants = []
    for c in configs:
        if c["kind"].startswith("train-"):
            continue  # training is compared with PyTorch only
        B, T = c["B"], c["T"]
        rnd = lambda *s: tf.constant(np.random.standard_normal(s).astype(np.float32))
        if c["kind"] in ("lstm", "gru"):
            cls = keras.layers.LSTM if c["kind"] == "lstm" else keras.layers.GRU
            layer = cls(c["H"], return_sequences=True, return_state=True)
            args = (rnd(B, T, c["I"]),)
        elif c["kind"] == "seed-custom":
            p = SEED_CUSTOM
            layer = keras.layers.RNN(SeedCustomCell(p["H"], p["A"], p["Z"]),
                                     return_sequences=True, return_state=True)
            args = (rnd(B, T, p["I"]), tf.zeros((B, p["H"])), rnd(B, p["Z"]))
        elif c["kind"] == "seed-nested":
            p = SEED_NESTED
            layer = keras.layers.RNN(NestedCell(**p))  # as in the seed: last output only
            x = tf.concat([rnd(B, T, p["I1"]),
                           tf.reshape(rnd(B, T, p["I2"], p["I3"]), (B, T, -1))], -1)
            args = (x, tf.zeros((B, p["U1"])), tf.zeros((B, p["U2"], p["U3"])))
        fn, mode = compile_fn(c["name"], layer, args)
        variants.append((c["name"], fn, c, mode))

    samples = measure_all([(k, f) for k, f, _, _ in variants], budget, rounds)
    ns, detail = {}, {}
    for key, _, c, mode in variants:
        st = summarize(samples[key], c)
        ns[key] = st["ns"]
        detail[key] = {mode: st, "best": mode}
    versions = {"tensorflow": tf.__version__, "keras": keras.__version__,
                "numpy": np.__version__}
    return dict(ns=ns, detail=detail, versions=versions, notes=notes, round_busy=ROUND_BUSY)


# ----------------------------------------------------------------------------------------
# RTNeural and candle: native programs of our own (tools/rtneural, tools/candle_bench), fed
# the reference cases of `examples/peer_reference.rs` (our weights in Keras's layout, inputs
# and our outputs): each checks its outputs against ours before timing and fails on a
# mismatch. Each prints one JSON line per configuration: median and best ns per sample-step.
# ----------------------------------------------------------------------------------------

REFS_DIR = os.path.join(ROOT, "target", "peer_reference")
RTNEURAL_OUT = os.path.join(ROOT, "target", "rtneural")
RTNEURAL_BUILD = os.path.join(ROOT, "tools", "rtneural", "build.sh")
# The builds of tools/rtneural/build.sh: each backend at -march=native, and Eigen and xsimd
# without AVX-512.
RTNEURAL_BUILDS = ("eigen", "xsimd", "stl", "eigen_avx2", "xsimd_avx2")
CANDLE_DIR = os.path.join(ROOT, "tools", "candle_bench")
# The configurations each covers (RTNeural sizes its layers at compile time and runs one
# sequence at a time: batch 1 only).
RTNEURAL_CONFIGS = ["lstm-b1-h8", "lstm-b1-h16", "lstm-b1-h32", "lstm-b1-h64", "lstm-b1-h128",
                    "gru-b1-h32"]
CANDLE_CONFIGS = RTNEURAL_CONFIGS + ["lstm-b64-h128", "lstm-b64-h256"]
NATIVE_CONFIGS = {"rtneural": RTNEURAL_CONFIGS, "candle": CANDLE_CONFIGS}


def write_reference_cases(names):
    """Writes REFS_DIR/NAME.safetensors for `names`; False (and a message) if it fails."""
    cmd = ["cargo", "run", "--release", "--quiet", "--example", "peer_reference", "--",
           "--out", REFS_DIR, "--configs", ",".join(names)]
    p = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        print("[peers] the reference cases failed:\n" + "\n".join(p.stderr.splitlines()[-15:]),
              file=sys.stderr)
    return p.returncode == 0


def run_json_lines(cmd, env=None):
    """Runs a native harness; its JSON lines, or None (and its error) if it fails."""
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    if p.returncode != 0:
        print(f"[peers] {os.path.basename(cmd[0])} failed (exit {p.returncode}):\n"
              + "\n".join(p.stderr.splitlines()[-15:]), file=sys.stderr)
        return None
    return [json.loads(ln) for ln in p.stdout.splitlines() if ln.startswith("{")]


def native_stats(line):
    return dict(ns=line["ns_per_step"], min=line["best_ns_per_step"], calls=line["calls"],
                max_abs_diff=line["max_abs_diff"])


def git_head(path):
    p = subprocess.run(["git", "-C", path, "rev-parse", "--short=12", "HEAD"],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return p.stdout.strip() if p.returncode == 0 else "unknown commit"


def build_native_peers(frameworks, names, rtneural_dir):
    """Writes the reference cases and builds the native harnesses before anything is timed
    (a build would disturb the timing). Returns {peer: why} for the peers that cannot run."""
    native = [fw for fw in frameworks
              if fw in NATIVE_CONFIGS and any(n in NATIVE_CONFIGS[fw] for n in names)]
    if not native:
        return {}
    if not write_reference_cases([n for n in names if n in CANDLE_CONFIGS]):
        return {fw: "the reference cases failed" for fw in native}
    skip = {}
    if "rtneural" in native:
        if not rtneural_dir:
            skip["rtneural"] = ("skipped: no RTNeural checkout given (RTNEURAL_DIR or "
                                "--rtneural-dir; tools/README.md has the recipe)")
        elif subprocess.run([RTNEURAL_BUILD, rtneural_dir, RTNEURAL_OUT]).returncode != 0:
            skip["rtneural"] = "no build compiled"
    if "candle" in native:
        build = ["nice", "cargo", "build", "--release", "--quiet"]
        if subprocess.run(build, cwd=CANDLE_DIR).returncode != 0:
            skip["candle"] = "candle_bench did not build"
    return skip


def measure_rtneural(names, budget, rtneural_dir):
    """RTNeural's ModelT<LSTMLayerT>/<GRULayerT>, one binary per build (backend and
    instruction set); the fastest build per configuration is its figure."""
    names = [n for n in names if n in RTNEURAL_CONFIGS]
    notes, detail = [], {}
    for build in RTNEURAL_BUILDS:
        exe = os.path.join(RTNEURAL_OUT, f"rtneural_bench_{build}")
        if not os.path.exists(exe):
            notes.append(f"the {build} build failed to compile")
            continue
        lines = run_json_lines([exe, "--refs", REFS_DIR, "--configs", ",".join(names),
                                "--seconds", str(budget)])
        if lines is None:
            notes.append(f"the {build} build failed to run")
            continue
        for ln in lines:
            detail.setdefault(ln["name"], {})[build] = native_stats(ln)
    ns = {}
    for name, d in detail.items():
        d["best"] = min(d, key=lambda b: d[b]["ns"])
        ns[name] = d[d["best"]]["ns"]
    sub = os.path.join(rtneural_dir, "modules", "xsimd")
    versions = {"RTNeural": f"{git_head(rtneural_dir)} (xsimd {git_head(sub)}; "
                            "g++ -O3 -march=native)"}
    return dict(ns=ns, detail=detail, versions=versions, notes=notes)


def candle_version():
    """candle-nn's version in tools/candle_bench/Cargo.lock."""
    try:
        with open(os.path.join(CANDLE_DIR, "Cargo.lock")) as f:
            lock = f.read()
    except OSError:
        return "?"
    after = lock.split('name = "candle-nn"\nversion = "', 1)
    return after[1].split('"', 1)[0] if len(after) == 2 else "?"


def measure_candle(names, budget):
    """candle-nn's LSTM/GRU (`RNN::seq`) on the CPU, with THREADS rayon threads."""
    names = [n for n in names if n in CANDLE_CONFIGS]
    exe = os.path.join(CANDLE_DIR, "target", "release", "candle_bench")
    env = dict(os.environ, RAYON_NUM_THREADS=str(THREADS))
    lines = run_json_lines([exe, "--refs", REFS_DIR, "--configs", ",".join(names),
                            "--seconds", str(budget)], env=env)
    if lines is None:
        return dict(ns={}, detail={}, versions={}, notes=["candle_bench failed"])
    detail = {ln["name"]: {"seq": native_stats(ln), "best": "seq"} for ln in lines}
    ns = {name: d["seq"]["ns"] for name, d in detail.items()}
    return dict(ns=ns, detail=detail, versions={"candle-nn": candle_version()}, notes=[])


# ----------------------------------------------------------------------------------------
# Orchestration
# ----------------------------------------------------------------------------------------

def run_worker(fw, names, budget, rounds, max_wait):
    """Run one framework in a fresh subprocess; returns its result dict or None."""
    with tempfile.NamedTemporaryFile("r", suffix=".json", delete=False) as tmp:
        out = tmp.name
    cmd = [sys.executable, os.path.abspath(__file__), "--_worker", fw, "--_out", out,
           "--budget", str(budget), "--rounds", str(rounds), "--configs", ",".join(names),
           "--wait-idle", str(max_wait)]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", KERAS_BACKEND="tensorflow",
               PYTHONWARNINGS="ignore")
    print(f"[peers] measuring {fw} ...", file=sys.stderr, flush=True)
    t0 = time.time()
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        if p.returncode != 0:
            print(f"[peers] {fw} worker failed (exit {p.returncode}):\n"
                  + "\n".join(p.stderr.splitlines()[-25:]), file=sys.stderr)
            return None
        with open(out) as f:
            res = json.load(f)
    finally:
        os.unlink(out)
    print(f"[peers] {fw} done in {time.time() - t0:.0f} s", file=sys.stderr, flush=True)
    for n in res.get("notes", []):
        print(f"[peers] note ({fw}): {n}", file=sys.stderr)
    return res


def machine_info():
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            for ln in f:
                if ln.startswith("model name"):
                    cpu = ln.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        nproc = len(os.sched_getaffinity(0))
    except AttributeError:
        nproc = os.cpu_count()
    mem = None
    try:
        with open("/proc/meminfo") as f:
            for ln in f:
                if ln.startswith("MemTotal"):
                    mem = round(int(ln.split()[1]) / 1024 / 1024, 1)
                    break
    except OSError:
        pass
    return {"cpu": cpu, "nproc": nproc, "mem_gb": mem, "os": platform.platform(),
            "python": platform.python_version()}


def run_rust(rust_json, names=None, seconds=None):
    """Returns (list of rows or None, description of the source). `names` (a subset of the
    configurations) and `seconds` (per configuration) go to perf_table when given."""
    if rust_json:
        with open(rust_json) as f:
            return json.load(f), f"saved table {rust_json}"
    cmd = list(RUST_CMD)
    if names:
        cmd += ["--configs", ",".join(names)]
    if seconds:
        cmd += ["--seconds", str(seconds)]
    print("[peers] running: " + " ".join(cmd), file=sys.stderr, flush=True)
    try:
        p = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=3600)
    except (OSError, subprocess.TimeoutExpired) as e:
        print(f"[peers] Rust table unavailable ({e}); peers only", file=sys.stderr)
        return None, None
    if p.returncode != 0:
        print(f"[peers] Rust table failed (exit {p.returncode}); peers only:\n"
              + "\n".join(p.stderr.splitlines()[-15:]), file=sys.stderr)
        return None, None
    rows = None
    try:
        rows = json.loads(p.stdout)
    except ValueError:
        for ln in reversed(p.stdout.splitlines()):
            if ln.strip().startswith("["):
                try:
                    rows = json.loads(ln)
                    break
                except ValueError:
                    pass
    if not isinstance(rows, list):
        print("[peers] could not parse the Rust JSON table; peers only", file=sys.stderr)
        return None, None
    return rows, "`" + " ".join(cmd) + "`"


PEAK_CMD = ["cargo", "run", "--release", "--example", "fma_peak", "--", "--json"]


def fma_peak(peak_json):
    """GFLOP/s per core of independent f32 FMA chains, per instruction set this CPU has
    (`examples/fma_peak.rs`): {"baseline": .., "avx2": .., "avx512": ..}, or None."""
    if peak_json:
        with open(peak_json) as f:
            return json.load(f)
    try:
        p = subprocess.run(PEAK_CMD, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=600)
        return json.loads(p.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.TimeoutExpired, ValueError, IndexError) as e:
        print(f"[peers] FMA peak unavailable ({e})", file=sys.stderr)
        return None


def peak_fraction(r, peak):
    """A row's GFLOP/s as a fraction of the widest instruction set's peak over the cores it
    runs on (one at batch 1, THREADS otherwise), or None."""
    if not peak or r.get("rnn_gflops") is None:
        return None
    widest = max(peak.values())
    cores = 1 if r["cfg"]["B"] == 1 else THREADS
    return r["rnn_gflops"] / (widest * cores)


def percent(f):
    return None if f is None else 100 * f


def fmt(x, nd=1):
    return "—" if x is None else f"{x:,.{nd}f}"


def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def build_rows(names, rust, peers):
    rows = []
    for n in names:
        c = BY_NAME[n]
        r = rust.get(n, {})
        rn = r.get("ns_per_step")
        tn = peers["torch"].get(peer_name(n))
        fn = peers["tf"].get(peer_name(n))
        rows.append(dict(name=n, cfg=c, rnn=rn, rnn_gflops=r.get("gflops"),
                         rss=r.get("peak_rss_mb"), torch=tn, tf=fn,
                         torch_gflops=ratio(c["flops"], tn), tf_gflops=ratio(c["flops"], fn),
                         torch_ratio=ratio(tn, rn), tf_ratio=ratio(fn, rn),
                         torch_variant=peers.get("torch_variant", {}).get(peer_name(n)),
                         tf_variant=peers.get("tf_variant", {}).get(peer_name(n)),
                         **native_peer_columns(n, rn, peers)))
    return rows


def native_peer_columns(n, rn, peers):
    """The RTNeural and candle entries of row `n` (None where not measured)."""
    out = {}
    for fw in NATIVE_CONFIGS:
        ns = peers.get(fw, {}).get(peer_name(n))
        out[fw] = ns
        out[fw + "_ratio"] = ratio(ns, rn)
        out[fw + "_variant"] = peers.get(fw + "_variant", {}).get(peer_name(n))
    return out


def native_rows(rows):
    """The rows RTNeural or candle has a figure for."""
    return [r for r in rows if r["rtneural"] is not None or r["candle"] is not None]


def print_native_table(rows):
    hdr = (f"{'name':<20}{'rnn ns/step':>13}{'RTNeural ns':>13}{'candle ns':>12}"
           f"{'RTNeural/rnn':>14}{'candle/rnn':>12}  RTNeural build")
    print(hdr)
    print("-" * len(hdr))
    for r in native_rows(rows):
        print(f"{r['name']:<20}{fmt(r['rnn']):>13}{fmt(r['rtneural']):>13}{fmt(r['candle']):>12}"
              f"{fmt(r['rtneural_ratio'], 2):>14}{fmt(r['candle_ratio'], 2):>12}"
              f"  {r['rtneural_variant'] or ''}")


def print_table(rows):
    hdr = (f"{'name':<20}{'rnn ns/step':>13}{'torch ns/step':>15}{'tf ns/step':>13}"
           f"{'torch/rnn':>11}{'tf/rnn':>9}{'torch GF/s':>12}{'tf GF/s':>10}  torch variant")
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        print(f"{r['name']:<20}{fmt(r['rnn']):>13}{fmt(r['torch']):>15}{fmt(r['tf']):>13}"
              f"{fmt(r['torch_ratio'], 2):>11}{fmt(r['tf_ratio'], 2):>9}"
              f"{fmt(r['torch_gflops'], 2):>12}{fmt(r['tf_gflops'], 2):>10}"
              f"  {r['torch_variant'] or ''}")


def design_comparison(peers):
    """Lines comparing today's peers with DESIGN.md's figures (flags > 1.5x apart)."""
    lines = []
    for fw, ref in DESIGN_REF.items():
        for n, us in ref.items():
            got = peers[fw].get(n)
            if got is None:
                continue
            f = got / 1000 / us
            flag = "  <-- large discrepancy" if f > 1.5 or f < 1 / 1.5 else ""
            lines.append(f"{fw:<6}{n:<15} DESIGN {us:6.1f} µs   today {got / 1000:6.2f} µs"
                         f"   ×{f:.2f}{flag}")
    return lines


TARGETS = [  # (configuration, label, ratio to PyTorch needed, ns/step bound or None)
    ("lstm-b1-h32", "batch 1, I=H=32 LSTM (`Rnn::run`): <= 400 ns/step and >= 20x PyTorch",
     20.0, 400.0),
    ("lstm-fused-b1-h32",
     "batch 1, I=H=32 LSTM (`fused::Lstm`): <= 400 ns/step and >= 20x PyTorch", 20.0, 400.0),
    ("lstm-b64-h128", "batch 64, I=H=128: >= 1.5x PyTorch", 1.5, None),
    ("lstm-b64-h256", "batch 64, I=H=256: >= 1.0x PyTorch", 1.0, None),
    ("seed-custom", "seed-custom: >= 10x PyTorch (eager or TorchScript, the faster)", 10.0, None),
    ("seed-nested", "seed-nested: >= 1.0x PyTorch (eager or TorchScript, the faster)", 1.0, None),
    ("train-lstm-b1-h32", "training, LSTM batch 1, I=H=32: >= 20x PyTorch", 20.0, None),
    ("train-lstm-b32-h64", "training, LSTM batch 32, I=H=64: >= 1.5x PyTorch", 1.5, None),
    ("train-lstm-b64-h128", "training, LSTM batch 64, I=H=128: >= 1.0x PyTorch", 1.0, None),
    ("train-gru-b32-h64", "training, GRU batch 32, I=H=64: >= 3x PyTorch", 3.0, None),
    ("train-digits-b32", "training, the digits model at batch 32: >= 4x PyTorch", 4.0, None),
    ("train-seed-custom-b64", "training, the custom decoder cell at batch 64: >= 5x PyTorch "
     "(eager or TorchScript, the faster)", 5.0, None),
    ("train-seed-nested-b64", "training, the NestedCell at batch 64: >= 1.0x PyTorch "
     "(eager or TorchScript, the faster)", 1.0, None),
]


def targets(rows):
    """(label, measured, met) for each ratio target."""
    by = {r["name"]: r for r in rows}
    out = []
    for name, label, need, bound in TARGETS:
        r = by.get(name)
        if r is None or r["torch_ratio"] is None:
            out.append((label, "not measured", "—"))
            continue
        ok = r["torch_ratio"] >= need and (bound is None or r["rnn"] <= bound)
        value = f"{r['rnn']:,.0f} ns/step, torch/rnn = {r['torch_ratio']:.2f}"
        out.append((label, value, "yes" if ok else "**no**"))
    return out


def write_plot(rows):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by = {r["name"]: r for r in rows}
    hs = [BY_NAME[n]["H"] for n in B1_SWEEP if n in by]
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for key, label, style, fused in (
            ("rnn", "rnn Rnn::run (#[cell])", "o-", False),
            ("rnn", "rnn fused::Lstm", "D-", True),
            ("torch", "PyTorch nn.LSTM", "s-", False),
            ("tf", "TensorFlow/Keras 3 LSTM (XLA)", "^-", False),
            ("rtneural", "RTNeural LSTMLayerT (best build, 1 thread)", "v-", False),
            ("candle", "candle-nn LSTM", "x-", False)):
        sweep = [B1_FUSED[n] for n in B1_SWEEP] if fused else B1_SWEEP
        pts = [(BY_NAME[n]["H"], by[n][key]) for n in sweep
               if n in by and by[n][key] is not None]
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], style, label=label)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(hs)
    ax.set_xticklabels([str(h) for h in hs])
    ax.set_xlabel("H (= I), batch 1, T = 32")
    ax.set_ylabel("ns per sample-step (median)")
    ax.set_title("LSTM inference, batch 1, 2 threads, float32")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    os.makedirs(os.path.dirname(PLOT), exist_ok=True)
    fig.savefig(PLOT, dpi=110)
    plt.close(fig)


def native_doc_section(rows, peers):
    """PERFORMANCE.md's RTNeural and candle table (empty when neither was measured)."""
    nrows = native_rows(rows)
    if not nrows:
        return []
    v = peers.get("versions", {})
    detail = peers.get("detail", {}).get("rtneural", {})
    builds = lambda n: " / ".join(fmt(detail[n].get(b, {}).get("ns"))
                                  for b in RTNEURAL_BUILDS) if n in detail else "—"
    L = ["## RTNeural and candle (float32, ns per sample-step, median)\n",
         "Ratios > 1 mean `rnn` is faster than the peer.\n",
         "| name | B | H | T | rnn ns | RTNeural ns | candle ns | RTNeural/rnn | candle/rnn "
         "| RTNeural build | RTNeural " + " / ".join(RTNEURAL_BUILDS) + " ns |",
         "|---|--:|--:|--:|--:|--:|--:|--:|--:|---|--:|"]
    for r in nrows:
        c = r["cfg"]
        L.append(f"| {r['name']} | {c['B']} | {c['H']} | {c['T']} | {fmt(r['rnn'])} "
                 f"| {fmt(r['rtneural'])} | {fmt(r['candle'])} | {fmt(r['rtneural_ratio'], 2)} "
                 f"| {fmt(r['candle_ratio'], 2)} | {r['rtneural_variant'] or '—'} "
                 f"| {builds(peer_name(r['name']))} |")
    L.append("")
    L.append(
        f"- RTNeural {v.get('RTNeural', '(not measured)')}: "
        "`ModelT<float, I, H, LSTMLayerT<float, I, H>>` (`GRULayerT` for the GRU), sized at "
        "compile time, one sequence of T steps per call from the reset state, every step's "
        "output copied out (`tools/rtneural/bench.cpp`). Built once per backend (Eigen, "
        "xsimd, STL) with `-march=native`, and Eigen and xsimd again with `-mno-avx512f` "
        "(`_avx2`); the fastest build is its figure, all are listed. One thread.")
    L.append(
        f"- candle-nn {v.get('candle-nn', '(not measured)')}: `candle_nn::rnn::lstm`/`gru` "
        f"on the CPU, `RNN::seq` over the batch, {THREADS} rayon threads "
        "(`tools/candle_bench`).")
    L.append(
        "- Both load the weights `examples/peer_reference.rs` writes (PyTorch's "
        "initialisation, in Keras's layout) and check every output against `rnn`'s within "
        "1e-4 before timing. They time their calls back to back for the budget (one round, "
        "not interleaved), after a 0.3 s warm-up.")
    L.append("")
    return L


def write_doc(rows, peers, rust_src, budget, rounds, peak=None):
    m = peers["machine"]
    v = dict(peers["versions"])
    try:
        rv = subprocess.run(["rustc", "--version"], stdout=subprocess.PIPE, text=True,
                            cwd=ROOT).stdout.strip()
        v["rustc"] = rv[len("rustc "):] if rv.startswith("rustc ") else rv
    except OSError:
        pass
    L = []
    L.append("# Performance: rnn vs PyTorch, TensorFlow, RTNeural and candle\n")
    L.append("Generated by `python tools/peers.py` — do not edit by hand.\n")
    L.append(f"- Date: {peers['date']}")
    L.append(f"- Machine: {m['cpu']}, {m['nproc']} cores (nproc), {m['mem_gb']} GB, {m['os']}")
    L.append("- Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()
                                         if k != "torch_build"))
    L.append(f"- Rust numbers: {rust_src or 'not available (the Rust table failed or is missing)'}")
    if peers.get("source"):
        L.append(f"- Peer numbers: {peers['source']}")
    L.append("")
    L.append("## Results (float32, ns per sample-step, median)\n")
    L.append("Inference, but for the `train-*` rows: one training step each (forward, backward "
             "and an Adam update), compared with PyTorch only.\n")
    L.append("Ratios > 1 mean `rnn` is faster than the peer.\n")
    if peak:
        L.append("Peak f32 FMA throughput of one core, per instruction set (`cargo run --release "
                 "--example fma_peak`): " + ", ".join(f"{k} {v:.1f} GFLOP/s"
                                                      for k, v in peak.items())
                 + ". `rnn % peak` is `rnn GF/s` over the widest set's peak times the cores "
                 f"the configuration runs on (1 at batch 1, {THREADS} otherwise).\n")
    L.append("| name | cell | B | I | H | T | FLOP/step | rnn ns | torch ns | tf ns "
             "| torch/rnn | tf/rnn | rnn GF/s | rnn % peak | torch GF/s | tf GF/s | rnn RSS MB |")
    L.append("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    for r in rows:
        c = r["cfg"]
        tv = f" ({r['torch_variant']})" if r["torch_variant"] not in (None, "fused") else ""
        L.append(f"| {r['name']} | {c['kind']} | {c['B']} | {c['I']} | {c['H']} | {c['T']} "
                 f"| {c['flops']:,} | {fmt(r['rnn'])} | {fmt(r['torch'])}{tv} | {fmt(r['tf'])} "
                 f"| {fmt(r['torch_ratio'], 2)} | {fmt(r['tf_ratio'], 2)} "
                 f"| {fmt(r['rnn_gflops'], 2)} "
                 f"| {fmt(percent(peak_fraction(r, peak)), 0)} "
                 f"| {fmt(r['torch_gflops'], 2)} "
                 f"| {fmt(r['tf_gflops'], 2)} | {fmt(r['rss'], 1)} |")
    L.append("")
    L.append("![ns per step vs H at batch 1](perf_b1.png)\n")
    L.extend(native_doc_section(rows, peers))
    L.append("## Method\n")
    L.append(
        f"- Every framework runs in its own process with {THREADS} threads "
        "(PyTorch: `torch.set_num_threads(2)`, `torch.inference_mode()`; TensorFlow: intra-op "
        "2, inter-op 1). The Rust table comes from `cargo run --release --example perf_table "
        "-- --json` and is run first, on its own, after the same wait for an idle machine "
        "as each peer.")
    L.append(
        "- Figure = median wall time of one full forward over the sequence / (batch × T). "
        f"Each forward is warmed up (≥ 0.3 s, which includes TorchScript/XLA compilation), "
        f"then timed call by call for ≈ {budget:g} s per configuration and variant, split into "
        f"{rounds} rounds interleaved across configurations; before each round the worker "
        "waits (bounded) for the CPUs to be idle, since the machine is shared and noisy. "
        "`tools/peers_results.json` keeps quartiles, min, the best per-round median and the "
        "CPU load seen before each round.")
    L.append(
        "- rnn: batch 1 through `Rnn::run` (the `#[cell]` path) and, in the `lstm-fused-b1-*` "
        "rows, through `fused::Lstm` (which runs a batch below 4 sample by sample: the input "
        "projection of every step first, then a matrix-vector product and the gate epilogue "
        "per step), compared with the same PyTorch and TensorFlow figures as the "
        "`lstm-b1-*` rows (likewise `gru-fused-b1-h32`, through `fused::Gru`, against the "
        "`gru-b1-h32` figures); batch 64 LSTM through `fused::Lstm`. The fused layers are "
        "built once, as the peers' modules are, and run with `forward_into`, which refills the "
        "previous call's buffers (its first call packs the weights for the GEMMs, which the "
        "layer keeps). Seed-custom through `Rnn::run_batch_into` (a serving loop: each call "
        "refills the previous call's output buffers; `perf_table --configs "
        "seed-custom-run-batch` times `run_batch`, which allocates them anew), seed-nested "
        "through `block_unroll_into` over blocks of 16 sequences (also refilling its buffers). "
        "Batches run over both cores.")
    L.append(
        "- PyTorch: LSTM/GRU configurations use the fused `nn.LSTM` / `nn.GRU` "
        "(batch_first) over the whole sequence. The seed cells are a Python loop over the step "
        "written with `nn.Linear`/`nn.GRUCell`/`torch.mm`/`torch.einsum`, and the same module "
        "compiled with `torch.jit.script`; the faster is reported and named in the table.")
    L.append(
        "- TensorFlow: Keras 3 `keras.layers.LSTM`/`GRU` (return_sequences, return_state) and "
        "`keras.layers.RNN(custom cell)` for the seed cells, called inside "
        "`tf.function(jit_compile=True)` (XLA). Keras 3's RNN has no `constants=` and packs "
        "one output tensor per step, so the custom decoder's z_enc is a pass-through state and its two "
        "outputs are concatenated; the nested cell's two inputs are concatenated and split in the "
        "step, its outputs concatenated (its states stay nested).")
    L.append(
        "- FLOP/step counts the matrix products only, 2 FLOPs per multiply-add: LSTM "
        "8·H·(I+H), GRU 6·H·(I+H), seed-custom 2·(H+8)·H + 6·H·(I+H) + 2·I·15, seed-nested "
        "2·(32·10 + 64·32·20·30). GF/s = FLOP/step ÷ ns/step.")
    tfm = {r["name"]: r["tf_variant"] for r in rows if r["tf_variant"] not in (None, "xla")}
    if tfm:
        L.append("- TensorFlow without XLA (XLA failed) for: " + ", ".join(
            f"{k} ({val})" for k, val in tfm.items()))
    notes = peers.get("notes", [])
    if notes:
        L.append("- Notes: " + "; ".join(notes))
    L.append("\n## Ratio targets (this run)\n")
    L.append("| target | measured | met |")
    L.append("|---|---|---|")
    for label, value, ok in targets(rows):
        L.append(f"| {label} | {value} | {ok} |")
    L.append("\nThe `#[cell]`-vs-hand-written and static-vs-dynamic targets are criterion "
             "benchmark pairs (`cargo bench --bench macro_vs_hand --bench unroll`), not part "
             "of this table.")
    comp = design_comparison(peers)
    if comp:
        L.append("\n## Peers vs DESIGN.md reference figures\n")
        L.append("```")
        L.extend(comp)
        L.append("```")
    L.append("\nReproduce: `python tools/peers.py` (or `--rust-json FILE`, `--peers-json "
             "tools/peers_results.json`).")
    os.makedirs(os.path.dirname(DOC), exist_ok=True)
    with open(DOC, "w") as f:
        f.write("\n".join(L) + "\n")


PEERS = ("torch", "tf", "rtneural", "candle")


def measure_framework(fw, names, budget, rounds, max_wait, rtneural_dir):
    """One peer's figures: {ns, detail, versions, notes[, round_busy]}, or None if it failed."""
    if fw == "rtneural":
        return measure_rtneural(names, budget, rtneural_dir)
    if fw == "candle":
        return measure_candle(names, budget)
    return run_worker(fw, names, budget, rounds, max_wait)


def measure_peers(names, budget, rounds, max_wait, frameworks=PEERS, rtneural_dir=None):
    peers = {"machine": machine_info(),
             "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
             **{fw: {} for fw in PEERS}, "versions": {"python": platform.python_version()},
             **{fw + "_variant": {} for fw in PEERS}, "detail": {}, "notes": [],
             "flops_per_step": {n: BY_NAME[n]["flops"] for n in names},
             "method": f"median of per-call wall time / (batch*T), {THREADS} threads, "
                       f"~{budget:g} s per config per variant in {rounds} interleaved rounds "
                       "(RTNeural, candle: in one round)"}
    peers["conditions"] = {}
    skip = build_native_peers(frameworks, names, rtneural_dir)
    for fw in frameworks:
        if fw in skip:
            print(f"[peers] {fw}: {skip[fw]}", file=sys.stderr)
            peers["notes"].append(f"{fw}: {skip[fw]}")
            continue
        if fw in NATIVE_CONFIGS and not any(n in NATIVE_CONFIGS[fw] for n in names):
            continue
        busy = wait_idle(max_wait) if max_wait > 0 else cpu_busy(2.0)
        peers["conditions"][fw] = {
            "cpu_busy_before": None if busy is None else round(busy, 3),
            "loadavg_before": os.getloadavg()[0] if hasattr(os, "getloadavg") else None}
        res = measure_framework(fw, names, budget, rounds, max_wait, rtneural_dir)
        if res is None:
            peers["notes"].append(f"{fw}: worker failed")
            continue
        peers[fw] = res["ns"]
        if "round_busy" in res:
            peers["conditions"][fw]["cpu_busy_before_each_round"] = res["round_busy"]
        peers["versions"].update(res["versions"])
        peers["detail"][fw] = res["detail"]
        peers[fw + "_variant"] = {n: d["best"] for n, d in res["detail"].items()}
        peers["notes"].extend(f"{fw}: {n}" for n in res.get("notes", []))
    return peers


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--peers-only", action="store_true",
                    help="measure the peers only; write tools/peers_results.json")
    ap.add_argument("--rust-json", metavar="FILE", help="saved Rust table (instead of cargo)")
    ap.add_argument("--peers-json", metavar="FILE",
                    help="saved peer results (instead of measuring)")
    ap.add_argument("--budget", type=float, default=2.0,
                    help="seconds of measurement per config per variant (default 2)")
    ap.add_argument("--rounds", type=int, default=6, help="interleaved rounds (default 6)")
    ap.add_argument("--wait-idle", type=float, default=60, metavar="SECONDS",
                    help="before each framework, wait up to this long for the other "
                         "processes to leave the CPUs idle (default 60; 0 = don't wait)")
    ap.add_argument("--configs", help="comma-separated subset of configuration names")
    ap.add_argument("--peers", default=",".join(PEERS),
                    help=f"comma-separated subset of the peers to measure (default "
                         f"{','.join(PEERS)})")
    ap.add_argument("--rtneural-dir", metavar="DIR", default=os.environ.get("RTNEURAL_DIR"),
                    help="RTNeural checkout with its xsimd submodule (default: $RTNEURAL_DIR; "
                         "without one the RTNeural column is skipped)")
    ap.add_argument("--peak-json", metavar="FILE",
                    help="saved `fma_peak --json` output (instead of measuring)")
    ap.add_argument("--_worker", choices=["torch", "tf"], help=argparse.SUPPRESS)
    ap.add_argument("--_out", help=argparse.SUPPRESS)
    a = ap.parse_args()

    names = [c["name"] for c in CONFIGS]
    if a.configs:
        names = [n.strip() for n in a.configs.split(",") if n.strip()]
        bad = [n for n in names if n not in BY_NAME]
        if bad:
            ap.error(f"unknown configurations {bad}; known: {list(BY_NAME)}")
    frameworks = [p.strip() for p in a.peers.split(",") if p.strip()]
    if any(p not in PEERS for p in frameworks):
        ap.error(f"unknown peers in {frameworks}; known: {list(PEERS)}")
    # The peers run each configuration once, under the name its figures are filed under.
    peer_names = list(dict.fromkeys(peer_name(n) for n in names))

    if a._worker:
        global ROUND_WAIT
        ROUND_WAIT = min(a.wait_idle, 20.0)
        cfgs = [BY_NAME[n] for n in names]
        res = (torch_worker if a._worker == "torch" else tf_worker)(cfgs, a.budget, a.rounds)
        with open(a._out, "w") as f:
            json.dump(res, f)
        return

    rust, rust_src = {}, None
    if not a.peers_only:
        if not a.rust_json:
            # The Rust table is built first (so the build does not disturb anything), then
            # measured under the same wait-for-idle rule as each peer framework.
            subprocess.run(["cargo", "build", "--release", "--example", "perf_table"], cwd=ROOT,
                           stdout=subprocess.DEVNULL)
            if a.wait_idle > 0:
                wait_idle(a.wait_idle)
        subset = names if a.configs else None
        budget = a.budget if a.budget != ap.get_default("budget") else None
        rows, rust_src = run_rust(a.rust_json, subset, budget)
        if rows:
            rust = {r["name"]: r for r in rows if isinstance(r, dict) and "name" in r}
            unknown = sorted(set(rust) - set(BY_NAME))
            if unknown:
                print(f"[peers] note: Rust table has extra names {unknown}", file=sys.stderr)

    if a.peers_json:
        with open(a.peers_json) as f:
            peers = json.load(f)
        for fw in PEERS:  # results saved before a peer was added lack its keys
            peers.setdefault(fw, {})
            peers.setdefault(fw + "_variant", {})
        peers["source"] = f"saved results {a.peers_json} (measured {peers.get('date')})"
    else:
        peers = measure_peers(peer_names, a.budget, a.rounds, a.wait_idle, frameworks,
                              a.rtneural_dir)
        out = dict(peers)
        with open(RESULTS, "w") as f:
            json.dump(out, f, indent=1, ensure_ascii=False)
            f.write("\n")
        print(f"[peers] wrote {os.path.relpath(RESULTS, ROOT)}", file=sys.stderr)

    rows = build_rows(names, rust, peers)
    print_table(rows)
    print()
    if native_rows(rows):
        print_native_table(rows)
        print()
    for label, value, ok in targets(rows):
        print(f"target {label}: {value} -> met: {ok}")
    print()
    for ln in design_comparison(peers):
        print(ln)
    if a.peers_only:
        return
    write_plot(rows)
    write_doc(rows, peers, rust_src, a.budget, a.rounds, fma_peak(a.peak_json))
    print(f"[peers] wrote {os.path.relpath(DOC, ROOT)} and {os.path.relpath(PLOT, ROOT)}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
