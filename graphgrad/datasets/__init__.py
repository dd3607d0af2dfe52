"""Small real data sets shipped inside the package, so examples run offline.

    from graphgrad.datasets import load_digits
    images, labels = load_digits("train")   # (1442, 1, 8, 8) float32 in [0, 1], int64

No download at run time: the files live in ``autograd/datasets/data/`` with their
licences in ``data/NOTICE``.
"""
from .digits import DIGITS_CLASSES, load_digits

__all__ = ["load_digits", "DIGITS_CLASSES"]
