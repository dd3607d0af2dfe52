"""Ops that move or mask elements within a tensor's shape: roll, tril, triu.

All are compositions of differentiable ops, so their gradients (and higher ones)
come with no rule of their own: ``roll`` is two slices joined by ``cat`` per rolled
dim (its gradient is the opposite roll); ``tril``/``triu`` are a ``where`` with a
constant triangular mask (the gradient is g under the same mask).
"""
from __future__ import annotations

import numpy as np

from .._shapes import normalize_dim
from ..tensor import Tensor
from ._args import method, tensor_arg
from .elementwise import clone, where
from .shape import cat, not_a_view


def _ints(value) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


@method()
def roll(input, shifts, dims=None) -> Tensor:
    """Shift the elements along ``dims`` by ``shifts`` places, cyclically: those pushed
    past the end come back at the start.  ``shifts`` and ``dims`` are ints or tuples of
    the same length; with ``dims=None`` the tensor is rolled as if flattened.
    """
    x = tensor_arg(input)
    shifts = _ints(shifts)
    if dims is None:
        if len(shifts) != 1:
            raise ValueError(f"roll: shifts {shifts} and dims must align: with dims=None, "
                             f"give one shift")
        # The reshape views the rolled copy, which only the result holds and no rule saved.
        return not_a_view(roll(x.reshape(-1), shifts, 0).reshape(x._data.shape))
    dims = _ints(dims)
    if len(shifts) != len(dims) or not shifts:
        raise ValueError(f"roll: shifts {shifts} and dims {dims} must align (one shift per dim)")
    out = x
    for shift, dim in zip(shifts, dims, strict=True):
        d = normalize_dim("roll", dim, max(x._data.ndim, 1))
        n = x._data.shape[d] if x._data.ndim else 1
        k = int(shift) % n if n else 0
        if k:
            head = (slice(None),) * d
            out = cat([out[head + (slice(n - k, None),)], out[head + (slice(0, n - k),)]], d)
    return clone(out) if out is x else out  # a new tensor, as PyTorch's, even for no shift


def _triangle(name: str, x, diagonal: int, lower: bool) -> Tensor:
    x = tensor_arg(x)
    if x._data.ndim < 2:
        raise ValueError(f"{name}: input tensor must have at least 2 dimensions, "
                         f"got shape {x.shape}")
    rows, cols = x._data.shape[-2:]
    # np.tri(k): ones on and below diagonal k; the upper triangle is the rest of k - 1.
    below = np.tri(rows, cols, int(diagonal) if lower else int(diagonal) - 1, dtype=np.bool_)
    zero = Tensor._make(np.zeros((), dtype=x._data.dtype))
    return where(below if lower else ~below, x, zero)


@method()
def tril(input, diagonal: int = 0) -> Tensor:
    """The lower triangle of the last two dims: x[..., i, j] where j - i <= diagonal, 0
    elsewhere.  ``diagonal`` > 0 keeps diagonals above the main one, < 0 drops more.
    The gradient is g under the same mask."""
    return _triangle("tril", input, diagonal, lower=True)


@method()
def triu(input, diagonal: int = 0) -> Tensor:
    """The upper triangle of the last two dims: x[..., i, j] where j - i >= diagonal, 0
    elsewhere.  The gradient is g under the same mask."""
    return _triangle("triu", input, diagonal, lower=False)
