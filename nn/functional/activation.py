"""Activation functions, composed from autograd operations.

Conventions at kinks follow PyTorch (checked against it in
tests/nn/test_activations_more.py): relu'(0) = 0, leaky_relu'(0) = slope,
prelu'(0) = weight, elu'(0) = celu'(0) = alpha-branch slope (1 for elu/celu,
scale * alpha for selu), hardtanh' is 0 at and outside its bounds, threshold' is
0 at the threshold, hardshrink' and softshrink' are 0 at +-lambda, hardswish' is
0 at -3 and 1 at 3, hardsigmoid' is 0 at +-3.  The one difference: inside
(-3, 3) hardsigmoid' is exactly 1/6 here, where PyTorch multiplies by 1/6
rounded to float32 (a relative difference of 3e-8, also in float64).

``inplace=True`` (and the functions ending in ``_``) change the input in place
with PyTorch's rules (see ``autograd.ops.inplace``): the input takes over the
result's history, a leaf that requires grad or a view being recorded raises.
"""
from __future__ import annotations

import warnings

import numpy as np

import graphgrad.autograd as ag
from graphgrad.autograd import Tensor
from graphgrad.autograd.arrays import namespace
from graphgrad.autograd.ops.inplace import modify_inplace
from graphgrad.autograd.tensor import tensor_arg

__all__ = [
    "relu", "relu_", "relu6", "hardtanh", "hardtanh_", "leaky_relu", "leaky_relu_", "elu",
    "elu_", "celu", "celu_", "selu", "selu_", "prelu", "threshold", "threshold_", "gelu",
    "silu", "mish", "hardswish", "hardsigmoid", "sigmoid", "tanh", "softsign", "tanhshrink",
    "softshrink", "hardshrink", "softplus", "logsigmoid", "glu", "softmax", "softmin",
    "log_softmax",
]

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _activate(name: str, input, inplace: bool, fn) -> Tensor:
    """``fn(input)``, or with ``inplace`` written into ``input`` (which then holds the
    result and its history) and returned."""
    if not inplace:
        return fn(tensor_arg(input))
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}: inplace=True needs a Tensor input, got {type(input).__name__}")

    def direct(data: np.ndarray) -> None:
        data[...] = fn(Tensor._make(data))._data

    return modify_inplace(name, input, (), recorded=fn, direct=direct)


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0), with relu'(0) = 0."""
    return _activate("relu", input, inplace, ag.relu)


def relu_(input: Tensor) -> Tensor:
    """In-place ``relu``."""
    return relu(input, inplace=True)


def _hardtanh(x: Tensor, min_val: float, max_val: float) -> Tensor:
    inside = (x._data > min_val) & (x._data < max_val)
    return ag.where(inside, x, namespace(x._data).clip(x._data, min_val, max_val))


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0,
             inplace: bool = False) -> Tensor:
    """x clamped to [min_val, max_val]; the gradient is 1 strictly inside, 0 elsewhere."""
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) cannot be greater than max_val "
                         f"({max_val})")
    return _activate("hardtanh", input, inplace, lambda x: _hardtanh(x, min_val, max_val))


def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """In-place ``hardtanh``."""
    return hardtanh(input, min_val, max_val, inplace=True)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """min(max(x, 0), 6) (MobileNet's activation): ``hardtanh(x, 0, 6)``."""
    return hardtanh(input, 0.0, 6.0, inplace)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x for x > 0, else negative_slope * x."""
    return _activate("leaky_relu", input, inplace,
                     lambda x: ag.leaky_relu(x, negative_slope))


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    """In-place ``leaky_relu``."""
    return leaky_relu(input, negative_slope, inplace=True)


def _elu(x: Tensor, alpha: float, scale: float = 1.0, input_scale: float = 1.0) -> Tensor:
    # The exponential sees min(x, 0), so a large positive x cannot overflow into the
    # unused branch (whose zero gradient would otherwise meet an inf).
    negative = alpha * (ag.exp(ag.clip(x, max=0.0) * input_scale) - 1.0)
    out = ag.where(x._data > 0, x, negative)
    return out * scale if scale != 1.0 else out


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x for x > 0, else alpha (e^x - 1); at 0 the slope is alpha's branch, alpha."""
    return _activate("elu", input, inplace, lambda x: _elu(x, alpha))


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """In-place ``elu``."""
    return elu(input, alpha, inplace=True)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x for x > 0, else alpha (e^(x / alpha) - 1) (continuously differentiable ELU;
    slope 1 at 0)."""
    if alpha == 0:
        raise ValueError("celu: alpha must not be 0 (the negative branch divides by it)")
    return _activate("celu", input, inplace, lambda x: _elu(x, alpha, input_scale=1.0 / alpha))


def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """In-place ``celu``."""
    return celu(input, alpha, inplace=True)


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """scale * elu(x, alpha) with the self-normalising constants alpha = 1.6732632...
    and scale = 1.0507009...; the slope at 0 is scale * alpha (the negative branch's)."""
    return _activate("selu", input, inplace, lambda x: _elu(x, _SELU_ALPHA, _SELU_SCALE))


def selu_(input: Tensor) -> Tensor:
    """In-place ``selu``."""
    return selu(input, inplace=True)


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """x for x > 0, else weight * x, with a learnt slope: ``weight`` holds one value
    (shared) or one per channel (dim 1 of an input with at least 2 dims).

    Gradients: d/dx = 1 for x > 0, weight for x <= 0 (so weight at 0, as PyTorch);
    d/dweight = x where x <= 0, summed over every position sharing that slope.
    """
    x, w = tensor_arg(input), tensor_arg(weight)
    if w.ndim > 1:
        raise ValueError(f"prelu: expected weight to be a scalar or 1-D tensor, got shape "
                         f"{w.shape}")
    count = w.numel()
    channels = x.shape[1] if x.ndim >= 2 else 1
    if count != 1 and count != channels:
        raise ValueError(f"prelu: weight of shape {w.shape} has {count} slopes, but the input "
                         f"of shape {x.shape} has {channels} channels (dim 1)")
    if count != 1:
        w = w.reshape((channels,) + (1,) * (x.ndim - 2))
    elif w.ndim:
        w = w.reshape(())
    return ag.where(x._data > 0, x, w * x)


def _thresholded(th: float, value: float):
    return lambda x: ag.where(x._data > th, x, value)


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """x where x > threshold, else ``value``; the gradient is 1 above the threshold and
    0 at or below it."""
    return _activate("threshold", input, inplace, _thresholded(threshold, value))


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:
    """In-place ``threshold``."""
    return _activate("threshold_", input, True, _thresholded(threshold, value))


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x Phi(x) with Phi the standard normal CDF; ``approximate="tanh"`` for the tanh form."""
    return ag.gelu(input, approximate)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """x sigmoid(x) (also called swish)."""
    return _activate("silu", input, inplace, lambda x: x * ag.sigmoid(x))


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
    x = tensor_arg(input)
    smooth = _softplus(x * beta) * (1.0 / beta) if beta != 1 else _softplus(x)
    return ag.where(x._data * beta > threshold, x, smooth)


def logsigmoid(input: Tensor) -> Tensor:
    """log(sigmoid(x)) = -softplus(-x), stable for any x."""
    return -_softplus(-tensor_arg(input))


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """x tanh(softplus(x)) (smooth; softplus computed stably, without a threshold)."""
    return _activate("mish", input, inplace, lambda x: x * ag.tanh(_softplus(x)))


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """x (x + 3) / 6 on (-3, 3), 0 at or below -3, x at or above 3.  The gradient is
    x / 3 + 1/2 inside, 0 at and below -3, 1 at and above 3 (as PyTorch)."""
    def fn(x):
        inside = (x._data > -3) & (x._data < 3)
        return ag.where(inside, x * (x + 3.0) / 6.0, ag.where(x._data >= 3, x, 0.0))

    return _activate("hardswish", input, inplace, fn)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """(x + 3) / 6 on (-3, 3), 0 at or below -3, 1 at or above 3; the gradient is 1/6
    strictly inside and 0 elsewhere (see the module docstring for PyTorch's float32 1/6)."""
    def fn(x):
        inside = (x._data > -3) & (x._data < 3)
        return ag.where(inside, (x + 3.0) / 6.0, (x._data >= 3).astype(x.dtype))

    return _activate("hardsigmoid", input, inplace, fn)


def softsign(input: Tensor) -> Tensor:
    """x / (1 + |x|); the slope at 0 is 1."""
    x = tensor_arg(input)
    return x / (ag.abs(x) + 1.0)


def tanhshrink(input: Tensor) -> Tensor:
    """x - tanh(x)."""
    x = tensor_arg(input)
    return x - ag.tanh(x)


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x - lambd above lambd, x + lambd below -lambd, 0 in between (gradient 0 at
    +-lambd)."""
    if lambd < 0:
        raise ValueError(f"softshrink: lambd must be at least 0, got {lambd}")
    x = tensor_arg(input)
    return ag.where(x._data > lambd, x - lambd, ag.where(x._data < -lambd, x + lambd, 0.0))


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x where |x| > lambd, else 0 (gradient 0 at +-lambd)."""
    x = tensor_arg(input)
    return ag.where((x._data > lambd) | (x._data < -lambd), x, 0.0)


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """Gated linear unit: split x in halves a, b along ``dim``; a * sigmoid(b)."""
    x = tensor_arg(input)
    if x.ndim == 0:
        raise ValueError("glu: a 0-d input cannot be halved")
    d = dim + x.ndim if -x.ndim <= dim < 0 else dim
    if not 0 <= d < x.ndim:
        raise IndexError(f"glu: dim {dim} is out of range for an input of shape {x.shape}")
    if x.shape[d] % 2:
        raise ValueError(f"glu: the halved dim {dim} must have an even size, got input of "
                         f"shape {x.shape}")
    a, b = ag.split(x, x.shape[d] // 2, d)
    return a * ag.sigmoid(b)


def _implicit_dim(name: str, ndim: int) -> int:
    warnings.warn(f"{name}: implicit dimension choice is deprecated; pass dim explicitly",
                  stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input: Tensor, dim: int | None = None, dtype=None) -> Tensor:
    """exp(x_i) / sum_j exp(x_j) along ``dim`` (stable)."""
    x = tensor_arg(input) if dtype is None else tensor_arg(input).astype(dtype)
    return ag.softmax(x, _implicit_dim("softmax", x.ndim) if dim is None else dim)


def softmin(input: Tensor, dim: int | None = None, dtype=None) -> Tensor:
    """softmax(-x) along ``dim``."""
    x = tensor_arg(input) if dtype is None else tensor_arg(input).astype(dtype)
    return ag.softmax(-x, _implicit_dim("softmin", x.ndim) if dim is None else dim)


def log_softmax(input: Tensor, dim: int | None = None, dtype=None) -> Tensor:
    """x_i - log sum_j exp(x_j) along ``dim`` (stable)."""
    x = tensor_arg(input) if dtype is None else tensor_arg(input).astype(dtype)
    return ag.log_softmax(x, _implicit_dim("log_softmax", x.ndim) if dim is None else dim)

