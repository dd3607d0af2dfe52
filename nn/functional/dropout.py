"""Dropout: random zeroing with the survivors rescaled ("inverted" dropout)."""
from __future__ import annotations

import numpy as np

from graphgrad.autograd import Tensor
from graphgrad.autograd.random import generator
from graphgrad.autograd.tensor import tensor_arg

from ._utils import check_probability

__all__ = ["dropout", "dropout1d", "dropout2d"]


def _dropout(name: str, input: Tensor, p: float, training: bool, mask_shape) -> Tensor:
    check_probability(name, p)
    x = tensor_arg(input)
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    keep = generator(x.device).random(mask_shape, dtype=np.float32) >= p  # drawn on x's device
    mask = keep.astype(x.dtype) * x.dtype.type(1.0 / (1.0 - p))
    return x * Tensor._make(mask)


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability p and scale the rest by 1 / (1 - p), so the
    expected value is unchanged; the identity when not ``training``.

    The mask is drawn on x's device from its seeded source (``ag.manual_seed``).
    ``inplace`` is accepted and ignored.
    """
    x = tensor_arg(input)
    return _dropout("dropout", x, p, training, x.shape)


def _channel_dropout(name: str, input: Tensor, p: float, training: bool, spatial: int) -> Tensor:
    x = tensor_arg(input)
    if x.ndim not in (spatial + 1, spatial + 2):
        raise ValueError(f"{name}: expected {spatial + 1}D or {spatial + 2}D input, got "
                         f"{x.ndim}D input of shape {x.shape}")
    # One draw per (sample, channel): whole feature maps are dropped together.
    return _dropout(name, x, p, training, x.shape[:-spatial] + (1,) * spatial)


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Channel dropout for (N, C, L) or (C, L): each channel is kept or zeroed whole."""
    return _channel_dropout("dropout1d", input, p, training, 1)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Channel dropout for (N, C, H, W) or (C, H, W): each feature map is kept or zeroed whole."""
    return _channel_dropout("dropout2d", input, p, training, 2)
