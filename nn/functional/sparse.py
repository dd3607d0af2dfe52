"""Lookups by integer index: ``embedding`` and ``one_hot``."""
from __future__ import annotations

import numpy as np

import graphgrad.autograd as ag
from graphgrad.autograd import Tensor, no_grad

from ._utils import raw

__all__ = ["embedding", "one_hot"]


def _indices(name: str, input, size: int, what: str) -> np.ndarray:
    """``input`` as an integer array, every entry in [0, size), or a clear error."""
    idx = raw(input)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{name}: expected integer indices (e.g. int64), got dtype {idx.dtype}")
    if idx.size:
        lo, hi = idx.min(), idx.max()
        if lo < 0 or hi >= size:
            bad = int(lo if lo < 0 else hi)
            raise IndexError(f"{name}: index {bad} is out of range for {size} {what} "
                             f"(expected 0 <= index < {size})")
    return idx


def embedding(input, weight: Tensor, padding_idx: int | None = None,
              max_norm: float | None = None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Rows of ``weight`` picked by the integer ``input``: out[...] = weight[input[...]].

    Shape: input (*) integers in [0, num_embeddings), weight (num_embeddings, D)
    -> (*, D).  The gradient scatter-adds into the picked rows (repeated indices
    accumulate); positions equal to ``padding_idx`` send no gradient.  With
    ``max_norm``, the picked rows whose ``norm_type``-norm exceeds it are
    rescaled in place first, as PyTorch does.
    """
    n = weight.shape[0]
    idx = _indices("embedding", input, n, "embeddings")
    if scale_grad_by_freq:
        raise NotImplementedError("embedding: scale_grad_by_freq is not supported")
    if max_norm is not None:
        _renorm_rows(weight, np.unique(idx), max_norm, norm_type)
    out = weight[idx]
    if padding_idx is not None:
        pad = idx == (padding_idx % n if padding_idx < 0 else padding_idx)
        if pad.any():  # same values there, but the gradient is cut
            out = ag.where(pad[..., None], out.detach(), out)
    return out


def _renorm_rows(weight: Tensor, rows: np.ndarray, max_norm: float, norm_type: float) -> None:
    with no_grad():
        picked = weight._data[rows]
        norms = np.linalg.norm(picked, ord=norm_type, axis=1, keepdims=True)
        scale = np.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
        weight[rows] = (picked * scale).astype(weight.dtype)


def one_hot(tensor, num_classes: int = -1) -> Tensor:
    """int64 one-hot encoding: out[..., k] = 1 where tensor[...] == k.

    Shape: (*) -> (*, num_classes); ``num_classes=-1`` uses max + 1.
    """
    idx = raw(tensor)
    if num_classes == -1:
        num_classes = int(idx.max()) + 1 if idx.size else 0
    idx = _indices("one_hot", idx, num_classes, "classes")
    return Tensor._make((idx[..., None] == np.arange(num_classes)).astype(np.int64))
