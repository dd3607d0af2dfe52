"""Factories: zeros, ones, full, arange, eye, rand, randn, empty and the *_like forms.

Shapes are given as a tuple or as separate ints; floats default to float32 and
``requires_grad=True`` makes a leaf that requires grad.
"""
from __future__ import annotations

import numpy as np

from .random import generator
from .tensor import Tensor, get_default_dtype


def _shape(size) -> tuple:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    return tuple(int(n) for n in size)


def _leaf(data: np.ndarray, requires_grad: bool) -> Tensor:
    t = Tensor._make(data)
    if requires_grad:
        t.requires_grad_(True)
    return t


def tensor(data, requires_grad: bool = False, dtype=None) -> Tensor:
    """A new leaf tensor holding a copy of ``data`` (same as ``Tensor(...)``)."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def zeros(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    return _leaf(np.zeros(_shape(size), dtype=dtype or get_default_dtype()), requires_grad)


def ones(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    return _leaf(np.ones(_shape(size), dtype=dtype or get_default_dtype()), requires_grad)


def empty(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    return _leaf(np.empty(_shape(size), dtype=dtype or get_default_dtype()), requires_grad)


def full(size, fill_value, dtype=None, requires_grad: bool = False) -> Tensor:
    if dtype is None:
        is_float = isinstance(fill_value, float)
        dtype = get_default_dtype() if is_float else np.asarray(fill_value).dtype
    return _leaf(np.full(_shape((size,)), fill_value, dtype=dtype), requires_grad)


def zeros_like(x, dtype=None, requires_grad: bool = False) -> Tensor:
    return _leaf(np.zeros(np.shape(_arr(x)), dtype=dtype or _arr(x).dtype), requires_grad)


def ones_like(x, dtype=None, requires_grad: bool = False) -> Tensor:
    return _leaf(np.ones(np.shape(_arr(x)), dtype=dtype or _arr(x).dtype), requires_grad)


def full_like(x, fill_value, dtype=None, requires_grad: bool = False) -> Tensor:
    return _leaf(np.full(np.shape(_arr(x)), fill_value, dtype=dtype or _arr(x).dtype),
                 requires_grad)


def rand_like(x, dtype=None, requires_grad: bool = False) -> Tensor:
    return rand(np.shape(_arr(x)), dtype=dtype or _arr(x).dtype, requires_grad=requires_grad)


def randn_like(x, dtype=None, requires_grad: bool = False) -> Tensor:
    return randn(np.shape(_arr(x)), dtype=dtype or _arr(x).dtype, requires_grad=requires_grad)


def _arr(x) -> np.ndarray:
    return x._data if isinstance(x, Tensor) else np.asarray(x)


def arange(start, end=None, step=1, dtype=None, requires_grad: bool = False) -> Tensor:
    """Values from ``start`` (default 0) up to ``end`` (excluded) by ``step``.  Integer
    arguments give int64, float ones float32."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        is_float = any(isinstance(v, float) for v in (start, end, step))
        dtype = get_default_dtype() if is_float else np.int64
    return _leaf(np.arange(start, end, step).astype(dtype), requires_grad)


def linspace(start, end, steps: int, dtype=None, requires_grad: bool = False) -> Tensor:
    return _leaf(np.linspace(start, end, steps).astype(dtype or get_default_dtype()), requires_grad)


def eye(n: int, m: int | None = None, dtype=None, requires_grad: bool = False) -> Tensor:
    return _leaf(np.eye(n, m, dtype=dtype or get_default_dtype()), requires_grad)


def rand(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1) from the project's seeded generator."""
    dtype = np.dtype(dtype or get_default_dtype())
    return _leaf(generator().random(_shape(size)).astype(dtype), requires_grad)


def randn(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples from the project's seeded generator."""
    dtype = np.dtype(dtype or get_default_dtype())
    return _leaf(generator().standard_normal(_shape(size)).astype(dtype), requires_grad)


def randint(low: int, high: int | None = None, size=(), dtype=np.int64) -> Tensor:
    """Integers in [low, high) from the project's seeded generator."""
    if high is None:
        low, high = 0, low
    return _leaf(generator().integers(low, high, size=_shape((size,))).astype(dtype), False)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing ``array``'s memory (as ``torch.from_numpy``), dtype kept."""
    return Tensor._make(np.asarray(array))
