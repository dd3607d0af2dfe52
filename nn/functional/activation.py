"""Activation functions, composed from autograd operations.

Conventions at kinks follow PyTorch: relu'(0) = 0, leaky_relu'(0) = slope,
elu'(0) = alpha, hardtanh' is 0 at and outside its bounds.
"""
from __future__ import annotations

import warnings

import numpy as np

import graphgrad.autograd as ag
from graphgrad.autograd import Tensor

from ._utils import as_tensor

__all__ = [
    "relu", "relu6", "hardtanh", "leaky_relu", "elu", "gelu", "silu", "sigmoid", "tanh",
    "softplus", "logsigmoid", "softmax", "softmin", "log_softmax",
]


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0), with relu'(0) = 0.  ``inplace`` is accepted and ignored (out of place)."""
    return ag.relu(input)


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0,
             inplace: bool = False) -> Tensor:
    """x clamped to [min_val, max_val]; the gradient is 1 strictly inside, 0 elsewhere."""
    x = as_tensor(input)
    inside = (x._data > min_val) & (x._data < max_val)
    return ag.where(inside, x, np.clip(x._data, min_val, max_val))


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """min(max(x, 0), 6) (MobileNet's activation): ``hardtanh(x, 0, 6)``."""
    return hardtanh(input, 0.0, 6.0)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x for x > 0, else negative_slope * x."""
    return ag.leaky_relu(input, negative_slope)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x for x > 0, else alpha (e^x - 1).

    The exponential sees min(x, 0), so a large positive x cannot overflow into
    the unused branch (whose zero gradient would otherwise meet an inf).
    """
    x = as_tensor(input)
    negative = alpha * (ag.exp(ag.clip(x, max=0.0)) - 1.0)
    return ag.where(x._data > 0, x, negative)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x Phi(x) with Phi the standard normal CDF; ``approximate="tanh"`` for the tanh form."""
    return ag.gelu(input, approximate)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """x sigmoid(x) (also called swish)."""
    x = as_tensor(input)
    return x * ag.sigmoid(x)


def sigmoid(input: Tensor) -> Tensor:
    """1 / (1 + e^-x), stable for any x."""
    return ag.sigmoid(input)


def tanh(input: Tensor) -> Tensor:
    return ag.tanh(input)


def _softplus(z: Tensor) -> Tensor:
    # log(1 + e^z) = max(z, 0) + log(1 + e^-|z|): no overflow for any z.  ``maximum``
    # shares the gradient at the tie z = 0, which gives the exact slope 1/2 there.
    return ag.maximum(z, 0.0) + ag.log(1.0 + ag.exp(-ag.abs(z)))


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """(1/beta) log(1 + e^(beta x)); the identity where beta x > threshold (as PyTorch)."""
    x = as_tensor(input)
    smooth = _softplus(x * beta) * (1.0 / beta) if beta != 1 else _softplus(x)
    return ag.where(x._data * beta > threshold, x, smooth)


def logsigmoid(input: Tensor) -> Tensor:
    """log(sigmoid(x)) = -softplus(-x), stable for any x."""
    return -_softplus(-as_tensor(input))


def _implicit_dim(name: str, ndim: int) -> int:
    warnings.warn(f"{name}: implicit dimension choice is deprecated; pass dim explicitly",
                  stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input: Tensor, dim: int | None = None, dtype=None) -> Tensor:
    """exp(x_i) / sum_j exp(x_j) along ``dim`` (stable)."""
    x = as_tensor(input) if dtype is None else as_tensor(input).astype(dtype)
    return ag.softmax(x, _implicit_dim("softmax", x.ndim) if dim is None else dim)


def softmin(input: Tensor, dim: int | None = None, dtype=None) -> Tensor:
    """softmax(-x) along ``dim``."""
    x = as_tensor(input) if dtype is None else as_tensor(input).astype(dtype)
    return ag.softmax(-x, _implicit_dim("softmin", x.ndim) if dim is None else dim)


def log_softmax(input: Tensor, dim: int | None = None, dtype=None) -> Tensor:
    """x_i - log sum_j exp(x_j) along ``dim`` (stable)."""
    x = as_tensor(input) if dtype is None else as_tensor(input).astype(dtype)
    return ag.log_softmax(x, _implicit_dim("log_softmax", x.ndim) if dim is None else dim)

