#!/usr/bin/env python3
"""Export the UCI Japanese Vowels data set to data/japanese_vowels/.

Source: the `.ts` files bundled in the `aeon` wheel (Python package index),
`aeon/datasets/data/JapaneseVowels/JapaneseVowels_{TRAIN,TEST}.ts`, read out of
the zip; the wheel is downloaded, not installed (its dependencies are heavy):

  /tmp/venv/bin/pip download --no-deps aeon -d /tmp/aeon_wheel

`.ts` format (sktime/aeon; documented in the files' header): `@` lines are
metadata (`@dimensions 12`, `@equalLength false`, `@classLabel true 1 ... 9`),
then after `@data` one utterance per line: 12 channels separated by `:`, each
channel the comma-separated values of its timesteps, the class label last.
A few values are written in exponent notation (`-6.8E-5`).

Writes
  data/japanese_vowels/train.csv   270 utterances (UCI `ae.train`, same order)
  data/japanese_vowels/test.csv    370 utterances (UCI `ae.test`, same order)
      header `utterance,label,step,c1,...,c12`, one line per timestep:
      `utterance` is the zero-based utterance index within the file,
      `label` the zero-based class (speaker number 1..9 minus 1),
      `step` the zero-based timestep (0..length-1, consecutive),
      `c1..c12` the 12 LPC cepstrum coefficients of that frame, as the
      exact decimals of the source written in plain notation
      (`-6.8E-5` becomes `-0.000068`; no value is rounded).
      Lines are grouped by utterance, utterances in source order.
  data/japanese_vowels/README.md   the format.
  data/japanese_vowels/LICENSE.md  origin, licence and citation.

The script checks: 270 train and 370 test utterances, 12 channels of equal
length per utterance, lengths 7..=29 (train 7..=26, test 7..=29), 9 classes,
30 training utterances per speaker, test counts per speaker 31 35 88 44 29 24
40 50 29 (UCI's size_ae.test), utterances grouped by speaker as UCI describes.

Usage (from the repo root):
  /tmp/venv/bin/python tools/export_japanese_vowels.py [/tmp/aeon_wheel/aeon-*.whl]
"""

import glob
import os
import sys
import zipfile
from decimal import Decimal

N_FEATURES = 12
N_CLASSES = 9
MIN_LEN, MAX_LEN = 7, 29
EXPECTED = {
    # split: (utterances, per-speaker counts 1..9, (min length, max length))
    "train": (270, [30] * 9, (7, 26)),
    "test": (370, [31, 35, 88, 44, 29, 24, 40, 50, 29], (7, 29)),
}
MEMBER = "aeon/datasets/data/JapaneseVowels/JapaneseVowels_{}.ts"

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(REPO, "data", "japanese_vowels")


def find_wheel(argv):
    if len(argv) > 1:
        return argv[1]
    wheels = sorted(glob.glob("/tmp/aeon_wheel/aeon-*.whl"))
    if not wheels:
        sys.exit("no aeon wheel: run `/tmp/venv/bin/pip download --no-deps aeon -d /tmp/aeon_wheel`"
                 " or pass the wheel's path")
    return wheels[-1]


def plain(token):
    """The exact decimal of a source token in plain notation (`8.34E-4` -> `0.000834`)."""
    d = Decimal(token)
    assert d.is_finite(), token
    text = format(d, "f")
    assert Decimal(text) == d, (token, text)
    if text.startswith("-") and Decimal(text) == 0:
        text = text[1:]
    return text


def parse_ts(text, name):
    """Return (header comment lines, [(label 0..8, [[12 decimal strings] per step])])."""
    lines = text.replace("\r\n", "\n").split("\n")
    comments = [line[1:].strip() for line in lines if line.startswith("#")]
    meta = {}
    start = None
    for i, line in enumerate(lines):
        if line.startswith("@"):
            key, _, value = line[1:].partition(" ")
            meta[key.lower()] = value.strip()
            if key.lower() == "data":
                start = i + 1
                break
    assert start is not None, f"{name}: no @data"
    assert meta["dimensions"] == str(N_FEATURES), meta
    assert meta["equallength"] == "false", meta
    assert meta["classlabel"].split() == ["true"] + [str(k) for k in range(1, 10)], meta

    utterances = []
    for n, line in enumerate(lines[start:]):
        if not line.strip():
            continue
        fields = line.strip().split(":")
        assert len(fields) == N_FEATURES + 1, f"{name} utterance {n}: {len(fields)} fields"
        channels = [f.split(",") for f in fields[:-1]]
        length = len(channels[0])
        assert all(len(c) == length for c in channels), f"{name} utterance {n}: ragged channels"
        speaker = int(fields[-1])
        assert 1 <= speaker <= N_CLASSES, speaker
        steps = [[plain(channels[c][t]) for c in range(N_FEATURES)] for t in range(length)]
        utterances.append((speaker - 1, steps))
    return comments, utterances


def check(split, utterances):
    count, per_speaker, (lo, hi) = EXPECTED[split]
    assert len(utterances) == count, (split, len(utterances))
    labels = [label for label, _ in utterances]
    assert [labels.count(k) for k in range(N_CLASSES)] == per_speaker, (split, labels)
    assert labels == sorted(labels), f"{split}: utterances not grouped by speaker"
    lengths = [len(steps) for _, steps in utterances]
    assert (min(lengths), max(lengths)) == (lo, hi), (split, min(lengths), max(lengths))
    assert MIN_LEN <= lo and hi <= MAX_LEN
    return lengths


def write_csv(path, utterances):
    header = "utterance,label,step," + ",".join(f"c{k}" for k in range(1, N_FEATURES + 1))
    with open(path, "w", encoding="ascii", newline="\n") as f:
        f.write(header + "\n")
        for u, (label, steps) in enumerate(utterances):
            for t, values in enumerate(steps):
                f.write(f"{u},{label},{t}," + ",".join(values) + "\n")


def read_back(path):
    """Re-read a written CSV into the same structure (float values) as a round-trip check."""
    out = []
    with open(path, encoding="ascii") as f:
        next(f)
        for line in f:
            v = line.rstrip("\n").split(",")
            u, label, t = int(v[0]), int(v[1]), int(v[2])
            if t == 0:
                assert u == len(out)
                out.append((label, []))
            assert u == len(out) - 1 and t == len(out[-1][1]) and label == out[-1][0]
            out[-1][1].append([Decimal(x) for x in v[3:]])
    return out


def main(argv):
    wheel = find_wheel(argv)
    data = {}
    header = None
    with zipfile.ZipFile(wheel) as z:
        for split in ("train", "test"):
            member = MEMBER.format(split.upper())
            comments, utterances = parse_ts(z.read(member).decode("utf-8"), member)
            header = header or comments
            data[split] = (member, utterances, check(split, utterances))

    os.makedirs(OUT_DIR, exist_ok=True)
    for split, (_, utterances, lengths) in data.items():
        path = os.path.join(OUT_DIR, f"{split}.csv")
        write_csv(path, utterances)
        back = read_back(path)
        assert [(l, [[Decimal(x) for x in s] for s in st]) for l, st in utterances] == back
        print(f"wrote {path} ({os.path.getsize(path)} bytes): {len(utterances)} utterances, "
              f"{sum(lengths)} timesteps, lengths {min(lengths)}..={max(lengths)}")

    wheel_name = os.path.basename(wheel)
    quoted = "\n".join(("> " + line).rstrip() for line in header if line)
    readme = f"""# Japanese Vowels data set: format

Nine male speakers uttered the Japanese vowels /ae/; each utterance was
analysed into a time series of 12 LPC cepstrum coefficients, one frame per
6.4 ms, 7 to 29 frames long. The task is to tell the speaker (9 classes).
270 training utterances (30 per speaker) and 370 test utterances (24 to 88 per
speaker, recorded at other times), the split of the original donors.

## Files

- `train.csv`: 270 utterances, {sum(data["train"][2])} timesteps, lengths 7..=26.
- `test.csv`: 370 utterances, {sum(data["test"][2])} timesteps, lengths 7..=29.

Both have the header `utterance,label,step,c1,...,c12` and one line per
timestep (frame):

- `utterance`: zero-based utterance index within the file (0..269, 0..369);
  the lines of one utterance are consecutive, utterances in increasing order.
- `label`: zero-based class, the speaker number 1..9 of the original minus 1.
  Utterances are grouped by speaker, as in UCI's `ae.train` / `ae.test`:
  train 30 per speaker; test per speaker 31, 35, 88, 44, 29, 24, 40, 50, 29.
- `step`: zero-based timestep, 0..length-1 in order (the length is the number
  of lines of the utterance).
- `c1..c12`: the 12 LPC cepstrum coefficients of the frame, in increasing
  order, as the exact decimals of the source (at most 6 decimal places; values
  the source wrote in exponent notation, such as `-6.8E-5`, are written out in
  plain notation, `-0.000068`). Parse them as `f32` or `f64`.

No preprocessing was applied: any scaling (for example standardising with
the training set's mean and standard deviation, as `tools/train_japanese_vowels.py`
does) is up to the user.

Origin, licence and citation: `LICENSE.md`.
"""
    license_md = f"""# Japanese Vowels data set: origin and licence

`train.csv` and `test.csv` (format: `README.md`) are the UCI Machine Learning
Repository's Japanese Vowels data set.

## Origin

Exported by `tools/export_japanese_vowels.py` from
`aeon/datasets/data/JapaneseVowels/JapaneseVowels_{{TRAIN,TEST}}.ts` inside the
wheel `{wheel_name}` (the UEA/UCR time-series classification archive's copy of
the UCI data set, same utterances in the same order as UCI's `ae.train` and
`ae.test`). The `.ts` header reads:

{quoted}

## Licence and citation

The UCI Machine Learning Repository distributes this data set under the
Creative Commons Attribution 4.0 International licence (CC BY 4.0,
<https://creativecommons.org/licenses/by/4.0/>). The files here are an
adaptation: the format was changed (one CSV line per frame, zero-based labels,
plain decimal notation); the values were not.

- Data set: M. Kudo, J. Toyama, M. Shimbo. "Japanese Vowels". UCI Machine
  Learning Repository, 2000. <https://archive.ics.uci.edu/dataset/128/japanese+vowels>,
  DOI 10.24432/C5NS47. Donors: Mineichi Kudo, Jun Toyama, Masaru Shimbo,
  Information Processing Laboratory, Hokkaido University, Sapporo, Japan.
- Paper: M. Kudo, J. Toyama, M. Shimbo (1999). "Multidimensional Curve
  Classification Using Passing-Through Regions". Pattern Recognition Letters,
  Vol. 20, No. 11-13, pages 1103-1111.
- The `aeon` package (which carries the `.ts` copy) is distributed under the
  BSD 3-Clause licence.
"""
    for name, text in (("README.md", readme), ("LICENSE.md", license_md)):
        with open(os.path.join(OUT_DIR, name), "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        print(f"wrote {os.path.join(OUT_DIR, name)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
