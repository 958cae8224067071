#!/usr/bin/env python3
"""Export scikit-learn's bundled 8x8 digits data set to data/digits/.

Writes
  data/digits/digits.csv   header `label,p0,...,p63`, one image per row,
                           integer pixels 0..16, row-major (p0..p7 is image
                           row 0, p8..p15 is row 1, ...), in load_digits order.
  data/digits/LICENSE.md   where the data comes from and under which terms.

Train/test split (used by tools/train_digits.py and the Rust demo): the
held-out test set is the LAST 360 rows in file order, i.e. zero-based data
rows 1437..1796 (half-open [1437, 1797)); the first 1437 rows are training.

No network access: load_digits reads the copy shipped inside scikit-learn.

Usage (from the repo root):
  KERAS_BACKEND=tensorflow /tmp/venv/bin/python tools/export_digits.py
"""

import os
import sys

import numpy as np
import sklearn
from sklearn.datasets import load_digits

N_ROWS = 1797
N_TEST = 360
TRAIN_END = N_ROWS - N_TEST  # 1437

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(REPO, "data", "digits")


def read_descr():
    """The text of sklearn/datasets/descr/digits.rst from the installed package."""
    path = os.path.join(os.path.dirname(sklearn.__file__), "datasets", "descr", "digits.rst")
    with open(path, encoding="utf-8") as f:
        return f.read()


def quote(text):
    return "\n".join(("> " + line).rstrip() for line in text.strip().splitlines())


def main():
    digits = load_digits()
    x = digits.data
    y = digits.target
    assert x.shape == (N_ROWS, 64), x.shape
    assert y.shape == (N_ROWS,), y.shape
    xi = x.astype(np.int64)
    assert np.array_equal(xi, x), "pixels are not integral"
    assert xi.min() >= 0 and xi.max() <= 16
    assert y.min() == 0 and y.max() == 9

    os.makedirs(OUT_DIR, exist_ok=True)
    csv_path = os.path.join(OUT_DIR, "digits.csv")
    with open(csv_path, "w", encoding="ascii", newline="\n") as f:
        f.write("label," + ",".join(f"p{i}" for i in range(64)) + "\n")
        for label, row in zip(y, xi):
            f.write(str(int(label)) + "," + ",".join(str(int(v)) for v in row) + "\n")

    test_counts = np.bincount(y[TRAIN_END:], minlength=10)
    license_md = f"""# digits data set: origin and licence

`digits.csv` is scikit-learn's bundled copy of the "Optical Recognition of
Handwritten Digits" data set (UCI Machine Learning Repository, data set 80),
created by E. Alpaydin and C. Kaynak, Department of Computer Engineering,
Bogazici University, Istanbul (July 1998). It was exported unchanged (same
rows, same order, integer pixels 0..16) from `sklearn.datasets.load_digits()`
of scikit-learn {sklearn.__version__} by `tools/export_digits.py`.

## Licence

- The copy shipped inside scikit-learn is distributed with scikit-learn under
  the BSD 3-Clause licence (scikit-learn's `License-Expression: BSD-3-Clause`,
  "Copyright (c) 2007-2026 The scikit-learn developers").
- The UCI Machine Learning Repository lists this data set under the Creative
  Commons Attribution 4.0 International licence (CC BY 4.0):
  <https://archive.ics.uci.edu/dataset/80/optical+recognition+of+handwritten+digits>.
  Attribution: E. Alpaydin, C. Kaynak. "Optical Recognition of Handwritten
  Digits", UCI Machine Learning Repository, 1998.
- scikit-learn's own description file (`sklearn/datasets/descr/digits.rst`)
  names the creator and source but does not state a licence; it is quoted in
  full below.

## Format

- Header `label,p0,...,p63`; 1797 data rows; `label` is the digit 0..9.
- `p0..p63` are the 8x8 image in row-major order: `p(8*r + c)` is image row
  `r`, column `c`. The Rust demo and `tools/train_digits.py` feed image row `r`
  as timestep `r` (8 timesteps x 8 features), pixels scaled by 1/16.

## Train/test split

Deterministic, by file order: the first {TRAIN_END} data rows (0..{TRAIN_END - 1}) are
training data; the held-out test set is the LAST {N_TEST} data rows, zero-based
rows {TRAIN_END}..{N_ROWS - 1} (half-open range [{TRAIN_END}, {N_ROWS})). Row numbers count data
rows only (the header is not row 0). Test-set class counts (0..9):
{", ".join(str(int(c)) for c in test_counts)}.

## scikit-learn's description (`sklearn/datasets/descr/digits.rst`, verbatim)

{quote(read_descr())}
"""
    with open(os.path.join(OUT_DIR, "LICENSE.md"), "w", encoding="utf-8", newline="\n") as f:
        f.write(license_md)

    print(f"wrote {csv_path} ({os.path.getsize(csv_path)} bytes, {N_ROWS} rows); "
          f"train rows [0, {TRAIN_END}), test rows [{TRAIN_END}, {N_ROWS})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
