"""Normalisation layers: batch norm, group norm, layer norm, and ``normalize`` (unit p-norm)."""
from __future__ import annotations

import numpy as np

import graphgrad.autograd as ag
from graphgrad.autograd import Tensor, no_grad

from ._utils import as_tensor
from .distance import vector_norm

__all__ = ["batch_norm", "group_norm", "layer_norm", "normalize"]


def _standardize(x: Tensor, dims: tuple, eps: float) -> tuple[Tensor, Tensor, Tensor]:
    """(x - mean) / sqrt(var + eps) over ``dims`` with the biased variance; also the
    mean and the variance (keepdim)."""
    mean = x.mean(dims, keepdim=True)
    centered = x - mean
    var = (centered * centered).mean(dims, keepdim=True)
    return centered * ag.rsqrt(var + eps), mean, var


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
    x = as_tensor(input)
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
        out, mean, var = _standardize(x, dims, eps)
        if running_mean is not None or running_var is not None:
            with no_grad():
                if running_mean is not None:
                    running_mean.mul_(1 - momentum).add_(momentum * mean._data.reshape(-1))
                if running_var is not None:
                    unbiased = var._data.reshape(-1) * (n / (n - 1))
                    running_var.mul_(1 - momentum).add_(momentum * unbiased)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: running_mean and running_var are needed when not "
                             "training")
        inv_std = 1.0 / np.sqrt(running_var._data.astype(x.dtype) + eps)
        out = (x - running_mean._data.astype(x.dtype).reshape(shape)) * inv_std.reshape(shape)
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Split the channels (dim 1) of each sample into ``num_groups`` groups of
    consecutive channels and normalise each group over its channels and spatial dims,
    then scale and shift per channel:

        y = (x - mean_group) / sqrt(var_group + eps) * weight[c] + bias[c]   (biased var)

    The same computation in training and evaluation (no running estimates).
    Shape: (N, C, *) -> same, C divisible by ``num_groups``; weight and bias (C,).
    """
    x = as_tensor(input)
    if x.ndim < 2:
        raise ValueError(f"group_norm: expected an input of shape (N, C, *), got {x.shape}")
    n, channels = x.shape[:2]
    if num_groups <= 0 or channels % num_groups:
        raise ValueError(f"group_norm: the {channels} channels of input {x.shape} do not "
                         f"split into num_groups={num_groups} equal groups")
    per_channel = n * int(np.prod(x.shape[2:], dtype=np.int64))
    if per_channel * (channels // num_groups) == 1:  # PyTorch's check, as for batch norm
        raise ValueError(f"group_norm: expected more than 1 value per channel when "
                         f"training, got input of shape {x.shape}")
    out, _, _ = _standardize(x.reshape(n, num_groups, -1), (2,), eps)
    out = out.reshape(x.shape)
    shape = (1, channels) + (1,) * (x.ndim - 2)
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out


def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalise over the last ``len(normalized_shape)`` dims of each sample, then scale
    and shift elementwise: y = (x - mean) / sqrt(var + eps) * weight + bias (biased var).

    Shape: (*, *normalized_shape) -> same; weight and bias have normalized_shape.
    """
    x = as_tensor(input)
    normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) \
        else tuple(normalized_shape)
    k = len(normalized_shape)
    if x.ndim < k or x.shape[x.ndim - k:] != normalized_shape:
        raise ValueError(f"layer_norm: input of shape {x.shape} does not end in "
                         f"normalized_shape {normalized_shape}")
    out, _, _ = _standardize(x, tuple(range(x.ndim - k, x.ndim)), eps)
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:
    """x / max(||x||_p, eps) along ``dim``: unit vectors (a zero vector stays zero)."""
    x = as_tensor(input)
    return x / ag.clip(vector_norm(x, p, dim, keepdim=True), min=eps)
