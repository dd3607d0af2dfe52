"""Dropout layers (inverted dropout; the identity in evaluation mode)."""
from __future__ import annotations

from .. import functional as F
from ..functional._utils import check_probability
from ..module import Module

__all__ = ["Dropout", "Dropout1d", "Dropout2d"]


class _DropoutNd(Module):
    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        check_probability(type(self).__name__, p)
        self.p = p
        self.inplace = inplace

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """In training, zero each element with probability p and scale the survivors by
    1 / (1 - p) (so E[y] = x); in evaluation, y = x.  The masks come from the seeded
    project generator.  Shape: any -> same.

        >>> drop = nn.Dropout(p=0.2)
        >>> drop.eval()(x) is x
        True
    """

    def forward(self, input):
        return F.dropout(input, self.p, self.training)


class Dropout1d(_DropoutNd):
    """Dropout of whole channels of (N, C, L) inputs."""

    def forward(self, input):
        return F.dropout1d(input, self.p, self.training)


class Dropout2d(_DropoutNd):
    """Dropout of whole feature maps of (N, C, H, W) inputs."""

    def forward(self, input):
        return F.dropout2d(input, self.p, self.training)
