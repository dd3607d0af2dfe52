"""Ops that move or mask elements within a tensor's shape: roll, tril, triu.

All are compositions of differentiable ops, so their gradients (and higher ones)
come with no rule of their own: ``roll`` is two slices joined by ``cat`` per rolled
dim (its gradient is the opposite roll); ``tril``/``triu`` are a ``where`` with a
constant triangular mask (the gradient is g under the same mask).
"""
from __future__ import annotations

import numpy as np

from .._shapes import normalize_dim
from ..arrays import namespace
from ..tensor import Tensor, tensor_arg
from ._args import method
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
    xp = namespace(x._data)
    rows, cols = x._data.shape[-2:]
    # tri(k): ones on and below diagonal k; the upper triangle is the rest of k - 1.
    below = xp.tri(rows, cols, int(diagonal) if lower else int(diagonal) - 1, dtype=np.bool_)
    zero = Tensor._make(xp.zeros((), dtype=x._data.dtype))
    return where(Tensor._make(below if lower else ~below), x, zero)


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


@method()
def repeat(input, *sizes) -> Tensor:
    """The tensor tiled ``sizes[i]`` times along each dim (``Tensor.repeat``): sizes as
    ints or one sequence, at least as many as dims (extra ones add leading dims).

    Composed as reshape to (1, s0, 1, s1, ...), expand to (r0, s0, r1, s1, ...) and
    reshape to (r0 s0, r1 s1, ...): the gradient sums the copies back (expand's rule).
    """
    x = tensor_arg(input)
    reps = tuple(int(r) for r in (sizes[0] if len(sizes) == 1 and isinstance(
        sizes[0], (tuple, list)) else sizes))
    if len(reps) < x._data.ndim or any(r < 0 for r in reps):
        raise ValueError(f"repeat: give one non-negative count per dim, at least {x._data.ndim}, "
                         f"for shape {x.shape}; got {reps}")
    shape = (1,) * (len(reps) - x._data.ndim) + x._data.shape
    spread = tuple(n for s in shape for n in (1, s))
    tiled = tuple(n for r, s in zip(reps, shape, strict=True) for n in (r, s))
    out = x.reshape(spread).expand(tiled)
    return not_a_view(clone(out).reshape(tuple(r * s for r, s in zip(reps, shape, strict=True))))


@method()
def tile(input, dims) -> Tensor:
    """``repeat`` with ``dims`` padded by leading 1s to the tensor's number of dims."""
    x = tensor_arg(input)
    dims = _ints(dims)
    return repeat(x, (1,) * (x._data.ndim - len(dims)) + tuple(dims))
