"""Norms and distances between vectors: ``pairwise_distance`` and ``cosine_similarity``."""
from __future__ import annotations

import graphgrad.autograd as ag
from graphgrad.autograd import Tensor
from graphgrad.autograd.tensor import tensor_arg

__all__ = ["pairwise_distance", "cosine_similarity", "vector_norm"]


def vector_norm(x: Tensor, p: float = 2.0, dim=None, keepdim: bool = False) -> Tensor:
    """||x||_p = (sum |x_i|^p)^(1/p) along ``dim`` (max |x_i| for p = inf): ``gg.norm``
    for p > 0, with its gradient 0 at a zero vector (the subgradient PyTorch picks)."""
    if p <= 0:
        raise ValueError(f"vector_norm: p must be positive, got {p}")
    return ag.norm(x, p, dim, keepdim)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6,
                      keepdim: bool = False) -> Tensor:
    """||x1 - x2 + eps||_p over the last dim (eps keeps the norm away from 0, as PyTorch).

    Shape: (N, D) and (N, D) (or broadcastable) -> (N,).
    """
    return vector_norm(tensor_arg(x1) - x2 + eps, p, -1, keepdim)


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """sum(x1 * x2) / (max(||x1||, eps) max(||x2||, eps)) along ``dim``.

    Each input is divided by its own norm first (as PyTorch), which keeps the
    result in [-1, 1].  Shape: broadcastable inputs -> broadcast shape without ``dim``.
    """
    x1, x2 = tensor_arg(x1), tensor_arg(x2)
    n1 = ag.clip(vector_norm(x1, 2, dim, keepdim=True), min=eps)
    n2 = ag.clip(vector_norm(x2, 2, dim, keepdim=True), min=eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)
