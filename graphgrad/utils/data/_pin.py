"""``DataLoader(pin_memory=True)``: each batch's tensors copied into pinned host memory,
which a device backend provides, so that moving them to the GPU is faster."""
from __future__ import annotations

import warnings
from collections.abc import Mapping

from graphgrad.autograd.pinning import pinning_backend
from graphgrad.autograd.tensor import Tensor


def pinning(pin_memory: bool, pin_memory_device: str) -> bool:
    """Whether a loader pins its batches: asked to, and a device backend can (else a
    warning, as PyTorch's without an accelerator, and the batches stay as they are)."""
    if not pin_memory:
        return False
    if pinning_backend(pin_memory_device or "cuda") is None:
        warnings.warn("DataLoader: pin_memory=True has no effect: no accelerator is found, "
                      "memory is not pinned", stacklevel=3)
        return False
    return True


def pin_batch(data, device: str = ""):
    """``data`` with every Tensor in it pinned, keeping its structure (mappings, named
    tuples, tuples and lists); an object with its own ``pin_memory()`` pins itself."""
    if isinstance(data, Tensor):
        return data.pin_memory(device or None)
    if isinstance(data, Mapping):
        return type(data)({k: pin_batch(v, device) for k, v in data.items()})
    if isinstance(data, tuple) and hasattr(data, "_fields"):  # a named tuple
        return type(data)(*(pin_batch(v, device) for v in data))
    if isinstance(data, (tuple, list)):
        return type(data)(pin_batch(v, device) for v in data)
    if callable(getattr(data, "pin_memory", None)):
        return data.pin_memory()
    return data
