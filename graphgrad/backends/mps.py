"""``graphgrad.backends.mps``, as ``torch.backends.mps``: graphgrad has no Apple MPS backend."""
from __future__ import annotations


def is_available() -> bool:
    """False: graphgrad computes with NumPy on the CPU, never on MPS."""
    return False


def is_built() -> bool:
    """False: graphgrad is not built with MPS."""
    return False
