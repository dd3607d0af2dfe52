"""Elementwise maths beyond elementwise.py's: logarithms and exponentials in other
bases, the trigonometric and hyperbolic functions and their inverses, reciprocal,
sinc, the rounding functions, and sign tests.

Each derivative is stated in the function's docstring; the rules are written with
Ops, so every order is differentiable.  The rounding functions (floor, ceil, round,
trunc) are piecewise constant: their gradient is zero everywhere, as PyTorch's (they
stay in the graph, unlike ``sign``).  Integer inputs give the default float dtype,
except for the rounding functions, which return an integer tensor unchanged.
"""
from __future__ import annotations

import math

import numpy as np

from ..graph import apply
from ..tensor import Tensor, tensor_arg, unwrap
from ._args import method
from ._registry import Op
from .elementwise import (
    COS,
    SQRT,
    WHERE,
    _float_unary,
    binary_forward,
    clone,
    sign,
    sub,
    unary_forward,
)
from .inplace import inplace_form

_LN2, _LN10 = math.log(2), math.log(10)


def _inverse_sqrt_rule(sign_: float, offset: float, square_sign: float):
    """The rule g * sign / sqrt(offset + square_sign * x^2) (asin, acos, asinh, acosh)."""
    return lambda g, out, x: sign_ * g / SQRT(offset + square_sign * (x * x))


LOG1P = Op("log1p", unary_forward("log1p"), lambda g, out, x: g / (1 + x), saves="x")
EXPM1 = Op("expm1", unary_forward("expm1"), lambda g, out, x: g * (out + 1), saves="out")
LOG2 = Op("log2", unary_forward("log2"), lambda g, out, x: g / (x * _LN2), saves="x")
LOG10 = Op("log10", unary_forward("log10"), lambda g, out, x: g / (x * _LN10), saves="x")
EXP2 = Op("exp2", unary_forward("exp2"), lambda g, out, x: g * out * _LN2, saves="out")
SINH = Op("sinh", unary_forward("sinh"), lambda g, out, x: g * COSH(x), saves="x")
COSH = Op("cosh", unary_forward("cosh"), lambda g, out, x: g * SINH(x), saves="x")
TAN = Op("tan", unary_forward("tan"), lambda g, out, x: g * (1 + out * out), saves="out")
ASIN = Op("asin", unary_forward("arcsin"), _inverse_sqrt_rule(1.0, 1.0, -1.0), saves="x")
ACOS = Op("acos", unary_forward("arccos"), _inverse_sqrt_rule(-1.0, 1.0, -1.0), saves="x")
ATAN = Op("atan", unary_forward("arctan"), lambda g, out, x: g / (1 + x * x), saves="x")
ASINH = Op("asinh", unary_forward("arcsinh"), _inverse_sqrt_rule(1.0, 1.0, 1.0), saves="x")
ACOSH = Op("acosh", unary_forward("arccosh"), _inverse_sqrt_rule(1.0, -1.0, 1.0), saves="x")
ATANH = Op("atanh", unary_forward("arctanh"), lambda g, out, x: g / (1 - x * x), saves="x")
RECIPROCAL = Op("reciprocal", unary_forward("reciprocal"), lambda g, out, x: -g * out * out,
                saves="out")


def _sinc_vjp(g, out, x):
    # sinc'(x) = (cos(pi x) - sinc(x)) / x, 0 at x = 0 (as PyTorch); the division is by
    # 1 there, and its result is not used.
    at_zero = unwrap(x) == 0
    safe_x = WHERE(1.0, x, condition=at_zero)
    return WHERE(0.0, g * (COS(math.pi * x) - out) / safe_x, condition=at_zero)


def _quiet(fn):
    """``fn`` (a NumPy function written in Python, whose warnings come from NumPy's own
    frames, outside graphgrad's filter) with NumPy's float warnings off."""
    def quiet(*args, **params):
        with np.errstate(all="ignore"):
            return fn(*args, **params)
    return quiet


SINC = Op("sinc", _quiet(unary_forward("sinc")), _sinc_vjp, saves="x out")

log1p = _float_unary(LOG1P, "log(1 + x), accurate for small x.  d/dx = 1 / (1 + x).", "log1p")
expm1 = _float_unary(EXPM1, "e^x - 1, accurate for small x.  d/dx = e^x.", "expm1")
log2 = _float_unary(LOG2, "Base-2 logarithm.  d/dx = 1 / (x log 2).", "log2")
log10 = _float_unary(LOG10, "Base-10 logarithm.  d/dx = 1 / (x log 10).", "log10")
exp2 = _float_unary(EXP2, "2^x.  d/dx = 2^x log 2.", "exp2")
sinh = _float_unary(SINH, "Hyperbolic sine.  d/dx sinh x = cosh x.", "sinh")
cosh = _float_unary(COSH, "Hyperbolic cosine.  d/dx cosh x = sinh x.", "cosh")
tan = _float_unary(TAN, "Tangent.  d/dx tan x = 1 + tan(x)^2.", "tan")
asin = _float_unary(ASIN, "Inverse sine on [-1, 1].  d/dx = 1 / sqrt(1 - x^2).", "asin")
acos = _float_unary(ACOS, "Inverse cosine on [-1, 1].  d/dx = -1 / sqrt(1 - x^2).", "acos")
atan = _float_unary(ATAN, "Inverse tangent.  d/dx = 1 / (1 + x^2).", "atan")
asinh = _float_unary(ASINH, "Inverse hyperbolic sine.  d/dx = 1 / sqrt(x^2 + 1).", "asinh")
acosh = _float_unary(ACOSH, "Inverse hyperbolic cosine on [1, inf).  d/dx = 1 / sqrt(x^2 - 1).",
                     "acosh")
atanh = _float_unary(ATANH, "Inverse hyperbolic tangent on (-1, 1).  d/dx = 1 / (1 - x^2).",
                     "atanh")
reciprocal = _float_unary(RECIPROCAL, "1 / x.  d/dx = -1 / x^2.", "reciprocal")
sinc = _float_unary(
    SINC, "Normalized sinc: sin(pi x) / (pi x), 1 at 0.  d/dx = (cos(pi x) - sinc(x)) / x, "
    "0 at x = 0 (as PyTorch; the second derivative there is 0 too, where PyTorch's is NaN).",
    "sinc")
arcsin, arccos, arctan = asin, acos, atan
arcsinh, arccosh, arctanh = asinh, acosh, atanh
for _fn in (asin, acos, atan, asinh, acosh, atanh):
    setattr(Tensor, "arc" + _fn.__name__[1:], _fn)


# ------------------------------------------------------------------ rounding
def _zero_gradient(g, out, x, **params):
    return WHERE(0.0, g, condition=True)  # zeros like g (NaN in g gives 0 too)


FLOOR = Op("floor", unary_forward("floor"), _zero_gradient)
CEIL = Op("ceil", unary_forward("ceil"), _zero_gradient)
TRUNC = Op("trunc", unary_forward("trunc"), _zero_gradient)
ROUND = Op("round", _quiet(unary_forward("round")), _zero_gradient)


def _rounding(op: Op, x, params=None) -> Tensor:
    x = tensor_arg(x)
    if x._data.dtype.kind in "iub":  # already whole numbers (PyTorch returns them as they are)
        return clone(x)
    return apply(op, (x,), params or {})


@method()
def floor(input) -> Tensor:
    """The largest integer <= x.  Piecewise constant: the gradient is 0 (as PyTorch)."""
    return _rounding(FLOOR, input)


@method()
def ceil(input) -> Tensor:
    """The smallest integer >= x.  Piecewise constant: the gradient is 0 (as PyTorch)."""
    return _rounding(CEIL, input)


@method("trunc", "fix")
def trunc(input) -> Tensor:
    """x rounded towards zero (``fix`` is its alias).  The gradient is 0 (as PyTorch)."""
    return _rounding(TRUNC, input)


fix = trunc


@method()
def round(input, decimals: int = 0) -> Tensor:
    """x rounded to ``decimals`` decimal places (negative: to tens, hundreds, ...), halves
    to even, as PyTorch and NumPy.  The gradient is 0 (as PyTorch)."""
    if not isinstance(decimals, (int, np.integer)) or isinstance(decimals, bool):
        raise TypeError(f"round: decimals must be an integer, got {decimals!r}")
    return _rounding(ROUND, input, {"decimals": int(decimals)})


@method()
def frac(input) -> Tensor:
    """The fractional part x - trunc(x), with the sign of x.  d/dx = 1."""
    x = tensor_arg(input)
    if x._data.dtype.kind in "iub":
        raise TypeError(f"frac: expected a floating point tensor, got dtype {x.dtype}")
    return sub(x, trunc(x))


# ---------------------------------------------------------------- sign tests
_SIGNBIT = Op("signbit", unary_forward("signbit"), differentiable=False)
_HEAVISIDE = Op("heaviside", binary_forward("heaviside"), differentiable=False)


@method()
def signbit(input) -> Tensor:
    """True where the sign bit is set (negative numbers and -0.0); no gradient."""
    return apply(_SIGNBIT, (tensor_arg(input),))


@method()
def heaviside(input, values) -> Tensor:
    """0 where x < 0, ``values`` where x == 0, 1 where x > 0 (broadcast together).  No
    gradient: PyTorch's is not implemented either."""
    x, v = tensor_arg(input), tensor_arg(values)
    if x._data.dtype != v._data.dtype:
        raise TypeError(f"heaviside: input ({x.dtype}) and values ({v.dtype}) must have the "
                        f"same dtype")
    return apply(_HEAVISIDE, (x, v))


sgn = sign
Tensor.sgn = sign

for _fn in (log1p, expm1, log2, log10, exp2, sinh, cosh, tan, asin, acos, atan, asinh, acosh,
            atanh, reciprocal, sinc, floor, ceil, trunc, round, frac):
    inplace_form(_fn)
for _alias, _fn in (("fix_", trunc), ("sgn_", sign), ("sign_", sign), ("arcsin_", asin),
                    ("arccos_", acos), ("arctan_", atan), ("arcsinh_", asinh),
                    ("arccosh_", acosh), ("arctanh_", atanh)):
    inplace_form(_fn, _alias)
