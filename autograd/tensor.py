"""The Tensor class: a NumPy array plus what backward needs to know about it.

This file holds no maths.  The operations live in ``autograd/ops`` and attach
themselves to Tensor as methods and operators, so ``x.exp`` *is* ``autograd.exp``.
"""
from __future__ import annotations

import math
import weakref

import numpy as np

from ._shapes import normalize_dim
from .arrays import device_of, is_array, is_device_array, to_host
from .devices import CPU, device

_FLOAT64 = np.dtype(np.float64)
_DEFAULT_FLOAT = [np.dtype(np.float32)]  # a list: set_default_dtype changes it in place


def get_default_dtype() -> np.dtype:
    """The dtype of tensors made from Python floats and of float factories (float32)."""
    return _DEFAULT_FLOAT[0]


def set_default_dtype(dtype) -> None:
    """Make ``dtype`` (float16, float32 or float64) the default float dtype, as PyTorch's."""
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"set_default_dtype: only floating point dtypes are supported, "
                        f"got {dtype}")
    _DEFAULT_FLOAT[0] = dtype


def to_array(data, dtype=None, copy: bool = True) -> np.ndarray:
    """Convert ``data`` to an ndarray with PyTorch's dtype defaults.

    Python floats and float lists become float32; a float64 NumPy array (or
    scalar) keeps float64; ``dtype`` overrides both.  ``copy=True`` never shares
    memory with the caller's array.
    """
    if isinstance(data, Tensor):
        data = data._data
    if not isinstance(data, np.ndarray) and is_array(data):  # a device array stays there
        return data.astype(data.dtype if dtype is None else dtype, copy=copy)
    if dtype is not None:
        return np.array(data, dtype=np.dtype(dtype), copy=copy or None)
    if isinstance(data, (np.ndarray, np.generic)):
        arr = np.array(data, copy=copy or None)
    else:
        arr = np.array(data)
        if arr.dtype == _FLOAT64:
            arr = arr.astype(_DEFAULT_FLOAT[0])
    if arr.dtype.kind not in "fiub":
        raise TypeError(
            f"tensor: unsupported data of dtype {arr.dtype} (expected numbers or bools)")
    return arr


class Tensor:
    """An n-dimensional array that can record the operations applied to it.

    ``Tensor(data, requires_grad=False, dtype=None)`` copies ``data`` (``Tensor(2, 3)``,
    PyTorch's legacy form, is an uninitialised 2 x 3 tensor; ``Tensor()`` is empty).  Floating
    data defaults to float32 (as PyTorch); float64 arrays keep float64.  When
    ``requires_grad`` is set, operations on the tensor record a graph and
    ``backward()`` fills ``.grad`` with d(output)/d(tensor).
    """

    __slots__ = (
        "_data", "grad", "requires_grad", "grad_fn", "_vc", "_base", "_base_history", "_hooks",
        "__weakref__",
    )  # set in one place, ``_init`` below
    # Make NumPy hand ``ndarray <op> Tensor`` to our reflected operators.
    __array_ufunc__ = None
    __array_priority__ = 1000.0

    def __init__(self, data=(), *sizes: int, requires_grad: bool = False, dtype=None) -> None:
        if sizes:  # the legacy Tensor(2, 3): uninitialised, of the default float dtype
            if not all(isinstance(n, int) and not isinstance(n, bool) for n in (data, *sizes)):
                raise TypeError(f"Tensor: give data, or sizes as ints (the legacy form "
                                f"Tensor(2, 3)), got {(data, *sizes)}")
            data = np.empty((data, *sizes), dtype or get_default_dtype())
        _init(self, to_array(data, dtype))
        if requires_grad:
            self.requires_grad_(True)

    # ----------------------------------------------------------- attributes
    @property
    def data(self) -> Tensor:
        """This tensor's values as a new Tensor outside the graph, sharing memory.

        In-place changes through it (``p.data.add_(g, alpha=-lr)``) are neither
        recorded nor counted as versions, as PyTorch's ``.data``: they bypass the
        checks that protect values saved for backward.  Assigning ``t.data = other``
        makes ``t`` use ``other``'s array (shared, not copied).
        """
        return Tensor._make(self._data)

    @data.setter
    def data(self, value) -> None:
        if not isinstance(value, Tensor):
            raise TypeError(f"data: assigned value must be a Tensor, got {type(value).__name__}")
        self._data = value._data

    @property
    def shape(self) -> Size:
        return Size(self._data.shape)

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    def size(self, dim: int | None = None):
        """The shape (a ``Size``, as ``shape``), or the length of dimension ``dim``."""
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[normalize_dim("size", dim, self._data.ndim)]

    def numel(self) -> int:
        return self._data.size

    def dim(self) -> int:
        return self._data.ndim

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def device(self) -> device:
        return CPU if type(self._data) is np.ndarray else device_of(self._data)

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    @property
    def _version(self) -> int:
        return self._vc[0] if self._vc is not None else 0

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self._data)

    # By identity, as object's (``__eq__`` is elementwise, which would unset it); the C
    # slot, not a Python function, because the engine keys its dicts by leaf tensors.
    __hash__ = object.__hash__

    # ------------------------------------------------------ graph controls
    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` on a leaf in place; returns self."""
        if requires_grad and self._data.dtype.kind not in "f":
            raise TypeError(
                f"requires_grad: only floating point tensors can require gradients "
                f"(got dtype {self._data.dtype})"
            )
        if not requires_grad and self.grad_fn is not None:
            raise RuntimeError(
                "requires_grad_: you can only change requires_grad of leaf tensors; "
                "use detach() to get a tensor outside the graph"
            )
        self.requires_grad = bool(requires_grad)
        return self

    def detach(self) -> Tensor:
        """A tensor sharing this one's data (and version counter) but outside the graph."""
        out = Tensor._make(self._data)
        out._vc = self._version_counter()
        return out

    def detach_(self) -> Tensor:
        self.grad_fn = None
        self.requires_grad = False
        return self

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this non-leaf tensor after backward (leaves always keep it)."""
        if self.grad_fn is None:
            return
        if not self.requires_grad:
            raise RuntimeError(
                "retain_grad: can't retain_grad on a tensor that doesn't require grad")
        ref = weakref.ref(self)

        def store(g):
            tensor = ref()
            if tensor is not None:
                g = Tensor._make(g._data.copy()) if g.grad_fn is None else g
                tensor.grad = g if tensor.grad is None else tensor.grad + g

        store._retains_grad = True
        hooks = self.grad_fn.hooks
        if hooks is None or not any(getattr(h, "_retains_grad", False) for h in hooks):
            self.register_hook(store)

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed.

        The hook may return a Tensor to replace the gradient.  Returns a handle
        whose ``remove()`` unregisters it.
        """
        if not self.requires_grad:
            raise RuntimeError(
                "register_hook: cannot register a hook on a tensor that doesn't require grad")
        if self.grad_fn is None:
            if self._hooks is None:
                self._hooks = []
            hooks = self._hooks
        else:
            if self.grad_fn.hooks is None:
                self.grad_fn.hooks = []
            hooks = self.grad_fn.hooks
        hooks.append(hook)
        return _HookHandle(hooks, hook)

    def backward(self, gradient=None, retain_graph=None, create_graph: bool = False,
                 inputs=None) -> None:
        """Accumulate d(self)/d(leaf) into ``.grad`` of every leaf that requires grad.

        ``gradient`` is the upstream gradient (required unless self has one
        element).  The graph's saved values are freed afterwards unless
        ``retain_graph`` (default: ``create_graph``).  ``create_graph=True`` makes
        the gradients themselves differentiable.
        """
        from .engine import backward

        gradients = None if gradient is None else [gradient]
        backward([self], gradients, retain_graph, create_graph, inputs)

    # ------------------------------------------------------- conversions
    def numpy(self, force: bool = False) -> np.ndarray:
        """The underlying array (shared memory, as PyTorch's ``numpy()``); a tensor on a
        device raises (move it with ``.cpu()`` first) unless ``force`` (a host copy)."""
        return self._host_data("numpy", force)

    def _host_data(self, where: str, force: bool = False) -> np.ndarray:
        if not is_device_array(self._data):
            return self._data
        if force:
            return to_host(self._data)
        raise TypeError(f"{where}: can't convert {self.device} device type tensor to numpy. "
                        f"Use Tensor.cpu() to copy the tensor to host memory first.")

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        """``np.asarray(t)``: the underlying array (a converted copy when ``dtype`` differs);
        a tensor on a device raises, as ``numpy()``."""
        self._host_data("__array__")
        if copy:
            return np.array(self._data, dtype=dtype, copy=True)
        return self._data if dtype is None else self._data.astype(dtype, copy=False)

    def __format__(self, spec: str) -> str:
        """``f"{loss:.4f}"``: a 0-d tensor formats as its number, as PyTorch's; other
        tensors only without a format spec (as their repr)."""
        if self._data.ndim == 0:
            return format(self._data.item(), spec)
        return object.__format__(self, spec)

    def item(self):
        if self._data.size != 1:
            raise ValueError(
                f"item: only a tensor with one element can be converted to a Python scalar "
                f"(got shape {self.shape})"
            )
        return self._data.item()

    def tolist(self):
        return self._data.tolist()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self._data.dtype.kind not in "iub":
            raise TypeError(
                f"only integer tensors can be used as an index (got dtype {self.dtype})")
        return int(self.item())

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError(
                f"bool: the truth value of a tensor with {self._data.size} elements is ambiguous"
            )
        return bool(self._data.item())

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(len(self._data)))

    def __repr__(self) -> str:
        body = np.array2string(to_host(self._data), separator=", ", prefix="tensor(")
        extras = [] if type(self._data) is np.ndarray else [f"device='{self.device}'"]
        if self._data.dtype not in (_DEFAULT_FLOAT[0], np.dtype(np.int64), np.dtype(bool)):
            extras.append(f"dtype={self._data.dtype}")
        if self.grad_fn is not None:
            extras.append(f"grad_fn=<{self.grad_fn.op.name}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + ", ".join([body] + extras) + ")"

    # --------------------------------------------------------- internals
    @staticmethod
    def _make(data: np.ndarray, requires_grad: bool = False, grad_fn=None) -> Tensor:
        """Wrap an array the engine owns (no copy, no checks): how every op's output and
        every gradient is made."""
        return _init(_new_tensor(Tensor), data, requires_grad, grad_fn)

    def _version_counter(self) -> list:
        """This tensor's version counter, created on demand, shared with its views."""
        if self._vc is None:
            self._vc = [0]
        return self._vc

    def _bump_version(self) -> None:
        if self._vc is None:
            self._vc = [1]
        else:
            self._vc[0] += 1


_new_tensor = object.__new__


def _init(t: Tensor, data: np.ndarray, requires_grad: bool = False, grad_fn=None) -> Tensor:
    """Set every slot of a new Tensor (``Tensor(...)`` and ``Tensor._make`` both come here)."""
    t._data = data
    t.grad = None
    t.requires_grad = requires_grad
    t.grad_fn = grad_fn  # the Node that made it; None for a leaf
    t._vc = None  # shared version counter [n], created on first in-place change or view
    t._base = None  # the tensor whose memory this one views, if any
    t._base_history = None  # a view's: its base's grad_fn when the view was taken
    t._hooks = None  # a leaf's gradient hooks (a non-leaf's live on its grad_fn)
    return t


def is_tensor(obj) -> bool:
    """True for a graphgrad Tensor (Parameters included)."""
    return isinstance(obj, Tensor)


def numel(input: Tensor) -> int:
    """The number of elements of ``input``."""
    return input.numel()


class Size(tuple):
    """A shape: a tuple of ints, as ``torch.Size`` (``t.size()``, ``t.shape``).

    It prints as the plain tuple, so error messages read ``(2, 3)``."""

    __slots__ = ()

    def numel(self) -> int:
        """The number of elements of a tensor of this shape."""
        return math.prod(self)


class _HookHandle:
    __slots__ = ("_hooks", "_hook")

    def __init__(self, hooks: list, hook) -> None:
        self._hooks = hooks
        self._hook = hook

    def remove(self) -> None:
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


def tensor_arg(x) -> Tensor:
    """``x`` as an operand: itself if it is a Tensor, else a new constant Tensor holding a
    copy of it (a later change to the caller's array cannot reach a saved value)."""
    return x if isinstance(x, Tensor) else Tensor(x)


def unwrap(x):
    """The array behind a Tensor; any other value (an array, a number, None) as it is."""
    return x._data if isinstance(x, Tensor) else x
