"""``graphgrad.cuda``, as ``torch.cuda`` on a machine without CUDA: graphgrad has no GPU.

graphgrad computes with NumPy on the CPU, so there is never a CUDA device.  This module
exists so that the usual guards and setup calls of PyTorch scripts run unchanged:

- ``is_available()`` is False and ``device_count()`` is 0; ``is_initialized()`` and
  ``is_bf16_supported()`` are False.
- ``manual_seed(seed)`` / ``manual_seed_all(seed)`` accept a seed and do nothing, as
  PyTorch's do when CUDA is absent (``graphgrad.manual_seed`` seeds every random source
  graphgrad has); ``empty_cache()`` does nothing, there being no CUDA memory to free.
- ``synchronize``, ``current_device``, ``get_device_name``, ``get_device_capability`` and
  ``set_device`` need a device, so they raise a RuntimeError saying that graphgrad has none.
- ``graphgrad.cuda.amp`` holds the deprecated ``autocast`` / ``GradScaler`` aliases.

Nothing here moves data anywhere: a ``"cuda"`` device given to a factory or ``.to`` is
refused where it is given (see ``graphgrad.autograd.devices.check_device``).
"""
from __future__ import annotations

from . import amp


def _no_cuda(where: str) -> RuntimeError:
    return RuntimeError(
        f"graphgrad.cuda.{where}: graphgrad has no CUDA support: it computes with NumPy on the "
        "CPU, so there is no CUDA device (graphgrad.cuda.is_available() is False)")


def is_available() -> bool:
    """False: graphgrad has no CUDA backend."""
    return False


def device_count() -> int:
    """0: there are no CUDA devices to graphgrad."""
    return 0


def is_initialized() -> bool:
    """False: there is no CUDA state to initialise."""
    return False


def is_bf16_supported(including_emulation: bool = True) -> bool:
    """False: there is no CUDA device, and graphgrad has no bfloat16 at all."""
    return False


def manual_seed(seed: int) -> None:
    """Accepts ``seed`` (anything ``int()`` takes, as PyTorch) and does nothing: there is
    no CUDA random generator.  ``graphgrad.manual_seed`` seeds graphgrad's generator."""
    int(seed)


def manual_seed_all(seed: int) -> None:
    """As ``manual_seed``: a valid call that does nothing, there being no CUDA device."""
    int(seed)


def empty_cache() -> None:
    """Does nothing: graphgrad holds no CUDA memory (as PyTorch without CUDA)."""


def synchronize(device=None) -> None:
    """Raises: there is no CUDA device whose work could be waited for."""
    raise _no_cuda("synchronize")


def current_device() -> int:
    """Raises: there is no current CUDA device."""
    raise _no_cuda("current_device")


def get_device_name(device=None) -> str:
    """Raises: there is no CUDA device to name."""
    raise _no_cuda("get_device_name")


def get_device_capability(device=None) -> tuple[int, int]:
    """Raises: there is no CUDA device to query."""
    raise _no_cuda("get_device_capability")


def set_device(device) -> None:
    """Raises: there is no CUDA device to select."""
    raise _no_cuda("set_device")
