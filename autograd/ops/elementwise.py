"""Elementwise operations: arithmetic, comparisons, math functions and activations.

Binary operations broadcast like NumPy in both directions; the engine sums each
gradient back to its input's shape.  Conventions at kinks follow PyTorch:
relu'(0) = 0, |x|'(0) = 0, clip passes the gradient where min <= x <= max, and
maximum/minimum split the gradient evenly between tied inputs.
"""
from __future__ import annotations

import math
import operator

import numpy as np

from ..arrays import is_array, namespace, namespace_of, to_host
from ..graph import apply, on_one_device
from ..tensor import Tensor, tensor_arg, unwrap
from ._args import as_float, binary_operands, method, reflected_method
from ._registry import Op


def unary_forward(name: str):
    """The forward ``xp.<name>(x, **params)`` of a one-input op, ``xp`` the array module
    of ``x`` (NumPy's function is looked up once: host arrays pay one type check)."""
    host = getattr(np, name)

    def forward(x, **params):
        return (host if type(x) is np.ndarray else getattr(namespace(x), name))(x, **params)

    forward.__name__ = name
    return forward


def binary_forward(name: str):
    """The forward ``xp.<name>(x, y)`` of a two-input op, ``xp`` the array module of its
    operands (either may be a Python number)."""
    def forward(x, y):
        return getattr(namespace_of(x, y), name)(x, y)

    forward.__name__ = name
    return forward


def _indicator(mask, like):
    """1 where ``mask`` holds, 0 elsewhere, in ``like``'s dtype: a constant factor of the
    gradient (masks are read from the raw arrays: they need no graph)."""
    return namespace(mask).asarray(mask, dtype=unwrap(like).dtype)


# ------------------------------------------------------------ arithmetic ops
ADD = Op("add", operator.add, lambda g, out, x, y: g, lambda g, out, x, y: g, broadcasts=True)
SUB = Op("sub", operator.sub, lambda g, out, x, y: g, lambda g, out, x, y: -g, broadcasts=True)
MUL = Op("mul", operator.mul, lambda g, out, x, y: g * y, lambda g, out, x, y: g * x,
         saves=("y", "x"), broadcasts=True)
DIV = Op("div", operator.truediv, lambda g, out, x, y: g / y, lambda g, out, x, y: -g * out / y,
         saves=("y", "y out"), broadcasts=True)


def _pow_dx(g, out, x, y):
    # d(x^y)/dx = y x^(y-1), defined as 0 where y == 0 (as PyTorch) to avoid 0 * inf.
    if not (isinstance(y, Tensor) or is_array(y)):
        return g * 0.0 if y == 0 else g * y * x ** (y - 1)
    # Masked only where x == 0 too: elsewhere y x^(y-1) is already 0 at y == 0, and keeping it
    # keeps its derivative in y (x^(y-1) (1 + y log x)) for second order.
    return WHERE(0.0, g * y * x ** (y - 1), condition=(unwrap(y) == 0) & (unwrap(x) == 0))


def _pow_dy(g, out, x, y):
    # d(x^y)/dy = x^y log x, defined as 0 where x == 0 and y >= 0 (as PyTorch).
    if not (isinstance(x, Tensor) or is_array(x)):  # a Python number base: keep out's dtype
        out_data = unwrap(out)
        x = namespace(out_data).asarray(x, dtype=out_data.dtype)
    at_zero = (unwrap(x) == 0) & (unwrap(y) >= 0)
    safe_x = WHERE(1.0, x, condition=at_zero)
    return WHERE(0.0, g * out * LOG(safe_x), condition=at_zero)


# x ** n by products for the exponents models use: NumPy's float power calls libm's pow,
# ~350 ns per element for a negative base (x * x * x: under 1 ns).  The results are
# PyTorch's (it computes these powers the same way), e.g. (-0.0) ** -0.5 = -inf.
# (Each takes the array module and the array.)
_FAST_POWERS = {2: lambda xp, x: xp.square(x), 3: lambda xp, x: x * x * x,
                4: lambda xp, x: xp.square(xp.square(x)), -1: lambda xp, x: xp.reciprocal(x),
                -2: lambda xp, x: xp.square(xp.reciprocal(x)),
                -0.5: lambda xp, x: xp.reciprocal(xp.sqrt(x))}


def _power(x, y):
    """``xp.power``, with products (and 1/sqrt) for a float array to the power -2, -1,
    -1/2, 2, 3 or 4 (NumPy itself already special-cases 0, 1/2 and 1)."""
    if (type(y) is float or type(y) is int) and y in _FAST_POWERS and x.dtype.kind == "f":
        return _FAST_POWERS[y](namespace(x), x)
    return namespace_of(x, y).power(x, y)


POW = Op("pow", _power, _pow_dx, _pow_dy, saves="x y out", broadcasts=True)


def _tie_weights(x, y, loses, like) -> np.ndarray:
    """0 where the input ``loses``, 1/2 where x == y (ties share the gradient), else 1:
    where either is NaN both inputs get the whole gradient, as PyTorch's."""
    xd, yd = unwrap(x), unwrap(y)
    return 1.0 - _indicator(loses, like) - 0.5 * _indicator(xd == yd, like)


MAXIMUM = Op(
    "maximum", binary_forward("maximum"),
    lambda g, out, x, y: g * _tie_weights(x, y, unwrap(x) < unwrap(y), g),
    lambda g, out, x, y: g * _tie_weights(x, y, unwrap(y) < unwrap(x), g),
    saves="x y", broadcasts=True,
)
MINIMUM = Op(
    "minimum", binary_forward("minimum"),
    lambda g, out, x, y: g * _tie_weights(x, y, unwrap(x) > unwrap(y), g),
    lambda g, out, x, y: g * _tie_weights(x, y, unwrap(y) > unwrap(x), g),
    saves="x y", broadcasts=True,
)
WHERE = Op(
    "where", lambda x, y, condition: namespace_of(condition, x, y).where(condition, x, y),
    lambda g, out, x, y, condition: WHERE(g, 0.0, condition=condition),
    lambda g, out, x, y, condition: WHERE(0.0, g, condition=condition),
    broadcasts=True,
)


def scaled(y, alpha):
    """``alpha * y`` for add's and sub's ``alpha``: a number stays a number (so that it
    meets a tensor on any device), a tensor is multiplied."""
    if alpha == 1:
        return y
    return y * alpha if isinstance(y, (int, float, np.generic)) else mul(y, alpha)


@method("add", "__add__")
def add(x, y, alpha=1):
    """``x + alpha * y`` with broadcasting.  d/dx = 1, d/dy = alpha."""
    return apply(ADD, binary_operands(x, scaled(y, alpha)))


@method("sub", "__sub__")
def sub(x, y, alpha=1):
    """``x - alpha * y`` with broadcasting.  d/dx = 1, d/dy = -alpha."""
    return apply(SUB, binary_operands(x, scaled(y, alpha)))


@method("mul", "__mul__")
def mul(x, y):
    """``x * y`` elementwise with broadcasting.  d/dx = y, d/dy = x."""
    return apply(MUL, binary_operands(x, y))


@method("div", "__truediv__")
def div(x, y):
    """``x / y`` (true division; integers give float32).  d/dx = 1/y, d/dy = -x/y^2."""
    x, y = binary_operands(x, y)
    if _is_integral(x) and _is_integral(y):
        x = as_float(tensor_arg(x))
        if isinstance(y, Tensor):
            y = as_float(y)
    return apply(DIV, (x, y))


@method("pow", "__pow__")
def pow(x, y):
    """``x ** y`` with broadcasting.

    d/dx = y x^(y-1) (0 where y == 0); d/dy = x^y log x (0 where x == 0, y >= 0).
    """
    return apply(POW, binary_operands(x, y))


@method()
def maximum(x, y):
    """Elementwise max.  The gradient goes to the larger input; ties split it evenly."""
    return apply(MAXIMUM, binary_operands(x, y))


@method()
def minimum(x, y):
    """Elementwise min.  The gradient goes to the smaller input; ties split it evenly."""
    return apply(MINIMUM, binary_operands(x, y))


def where(condition, input, other):
    """``input`` where ``condition`` is true, else ``other`` (all broadcast together).

    The gradient flows to ``input`` where the condition holds and to ``other``
    elsewhere.
    """
    operands = binary_operands(input, other)
    if isinstance(condition, Tensor):  # (two numbers go to condition's device)
        condition, *operands = on_one_device(WHERE, (condition, *operands))
    xp = namespace_of(*(unwrap(v) for v in operands))
    cond = xp.asarray(unwrap(condition), dtype=np.bool_)  # (a host mask moves to the device)
    return apply(WHERE, operands, {"condition": cond})


def _is_integral(v) -> bool:
    if isinstance(v, Tensor):
        return v._data.dtype.kind in "iub"
    return isinstance(v, int)  # bool is an int


for _fn, _name in ((add, "__radd__"), (sub, "__rsub__"), (mul, "__rmul__"),
                   (div, "__rtruediv__"), (pow, "__rpow__")):
    reflected_method(_fn, _name)


# ----------------------------------------------------------------- unary ops
NEG = Op("neg", unary_forward("negative"), lambda g, out, x: -g)
EXP = Op("exp", unary_forward("exp"), lambda g, out, x: g * out, saves="out")
LOG = Op("log", unary_forward("log"), lambda g, out, x: g / x, saves="x")
SQRT = Op("sqrt", unary_forward("sqrt"), lambda g, out, x: g / (2 * out), saves="out")


def _clamped_log(x, min, eps):
    with np.errstate(divide="ignore"):  # log 0 = -inf, clamped to min below
        xp = namespace(x)
        return xp.maximum(xp.log(x), min)


CLAMPED_LOG = Op(
    "clamped_log", _clamped_log,
    lambda g, out, x, min, eps: g / CLIP(x, min=eps, max=None), saves="x",
)


def _tanh_vjp(g, out, x):
    if not isinstance(g, Tensor) and g.ndim:  # arrays: one temporary, updated in place
        t = out * out
        namespace(t).subtract(1, t, out=t)
        t *= g
        return t
    return g * (1 - out * out)


TANH = Op("tanh", unary_forward("tanh"), _tanh_vjp, saves="out")
SIN = Op("sin", unary_forward("sin"), lambda g, out, x: g * COS(x), saves="x")
COS = Op("cos", unary_forward("cos"), lambda g, out, x: -g * SIN(x), saves="x")
_sign = unary_forward("sign")
ABS = Op("abs", unary_forward("abs"), lambda g, out, x: g * _sign(unwrap(x)), saves="x")


def _sigmoid(x):
    # e^x / (1 + e^x) is accurate for every x (for x << 0 it is e^x itself, with no
    # cancellation); x is capped where e^x would overflow, where sigmoid is 1 to the
    # last bit.  Four passes over one new array and a temporary.
    cap = 700.0 if x.dtype == np.float64 else 80.0
    xp = namespace(x)
    e = xp.minimum(x, cap, out=xp.empty_like(x))
    xp.exp(e, out=e)
    return xp.divide(e, e + 1, out=e)


def _sigmoid_vjp(g, out, x):
    if not isinstance(g, Tensor) and g.ndim:  # arrays: one temporary, updated in place
        t = 1 - out
        t *= out
        t *= g
        return t
    return g * out * (1 - out)


SIGMOID = Op("sigmoid", _sigmoid, _sigmoid_vjp, saves="out")
RELU = Op("relu", lambda x: namespace(x).maximum(x, 0),
          lambda g, out, x: g * _indicator(unwrap(out) > 0, g), saves="out")
def _leaky_relu(x, negative_slope: float):
    # For a slope in (0, 1], max(x, slope x) picks the same value (x at +inf, NaN at NaN):
    # a max runs several times faster than np.where's per-element branch on mixed signs.
    xp = namespace(x)
    if 0 < negative_slope <= 1:
        out = xp.asarray(x * negative_slope)  # (an array also for a 0-d x)
        return xp.maximum(out, x, out=out)
    return xp.where(x > 0, x, x * negative_slope)


def _leaky_relu_vjp(g, out, x, negative_slope):
    if isinstance(g, Tensor) or not 0 < negative_slope <= 1:
        return WHERE(g, g * negative_slope, condition=unwrap(x) > 0)
    # g times a factor that is 1 or the slope: mask (1 - s) + s, in three fast in-place
    # passes (a max or a where on the mask runs 2-3x slower).  Exact: 1 - s rounds by at
    # most half an ulp below 1, so (1 - s) + s rounds back to 1.
    slope = g.dtype.type(negative_slope)
    factor = (x > 0).astype(g.dtype)
    factor *= 1 - slope
    factor += slope
    factor *= g
    return factor


LEAKY_RELU = Op("leaky_relu", _leaky_relu, _leaky_relu_vjp, saves="x")
CLIP = Op(
    "clip", lambda x, min, max: namespace(x).clip(x, min, max),
    lambda g, out, x, min, max: g * _indicator(_inside(unwrap(x), min, max), g),
    saves="x",
)
def per_element(scalar_fn):
    """``scalar_fn`` (a float -> float Python function) over a float64 array, element by
    element.  This is host work: a device array goes to the host and back explicitly
    (``to_host``, ``xp.asarray``), the one round trip such functions cost on a GPU."""
    vectorised = np.frompyfunc(scalar_fn, 1, 1)

    def fn(x):
        if type(x) is np.ndarray:
            return np.asarray(vectorised(x), dtype=np.float64)
        return namespace(x).asarray(np.asarray(vectorised(to_host(x)), dtype=np.float64))

    return fn


_erf64 = per_element(math.erf)
# Abramowitz & Stegun 7.1.26: |error| < 1.5e-7, i.e. float32's own resolution near 1.
_AS_P = 0.3275911
_AS_A = (1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592)


def _erf(x):
    """erf, exact (math.erf per element) in float64, a 1.5e-7 rational fit in lower precision."""
    if x.dtype == np.float64:
        return _erf64(x)
    # 1 - ((((a0 t + a1) t + a2) t + a3) t + a4) t e^(-x^2), t = 1 / (1 + p |x|), in place
    xp = namespace(x)
    a = xp.abs(xp.atleast_1d(x))
    t = a * _AS_P
    t += 1
    xp.reciprocal(t, out=t)
    poly = t * _AS_A[0]
    for c in _AS_A[1:]:
        poly += c
        poly *= t
    xp.square(a, out=a)
    xp.negative(a, out=a)
    poly *= xp.exp(a, out=a)
    xp.subtract(1, poly, out=poly)
    return xp.copysign(poly, x, out=poly).astype(x.dtype, copy=False).reshape(x.shape)


ERF = Op(
    "erf", _erf,
    lambda g, out, x: g * (2 / math.sqrt(math.pi)) * EXP(-(x * x)), saves="x",
)


def _inside(x, lo, hi):
    mask = namespace(x).ones(x.shape, dtype=bool)
    if lo is not None:
        mask &= x >= lo
    if hi is not None:
        mask &= x <= hi
    return mask


def _float_unary(op, doc: str, name: str):
    def fn(x):
        x = tensor_arg(x)
        if x._data.dtype.kind != "f":
            x = as_float(x)
        return apply(op, (x,))

    fn.__name__ = name
    fn.__qualname__ = name
    fn.__doc__ = doc
    return method()(fn)


exp = _float_unary(EXP, "Elementwise e^x.  d/dx e^x = e^x (the rule reuses the output).", "exp")
log = _float_unary(LOG, "Natural logarithm.  d/dx log x = 1/x (log 0 = -inf, as NumPy).", "log")
sqrt = _float_unary(SQRT, "Square root.  d/dx sqrt(x) = 1 / (2 sqrt(x)).", "sqrt")
tanh = _float_unary(TANH, "Hyperbolic tangent.  d/dx tanh x = 1 - tanh(x)^2.", "tanh")
sin = _float_unary(SIN, "Sine.  d/dx sin x = cos x.", "sin")
cos = _float_unary(COS, "Cosine.  d/dx cos x = -sin x.", "cos")
erf = _float_unary(ERF, "Gauss error function.  d/dx erf x = 2/sqrt(pi) exp(-x^2).", "erf")
sigmoid = _float_unary(
    SIGMOID,
    "Logistic function 1 / (1 + e^-x) = e^x / (1 + e^x), accurate for any x (computed in "
    "the second form with x capped where e^x would overflow).  d/dx = s (1 - s) with s the "
    "output.",
    "sigmoid",
)


def clamped_log(x, min: float = -100.0, eps: float = 1e-12):
    """max(log x, min) with the derivative 1 / max(x, eps) everywhere: the log of
    PyTorch's binary cross-entropy (min = -100), whose gradient stays large and finite
    where p reaches 0 or 1 instead of the 0 that the clamp alone would give (a
    confidently wrong prediction keeps a gradient).  For x > eps and log x > min it
    is log x, to every order."""
    x = tensor_arg(x)
    if x._data.dtype.kind != "f":
        x = as_float(x)
    return apply(CLAMPED_LOG, (x,), {"min": min, "eps": eps})


@method("neg", "__neg__")
def neg(x):
    """``-x``.  d/dx = -1."""
    return apply(NEG, (tensor_arg(x),))


@method()
def relu(x):
    """max(x, 0).  relu'(x) = 1 for x > 0 and 0 for x <= 0 (relu'(0) = 0, as PyTorch)."""
    return apply(RELU, (tensor_arg(x),))


@method("abs", "__abs__")
def abs(x):
    """|x|.  d/dx |x| = sign(x), with sign(0) = 0 (as PyTorch)."""
    return apply(ABS, (tensor_arg(x),))


@method()
def leaky_relu(x, negative_slope: float = 0.01):
    """x for x > 0 else negative_slope * x.  The derivative at 0 is negative_slope."""
    return apply(LEAKY_RELU, (tensor_arg(x),), {"negative_slope": negative_slope})


@method("clip", "clamp")
def clip(x, min=None, max=None):
    """Clamp to [min, max] (either may be None).

    The gradient passes where min <= x <= max (bounds included, as PyTorch) and
    is 0 outside.  Tensor bounds broadcast with x and get the gradient where they
    bind: min where x < min, max where the result would exceed max (as PyTorch).
    """
    if min is None and max is None:
        raise ValueError("clip: at least one of min and max must be given")
    if isinstance(min, Tensor) or is_array(min) or isinstance(max, Tensor) or is_array(max):
        out = tensor_arg(x)
        for bound, beyond in ((min, lt), (max, gt)):
            if bound is not None:
                out, bound = binary_operands(out, bound)
                out = where(unwrap(beyond(out, bound)), bound, out)
        return out
    return apply(CLIP, (tensor_arg(x),), {"min": min, "max": max})


clamp = clip


@method()
def gelu(x, approximate: str = "none"):
    """Gaussian error linear unit x * Phi(x), Phi the standard normal CDF.

    ``approximate="none"``: 0.5 x (1 + erf(x / sqrt 2)); ``"tanh"``:
    0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).  Composed, so its gradient
    comes from erf/tanh and the products.
    """
    if approximate == "none":
        return 0.5 * x * (1.0 + erf(x * (1 / math.sqrt(2.0))))
    if approximate == "tanh":
        return 0.5 * x * (1.0 + tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x * x * x)))
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


@method()
def square(x):
    """x * x."""
    return mul(x, x)


@method()
def rsqrt(x):
    """1 / sqrt(x)."""
    return div(1.0, sqrt(x))


# --------------------------------------------------------------- comparisons
def _comparison(name: str, forward, dunder: str):
    op = Op(name, forward, differentiable=False)

    def compare(x, y):
        return apply(op, binary_operands(x, y))

    compare.__name__ = name
    compare.__qualname__ = name
    compare.__doc__ = f"Elementwise ``{name}`` with broadcasting; a bool tensor, no gradient."
    return method(name, dunder)(compare)


eq = _comparison("eq", binary_forward("equal"), "__eq__")
ne = _comparison("ne", binary_forward("not_equal"), "__ne__")
lt = _comparison("lt", binary_forward("less"), "__lt__")
le = _comparison("le", binary_forward("less_equal"), "__le__")
gt = _comparison("gt", binary_forward("greater"), "__gt__")
ge = _comparison("ge", binary_forward("greater_equal"), "__ge__")
logical_and = _comparison("logical_and", binary_forward("logical_and"), "__and__")
logical_or = _comparison("logical_or", binary_forward("logical_or"), "__or__")
logical_xor = _comparison("logical_xor", binary_forward("logical_xor"), "__xor__")
_NOT = Op("logical_not", unary_forward("logical_not"), differentiable=False)


@method("logical_not", "__invert__")
def logical_not(x):
    """Elementwise not (``~x`` on a bool tensor); no gradient."""
    return apply(_NOT, (tensor_arg(x),))


_SIGN = Op("sign", _sign, differentiable=False)


@method()
def sign(x):
    """-1, 0 or 1 by the sign of x.  Piecewise constant: no gradient."""
    return apply(_SIGN, (tensor_arg(x),))


_ISNAN = Op("isnan", unary_forward("isnan"), differentiable=False)
_ISFINITE = Op("isfinite", unary_forward("isfinite"), differentiable=False)


@method()
def isnan(x):
    """True where x is NaN."""
    return apply(_ISNAN, (tensor_arg(x),))


@method()
def isfinite(x):
    """True where x is neither NaN nor infinite."""
    return apply(_ISFINITE, (tensor_arg(x),))


# ------------------------------------------------------------------ dtype cast
ASTYPE = Op("astype", lambda x, dtype: x.astype(dtype), lambda g, out, x, dtype: g.astype(x.dtype),
            meta=True)


@method()
def astype(x, dtype):
    """``x`` converted to ``dtype``.  Differentiable between float dtypes (the
    gradient is cast back); a cast to an integer or bool dtype leaves the graph."""
    x = tensor_arg(x)
    dtype = np.dtype(dtype)
    if x._data.dtype == dtype:
        return x
    if dtype.kind != "f":
        return Tensor._make(x._data.astype(dtype))
    return apply(ASTYPE, (x,), {"dtype": dtype})


def _cast_method(name: str, dtype) -> None:
    def cast(self):
        return astype(self, dtype)

    cast.__name__ = name
    cast.__doc__ = f"``self`` as {np.dtype(dtype)} (``astype``)."
    method(name)(cast)


for _name, _dtype in (("float", np.float32), ("double", np.float64), ("long", np.int64),
                      ("int", np.int32), ("bool", np.bool_)):
    _cast_method(_name, _dtype)


@method()
def clone(x):
    """A copy of ``x`` with its own memory; the gradient passes through unchanged."""
    return apply(CLONE, (tensor_arg(x),))


CLONE = Op("clone", lambda x: x.copy(), lambda g, out, x: g)
