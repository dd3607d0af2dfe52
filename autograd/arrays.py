"""Where a tensor's numbers live: a NumPy array on the CPU, or a device array whose
library offers NumPy's API (CuPy on an NVIDIA GPU).

Ops never call ``np.exp(x)`` on a tensor's data: they take the array module from their
inputs, ``xp = namespace(x)``, and call ``xp.exp(x)``, so one forward and one rule serve
every device, and nothing moves a device array to the host behind the user's back.
Moving data is explicit: ``to_host`` (a NumPy array) and ``to_device``.

A device type (``"cuda"``) is served by a ``Backend``: its array module, how to move
arrays to and from it, and its random source.  ``backend("cuda")`` finds CuPy's on first
use; ``use_backend`` installs another (the tests' strict NumPy stand-in,
``graphgrad.testing.strict_arrays``, so that a hidden host transfer fails on a machine
without a GPU).
"""
from __future__ import annotations

import contextlib

import numpy as np

from .devices import CPU, device


class Backend:
    """What graphgrad needs of a device's array library (``graphgrad.cuda``'s CuPy
    backend, the tests' strict stand-in).

    ``type``: the device type it serves ("cuda"); ``xp``: its NumPy-like module;
    ``array_type``: the class of its arrays.
    """

    type: str
    xp = None
    array_type: type

    def is_available(self) -> bool:
        """True when a device of this type can be used now."""
        raise NotImplementedError

    def device_count(self) -> int:
        raise NotImplementedError

    def to_device(self, array: np.ndarray, index: int):
        """A copy of the host ``array`` on device ``index``."""
        raise NotImplementedError

    def to_host(self, array) -> np.ndarray:
        """A NumPy copy of the device ``array`` (waits for the device)."""
        raise NotImplementedError

    def index_of(self, array) -> int:
        """The index of the device holding ``array``."""
        raise NotImplementedError

    def synchronize(self, index: int) -> None:
        """Wait until device ``index`` has finished its queued work."""
        raise NotImplementedError

    def generator(self, seed: int, index: int):
        """A new random source on device ``index``, seeded with ``seed``, drawing as a
        NumPy ``Generator`` does (``random``, ``standard_normal``, ``integers``, ...)."""
        raise NotImplementedError

    def pin(self, array: np.ndarray) -> np.ndarray:
        """A copy of the host ``array`` in page-locked memory (faster to move)."""
        raise NotImplementedError

    def is_pinned(self, array: np.ndarray) -> bool:
        raise NotImplementedError

    def current_device(self) -> int:
        """The index of the device that new arrays go to by default."""
        return 0

    def set_current_device(self, index: int) -> None:
        raise NotImplementedError

    def device_name(self, index: int) -> str:
        raise NotImplementedError

    def capability(self, index: int) -> tuple[int, int]:
        """The device's compute capability (major, minor)."""
        raise NotImplementedError

    def raising_linalg(self):
        """A context in which the library's linear algebra raises NumPy's LinAlgError on a
        failure (a singular matrix), as NumPy's does."""
        return contextlib.nullcontext()

    def empty_cache(self) -> None:
        """Give the memory the library caches but no array uses back to the device."""

    def why_unavailable(self) -> str:
        """What is missing, for an error message, when ``is_available()`` is False."""
        return "no device found"


_BACKENDS: dict[str, Backend] = {}
_MODULE_OF: dict[type, object] = {}  # a device array's class -> its array module
_BACKEND_OF: dict[type, Backend] = {}


def _load_cuda() -> Backend | None:
    from graphgrad.cuda._cupy import load_cupy_backend

    return load_cupy_backend()


_LOADERS = {"cuda": _load_cuda}


def _register(b: Backend) -> None:
    _BACKENDS[b.type] = b
    _MODULE_OF[b.array_type] = b.xp
    _BACKEND_OF[b.array_type] = b


def find_backend(device_type: str) -> Backend | None:
    """The backend of ``device_type``, loading it on first use; None if there is none."""
    if device_type not in _BACKENDS and device_type in _LOADERS:
        loaded = _LOADERS[device_type]()
        if loaded is not None:
            _register(loaded)
    return _BACKENDS.get(device_type)


def backend(where: str, wanted: device) -> Backend:
    """The backend serving ``wanted``, or an error naming ``where`` and what is missing."""
    found = find_backend(wanted.type)
    if found is None:
        extra = " (pip install graphgrad[cuda] installs CuPy)" if wanted.type == "cuda" else ""
        raise RuntimeError(f"{where}: device {str(wanted)!r} is not available: graphgrad has "
                           f"no {wanted.type} backend{extra}")
    if not found.is_available():
        raise RuntimeError(f"{where}: device {str(wanted)!r} is not available: "
                           f"{found.why_unavailable()}")
    count = found.device_count()
    if (wanted.index or 0) >= count:
        raise RuntimeError(f"{where}: device {str(wanted)!r} does not exist: there "
                           f"{'is' if count == 1 else 'are'} {count} {wanted.type} device(s)")
    return found


@contextlib.contextmanager
def use_backend(b: Backend):
    """Serve ``b.type`` with ``b`` inside the block (tests install a stand-in this way)."""
    before = _BACKENDS.get(b.type)
    _register(b)
    try:
        yield b
    finally:
        del _BACKENDS[b.type]
        del _MODULE_OF[b.array_type], _BACKEND_OF[b.array_type]
        if before is not None:
            _register(before)


# ------------------------------------------------------------------ arrays
def namespace(a):
    """The array module for ``a``: NumPy for a host array or a number, else its device's."""
    return np if type(a) is np.ndarray else _MODULE_OF.get(type(a), np)


def namespace_of(*arrays):
    """The array module for several arrays: the first device array's, else NumPy."""
    for a in arrays:
        if type(a) in _MODULE_OF:
            return _MODULE_OF[type(a)]
    return np


def module_for(where: device):
    """The array module that makes arrays on device ``where`` (a checked device)."""
    return np if where.type == "cpu" else _BACKENDS[where.type].xp


def is_array(a) -> bool:
    """True for a NumPy array or a device array."""
    return type(a) is np.ndarray or type(a) in _MODULE_OF or isinstance(a, np.ndarray)


def is_device_array(a) -> bool:
    """True for an array held by a device (not the CPU)."""
    return type(a) in _MODULE_OF


def device_of(a) -> device:
    """The device holding array ``a``."""
    b = _BACKEND_OF.get(type(a))
    return CPU if b is None else device(b.type, b.index_of(a))


def raising_linalg(a):
    """A context in which linear algebra on ``a``'s device raises LinAlgError on a failure
    (NumPy always does; CuPy checks, at the cost of a wait, only when asked)."""
    b = _BACKEND_OF.get(type(a))
    return contextlib.nullcontext() if b is None else b.raising_linalg()


def to_host(a) -> np.ndarray:
    """``a`` as a NumPy array: itself when it is one, else a copy from its device."""
    b = _BACKEND_OF.get(type(a))
    return np.asarray(a) if b is None else b.to_host(a)


def to_device(a, wanted: device, where: str = "to"):
    """Array ``a`` on device ``wanted``: itself when it is there already, else a copy."""
    if wanted.type == "cpu":
        return to_host(a)
    b = backend(where, wanted)
    index = wanted.index or 0
    if type(a) is b.array_type and b.index_of(a) == index:
        return a
    return b.to_device(to_host(a), index)
