"""Division with rounding: ``//`` (floor_divide), ``%`` (remainder) and fmod.

``remainder(x, y) = x - floor(x / y) y`` takes the sign of the divisor (Python's ``%``);
``fmod(x, y) = x - trunc(x / y) y`` that of the dividend (C's).  Away from the jumps,
where x / y is a whole number, d/dx = 1 and d/dy = -floor(x / y) (-trunc(x / y) for
fmod): the rounded quotient is piecewise constant, so it enters the rules as a constant
and second derivatives are zero, as PyTorch's.  ``floor_divide`` is piecewise constant
itself: its result takes no part in the graph (PyTorch's raises at backward instead).
"""
from __future__ import annotations

from ..arrays import namespace
from ..graph import apply
from ..tensor import unwrap
from ._args import binary_operands, method, reflected_method
from ._registry import Op
from .elementwise import binary_forward

_floor_divide = binary_forward("floor_divide")


def _truncated_quotient(x, y):
    """trunc(x / y) of two operands (arrays or numbers; y is an array)."""
    return namespace(y).trunc(x / y)


REMAINDER = Op(
    "remainder", binary_forward("remainder"), lambda g, out, x, y: g,
    lambda g, out, x, y: -g * _floor_divide(unwrap(x), unwrap(y)),
    saves=("", "x y"), broadcasts=True,
)
FMOD = Op(
    "fmod", binary_forward("fmod"), lambda g, out, x, y: g,
    lambda g, out, x, y: -g * _truncated_quotient(unwrap(x), unwrap(y)),
    saves=("", "x y"), broadcasts=True,
)
_FLOOR_DIVIDE = Op("floor_divide", _floor_divide, differentiable=False)


@method("remainder", "__mod__")
def remainder(x, y):
    """``x % y``, with the sign of ``y`` (Python's).  d/dx = 1, d/dy = -floor(x / y)."""
    return apply(REMAINDER, binary_operands(x, y))


@method()
def fmod(x, y):
    """``x - trunc(x / y) y``, with the sign of ``x`` (C's).  d/dx = 1, d/dy = -trunc(x / y)."""
    return apply(FMOD, binary_operands(x, y))


@method("floor_divide", "__floordiv__")
def floor_divide(x, y):
    """``x // y``: floor(x / y); piecewise constant, so the result needs no gradient."""
    return apply(_FLOOR_DIVIDE, binary_operands(x, y))


reflected_method(remainder, "__rmod__")
reflected_method(floor_divide, "__rfloordiv__")
