"""The differentiable operations.  Importing this package attaches them to Tensor."""
from . import (  # noqa: F401
    conv, conversion, elementwise, index, inplace, linalg, padding, rearrange, reduce, remainder,
    shape, sort,
)
