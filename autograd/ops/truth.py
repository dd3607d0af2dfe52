"""Truth tests, as PyTorch's: all, any (over dims), isclose, allclose and equal.  No
gradients: the results are bool tensors or Python bools."""
from __future__ import annotations

import numpy as np

from .._shapes import broadcast_shapes, normalize_dims
from ..arrays import namespace, namespace_of
from ..graph import apply
from ..tensor import Tensor, tensor_arg
from ._args import method
from ._registry import Op


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


def _close_operands(name: str, input, other, rtol: float, atol: float) -> tuple:
    if not isinstance(other, Tensor):
        raise TypeError(f"{name}: other must be a Tensor, got {type(other).__name__}")
    input = tensor_arg(input)
    if input.dtype != other.dtype:
        raise TypeError(f"{name}: the dtypes {input.dtype} and {other.dtype} must match")
    broadcast_shapes(name, input.shape, other.shape)
    if rtol < 0 or atol < 0:
        raise ValueError(f"{name}: rtol and atol must be >= 0, got rtol={rtol}, atol={atol}")
    return input, other


def _isclose(a, b, rtol: float, atol: float, equal_nan: bool):
    return namespace_of(a, b).isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)


def _equal(a, b):
    return (a == b).all() if a.shape == b.shape else namespace_of(a, b).asarray(False)


# Ops without gradient, so that ``apply`` checks the devices (as for any other op).
_ISCLOSE = Op("isclose", _isclose, differentiable=False, broadcasts=True)
_ALLCLOSE = Op("allclose", lambda a, b, **params: _isclose(a, b, **params).all(),
               differentiable=False, broadcasts=True)
_EQUAL = Op("equal", _equal, differentiable=False)


@method()
def isclose(input, other, rtol: float = 1e-05, atol: float = 1e-08,
            equal_nan: bool = False) -> Tensor:
    """|input - other| <= atol + rtol |other| elementwise (broadcasting); infinities are
    close to themselves only, NaN to NaN only with ``equal_nan``."""
    operands = _close_operands("isclose", input, other, rtol, atol)
    return apply(_ISCLOSE, operands, {"rtol": rtol, "atol": atol, "equal_nan": equal_nan})


@method()
def allclose(input, other, rtol: float = 1e-05, atol: float = 1e-08,
             equal_nan: bool = False) -> bool:
    """Whether ``isclose`` holds everywhere: a Python bool."""
    operands = _close_operands("allclose", input, other, rtol, atol)
    return bool(apply(_ALLCLOSE, operands, {"rtol": rtol, "atol": atol, "equal_nan": equal_nan}))


@method()
def equal(input, other) -> bool:
    """Whether both have the same shape and equal elements (NaN is not equal to NaN): a
    Python bool."""
    return bool(apply(_EQUAL, (tensor_arg(input), tensor_arg(other))))
