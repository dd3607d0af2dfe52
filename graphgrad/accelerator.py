"""``graphgrad.accelerator``, as ``torch.accelerator`` on a machine without an accelerator.

graphgrad computes with NumPy on the CPU, which PyTorch does not count as an
accelerator: ``is_available()`` is False, ``device_count()`` is 0 and
``current_accelerator()`` is None, so the device-agnostic idiom

    device = acc if (acc := gg.accelerator.current_accelerator()) else gg.device("cpu")

picks the CPU.  ``current_device_index()`` and ``synchronize()`` need an accelerator and
raise a RuntimeError saying there is none, as PyTorch's do.
"""
from __future__ import annotations


def _none(where: str) -> RuntimeError:
    return RuntimeError(f"graphgrad.accelerator.{where}: no accelerator is available: graphgrad "
                        "computes with NumPy on the CPU (graphgrad.accelerator.is_available() "
                        "is False)")


def is_available() -> bool:
    """False: graphgrad has no accelerator."""
    return False


def device_count() -> int:
    """0: graphgrad has no accelerator devices."""
    return 0


def current_accelerator(check_available: bool = False) -> None:
    """None: there is no accelerator, whether or not ``check_available`` asks to check."""
    return None


def current_device_index() -> int:
    """Raises: there is no accelerator device."""
    raise _none("current_device_index")


def synchronize(device=None, /) -> None:
    """Raises: there is no accelerator whose work could be waited for."""
    raise _none("synchronize")
