"""Tensor methods that convert a tensor or make one like it, as PyTorch's.

``to`` / ``cpu`` / ``cuda`` move between devices (differentiably: ``move``) and dtypes;
``type`` (PyTorch's type names), ``type_as``, ``view_as``, ``reshape_as``, ``contiguous``,
``t`` and ``narrow`` are compositions of the differentiable ops; ``new_zeros`` and friends
make constants with this tensor's dtype.
"""
from __future__ import annotations

import numpy as np

from .._shapes import normalize_dim
from ..arrays import is_array, module_for, namespace, to_device
from ..devices import CPU, Device, check_device
from ..graph import apply
from ..tensor import Tensor, unwrap
from ._args import method
from ._registry import Op
from .elementwise import astype, clone
from .shape import _shape_args, reshape, transpose


@method()
def to(x, *args, dtype=None, device=None, non_blocking: bool = False, copy: bool = False,
       memory_format=None):
    """``x`` with another dtype and/or on another device, as ``Tensor.to``:
    ``to(dtype)``, ``to(device)``, ``to(device, dtype)``, ``to(other)`` (other's dtype
    and device).  Returns ``x`` itself when nothing changes, unless ``copy``.  A dtype
    change is differentiable (``astype``)."""
    for arg in args:
        if isinstance(arg, Tensor):
            dtype = arg.dtype if dtype is None else dtype
            device = arg.device if device is None else device
        elif isinstance(arg, (str, int, Device)):
            device = arg
        else:
            dtype = arg
    out = x if device is None else move(x, check_device("to", device))
    out = out if dtype is None else astype(out, dtype)
    return clone(out) if copy and out is x else out


def move(x, target: Device):
    """``x`` on device ``target`` (itself when it is there): differentiable, the gradient
    going back to ``x``'s device."""
    source = x.device
    if source == target:
        return x
    return apply(TO_DEVICE, (x,), {"target": target, "source": source})


def _copy_to(x, target, source):
    moved = to_device(x, target)
    return moved.copy() if moved is x else moved


def _move_gradient(g, out, x, target, source):
    return move(g, source) if isinstance(g, Tensor) else to_device(g, source)


TO_DEVICE = Op("to_device", _copy_to, _move_gradient, meta=True)


@method()
def cpu(x, memory_format=None):
    """``x`` on the CPU (``to("cpu")``)."""
    return move(x, CPU)


@method()
def cuda(x, device=None, non_blocking: bool = False, memory_format=None):
    """``x`` on a CUDA device (``to("cuda")``; an int is the device's index): raises,
    naming what is missing, where no CUDA backend serves it."""
    return move(x, check_device("cuda", "cuda" if device is None else device))


@method()
def half(x, memory_format=None):
    """``x`` as float16 (``astype``)."""
    return astype(x, np.float16)


# PyTorch's legacy type names of the CPU tensor types, by dtype.
_TYPE_NAMES = {np.dtype(dtype): f"torch.{name}Tensor" for dtype, name in (
    (np.float32, "Float"), (np.float64, "Double"), (np.float16, "Half"), (np.int64, "Long"),
    (np.int32, "Int"), (np.int16, "Short"), (np.int8, "Char"), (np.uint8, "Byte"),
    (np.bool_, "Bool"))}


@method("type")
def tensor_type(x, dtype=None, non_blocking: bool = False):
    """``Tensor.type``: without ``dtype``, x's type name as PyTorch spells it
    (``'torch.FloatTensor'`` for float32, ``'torch.cuda.FloatTensor'`` on a CUDA device);
    with one (a dtype or such a name), ``x`` cast to it (``astype``)."""
    if dtype is None:
        if np.dtype(x.dtype) not in _TYPE_NAMES:
            raise TypeError(f"type: a tensor of dtype {x.dtype} has no PyTorch type name")
        name = _TYPE_NAMES[np.dtype(x.dtype)]
        return name if x.device.type == "cpu" else name.replace(".", f".{x.device.type}.", 1)
    if isinstance(dtype, str):
        by_name = {name: dtype for dtype, name in _TYPE_NAMES.items()}
        if dtype not in by_name:
            raise ValueError(f"type: unknown tensor type {dtype!r}; expected one of "
                             f"{sorted(by_name)} or a dtype")
        dtype = by_name[dtype]
    return astype(x, dtype)


@method()
def type_as(x, other):
    """``x`` with ``other``'s dtype."""
    return astype(x, other.dtype)


@method()
def view_as(x, other):
    """``x`` viewed with ``other``'s shape."""
    return reshape(x, other.shape)


@method()
def reshape_as(x, other):
    """``x`` reshaped to ``other``'s shape."""
    return reshape(x, other.shape)


@method()
def contiguous(x, memory_format=None):
    """``x`` if its memory is in row-major order, else a row-major copy (differentiable:
    the gradient passes through unchanged)."""
    return x if x._data.flags.c_contiguous else apply(CONTIGUOUS, (x,))


# asarray, not ascontiguousarray: that one makes a 0-d array 1-D.
CONTIGUOUS = Op("contiguous", lambda x: namespace(x).asarray(x, order="C"), lambda g, out, x: g)


@method()
def t(x):
    """The transpose of a matrix; 0-d and 1-D tensors are returned as they are."""
    if x._data.ndim > 2:
        raise ValueError(f"t: expects a tensor with <= 2 dimensions, got shape {x.shape}; "
                         f"use transpose(dim0, dim1) or .mT")
    return x if x._data.ndim < 2 else transpose(x, 0, 1)


@method()
def narrow(x, dim: int, start: int, length: int):
    """``x`` restricted to ``length`` entries of dimension ``dim`` from ``start`` (a view)."""
    d = normalize_dim("narrow", dim, x._data.ndim)
    size = x._data.shape[d]
    start = int(start)
    if start < 0:
        start += size
    if not 0 <= start <= size or length < 0 or start + length > size:
        raise IndexError(f"narrow: start {start} and length {length} are out of range for "
                         f"dimension {dim} of size {size} (shape {x.shape})")
    return x[(slice(None),) * d + (slice(start, start + length),)]


@method()
def element_size(x) -> int:
    """Bytes per element."""
    return x._data.itemsize


@method()
def is_floating_point(x) -> bool:
    return x._data.dtype.kind == "f"


def _new(name: str, x, device, make, requires_grad: bool) -> Tensor:
    """A new tensor made on ``device`` (x's when None) by ``make(xp)``, ``xp`` the array
    module that makes arrays there (no host round trip)."""
    where = x.device if device is None else check_device(name, device)
    out = Tensor._make(make(module_for(where)))
    return out.requires_grad_(True) if requires_grad else out


@method()
def new_zeros(x, *size, dtype=None, device=None, requires_grad: bool = False):
    """Zeros of shape ``size`` with ``x``'s dtype (or ``dtype``), on ``x``'s device (or
    ``device``)."""
    return _new("new_zeros", x, device,
                lambda xp: xp.zeros(_shape_args(size), dtype or x.dtype), requires_grad)


@method()
def new_ones(x, *size, dtype=None, device=None, requires_grad: bool = False):
    """Ones of shape ``size`` with ``x``'s dtype (or ``dtype``), on ``x``'s device (or
    ``device``)."""
    return _new("new_ones", x, device,
                lambda xp: xp.ones(_shape_args(size), dtype or x.dtype), requires_grad)


@method()
def new_empty(x, *size, dtype=None, device=None, requires_grad: bool = False):
    """An uninitialised tensor of shape ``size`` with ``x``'s dtype (or ``dtype``), on
    ``x``'s device (or ``device``)."""
    return _new("new_empty", x, device,
                lambda xp: xp.empty(_shape_args(size), dtype or x.dtype), requires_grad)


@method()
def new_full(x, size, fill_value, dtype=None, device=None, requires_grad: bool = False):
    """``fill_value`` everywhere, shape ``size``, ``x``'s dtype (or ``dtype``), on ``x``'s
    device (or ``device``)."""
    return _new("new_full", x, device,
                lambda xp: xp.full(_shape_args((size,)), fill_value, dtype or x.dtype),
                requires_grad)


@method()
def new_tensor(x, data, dtype=None, device=None, requires_grad: bool = False):
    """A copy of ``data`` with ``x``'s dtype (or ``dtype``), on ``x``'s device (or
    ``device``), outside any graph.  Tensor data is copied from its device explicitly."""
    where = x.device if device is None else check_device("new_tensor", device)
    data = unwrap(data)
    if is_array(data):
        data = to_device(data, where, "new_tensor")
    return _new("new_tensor", x, where, lambda xp: xp.array(data, dtype=dtype or x.dtype),
                requires_grad)
