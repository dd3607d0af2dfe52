"""The differentiable operations.  Importing this package attaches them to Tensor."""
from . import conv, elementwise, index, inplace, linalg, reduce, shape  # noqa: F401
