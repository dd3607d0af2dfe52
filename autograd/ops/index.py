"""Indexing: ``x[index]``, ``x[index] = v``, gather along a dim, and their adjoints.

Each gather has a scatter-add as its gradient and vice versa, so both are
differentiable to any order.  Repeated integer indices accumulate their
gradients (``np.add.at``); a boolean mask is turned into the integer indices of
its true elements once, when the op is called.

Index arrays live where the indexed data does: a host index (a list, a NumPy array,
a CPU tensor) for a tensor on a device is copied there once, when the op is called
(``index_on``), so the primitives and their rules only ever meet arrays of one device.
"""
from __future__ import annotations

import numpy as np

from .._shapes import normalize_dim
from ..arrays import device_of, is_array, is_device_array, namespace, to_device
from ..grad_buffers import Scatter, add_at
from ..graph import apply
from ..tensor import Tensor, tensor_arg, unwrap
from ._args import binary_operands, method
from ._registry import Op
from .elementwise import where
from .inplace import modify_inplace
from .shape import mark_view


def _is_basic(index: tuple) -> bool:
    return all(isinstance(i, (int, slice)) or i is None or i is Ellipsis for i in index)


def index_on(name: str, x: Tensor, index, cpu_tensors: bool = False):
    """``index`` (a Tensor, an array, a list or a number) as an array on ``x``'s device.

    Host values (numbers, lists, NumPy arrays) are copied there.  A tensor on another
    device is refused, as PyTorch refuses it, except a CPU tensor with ``cpu_tensors``
    (``x[index]`` takes one for a tensor on any device, as PyTorch's).
    """
    data = index._data if isinstance(index, Tensor) else index
    on_host = type(x._data) is np.ndarray
    if on_host and type(data) is np.ndarray:  # the CPU's common case
        return data
    if not is_array(data):
        data = np.asarray(data)  # numbers, lists: host data, of no device
    elif is_device_array(data) or (
            not on_host and isinstance(index, Tensor) and not cpu_tensors):
        where, found = x.device, device_of(data)
        if found != where:
            raise RuntimeError(
                f"{name}: indices should be either on cpu or on the same device as the "
                f"indexed tensor ({where}), got {found}" if cpu_tensors else
                f"{name}: expected all tensors to be on the same device, but found at least "
                f"two devices, {where} and {found}!")
        return data
    return data if on_host else to_device(data, x.device, name)


def positions(indices, dim: int) -> tuple:
    """The positions an index along ``dim`` points at, one array per dim (broadcasting
    together to ``indices``' shape): ``indices`` itself at ``dim``, and each other dim's
    ``arange`` shaped to run along that dim (NumPy's sparse ``indices``)."""
    xp = namespace(indices)
    ndim = indices.ndim
    return tuple(indices if d == dim else xp.arange(n).reshape((1,) * d + (n,) + (1,) * (
        ndim - d - 1)) for d, n in enumerate(indices.shape))


def _scatter_add(g, index, shape):
    out = namespace(g).zeros(shape, dtype=g.dtype)
    if _is_basic(index):
        out[index] = g
    else:
        add_at(out, index, g)
    return out


def _getitem_vjp(g, out, x, index):
    if isinstance(g, Tensor):  # create_graph: a differentiable scatter
        return INDEX_ADD(g, index=index, shape=x.shape)
    return Scatter(g, index, x.shape, _is_basic(index))  # added into the buffer in place


GETITEM = Op("getitem", lambda x, index: x[index], _getitem_vjp, meta=True)
INDEX_ADD = Op("getitem_adjoint", lambda g, index, shape: _scatter_add(g, index, shape),
               lambda gg, out, g, index, shape: GETITEM(gg, index=index))


def _index_put(x, v, index):
    out = x.copy()
    out[index] = v
    return out


INDEX_PUT = Op(
    "setitem", _index_put,
    lambda g, out, x, v, index: INDEX_PUT(g, 0.0, index=index),
    lambda g, out, x, v, index: g[index],
    broadcasts=True,
)


def _normalize_index(x: Tensor, index) -> tuple:
    """``index`` as a tuple NumPy understands, with Tensors and masks made integer arrays."""
    if not isinstance(index, tuple):
        index = (index,)
    host = type(x._data) is np.ndarray
    out = []
    for i in index:
        kind = type(i)
        if kind is int or kind is slice:  # the common cases, first
            out.append(i)
            continue
        if isinstance(i, Tensor):
            i = i._data
        elif kind is list:
            i = np.asarray(i)
        if not (host and type(i) is np.ndarray):  # (a host index of a CPU tensor is ready)
            if not is_array(i):  # None, Ellipsis, NumPy ints
                if isinstance(i, (bool, np.bool_)):
                    raise IndexError("getitem: a bare bool index is not supported")
                out.append(int(i) if isinstance(i, np.integer) else i)
                continue
            i = index_on("getitem", x, i, cpu_tensors=True)
        if i.dtype == np.bool_:
            out.extend(namespace(i).nonzero(i))
            continue
        if i.dtype.kind not in "iu":
            raise IndexError(f"getitem: index arrays must be integer or bool, got {i.dtype}")
        out.append(i.copy())
    return tuple(out)


@method("__getitem__")
def getitem(x, index) -> Tensor:
    """``x[index]`` with ints, slices (any step), None, Ellipsis, integer arrays and
    boolean masks, as NumPy.  The gradient scatters g back into zeros of x's shape;
    repeated indices accumulate."""
    index = _normalize_index(x, index)
    out = apply(GETITEM, (x,), {"index": index})
    if out._data.base is not None and _is_basic(index):
        mark_view(out, x)
    return out


@method("__setitem__")
def setitem(x: Tensor, index, value) -> None:
    """``x[index] = value`` in place, recorded as an ``index_put`` when grad is needed.

    The gradient of x is g with zeros at ``index``; that of value is g[index]
    summed to value's shape.  Changing a leaf that requires grad raises, as in PyTorch.

    A value on another device is copied to x's (differentiably) where PyTorch copies
    it: host data (a list, a NumPy array), a 0-d tensor, or any tensor written at a
    basic index (ints and slices).  A tensor with dims from another device written at
    an index array (or mask) raises, as PyTorch's.
    """
    index = _normalize_index(x, index)
    given = value
    _, value = binary_operands(x, value)
    if isinstance(value, Tensor) and type(value._data) is not type(x._data):
        if isinstance(given, Tensor) and value._data.ndim and not _is_basic(index):
            raise RuntimeError(f"setitem: expected the value on the indexed tensor's device "
                               f"{x.device}, got a tensor of shape {value.shape} on "
                               f"{value.device}")
        value = value.to(x.device)
    if isinstance(value, Tensor) and value._data.dtype != x._data.dtype:
        value = value.astype(x._data.dtype)
    raw_value = unwrap(value)
    modify_inplace(
        "setitem", x, (value,),
        recorded=lambda old: apply(INDEX_PUT, (old, value), {"index": index}),
        direct=lambda data: data.__setitem__(index, raw_value),
    )


def _take(x, indices, dim):
    return namespace(x).take_along_axis(x, indices, axis=dim)


def _scatter_along(g, indices, dim, shape):
    xp = namespace(g)
    out = xp.zeros(shape, dtype=g.dtype)
    if indices.shape[dim] == 1 and indices.shape == shape[:dim] + (1,) + shape[dim + 1:]:
        # one pick per line along dim: no position repeats
        xp.put_along_axis(out, indices, g, axis=dim)
        return out
    add_at(out, positions(indices, dim), g)
    return out


def within(g, shape: tuple, dim: int):
    """The part of ``g`` (shaped like a scatter's output) that an index of ``shape``
    along ``dim`` reaches: PyTorch's scatters allow an index smaller than the output
    outside ``dim``."""
    if all(k == n for i, (k, n) in enumerate(zip(shape, g.shape, strict=True)) if i != dim):
        return g
    return g[tuple(slice(None) if i == dim else slice(0, k) for i, k in enumerate(shape))]


TAKE_ALONG_DIM = Op(
    "take_along_dim", lambda x, indices, dim: _take(x, indices, dim),
    lambda g, out, x, indices, dim: SCATTER_ALONG(g, indices=indices, dim=dim, shape=x.shape),
    meta=True,
)
SCATTER_ALONG = Op(
    "scatter_add_along", lambda g, indices, dim, shape: _scatter_along(g, indices, dim, shape),
    lambda gg, out, g, indices, dim, shape: TAKE_ALONG_DIM(within(gg, indices.shape, dim),
                                                           indices=indices, dim=dim),
)


@method()
def take_along_dim(x, indices, dim: int) -> Tensor:
    """out[..., i, ...] = x[..., indices[..., i, ...], ...] along ``dim`` (NumPy's
    take_along_axis).  The gradient scatter-adds g back to the picked positions."""
    x = tensor_arg(x)
    idx = index_on("take_along_dim", x, indices)
    if idx.dtype.kind not in "iu":
        raise IndexError(f"take_along_dim: indices must be integers, got {idx.dtype}")
    d = normalize_dim("take_along_dim", dim, x._data.ndim)
    if idx.ndim != x._data.ndim:
        raise ValueError(f"take_along_dim: indices of shape {idx.shape} must have as many dims "
                         f"as x {x.shape}")
    n = x._data.shape[d]
    low, high = (int(idx.min()), int(idx.max())) if idx.size else (-n, n - 1)
    if low < -n or high >= n:
        raise IndexError(f"take_along_dim: index {high if high >= n else low} "
                         f"is out of range for dim {dim} of size {n}")
    return apply(TAKE_ALONG_DIM, (x,), {"indices": idx.copy(), "dim": d})


@method()
def gather(x, dim: int, index) -> Tensor:
    """PyTorch's gather: out[i][j] = x[index[i][j]][j] for dim 0, and so on.  The result
    has index's shape: index has x's number of dims and is no larger than x outside dim
    (only the part of x it reaches is read).  A 0-d x or index counts as 1-D of one
    element (as PyTorch)."""
    x = tensor_arg(x)
    idx = index_on("gather", x, index)
    if x._data.ndim == 0 or idx.ndim == 0:
        return gather(x.reshape(-1), dim, idx.reshape(-1)).reshape(idx.shape)
    d = normalize_dim("gather", dim, x._data.ndim)
    if idx.ndim != x._data.ndim or any(
            k > n for i, (k, n) in enumerate(zip(idx.shape, x._data.shape, strict=True)) if i != d):
        raise RuntimeError(f"gather: expected index {idx.shape} to have the dims of input "
                           f"{x.shape} and to be no larger apart from dimension {d}")
    return take_along_dim(within(x, idx.shape, d), idx, d)


@method()
def index_select(x, dim: int, index) -> Tensor:
    """The slices of x along ``dim`` at the integer positions ``index`` (1-D)."""
    x = tensor_arg(x)
    d = normalize_dim("index_select", dim, x._data.ndim)
    idx = index_on("index_select", x, index)
    return getitem(x, (slice(None),) * d + (idx,))


@method()
def masked_fill(x, mask, value) -> Tensor:
    """x with ``value`` where ``mask`` (broadcast to x) is true."""
    x = tensor_arg(x)
    return where(index_on("masked_fill", x, mask), value, x)
