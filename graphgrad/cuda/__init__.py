"""``graphgrad.cuda``, as ``torch.cuda``: NVIDIA GPUs through CuPy (``pip install
graphgrad[cuda]``), served by the backend in ``_cupy.py``.

- ``is_available()``: a backend is installed and sees a GPU; ``device_count()``,
  ``current_device()``, ``set_device``, ``get_device_name``, ``get_device_capability``,
  ``synchronize`` (wait for the device's queued work: time GPU code with it) and
  ``empty_cache`` (give CuPy's cached memory back) ask it.
- ``manual_seed(seed)`` seeds the current device's random source, ``manual_seed_all``
  every CUDA device's (``graphgrad.manual_seed`` seeds them and the CPU's).
- ``is_initialized()``: the backend has been loaded and can be used;
  ``is_bf16_supported()`` is False (graphgrad has no bfloat16).
- ``graphgrad.cuda.amp`` holds the deprecated ``autocast`` / ``GradScaler`` aliases.

Without a backend, as PyTorch without CUDA: ``is_available()`` is False and
``device_count()`` 0, seeding and ``empty_cache`` do nothing, and the calls that need a
device raise a RuntimeError naming what is missing.  ``"cuda"`` without an index is
``"cuda:0"`` in graphgrad's device arguments, whatever ``set_device`` chose.
"""
from __future__ import annotations

from graphgrad.autograd.arrays import Backend, find_backend
from graphgrad.autograd.devices import device as _device
from graphgrad.autograd.random import seed_device

from . import amp


def _found() -> Backend | None:
    """The CUDA backend when it can be used now, else None."""
    found = find_backend("cuda")
    return found if found is not None and found.is_available() else None


def _backend(where: str) -> Backend:
    """The usable CUDA backend, or an error naming ``where`` and what is missing."""
    found = find_backend("cuda")
    if found is None:
        raise RuntimeError(
            f"graphgrad.cuda.{where}: graphgrad has no CUDA backend: install CuPy "
            "(pip install graphgrad[cuda]) on a machine with an NVIDIA GPU "
            "(graphgrad.cuda.is_available() is False)")
    if not found.is_available():
        raise RuntimeError(f"graphgrad.cuda.{where}: no CUDA device can be used: "
                           f"{found.why_unavailable()}")
    return found


def _index(where: str, device) -> tuple[Backend, int]:
    """The backend and the index of ``device`` (None: the current device; an int, a
    ``"cuda:i"`` string or a device), checked to exist."""
    found = _backend(where)
    if device is None:
        return found, found.current_device()
    wanted = _device("cuda", device) if isinstance(device, int) else _device(device)
    if wanted.type != "cuda":
        raise ValueError(f"graphgrad.cuda.{where}: expected a cuda device, got {wanted}")
    index = found.current_device() if wanted.index is None else wanted.index
    if index >= found.device_count():
        raise RuntimeError(f"graphgrad.cuda.{where}: device cuda:{index} does not exist: "
                           f"there are {found.device_count()} cuda device(s)")
    return found, index


def is_available() -> bool:
    """True when a CUDA backend is installed and sees a GPU."""
    return _found() is not None


def device_count() -> int:
    """The number of CUDA devices graphgrad can use (0 without a backend)."""
    found = _found()
    return 0 if found is None else found.device_count()


def is_initialized() -> bool:
    """True once the CUDA backend is loaded and usable."""
    return is_available()


def is_bf16_supported(including_emulation: bool = True) -> bool:
    """False: graphgrad has no bfloat16 at all."""
    return False


def current_device() -> int:
    """The index of the current CUDA device."""
    return _backend("current_device").current_device()


def set_device(device) -> None:
    """Make ``device`` (an index, ``"cuda:i"`` or a device) the backend's current device."""
    found, index = _index("set_device", device)
    found.set_current_device(index)


def get_device_name(device=None) -> str:
    """The name of ``device`` (the current one by default)."""
    found, index = _index("get_device_name", device)
    return found.device_name(index)


def get_device_capability(device=None) -> tuple[int, int]:
    """The compute capability (major, minor) of ``device`` (the current one by default)."""
    found, index = _index("get_device_capability", device)
    return found.capability(index)


def synchronize(device=None) -> None:
    """Wait until ``device`` (the current one by default) has finished its queued work."""
    found, index = _index("synchronize", device)
    found.synchronize(index)


def empty_cache() -> None:
    """Give the memory CuPy caches but no array uses back to the GPU (nothing to do
    without a backend)."""
    found = _found()
    if found is not None:
        found.empty_cache()


def manual_seed(seed: int) -> None:
    """Seed the random source of the current CUDA device (``seed``: anything ``int()``
    takes, as PyTorch); kept for later use when no device is there yet."""
    found = _found()
    seed_device(int(seed), _device("cuda", 0 if found is None else found.current_device()))


def manual_seed_all(seed: int) -> None:
    """Seed the random source of every CUDA device."""
    seed_device(int(seed), "cuda")
