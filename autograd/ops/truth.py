"""Truth tests, as PyTorch's: all, any (over dims), isclose, allclose and equal.  No
gradients: the results are bool tensors or Python bools."""
from __future__ import annotations

import numpy as np

from .._shapes import broadcast_shapes, normalize_dims
from ..arrays import namespace
from ..graph import check_same_device
from ..tensor import Tensor, tensor_arg
from ._args import method


def _truth(name: str):
    def reduce(input, dim=None, keepdim: bool = False) -> Tensor:
        a = tensor_arg(input)._data
        dims = () if a.ndim == 0 else normalize_dims(name, dim, a.ndim)
        out = getattr(a != 0, name)(axis=dims, keepdims=keepdim)  # (the array's all / any)
        # uint8 inputs give uint8, as PyTorch's; every other dtype gives bool
        dtype = np.uint8 if a.dtype == np.uint8 else bool
        return Tensor._make(namespace(a).asarray(out, dtype=dtype))

    reduce.__name__ = name
    return method()(reduce)


all = _truth("all")
all.__doc__ = """Whether every element over ``dim`` (int or tuple; all when None) is nonzero
(True for none)."""
any = _truth("any")
any.__doc__ = """Whether some element over ``dim`` (int or tuple; all when None) is nonzero
(False for none)."""


def _close_operands(name: str, input, other) -> tuple:
    if not isinstance(other, Tensor):
        raise TypeError(f"{name}: other must be a Tensor, got {type(other).__name__}")
    check_same_device(name, (tensor_arg(input), other))
    a, b = tensor_arg(input)._data, other._data
    if a.dtype != b.dtype:
        raise TypeError(f"{name}: the dtypes {a.dtype} and {b.dtype} must match")
    broadcast_shapes(name, a.shape, b.shape)
    return a, b


def _close(a, b, rtol: float, atol: float, equal_nan: bool):
    if rtol < 0 or atol < 0:
        raise ValueError(f"isclose: rtol and atol must be >= 0, got rtol={rtol}, atol={atol}")
    return namespace(a).isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)


@method()
def isclose(input, other, rtol: float = 1e-05, atol: float = 1e-08,
            equal_nan: bool = False) -> Tensor:
    """|input - other| <= atol + rtol |other| elementwise (broadcasting); infinities are
    close to themselves only, NaN to NaN only with ``equal_nan``."""
    a, b = _close_operands("isclose", input, other)
    return Tensor._make(namespace(a).asarray(_close(a, b, rtol, atol, equal_nan)))


@method()
def allclose(input, other, rtol: float = 1e-05, atol: float = 1e-08,
             equal_nan: bool = False) -> bool:
    """Whether ``isclose`` holds everywhere: a Python bool."""
    a, b = _close_operands("allclose", input, other)
    return bool(_close(a, b, rtol, atol, equal_nan).all())


@method()
def equal(input, other) -> bool:
    """Whether both have the same shape and equal elements (NaN is not equal to NaN): a
    Python bool."""
    input, other = tensor_arg(input), tensor_arg(other)
    check_same_device("equal", (input, other))
    a, b = input._data, other._data
    return a.shape == b.shape and bool((a == b).all())
