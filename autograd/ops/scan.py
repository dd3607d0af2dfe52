"""Scans along one dim: cumsum, cumprod, cummax, cummin and logcumsumexp, as PyTorch's.

Output element i of a line combines the elements 0..i of that line, so the gradient
of x_k collects from every output i >= k: a scan in the other direction.  The
primitives that rules call take ``reverse`` (element i combines i..n-1), and every
rule is written with scans and elementwise ops, so the gradients are differentiable
to any order.

- cumsum: d out_i / d x_k = 1 for k <= i, so the gradient is a reverse cumsum of g.
- cumprod: d out_i / d x_k = prod_{j <= i, j != k} x_j, a linear recurrence in the
  other direction, exact with zeros (``_cumprod_vjp``).
- logcumsumexp: d out_i / d x_k = exp(x_k - out_i) <= 1, a weighted reverse cumsum
  computed in log space (``EXP_WEIGHTED_CUMSUM``), stable for large values and -inf.
- cummax / cummin: (values, indices), the gradient of values[i] goes to x[indices[i]].
  Ties take the latest position, and a NaN is the extreme from where it appears on (each
  later NaN taking over), as PyTorch's.

A 0-d tensor is one element along dim 0 (or -1): the scan returns it unchanged.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..arrays import namespace
from ..tensor import Tensor, tensor_arg, unwrap
from ._args import method
from ._registry import Op
from .index import take_along_dim
from .padding import PAD
from .sort import _as_vector, _dim

CumResult = namedtuple("cummax", ["values", "indices"])
CumMinResult = namedtuple("cummin", ["values", "indices"])


def _accumulate(name: str, x, dim: int, reverse: bool = False):
    """The ufunc ``name``'s ``accumulate`` along ``dim`` (from the end when ``reverse``), on
    x's device.  CuPy's ufuncs accumulate with add and multiply only: for the others
    (maximum, minimum, logaddexp: associative) a device array takes ceil(log2 n)
    vectorised steps of Hillis and Steele's scan, exact for maximum and minimum, within
    rounding of the sequential result for logaddexp."""
    xp = namespace(x)
    if reverse:
        x = xp.flip(x, dim)
    if xp is np or name in ("add", "multiply"):
        out = getattr(xp, name).accumulate(x, axis=dim)
    else:
        out = _doubling_scan(getattr(xp, name), x, dim)
    return xp.flip(out, dim) if reverse else out


def _doubling_scan(ufunc, x, dim: int):
    # after the step of width w, element i combines elements i - 2w + 1 .. i
    out, n, width = x.copy(), x.shape[dim], 1
    while width < n:
        later = (slice(None),) * dim + (slice(width, None),)
        earlier = (slice(None),) * dim + (slice(0, n - width),)
        out[later] = ufunc(out[earlier], out[later])
        width *= 2
    return out


CUMSUM = Op(
    "cumsum", lambda x, dim, reverse: _accumulate("add", x, dim, reverse),
    lambda g, out, x, dim, reverse: CUMSUM(g, dim=dim, reverse=not reverse),
)


def _positions(xp, shape: tuple, dim: int):
    """0, 1, ..., n-1 along ``dim`` (an array of module ``xp``), shaped to broadcast against
    an array of ``shape``."""
    n = shape[dim]
    return xp.arange(n).reshape((n,) + (1,) * (len(shape) - 1 - dim))


def _shift(t, dim: int, toward_start: bool, fill: float):
    """t moved one place along ``dim`` (s_k = t_{k+1}, or t_{k-1}), ``fill`` entering."""
    n = t.shape[dim]
    if n == 0:
        return t
    keep = slice(1, None) if toward_start else slice(0, n - 1)
    widths = [(0, 0)] * len(t.shape)
    widths[dim] = (0, 1) if toward_start else (1, 0)
    return PAD(t[(slice(None),) * dim + (keep,)], widths=tuple(widths), value=fill)


def _linear_recurrence(b, a, dim, reverse):
    # one step per position along dim, each over all the lines at once
    xp = namespace(b)
    h = xp.broadcast_to(b, np.broadcast_shapes(b.shape, a.shape)).copy()
    h_lines, a_lines = xp.moveaxis(h, dim, 0), xp.moveaxis(xp.broadcast_to(a, h.shape), dim, 0)
    steps = range(len(h_lines) - 2, -1, -1) if reverse else range(1, len(h_lines))
    for t in steps:
        h_lines[t] += a_lines[t] * h_lines[t + 1 if reverse else t - 1]
    return h


# h_t = b_t + a_t h_{t-1} along dim (h_t = b_t + a_t h_{t+1} when reverse; h = b at the
# first step).  Linear in b: its gradient is the recurrence run the other way with the
# coefficients moved one place, l_t = g_t + a_{t+1} l_{t+1}; and d/da_t = l_t h_{t-1}.
def _recurrence_db(g, out, b, a, dim, reverse):
    return LINEAR_RECURRENCE(g, _shift(a, dim, not reverse, 0.0), dim=dim, reverse=not reverse)


LINEAR_RECURRENCE = Op(
    "linear_recurrence", _linear_recurrence, _recurrence_db,
    lambda g, out, b, a, dim, reverse:
    _recurrence_db(g, out, b, a, dim, reverse) * _shift(out, dim, reverse, 0.0),
    saves=("y", "y out"),
)


def _cumprod_vjp(g, out, x, dim):
    """The gradient of x_k is sum_{i >= k} g_i prod_{j <= i, j != k} x_j
    = prod_{j < k} x_j * s_k, with s_k = sum_{i >= k} g_i prod_{k < j <= i} x_j
    = g_k + x_{k+1} s_{k+1}: a linear recurrence, exact with zeros (no division) and
    differentiable to any order, computed by a loop along dim.

    First order takes a vectorised way where it is exact: s_k = revcumsum(g * out)_k / out_k,
    so the gradient is revcumsum(g * out) / x, when no x is 0 and no out_i is 0 or
    subnormal (where products underflow, dividing them back loses the value).
    """
    o = unwrap(out)
    if isinstance(g, Tensor) or not (namespace(o).abs(o) >= np.finfo(o.dtype).tiny).all():
        return _shift(out, dim, False, 1.0) * LINEAR_RECURRENCE(
            g, _shift(x, dim, True, 0.0), dim=dim, reverse=True)
    return CUMSUM(g * out, dim=dim, reverse=True) / x


CUMPROD = Op(
    "cumprod", lambda x, dim: _accumulate("multiply", x, dim), _cumprod_vjp,
    saves="x out",
)


def _exp_weighted_cumsum(v, a, b, dim, reverse):
    # sum_q v_q exp(a_q) as exp(logcumsumexp(a + log v)) for v > 0 and v < 0 apart
    # (log 0 = -inf drops the other terms): no exp of a large value is ever taken.
    xp = namespace(v)
    positive = _accumulate("logaddexp", a + xp.log(xp.maximum(v, 0)), dim, reverse)
    negative = _accumulate("logaddexp", a + xp.log(xp.maximum(-v, 0)), dim, reverse)
    return xp.exp(positive - b) - xp.exp(negative - b)


def _weighted_transposed(gs, a, b, dim, reverse):
    """sum_{p >= q} gs_p exp(a_q - b_p): the transpose in v (q <= p when ``reverse``)."""
    return EXP_WEIGHTED_CUMSUM(gs, -b, -a, dim=dim, reverse=not reverse)


# s_p = sum_{q <= p} v_q exp(a_q - b_p) (q >= p when reverse).  Linear in v, so its
# gradient in v is the transposed sum (the other direction, a and b swapped and negated),
# which also gives d/da_q = v_q * (that); d s_p / d b_p = -s_p.  logcumsumexp's rule.
EXP_WEIGHTED_CUMSUM = Op(
    "exp_weighted_cumsum", _exp_weighted_cumsum,
    lambda g, out, v, a, b, dim, reverse: _weighted_transposed(g, a, b, dim, reverse),
    lambda g, out, v, a, b, dim, reverse: v * _weighted_transposed(g, a, b, dim, reverse),
    lambda g, out, v, a, b, dim, reverse: -g * out,
    saves=("y z", "x y z", "out"),
)
LOGCUMSUMEXP = Op(
    "logcumsumexp", lambda x, dim: _accumulate("logaddexp", x, dim),
    # d out_i / d x_k = exp(x_k - out_i) for i >= k: s_k = sum_{i >= k} g_i exp(x_k - out_i)
    lambda g, out, x, dim: EXP_WEIGHTED_CUMSUM(g, -out, -x, dim=dim, reverse=True),
    saves="x out",
)


# ------------------------------------------------------------ public functions
def _scan_input(name: str, input, dim, dtype) -> tuple:
    """(x as a vector if 0-d, dim normalised, whether x was 0-d); ``dtype`` casts first
    and integer or bool inputs accumulate in int64, as PyTorch's."""
    x = tensor_arg(input)
    if dtype is not None:
        x = x.astype(dtype)
    elif x._data.dtype.kind in "biu":
        x = x.astype(np.int64)
    return _as_vector(x), _dim(name, x, dim), x._data.ndim == 0


def _scalar_back(out: Tensor, was_scalar: bool) -> Tensor:
    return out.reshape(()) if was_scalar else out


@method()
def cumsum(input, dim: int, *, dtype=None) -> Tensor:
    """out_i = x_0 + ... + x_i along ``dim``.  The gradient is the reverse cumsum of g."""
    x, d, scalar = _scan_input("cumsum", input, dim, dtype)
    return _scalar_back(CUMSUM(x, dim=d, reverse=False), scalar)


@method()
def cumprod(input, dim: int, *, dtype=None) -> Tensor:
    """out_i = x_0 * ... * x_i along ``dim``.  d out_i / d x_k = prod_{j <= i, j != k} x_j,
    exact (and twice differentiable) also where x holds zeros, one or several."""
    x, d, scalar = _scan_input("cumprod", input, dim, dtype)
    return _scalar_back(CUMPROD(x, dim=d), scalar)


@method()
def logcumsumexp(input, dim: int) -> Tensor:
    """out_i = log(exp(x_0) + ... + exp(x_i)) along ``dim``, stable for large values and
    -inf (NumPy's logaddexp, accumulated).  d out_i / d x_k = exp(x_k - out_i), k <= i;
    where out_i = -inf (all of x_0..x_i are -inf) it is NaN, as PyTorch's."""
    x = tensor_arg(input)
    if x._data.dtype.kind != "f":
        raise TypeError(f"logcumsumexp: expected a floating point input, got {x.dtype}")
    x, d, scalar = _scan_input("logcumsumexp", x, dim, None)
    return _scalar_back(LOGCUMSUMEXP(x, dim=d), scalar)


def _cum_extreme(name: str, result, ufunc: str, beats):
    def extreme(input, dim: int):
        x = tensor_arg(input)
        v, d, scalar = _as_vector(x), _dim(name, x, dim), x._data.ndim == 0
        a = v._data
        xp = namespace(a)
        running = _accumulate(ufunc, a, d)
        # the latest position where x_j equals the running extreme (or is NaN) up to i
        hits = (a == running) | xp.isnan(a) if a.dtype.kind == "f" else a == running
        indices = _accumulate("maximum", xp.where(hits, _positions(xp, a.shape, d), 0), d)
        values = _scalar_back(take_along_dim(v, indices, d), scalar)
        return result(values, Tensor._make(indices.astype(np.int64).reshape(x._data.shape)))

    extreme.__name__ = name
    extreme.__doc__ = (
        f"``(values, indices)``: the running {beats} of x along ``dim`` and the int64 "
        f"position it came from (the latest among ties; a NaN from where it appears on, "
        f"as PyTorch's).  The gradient of values[i] goes to x[indices[i]].")
    return method()(extreme)


cummax = _cum_extreme("cummax", CumResult, "maximum", "maximum")
cummin = _cum_extreme("cummin", CumMinResult, "minimum", "minimum")
