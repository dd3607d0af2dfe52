"""Elementwise functions of two or three tensors: atan2, hypot, logaddexp(2), xlogy,
float_power, lerp, addcmul and addcdiv.  All broadcast like NumPy; integer operands
give the default float dtype (float_power: float64).

atan2, hypot, logaddexp, logaddexp2 and xlogy are primitives (for accuracy: hypot
and logaddexp do not overflow, xlogy is 0 where x is); the others are compositions.
"""
from __future__ import annotations

import math

import numpy as np

from ..arrays import namespace_of
from ..graph import apply
from ..tensor import Tensor, tensor_arg, unwrap
from ._args import as_float, binary_operands, method
from ._registry import Op
from .elementwise import EXP, LOG, WHERE, add, binary_forward, div, mul, pow, sub
from .inplace import inplace_form

_LN2 = math.log(2)


def _float_operands(x, y):
    """``binary_operands``, with integer and bool tensors made float (the default dtype)."""
    x, y = binary_operands(x, y)
    return tuple(as_float(v) if isinstance(v, Tensor) else v for v in (x, y))


def _xlogy(x, y):
    xp = namespace_of(x, y)
    dtype = (y if isinstance(x, (int, float)) else x).dtype  # (both arrays: one dtype)
    return xp.where((x == 0) & ~xp.isnan(y), 0.0, x * xp.log(y)).astype(dtype, copy=False)


def _xlogy_dx(g, out, x, y):
    # log y, but 0 where x == 0 and y <= 0 (where log y is -inf or NaN), as PyTorch.
    return WHERE(0.0, g * LOG(y), condition=(unwrap(x) == 0) & (unwrap(y) <= 0))


ATAN2 = Op("atan2", binary_forward("arctan2"),
           lambda g, out, y, x: g * x / (x * x + y * y),
           lambda g, out, y, x: -g * y / (x * x + y * y), saves="x y", broadcasts=True)
HYPOT = Op("hypot", binary_forward("hypot"),
           lambda g, out, x, y: g * x / out, lambda g, out, x, y: g * y / out,
           saves=("x out", "y out"), broadcasts=True)
LOGADDEXP = Op("logaddexp", binary_forward("logaddexp"),
               lambda g, out, x, y: g * EXP(x - out), lambda g, out, x, y: g * EXP(y - out),
               saves=("x out", "y out"), broadcasts=True)
LOGADDEXP2 = Op("logaddexp2", binary_forward("logaddexp2"),
                lambda g, out, x, y: g * EXP((x - out) * _LN2),
                lambda g, out, x, y: g * EXP((y - out) * _LN2),
                saves=("x out", "y out"), broadcasts=True)
XLOGY = Op("xlogy", _xlogy, _xlogy_dx, lambda g, out, x, y: g * x / y, saves="x y",
           broadcasts=True)


@method("atan2", "arctan2")
def atan2(input, other) -> Tensor:
    """The angle of the point (other, input): atan(input / other) in the right quadrant,
    in [-pi, pi].  d/dinput = other / r^2, d/dother = -input / r^2 (r^2 = input^2 + other^2;
    NaN at the origin, as PyTorch)."""
    return apply(ATAN2, _float_operands(input, other))


arctan2 = atan2


@method()
def hypot(input, other) -> Tensor:
    """sqrt(input^2 + other^2) without overflow.  d/dinput = input / hypot, d/dother =
    other / hypot (NaN at the origin, as PyTorch)."""
    return apply(HYPOT, _float_operands(input, other))


@method()
def logaddexp(input, other) -> Tensor:
    """log(e^input + e^other), stable.  d/dinput = e^(input - out), d/dother = e^(other - out)."""
    return apply(LOGADDEXP, _float_operands(input, other))


@method()
def logaddexp2(input, other) -> Tensor:
    """log2(2^input + 2^other), stable.  d/dinput = 2^(input - out), d/dother = 2^(other - out)."""
    return apply(LOGADDEXP2, _float_operands(input, other))


@method()
def xlogy(input, other) -> Tensor:
    """input * log(other), 0 where input == 0 (unless other is NaN), as PyTorch.
    d/dinput = log(other), 0 where input == 0 and other <= 0 (as PyTorch);
    d/dother = input / other."""
    return apply(XLOGY, _float_operands(input, other))


@method()
def float_power(input, exponent) -> Tensor:
    """input ** exponent computed in float64 (both operands are widened; the result is
    float64).  The gradient is pow's, cast back to each operand's dtype."""
    x = tensor_arg(input).astype(np.float64)
    if isinstance(exponent, Tensor) or not isinstance(exponent, (int, float)):
        exponent = tensor_arg(exponent).astype(np.float64)
    return pow(x, exponent)


true_divide = div
Tensor.true_divide = div


@method()
def lerp(input, end, weight) -> Tensor:
    """input + weight * (end - input), all broadcast (``weight`` a number or a tensor).
    d/dinput = 1 - weight, d/dend = weight, d/dweight = end - input."""
    return add(input, mul(weight, sub(end, input)))


@method()
def addcmul(input, tensor1, tensor2, *, value=1) -> Tensor:
    """input + value * tensor1 * tensor2, broadcast.  d/dtensor1 = value * tensor2, ..."""
    return add(input, mul(tensor1, tensor2), alpha=value)


@method()
def addcdiv(input, tensor1, tensor2, *, value=1) -> Tensor:
    """input + value * tensor1 / tensor2, broadcast.  d/dtensor2 = -value * tensor1 / tensor2^2."""
    return add(input, div(tensor1, tensor2), alpha=value)

for _fn in (atan2, hypot, xlogy, float_power, lerp, addcmul, addcdiv):
    inplace_form(_fn)
inplace_form(atan2, "arctan2_")
inplace_form(div, "true_divide_")
