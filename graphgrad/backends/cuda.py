"""``graphgrad.backends.cuda``, as ``torch.backends.cuda``: graphgrad has no CUDA.

``matmul.allow_tf32`` (and the reduced-precision reduction switches) are plain
attributes with PyTorch's defaults that scripts may set without effect: graphgrad's
matrix products are NumPy's, in the tensors' own dtype.  Setting a switch that PyTorch
does not have raises AttributeError, so a misspelt flag is not silently accepted.
"""
from __future__ import annotations


class _MatmulFlags:
    """The ``torch.backends.cuda.matmul`` switches, stored and never read by graphgrad."""

    __slots__ = ("allow_tf32", "allow_fp16_reduced_precision_reduction",
                 "allow_bf16_reduced_precision_reduction")

    def __init__(self) -> None:
        self.allow_tf32 = False
        self.allow_fp16_reduced_precision_reduction = True
        self.allow_bf16_reduced_precision_reduction = True

    def __repr__(self) -> str:
        flags = ", ".join(f"{name}={getattr(self, name)}" for name in self.__slots__)
        return f"graphgrad.backends.cuda.matmul({flags}; no effect: graphgrad has no CUDA)"


matmul = _MatmulFlags()


def is_built() -> bool:
    """False: graphgrad is not built with CUDA."""
    return False
