"""Resampling as functions: ``interpolate`` (and the deprecated ``upsample*``),
``pixel_shuffle`` and ``pixel_unshuffle``.

``interpolate`` is separable: each spatial dim is resampled in turn, every output
position o of a dim being a fixed weighted sum of a few input positions along
it (1 for nearest, 2 for linear, 4 for cubic), y[o] = sum_k w_k[o] x[i_k[o]].
The positions and weights depend only on the sizes, so they are computed in
NumPy, and the sum is composed of gathers (``index_select``) and products:
the gradient scatters each output's gradient back with the same weights.

Index maths as PyTorch's CPU kernels (these decide which input an output reads,
so they are followed to the rounding).  With n inputs and m outputs along a dim,
and ``scale`` the user's scale factor when one is used (not recomputed):

- nearest:  i = min(floor(o * s), n - 1), s = 1/scale or n/m in float32
  (o itself when m = n, o // 2 when m = 2n, in 2-D even when a scale factor
  gives another s; in 1-D and 3-D PyTorch's forward uses s there, but its
  backward still copies or halves: its gradient is then not the adjoint of its
  forward, and ours, the adjoint, differs from it);
- nearest-exact:  i = min(floor((o + 0.5) s), n - 1), the product rounded to float32;
- linear (align_corners=False):  r = max(s (o + 0.5) - 0.5, 0) with s = 1/scale
  or n/m; align_corners=True: r = o (n - 1)/(m - 1).  i0 = floor(r) (r rounded to
  float32 first), i1 = i0 + 1 unless i0 is the last input, w1 = r - i0, w0 = 1 - w1;
  m = n copies;
- cubic: the same r without the clamp at 0, taps i0 - 1 .. i0 + 2 clamped to the
  input, weights from Keys' cubic convolution with a = -0.75 (PyTorch's backward
  copies the gradient when every output size equals the input's, even where a
  scale factor made its forward interpolate; ours stays the adjoint).
"""
from __future__ import annotations

import math
import warnings

import numpy as np

import graphgrad.autograd as ag
from graphgrad.autograd import Tensor
from graphgrad.autograd.arrays import namespace
from graphgrad.autograd.tensor import tensor_arg

from .adaptive_pooling import adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d

__all__ = ["interpolate", "upsample", "upsample_nearest", "upsample_bilinear", "pixel_shuffle",
           "pixel_unshuffle"]

_MODES = ("nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear", "area")
_LINEAR_DIMS = {"linear": 1, "bilinear": 2, "trilinear": 3, "bicubic": 2}
_CUBIC_A = -0.75


# ------------------------------------------------------------ index maths per dim
def _nearest(n: int, m: int, scale, exact: bool, shortcut: bool) -> tuple:
    o = np.arange(m)
    if not exact and shortcut and m in (n, 2 * n):
        return (o if m == n else o >> 1,), (None,)
    s = np.float32(1.0 / scale) if scale else np.float32(n) / np.float32(m)
    if exact:  # a double product, rounded to float32 by the kernel's floorf
        src = np.floor(((o + 0.5) * np.float64(s)).astype(np.float32))
    else:
        src = np.floor(o.astype(np.float32) * s)
    return (np.minimum(src.astype(np.int64), n - 1),), (None,)


def _source_coordinate(n: int, m: int, scale, align_corners: bool, cubic: bool, dtype):
    """The real input coordinate r of every output position, in ``dtype`` (the
    kernels compute in the input's precision)."""
    o = np.arange(m).astype(dtype)
    if align_corners:
        ratio = dtype.type(n - 1) / dtype.type(m - 1) if m > 1 else dtype.type(0)
        return ratio * o
    ratio = dtype.type(1.0 / scale) if scale else dtype.type(n) / dtype.type(m)
    r = ratio * (o + dtype.type(0.5)) - dtype.type(0.5)
    return r if cubic else np.maximum(r, dtype.type(0))


def _floor_and_fraction(r: np.ndarray, n: int) -> tuple:
    i0 = np.minimum(np.floor(r.astype(np.float32)).astype(np.int64), n - 1)
    return i0, np.clip(r - i0.astype(r.dtype), 0, 1)


def _linear(n: int, m: int, scale, align_corners: bool, dtype) -> tuple:
    if m == n:
        return (np.arange(m),), (None,)
    i0, w1 = _floor_and_fraction(_source_coordinate(n, m, scale, align_corners, False, dtype), n)
    return (i0, i0 + (i0 < n - 1)), (1 - w1, w1)


def _cubic(n: int, m: int, scale, align_corners: bool, dtype) -> tuple:
    i0, t = _floor_and_fraction(_source_coordinate(n, m, scale, align_corners, True, dtype), n)
    a = dtype.type(_CUBIC_A)

    def near(x):  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    one = dtype.type(1)
    weights = (far(t + one), near(t), near(one - t), far(one - t + one))
    taps = tuple(np.clip(i0 - 1 + k, 0, n - 1) for k in range(4))
    return taps, weights


def _resample_dim(x: Tensor, dim: int, taps: tuple, weights: tuple) -> Tensor:
    """y along ``dim`` = sum_k weights[k] * x[taps[k]] (weights broadcast along dim).
    ``taps`` and ``weights`` are host arrays, copied to x's device."""
    n, m = x.shape[dim], len(taps[0])
    if len(taps) == 1 and m % n == 0 and np.array_equal(taps[0], np.arange(m) // (m // n)):
        # Each input repeated m / n times: stacked copies, whose gradient is a sum of
        # m / n slices (a gather's scatter-add costs several times more).
        wide = ag.stack([x] * (m // n), dim + 1)
        return wide.reshape(*x.shape[:dim], m, *x.shape[dim + 1:])
    shape = (-1,) + (1,) * (x.ndim - dim - 1)
    xp = namespace(x._data)
    y = None
    for index, w in zip(taps, weights, strict=True):
        term = x.index_select(dim, xp.asarray(index))
        if w is not None:
            term = term * xp.asarray(w.reshape(shape))
        y = term if y is None else y + term
    return y


# --------------------------------------------------------------------- arguments
def _output_size(x: Tensor, nd: int, size, scale_factor) -> tuple:
    """(output sizes, scale factors or None) from exactly one of ``size``/``scale_factor``."""
    spatial = x.shape[2:]
    if size is not None and scale_factor is not None:
        raise ValueError("interpolate: only one of size or scale_factor should be defined")
    if size is not None:
        sizes = tuple(size) if isinstance(size, (tuple, list)) else (size,) * nd
        if len(sizes) != nd:
            raise ValueError(f"interpolate: size {size} must have one entry per spatial dim of "
                             f"the input of shape {x.shape}")
        if not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in sizes):
            raise TypeError(f"interpolate: size must be an int or a tuple of ints, got {size!r}")
        return tuple(int(s) for s in sizes), None
    if scale_factor is None:
        raise ValueError("interpolate: either size or scale_factor should be defined")
    scales = tuple(scale_factor) if isinstance(scale_factor, (tuple, list)) \
        else (scale_factor,) * nd
    if len(scales) != nd:
        raise ValueError(f"interpolate: scale_factor {scale_factor} must have one entry per "
                         f"spatial dim of the input of shape {x.shape}")
    scales = tuple(float(s) for s in scales)
    return tuple(math.floor(n * s) for n, s in zip(spatial, scales, strict=True)), scales


def _check_mode(x: Tensor, mode: str, align_corners, antialias: bool) -> None:
    if mode not in _MODES:
        raise ValueError(f"interpolate: mode must be one of {', '.join(_MODES)}, got {mode!r}")
    if mode in ("nearest", "nearest-exact", "area") and align_corners is not None:
        raise ValueError("interpolate: align_corners can only be set with the interpolating "
                         "modes linear, bilinear, bicubic and trilinear")
    if x.ndim not in (3, 4, 5):
        raise ValueError(f"interpolate: expected a 3-D, 4-D or 5-D input (N, C, *S), got shape "
                         f"{x.shape}")
    if mode in _LINEAR_DIMS and x.ndim != _LINEAR_DIMS[mode] + 2:
        raise ValueError(f"interpolate: mode {mode!r} needs a {_LINEAR_DIMS[mode] + 2}-D input, "
                         f"got shape {x.shape}")
    if antialias:
        if mode not in ("bilinear", "bicubic"):
            raise ValueError("interpolate: antialias is restricted to the bilinear and bicubic "
                             "modes with a 4-D input")
        raise NotImplementedError("interpolate: antialias=True is not supported (its filter "
                                  "widens with the downscaling factor); resample with "
                                  "antialias=False, or low-pass filter the input first")


def interpolate(input: Tensor, size=None, scale_factor=None, mode: str = "nearest",
                align_corners: bool | None = None, recompute_scale_factor: bool | None = None,
                antialias: bool = False) -> Tensor:
    """Resample the spatial dims of (N, C, *S) to ``size`` or to floor(S * scale_factor).

    Modes: "nearest" (PyTorch's legacy rounding down, as OpenCV), "nearest-exact"
    (pixel centres, as PIL and scikit-image), "linear" (3-D input), "bilinear" (4-D),
    "bicubic" (4-D, a = -0.75, may overshoot), "trilinear" (5-D), "area" (adaptive
    average pooling).  ``align_corners`` (interpolating modes only; None means
    False) maps the corner pixels' centres onto each other instead of the corners
    of the pixel grid.  A given ``scale_factor`` also sets the sampling step (1 /
    scale_factor) unless ``recompute_scale_factor`` derives it from the sizes.
    ``antialias=True`` is not supported.  See the module docstring for the
    index maths; the gradient is the transposed resampling.
    """
    x = tensor_arg(input)
    _check_mode(x, mode, align_corners, antialias)
    nd = x.ndim - 2
    sizes, scales = _output_size(x, nd, size, scale_factor)
    if recompute_scale_factor and size is not None:
        raise ValueError("interpolate: recompute_scale_factor is not meaningful with an "
                         "explicit size")
    if recompute_scale_factor or mode == "area":
        scales = None
    if any(m <= 0 for m in sizes) or any(n <= 0 for n in x.shape[2:]):
        raise ValueError(f"interpolate: input and output sizes should be greater than 0, got "
                         f"input {x.shape[2:]} and output {sizes}")
    if mode == "area":
        return (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d)[nd - 1](x, sizes)
    align_corners = bool(align_corners)
    dtype = np.dtype(x.dtype)
    y = x
    for d, (n, m) in enumerate(zip(x.shape[2:], sizes, strict=True)):
        scale = scales[d] if scales is not None and scales[d] > 0 else None
        if mode in ("nearest", "nearest-exact"):
            # PyTorch's 2-D kernel copies (m = n) or halves (m = 2n) the index even when a
            # scale factor says otherwise; its 1-D and 3-D kernels use the scale.
            taps, weights = _nearest(n, m, scale, mode == "nearest-exact", nd == 2 or not scale)
        elif mode == "bicubic":
            taps, weights = _cubic(n, m, scale, align_corners, dtype)
        else:
            taps, weights = _linear(n, m, scale, align_corners, dtype)
        y = _resample_dim(y, d + 2, taps, weights)
    return y


def upsample(input: Tensor, size=None, scale_factor=None, mode: str = "nearest",
             align_corners: bool | None = None) -> Tensor:
    """Deprecated: ``interpolate`` (warns, as PyTorch)."""
    warnings.warn("nn.functional.upsample is deprecated. Use nn.functional.interpolate instead.",
                  stacklevel=2)
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input: Tensor, size=None, scale_factor=None) -> Tensor:
    """Deprecated: ``interpolate(..., mode="nearest")`` (warns, as PyTorch)."""
    warnings.warn("nn.functional.upsample_nearest is deprecated. Use nn.functional.interpolate "
                  "instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input: Tensor, size=None, scale_factor=None) -> Tensor:
    """Deprecated: ``interpolate(..., mode="bilinear", align_corners=True)`` (warns)."""
    warnings.warn("nn.functional.upsample_bilinear is deprecated. Use nn.functional.interpolate "
                  "instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


# --------------------------------------------------------------- pixel shuffle
def _check_factor(op: str, factor) -> int:
    if not isinstance(factor, (int, np.integer)) or factor <= 0:
        raise ValueError(f"{op}: the factor must be a positive int, got {factor!r}")
    return int(factor)


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """Rearrange (*, C r^2, H, W) into (*, C, H r, W r): y[c, h r + i, w r + j] =
    x[c r^2 + i r + j, h, w] (sub-pixel convolution's upsampling).  A permutation
    of the elements, so its gradient is the inverse permutation."""
    x = tensor_arg(input)
    r = _check_factor("pixel_shuffle", upscale_factor)
    if x.ndim < 3:
        raise ValueError(f"pixel_shuffle: expected an input of at least 3 dims (*, C, H, W), got "
                         f"shape {x.shape}")
    *batch, c, h, w = x.shape
    if c % (r * r):
        raise ValueError(f"pixel_shuffle: the {c} channels of input {x.shape} are not divisible "
                         f"by upscale_factor^2 = {r * r}")
    k = len(batch)
    y = x.reshape(*batch, c // (r * r), r, r, h, w)
    y = y.permute(*range(k), k, k + 3, k + 1, k + 4, k + 2)  # (*, C, H, r, W, r)
    return y.reshape(*batch, c // (r * r), h * r, w * r)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """The inverse of ``pixel_shuffle``: (*, C, H r, W r) -> (*, C r^2, H, W)."""
    x = tensor_arg(input)
    r = _check_factor("pixel_unshuffle", downscale_factor)
    if x.ndim < 3:
        raise ValueError(f"pixel_unshuffle: expected an input of at least 3 dims (*, C, H, W), "
                         f"got shape {x.shape}")
    *batch, c, h, w = x.shape
    if h % r or w % r:
        raise ValueError(f"pixel_unshuffle: the height and width of input {x.shape} must be "
                         f"divisible by downscale_factor = {r}")
    k = len(batch)
    y = x.reshape(*batch, c, h // r, r, w // r, r)
    y = y.permute(*range(k), k, k + 2, k + 4, k + 1, k + 3)  # (*, C, r, r, H, W)
    return y.reshape(*batch, c * r * r, h // r, w // r)
