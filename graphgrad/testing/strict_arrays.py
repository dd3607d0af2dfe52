"""A stand-in GPU for tests on a machine without one: NumPy arrays that refuse, as
CuPy's do, to be turned into NumPy arrays implicitly.

``with strict_cuda():`` serves the ``"cuda"`` device with this backend, so
``t.to("cuda")``, ``Module.to("cuda")`` and the factories' ``device="cuda"`` give
tensors whose data is a ``StrictArray``.  Computing with them gives NumPy's numbers bit
for bit, but any code path that would, on a real GPU, pull the data to the host without
asking (``np.exp(a)``, ``np.asarray(a)``, mixing a NumPy array into a device
computation, a NumPy function CuPy lacks) raises a ``TypeError`` instead.  The legal
ways are CuPy's: the array module ``strict_numpy`` (``xp.exp(a)``), the array's own
methods and operators, and explicit transfers (``xp.asarray(host)`` to the device,
``a.get()``, ``a.item()``, ``a.tolist()``, ``float(a)`` to the host).

As CuPy's, results are always arrays: a reduction gives a 0-d array, not a NumPy scalar.
"""
from __future__ import annotations

import contextlib
import operator

import numpy as np

from graphgrad.autograd.arrays import Backend, use_backend

# NumPy functions that CuPy (14) does not have: code that calls them through the array
# module would work on the CPU and fail on a GPU.
_NOT_IN_CUPY = frozenset({
    "asmatrix", "block", "bmat", "einsum_path", "frompyfunc", "fromregex", "geomspace",
    "histogram_bin_edges", "insert", "matvec", "nanpercentile", "nanquantile", "polyder",
    "polydiv", "polyint", "spacing", "unstack", "vecdot", "vecmat", "errstate",
})
_LINALG_NOT_IN_CUPY = frozenset({
    "diagonal", "matrix_norm", "multi_dot", "outer", "svdvals", "tensordot", "trace", "vecdot",
    "vector_norm",
})
# The ufunc methods CuPy (14) gives only some ufuncs (``maximum.accumulate`` raises there).
_CUPY_UFUNC_METHODS = {"reduce": {"add", "multiply"}, "accumulate": {"add", "multiply"},
                       "reduceat": {"add"}}
# Functions that copy host data to the device: the one legal use of a NumPy array.
_TRANSFERS = frozenset({"asarray", "array", "ascontiguousarray"})


def _refuse_host_array(where: str) -> TypeError:
    return TypeError(f"{where}: a NumPy array was mixed into a device computation; move it "
                     f"explicitly (xp.asarray) or build it with the array module")


def _unwrap(value, where: str):
    """The NumPy data behind ``value`` (recursing into lists and tuples); a NumPy array
    here is a host array in a device computation, refused as CuPy refuses it."""
    kind = type(value)
    if kind is StrictArray:
        return value._data
    if kind is np.ndarray:
        raise _refuse_host_array(where)
    if kind is tuple or kind is list:
        return kind(_unwrap(v, where) for v in value)
    return value


def _wrap(value):
    """NumPy results as device arrays (NumPy scalars as 0-d arrays, as CuPy returns)."""
    kind = type(value)
    if kind is np.ndarray:
        return StrictArray(value)
    if isinstance(value, np.generic):
        return StrictArray(np.asarray(value))
    if kind is tuple or kind is list:
        return kind(_wrap(v) for v in value)
    if isinstance(value, tuple):  # a NamedTuple result (eigh, slogdet, ...)
        return kind(*(_wrap(v) for v in value))
    return value


def _device_function(fn, where: str):
    def call(*args, **kwargs):
        return _wrap(fn(*_unwrap(args, where), **{k: _unwrap(v, where) for k, v in kwargs.items()}))

    call.__name__ = where
    return call


def _transfer_function(fn, where: str):
    """``asarray``/``array``: host data (lists, NumPy arrays) may come in here."""
    def call(obj, *args, **kwargs):
        data = obj._data if type(obj) is StrictArray else \
            _unwrap(obj, where) if type(obj) in (list, tuple) and _holds_device(obj) else obj
        return _wrap(np.asarray(fn(data, *args, **kwargs)))

    call.__name__ = where
    return call


def _holds_device(seq) -> bool:
    return any(type(v) is StrictArray or (type(v) in (list, tuple) and _holds_device(v))
               for v in seq)


class _Ufunc:
    """A NumPy ufunc over device arrays, with its methods (``add.at``, ``add.reduce``) where
    CuPy's has them."""

    def __init__(self, ufunc: np.ufunc) -> None:
        self._ufunc = ufunc
        self._call = _device_function(ufunc, ufunc.__name__)

    def __call__(self, *args, **kwargs):
        return self._call(*args, **kwargs)

    def __getattr__(self, name: str):
        where = f"{self._ufunc.__name__}.{name}"
        if self._ufunc.__name__ not in _CUPY_UFUNC_METHODS.get(name, (self._ufunc.__name__,)):
            def refused(*args, **kwargs):
                raise NotImplementedError(f"{where}: CuPy's ufuncs {name} with "
                                          f"{' and '.join(sorted(_CUPY_UFUNC_METHODS[name]))} only")
            return refused
        attr = getattr(self._ufunc, name)
        return _device_function(attr, where) if callable(attr) else attr


class _Namespace:
    """A NumPy-like module whose functions take and return device arrays."""

    def __init__(self, module, name: str, missing: frozenset) -> None:
        self._module, self._name, self._missing = module, name, missing

    def __getattr__(self, name: str):
        if name in self._missing:
            raise AttributeError(f"{self._name}.{name}: CuPy has no such function, so code "
                                 f"calling it through the array module fails on a GPU")
        attr = getattr(self._module, name)
        if isinstance(attr, np.ufunc):
            value = _Ufunc(attr)
        elif isinstance(attr, type) or not callable(attr):
            value = attr  # dtypes (xp.float32), constants (xp.inf), classes
        elif name in _TRANSFERS:
            value = _transfer_function(attr, f"{self._name}.{name}")
        else:
            value = _device_function(attr, f"{self._name}.{name}")
        setattr(self, name, value)  # found once
        return value


strict_numpy = _Namespace(np, "strict_numpy", _NOT_IN_CUPY)
strict_numpy.linalg = _Namespace(np.linalg, "strict_numpy.linalg", _LINALG_NOT_IN_CUPY)
strict_numpy.ndarray = None  # set below to StrictArray, as cupy.ndarray


def _binary(op):
    def method(self, other):
        if type(other) is not StrictArray and getattr(other, "__array_ufunc__", 0) is None:
            return NotImplemented  # as CuPy's: an operand opting out of ufuncs (a Tensor) acts
        return _wrap(op(self._data, _unwrap(other, op.__name__)))

    return method


def _reflected(op):
    def method(self, other):
        return _wrap(op(_unwrap(other, op.__name__), self._data))

    return method


def _inplace(op):
    def method(self, other):
        op(self._data, _unwrap(other, op.__name__))
        return self

    return method


class StrictArray:
    """A device array of the strict backend: NumPy data that only device code may touch.

    Operators, indexing and the array methods work and give ``StrictArray`` results;
    ``np.asarray(a)`` and passing it to a NumPy function raise a ``TypeError``.
    """

    __slots__ = ("_data",)
    __array_ufunc__ = None  # NumPy's operators and ufuncs give way (and then refuse)
    __hash__ = None

    def __init__(self, data: np.ndarray) -> None:
        self._data = data

    def __array__(self, dtype=None, copy=None):
        raise TypeError("implicit conversion of a device array to a NumPy array is not "
                        "allowed (as CuPy's): use .get() or graphgrad's to_host")

    def get(self) -> np.ndarray:
        """A NumPy copy on the host (CuPy's explicit transfer)."""
        return self._data.copy()

    def __getattr__(self, name: str):
        if name.startswith("__"):  # NumPy's __array_interface__ and such: no way to the host
            raise AttributeError(f"a device array has no {name}")
        attr = getattr(self._data, name)
        if name in ("item", "tolist"):  # explicit transfers to the host, as CuPy's
            return attr
        return _device_function(attr, f"ndarray.{name}") if callable(attr) else _wrap(attr)

    def __getitem__(self, index):
        return _wrap(self._data[_unwrap(index, "ndarray.__getitem__")])

    def __setitem__(self, index, value) -> None:
        self._data[_unwrap(index, "ndarray.__setitem__")] = _unwrap(value, "ndarray.__setitem__")

    def __len__(self) -> int:
        return len(self._data)

    def __iter__(self):
        return (_wrap(row) for row in self._data)

    def __bool__(self) -> bool:
        return bool(self._data)

    def __float__(self) -> float:
        return float(self._data)

    def __int__(self) -> int:
        return int(self._data)

    def __index__(self) -> int:
        return operator.index(self._data)

    def __complex__(self) -> complex:
        return complex(self._data)

    def __repr__(self) -> str:
        return f"StrictArray({self._data!r})"

    def __neg__(self):
        return StrictArray(-self._data)

    def __pos__(self):
        return StrictArray(+self._data)

    def __abs__(self):
        return StrictArray(abs(self._data))

    def __invert__(self):
        return StrictArray(~self._data)

    def __copy__(self):
        return StrictArray(self._data.copy())

    def __deepcopy__(self, memo):
        return StrictArray(self._data.copy())

    def __reduce__(self):
        raise TypeError("a device array cannot be pickled; move it to the host first")


for _name, _op in {
    "add": operator.add, "sub": operator.sub, "mul": operator.mul, "truediv": operator.truediv,
    "floordiv": operator.floordiv, "mod": operator.mod, "pow": operator.pow,
    "matmul": operator.matmul, "and": operator.and_, "or": operator.or_, "xor": operator.xor,
    "lshift": operator.lshift, "rshift": operator.rshift,
}.items():
    setattr(StrictArray, f"__{_name}__", _binary(_op))
    setattr(StrictArray, f"__r{_name}__", _reflected(_op))
    setattr(StrictArray, f"__i{_name}__", _inplace(getattr(operator, f"i{_name}")))
for _name in ("lt", "le", "eq", "ne", "gt", "ge"):
    setattr(StrictArray, f"__{_name}__", _binary(getattr(operator, _name)))
strict_numpy.ndarray = StrictArray


# The draws of CuPy's Generator (14): a device random source has these and no others.
_CUPY_DRAWS = frozenset({
    "beta", "binomial", "chisquare", "dirichlet", "exponential", "f", "gamma", "geometric",
    "hypergeometric", "integers", "logseries", "poisson", "power", "random",
    "standard_exponential", "standard_gamma", "standard_normal", "uniform",
})


class _StrictGenerator:
    """A device random source: NumPy's Generator, limited to CuPy's draws, drawing on
    the device."""

    def __init__(self, seed: int) -> None:
        self._rng = np.random.default_rng(seed)

    def __getattr__(self, name: str):
        if name not in _CUPY_DRAWS:
            raise AttributeError(f"Generator.{name}: CuPy's device Generator has no such draw")
        return _device_function(getattr(self._rng, name), f"Generator.{name}")


class StrictBackend(Backend):
    """The ``"cuda"`` device of the tests: one device whose arrays are ``StrictArray``s."""

    type = "cuda"
    xp = strict_numpy
    array_type = StrictArray

    def is_available(self) -> bool:
        return True

    def device_count(self) -> int:
        return 1

    def to_device(self, array: np.ndarray, index: int) -> StrictArray:
        return StrictArray(np.array(array, copy=True))

    def to_host(self, array: StrictArray) -> np.ndarray:
        return array.get()

    def index_of(self, array) -> int:
        return 0

    def synchronize(self, index: int) -> None:
        pass

    def set_current_device(self, index: int) -> None:
        pass  # one device, always current

    def device_name(self, index: int) -> str:
        return "graphgrad strict stand-in (NumPy)"

    def capability(self, index: int) -> tuple[int, int]:
        return (0, 0)

    def generator(self, seed: int, index: int) -> _StrictGenerator:
        return _StrictGenerator(seed)

    def pin(self, array: np.ndarray) -> np.ndarray:
        return _Pinned(array)

    def is_pinned(self, array: np.ndarray) -> bool:
        return isinstance(array, _Pinned)


class _Pinned(np.ndarray):
    """A host array marked as page-locked (the strict backend has no real pinned memory)."""

    def __new__(cls, array: np.ndarray):
        return np.array(array, copy=True).view(cls)


@contextlib.contextmanager
def strict_cuda():
    """Serve ``"cuda"`` with the strict backend inside the block."""
    with use_backend(StrictBackend()) as b:
        yield b
