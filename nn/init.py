"""Weight initialisation, as ``torch.nn.init``: in place, under ``no_grad``, from the
project's seeded generator (``ag.manual_seed``).

Fans follow PyTorch: for a weight of shape (out, in, *kernel),
fan_in = in * prod(kernel) and fan_out = out * prod(kernel) (a conv weight
(out, in/groups, kh, kw) thus counts in/groups inputs per output).

- He / Kaiming (for ReLU nets): std = gain / sqrt(fan), uniform bound sqrt(3) std;
- Glorot / Xavier (for tanh/sigmoid nets): std = gain sqrt(2 / (fan_in + fan_out)).

    >>> w = nn.Parameter(gg.empty(256, 128))
    >>> nn.init.kaiming_normal_(w, nonlinearity="relu")   # std = sqrt(2 / 128)
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from graphgrad.autograd import Tensor, no_grad
from graphgrad.autograd.arrays import namespace as _namespace
from graphgrad.autograd.random import rng as _rng

__all__ = [
    "calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_",
    "eye_", "dirac_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_",
    "orthogonal_", "sparse_",
]


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity: 1 for linear/conv/sigmoid, 5/3 for tanh,
    sqrt(2) for relu, sqrt(2 / (1 + slope^2)) for leaky_relu (slope ``param``, default
    0.01), 3/4 for selu."""
    linear = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
              "conv_transpose3d", "sigmoid")
    if nonlinearity in linear:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    if tensor.ndim < 2:
        raise ValueError(f"fan in and fan out can not be computed for a tensor with fewer than "
                         f"2 dimensions (shape {tensor.shape})")
    receptive = int(np.prod(tensor.shape[2:], dtype=np.int64))
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _fan(tensor: Tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode {mode!r} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _fill(tensor: Tensor, values) -> Tensor:
    """Write ``values`` (an array of the tensor's device, or host data) into ``tensor``."""
    with no_grad():
        tensor.copy_(_namespace(tensor._data).asarray(values).astype(tensor.dtype, copy=False))
    return tensor


def _source(tensor: Tensor, generator):
    """The random source for ``tensor``: its device's (or ``generator``, which must draw
    there).  Draws use what every device's source has (``uniform``, ``standard_normal``,
    ``random``), so initialising on a GPU draws on the GPU."""
    return _rng(generator, tensor.device)


def _normal(source, mean: float, std: float, shape: tuple):
    """N(mean, std^2) samples: mean + std z (NumPy's ``normal``, bit for bit)."""
    return mean + std * source.standard_normal(shape)


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator=None) -> Tensor:
    """Fill with samples of U(a, b)."""
    return _fill(tensor, _source(tensor, generator).uniform(a, b, tensor.shape))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator=None) -> Tensor:
    """Fill with samples of N(mean, std^2)."""
    return _fill(tensor, _normal(_source(tensor, generator), mean, std, tensor.shape))


def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0,
                  b: float = 2.0, generator=None) -> Tensor:
    """Fill with N(mean, std^2) samples conditioned on lying in [a, b] (bounds in the
    values' units, not in stds).

    Rejection sampling, as PyTorch: when the interval holds more than 30% of the
    normal's mass, normal draws outside it are redrawn; otherwise candidates are
    uniform on [a, b], each kept with probability pdf(x) / max pdf on [a, b] (so a
    far tail interval costs no more than a central one).  Warns when the mean lies
    more than 2 std outside [a, b].
    """
    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn("mean is more than 2 std from [a, b] in nn.init.trunc_normal_. "
                      "The distribution of values may be incorrect.", stacklevel=2)
    rng = _source(tensor, generator)
    xp = _namespace(tensor._data)
    mass = _normal_cdf((b - mean) / std) - _normal_cdf((a - mean) / std)
    if mass > 0.3:
        values = _normal(rng, mean, std, tensor.shape)
        outside = (values < a) | (values > b)
        while outside.any():
            values[outside] = _normal(rng, mean, std, int(outside.sum()))
            outside = (values < a) | (values > b)
    else:
        mode = min(max(mean, a), b)  # where the density peaks on [a, b]
        values = xp.empty(math.prod(tensor.shape))
        pending = xp.ones(values.shape, dtype=bool)
        while pending.any():
            candidates = rng.uniform(a, b, int(pending.sum()))
            log_ratio = -0.5 * (((candidates - mean) / std) ** 2 - ((mode - mean) / std) ** 2)
            accepted = xp.log(rng.uniform(0.0, 1.0, candidates.size)) <= log_ratio
            where = xp.flatnonzero(pending)[accepted]
            values[where] = candidates[accepted]
            pending[where] = False
        values = values.reshape(tensor.shape)
    # Rounding to a narrower dtype must not leave the interval either.
    low, high = np.array([a, b], dtype=tensor.dtype)
    return _fill(tensor, xp.clip(values.astype(tensor.dtype), low, high))


def _normal_cdf(z: float) -> float:
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with ``val``."""
    return _fill(tensor, np.full(tensor.shape, val))


def ones_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 1.0)


def zeros_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 0.0)


def eye_(tensor: Tensor) -> Tensor:
    """Fill a 2-D tensor with the identity (ones on the main diagonal)."""
    if tensor.ndim != 2:
        raise ValueError(f"eye_: only 2-D tensors are supported, got shape {tensor.shape}")
    return _fill(tensor, np.eye(*tensor.shape))


def dirac_(tensor: Tensor, groups: int = 1) -> Tensor:
    """Fill a conv weight (out, in, *kernel) so the convolution is the identity on the
    first channels of each group (a 1 at each kernel's centre)."""
    if tensor.ndim not in (3, 4, 5):
        raise ValueError(f"dirac_: only 3, 4 or 5-D tensors are supported, got {tensor.shape}")
    if tensor.shape[0] % groups:
        raise ValueError(f"dirac_: dim 0 must be divisible by groups, got shape {tensor.shape} "
                         f"and groups = {groups}")
    out_per_group = tensor.shape[0] // groups
    values = np.zeros(tensor.shape)
    centre = tuple(k // 2 for k in tensor.shape[2:])
    for g in range(groups):
        for d in range(min(out_per_group, tensor.shape[1])):
            values[(g * out_per_group + d, d) + centre] = 1.0
    return _fill(tensor, values)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """Glorot uniform: U(-a, a) with a = gain sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """Glorot normal: N(0, std^2) with std = gain sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


def _is_empty(tensor: Tensor) -> bool:
    """True (with PyTorch's warning) for a tensor with no elements, which is left as it is."""
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=3)
        return True
    return False


def _kaiming_std(tensor: Tensor, a: float, mode: str, nonlinearity: str) -> float:
    fan = _fan(tensor, mode)
    if fan == 0:
        raise ValueError(f"kaiming init: cannot initialise a tensor of shape {tensor.shape} "
                         f"with zero {mode}")
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu", generator=None) -> Tensor:
    """He uniform: U(-b, b) with b = sqrt(3) gain / sqrt(fan), gain from ``nonlinearity``
    (``a`` is leaky_relu's negative slope) and fan from ``mode`` ("fan_in" keeps the
    forward variance, "fan_out" the backward one)."""
    if _is_empty(tensor):
        return tensor
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", generator=None) -> Tensor:
    """He normal: N(0, std^2) with std = gain / sqrt(fan) (see ``kaiming_uniform_``)."""
    if _is_empty(tensor):
        return tensor
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity), generator)


def orthogonal_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """A (semi-)orthogonal matrix (rows or columns orthonormal), times ``gain``; extra
    dims are flattened into the columns.  From the QR decomposition of a Gaussian
    matrix with the signs fixed so the result is uniformly distributed."""
    if tensor.ndim < 2:
        raise ValueError(f"orthogonal_: only tensors with 2 or more dimensions are supported, "
                         f"got shape {tensor.shape}")
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows if rows else 0
    flat = _source(tensor, generator).standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    xp = _namespace(flat)
    q, r = xp.linalg.qr(flat)
    q = q * xp.sign(xp.diag(r))
    if rows < cols:
        q = q.T
    return _fill(tensor, gain * q.reshape(tensor.shape))


def sparse_(tensor: Tensor, sparsity: float, std: float = 0.01, generator=None) -> Tensor:
    """Fill a 2-D tensor with N(0, std^2) samples, then zero ceil(sparsity * rows) entries
    of every column, at rows drawn at random per column (Martens' sparse init)."""
    if tensor.ndim != 2:
        raise ValueError(f"sparse_: only tensors with 2 dimensions are supported, got shape "
                         f"{tensor.shape}")
    rng = _source(tensor, generator)
    rows, cols = tensor.shape
    values = _normal(rng, 0.0, std, (rows, cols))
    # Per column, the rows whose uniform key ranks among the ``zeros`` smallest.
    rank = rng.random((rows, cols)).argsort(0).argsort(0)
    return _fill(tensor, _namespace(values).where(rank < math.ceil(sparsity * rows), 0.0, values))


def _deprecated(method):
    """The old name without the trailing underscore, which warns and calls ``method``."""
    old = method.__name__[:-1]

    def call(*args, **kwargs):
        warnings.warn(f"`nn.init.{old}` is now deprecated in favor of `nn.init.{method.__name__}`.",
                      FutureWarning, stacklevel=2)
        return method(*args, **kwargs)

    call.__name__ = old
    call.__doc__ = f"Deprecated: use ``{method.__name__}``."
    return call


uniform = _deprecated(uniform_)
normal = _deprecated(normal_)
constant = _deprecated(constant_)
xavier_uniform = _deprecated(xavier_uniform_)
xavier_normal = _deprecated(xavier_normal_)
kaiming_uniform = _deprecated(kaiming_uniform_)
kaiming_normal = _deprecated(kaiming_normal_)
orthogonal = _deprecated(orthogonal_)
sparse = _deprecated(sparse_)
