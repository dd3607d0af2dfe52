"""Ops that move whole slices: ``movedim``/``moveaxis``, ``select``, ``unflatten``,
``Tensor.unfold``, ``fliplr``, ``flipud``, ``rot90``, ``repeat_interleave``.

All are compositions of permute, reshape, flip and indexing, so their gradients (and
higher ones) come from those ops' rules: a moved, selected or rotated element sends
its gradient back where it came from, and a repeated one the sum over its copies.
"""
from __future__ import annotations

import numpy as np

from .._shapes import normalize_dim
from ..arrays import is_array, namespace
from ..tensor import Tensor, tensor_arg, unwrap
from ._args import method
from .elementwise import clone
from .index import index_on
from .shape import _resolved_shape, _shape_args, flip, not_a_view, permute


def _dims(name: str, dims, ndim: int) -> tuple:
    dims = tuple(dims) if isinstance(dims, (tuple, list)) else (dims,)
    out = tuple(normalize_dim(name, d, ndim) for d in dims)
    if len(set(out)) != len(out):
        raise ValueError(f"{name}: repeated dim in {dims}")
    return out


@method("movedim", "moveaxis")
def movedim(input, source, destination) -> Tensor:
    """Move dims ``source`` (an int or a tuple) to the positions ``destination``; the other
    dims keep their order.  A view (a permute)."""
    x = tensor_arg(input)
    nd = x._data.ndim
    src, dst = _dims("movedim", source, nd), _dims("movedim", destination, nd)
    if len(src) != len(dst):
        raise ValueError(f"movedim: source {source} and destination {destination} must have "
                         f"the same number of dims")
    rest = iter(d for d in range(nd) if d not in src)
    placed = dict(zip(dst, src, strict=True))
    return permute(x, tuple(placed[i] if i in placed else next(rest) for i in range(nd)))


moveaxis = movedim


@method()
def select(input, dim: int, index: int) -> Tensor:
    """The slice at ``index`` (negative counts from the end) along ``dim``, without that
    dim: ``x[..., index, ...]``, a view."""
    x = tensor_arg(input)
    d = normalize_dim("select", dim, x._data.ndim)
    n = x._data.shape[d]
    if not -n <= index < n:
        raise IndexError(f"select: index {index} is out of range for dim {dim} of size {n} "
                         f"(shape {x.shape})")
    return x[(slice(None),) * d + (int(index),)]


@method()
def unflatten(input, dim: int, sizes) -> Tensor:
    """Split dim ``dim`` into dims of ``sizes`` (one may be -1), a view."""
    x = tensor_arg(input)
    d = normalize_dim("unflatten", dim, x._data.ndim)
    sizes = _shape_args((sizes,))
    n = x._data.shape[d]
    resolved = _resolved_shape(sizes, n) if sizes else None
    if resolved is None:
        raise RuntimeError(f"unflatten: sizes {sizes} do not multiply to dim {dim}'s size "
                           f"{n} (shape {x.shape})")
    return x.reshape(x._data.shape[:d] + resolved + x._data.shape[d + 1:])


@method()
def unfold(self, dimension: int, size: int, step: int) -> Tensor:
    """``Tensor.unfold``: the windows of ``size`` elements, ``step`` apart, along
    ``dimension``: that dim becomes the window count and a last dim of ``size`` is
    added.  Unlike PyTorch's (a view), a copy; the gradient sums over overlapping
    windows."""
    x = tensor_arg(self)
    x_ = x.reshape(1) if x._data.ndim == 0 else x
    d = normalize_dim("unfold", dimension, x_._data.ndim)
    n = x_._data.shape[d]
    if step <= 0 or size < 0 or size > n:
        raise RuntimeError(f"unfold: size {size} must be in [0, {n}] (dim {dimension} of "
                           f"shape {x.shape}) and step {step} positive")
    xp = namespace(x_._data)
    starts = xp.arange(0, n - size + 1, step)
    windows = x_[(slice(None),) * d + (starts[:, None] + xp.arange(size),)]
    out = not_a_view(windows.movedim(d + 1, -1))  # a permute of a private copy
    return out.reshape(size) if x._data.ndim == 0 else out


@method()
def fliplr(input) -> Tensor:
    """Reverse dim 1 (left-right); needs at least 2 dims."""
    x = tensor_arg(input)
    if x._data.ndim < 2:
        raise RuntimeError(f"fliplr: expected a tensor with at least 2 dims, got shape {x.shape}")
    return flip(x, 1)


@method()
def flipud(input) -> Tensor:
    """Reverse dim 0 (up-down); needs at least 1 dim."""
    x = tensor_arg(input)
    if x._data.ndim < 1:
        raise RuntimeError("flipud: expected a tensor with at least 1 dim, got a 0-d one")
    return flip(x, 0)


@method()
def rot90(input, k: int = 1, dims=(0, 1)) -> Tensor:
    """Rotate by 90 degrees ``k`` times in the plane of ``dims``, from the first towards the
    second (k < 0 the other way): for k = 1, reverse dims[1] then swap the two dims."""
    x = tensor_arg(input)
    if len(dims) != 2 or x._data.ndim < 2:
        raise RuntimeError(f"rot90: expected two dims and a tensor with at least 2 dims, got "
                           f"dims {tuple(dims)} and shape {x.shape}")
    d0, d1 = _dims("rot90", dims, x._data.ndim)
    k %= 4
    if k == 0:
        return clone(x)
    if k == 2:
        return flip(x, (d0, d1))
    return flip(x, d1 if k == 1 else d0).transpose(d0, d1)


@method()
def repeat_interleave(input, repeats=None, dim=None, *, output_size=None) -> Tensor:
    """Each slice along ``dim`` (of the flattened input if None) repeated ``repeats``
    times in place: an int or a tensor of one count per slice.  The gradient of a slice
    sums its copies.  With only an integer tensor of counts, the indices 0, 1, ...
    repeated that often (no gradient)."""
    if repeats is None:
        counts = unwrap(input)
        counts = counts if is_array(counts) else np.asarray(counts)
        return Tensor._make(_sources(counts, counts.size))
    x = tensor_arg(input)
    if dim is None:
        x, dim = x.reshape(-1), 0
    d = normalize_dim("repeat_interleave", dim, max(x._data.ndim, 1))
    x = x.reshape(1) if x._data.ndim == 0 else x
    n = x._data.shape[d]
    source = _sources(index_on("repeat_interleave", x, repeats), n)
    if output_size is not None and output_size != source.size:
        raise RuntimeError(f"repeat_interleave: output_size {output_size} is not the total of "
                           f"the repeats, {source.size}")
    return not_a_view(x[(slice(None),) * d + (source,)])


def _sources(counts, n: int):
    """0, 1, ..., n - 1 with i repeated ``counts[i]`` times (``counts``: one count, or n):
    output position j copies the slice i for which j is in [ends[i - 1], ends[i]), the
    ends being the running totals of the counts."""
    if counts.dtype.kind not in "iu" or counts.ndim > 1 or counts.size not in (1, n) or bool(
            (counts < 0).any()):
        raise RuntimeError(f"repeat_interleave: repeats must be a non-negative int or 1-D "
                           f"integer tensor of 1 or {n} counts, got {counts.dtype} "
                           f"{counts.shape}")
    xp = namespace(counts)
    ends = xp.cumsum(xp.broadcast_to(counts.reshape(-1), (n,)))
    return xp.searchsorted(ends, xp.arange(int(ends[-1]) if n else 0), side="right")

