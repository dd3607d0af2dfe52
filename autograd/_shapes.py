"""Shape helpers shared by the engine and the operations, and sums over dims.

``sum_to`` is the one place where broadcasting is undone: the engine applies it
to the gradients of operations that broadcast their inputs.  It takes arrays or
Tensors alike (``sum_kept`` records a Tensor's sum), so it works in both backward
modes.

``sum_kept`` does short sums as matrix products.  NumPy's ``add.reduce`` spends
20-50 ns on each row it sums.  Over rows of a few dozen to a thousand elements (a
softmax's row, a layer norm's features, a bias gradient summed over a few hundred
positions) that is 3-5x the time BLAS takes for the same sums as a product with a
vector of ones.  Both accumulate in the array's precision with several partial sums,
so at these lengths they are equally accurate; longer sums keep NumPy's pairwise
summation.
"""
from __future__ import annotations

import math

import numpy as np

from .arrays import is_array, namespace

MAX_SUMMED_BY_PRODUCT = 1024  # the longest sum that sum_kept does as a product
_BLAS_DTYPES = (np.float32, np.float64)


def kept_shape(shape: tuple, dims: tuple) -> tuple:
    """``shape`` reduced over ``dims``, which stay as dims of size 1."""
    return tuple(1 if d in dims else n for d, n in enumerate(shape))


def sum_kept(a, dims: tuple):
    """``a`` summed over ``dims`` (increasing), kept as dims of size 1; an array or a
    Tensor (whose own ``sum`` records the op)."""
    if not is_array(a):
        return a.sum(axis=dims, keepdims=True)
    xp = namespace(a)
    count = math.prod(a.shape[d] for d in dims)
    if 1 < count <= MAX_SUMMED_BY_PRODUCT and a.dtype in _BLAS_DTYPES and \
            a.flags.c_contiguous:
        ones = xp.ones(count, dtype=a.dtype)
        if dims == tuple(range(a.ndim - len(dims), a.ndim)):  # the trailing dims: rows
            return (a.reshape(-1, count) @ ones).reshape(kept_shape(a.shape, dims))
        if dims == tuple(range(len(dims))):  # the leading dims: columns
            return (ones @ a.reshape(count, -1)).reshape(kept_shape(a.shape, dims))
    return xp.add.reduce(a, axis=dims, keepdims=True)


def sum_to(g, shape: tuple):
    """Sum ``g`` over the dimensions that broadcasting added or stretched to get ``shape``.

    If ``y = broadcast_to(x, g.shape)`` then ``dL/dx = sum_to(dL/dy, x.shape)``.
    """
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1
    )
    if axes:
        g = sum_kept(g, axes)
    return g.reshape(shape) if lead else g


def broadcast_shapes(op: str, *shapes: tuple) -> tuple:
    """The NumPy broadcast of ``shapes``, or a ValueError naming ``op`` and the shapes."""
    ndim = max(len(s) for s in shapes)
    result = []
    for i in range(-ndim, 0):
        size = 1
        for s in shapes:
            n = s[i] if -i <= len(s) else 1
            if n != 1:
                if size != 1 and n != size:
                    listed = " and ".join(str(tuple(s)) for s in shapes)
                    raise ValueError(f"{op}: shapes {listed} cannot be broadcast together")
                size = n
        result.append(size)
    return tuple(result)


def normalize_dim(op: str, dim: int, ndim: int) -> int:
    """``dim`` as a non-negative index into ``ndim`` dimensions, or an IndexError naming op."""
    if not isinstance(dim, (int,)) or isinstance(dim, bool):
        try:
            dim = int(dim.__index__())
        except (AttributeError, TypeError):
            raise TypeError(f"{op}: dim must be an integer, got {dim!r}") from None
    lo = -ndim if ndim else -1
    hi = ndim - 1 if ndim else 0
    if not lo <= dim <= hi:
        raise IndexError(
            f"{op}: dim {dim} is out of range for a tensor with {ndim} dimensions "
            f"(expected a dim in [{lo}, {hi}])"
        )
    return dim % ndim if ndim else 0


def normalize_dims(op: str, dim, ndim: int) -> tuple:
    """``dim`` (None, an int or a sequence of ints) as a sorted tuple of distinct dims."""
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, (list, tuple)):
        dims = tuple(sorted(normalize_dim(op, d, ndim) for d in dim))
        if len(set(dims)) != len(dims):
            raise ValueError(f"{op}: dim {tuple(dim)} repeats a dimension")
        return dims
    return (normalize_dim(op, dim, ndim),)
