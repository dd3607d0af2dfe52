"""The UCI handwritten digits: 1,797 greyscale images of 8x8 pixels, ten classes.

Source and licence: E. Alpaydin and C. Kaynak (1998), *Optical Recognition of
Handwritten Digits*, UCI Machine Learning Repository,
https://doi.org/10.24432/C50P49, CC BY 4.0.  The shipped file is the copy that
scikit-learn bundles (its ``digits.csv.gz``, unchanged); see ``data/NOTICE``.
"""
from __future__ import annotations

import functools
import gzip
from importlib import resources

import numpy as np

DIGITS_CLASSES = tuple(str(d) for d in range(10))
_FILE = "digits.csv.gz"
_N, _SIDE = 1797, 8
_TEST_EVERY = 5  # the 5th, 10th, 15th, ... image of each digit (in file order) is a test image
_SPLITS = ("train", "test", "all")


@functools.cache
def _read() -> tuple[np.ndarray, np.ndarray]:
    """The file's pixel counts (N, 64) as uint8 and labels (N,) as int64, parsed once."""
    with resources.files(__package__).joinpath("data", _FILE).open("rb") as raw, \
            gzip.open(raw, "rt") as text:
        table = np.loadtxt(text, delimiter=",", dtype=np.int64)
    if table.shape != (_N, _SIDE * _SIDE + 1):
        raise ValueError(f"load_digits: {_FILE} holds a {table.shape} table, expected "
                         f"({_N}, {_SIDE * _SIDE + 1}); the package data is damaged")
    pixels, labels = table[:, :-1], table[:, -1]
    if pixels.min() < 0 or pixels.max() > 16 or labels.min() < 0 or labels.max() > 9:
        raise ValueError(f"load_digits: {_FILE} has pixels outside 0..16 or labels outside "
                         "0..9; the package data is damaged")
    return pixels.astype(np.uint8), labels


def _test_mask(labels: np.ndarray) -> np.ndarray:
    """True for the test images: every ``_TEST_EVERY``-th image of each class."""
    rank = np.empty(len(labels), dtype=np.int64)  # position of each image within its class
    for c in range(len(DIGITS_CLASSES)):
        where = np.flatnonzero(labels == c)
        rank[where] = np.arange(len(where))
    return rank % _TEST_EVERY == _TEST_EVERY - 1


def load_digits(split: str = "train", *, return_index: bool = False):
    """The handwritten digits as ``(images, labels)`` NumPy arrays.

    - ``images``: float32, shape (N, 1, 8, 8) (NCHW, one channel), each pixel the
      number of inked points in a 4x4 block of the 32x32 original, 0..16, divided
      by 16 so it lies in [0, 1].
    - ``labels``: int64, shape (N,), the digit 0..9.

    ``split``: "train" (1,442 images), "test" (355) or "all" (1,797, the file's
    order).  The split is fixed and involves no randomness: taking each digit's
    images in file order, every fifth one (the 5th, 10th, ...) is a test image, so
    both parts hold every digit in the same proportions (34 to 36 test images per
    digit) and the split is the same on every machine and NumPy version.  Images
    keep the file's order within each part.  With ``return_index=True`` a third
    array gives each image's row in the file (0..1796).

    No download: the data (a 58 KB file) ships inside the package.  Source: E.
    Alpaydin, C. Kaynak (1998), UCI Machine Learning Repository,
    https://doi.org/10.24432/C50P49, licensed CC BY 4.0.

        images, labels = load_digits("train")
        loader = gg.utils.data.DataLoader(gg.utils.data.TensorDataset(images, labels),
                                    batch_size=32, shuffle=True)
    """
    if split not in _SPLITS:
        raise ValueError(f"load_digits: split must be one of {_SPLITS}, got {split!r}")
    pixels, labels = _read()
    if split == "all":
        index = np.arange(len(labels))
    else:
        test = _test_mask(labels)
        index = np.flatnonzero(test if split == "test" else ~test)
    images = (pixels[index] / np.float32(16)).astype(np.float32).reshape(-1, 1, _SIDE, _SIDE)
    result = (images, labels[index].copy())
    return (*result, index) if return_index else result
