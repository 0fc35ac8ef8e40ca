"""Digit images for the rate-coded classification task (:class:`ostl.datatasks.Digits`).

* ``sklearn``: scikit-learn's ``load_digits`` (1797 images of 8x8, intensities 0..16,
  shipped in the scikit-learn wheel); a seeded stratified-free split, 3/4 train.
* ``fashion_mnist``: Debian's ``dataset-fashion-mnist`` (the four IDX files of
  Fashion-MNIST in ``/usr/share/datasets/fashion-mnist``; 60000 + 10000 images of
  28x28, Expat licence), the standard split. (No package ships the original MNIST.)

Intensities are scaled to [0, 1].
"""

from __future__ import annotations

import gzip
import os

import numpy as np

from ..errors import DataUnavailableError

#: source -> number of pixels (inputs)
SOURCES = {"sklearn": 64, "fashion_mnist": 784}
FASHION_MNIST_DIR = os.environ.get("OSTL_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
FASHION_FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
                 "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}


def load(source, seed=0):
    """``((x_train, y_train), (x_test, y_test))``; ``x`` (N, pixels) in [0, 1]."""
    if source == "sklearn":
        return _sklearn(seed)
    return _fashion_mnist()


def _sklearn(seed):
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise DataUnavailableError("the digits task needs scikit-learn's 8x8 digits: "
                                   "pip install 'scikit-learn==1.9.1' (the 'data' extra)") from None
    data = load_digits()
    x = data.data.astype(np.float64) / 16.0
    y = data.target.astype(np.int64)
    order = np.random.default_rng([seed, 0xD1C]).permutation(len(x))
    n_train = (3 * len(x)) // 4
    train, test = order[:n_train], order[n_train:]
    return (x[train], y[train]), (x[test], y[test])


def _read_idx(path):
    with gzip.open(path, "rb") as handle:
        data = handle.read()
    dims = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def _fashion_mnist():
    out = []
    for part in ("train", "test"):
        paths = [os.path.join(FASHION_MNIST_DIR, name) for name in FASHION_FILES[part]]
        missing = [p for p in paths if not os.path.exists(p)]
        if missing:
            raise DataUnavailableError(f"Fashion-MNIST not found ({missing[0]}): apt-get install dataset-fashion-mnist")
        images, labels = (_read_idx(p) for p in paths)
        out.append((images.reshape(len(images), -1).astype(np.float64) / 255.0, labels.astype(np.int64)))
    return tuple(out)
