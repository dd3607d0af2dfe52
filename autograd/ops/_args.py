"""Argument handling shared by the public operations: operand conversion, dtype
promotion as PyTorch does it, and attaching functions to Tensor as methods."""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor, get_default_dtype, tensor_arg

_SCALARS = (bool, int, float)


def method(*names: str):
    """Attach the decorated function to Tensor under its own name (or ``names``).

    The method *is* the public function: one docstring, one place to step into.
    """

    def attach(fn):
        for name in names or (fn.__name__,):
            setattr(Tensor, name, fn)
        return fn

    return attach


def reflected_method(fn, name: str):
    """Attach ``name`` (``__radd__``, ...), the reflected operator: ``other + self`` calls
    ``fn(other, self)``, which Python tries when ``other`` is not a Tensor."""

    def reflected(self, other):
        return fn(other, self)

    reflected.__name__ = name
    reflected.__doc__ = f"``other {name}`` self: see ``{fn.__name__}``."
    return method(name)(reflected)


_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2}


def _category(dtype: np.dtype) -> int:
    return _CATEGORY[dtype.kind]


def _scalar_category(value) -> int:
    return 0 if isinstance(value, bool) else 1 if isinstance(value, int) else 2


def binary_operands(x, y):
    """Prepare the operands of a broadcasting binary op.

    Python numbers stay raw constants, so ``x * 2.0`` keeps x's dtype (a
    Python float does not upcast a float32 tensor); NumPy scalars count as
    Python numbers and arrays become constant Tensors.  Mixed dtypes follow
    PyTorch: the higher category (bool < int < float) wins; within a category
    the wider dtype wins, except that a 0-d tensor does not widen a tensor with
    dimensions.  The cast is a differentiable ``astype``.
    """
    if isinstance(x, Tensor):  # fast paths: tensor-tensor of one dtype, float tensor-number
        if isinstance(y, Tensor):
            if x._data.dtype is y._data.dtype:
                return x, y
        elif type(y) is float or type(y) is int:
            if x._data.dtype.kind == "f":
                return x, y
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(y, np.generic):
        y = y.item()
    x_is_tensor = isinstance(x, Tensor)
    y_is_tensor = isinstance(y, Tensor)
    if not x_is_tensor and not isinstance(x, _SCALARS):
        x = tensor_arg(x)
        x_is_tensor = True
    if not y_is_tensor and not isinstance(y, _SCALARS):
        y = tensor_arg(y)
        y_is_tensor = True
    if x_is_tensor and y_is_tensor:
        if x._data.dtype != y._data.dtype:
            dtype = _promote(x, y)
            if x._data.dtype != dtype:
                x = x.astype(dtype)
            if y._data.dtype != dtype:
                y = y.astype(dtype)
        return x, y
    if x_is_tensor:
        return _with_scalar(x, y), y
    if y_is_tensor:
        return x, _with_scalar(y, x)
    return tensor_arg(x), y


def _with_scalar(t: Tensor, scalar) -> Tensor:
    # A float number with an integer/bool tensor gives the default float dtype.
    if _scalar_category(scalar) > _category(t._data.dtype):
        if isinstance(scalar, float):
            return t.astype(get_default_dtype())
        return t.astype(np.int64)
    return t


def _promote(x: Tensor, y: Tensor) -> np.dtype:
    cx, cy = _category(x._data.dtype), _category(y._data.dtype)
    if cx != cy:
        return x._data.dtype if cx > cy else y._data.dtype
    if x._data.ndim == 0 and y._data.ndim > 0:
        return y._data.dtype
    if y._data.ndim == 0 and x._data.ndim > 0:
        return x._data.dtype
    return np.promote_types(x._data.dtype, y._data.dtype)


def as_float(x: Tensor) -> Tensor:
    """``x`` cast to the default float dtype if it is an integer or bool tensor."""
    return x if x._data.dtype.kind == "f" else x.astype(get_default_dtype())
