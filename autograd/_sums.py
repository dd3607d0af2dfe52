"""Short sums as matrix products: ``sum_kept``.

NumPy's ``add.reduce`` spends 20-50 ns on each row it sums.  Over rows of a few dozen
to a thousand elements (a softmax's row, a layer norm's features, a bias gradient
summed over a few hundred positions) that is 3-5x the time BLAS takes for the same
sums as a product with a vector of ones.  Both accumulate in the array's precision
with several partial sums, so at these lengths they are equally accurate; longer sums
keep NumPy's pairwise summation.
"""
from __future__ import annotations

import math

import numpy as np

from .arrays import is_array, namespace

MAX_TERMS = 1024  # the longest sum done as a product
_BLAS_DTYPES = (np.float32, np.float64)


def sum_kept(a, dims: tuple):
    """``a`` summed over ``dims`` (increasing), kept as dims of size 1; an array or a
    Tensor (whose own ``sum`` records the op)."""
    if not is_array(a):
        return a.sum(axis=dims, keepdims=True)
    xp = namespace(a)
    count = math.prod(a.shape[d] for d in dims)
    if 1 < count <= MAX_TERMS and a.dtype in _BLAS_DTYPES and a.flags.c_contiguous:
        kept = tuple(1 if d in dims else n for d, n in enumerate(a.shape))
        ones = xp.ones(count, dtype=a.dtype)
        if dims == tuple(range(a.ndim - len(dims), a.ndim)):  # the trailing dims: rows
            return (a.reshape(-1, count) @ ones).reshape(kept)
        if dims == tuple(range(len(dims))):  # the leading dims: columns
            return (ones @ a.reshape(count, -1)).reshape(kept)
    return xp.add.reduce(a, axis=dims, keepdims=True)
