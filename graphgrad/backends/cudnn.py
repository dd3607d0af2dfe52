"""``graphgrad.backends.cudnn``, as ``torch.backends.cudnn``: graphgrad has no cuDNN.

``enabled``, ``benchmark``, ``deterministic`` and ``allow_tf32`` are plain module
attributes with PyTorch's defaults; scripts may set them and nothing changes, because no
cuDNN kernel ever runs (graphgrad's convolutions are NumPy code, deterministic anyway).
"""
from __future__ import annotations

enabled = True
benchmark = False
deterministic = False
allow_tf32 = True


def is_available() -> bool:
    """False: graphgrad has no cuDNN."""
    return False


def version() -> None:
    """None, as PyTorch reports when cuDNN is absent."""
    return None
