"""``DistributedDataParallel``: cannot be built, since graphgrad runs in one process."""
from __future__ import annotations

from graphgrad.distributed import _no_backend

from ..module import Module


class DistributedDataParallel(Module):
    """PyTorch's multi-process data-parallel wrapper.  graphgrad has no process group to
    synchronise gradients over, so the constructor raises a RuntimeError saying so; the
    class exists so that imports and ``isinstance(model, DistributedDataParallel)`` checks
    in scripts work.  Train the module itself instead."""

    def __init__(self, module: Module, *args, **kwargs) -> None:
        raise _no_backend("nn.parallel.DistributedDataParallel")
