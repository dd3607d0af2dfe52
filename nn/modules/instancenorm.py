"""Instance normalisation layers: ``InstanceNorm1d``, ``InstanceNorm2d``, ``InstanceNorm3d``.

Each channel of each sample is normalised over its own spatial positions (see
``F.instance_norm``).  Unlike batch norm the defaults are ``affine=False`` and
``track_running_stats=False``: no parameters, no buffers, the same computation
in training and evaluation.
"""
from __future__ import annotations

import warnings

import numpy as np

from graphgrad.autograd.tensor import tensor_arg, unwrap

from .. import functional as F
from ..functional._utils import check_ndim
from .normalization import _NormBase

__all__ = ["InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d"]


class _InstanceNorm(_NormBase):
    """Instance normalisation over the spatial dims of (N, C, *S) or unbatched (C, *S).

    With ``track_running_stats`` the running estimates move towards the batch
    average of the per-sample statistics in training and normalise in evaluation
    (``momentum=None`` means momentum 0, as PyTorch: the estimates stay put;
    ``num_batches_tracked`` is kept but not counted).  Parameters and buffers as
    ``_NormBase``.
    """

    _nd = 1
    _layout = ""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = False, track_running_stats: bool = False, device=None,
                 dtype=None, *, bias: bool = True) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype,
                         bias=bias)

    def forward(self, input):
        check_ndim(self, input, (self._nd + 1, self._nd + 2), self._layout)
        shape = np.shape(unwrap(input))
        channel_dim = len(shape) - self._nd - 1
        if shape[channel_dim] != self.num_features:
            message = (f"{self}: expected input with num_features = {self.num_features} "
                       f"channels at dim {channel_dim}, got input of shape {shape}")
            if self.affine:
                raise ValueError(message)
            warnings.warn(message + " (num_features is unused without affine)", stacklevel=2)
        batched = len(shape) == self._nd + 2
        x = tensor_arg(input) if batched else tensor_arg(input).unsqueeze(0)
        y = F.instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            self.training or not self.track_running_stats,
                            0.0 if self.momentum is None else self.momentum, self.eps)
        return y if batched else y.squeeze(0)


class InstanceNorm1d(_InstanceNorm):
    """Instance normalisation of (N, C, L) or (C, L): each (sample, channel) row
    standardised over L, y = (x - mean) / sqrt(var + eps) * gamma + beta.

        >>> nn.InstanceNorm1d(4)(gg.randn(2, 4, 10)).shape
        (2, 4, 10)
    """

    _nd = 1
    _layout = "(N, C, L) or (C, L)"


class InstanceNorm2d(_InstanceNorm):
    """Instance normalisation of (N, C, H, W) or (C, H, W) images over H, W (style
    transfer's normalisation).

        >>> nn.InstanceNorm2d(3, affine=True)(gg.randn(2, 3, 8, 8)).shape
        (2, 3, 8, 8)
    """

    _nd = 2
    _layout = "(N, C, H, W) or (C, H, W)"


class InstanceNorm3d(_InstanceNorm):
    """Instance normalisation of (N, C, D, H, W) or (C, D, H, W) volumes over D, H, W."""

    _nd = 3
    _layout = "(N, C, D, H, W) or (C, D, H, W)"
