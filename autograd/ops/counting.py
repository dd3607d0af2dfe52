"""Counting, finding and set operations, as PyTorch's: nonzero, argwhere, count_nonzero,
unique, unique_consecutive, bincount, histc, searchsorted and bucketize.

Function and method forms as PyTorch's (``searchsorted`` and ``bucketize`` are functions
only).  Their results are positions, counts or sets of values: none has a gradient (the outputs
never require grad; ``bincount``'s weights and ``unique``'s values included, where
PyTorch records a node whose backward raises).

On a device they compute there; those whose result's size depends on the data (nonzero,
unique, bincount, histc) read that size back to the host, as CuPy's own functions do.
"""
from __future__ import annotations

import numpy as np

from .._shapes import normalize_dim, normalize_dims
from ..arrays import namespace
from ..tensor import Tensor, tensor_arg, unwrap
from ._args import method


def _int64(a) -> Tensor:
    return Tensor._make(a.astype(np.int64, copy=False))


def _check_same_device(name: str, *values) -> None:
    """Raise, as PyTorch, when the tensors among ``values`` are on different devices."""
    devices = list(dict.fromkeys(v.device for v in values if isinstance(v, Tensor)))
    if len(devices) > 1:
        raise RuntimeError(f"{name}: expected all tensors to be on the same device, but found "
                           f"at least two devices, {devices[0]} and {devices[1]}!")


@method()
def nonzero(input, *, as_tuple: bool = False):
    """The int64 indices of the nonzero elements, one row (x.ndim indices) per element in
    row-major order; ``as_tuple``: one 1-D tensor per dim (a 0-d x counts as 1-D)."""
    a = tensor_arg(input)._data
    xp = namespace(a)
    if as_tuple:
        return tuple(_int64(i) for i in xp.nonzero(xp.atleast_1d(a)))
    if a.ndim == 0:  # one row of no indices if a is nonzero
        return _int64(xp.argwhere(a.reshape(1))[:, :0])
    return _int64(xp.argwhere(a))


@method()
def argwhere(input) -> Tensor:
    """``nonzero(input)``: the indices of the nonzero elements, one row per element."""
    return nonzero(input)


@method()
def count_nonzero(input, dim=None) -> Tensor:
    """The int64 number of nonzero elements over ``dim`` (int or tuple; all when None)."""
    a = tensor_arg(input)._data
    dims = () if a.ndim == 0 else normalize_dims("count_nonzero", dim, a.ndim)
    xp = namespace(a)
    return Tensor._make(xp.asarray(xp.add.reduce(a != 0, axis=dims, dtype=np.int64)))


def _unique_along(name: str, a, dim, consecutive: bool) -> tuple:
    """(values, inverse, counts) of the distinct elements of a (dim None, flattened) or
    slices along dim, sorted, or in runs of equal neighbours when ``consecutive``."""
    xp = namespace(a)
    if dim is None:
        moved = a.reshape(-1, 1)
    else:
        if a.ndim == 0:
            raise IndexError(f"{name}: dim {dim} given for a 0-d tensor")
        d = normalize_dim(name, dim, a.ndim)
        rest = a.shape[:d] + a.shape[d + 1:]
        if 0 in rest:
            raise ValueError(f"{name}: the slices along dim {d} are empty (shape {a.shape}): "
                             f"there is nothing to compare, as PyTorch")
        moved = xp.moveaxis(a, d, 0).reshape(a.shape[d], int(np.prod(rest, dtype=np.int64)))
    n = len(moved)
    if consecutive or not moved.shape[1]:
        order = xp.arange(n)
    elif moved.shape[1] == 1:
        order = xp.argsort(moved[:, 0], kind="stable")
    else:  # sort the slices lexicographically (the first column the primary key)
        order = xp.lexsort(moved.T[::-1])
    ranked = moved[order]
    new = xp.ones(n, dtype=bool)
    if n > 1:  # NaN != NaN: NaNs stay apart, as PyTorch's
        new[1:] = (ranked[1:] != ranked[:-1]).any(axis=1)
    group = xp.cumsum(new) - 1
    inverse = xp.empty(n, dtype=np.int64)
    inverse[order] = group
    counts = xp.diff(xp.append(xp.flatnonzero(new), n))
    values = ranked[new]
    if dim is None:
        values, inverse = values.reshape(-1), inverse.reshape(a.shape)
    else:
        values = xp.moveaxis(values.reshape((len(values),) + rest), 0, d)
    return values.astype(a.dtype, copy=False), inverse, counts


def _unique_results(values, inverse, counts, return_inverse, return_counts):
    results = [Tensor._make(values)]
    if return_inverse:
        results.append(_int64(inverse))
    if return_counts:
        results.append(_int64(counts))
    return results[0] if len(results) == 1 else tuple(results)


@method()
def unique(input, sorted: bool = True, return_inverse: bool = False,
           return_counts: bool = False, dim=None):
    """The distinct elements (slices along ``dim``), in increasing order (also with
    ``sorted=False``, as PyTorch's CPU version); ``return_inverse``: where each element
    (slice) went, of the input's shape (its size along dim); ``return_counts``: how many
    of each.  NaNs are never equal, so each is its own element, as PyTorch's."""
    a = tensor_arg(input)._data
    return _unique_results(*_unique_along("unique", a, dim, consecutive=False),
                           return_inverse, return_counts)


@method()
def unique_consecutive(input, return_inverse: bool = False, return_counts: bool = False,
                       dim=None):
    """``unique`` of runs: each run of equal neighbouring elements (slices along ``dim``)
    becomes one, in their order; the same optional results."""
    a = tensor_arg(input)._data
    return _unique_results(*_unique_along("unique_consecutive", a, dim, consecutive=True),
                           return_inverse, return_counts)


@method()
def bincount(input, weights=None, minlength: int = 0) -> Tensor:
    """out[v] = how many times v occurs in the 1-D non-negative integer ``input`` (the sum
    of their ``weights`` when given: float64 for integer weights, else the weights'
    dtype), of length max(max(input) + 1, minlength)."""
    a = tensor_arg(input)._data
    xp = namespace(a)
    if a.ndim != 1 or a.dtype.kind not in "iu" or (a.size and a.min() < 0):
        raise ValueError(f"bincount: expected a 1-D tensor of non-negative integers, got "
                         f"shape {a.shape} of {a.dtype}" + (
                             f" (min {int(a.min())})" if a.size and a.dtype.kind in "iu" else ""))
    if minlength < 0:
        raise ValueError(f"bincount: minlength must be >= 0, got {minlength}")
    _check_same_device("bincount", input, weights)
    w = None if weights is None else unwrap(tensor_arg(weights))
    if w is not None and w.shape != a.shape:
        raise ValueError(f"bincount: weights of shape {w.shape} must be 1-D and match the "
                         f"input's shape {a.shape}")
    if w is None or not a.size:  # an empty input counts in int64 even with weights, as PyTorch
        return _int64(xp.bincount(a, minlength=minlength))
    dtype = w.dtype if w.dtype.kind == "f" else np.float64
    return Tensor._make(xp.bincount(a, weights=w, minlength=minlength).astype(dtype))


@method()
def histc(input, bins: int = 100, min: float = 0, max: float = 0) -> Tensor:
    """Counts of the elements in ``bins`` equal-width bins over [min, max] (the data's
    range when min == max == 0, widened by 1 each side if it is one value), in the
    input's dtype.  The bin of x is floor((x - min) bins / (max - min)), worked out in the
    input's dtype as PyTorch does (so a value on an edge counts in the upper bin, max in
    the last); values outside are left out."""
    x = tensor_arg(input)
    a = x._data
    if a.dtype.kind != "f":
        raise TypeError(f"histc: expected a floating point input, got {a.dtype}")
    if bins <= 0:
        raise ValueError(f"histc: bins must be > 0, got {bins}")
    lo, hi = float(min), float(max)
    if lo == hi and a.size:
        lo, hi = float(a.min()), float(a.max())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ValueError(f"histc: the range [{lo}, {hi}] is not finite")
    if lo > hi:
        raise ValueError(f"histc: max must be larger than min, got min {min}, max {max}")
    lo, hi = a.dtype.type(lo), a.dtype.type(hi)
    flat = a.reshape(-1)
    flat = flat[(flat >= lo) & (flat <= hi)]
    xp = namespace(a)
    place = xp.floor((flat - lo) * a.dtype.type(bins) / (hi - lo)).astype(np.int64)
    return Tensor._make(xp.bincount(xp.minimum(place, bins - 1), minlength=bins).astype(a.dtype))


def _side(name: str, right: bool, side) -> str:
    if side is None:
        return "right" if right else "left"
    if side not in ("left", "right"):
        raise ValueError(f"{name}: side must be 'left' or 'right', got {side!r}")
    if right and side == "left":
        raise ValueError(f"{name}: side 'left' and right=True contradict each other")
    return side


def searchsorted(sorted_sequence, input, *, out_int32: bool = False, right: bool = False,
                 side=None, sorter=None) -> Tensor:
    """For each value, the index where inserting it keeps ``sorted_sequence`` sorted: the
    first such index (``side='left'``: seq[i-1] < v <= seq[i]) or the last
    (``right=True`` or ``side='right'``: seq[i-1] <= v < seq[i]).  A sequence of several
    dims searches each of its rows for the values of the matching row; ``sorter`` gives
    the order that sorts an unsorted sequence.  int64 results (int32 with ``out_int32``)."""
    _check_same_device("searchsorted", sorted_sequence, input, sorter)
    seq = tensor_arg(sorted_sequence)._data
    xp = namespace(seq)
    scalar = not isinstance(input, Tensor) and np.ndim(input) == 0
    values = xp.asarray(unwrap(input))  # numbers and lists go to seq's device
    how = _side("searchsorted", right, side)
    if seq.ndim == 0:
        raise ValueError("searchsorted: sorted_sequence must have at least 1 dim, got a 0-d "
                         "tensor")
    if sorter is not None:
        order = xp.asarray(unwrap(sorter))
        if order.shape != seq.shape:
            raise ValueError(f"searchsorted: sorter of shape {order.shape} must match "
                             f"sorted_sequence's shape {seq.shape}")
        seq = xp.take_along_axis(seq, order, -1)
    if seq.ndim == 1:
        found = xp.searchsorted(seq, values, side=how)
    else:
        if values.shape[:-1] != seq.shape[:-1]:
            raise ValueError(f"searchsorted: the leading dims of sorted_sequence "
                             f"{seq.shape} and of the values {values.shape} must match")
        lead = int(np.prod(seq.shape[:-1], dtype=np.int64))
        rows = seq.reshape(lead, seq.shape[-1])
        lines = values.reshape(lead, values.shape[-1])
        found = xp.empty(lines.shape, dtype=np.int64)
        for i in range(lead):
            found[i] = xp.searchsorted(rows[i], lines[i], side=how)
        found = found.reshape(values.shape)
    found = found.astype(np.int32 if out_int32 else np.int64)
    return Tensor._make(found.reshape(()) if scalar else found)


def bucketize(input, boundaries, *, out_int32: bool = False, right: bool = False) -> Tensor:
    """The bucket of each value among the 1-D increasing ``boundaries``: i with
    b[i-1] < v <= b[i] (b[i-1] <= v < b[i] with ``right``); ``searchsorted`` with the
    arguments swapped."""
    b = tensor_arg(boundaries)
    if b._data.ndim != 1:
        raise ValueError(f"bucketize: boundaries must be 1-D, got shape {b.shape}")
    return searchsorted(b, input, out_int32=out_int32, right=right)
