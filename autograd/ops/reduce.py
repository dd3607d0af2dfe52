"""Reductions (sum, max, logsumexp, prod, ...) and the softmax family.

``dim`` may be None (all dimensions), an int or a tuple; ``axis``/``keepdims``
are accepted as NumPy aliases.  Ties: a max/min over several dims shares the
gradient evenly among tied elements (as ``torch.amax``); ``max(x, dim)``
returns (values, indices) and routes the gradient to the returned index.
"""
from __future__ import annotations

import math
from collections import namedtuple

import numpy as np

from .._shapes import kept_shape, normalize_dim, normalize_dims, sum_kept
from ..arrays import namespace
from ..graph import apply
from ..tensor import Tensor, tensor_arg, unwrap
from ._args import as_float, method
from ._registry import Op
from .elementwise import EXP, WHERE, maximum, minimum, sqrt
from .index import take_along_dim
from .shape import EXPAND


def _unreduce(g, dims: tuple, keepdim: bool, shape: tuple):
    """Broadcast a reduced gradient back over the reduced dims (dual: arrays or Tensors)."""
    if not keepdim:
        g = g.reshape(kept_shape(shape, dims))
    return EXPAND(g, shape=shape)


# Sums and products call the ufuncs' reduce directly (or, for short sums, matmul:
# ``sum_kept``) rather than np.sum & co.: NumPy's Python wrappers would raise its
# warnings about inf and nan from their own frames, outside the filter that silences
# them in graphgrad's modules (_numpy_warnings.py).  (CuPy's ufuncs reduce with add and
# multiply only; max and min call the array's method, which never warns.)
def _sum(x, dims, keepdim):
    total = sum_kept(x, dims)
    return total if keepdim else total.reshape(
        tuple(n for d, n in enumerate(x.shape) if d not in dims))


SUM = Op("sum", _sum, lambda g, out, x, dims, keepdim: _unreduce(g, dims, keepdim, x.shape),
         meta=True)


def _extreme_vjp(g, out, x, dims, keepdim, nan_shares=False):
    # The gradient is shared evenly by the elements equal to the extreme value; with
    # ``nan_shares``, a NaN extreme is shared by the NaNs (PyTorch's max()/min(); its
    # amax/amin give NaN gradients there, as NaN == NaN is false).
    xd, od = unwrap(x), unwrap(out)
    if not keepdim:
        od = od.reshape(kept_shape(xd.shape, dims))
        g = g.reshape(od.shape)
    hits = xd == od
    if nan_shares:
        xp = namespace(xd)
        hits |= xp.isnan(xd) & xp.isnan(od)
    weights = hits / hits.sum(axis=dims, keepdims=True)
    return g * weights.astype(xd.dtype)


def _max_forward(x, dims, keepdim):
    return x.max(axis=dims, keepdims=keepdim)


def _min_forward(x, dims, keepdim):
    return x.min(axis=dims, keepdims=keepdim)


def _nan_sharing_vjp(g, out, x, dims, keepdim):
    return _extreme_vjp(g, out, x, dims, keepdim, nan_shares=True)


AMAX = Op("amax", _max_forward, _extreme_vjp, saves="x out")
AMIN = Op("amin", _min_forward, _extreme_vjp, saves="x out")
MAX_ALL = Op("max", _max_forward, _nan_sharing_vjp, saves="x out")  # max() without dim
MIN_ALL = Op("min", _min_forward, _nan_sharing_vjp, saves="x out")


def _max_kept(x, dims: tuple):
    """x's maximum over ``dims``, kept as dims of size 1; -inf over an empty dim (NumPy's
    ``initial=-inf``, which CuPy's max lacks)."""
    if x.size:
        return x.max(axis=dims, keepdims=True)
    return namespace(x).full(kept_shape(x.shape, dims), -np.inf, dtype=x.dtype)


def _logsumexp(x, dims, keepdim):
    xp = namespace(x)
    m = _max_kept(x, dims)
    m = xp.where(xp.isfinite(m), m, 0)
    out = xp.log(xp.sum(xp.exp(x - m), axis=dims, keepdims=True)) + m
    if keepdim:
        return out
    return out.reshape(tuple(n for i, n in enumerate(out.shape) if i not in dims))


LOGSUMEXP = Op(
    "logsumexp", _logsumexp,
    lambda g, out, x, dims, keepdim: _unreduce(g, dims, keepdim, x.shape)
    * EXP(x - _unreduce(out, dims, keepdim, x.shape)),
    saves="x out",
)


def _prod_vjp(g, out, x, dims, keepdim):
    # d/dx_i prod_j x_j = prod_{j != i} x_j, computed without dividing (exact with zeros):
    # lay the n reduced elements out as an n x n matrix with ones on the diagonal and take
    # the product of each row.  Costs O(n^2) memory for a reduction over n elements.
    shape = x.shape
    rest = tuple(i for i in range(len(shape)) if i not in dims)
    perm = rest + dims
    moved = x.transpose(perm)
    lead = moved.shape[: len(rest)]
    n = math.prod(shape[d] for d in dims)
    diagonal = namespace(unwrap(x)).eye(n, dtype=bool)
    rows = WHERE(1.0, moved.reshape(lead + (1, n)), condition=diagonal)
    others = PROD(rows, dims=(len(lead) + 1,), keepdim=False).reshape(moved.shape)
    others = others.transpose(tuple(np.argsort(perm)))
    return _unreduce(g, dims, keepdim, shape) * others


PROD = Op("prod",
          lambda x, dims, keepdim: namespace(x).multiply.reduce(x, axis=dims, keepdims=keepdim),
          _prod_vjp, saves="x")


def _along(dim) -> tuple:
    """The softmax family's ``dim`` as a tuple of dims (None, for a 0-d input: none)."""
    return () if dim is None else (dim,)


def _softmax(x, dim):
    e = namespace(x).exp(x - _max_kept(x, _along(dim)))
    return e / sum_kept(e, _along(dim))


def _log_softmax(x, dim):
    xp = namespace(x)
    shifted = x - _max_kept(x, _along(dim))
    return shifted - xp.log(sum_kept(xp.exp(shifted), _along(dim)))


SOFTMAX = Op(
    "softmax", _softmax,
    lambda g, out, x, dim: out * (g - sum_kept(g * out, _along(dim))), saves="out",
)
LOG_SOFTMAX = Op(
    "log_softmax", _log_softmax,
    lambda g, out, x, dim: g - EXP(out) * sum_kept(g, _along(dim)), saves="out",
)


# ------------------------------------------------------------ public functions
def _reduce_args(op: str, x: Tensor, dim, keepdim, axis, keepdims):
    if axis is not None:
        if dim is not None:
            raise TypeError(f"{op}: pass either dim or axis, not both")
        dim = axis
    if keepdims is not None:
        keepdim = keepdims
    dims = () if x._data.ndim == 0 else normalize_dims(op, dim, x._data.ndim)
    return dims, bool(keepdim)


@method()
def sum(x, dim=None, keepdim=False, *, axis=None, keepdims=None, dtype=None):
    """Sum over ``dim`` (all dims when None).  The gradient is g broadcast back."""
    x = tensor_arg(x)
    if dtype is not None:
        x = x.astype(dtype)
    dims, keepdim = _reduce_args("sum", x, dim, keepdim, axis, keepdims)
    return apply(SUM, (x,), {"dims": dims, "keepdim": keepdim})


@method()
def mean(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Arithmetic mean over ``dim``: sum / count.  Integer tensors give float32."""
    x = as_float(tensor_arg(x))
    dims, keepdim = _reduce_args("mean", x, dim, keepdim, axis, keepdims)
    count = math.prod(x._data.shape[d] for d in dims)
    return sum(x, dims, keepdim) / (count if count else float("nan"))


@method()
def var(x, dim=None, keepdim=False, *, correction=None, unbiased=None, axis=None, keepdims=None):
    """Variance sum((x - mean)^2) / (N - correction) over ``dim``.

    The default is the unbiased estimate (correction=1, also ``unbiased=True``);
    ``correction=0`` gives the biased one.
    """
    x = as_float(tensor_arg(x))
    if correction is None:
        correction = 0 if unbiased is False else 1
    dims, keepdim = _reduce_args("var", x, dim, keepdim, axis, keepdims)
    count = math.prod(x._data.shape[d] for d in dims)
    centered = x - mean(x, dims, keepdim=True)
    denom = count - correction
    return sum(centered * centered, dims, keepdim) / (denom if denom > 0 else float("nan"))


@method()
def std(x, dim=None, keepdim=False, *, correction=None, unbiased=None, axis=None, keepdims=None):
    """Standard deviation: sqrt(var(x, dim, correction)); unbiased by default.

    Where the values are all equal (var = 0) the gradient is 0, as PyTorch's, not the
    0 * inf = NaN of sqrt's derivative at 0: the square root there is of 1 instead,
    and its result is not used.
    """
    v = var(x, dim, keepdim, correction=correction, unbiased=unbiased, axis=axis,
            keepdims=keepdims)
    zero = v._data == 0
    if not zero.any():
        return sqrt(v)
    return WHERE(0.0, sqrt(WHERE(1.0, v, condition=zero)), condition=zero)


MinMax = namedtuple("MinMax", ["values", "indices"])


def _extreme(name: str, op: Op, pick, pairwise):
    def extreme(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
        if isinstance(dim, Tensor):  # torch.max(a, b) is the elementwise maximum
            return pairwise(x, dim)
        x = tensor_arg(x)
        if axis is not None or dim is None or isinstance(dim, (tuple, list)):
            dims, keepdim = _reduce_args(name, x, dim, keepdim, axis, keepdims)
            return _amax_like(op, name, x, dims, keepdim)
        keepdim = keepdim if keepdims is None else keepdims
        if x._data.ndim == 0:
            normalize_dim(name, dim, 0)
            return MinMax(x, Tensor._make(namespace(x._data).zeros((), dtype=np.int64)))
        d = normalize_dim(name, dim, x._data.ndim)
        _check_nonempty(name, x, (d,))
        idx = getattr(namespace(x._data), pick)(x._data, axis=d, keepdims=True)
        values = take_along_dim(x, idx, d)
        if not keepdim:
            values = values.squeeze(d)
            idx = idx.squeeze(d)
        return MinMax(values, Tensor._make(idx))

    extreme.__name__ = name
    return extreme


def _check_nonempty(name: str, x: Tensor, dims: tuple) -> None:
    if any(x._data.shape[d] == 0 for d in dims) or (not dims and x._data.size == 0):
        raise ValueError(f"{name}: cannot reduce over an empty dimension (shape {x.shape})")


def _amax_like(op: Op, name: str, x: Tensor, dims: tuple, keepdim: bool):
    _check_nonempty(name, x, dims)
    return apply(op, (x,), {"dims": dims, "keepdim": keepdim})


max = method()(_extreme("max", MAX_ALL, "argmax", maximum))
max.__doc__ = """Maximum.  ``max(x)`` is the 0-d maximum, its gradient shared evenly by ties
(by the NaNs when the maximum is NaN, as PyTorch's).
``max(x, dim, keepdim)`` returns ``(values, indices)``; the gradient goes to the index
returned (the first maximum).  ``max(x, other_tensor)`` is ``maximum``."""
min = method()(_extreme("min", MIN_ALL, "argmin", minimum))
min.__doc__ = """Minimum; see ``max`` (same conventions)."""


@method()
def amax(x, dim=None, keepdim=False):
    """Maximum over ``dim`` (int or tuple); ties share the gradient evenly."""
    x = tensor_arg(x)
    dims, keepdim = _reduce_args("amax", x, dim, keepdim, None, None)
    return _amax_like(AMAX, "amax", x, dims, keepdim)


@method()
def amin(x, dim=None, keepdim=False):
    """Minimum over ``dim`` (int or tuple); ties share the gradient evenly."""
    x = tensor_arg(x)
    dims, keepdim = _reduce_args("amin", x, dim, keepdim, None, None)
    return _amax_like(AMIN, "amin", x, dims, keepdim)


def _arg_extreme(name: str):
    def arg(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
        x = tensor_arg(x)
        dim = axis if axis is not None else dim
        keepdim = keepdim if keepdims is None else keepdims
        xp = namespace(x._data)
        pick = getattr(xp, name)
        if dim is None:
            _check_nonempty(name, x, ())
            idx = xp.asarray(pick(x._data))
            if keepdim:
                idx = idx.reshape((1,) * x._data.ndim)
            return Tensor._make(idx)
        d = normalize_dim(name, dim, x._data.ndim)  # 0 or -1 for a 0-d x, which has 1 element
        if x._data.ndim:
            _check_nonempty(name, x, (d,))
        return Tensor._make(xp.asarray(pick(x._data, axis=d if x._data.ndim else None,
                                            keepdims=keepdim)))

    arg.__name__ = name
    arg.__doc__ = f"Index of the {name[3:]}imum (flat when dim is None); no gradient."
    return method()(arg)


argmax = _arg_extreme("argmax")
argmin = _arg_extreme("argmin")


@method()
def logsumexp(x, dim=None, keepdim=False):
    """log(sum(exp(x))) over ``dim``, computed stably by shifting by the max.

    d/dx_i = exp(x_i - logsumexp(x)) = softmax(x)_i.
    """
    x = as_float(tensor_arg(x))
    dims, keepdim = _reduce_args("logsumexp", x, dim, keepdim, None, None)
    return apply(LOGSUMEXP, (x,), {"dims": dims, "keepdim": keepdim})


@method()
def prod(x, dim=None, keepdim=False):
    """Product over ``dim``.  d/dx_i = prod_{j != i} x_j, exact when some x_j are 0."""
    x = tensor_arg(x)
    dims, keepdim = _reduce_args("prod", x, dim, keepdim, None, None)
    return apply(PROD, (x,), {"dims": dims, "keepdim": keepdim})


def _softmax_dim(name: str, x: Tensor, dim) -> int | None:
    if dim is None:
        raise TypeError(f"{name}: dim must be given (as in PyTorch), e.g. dim=-1")
    if x._data.ndim == 0:
        normalize_dim(name, dim, 0)
        return None
    return normalize_dim(name, dim, x._data.ndim)


@method()
def softmax(x, dim=None):
    """exp(x_i) / sum_j exp(x_j) along ``dim``, shifted by the max for stability.

    Backward: s * (g - sum(g * s)) with s the output.
    """
    x = as_float(tensor_arg(x))
    return apply(SOFTMAX, (x,), {"dim": _softmax_dim("softmax", x, dim)})


@method()
def log_softmax(x, dim=None):
    """x_i - logsumexp(x) along ``dim`` (stable).  Backward: g - softmax * sum(g)."""
    x = as_float(tensor_arg(x))
    return apply(LOG_SOFTMAX, (x,), {"dim": _softmax_dim("log_softmax", x, dim)})
