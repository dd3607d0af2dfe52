"""Page-locked ("pinned") host memory, as PyTorch's ``Tensor.pin_memory``: a host
array in pinned memory moves to a GPU faster (and, in CUDA, asynchronously).  The device
backend allocates it (``Backend.pin``); without one there is nothing to pin for.
"""
from __future__ import annotations

from .arrays import Backend, find_backend, is_device_array
from .devices import device as Device
from .ops._args import method
from .tensor import Tensor


def pinning_backend(device_type: str = "cuda") -> Backend | None:
    """The backend that pins memory for ``device_type``, when it can be used now."""
    found = find_backend(device_type)
    return found if found is not None and found.is_available() else None


@method()
def pin_memory(x, device=None) -> Tensor:
    """A copy of the CPU tensor ``x`` in pinned memory (``x`` itself when it is pinned
    already); differentiable, the gradient passing through unchanged.  Raises for a
    tensor on a device, and where no device backend can pin memory."""
    if is_device_array(x._data):
        raise RuntimeError(f"pin_memory: cannot pin a tensor on {x.device}: only CPU tensors "
                           "can be pinned")
    device_type = "cuda" if device is None else Device(device).type
    backend = pinning_backend(device_type)
    if backend is None:
        raise RuntimeError(f"pin_memory: no {device_type} device can be used, so there is "
                           "no pinned memory to allocate")
    if backend.is_pinned(x._data):
        return x
    if not x.requires_grad:
        return Tensor._make(backend.pin(x._data))
    out = x.clone()  # records clone's identity gradient
    out._data = backend.pin(out._data)  # the same values, in pinned memory
    return out


@method()
def is_pinned(x, device=None) -> bool:
    """True when ``x`` is a CPU tensor in pinned memory."""
    if is_device_array(x._data):
        return False
    backend = pinning_backend("cuda" if device is None else Device(device).type)
    return backend is not None and backend.is_pinned(x._data)
