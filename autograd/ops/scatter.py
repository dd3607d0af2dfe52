"""Scatters and indexed writes: ``scatter``, ``scatter_add``, ``scatter_reduce``,
``index_add``, ``index_copy``, ``index_fill``, ``index_put``, ``masked_select``,
``masked_scatter``, ``take``, ``put``, and their in-place forms (``scatter_``, ...).

All but ``scatter`` are compositions of the primitives of ``index.py`` (the
indexed write ``INDEX_PUT``, the accumulating ``INDEX_ADD`` and ``SCATTER_ALONG``,
``getitem``), so their gradients, to any order, come from those primitives' rules:

- an added source gets g at the positions it was added to (summed over repeats);
- a written (copied) source gets g at the position it was written to, every
  duplicate included, and the overwritten input gets g with zeros there;
- ``scatter_reduce``'s sum and mean add as ``scatter_add``; its prod, amax and
  amin gather, for every output position, the values reduced into it (the
  input's own value unless ``include_self=False``, then every source value sent
  there) into one row of a table, and reduce the rows with ``prod``, ``amax`` or
  ``amin``: so ties in amax/amin split the gradient evenly among the tied values,
  and zeros in prod follow ``prod``'s rule, both as PyTorch.

``scatter`` (a copy with repeated indices: one value wins, yet every duplicate
source gets the gradient, as PyTorch) needs a primitive of its own.
"""
from __future__ import annotations

import functools

import numpy as np

from .._shapes import broadcast_shapes, normalize_dim
from ..arrays import namespace
from ..graph import apply
from ..tensor import Tensor, tensor_arg, unwrap
from ._args import method
from ._registry import Op
from .elementwise import where
from .index import (
    INDEX_ADD,
    INDEX_PUT,
    SCATTER_ALONG,
    TAKE_ALONG_DIM,
    _normalize_index,
    index_on,
    masked_fill,
    positions,
    within,
)
from .inplace import modify_inplace
from .shape import cat, not_a_view


# ------------------------------------------------------------------ argument checks
def _int_array(name: str, x: Tensor, index):
    """``index`` as an int64 array on x's device (``index_on``)."""
    idx = index_on(name, x, index)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{name}: index must be an integer tensor, got dtype {idx.dtype}")
    return idx.astype(np.int64)


def _check_range(name: str, idx, size: int, dim: int, negative: bool, error=RuntimeError):
    """``idx`` with every value in [0, size) (or [-size, size) if ``negative``, then
    wrapped), else ``error`` naming the op, the index and the dim."""
    low = -size if negative else 0
    bad = idx[(idx < low) | (idx >= size)]
    if bad.size:
        raise error(f"{name}: index {int(bad[0])} is out of bounds for dimension {dim} "
                    f"with size {size}")
    return idx % size if negative and size else idx


def _same_dtype(name: str, x: Tensor, src: Tensor, what: str = "src") -> None:
    if src._data.dtype != x._data.dtype:
        raise RuntimeError(f"{name}: expected self ({x.dtype}) and {what} ({src.dtype}) to "
                           f"have the same dtype")


def _scalar_input(fn):
    """A scatter into a 0-d input works on it as 1-D of one element (as PyTorch)."""

    @functools.wraps(fn)
    def call(input, *args, **kwargs):
        x = tensor_arg(input)
        if x._data.ndim:
            return fn(x, *args, **kwargs)
        return fn(x.reshape(1), *args, **kwargs).reshape(())

    return call


def _along_args(name: str, input, dim, index, src=None):
    """The checked arguments of a scatter along ``dim``: input, dim, index, and src cut
    to the index's shape (PyTorch's rule: index no larger than src anywhere, nor than
    input outside ``dim``; a 0-d index or src counts as 1-D of one element)."""
    x = tensor_arg(input)
    d = normalize_dim(name, dim, x._data.ndim)
    idx = _int_array(name, x, index)
    idx = idx.reshape(idx.shape or (1,))
    if src is not None and np.ndim(unwrap(src)) == 0:
        src = tensor_arg(src).reshape(1)
    if idx.ndim != x._data.ndim:
        raise RuntimeError(f"{name}: index {idx.shape} must have as many dims as self {x.shape}")
    too_big = any(k > n for i, (k, n) in enumerate(zip(idx.shape, x._data.shape, strict=True))
                  if i != d)
    if src is not None:
        src = tensor_arg(src)
        if src._data.ndim != idx.ndim:
            raise RuntimeError(f"{name}: src {src.shape} must have as many dims as index "
                               f"{idx.shape}")
        too_big |= any(k > n for k, n in zip(idx.shape, src._data.shape, strict=True))
    if too_big:
        raise RuntimeError(f"{name}: expected index {idx.shape} to be no larger than self "
                           f"{x.shape} apart from dimension {d}"
                           + (f" and no larger than src {src.shape}" if src is not None else ""))
    idx = _check_range(name, idx, x._data.shape[d], d, negative=False)
    if src is not None:
        _same_dtype(name, x, src)
        if src._data.shape != idx.shape:
            src = src[tuple(slice(0, k) for k in idx.shape)]
    return x, d, idx, src


def _touched(idx, dim: int, shape: tuple):
    mask = namespace(idx).zeros(shape, dtype=np.bool_)
    mask[positions(idx, dim)] = True
    return mask


# ------------------------------------------------------------------------ scatter
def _scatter(x, src, indices, dim):
    out = x.copy()
    out[positions(indices, dim)] = src  # a repeated position keeps one of its writes
    return out


SCATTER = Op(
    "scatter", _scatter,
    lambda g, out, x, src, indices, dim: g * ~_touched(indices, dim, g.shape),
    lambda g, out, x, src, indices, dim: TAKE_ALONG_DIM(within(g, indices.shape, dim),
                                                        indices=indices, dim=dim),
    meta=True,
)


@method()
@_scalar_input
def scatter(input, dim: int, index, src=None, *, value=None, reduce=None) -> Tensor:
    """``input`` with ``src[i][j]`` written at ``[index[i][j]][j]`` (dim 0; likewise for
    other dims), or the number ``value`` written at every indexed position.

    ``index`` has input's number of dims and is no larger than src anywhere, nor than
    input outside ``dim``.  Where an index repeats, one of the written values is kept
    (which one is unspecified, as in PyTorch); yet the gradient, as PyTorch's, gives
    every source g at its target (``gather``), and input g with zeros at the written
    positions.  ``reduce='add'`` or ``'multiply'`` (PyTorch's older form) adds or
    multiplies instead of writing (``scatter_add``, ``scatter_reduce(..., 'prod')``);
    unlike PyTorch's it is differentiable.
    """
    if value is None and not isinstance(src, Tensor) and np.ndim(src) == 0:
        src, value = None, src
    if (src is None) == (value is None):
        raise TypeError("scatter: give exactly one of src (a tensor) and value (a number)")
    x, d, idx, src = _along_args("scatter", input, dim, index, src)
    xp = namespace(idx)
    if reduce is not None:
        if reduce not in ("add", "multiply"):
            raise ValueError(f"scatter: reduce must be 'add' or 'multiply', got {reduce!r}")
        if src is None:
            src = Tensor._make(xp.full(idx.shape, value, dtype=x._data.dtype))
        if reduce == "add":
            return scatter_add(x, d, idx, src)
        return scatter_reduce(x, d, idx, src, "prod")
    if src is None:
        return where(Tensor._make(_touched(idx, d, x._data.shape)),
                     Tensor._make(xp.asarray(value, dtype=x._data.dtype)), x)
    return apply(SCATTER, (x, src), {"indices": idx, "dim": d})


@method()
@_scalar_input
def scatter_add(input, dim: int, index, src) -> Tensor:
    """``input`` plus ``src[i][j]`` added at ``[index[i][j]][j]`` (dim 0; likewise for
    other dims); repeated indices add up.  The gradient of input is g, that of src is
    g gathered at the indices."""
    x, d, idx, src = _along_args("scatter_add", input, dim, index, src)
    return x + apply(SCATTER_ALONG, (src,), {"indices": idx, "dim": d, "shape": x._data.shape})


_REDUCTIONS = {"sum": 0.0, "prod": 1.0, "mean": 0.0, "amax": -np.inf, "amin": np.inf}


def _targets(idx, dim: int, shape: tuple) -> tuple:
    """The flat output position each index entry sends its source to, and how many
    sources each flat output position receives."""
    xp = namespace(idx)
    size = int(np.prod(shape, dtype=np.int64))
    targets = xp.ravel_multi_index(xp.broadcast_arrays(*positions(idx, dim)), shape).ravel() \
        if idx.size else xp.zeros(0, dtype=np.int64)
    return targets, xp.bincount(targets, minlength=size)


def _groups(targets, counts, own):
    """The rows of the reduction table: for each of the output's (flat) positions p, the
    indices into ``[input.flat, src.flat, filler]`` of the values reduced into p.

    Column 0 holds p itself (the input's value) where ``own``; the next columns hold the
    sources sent to p; the rest point at the filler (the reduction's identity).
    """
    xp = namespace(targets)
    size, sent = counts.size, targets.size
    table = xp.full((size, 1 + (int(counts.max()) if sent else 0)), size + sent, np.int64)
    table[own, 0] = xp.flatnonzero(own)
    order = xp.argsort(targets, kind="stable")
    rank = xp.arange(sent) - (xp.cumsum(counts) - counts)[targets[order]]
    table[targets[order], 1 + rank] = size + order
    return table


@method()
@_scalar_input
def scatter_reduce(input, dim: int, index, src, reduce: str, *, include_self: bool = True):
    """Reduce the values of ``src`` into ``input`` at the positions ``scatter`` would
    write them to: ``reduce`` is "sum", "prod", "mean", "amax" or "amin"; with
    ``include_self=False`` the input's own value takes no part where something is sent
    (positions that receive nothing keep it).

    sum and mean add with ``scatter_add`` (mean then divides by the count of values,
    floored for integer inputs, as PyTorch): g / count for each value.  prod, amax and
    amin gather the values meeting at each position into one row of a table and reduce
    the rows (module docstring), so the gradient is that of the reduction: for
    amax/amin, g split evenly among all values equal to the result (input included);
    for prod, the product of the others (zero where two or more values are zero).
    """
    if reduce not in _REDUCTIONS:
        raise ValueError(f"scatter_reduce: reduce must be one of {', '.join(_REDUCTIONS)}, "
                         f"got {reduce!r}")
    x, d, idx, src = _along_args("scatter_reduce", input, dim, index, src)
    shape, dtype = x._data.shape, x._data.dtype
    targets, counts = _targets(idx, d, shape)
    xp = namespace(idx)
    own = xp.ones(counts.size, np.bool_) if include_self else counts == 0
    if reduce in ("sum", "mean"):
        base = x if include_self else where(Tensor._make(own.reshape(shape)), x, Tensor._make(
            xp.zeros((), dtype)))
        out = base + apply(SCATTER_ALONG, (src,), {"indices": idx, "dim": d, "shape": shape})
        if reduce == "sum":
            return out
        count = Tensor._make((counts + own).reshape(shape).astype(dtype))
        return out // count if dtype.kind != "f" else out / count
    filler = _REDUCTIONS[reduce]
    if dtype.kind != "f" and np.isinf(filler):
        info = np.iinfo(dtype) if dtype.kind in "iu" else None
        filler = (info.min if filler < 0 else info.max) if info else filler < 0
    values = cat([x.reshape(-1), src.reshape(-1), Tensor._make(xp.full(1, filler, dtype))])
    out = getattr(values[_groups(targets, counts, own)], reduce)(-1)
    return not_a_view(out.astype(dtype).reshape(shape))


# ----------------------------------------------------------------- index_* ops
def _index_args(name: str, input, dim, index, negative: bool, error=IndexError):
    """input, dim, and the 1-D index of an ``index_*`` op (in range, wrapped if
    ``negative``), and the NumPy index that picks those slices along dim."""
    x = tensor_arg(input)
    d = normalize_dim(name, dim, x._data.ndim)
    idx = _int_array(name, x, index)
    if idx.ndim > 1:
        raise IndexError(f"{name}: index must be 0-d or 1-D, got shape {idx.shape}")
    idx = _check_range(name, idx.reshape(-1), x._data.shape[d] if x._data.ndim else 1, d,
                       negative, error)
    return x, d, idx, (slice(None),) * d + (idx,) if x._data.ndim else ()


def _source(name: str, x: Tensor, d: int, idx, source) -> Tensor:
    """``source`` checked to be shaped like the slices ``index`` picks along ``d``."""
    source = tensor_arg(source)
    _same_dtype(name, x, source, "source")
    want = x._data.shape[:d] + (idx.size,) + x._data.shape[d + 1:] if x._data.ndim else ()
    if source._data.shape != want and not (x._data.ndim == 0 and source._data.size == 1):
        raise RuntimeError(f"{name}: source {source.shape} must be shaped like self {x.shape} "
                           f"with dim {d} of size len(index) = {idx.size}, i.e. {want}")
    return source.reshape(want)


@method()
def index_add(input, dim: int, index, source, *, alpha=1) -> Tensor:
    """``input`` with ``alpha * source[..., i, ...]`` added to the slice ``index[i]``
    along ``dim``; repeated indices add up.  Gradients: g for input, ``alpha *
    g.index_select(dim, index)`` for source."""
    x, d, idx, at = _index_args("index_add", input, dim, index, negative=False)
    source = _source("index_add", x, d, idx, source)
    if alpha != 1:
        source = source * alpha
    return x + apply(INDEX_ADD, (source,), {"index": at, "shape": x._data.shape})


@method()
def index_copy(input, dim: int, index, source) -> Tensor:
    """``input`` with its slices ``index[i]`` along ``dim`` replaced by ``source[..., i,
    ...]``.  Gradients: g with zeros in the replaced slices for input; g at each
    index, repeats included, for source."""
    x, d, idx, at = _index_args("index_copy", input, dim, index, negative=False)
    source = _source("index_copy", x, d, idx, source)
    return apply(INDEX_PUT, (x, source), {"index": at})


@method()
def index_fill(input, dim: int, index, value) -> Tensor:
    """``input`` with the slices ``index`` (negative allowed) along ``dim`` set to
    ``value``, a number or a 0-d tensor.  A 0-d tensor value gets the sum of g over
    the filled positions, each counted once however often it is indexed (PyTorch)."""
    x, d, idx, at = _index_args("index_fill", input, dim, index, negative=True)
    if isinstance(value, Tensor):
        if value._data.ndim:
            raise RuntimeError(f"index_fill: value must be a number or a 0-d tensor, got "
                               f"shape {value.shape}")
        value = value.astype(x._data.dtype)
    at = at[:-1] + (namespace(idx).unique(idx),) if at else at
    return apply(INDEX_PUT, (x, value), {"index": at})


@method()
def index_put(input, indices, values, accumulate: bool = False) -> Tensor:
    """``input[indices] = values`` (or ``+=`` with ``accumulate``) out of place:
    ``indices`` is a tuple of integer or bool tensors, as ``x[indices]`` takes them,
    and ``values`` broadcasts to ``x[indices]``'s shape.  Gradients as ``index_copy``
    and ``index_add``."""
    x = tensor_arg(input)
    if not isinstance(indices, (tuple, list)):
        raise TypeError(f"index_put: indices must be a tuple of tensors, got {type(indices)}")
    at = _normalize_index(x, tuple(indices))
    for d, i in enumerate(at):
        n = x._data.shape[d] if d < x._data.ndim else 0
        _check_range("index_put", i, n, d, negative=True, error=IndexError)
    values = tensor_arg(values)
    _same_dtype("index_put", x, values, "values")
    target = namespace(x._data).empty(x._data.shape, np.bool_)[at].shape
    broadcast_shapes("index_put", values._data.shape, target)
    if accumulate:
        return x + apply(INDEX_ADD, (values.expand(target),),
                         {"index": at, "shape": x._data.shape})
    return apply(INDEX_PUT, (x, values), {"index": at})


# ------------------------------------------------------------------- masks, flat
def _mask(name: str, x: Tensor, mask):
    m = index_on(name, x, mask)
    if m.dtype != np.bool_:
        raise TypeError(f"{name}: mask must be a bool tensor, got dtype {m.dtype}")
    return m


@method()
def masked_select(input, mask) -> Tensor:
    """The 1-D tensor of the elements of ``input`` where ``mask`` is true, both broadcast
    to one shape.  The gradient puts g back at those positions (summed over broadcast)."""
    x = tensor_arg(input)
    m = _mask("masked_select", x, mask)
    shape = broadcast_shapes("masked_select", x._data.shape, m.shape)
    return x.expand(shape).reshape(-1)[namespace(m).broadcast_to(m, shape).reshape(-1)]


@method()
def masked_scatter(input, mask, source) -> Tensor:
    """``input`` (broadcast with ``mask``) with the positions where ``mask`` is true
    filled, in order, with the first elements of ``source``.  Gradients: g with zeros at
    those positions for input; g at those positions, in order, for source's first
    elements (0 for the rest)."""
    x = tensor_arg(input)
    m = _mask("masked_scatter", x, mask)
    shape = broadcast_shapes("masked_scatter", x._data.shape, m.shape)
    if not shape:  # 0-d: as 1-D of one element
        return masked_scatter(x.reshape(1), m.reshape(1), source).reshape(())
    source = tensor_arg(source)
    _same_dtype("masked_scatter", x, source, "source")
    xp = namespace(m)
    at = xp.nonzero(xp.broadcast_to(m, shape))
    count = at[0].size
    if source._data.size < count:
        raise RuntimeError(f"masked_scatter: source {source.shape} has fewer elements than "
                           f"the {count} true values of the mask {m.shape}")
    return apply(INDEX_PUT, (x.expand(shape), source.reshape(-1)[:count]), {"index": at})


def _flat_args(name: str, input, index):
    x = tensor_arg(input)
    n = x._data.size
    idx = _int_array(name, x, index)
    bad = idx[(idx < -n) | (idx >= n)]
    if bad.size:
        raise IndexError(f"{name}: index {int(bad[0])} is out of range for a tensor of shape "
                         f"{x.shape} ({n} elements)")
    return x, idx % n if n else idx


@method()
def take(input, index) -> Tensor:
    """The elements of ``input`` seen as 1-D at ``index`` (negative counts from the end);
    the result has index's shape.  Repeated indices add their gradients."""
    x, idx = _flat_args("take", input, index)
    return x.reshape(-1)[idx]


@method()
def put(input, index, source, accumulate: bool = False) -> Tensor:
    """``input`` seen as 1-D with ``source`` (as many elements as ``index``) written, or
    added with ``accumulate``, at ``index``.  Gradients as ``index_copy``/``index_add``."""
    x, idx = _flat_args("put", input, index)
    source = tensor_arg(source)
    _same_dtype("put", x, source, "source")
    if source._data.size != idx.size:
        raise RuntimeError(f"put: source {source.shape} and index {idx.shape} must have the "
                           f"same number of elements")
    flat, values, at = x.reshape(-1), source.reshape(-1), (idx.reshape(-1),)
    if accumulate:
        out = flat + apply(INDEX_ADD, (values,), {"index": at, "shape": flat.shape})
    else:
        out = apply(INDEX_PUT, (flat, values), {"index": at})
    return not_a_view(out.reshape(x._data.shape))


# ---------------------------------------------------------------- in-place forms
def _inplace(fn):
    """``fn_``: the op written into its first argument (``modify_inplace``'s rules)."""
    name = fn.__name__ + "_"

    def change(input: Tensor, *args, **kwargs) -> Tensor:
        others = tuple(a for a in (*args, *kwargs.values()) if isinstance(a, Tensor))
        return modify_inplace(
            name, input, others,
            recorded=lambda old: fn(old, *args, **kwargs),
            direct=lambda data: data.__setitem__(Ellipsis, fn(input, *args, **kwargs)._data),
        )

    change.__name__ = name
    change.__doc__ = f"In-place ``{fn.__name__}``; returns self."
    return method(name)(change)


scatter_ = _inplace(scatter)
scatter_add_ = _inplace(scatter_add)
scatter_reduce_ = _inplace(scatter_reduce)
index_add_ = _inplace(index_add)
index_copy_ = _inplace(index_copy)
index_fill_ = _inplace(index_fill)
index_put_ = _inplace(index_put)
masked_scatter_ = _inplace(masked_scatter)
put_ = _inplace(put)
masked_fill_ = _inplace(masked_fill)
