"""Digit images for the rate-coded classification task (:class:`ostl.datatasks.Digits`).

* ``sklearn``: scikit-learn's ``load_digits`` (1797 images of 8x8, intensities 0..16,
  shipped in the scikit-learn wheel); a seeded stratified-free split, 3/4 train.
* ``fashion_mnist``: Debian's ``dataset-fashion-mnist`` (the four IDX files of
  Fashion-MNIST in ``/usr/share/datasets/fashion-mnist``; 60000 + 10000 images of
  28x28, Expat licence), the standard split. (No package ships the original MNIST.)

Intensities are scaled to [0, 1]. The images are cached as built (uint8) with a manifest
(:mod:`ostl.datasets`): scikit-learn's version, or the Debian package's version of the
Fashion-MNIST files, and the arrays' SHA-256.
"""

from __future__ import annotations

import gzip
import os

import numpy as np

from ..errors import DataUnavailableError
from . import cached_arrays, debian_version

#: version of this builder
BUILDER_VERSION = 1
#: source -> number of pixels (inputs)
SOURCES = {"sklearn": 64, "fashion_mnist": 784}
#: the largest intensity of each source's images
MAX_INTENSITY = {"sklearn": 16.0, "fashion_mnist": 255.0}
FASHION_MNIST_DIR = os.environ.get("OSTL_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
FASHION_MNIST_PACKAGE = "dataset-fashion-mnist"
FASHION_FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
                 "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}


def images(source):
    """The source's images as built (a :class:`~ostl.datasets.DataSet` with its manifest):
    ``x`` (N, pixels, uint8) and ``y`` (N,), plus ``test`` (N,) marking the source's own test
    part (all False for scikit-learn's digits, which have none)."""
    if source == "sklearn":
        try:
            import sklearn
        except ImportError:
            raise DataUnavailableError("the digits task needs scikit-learn's 8x8 digits: "
                                       "pip install 'scikit-learn==1.9.1' (the 'data' extra)") from None
        versions = {"scikit-learn": sklearn.__version__}
        parameters = {"source": source}
        build = _sklearn
    else:
        _fashion_paths()
        package = debian_version(FASHION_MNIST_PACKAGE)
        versions = {FASHION_MNIST_PACKAGE: package if package is not None else "not a Debian package"}
        build = _fashion_mnist
        parameters = {"source": source, "directory": os.path.abspath(FASHION_MNIST_DIR)}
    return cached_arrays(f"digits_{source}", BUILDER_VERSION, parameters, versions, build)


def load(source, seed=0):
    """``((x_train, y_train), (x_test, y_test))`` of :func:`split` of the source's images."""
    return split(images(source), seed)


def split(data, seed=0):
    """``((x_train, y_train), (x_test, y_test))`` of :func:`images`' ``data``; ``x`` (N, pixels)
    in [0, 1]. scikit-learn's digits are split by ``seed`` (3/4 train); Fashion-MNIST keeps its
    own split."""
    source = data.manifest["parameters"]["source"]
    x = data["x"].astype(np.float64) / MAX_INTENSITY[source]
    y = data["y"].astype(np.int64)
    if source == "sklearn":
        order = np.random.default_rng([seed, 0xD1C]).permutation(len(x))
        n_train = (3 * len(x)) // 4
        train, test = order[:n_train], order[n_train:]
    else:
        train, test = np.flatnonzero(~data["test"]), np.flatnonzero(data["test"])
    return (x[train], y[train]), (x[test], y[test])


def _sklearn():
    from sklearn.datasets import load_digits

    data = load_digits()
    return {"x": data.data.astype(np.uint8), "y": data.target.astype(np.int64),
            "test": np.zeros(len(data.target), dtype=bool)}


def _read_idx(path):
    with gzip.open(path, "rb") as handle:
        data = handle.read()
    dims = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def _fashion_paths():
    paths = {part: [os.path.join(FASHION_MNIST_DIR, name) for name in names] for part, names in FASHION_FILES.items()}
    missing = [p for part in paths.values() for p in part if not os.path.exists(p)]
    if missing:
        raise DataUnavailableError(f"Fashion-MNIST not found ({missing[0]}): apt-get install {FASHION_MNIST_PACKAGE}")
    return paths


def _fashion_mnist():
    x, y, test = [], [], []
    for part, (image_path, label_path) in _fashion_paths().items():
        pixels, labels = _read_idx(image_path), _read_idx(label_path)
        x.append(pixels.reshape(len(pixels), -1))
        y.append(labels.astype(np.int64))
        test.append(np.full(len(labels), part == "test"))
    return {"x": np.concatenate(x), "y": np.concatenate(y), "test": np.concatenate(test)}
