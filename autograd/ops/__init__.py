"""The differentiable operations.  Importing this package attaches them to Tensor."""
from . import (  # noqa: F401
    conv, conversion, diagonal, elementwise, index, inplace, linalg, movement, padding, rearrange,
    reduce, remainder, scatter, shape, sort,
)
