"""The diagonal family: ``diagonal`` (a view, as PyTorch's), ``diag``, ``diag_embed``,
``trace``.

Diagonal ``offset`` of the matrix over dims (dim1, dim2) holds the elements
``[i, i + offset]`` (offset >= 0) or ``[i - offset, i]`` (offset < 0).  ``diagonal``
is a primitive whose forward views the input's memory; its gradient puts g on the
same diagonal of zeros (``on_diagonal``: an ``INDEX_ADD`` at the diagonal's
positions, whose own gradient reads the diagonal back), so every order is
differentiable.  ``diag_embed`` is that placement; ``diag`` and ``trace`` are
compositions.
"""
from __future__ import annotations

import numpy as np

from .._shapes import normalize_dim
from ..arrays import namespace
from ..graph import apply
from ..tensor import Tensor, tensor_arg, unwrap
from ._args import method
from ._registry import Op
from .elementwise import clone
from .index import INDEX_ADD
from .shape import _inverse, mark_view, not_a_view


def _positions(xp, rows: int, cols: int, offset: int) -> tuple:
    """Row and column indices of diagonal ``offset`` of a rows x cols matrix, arrays of
    the array module ``xp``."""
    first_row, first_col = max(-offset, 0), max(offset, 0)
    length = max(min(rows - first_row, cols - first_col), 0)
    return xp.arange(first_row, first_row + length), xp.arange(first_col, first_col + length)


def on_diagonal(g, shape: tuple, offset: int, dim1: int, dim2: int):
    """Zeros of ``shape`` with g's last dim on diagonal ``offset`` of dims (dim1, dim2), and
    g's other dims in the other dims, in order: the adjoint of ``diagonal``."""
    axes = tuple(d for d in range(len(shape)) if d not in (dim1, dim2)) + (dim1, dim2)
    moved = tuple(shape[a] for a in axes)
    rows, cols = _positions(namespace(unwrap(g)), moved[-2], moved[-1], offset)
    placed = INDEX_ADD(g, index=(Ellipsis, rows, cols), shape=moved)
    return placed.transpose(_inverse(axes))


def _diagonal_view(x, offset: int, dim1: int, dim2: int):
    xp = namespace(x)
    view = xp.diagonal(x, offset, dim1, dim2)
    # NumPy's is read-only; PyTorch's and CuPy's can be written through
    if xp is np and x.flags.writeable:
        view.flags.writeable = True
    return view


DIAGONAL = Op("diagonal", _diagonal_view,
              lambda g, out, x, offset, dim1, dim2: on_diagonal(g, x.shape, offset, dim1, dim2),
              meta=True)


def _two_dims(name: str, dim1: int, dim2: int, ndim: int) -> tuple:
    d1, d2 = normalize_dim(name, dim1, ndim), normalize_dim(name, dim2, ndim)
    if d1 == d2:
        raise RuntimeError(f"{name}: dim1 and dim2 cannot be the same dim, got {dim1} and {dim2}")
    return d1, d2


@method()
def diagonal(input, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """Diagonal ``offset`` of the matrices over dims (dim1, dim2), as the last dim of the
    result (the other dims kept in order); empty where the offset is past the matrix.
    A view: it shares the input's memory, as PyTorch's.  The gradient is g on the same
    diagonal of zeros."""
    x = tensor_arg(input)
    if x._data.ndim < 2:
        raise RuntimeError(f"diagonal: expected a tensor with at least 2 dims, got shape "
                           f"{x.shape}")
    d1, d2 = _two_dims("diagonal", dim1, dim2, x._data.ndim)
    out = apply(DIAGONAL, (x,), {"offset": int(offset), "dim1": d1, "dim2": d2})
    return mark_view(out, x)


@method()
def diag_embed(input, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """A tensor with one more dim whose matrices over (dim1, dim2), of side n + |offset|
    for an input's last dim of size n, hold that last dim on diagonal ``offset`` and
    zeros elsewhere.  The gradient reads g's diagonal back."""
    x = tensor_arg(input)
    if x._data.ndim < 1:
        raise RuntimeError("diag_embed: expected a tensor with at least 1 dim, got a 0-d one")
    ndim = x._data.ndim + 1
    d1, d2 = _two_dims("diag_embed", dim1, dim2, ndim)
    side = x._data.shape[-1] + abs(int(offset))
    batch = iter(x._data.shape[:-1])
    shape = tuple(side if d in (d1, d2) else next(batch) for d in range(ndim))
    return not_a_view(on_diagonal(x, shape, int(offset), d1, d2))


@method()
def diag(input, diagonal: int = 0) -> Tensor:
    """For a vector: the square matrix with it on diagonal ``diagonal`` (``diag_embed``);
    for a matrix: a copy of its diagonal ``diagonal``."""
    x = tensor_arg(input)
    if x._data.ndim == 1:
        return diag_embed(x, diagonal)
    if x._data.ndim == 2:
        return clone(x.diagonal(diagonal))  # (the argument hides the function's name)
    raise RuntimeError(f"diag: expected a 1-D or 2-D tensor, got shape {x.shape}")


@method()
def trace(input) -> Tensor:
    """The sum of a matrix's main diagonal; the gradient is g on the diagonal."""
    x = tensor_arg(input)
    if x._data.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, got shape {x.shape}")
    return diagonal(x).sum()
