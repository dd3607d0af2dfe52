"""Special functions: erfc, erfinv, lgamma, digamma and polygamma.

NumPy has none of them as ufuncs, so they are computed here in float64 (inputs of
lower precision are widened and the result cast back), to about 1e-13 relative:

- ``erfc``: ``math.erfc`` per element (exact where 1 - erf would cancel).
- ``erfinv``: a closed-form start (Winitzki's approximation, relative error ~2e-3)
  refined by Newton steps on erf(y) = x for |x| < 1/2 and on erfc(y) = 1 - x beyond
  (1 - x is exact there, so the tails keep their relative accuracy).
- ``lgamma``: ``math.lgamma`` per element; +inf at the poles 0, -1, -2, ...
- ``digamma``: reflection psi(x) = psi(1 - x) - pi / tan(pi x) for x < 0, then the
  recurrence psi(x) = psi(x + 1) - 1/x up to x >= 10 and the asymptotic series
  psi(x) ~ log x - 1/(2x) - sum_k B_2k / (2k x^2k).
- ``polygamma(n, x)``, n >= 1: (-1)^(n+1) n! zeta(n + 1, x), the Hurwitz zeta
  function by the recurrence zeta(s, x) = zeta(s, x + 1) + x^-s up to x >= 10 + n and
  its Euler-Maclaurin series there; at the poles 0, -1, ... the limit from the right
  (+inf for odd n, -inf for even n).

erfc and lgamma (and erf in float64, hence erfinv's Newton steps) run element by element
in Python (``per_element``): on a device their data makes an explicit round trip to the
host.  The others run on the inputs' array module.

Derivatives: erfc' = -2/sqrt(pi) e^(-x^2); erfinv' = sqrt(pi)/2 e^(erfinv(x)^2);
lgamma' = digamma; digamma' = polygamma(1, .); polygamma(n, .)' = polygamma(n + 1, .):
each rule calls the next Op, so every order is differentiable.
"""
from __future__ import annotations

import math

import numpy as np

from ..arrays import namespace
from ..graph import apply
from ..tensor import tensor_arg
from ._args import as_float, method
from ._registry import Op
from .elementwise import EXP, _erf, _float_unary, per_element
from .inplace import inplace_form

# B_2, B_4, ..., B_20: the Bernoulli numbers of the asymptotic series.
_BERNOULLI = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510,
              43867 / 798, -174611 / 330)


def _in_float64(fn):
    """``fn`` on float64 arrays, applied to any float array (widened, then cast back)."""

    def wrapped(x, **params):
        return fn(x.astype(np.float64), **params).astype(x.dtype, copy=False)

    return wrapped


_erfc64 = per_element(math.erfc)


def _erfinv64(x):
    xp = namespace(x)
    a = xp.abs(x)
    # Winitzki: erfinv(a) ~ sqrt(sqrt(b^2 - l / c) - b), l = log(1 - a^2), b = 2/(pi c) + l/2.
    c = 0.147
    log1m = xp.log1p(-a * a)
    b = 2 / (math.pi * c) + log1m / 2
    y = xp.sqrt(xp.sqrt(b * b - log1m / c) - b)
    tail = a >= 0.5
    one_minus = 1 - a  # exact for a >= 1/2
    for _ in range(4):  # quadratic convergence: 2e-3 -> 1e-5 -> 1e-10 -> 1e-16
        slope = (2 / math.sqrt(math.pi)) * xp.exp(-y * y)
        residual = xp.where(tail, one_minus - _erfc64(y), _erf(y) - a)
        step = xp.where(slope > 0, residual / xp.where(slope > 0, slope, 1.0), 0.0)
        y = xp.where(xp.isfinite(y), y - step, y)
    y = xp.where(a == 1, xp.inf, xp.where(a > 1, xp.nan, y))
    return xp.copysign(y, x)


_lgamma64 = per_element(lambda v: math.inf if v <= 0 and v.is_integer() else math.lgamma(v))


def _digamma64(x):
    xp = namespace(x)
    pole = (x <= 0) & (x == xp.floor(x))
    zero, orig = x == 0, x
    negative = x < 0
    # tan has period pi: reduce the argument exactly (x - round(x)) before multiplying by pi.
    reflection = xp.where(negative & ~pole, math.pi / xp.tan(math.pi * (x - xp.round(x))), 0.0)
    x = xp.where(negative, 1 - x, x)  # psi(x) = psi(1 - x) - pi / tan(pi x)
    shifted = xp.zeros_like(x)
    while True:  # psi(x) = psi(x + 1) - 1/x, up to x >= 10
        low = (x < 10) & xp.isfinite(x)
        if not low.any():
            break
        shifted -= xp.where(low, 1 / xp.where(low, x, 1.0), 0.0)
        x = xp.where(low, x + 1, x)
    inv2 = 1 / (x * x)
    series = xp.zeros_like(x)
    for k in range(len(_BERNOULLI), 0, -1):
        series = series * inv2 + _BERNOULLI[k - 1] / (2 * k)
    out = xp.log(x) - 0.5 / x - series * inv2 + shifted - reflection
    out = xp.where(xp.isposinf(x), xp.inf, out)
    # At 0 the limit from zero's side (psi(+0) = -inf, psi(-0) = +inf), as PyTorch.
    return xp.where(pole, xp.where(zero, xp.copysign(xp.inf, -orig), xp.nan), out)


def _polygamma64(x, n: int):
    if n == 0:
        return _digamma64(x)
    xp = namespace(x)
    s = n + 1
    pole = (x <= 0) & (x == xp.floor(x))
    total = xp.zeros_like(x)
    start = 10 + n
    while True:  # zeta(s, x) = zeta(s, x + 1) + x^-s
        low = (x < start) & xp.isfinite(x) & ~pole
        if not low.any():
            break
        total += xp.where(low, xp.where(low, x, 1.0) ** -s, 0.0)
        x = xp.where(low, x + 1, x)
    # Euler-Maclaurin: x^(1-s)/(s-1) + x^-s/2 + sum_k B_2k/(2k)! s (s+1) ... (s+2k-2) x^(-s-2k+1)
    tail = x ** (1 - s) / (s - 1) + 0.5 * x ** -s
    rising, power = float(s), x ** (-s - 1)
    for k, bernoulli in enumerate(_BERNOULLI, start=1):
        tail += bernoulli / math.factorial(2 * k) * rising * power
        rising *= (s + 2 * k - 1) * (s + 2 * k)
        power = power / (x * x)
    zeta = xp.where(xp.isposinf(x), 0.0, total + tail)
    out = (-1) ** (n + 1) * math.factorial(n) * zeta
    return xp.where(pole, xp.inf if n % 2 else -xp.inf, out)  # the limit from the right


ERFC = Op("erfc", _in_float64(_erfc64),
          lambda g, out, x: g * (-2 / math.sqrt(math.pi)) * EXP(-(x * x)), saves="x")
ERFINV = Op("erfinv", _in_float64(_erfinv64),
            lambda g, out, x: g * (math.sqrt(math.pi) / 2) * EXP(out * out), saves="out")
POLYGAMMA = Op("polygamma", _in_float64(_polygamma64),
               lambda g, out, x, n: g * POLYGAMMA(x, n=n + 1), saves="x")
DIGAMMA = Op("digamma", _in_float64(_digamma64), lambda g, out, x: g * POLYGAMMA(x, n=1),
             saves="x")
LGAMMA = Op("lgamma", _in_float64(_lgamma64), lambda g, out, x: g * DIGAMMA(x), saves="x")

erfc = _float_unary(ERFC, "Complementary error function 1 - erf(x), accurate in the tails. "
                    "d/dx = -2/sqrt(pi) exp(-x^2).", "erfc")
erfinv = _float_unary(ERFINV, "Inverse error function on [-1, 1] (+-inf at +-1, nan beyond). "
                      "d/dx = sqrt(pi)/2 exp(erfinv(x)^2).", "erfinv")
lgamma = _float_unary(LGAMMA, "log |Gamma(x)|; +inf at 0, -1, -2, ....  d/dx = digamma(x).",
                      "lgamma")
digamma = _float_unary(DIGAMMA, "psi(x) = d/dx log Gamma(x); -inf at 0 and nan at the negative "
                       "integers (as PyTorch).  d/dx = polygamma(1, x).", "digamma")


@method()
def polygamma(n, input):
    """The n-th derivative of digamma, psi^(n)(x) = (-1)^(n+1) n! sum_k 1/(x + k)^(n+1)
    for n >= 1 (polygamma(0, x) is digamma).  d/dx = polygamma(n + 1, x).

    Called as ``polygamma(n, x)`` (``torch.polygamma``) or ``x.polygamma(n)``
    (``Tensor.polygamma``): the integer is the order, the tensor the input.
    """
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool):
        n, input = input, n  # the method form, x.polygamma(n)
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0:
        raise ValueError(f"polygamma: the order n must be a non-negative integer, got {n!r}")
    x = as_float(tensor_arg(input))
    if n == 0:
        return apply(DIGAMMA, (x,))
    return apply(POLYGAMMA, (x,), {"n": int(n)})

for _fn in (erfc, erfinv, lgamma, digamma, polygamma):
    inplace_form(_fn)
