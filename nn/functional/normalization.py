"""Normalisation as functions: batch, instance, group, layer, RMS and local response
normalisation, and ``normalize`` (unit p-norm).  Compositions of autograd ops; batch,
instance, group and layer norm standardize with one primitive (``standardize``)."""
from __future__ import annotations

import math

import numpy as np

import graphgrad.autograd as ag
from graphgrad.autograd import Tensor, no_grad
from graphgrad.autograd.arrays import namespace
from graphgrad.autograd.ops.statistics import standardize
from graphgrad.autograd.tensor import tensor_arg

from .distance import vector_norm

__all__ = ["batch_norm", "instance_norm", "group_norm", "layer_norm", "rms_norm",
           "local_response_norm", "normalize"]


def _scale_shift(out: Tensor, weight, bias, shape: tuple) -> Tensor:
    """out * weight + bias, each reshaped to ``shape`` (either may be None)."""
    if weight is not None:
        out = out * tensor_arg(weight).reshape(shape)
    if bias is not None:
        out = out + tensor_arg(bias).reshape(shape)
    return out


def _check_stat(op: str, name: str, stat, size: int) -> None:
    if stat is not None and stat.numel() != size:
        raise ValueError(f"{op}: {name} should hold {size} values, got shape {tuple(stat.shape)}")


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalise each channel (dim 1) over the batch and spatial dims, then scale and shift.

    y = (x - mean) / sqrt(var + eps) * weight + bias, with, when ``training``,
    the batch mean and *biased* variance, and the running estimates updated in
    place (when given) as

        running_mean = (1 - momentum) running_mean + momentum mean
        running_var  = (1 - momentum) running_var  + momentum var * n / (n - 1)

    (the *unbiased* variance, n values per channel).  When not training the
    running estimates are used instead.  Shape: (N, C, *) -> same.
    """
    x = tensor_arg(input)
    if x.ndim < 2:
        raise ValueError(f"batch_norm: expected an input of shape (N, C, *), got {x.shape}")
    channels = x.shape[1]
    shape = (1, channels) + (1,) * (x.ndim - 2)
    dims = (0,) + tuple(range(2, x.ndim))
    if training:
        n = x.numel() // channels if channels else 0
        if n <= 1:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when "
                             f"training, got input of shape {x.shape}")
        out, mean, var = standardize(x, dims, eps)
        if running_mean is not None or running_var is not None:
            with no_grad():
                if running_mean is not None:
                    running_mean.mul_(1 - momentum).add_(momentum * mean.reshape(-1))
                if running_var is not None:
                    unbiased = var.reshape(-1) * (n / (n - 1))
                    running_var.mul_(1 - momentum).add_(momentum * unbiased)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: running_mean and running_var are needed when not "
                             "training")
        var = running_var._data.astype(x.dtype)
        inv_std = 1.0 / namespace(var).sqrt(var + eps)
        out = (x - running_mean._data.astype(x.dtype).reshape(shape)) * inv_std.reshape(shape)
    return _scale_shift(out, weight, bias, shape)


def instance_norm(input: Tensor, running_mean: Tensor | None = None,
                  running_var: Tensor | None = None, weight: Tensor | None = None,
                  bias: Tensor | None = None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalise each channel of each sample over its spatial dims, then scale and
    shift per channel: y[n, c] = (x[n, c] - mean_nc) / sqrt(var_nc + eps) * weight[c]
    + bias[c] (biased variance over the spatial positions).

    With ``use_input_stats`` and running estimates given, these move towards the
    average over the batch of the per-sample statistics,

        running_mean = (1 - momentum) running_mean + momentum mean_n(mean_nc)
        running_var  = (1 - momentum) running_var  + momentum mean_n(var_nc * m / (m - 1))

    (m spatial positions: the unbiased variance).  Without ``use_input_stats`` the
    running estimates normalise instead.  Shape: (N, C, *S) -> same.
    """
    x = tensor_arg(input)
    if x.ndim < 2:
        raise ValueError(f"instance_norm: expected an input of shape (N, C, *), got {x.shape}")
    channels = x.shape[1]
    shape = (1, channels) + (1,) * (x.ndim - 2)
    _check_stat("instance_norm", "running_mean", running_mean, channels)
    _check_stat("instance_norm", "running_var", running_var, channels)
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise ValueError("instance_norm: running_mean and running_var are needed when "
                             "use_input_stats is False")
        return batch_norm(x, running_mean, running_var, weight, bias, False, momentum, eps)
    m = math.prod(x.shape[2:])
    if m == 1:
        raise ValueError(f"instance_norm: expected more than 1 spatial element when training, "
                         f"got input of shape {x.shape}")
    out, mean, var = standardize(x, tuple(range(2, x.ndim)), eps)
    with no_grad():
        if running_mean is not None:
            batch_mean = mean.reshape(x.shape[:2]).mean(0)
            running_mean.mul_(1 - momentum).add_(momentum * batch_mean)
        if running_var is not None:
            unbiased = var.reshape(x.shape[:2]).mean(0) * (m / (m - 1))
            running_var.mul_(1 - momentum).add_(momentum * unbiased)
    return _scale_shift(out, weight, bias, shape)


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Split the channels (dim 1) of each sample into ``num_groups`` groups of
    consecutive channels and normalise each group over its channels and spatial dims,
    then scale and shift per channel:

        y = (x - mean_group) / sqrt(var_group + eps) * weight[c] + bias[c]   (biased var)

    The same computation in training and evaluation (no running estimates).
    Shape: (N, C, *) -> same, C divisible by ``num_groups``; weight and bias (C,).
    """
    x = tensor_arg(input)
    if x.ndim < 2:
        raise ValueError(f"group_norm: expected an input of shape (N, C, *), got {x.shape}")
    n, channels = x.shape[:2]
    if num_groups <= 0 or channels % num_groups:
        raise ValueError(f"group_norm: the {channels} channels of input {x.shape} do not "
                         f"split into num_groups={num_groups} equal groups")
    per_channel = n * math.prod(x.shape[2:])
    if per_channel * (channels // num_groups) == 1:  # PyTorch's check, as for batch norm
        raise ValueError(f"group_norm: expected more than 1 value per channel when "
                         f"training, got input of shape {x.shape}")
    out, _, _ = standardize(x.reshape(n, num_groups, -1), (2,), eps)
    return _scale_shift(out.reshape(x.shape), weight, bias, (1, channels) + (1,) * (x.ndim - 2))


def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalise over the last ``len(normalized_shape)`` dims of each sample, then scale
    and shift elementwise: y = (x - mean) / sqrt(var + eps) * weight + bias (biased var).

    Shape: (*, *normalized_shape) -> same; weight and bias have normalized_shape.
    """
    x = tensor_arg(input)
    out, _, _ = standardize(x, _normalized_dims("layer_norm", x, normalized_shape), eps)
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


def _normalized_dims(op: str, x: Tensor, normalized_shape) -> tuple:
    """The trailing dims that ``normalized_shape`` names (checked against x's shape)."""
    normalized_shape = (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) \
        else tuple(normalized_shape)
    k = len(normalized_shape)
    if k == 0:
        raise ValueError(f"{op}: normalized_shape must name at least one dim, got ()")
    if x.ndim < k or x.shape[x.ndim - k:] != normalized_shape:
        raise ValueError(f"{op}: input of shape {x.shape} does not end in normalized_shape "
                         f"{normalized_shape}")
    return tuple(range(x.ndim - k, x.ndim))


def rms_norm(input: Tensor, normalized_shape, weight: Tensor | None = None,
             eps: float | None = None) -> Tensor:
    """y = x / sqrt(mean(x^2) + eps) * weight, the mean over the trailing dims
    ``normalized_shape`` (no centring, no bias).  ``eps=None`` uses the machine epsilon
    of x's dtype (``finfo(dtype).eps``).  Shape: (*, *normalized_shape) -> same."""
    x = tensor_arg(input)
    dims = _normalized_dims("rms_norm", x, normalized_shape)
    shape = x.shape[x.ndim - len(dims):]
    if weight is not None and tuple(weight.shape) != shape:
        raise ValueError(f"rms_norm: weight of shape {tuple(weight.shape)} does not match "
                         f"normalized_shape {shape}")
    if eps is None:
        eps = float(np.finfo(x.dtype).eps)
    out = x * ag.rsqrt((x * x).mean(dims, keepdim=True) + eps)
    return out if weight is None else out * weight


def local_response_norm(input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75,
                        k: float = 1.0) -> Tensor:
    """Normalise each value by the energy of its neighbours across channels (AlexNet):

        y[n, c] = x[n, c] / (k + alpha / size * sum_{c'} x[n, c']^2) ^ beta

    with c' over the ``size`` channels c - size // 2 .. c + (size - 1) // 2 (missing
    channels count as 0; the sum is divided by ``size`` even at the edges).
    Shape: (N, C, *) with at least one spatial dim -> same.
    """
    x = tensor_arg(input)
    if x.ndim < 3:
        raise ValueError(f"local_response_norm: expected a 3D or higher input (N, C, *), got "
                         f"shape {x.shape}")
    if x.numel() == 0:
        return x
    channels = x.shape[1]
    square = ag.pad(x * x, (0, 0) * (x.ndim - 2) + (size // 2, (size - 1) // 2))
    energy = square[:, :channels]
    for j in range(1, size):  # a window of ``size`` channels: size shifted slices
        energy = energy + square[:, j: j + channels]
    return x / ((energy / size) * alpha + k) ** beta


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:
    """x / max(||x||_p, eps) along ``dim``: unit vectors (a zero vector stays zero)."""
    x = tensor_arg(input)
    return x / ag.clip(vector_norm(x, p, dim, keepdim=True), min=eps)
