"""The differentiable operations.  Importing this package attaches them to Tensor."""
from . import (  # noqa: F401
    binary, blas, conv, conversion, diagonal, elementwise, index, inplace, linalg, movement,
    padding, pointwise, rearrange, reduce, remainder, scatter, shape, sort, special, statistics,
)
from . import (  # noqa: F401  (issue 15's scans, order statistics, counting and truth tests)
    counting, order_stats, scan, truth,
)
