"""Small synthetic 2-D classification datasets, the kind the course draws by hand.

Each function returns ``(X, y)``: ``X`` float32 of shape (n, 2), ``y`` int64 of
shape (n,), classes balanced (the first ``n % k`` classes get one point more)
and stored class by class.  Each call draws from its own
``np.random.default_rng(seed)``, so a dataset does not depend on (or disturb)
``gg.manual_seed``.  ``split`` shuffles a dataset into train and dev parts.
"""
from __future__ import annotations

import numpy as np


def _counts(n: int, classes: int) -> list[int]:
    if n < classes or classes < 1:
        raise ValueError(f"need at least one point per class: n={n}, classes={classes}")
    return [n // classes + (j < n % classes) for j in range(classes)]


def _pack(parts: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    X = np.concatenate(parts).astype(np.float32)
    y = np.concatenate([np.full(len(p), j, dtype=np.int64) for j, p in enumerate(parts)])
    return X, y


def _polar(r: np.ndarray, t: np.ndarray) -> np.ndarray:
    return np.stack([r * np.sin(t), r * np.cos(t)], axis=1)


def flower(n: int = 400, petals: int = 4, noise: float = 0.2, seed: int = 1):
    """The course's planar "flower": two classes interleaved along the curve r = 4 sin(k t).

    Class j takes angles t in [3.12 j, 3.12 (j + 1)] (plus noise), radius
    ``4 sin(petals t)`` (plus noise), and the point (r sin t, r cos t); with
    ``petals=4`` each class holds alternate petals, which no straight line
    separates (logistic regression stays near 50%).
    """
    rng = np.random.default_rng(seed)
    parts = []
    for j, m in enumerate(_counts(n, 2)):
        t = np.linspace(3.12 * j, 3.12 * (j + 1), m) + noise * rng.standard_normal(m)
        r = 4.0 * np.sin(petals * t) + noise * rng.standard_normal(m)
        parts.append(_polar(r, t))
    return _pack(parts)


def moons(n: int = 300, noise: float = 0.2, seed: int = 0):
    """Two interleaved half circles (as scikit-learn's ``make_moons``).

    Class 0 lies on the upper unit half circle, class 1 on the lower half circle
    of radius 1 centred at (1, 0.5); Gaussian noise of std ``noise`` is added.
    """
    rng = np.random.default_rng(seed)
    m0, m1 = _counts(n, 2)
    a0, a1 = np.linspace(0, np.pi, m0), np.linspace(0, np.pi, m1)
    parts = [np.stack([np.cos(a0), np.sin(a0)], axis=1),
             np.stack([1 - np.cos(a1), 0.5 - np.sin(a1)], axis=1)]
    return _pack([p + noise * rng.standard_normal(p.shape) for p in parts])


def circles(n: int = 300, noise: float = 0.05, factor: float = 0.5, seed: int = 0):
    """Two concentric circles (as scikit-learn's ``make_circles``): class 0 of radius 1,
    class 1 of radius ``factor``, points evenly spaced in angle, plus Gaussian noise."""
    rng = np.random.default_rng(seed)
    parts = []
    for radius, m in zip((1.0, factor), _counts(n, 2), strict=True):
        a = np.linspace(0, 2 * np.pi, m, endpoint=False)
        p = radius * np.stack([np.cos(a), np.sin(a)], axis=1)
        parts.append(p + noise * rng.standard_normal(p.shape))
    return _pack(parts)


def blobs(n: int = 300, centers=3, std: float = 1.0, radius: float = 3.0, seed: int = 0):
    """Gaussian blobs: class j is ``centers[j] + std * N(0, I)``.

    ``centers`` is a (k, 2) array, or an int k for k centres evenly spaced on a
    circle of ``radius`` around the origin (the first at (radius, 0)).
    """
    rng = np.random.default_rng(seed)
    if np.ndim(centers) == 0:
        a = 2 * np.pi * np.arange(int(centers)) / int(centers)
        centers = radius * np.stack([np.cos(a), np.sin(a)], axis=1)
    centers = np.asarray(centers, dtype=np.float64)
    parts = [c + std * rng.standard_normal((m, 2))
             for c, m in zip(centers, _counts(n, len(centers)), strict=True)]
    return _pack(parts)


def spirals(n: int = 300, classes: int = 3, noise: float = 0.2, turns: float = 0.75,
            seed: int = 0):
    """Interleaved spiral arms (as in Stanford's CS231n): arm j has radius growing
    from 0 to 1 while its angle turns ``turns`` times around, rotated by 2 pi j / k;
    ``noise`` perturbs the angle (radians).  Needs a non-linear classifier."""
    rng = np.random.default_rng(seed)
    parts = []
    for j, m in enumerate(_counts(n, classes)):
        r = np.linspace(0.0, 1.0, m)
        t = (np.linspace(0.0, 2 * np.pi * turns, m) + 2 * np.pi * j / classes
             + noise * rng.standard_normal(m))
        parts.append(_polar(r, t))
    return _pack(parts)


def split(X: np.ndarray, y: np.ndarray, dev: float = 0.25, seed: int = 0):
    """Shuffle and split into ``X_train, y_train, X_dev, y_dev``; ``dev`` is the dev
    fraction (rounded to a whole number of rows, at least one row on each side)."""
    if len(X) != len(y):
        raise ValueError(f"split: X has {len(X)} rows but y has {len(y)}")
    if not 0 < dev < 1 or len(X) < 2:
        raise ValueError(f"split: need 0 < dev < 1 and two rows, got dev={dev}, n={len(X)}")
    order = np.random.default_rng(seed).permutation(len(X))
    n_dev = min(max(round(dev * len(X)), 1), len(X) - 1)
    train, dev_rows = order[n_dev:], order[:n_dev]
    return X[train], y[train], X[dev_rows], y[dev_rows]
