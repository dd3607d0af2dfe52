"""``graphgrad.cuda.amp``: the deprecated ``torch.cuda.amp`` spellings of mixed precision.

``autocast(...)`` is ``graphgrad.amp.autocast("cuda", ...)`` and ``GradScaler(...)`` is
``graphgrad.amp.GradScaler("cuda", ...)``; as in PyTorch, making one warns that the
spelling is deprecated (FutureWarning).  With no CUDA in graphgrad, both then disable
themselves with a warning (see ``graphgrad.amp``).
"""
from __future__ import annotations

import warnings

import numpy as np

from graphgrad import amp as _amp


def _deprecated(name: str, stacklevel: int = 3) -> None:
    warnings.warn(f"graphgrad.cuda.amp.{name}(args...) is deprecated, as torch.cuda.amp.{name} "
                  f"is: use graphgrad.amp.{name}('cuda', args...)", FutureWarning,
                  stacklevel=stacklevel)


class autocast(_amp.autocast):  # noqa: N801  (torch's spelling)
    """``graphgrad.amp.autocast("cuda", dtype=dtype, ...)``: deprecated; disabled (no CUDA)."""

    def __init__(self, enabled: bool = True, dtype=np.float16,
                 cache_enabled: bool = True) -> None:
        _deprecated("autocast")
        super().__init__("cuda", dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)


class GradScaler(_amp.GradScaler):
    """``graphgrad.amp.GradScaler("cuda", ...)``: deprecated; disabled (no CUDA)."""

    def __init__(self, init_scale: float = 2.0**16, growth_factor: float = 2.0,
                 backoff_factor: float = 0.5, growth_interval: int = 2000,
                 enabled: bool = True) -> None:
        _deprecated("GradScaler")
        super().__init__("cuda", init_scale=init_scale, growth_factor=growth_factor,
                         backoff_factor=backoff_factor, growth_interval=growth_interval,
                         enabled=enabled)
