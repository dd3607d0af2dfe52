"""The differentiable operations.  Importing this package attaches them to Tensor."""
from . import (  # noqa: F401
    binary, blas, conv, conversion, diagonal, elementwise, index, inplace, linalg, movement,
    padding, pointwise, rearrange, reduce, remainder, scatter, shape, sort, special, statistics,
)
from . import order_stats, scan  # noqa: F401  (issue 15's scans and order statistics)
