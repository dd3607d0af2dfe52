"""Factories, as PyTorch's: tensors made from data, and tensors filled with a constant,
a range or the identity.  The random ones (rand, randn, randint, ...) are in ``random.py``.

Every factory takes PyTorch's keyword arguments: ``dtype=`` (floats default to
``get_default_dtype()``, float32 unless changed; integer data and ranges to int64),
``device=`` (the CPU by default, or a device a backend serves, where the array is made
by that device's array module; an unserved device raises, naming it; ``*_like``
factories default to their input's device and ``out=`` to out's), ``requires_grad=`` (a
leaf; only floating tensors can require grad), ``out=`` (write into an existing
tensor, whose dtype is the default then), ``layout=`` (only the dense, strided one
exists) and, where PyTorch has them, ``pin_memory=`` and ``memory_format=``
(accepted; there is nothing to pin on the CPU, and new arrays are contiguous).  A
size is given as separate ints, one tuple or list, a ``Size``, or ``size=``.
"""
from __future__ import annotations

import math
import operator
import warnings

import numpy as np

from .arrays import is_device_array, module_for, to_device, to_host
from .devices import CPU, Device, check_device
from .tensor import Tensor, get_default_dtype

_NUMPY_KINDS = "fiub"  # the array kinds a Tensor can hold: float, int, uint, bool


# ------------------------------------------------------------------ arguments
def parse_size(name: str, size: tuple, keyword=None) -> tuple:
    """The shape that ``size`` (separate ints, one sequence, or ``size=``) describes."""
    if keyword is not None:
        if size:
            raise TypeError(f"{name}: size given both positionally {size} and as size={keyword}")
        size = (keyword,)
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    dims = []
    for n in size:
        if isinstance(n, (bool, np.bool_)):
            raise TypeError(f"{name}: size must be a tuple of ints, got {tuple(size)}")
        try:
            dims.append(operator.index(n))
        except TypeError:
            raise TypeError(f"{name}: size must be a tuple of ints, got {tuple(size)}") from None
    if any(n < 0 for n in dims):
        raise ValueError(f"{name}: negative dimension in size {tuple(dims)}")
    return tuple(dims)


def resolve_dtype(dtype, default, out: Tensor | None = None) -> np.dtype:
    """``dtype``, else ``out``'s dtype (PyTorch's rule for ``out=``), else ``default``."""
    if dtype is None:
        return out._data.dtype if isinstance(out, Tensor) else np.dtype(default)
    return np.dtype(dtype)


def check_layout(name: str, layout) -> None:
    """Only the dense (strided) layout exists; None or ``"strided"`` name it."""
    if layout is not None and str(layout).rpartition(".")[2] != "strided":
        raise ValueError(f"{name}: only the dense (strided) layout is supported, got {layout}")


def placement(name: str, device, out: Tensor | None = None) -> Device:
    """The device a factory makes its result on: ``device``, else ``out``'s, else the
    CPU (checked: an unserved device raises, naming ``name``)."""
    if device is None:
        return out.device if isinstance(out, Tensor) else CPU
    return check_device(name, device)


def finish(name: str, data: np.ndarray, *, device=None, requires_grad: bool = False,
           out: Tensor | None = None, layout=None) -> Tensor:
    """The factory's result: ``data`` as a new leaf (or written into ``out``), after the
    device and layout checks (moved to ``device`` when it is not there already)."""
    where = placement(name, device, out)
    check_layout(name, layout)
    if where.type != "cpu" or is_device_array(data):
        data = to_device(data, where, name)
    if out is not None:
        return _write_out(name, data, out)
    t = Tensor._make(data)
    if requires_grad:
        t.requires_grad_(True)  # a TypeError for integer and bool tensors
    return t


def _write_out(name: str, data: np.ndarray, out: Tensor) -> Tensor:
    if not isinstance(out, Tensor):
        raise TypeError(f"{name}: out must be a Tensor, got {type(out).__name__}")
    if out.requires_grad:
        raise RuntimeError(f"{name}: out= does not support automatic differentiation, and "
                           f"the out tensor requires grad")
    if data.dtype != out._data.dtype:
        raise TypeError(f"{name}: expected the out tensor to have dtype {data.dtype}, "
                        f"got {out._data.dtype}")
    if out._data.shape == data.shape:
        out._data[...] = data
    else:  # PyTorch resizes out, warning unless it was empty
        if out._data.size:
            warnings.warn(f"{name}: an out tensor of shape {out.shape} was resized to "
                          f"{data.shape}", UserWarning, stacklevel=3)
        out._data = data
    out._bump_version()
    return out


def _number(name: str, what: str, value):
    """A Python number from a number, a NumPy scalar or a one-element tensor."""
    if isinstance(value, (Tensor, np.ndarray, np.generic)):
        value = np.asarray(value).item()
    if not isinstance(value, (bool, int, float)):
        raise TypeError(f"{name}: {what} must be a number, got {value!r}")
    return value


def _scalar_dtype(value) -> np.dtype:
    """PyTorch's dtype for a Python number: bool, int64 or the default float."""
    if isinstance(value, bool):
        return np.dtype(np.bool_)
    return np.dtype(np.int64) if isinstance(value, int) else get_default_dtype()


# ------------------------------------------------------------- from data
def tensor(data, *, dtype=None, device=None, requires_grad: bool = False,
           pin_memory: bool = False) -> Tensor:
    """A new leaf holding a copy of ``data`` (numbers, nested lists, arrays, tensors).

    Python floats give the default float dtype; float64 arrays keep float64;
    Python ints give int64 and bools bool.
    """
    where = check_device("tensor", device)
    if where.type == "cpu" and isinstance(data, Tensor):
        data = to_host(data._data)
    t = Tensor(data, dtype=dtype)
    if where.type != "cpu":
        t._data = to_device(t._data, where, "tensor")
    return t.requires_grad_(True) if requires_grad else t


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """``data`` as a tensor, copying only when needed.

    A Tensor of that dtype (or with ``dtype=None``) is returned itself; one of
    another dtype is converted (differentiably, as ``astype``).  A NumPy array of
    that dtype shares its memory; anything else is copied as by ``tensor``.
    """
    where = None if device is None else check_device("as_tensor", device)
    if isinstance(data, Tensor):
        data = data if where is None else data.to(where)
        return data if dtype is None or np.dtype(dtype) == data._data.dtype else data.astype(dtype)
    if where is not None and where.type != "cpu":
        return tensor(data, dtype=dtype, device=where)
    if isinstance(data, np.ndarray) and data.dtype.kind in _NUMPY_KINDS:
        if dtype is None or np.dtype(dtype) == data.dtype:
            return Tensor._make(data)
        return Tensor._make(data.astype(dtype))
    return Tensor(data, dtype=dtype)


def from_numpy(ndarray: np.ndarray) -> Tensor:
    """A tensor sharing ``ndarray``'s memory and dtype: a change to either shows in both."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"from_numpy: expected np.ndarray (got {type(ndarray).__name__})")
    if ndarray.dtype.kind not in _NUMPY_KINDS:
        raise TypeError(f"from_numpy: can't convert an array of dtype {ndarray.dtype}; "
                        f"supported: floating, integer and bool arrays")
    return Tensor._make(ndarray)


# ------------------------------------------------------------- constants
def zeros(*sizes, size=None, out=None, dtype=None, layout=None, device=None,
          requires_grad: bool = False) -> Tensor:
    """A tensor of zeros (floats default to ``get_default_dtype()``)."""
    dtype = resolve_dtype(dtype, get_default_dtype(), out)
    where = placement("zeros", device, out)
    data = module_for(where).zeros(parse_size("zeros", sizes, size), dtype)
    return finish("zeros", data, device=where, requires_grad=requires_grad, out=out,
                  layout=layout)


def ones(*sizes, size=None, out=None, dtype=None, layout=None, device=None,
         requires_grad: bool = False) -> Tensor:
    """A tensor of ones."""
    dtype = resolve_dtype(dtype, get_default_dtype(), out)
    where = placement("ones", device, out)
    data = module_for(where).ones(parse_size("ones", sizes, size), dtype)
    return finish("ones", data, device=where, requires_grad=requires_grad, out=out,
                  layout=layout)


def empty(*sizes, size=None, out=None, dtype=None, layout=None, device=None,
          requires_grad: bool = False, pin_memory: bool = False, memory_format=None) -> Tensor:
    """A tensor whose values are whatever the new memory held (fill it before reading)."""
    dtype = resolve_dtype(dtype, get_default_dtype(), out)
    where = placement("empty", device, out)
    data = module_for(where).empty(parse_size("empty", sizes, size), dtype)
    return finish("empty", data, device=where, requires_grad=requires_grad, out=out,
                  layout=layout)


def full(size, fill_value, *, out=None, dtype=None, layout=None, device=None,
         requires_grad: bool = False) -> Tensor:
    """A tensor of ``size`` (a tuple or list) filled with ``fill_value``.  Without ``dtype``
    a bool gives bool, an int int64 and a float the default float dtype."""
    if not isinstance(size, (tuple, list)):
        raise TypeError(f"full: size must be a tuple of ints, got {size!r}")
    value = _number("full", "fill_value", fill_value)
    dtype = resolve_dtype(dtype, _scalar_dtype(value), out)
    where = placement("full", device, out)
    data = module_for(where).full(parse_size("full", (size,)), value, dtype)
    return finish("full", data, device=where, requires_grad=requires_grad, out=out,
                  layout=layout)


def like_data(name: str, input) -> np.ndarray:
    """The array of the tensor a ``*_like`` factory copies the shape and dtype of."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}: input must be a Tensor, got {type(input).__name__}")
    return input._data


def like_target(name: str, input, device) -> tuple:
    """For a ``*_like`` factory: the array whose shape and dtype it copies, and where its
    result goes (the input's device unless ``device``)."""
    like = like_data(name, input)
    return like, placement(name, input.device if device is None else device)


def zeros_like(input, *, dtype=None, layout=None, device=None, requires_grad: bool = False,
               memory_format=None) -> Tensor:
    """Zeros of ``input``'s shape and (unless ``dtype``) dtype."""
    like, where = like_target("zeros_like", input, device)
    xp = module_for(where)
    return finish("zeros_like", xp.zeros(like.shape, resolve_dtype(dtype, like.dtype)),
                  device=where, requires_grad=requires_grad, layout=layout)


def ones_like(input, *, dtype=None, layout=None, device=None, requires_grad: bool = False,
              memory_format=None) -> Tensor:
    """Ones of ``input``'s shape and (unless ``dtype``) dtype."""
    like, where = like_target("ones_like", input, device)
    xp = module_for(where)
    return finish("ones_like", xp.ones(like.shape, resolve_dtype(dtype, like.dtype)),
                  device=where, requires_grad=requires_grad, layout=layout)


def empty_like(input, *, dtype=None, layout=None, device=None, requires_grad: bool = False,
               memory_format=None) -> Tensor:
    """Uninitialised memory of ``input``'s shape and (unless ``dtype``) dtype."""
    like, where = like_target("empty_like", input, device)
    xp = module_for(where)
    return finish("empty_like", xp.empty(like.shape, resolve_dtype(dtype, like.dtype)),
                  device=where, requires_grad=requires_grad, layout=layout)


def full_like(input, fill_value, *, dtype=None, layout=None, device=None,
              requires_grad: bool = False, memory_format=None) -> Tensor:
    """``fill_value`` in ``input``'s shape and (unless ``dtype``) dtype, cast as NumPy
    casts (2.7 in an int64 tensor is 2)."""
    like, where = like_target("full_like", input, device)
    xp = module_for(where)
    value = _number("full_like", "fill_value", fill_value)
    data = xp.full(like.shape, value, resolve_dtype(dtype, like.dtype))
    return finish("full_like", data, device=where, requires_grad=requires_grad, layout=layout)


# ---------------------------------------------------------------- ranges
def arange(start=0, end=None, step=1, *, out=None, dtype=None, layout=None, device=None,
           requires_grad: bool = False) -> Tensor:
    """``start, start + step, ...`` up to ``end`` (excluded); ``arange(end)`` starts at 0.

    The length is ceil((end - start) / step).  Without ``dtype``, all-integer
    arguments give int64 and any float the default float dtype.  An integer
    ``dtype`` truncates start, end and step to integers first (as PyTorch), so
    ``arange(-1.5, 3, dtype=int64)`` is [-1, 0, 1, 2].
    """
    if end is None:
        start, end = 0, start
    start, end, step = (_number("arange", w, v) for w, v in
                        (("start", start), ("end", end), ("step", step)))
    default = np.int64 if all(isinstance(v, int) for v in (start, end, step)) \
        else get_default_dtype()
    dtype = resolve_dtype(dtype, default, out)
    if dtype.kind == "b":
        raise TypeError("arange: bool is not a supported dtype")
    if dtype.kind in "iu":
        start, end, step = int(start), int(end), int(step)
    if not all(math.isfinite(v) for v in (start, end, step)):
        raise ValueError(f"arange: unsupported range: {start} -> {end} (step {step})")
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    if (end - start) * step < 0:
        raise ValueError(f"arange: upper bound {end} and lower bound {start} are inconsistent "
                         f"with step sign ({step})")
    where = placement("arange", device, out)
    xp = module_for(where)
    if dtype.kind in "iu":
        data = xp.arange(start, end, step, dtype=dtype)
    else:  # each value computed in float64, then rounded once to the dtype
        n = math.ceil((end - start) / step)
        data = (start + step * xp.arange(n, dtype=np.float64)).astype(dtype)
    return finish("arange", data, device=where, requires_grad=requires_grad, out=out,
                  layout=layout)


def linspace(start, end, steps: int, *, out=None, dtype=None, layout=None, device=None,
             requires_grad: bool = False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end``, both included.

    With h = (end - start) / (steps - 1), the first half of the values is
    start + i h and the second half end - (steps - 1 - i) h, so both ends are exact
    (PyTorch's formula, each value rounded once).  An integer ``dtype`` truncates
    start and end first and the values after.  Default dtype: the default float.
    """
    start, end = _number("linspace", "start", start), _number("linspace", "end", end)
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)):
        raise TypeError(f"linspace: steps must be an int, got {steps!r}")
    if steps < 0:
        raise ValueError(f"linspace: number of steps must be non-negative, got {steps}")
    dtype = resolve_dtype(dtype, get_default_dtype(), out)
    if dtype.kind == "f":
        start, end = dtype.type(start), dtype.type(end)  # rounded to the dtype, as PyTorch
        step_type = dtype.type
    else:
        start, end = int(start), int(end)
        step_type = np.float64
    h = np.longdouble((step_type(end) - step_type(start)) / step_type(max(steps - 1, 1)))
    i = np.arange(steps)
    # Each value rounded once (as by a fused multiply-add), in long double where it is wider,
    # to the dtype or, for integer dtypes, to float64 before truncating.
    lower = np.longdouble(start) + h * i
    upper = np.longdouble(end) - h * (steps - 1 - i)
    data = np.where(i < steps // 2, lower, upper).astype(step_type).astype(dtype)
    data[:1] = start  # one step is start alone
    # Made on the host, for the long double a device lacks, and moved by ``finish``.
    return finish("linspace", data, device=device, requires_grad=requires_grad, out=out,
                  layout=layout)


def eye(n: int, m: int | None = None, *, out=None, dtype=None, layout=None, device=None,
        requires_grad: bool = False) -> Tensor:
    """The n x m (default n x n) matrix with ones on the diagonal."""
    for what, v in (("n", n), ("m", m)):
        if v is not None and int(v) < 0:
            raise ValueError(f"eye: {what} must be greater or equal to 0, got {v}")
    where = placement("eye", device, out)
    data = module_for(where).eye(n, m, dtype=resolve_dtype(dtype, get_default_dtype(), out))
    return finish("eye", data, device=where, requires_grad=requires_grad, out=out,
                  layout=layout)

