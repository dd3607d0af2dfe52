"""Normalisation layers: ``BatchNorm1d/2d/3d``, ``GroupNorm``, ``LayerNorm``, ``RMSNorm``
and ``LocalResponseNorm`` (the instance norms are in ``instancenorm.py``)."""
from __future__ import annotations

import numpy as np

import graphgrad.autograd as ag
from graphgrad.autograd.tensor import unwrap

from .. import functional as F
from .. import init
from ..functional._utils import check_ndim, check_size
from ..module import Module
from ..parameter import Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "GroupNorm", "LayerNorm", "RMSNorm",
           "LocalResponseNorm"]


def _register_affine(module: Module, shape: tuple, affine: bool, bias: bool, device,
                     dtype) -> None:
    """Register the parameters of a normalisation's affine map ``y * weight + bias``:
    ``weight`` and ``bias`` of ``shape`` when ``affine`` (``bias`` only when ``bias``),
    None otherwise; their values are set by ``_reset_affine``."""
    def parameter(wanted: bool):
        return Parameter(ag.empty(shape, device=device, dtype=dtype)) if wanted else None
    module.register_parameter("weight", parameter(affine))
    module.register_parameter("bias", parameter(affine and bias))


def _reset_affine(module: Module) -> None:
    """Make the affine map the identity: weight 1, bias 0."""
    if module.weight is not None:
        init.ones_(module.weight)
    if module.bias is not None:
        init.zeros_(module.bias)

class _NormBase(Module):
    """What batch and instance normalisation share: per-channel affine parameters
    and running estimates.

    Parameters (``affine``): ``weight`` (C,) init 1, ``bias`` (C,) init 0 (none when
    ``bias=False``).
    Buffers (``track_running_stats``): ``running_mean`` (C,) init 0, ``running_var``
    (C,) init 1, ``num_batches_tracked`` (int64 scalar).
    """

    _optional_on_load = ("num_batches_tracked",)

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, device=None,
                 dtype=None, *, bias: bool = True) -> None:
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        _register_affine(self, (num_features,), affine, bias, device, dtype)
        if track_running_stats:
            self.register_buffer("running_mean", ag.zeros(num_features, device=device, dtype=dtype))
            self.register_buffer("running_var", ag.ones(num_features, device=device, dtype=dtype))
            self.register_buffer("num_batches_tracked",
                                 ag.tensor(0, dtype=np.int64, device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            init.zeros_(self.running_mean)
            init.ones_(self.running_var)
            init.zeros_(self.num_batches_tracked)

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        _reset_affine(self)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class _BatchNorm(_NormBase):
    """Batch normalisation over dim 1 (channels); see ``F.batch_norm`` for the maths.

    In training the batch statistics normalise and the running estimates are
    updated (momentum 0.1: running = 0.9 running + 0.1 batch, the unbiased
    variance going into ``running_var``; ``momentum=None`` gives the
    cumulative average over the ``num_batches_tracked`` batches seen).  In
    evaluation the running estimates normalise.  ``track_running_stats=False``
    keeps no estimates and always uses batch statistics.  Parameters and
    buffers as ``_NormBase``.
    """

    _ndims: tuple = ()
    _layout = ""

    def forward(self, input):
        check_ndim(self, input, self._ndims, self._layout)
        check_size(self, input, 1, self.num_features, "num_features (channels)")
        momentum = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            with ag.no_grad():
                self.num_batches_tracked.add_(1)
            if self.momentum is None:  # cumulative moving average
                momentum = 1.0 / int(self.num_batches_tracked.item())
        use_batch_stats = self.training or self.running_mean is None
        # Running statistics are updated only when training and tracked.
        track = not self.training or self.track_running_stats
        return F.batch_norm(
            input, self.running_mean if track else None, self.running_var if track else None,
            self.weight, self.bias, use_batch_stats, momentum, self.eps,
        )


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) inputs, per channel C.

    y = (x - E[x]) / sqrt(Var[x] + eps) * gamma + beta, statistics over N (and L).

        >>> bn = nn.BatchNorm1d(64)
        >>> bn(gg.randn(32, 64)).shape
        (32, 64)
    """

    _ndims = (2, 3)
    _layout = "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) images, per channel C, statistics over N, H, W.

        >>> bn = nn.BatchNorm2d(16)
        >>> bn(gg.randn(8, 16, 5, 5)).shape
        (8, 16, 5, 5)
    """

    _ndims = (4,)
    _layout = "(N, C, H, W)"


class BatchNorm3d(_BatchNorm):
    """Batch normalisation of (N, C, D, H, W) volumes, per channel C, statistics over
    N, D, H, W.

        >>> nn.BatchNorm3d(4)(gg.randn(2, 4, 3, 5, 5)).shape
        (2, 4, 3, 5, 5)
    """

    _ndims = (5,)
    _layout = "(N, C, D, H, W)"


class GroupNorm(Module):
    """Group normalisation: the ``num_channels`` channels split into ``num_groups``
    groups, each normalised per sample over its channels and spatial dims, then a
    per-channel scale and shift (see ``F.group_norm``).  No running estimates: the
    same computation in training and evaluation, independent of the batch size.

    Shape: (N, C, *) -> same.  Parameters (``affine``): ``weight`` (C,) init 1,
    ``bias`` (C,) init 0 (none when ``bias=False``).

        >>> gn = nn.GroupNorm(4, 16)
        >>> gn(gg.randn(2, 16, 5, 5)).shape
        (2, 16, 5, 5)
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5,
                 affine: bool = True, device=None, dtype=None, *, bias: bool = True) -> None:
        super().__init__()
        if num_channels % num_groups != 0:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by "
                             f"num_groups ({num_groups})")
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        _register_affine(self, (num_channels,), affine, bias, device, dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _reset_affine(self)

    def forward(self, input):
        shape = np.shape(unwrap(input))
        if len(shape) < 2 or shape[1] != self.num_channels:
            raise ValueError(f"{self}: expected input of shape (N, {self.num_channels}, *), "
                             f"got {shape}")
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, "
                f"affine={self.affine}, bias={self.bias is not None}")


def _check_trailing(layer: Module, input, normalized_shape: tuple) -> None:
    """Raise a ValueError naming ``layer`` unless the input ends in ``normalized_shape``."""
    shape = np.shape(unwrap(input))
    k = len(normalized_shape)
    if len(shape) < k or shape[len(shape) - k:] != normalized_shape:
        raise ValueError(f"{layer}: expected input whose last dims are {normalized_shape}, "
                         f"got input of shape {shape}")


class LayerNorm(Module):
    """Layer normalisation over the last dims given by ``normalized_shape``, per sample:

        y = (x - E[x]) / sqrt(Var[x] + eps) * gamma + beta   (biased variance)

    Shape: (*, *normalized_shape) -> same.  Parameters (``elementwise_affine``):
    ``weight`` init 1 and ``bias`` init 0, of shape ``normalized_shape``.  Same
    computation in training and evaluation.

        >>> ln = nn.LayerNorm(10)
        >>> ln(gg.randn(4, 7, 10)).shape
        (4, 7, 10)
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        _register_affine(self, self.normalized_shape, elementwise_affine, bias, device, dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _reset_affine(self)

    def forward(self, input):
        _check_trailing(self, input, self.normalized_shape)
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}")


class RMSNorm(Module):
    """Root-mean-square normalisation over the last dims given by ``normalized_shape``:

        y = x / sqrt(mean(x^2) + eps) * gamma

    (no centring, no bias).  ``eps=None`` uses the machine epsilon of the input's
    dtype.  Parameter (``elementwise_affine``): ``weight`` of shape
    ``normalized_shape``, init 1.

        >>> nn.RMSNorm(8)(gg.randn(2, 5, 8)).shape
        (2, 5, 8)
    """

    def __init__(self, normalized_shape, eps: float | None = None,
                 elementwise_affine: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        if isinstance(normalized_shape, (int, np.integer)):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(ag.empty(self.normalized_shape, device=device, dtype=dtype))
        else:
            self.register_parameter("weight", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.weight is not None:
            init.ones_(self.weight)

    def forward(self, input):
        _check_trailing(self, input, self.normalized_shape)
        return F.rms_norm(input, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


class LocalResponseNorm(Module):
    """Local response normalisation across channels (AlexNet): each value divided by
    (k + alpha / size * sum of the squares of ``size`` neighbouring channels) ^ beta;
    see ``F.local_response_norm``.  Shape: (N, C, *) with at least 3 dims -> same.

        >>> nn.LocalResponseNorm(2)(gg.randn(2, 6, 4, 4)).shape
        (2, 6, 4, 4)
    """

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75,
                 k: float = 1.0) -> None:
        super().__init__()
        self.size = size
        self.alpha = alpha
        self.beta = beta
        self.k = k

    def forward(self, input):
        shape = np.shape(unwrap(input))
        if len(shape) < 3:
            raise ValueError(f"{self}: expected a 3D or higher input (N, C, *), got input of "
                             f"shape {shape}")
        return F.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"
