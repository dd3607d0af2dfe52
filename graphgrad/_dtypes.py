"""Dtype names that PyTorch has and graphgrad cannot compute with: ``bfloat16``.

graphgrad's dtypes are NumPy's (``gg.float32`` is ``numpy.float32``), and NumPy has no
bfloat16.  Scripts still name it (``dtype=torch.bfloat16`` in an autocast or a config),
so ``gg.bfloat16`` exists: it can be stored, printed and compared (equal only to
itself), and anything that tries to turn it into a NumPy dtype, which every factory,
``.to(dtype)`` and ``Module.to`` does, raises a TypeError saying that graphgrad has no
bfloat16 and to use float32.  That works through NumPy itself: ``numpy.dtype(x)`` reads
``x.dtype``, and here that attribute raises the explanation.
"""
from __future__ import annotations


class UnsupportedDtype:
    """A dtype name that graphgrad knows but cannot compute with (see the module docstring)."""

    __slots__ = ("name", "reason")

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason

    @property
    def dtype(self):
        # numpy.dtype(), np.zeros(..., dtype=), arr.astype() all ask for this attribute.
        raise TypeError(f"graphgrad has no {self.name}: {self.reason}")

    def __repr__(self) -> str:
        return f"graphgrad.{self.name}"

    def __reduce__(self) -> str:
        return self.name  # pickles as the module-level name, so it stays one object


bfloat16 = UnsupportedDtype(
    "bfloat16", "NumPy has no such dtype, so graphgrad cannot compute in it; use float32 "
    "(graphgrad.float32)")
