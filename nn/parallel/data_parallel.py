"""``DataParallel``: PyTorch's single-machine multi-GPU wrapper, as it runs without GPUs."""
from __future__ import annotations

from ..module import Module


class DataParallel(Module):
    """Wraps ``module``; ``forward(*inputs, **kwargs)`` is ``module(*inputs, **kwargs)``.

    PyTorch's DataParallel splits each batch along ``dim`` across GPUs and gathers the
    outputs on ``output_device``; with no GPU it keeps ``device_ids`` empty and calls the
    module itself.  graphgrad has no GPU, so it always does the latter: ``device_ids``,
    ``output_device`` and ``dim`` are accepted and ignored, as PyTorch ignores them then.
    The module is registered as the child ``module``, so parameter and ``state_dict()``
    keys carry the ``module.`` prefix (``module.weight``), exactly as PyTorch's do, and a
    checkpoint saved from a wrapped PyTorch model loads unchanged.

        >>> model = nn.DataParallel(nn.Linear(2, 3))
        >>> list(model.state_dict())
        ['module.weight', 'module.bias']
    """

    def __init__(self, module: Module, device_ids=None, output_device=None,
                 dim: int = 0) -> None:
        super().__init__()
        self.module = module
        self.device_ids: list[int] = []

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)
