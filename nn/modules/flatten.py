"""``Flatten`` and ``Unflatten``: reshape layers between convolutional and dense parts."""
from __future__ import annotations

from graphgrad.autograd import Tensor
from graphgrad.autograd._shapes import normalize_dim

from ..module import Module

__all__ = ["Flatten", "Unflatten"]


class Flatten(Module):
    """Merge dims ``start_dim..end_dim`` into one (default: all but the batch dim).

    Shape: (N, C, H, W) -> (N, C*H*W) with the defaults.

        >>> nn.Flatten()(gg.zeros(2, 3, 4, 5)).shape
        (2, 60)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input: Tensor) -> Tensor:
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dim ``dim`` into ``unflattened_size`` (the inverse of Flatten).

    Shape: (N, C*H*W) -> (N, C, H, W) with ``Unflatten(1, (C, H, W))``.
    """

    def __init__(self, dim: int, unflattened_size) -> None:
        super().__init__()
        self.dim = dim
        self.unflattened_size = tuple(unflattened_size)

    def forward(self, input: Tensor) -> Tensor:
        shape = input.shape
        d = normalize_dim("Unflatten", self.dim, len(shape))
        new = shape[:d] + self.unflattened_size + shape[d + 1:]
        try:
            return input.reshape(new)
        except ValueError:
            raise ValueError(f"{self}: cannot unflatten dim {self.dim} of an input of shape "
                             f"{shape} into {self.unflattened_size}") from None

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
