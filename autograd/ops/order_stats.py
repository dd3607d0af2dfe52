"""Order statistics: kthvalue, median, nanmedian, quantile, nanquantile, mode and aminmax,
as PyTorch's.

Each picks elements of the stably sorted line (``sort._order``: ties in order of
position, NaN last) and gathers them with ``take_along_dim``, so the gradient of a
picked value goes to the element it came from and no rule is needed; a quantile
between two elements is their linear interpolation, differentiated as such.  Only
the global ``median()``/``nanmedian()`` (no dim) have a rule of their own: as PyTorch's,
their gradient is shared evenly by all the elements equal to the result (by the NaNs
when it is NaN), as ``max()``'s.

Ties and NaN: where several elements have the picked value, the index is the one the
stable sort puts at the picked place (PyTorch leaves it open for kthvalue and median;
the value is the same).  NaN counts as larger than every number: ``median`` and
``quantile`` of a line holding NaN are NaN (index: the line's first NaN), ``nanmedian``
and ``nanquantile`` leave NaN out (NaN only for a line of NaN).  ``mode`` is the most
frequent value, the smallest among equally frequent ones, with the index of its last
occurrence, as PyTorch's.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from .._shapes import normalize_dim
from ..arrays import device_of, namespace
from ..tensor import Tensor, tensor_arg
from ._args import method
from ._registry import Op
from .index import take_along_dim
from .reduce import _nan_sharing_vjp, amax, amin
from .scan import _accumulate, _positions
from .shape import stack
from .sort import _as_vector, _dim, _order

KthValue = namedtuple("kthvalue", ["values", "indices"])
Median = namedtuple("median", ["values", "indices"])
NanMedian = namedtuple("nanmedian", ["values", "indices"])
Mode = namedtuple("mode", ["values", "indices"])
AMinMax = namedtuple("aminmax", ["min", "max"])

_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def _nan_count(a, dim: int):
    xp = namespace(a)
    isnan = xp.isnan(a) if a.dtype.kind == "f" else xp.zeros(a.shape, dtype=bool)
    return isnan.sum(axis=dim, keepdims=True)


def _check_line(name: str, x: Tensor, d: int) -> None:
    if x._data.ndim and x._data.shape[d] == 0:
        raise IndexError(f"{name}: cannot reduce over dim {d} of size 0 (input shape {x.shape})")


def _select(name: str, result, input, dim, keepdim: bool, position) -> tuple:
    """(values, indices) of the element at sorted place ``position(sorted lines, dim)`` (an
    int array with size 1 along dim) of each line along ``dim``."""
    x = tensor_arg(input)
    d = _dim(name, x, dim)
    _check_line(name, x, d)
    v = _as_vector(x)
    order = _order(v._data, d, False)
    indices = namespace(order).take_along_axis(order, position(v._data, d), d).astype(np.int64)
    values = take_along_dim(v, indices, d)
    if x._data.ndim == 0:
        return result(values.reshape(()), Tensor._make(indices.reshape(())))
    if not keepdim:
        values, indices = values.squeeze(d), indices.squeeze(d)
    return result(values, Tensor._make(indices))


def _line_shape(a, dim: int) -> tuple:
    return a.shape[:dim] + (1,) + a.shape[dim + 1:]


@method()
def kthvalue(input, k: int, dim: int = -1, keepdim: bool = False) -> KthValue:
    """``(values, indices)``: the k-th smallest element (k from 1) of each line along
    ``dim``.  The gradient goes to the element returned."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"kthvalue: k must be an int, got {k!r}")
    x = tensor_arg(input)
    d = _dim("kthvalue", x, dim)
    n = x._data.shape[d] if x._data.ndim else 1
    if n and not 1 <= k <= n:
        raise RuntimeError(f"kthvalue: k = {k} is out of range for dim {d} of size {n} "
                           f"(input shape {x.shape})")
    return _select("kthvalue", KthValue, x, d, keepdim,
                   lambda a, d: namespace(a).full(_line_shape(a, d), k - 1))


def _lower_median_place(a, d: int, skip_nan: bool):
    """The sorted place of the lower median of each line: of the non-NaN elements with
    ``skip_nan`` (0 when there are none), else of all, or the first NaN if there is one."""
    xp = namespace(a)
    n, nans = a.shape[d], _nan_count(a, d)
    if skip_nan:
        return xp.maximum(n - nans - 1, 0) // 2
    return xp.where(nans > 0, n - nans, (n - 1) // 2)


def _global_median(a, skip_nan: bool):
    xp = namespace(a)
    flat = a.reshape(-1)
    if flat.size == 0:
        return xp.full((), np.nan, dtype=a.dtype)
    place = _lower_median_place(flat, 0, skip_nan)
    return xp.sort(flat)[place].reshape(())  # sort puts NaN last too


# The global median: ties (and NaNs, when it is NaN) share the gradient evenly.
MEDIAN = Op("median", lambda x, dims, keepdim: _global_median(x, False), _nan_sharing_vjp,
            saves="x out")
NANMEDIAN = Op("nanmedian", lambda x, dims, keepdim: _global_median(x, True),
               _nan_sharing_vjp, saves="x out")


def _median(name: str, op: Op, result, skip_nan: bool):
    def median(input, dim=None, keepdim: bool = False):
        x = tensor_arg(input)
        if dim is None:
            return op(x, dims=tuple(range(x._data.ndim)), keepdim=False)
        return _select(name, result, x, dim, keepdim,
                       lambda a, d: _lower_median_place(a, d, skip_nan))

    median.__name__ = name
    return method()(median)


median = _median("median", MEDIAN, Median, skip_nan=False)
median.__doc__ = """The lower median (the element at sorted place (n - 1) // 2; NaN when the
line holds NaN).  ``median(x)``: of all elements, a 0-d tensor (NaN for an empty x), its
gradient shared evenly by the elements equal to it.  ``median(x, dim, keepdim)``:
``(values, indices)`` along ``dim``, the gradient to the element returned."""
nanmedian = _median("nanmedian", NANMEDIAN, NanMedian, skip_nan=True)
nanmedian.__doc__ = """``median`` of the non-NaN elements (NaN where all are NaN); the same
conventions."""


@method()
def mode(input, dim: int = -1, keepdim: bool = False) -> Mode:
    """``(values, indices)``: the most frequent value of each line along ``dim`` (the
    smallest among equally frequent ones; NaNs count as one value) and the index of its
    last occurrence.  The gradient goes to that element."""

    def last_of_longest_run(a, d):
        xp = namespace(a)
        s = xp.sort(a, axis=d)
        n = s.shape[d]
        same = s[(slice(None),) * d + (slice(1, None),)] == s[(slice(None),) * d +
                                                             (slice(0, n - 1),)]
        if s.dtype.kind == "f":
            same |= xp.isnan(s[(slice(None),) * d + (slice(1, None),)])
        starts = xp.concatenate([xp.ones(_line_shape(s, d), dtype=bool), ~same], axis=d)
        place = _positions(xp, s.shape, d)
        run_start = _accumulate("maximum", xp.where(starts, place, 0), d)
        # the first place where a run reaches the longest length ends the smallest mode
        return xp.argmax(place - run_start, axis=d, keepdims=True)

    return _select("mode", Mode, input, dim, keepdim, last_of_longest_run)


# ------------------------------------------------------------------- quantile
def _quantile_q(name: str, x: Tensor, q) -> tuple:
    """(q as a 1-D array of the input's dtype on its device, whether q was a scalar),
    checked as PyTorch does."""
    if isinstance(q, Tensor):
        if q._data.ndim > 1:
            raise ValueError(f"{name}: q must be a scalar or 1-D tensor, got shape {q.shape}")
        if q._data.dtype != x._data.dtype:
            raise TypeError(f"{name}: q ({q.dtype}) must have the input's dtype ({x.dtype})")
        if device_of(q._data) != device_of(x._data):
            raise RuntimeError(f"{name}: q must be on the input's device ({x.device}), got "
                               f"a q on {q.device}")
        values, scalar = q._data.reshape(-1), q._data.ndim == 0
    elif isinstance(q, (int, float, np.floating, np.integer)) and not isinstance(q, bool):
        values, scalar = namespace(x._data).asarray([q], dtype=x._data.dtype), True
    else:
        raise TypeError(f"{name}: q must be a float or a Tensor, got {type(q).__name__}")
    if ((values < 0) | (values > 1) | namespace(values).isnan(values)).any():
        raise ValueError(f"{name}: q values must be in [0, 1], got {values.tolist()}")
    return values, scalar


def _quantile(name: str, skip_nan: bool):
    def quantile(input, q, dim=None, keepdim: bool = False, *, interpolation: str = "linear"):
        x = tensor_arg(input)
        if x._data.dtype.kind != "f":
            raise TypeError(f"{name}: expected a floating point input, got {x.dtype}")
        if x._data.size == 0:
            raise ValueError(f"{name}: the input must be non-empty (shape {x.shape})")
        if interpolation not in _INTERPOLATIONS:
            raise ValueError(f"{name}: interpolation must be one of {', '.join(_INTERPOLATIONS)}"
                             f", got {interpolation!r}")
        qs, scalar = _quantile_q(name, x, q)
        xp = namespace(x._data)
        if dim is None:
            v, d = x.reshape(-1), 0
        else:
            v, d = _as_vector(x), _dim(name, x, dim)
        order = _order(v._data, d, False)
        ranked = take_along_dim(v, order, d)
        n, nans = v._data.shape[d], _nan_count(v._data, d)
        count = n - nans if skip_nan else xp.full(nans.shape, n)
        # an empty q still has the reduced shape: its pick at q = 0, then none of it
        picks = [_interpolate(ranked, d, qi, count, nans, skip_nan, interpolation)
                 for qi in (qs if qs.size else xp.zeros(1, qs.dtype))]
        out = picks[0] if scalar else stack(picks, 0)
        if not qs.size:
            out = out[:0]
        lead = 0 if scalar else 1
        if dim is None:
            return out.reshape(out.shape[:lead] + (1,) * x._data.ndim) if keepdim else \
                out.reshape(out.shape[:lead])
        if x._data.ndim == 0:
            return out.reshape(out.shape[:lead])
        return out if keepdim else out.squeeze(d + lead)

    quantile.__name__ = name
    return method()(quantile)


def _interpolate(ranked: Tensor, d: int, q, count, nans, skip_nan: bool,
                 interpolation: str) -> Tensor:
    """The q-quantile of each sorted line, with size 1 along ``d``: at rank q (count - 1)
    between the elements at places floor and ceil of it (in the input's dtype, as PyTorch
    computes it: halves then fall where PyTorch's do).  A line holding NaN (quantile) or
    only NaN (nanquantile) picks a NaN element, as PyTorch.  ``q`` (0-d), ``count`` and
    ``nans`` are arrays on ranked's device."""
    xp = namespace(count)
    rank = q * xp.maximum(count - 1, 0).astype(ranked.dtype)
    lo, hi = xp.floor(rank), xp.ceil(rank)
    if interpolation == "lower":
        hi = lo
    elif interpolation == "higher":
        lo = hi
    elif interpolation == "nearest":
        lo = hi = xp.round(rank)  # halves to even, as PyTorch's round
    weight = 0.5 if interpolation == "midpoint" else rank - lo
    nan_line = (count == 0) if skip_nan else (nans > 0)
    nan_place = 0 if skip_nan else ranked.shape[d] - 1
    lo = xp.where(nan_line, nan_place, lo).astype(np.int64)
    hi = xp.where(nan_line, nan_place, hi).astype(np.int64)
    weight = xp.where(nan_line | (lo == hi), 0.0, weight).astype(ranked.dtype)
    below = take_along_dim(ranked, lo, d)
    if not weight.any():
        return below
    return below + (take_along_dim(ranked, hi, d) - below) * weight


quantile = _quantile("quantile", skip_nan=False)
quantile.__doc__ = """The ``q``-quantiles of x along ``dim`` (of all elements when None), q a
float or a 0-d/1-D tensor of values in [0, 1] (a 1-D q adds a leading dim of its size).
The quantile sits at rank q (n - 1) of the sorted line; between the elements at its floor
and ceil, ``interpolation`` gives: ``linear`` (lo + (hi - lo) * frac, the gradient split
(1 - frac, frac)), ``lower``, ``higher``, ``nearest`` (halves to even) or ``midpoint``.
A line holding NaN gives NaN, its gradient to a NaN element, as PyTorch."""
nanquantile = _quantile("nanquantile", skip_nan=True)
nanquantile.__doc__ = """``quantile`` of the non-NaN elements of each line (NaN where all
are NaN); the same conventions."""


@method()
def aminmax(input, *, dim=None, keepdim: bool = False) -> AMinMax:
    """``(min, max)`` of all elements, or along ``dim``: ``amin`` and ``amax``, their
    gradients shared evenly by tied elements, as PyTorch's aminmax."""
    x = tensor_arg(input)
    if dim is None:
        if x._data.size == 0:
            raise ValueError(f"aminmax: cannot reduce an empty input (shape {x.shape})")
        result = AMinMax(amin(x), amax(x))
        if keepdim:
            ones = (1,) * x._data.ndim
            return AMinMax(result.min.reshape(ones), result.max.reshape(ones))
        return result
    if x._data.ndim == 0:
        normalize_dim("aminmax", dim, 0)
        return AMinMax(amin(x), amax(x))
    d = normalize_dim("aminmax", dim, x._data.ndim)
    if x._data.shape[d] == 0:
        raise IndexError(f"aminmax: cannot reduce over dim {d} of size 0 "
                         f"(input shape {x.shape})")
    return AMinMax(amin(x, d, keepdim), amax(x, d, keepdim))
