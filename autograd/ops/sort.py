"""Sorting: sort, msort, argsort and topk, as PyTorch's.

The order comes from NumPy's stable argsort; the values are then gathered with
``take_along_dim``, so the gradient of each returned value goes to the element it
came from and no rule is needed here.

Ties and NaN, the same in every function and in both directions: equal elements
keep their order of position (the lower index first), so ``topk`` picks the lowest
indices among tied values; NaN counts as larger than every number (last when
ascending, first when descending and for ``topk(largest=True)``).  PyTorch leaves
the order of ties unspecified unless ``stable=True``; here it is always the stable
one, so results do not depend on the machine.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from .._shapes import normalize_dim
from ..arrays import namespace
from ..tensor import Tensor, tensor_arg
from ._args import method
from .index import take_along_dim

SortResult = namedtuple("sort", ["values", "indices"])
TopKResult = namedtuple("topk", ["values", "indices"])


def _order(a, dim: int, descending: bool):
    """Stable argsort along ``dim`` (on a's device); descending sorts the reversed array
    ascending and reverses back, which keeps tied elements in increasing order of
    position."""
    xp = namespace(a)
    if not descending:
        return xp.argsort(a, axis=dim, kind="stable")
    n = a.shape[dim]
    flipped = xp.argsort(xp.flip(a, axis=dim), axis=dim, kind="stable")
    return n - 1 - xp.flip(flipped, axis=dim)


def _dim(name: str, x: Tensor, dim) -> int:
    """``dim`` normalised; a 0-d tensor is treated as one element along dim 0 (or -1)."""
    return normalize_dim(name, dim, max(x._data.ndim, 1))


def _as_vector(x: Tensor) -> Tensor:
    return x.reshape(1) if x._data.ndim == 0 else x


def _restore(x: Tensor, values: Tensor, indices) -> tuple:
    if x._data.ndim == 0:
        return values.reshape(()), indices.reshape(())
    return values, indices


@method()
def sort(input, dim: int = -1, descending: bool = False, *, stable: bool = False) -> SortResult:
    """``(values, indices)``: the elements along ``dim`` in increasing order (decreasing
    with ``descending``) and the int64 positions they came from.  The gradient of
    values[..., i] goes to input[..., indices[..., i]].  Ties keep their order of
    position (``stable`` is accepted; the sort is always stable).
    """
    x = tensor_arg(input)
    d = _dim("sort", x, dim)
    v = _as_vector(x)
    order = _order(v._data, d, descending)
    values, order = _restore(x, take_along_dim(v, order, d), order)
    return SortResult(values, Tensor._make(order.astype(np.int64, copy=False)))


@method()
def msort(input) -> Tensor:
    """``sort(input, dim=0).values``: the elements sorted along the first dim."""
    return sort(input, 0).values


@method()
def argsort(input, dim: int = -1, descending: bool = False, *, stable: bool = False) -> Tensor:
    """The int64 indices that sort ``input`` along ``dim`` (``sort(...).indices``); no
    gradient."""
    x = tensor_arg(input)
    d = _dim("argsort", x, dim)
    order = _order(_as_vector(x)._data, d, descending)
    return Tensor._make(order.astype(np.int64, copy=False).reshape(x._data.shape))


@method()
def topk(input, k: int, dim: int | None = None, largest: bool = True,
         sorted: bool = True) -> TopKResult:
    """``(values, indices)`` of the ``k`` largest elements along ``dim`` (default the
    last; the smallest with ``largest=False``), in sorted order.  Among tied values
    the lower indices are taken.  ``sorted=False`` gives the same, sorted, result
    (PyTorch leaves that order unspecified).  The gradient of each value goes to the
    element it came from.
    """
    x = tensor_arg(input)
    d = _dim("topk", x, -1 if dim is None else dim)
    v = _as_vector(x)
    n = v._data.shape[d]
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"topk: k must be an int, got {k!r}")
    if not 0 <= k <= n:
        raise ValueError(f"topk: k = {k} is out of range for dim {d} of size {n} "
                         f"(input shape {x.shape})")
    order = _order(v._data, d, largest)
    order = order[(slice(None),) * d + (slice(0, k),)]
    if x._data.ndim == 0 and k == 0:  # PyTorch returns the element itself
        order = namespace(order).zeros(1, dtype=np.int64)
    values, order = _restore(x, take_along_dim(v, order, d), order)
    return TopKResult(values, Tensor._make(order.astype(np.int64, copy=False)))
