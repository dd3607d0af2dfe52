"""Pooling over sliding windows as functions: max, average and power-average (LP)
pooling (1-D, 2-D, 3-D), and max unpooling (adaptive pooling is in
``adaptive_pooling.py``).

Shapes follow PyTorch: (N, C, *S) or one unbatched sample (C, *S).  Along each
spatial dim of size n, with kernel k, stride s (default k), padding p (at most
k / 2) and dilation d, the output has floor((n + 2p - d (k - 1) - 1) / s) + 1
positions (the ceiling with ``ceil_mode``, never starting a window in the right
padding).  No gradient code: average pooling sums the unfolded windows, max
pooling gathers each window's arg-max with an indexing op, LP pooling is
average pooling of x^p, unpooling writes values into zeros with an indexing op.
"""
from __future__ import annotations

import math

import numpy as np

import graphgrad.autograd as ag
from graphgrad.autograd import Tensor, where
from graphgrad.autograd.arrays import namespace
from graphgrad.autograd.ops import conv as windows
from graphgrad.autograd.ops.conv import Window
from graphgrad.autograd.ops.index import GETITEM
from graphgrad.autograd.ops.shape import not_a_view
from graphgrad.autograd.tensor import tensor_arg

from ._pool_windows import window_argmax, window_counts, window_offsets, window_starts
from ._utils import array_like
from .conv import _check_fits, _from_columns, _input, _ntuple, _x

__all__ = ["max_pool1d", "max_pool2d", "max_pool3d", "max_pool1d_with_indices",
           "max_pool2d_with_indices", "max_pool3d_with_indices", "avg_pool1d", "avg_pool2d",
           "avg_pool3d", "lp_pool1d", "lp_pool2d", "lp_pool3d", "max_unpool1d", "max_unpool2d",
           "max_unpool3d"]


def _pool_window(op: str, x: Tensor, nd: int, kernel_size, stride, padding, dilation,
                 ceil_mode: bool) -> tuple:
    kernel = _ntuple(op, "kernel_size", kernel_size, nd)
    stride = kernel if stride is None or stride == () or stride == [] else \
        _ntuple(op, "stride", stride, nd)
    pads = _ntuple(op, "padding", padding, nd, minimum=0)
    dilation = _ntuple(op, "dilation", dilation, nd)
    if any(2 * p > k for p, k in zip(pads, kernel, strict=True)):
        raise ValueError(f"{op}: padding {pads} should be at most half of the kernel size "
                         f"{kernel}")
    geom = windows.window(x.shape, kernel, stride, tuple((p, p) for p in pads), dilation,
                          ceil_mode)
    _check_fits(op, x, geom)
    return geom, pads


def _memory_order(x: Tensor) -> tuple:
    """(flat, strides, axes): x's elements as a 1-D Tensor, the element stride of each
    of x's dims in it, and the permutation of x's dims that lists them outermost
    first in that memory.  ``flat`` is a view in memory order when x is a
    permutation of a contiguous array (a convolution's output is), else a C-order
    copy."""
    data = x._data
    axes = tuple(sorted(range(data.ndim), key=lambda i: -data.strides[i]))
    if data.transpose(axes).flags.c_contiguous:
        return x.permute(axes).reshape(-1), tuple(s // data.itemsize for s in data.strides), axes
    strides = tuple(math.prod(data.shape[i + 1:]) for i in range(data.ndim))
    return x.reshape(-1), strides, tuple(range(data.ndim))


def _inverse(axes: tuple) -> tuple:
    """The permutation that undoes ``axes``."""
    return tuple(sorted(range(len(axes)), key=axes.__getitem__))


def _padded_like(x: np.ndarray, geom: Window, axes: tuple, value: float) -> np.ndarray:
    """x padded per ``geom`` with ``value``, its memory in the order ``axes`` like x's."""
    shape = x.shape[:2] + geom.padded
    padded = namespace(x).full(tuple(shape[a] for a in axes), value, dtype=x.dtype)
    padded = padded.transpose(_inverse(axes))
    padded[geom.interior()] = x
    return padded


def _max_pool(op: str, nd: int, x, kernel_size, stride, padding, dilation, ceil_mode,
              return_indices):
    """y[n, c, l] = max over kernel offsets j of x_pad[n, c, l*s + j*d] (padding is
    -inf).  The gradient goes to the position of the maximum, the first one in
    the window on ties, the last NaN if there are NaNs (as PyTorch): the maxima
    are found in NumPy, then gathered from x by a differentiable indexing op whose
    gradient scatters back to them.
    The output keeps x's memory order (one gather in that order)."""
    x, batched = _input(op, x, nd, unbatched=True)
    geom, _ = _pool_window(op, x, nd, kernel_size, stride, padding, dilation, ceil_mode)
    values, strides, axes = _memory_order(x)
    xp = namespace(x._data)
    padded = any(lo or hi for lo, hi in geom.padding)
    image = _padded_like(x._data, geom, axes, -np.inf) if padded else x._data
    best, index = window_argmax(image, geom)
    nan = xp.isnan(best)
    if nan.any():  # PyTorch's kernel keeps the last NaN of a window (window_argmax the first)
        for k, offset in enumerate(geom.offsets()):
            index[nan & xp.isnan(image[geom.slices(offset)])] = k
    positions = window_offsets(geom, strides[2:], xp)[index.transpose(axes)]
    positions += window_starts(geom, strides, axes, xp)  # (N, C, *L) in memory order
    inside = None
    if padded and (best == -np.inf).any():  # a window of padding only (dilation) gives -inf
        coords = _max_coordinates(geom, index)
        inside = True
        for c, n in zip(coords, x.shape[2:], strict=True):
            inside = inside & (c >= 0) & (c < n)
        positions = xp.where(inside.transpose(axes), positions, 0)
    # The indexing op itself (the public x[i] would copy the fresh index array), with a
    # 1-D index: its scatter-add in backward (np.add.at) is several times faster.
    y = GETITEM(values, index=(positions.reshape(-1),))
    y = not_a_view(y.reshape(positions.shape).permute(_inverse(axes)))
    if inside is not None:
        y = where(inside, y, -np.inf)
    if not batched:
        y = y.squeeze(0)
    if not return_indices:
        return y
    coords = _max_coordinates(geom, index)
    if inside is not None:  # a window of padding only: PyTorch names its first step >= 0
        coords = [xp.where(inside, c, f) for c, f in zip(coords, _first_steps(geom, xp),
                                                          strict=True)]
    flat = xp.zeros(index.shape, dtype=np.int64)
    for c, n in zip(coords, x.shape[2:], strict=True):
        flat = flat * n + c  # PyTorch's indices: the position in each (n, c) plane
    return y, Tensor(flat if batched else flat[0])


def _first_steps(geom: Window, xp) -> list:
    """Per spatial dim, the first position >= 0 that each window's dilated steps reach
    (possibly past the input), arrays of the array module ``xp``."""
    steps = []
    for i, (s, d, (lo, _)) in enumerate(zip(geom.stride, geom.dilation, geom.padding,
                                            strict=True)):
        starts = xp.arange(geom.out[i]) * s - lo
        shape = [1] * (2 + len(geom.out))
        shape[2 + i] = geom.out[i]
        steps.append((starts + -(-xp.maximum(-starts, 0) // d) * d).reshape(shape))
    return steps


def _max_coordinates(geom: Window, index: np.ndarray) -> list:
    """For each spatial dim, the coordinate in the unpadded input of every window's
    element ``index`` (negative or too large inside the padding)."""
    xp = namespace(index)
    offsets = xp.asarray(list(geom.offsets()), dtype=np.int64).reshape(-1, len(geom.kernel))
    coords = []
    for i, (s, d, (lo, _)) in enumerate(zip(geom.stride, geom.dilation, geom.padding,
                                            strict=True)):
        shape = [1] * index.ndim
        shape[2 + i] = geom.out[i]
        coords.append((xp.arange(geom.out[i]) * s).reshape(shape) + offsets[index, i] * d - lo)
    return coords


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """1-D max pooling over (N, C, L) or (C, L); see ``max_pool2d``."""
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """2-D max pooling: the maximum of each (dilated) kh x kw window.

    Shapes: (N, C, H, W) or (C, H, W) -> (N, C, H_out, W_out) with H_out =
    floor((H + 2p - d (kh - 1) - 1) / s) + 1 (ceil with ``ceil_mode``, a window
    may then run past the bottom/right edge but never starts in the padding).
    ``stride`` defaults to the kernel size; padding (at most half the kernel) is
    -inf.  The gradient of each output goes entirely to its window's maximum,
    the first in row-major order on ties, the last NaN of a window with NaNs (as
    PyTorch).  With ``return_indices`` also returns the position of each maximum
    in its flattened H x W plane.
    """
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """3-D max pooling over (N, C, D, H, W) or (C, D, H, W); see ``max_pool2d`` (indices
    are flat positions in the D x H x W volume)."""
    return _max_pool("max_pool3d", 3, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=False):
    """``max_pool1d`` returning (values, indices)."""
    return max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=False):
    """``max_pool2d`` returning (values, indices)."""
    return max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool3d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=False):
    """``max_pool3d`` returning (values, indices)."""
    return max_pool3d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def _avg_pool(op: str, nd: int, x, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override) -> Tensor:
    """y[n, c, l] = sum over kernel offsets j of x_pad[n, c, l*s + j] / count(l)."""
    x, batched = _input(op, x, nd, unbatched=True)
    geom, pads = _pool_window(op, x, nd, kernel_size, stride, padding, 1, ceil_mode)
    c, n = x.shape[1], x.shape[0]
    sums = windows.unfold(x, geom).reshape((c, math.prod(geom.kernel)) + geom.out + (n,)).sum(1)
    if divisor_override:
        divisor = float(divisor_override)
    else:
        counts = window_counts(geom, tuple((p, p) for p in pads), count_include_pad)
        uniform = counts.min() == counts.max()
        divisor = float(counts.flat[0]) if uniform else \
            Tensor._make(namespace(x._data).asarray(counts, dtype=x.dtype))  # to x's device
    y = _from_columns(sums) / divisor
    return y if batched else y.squeeze(0)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True) -> Tensor:
    """1-D average pooling over (N, C, L) or (C, L); see ``avg_pool2d``."""
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, None)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None) -> Tensor:
    """2-D average pooling: the mean of each kh x kw window.

    Shapes as ``max_pool2d`` (no dilation).  Zero padding is counted in the
    divisor when ``count_include_pad`` (the default), else each window is divided
    by the number of input elements it covers; the extra cells that ``ceil_mode``
    reaches past the padding are never counted; ``divisor_override`` replaces
    the count.  The gradient spreads each output's gradient evenly, g / count,
    over its window.
    """
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None) -> Tensor:
    """3-D average pooling over (N, C, D, H, W) or (C, D, H, W); see ``avg_pool2d``.
    As PyTorch's, each input dim must be at least the kernel (padding aside)."""
    x = tensor_arg(input)
    kernel = _ntuple("avg_pool3d", "kernel_size", kernel_size, 3)
    if x.ndim in (4, 5) and any(n < k for n, k in zip(x.shape[-3:], kernel, strict=True)):
        raise ValueError(f"avg_pool3d: input of shape {x.shape} is smaller than the kernel "
                         f"{kernel}")
    return _avg_pool("avg_pool3d", 3, x, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


_POOLS = {1: (max_pool1d, avg_pool1d), 2: (max_pool2d, avg_pool2d), 3: (max_pool3d, avg_pool3d)}


def _lp_pool(op: str, nd: int, x, norm_type: float, kernel_size, stride, ceil_mode) -> Tensor:
    """y = (sum over each window of x^p)^(1/p), as PyTorch computes it: the window
    mean of x^p times the kernel size, then the 1/p-th power.  p = inf is max pooling
    of |x| (-inf: minus the max pooling of -|x|).  Where a window sums to 0 the
    output and its gradient are 0 (the power's slope there would be infinite); a
    negative sum (odd p and negative inputs) gives NaN unless 1/p is an integer.
    """
    max_pool, avg_pool = _POOLS[nd]
    if norm_type == float("inf"):
        return max_pool(ag.abs(tensor_arg(x)), kernel_size, stride, 0, 1, ceil_mode)
    if norm_type == -float("inf"):
        return -max_pool(-ag.abs(tensor_arg(x)), kernel_size, stride, 0, 1, ceil_mode)
    if norm_type == 0:
        raise ValueError(f"{op}: norm_type must not be 0")
    size = math.prod(_ntuple(op, "kernel_size", kernel_size, nd))
    sums = avg_pool(tensor_arg(x) ** norm_type, kernel_size, stride, 0, ceil_mode) * size
    nonzero = sums._data != 0
    return where(nonzero, where(nonzero, sums, 1.0) ** (1.0 / norm_type), 0.0)


def lp_pool1d(input, norm_type: float, kernel_size, stride=None, ceil_mode=False) -> Tensor:
    """1-D power-average pooling over (N, C, L) or (C, L); see ``lp_pool2d``."""
    return _lp_pool("lp_pool1d", 1, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input, norm_type: float, kernel_size, stride=None, ceil_mode=False) -> Tensor:
    """Power-average pooling: y = (sum over each kh x kw window of x^p)^(1/p) (p = 1 is
    sum pooling, p = inf max pooling of |x|); no padding, stride defaults to the
    kernel size.  Shapes as ``avg_pool2d``."""
    return _lp_pool("lp_pool2d", 2, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(input, norm_type: float, kernel_size, stride=None, ceil_mode=False) -> Tensor:
    """3-D power-average pooling over (N, C, D, H, W) or (C, D, H, W); see ``lp_pool2d``."""
    return _lp_pool("lp_pool3d", 3, input, norm_type, kernel_size, stride, ceil_mode)


def _unpool_size(op: str, x: Tensor, nd: int, kernel, stride, pads, output_size) -> tuple:
    """PyTorch's default size (n - 1) s + k - 2p per dim, or ``output_size`` (with or
    without the leading N, C) when it lies strictly within a stride of it."""
    default = tuple((n - 1) * s + k - 2 * p for n, s, k, p in
                    zip(x.shape[2:], stride, kernel, pads, strict=True))
    if output_size is None:
        size = default
    else:
        size = tuple(int(v) for v in output_size)
        if len(size) == nd + 2:
            size = size[2:]
        if len(size) != nd:
            raise ValueError(f"{op}: output_size should hold {nd} or {nd + 2} sizes, got "
                             f"{tuple(output_size)}")
        for d, (v, n, s) in enumerate(zip(size, default, stride, strict=True)):
            if not n - s < v < n + s:
                raise ValueError(f"{op}: invalid output_size {size} (dim {d} must be between "
                                 f"{n - s} and {n + s}, exclusive)")
    if any(v < 0 for v in size):
        raise ValueError(f"{op}: the output size {size} must not be negative (input shape "
                         f"{x.shape}, kernel {kernel}, stride {stride}, padding {pads})")
    return size


def _max_unpool(op: str, nd: int, x, indices, kernel_size, stride, padding,
                output_size) -> Tensor:
    """y = zeros of (N, C, *output_size) with y[n, c].flat[indices[n, c, l]] = x[n, c, l]
    (a later duplicate index overwrites an earlier one, as PyTorch's CPU kernel).
    Recorded as an indexing write, so the gradient of x is g at ``indices``."""
    x, batched = _input(op, x, nd, unbatched=True)
    idx = array_like(op, indices, x._data)
    if idx.dtype != np.int64:
        raise TypeError(f"{op}: indices must be int64, got {idx.dtype}")
    idx = idx if batched else idx[None]
    if idx.shape != x.shape:
        raise ValueError(f"{op}: indices of shape {idx.shape if batched else idx.shape[1:]} "
                         f"must have the input's shape {x.shape if batched else x.shape[1:]}")
    kernel = _ntuple(op, "kernel_size", kernel_size, nd)
    stride = kernel if stride is None else _ntuple(op, "stride", stride, nd)
    pads = _ntuple(op, "padding", padding, nd, minimum=0)
    size = _unpool_size(op, x, nd, kernel, stride, pads, output_size)
    plane = math.prod(size)
    n, c = x.shape[:2]
    low, high = (int(idx.min()), int(idx.max())) if idx.size else (0, 0)
    if low < 0 or high >= plane:
        bad = low if low < 0 else high
        raise ValueError(f"{op}: found an invalid max index {bad} (output planes are of size "
                         f"{_x(size)})")
    xp = namespace(idx)
    positions = idx.reshape(n * c, -1) + (xp.arange(n * c, dtype=np.int64) * plane)[:, None]
    flat = Tensor._make(xp.zeros(n * c * plane, dtype=x.dtype))
    flat[positions.reshape(-1)] = x.reshape(-1)
    y = flat.reshape((n, c) + size)
    return y if batched else y.squeeze(0)


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0,
                 output_size=None) -> Tensor:
    """Partial inverse of ``max_pool1d`` on (N, C, L) or (C, L); see ``max_unpool2d``."""
    return _max_unpool("max_unpool1d", 1, input, indices, kernel_size, stride, padding,
                       output_size)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0,
                 output_size=None) -> Tensor:
    """Partial inverse of ``max_pool2d``: each value goes back to the position its
    index names in its (H_out x W_out) plane, every other position is 0.

    Shapes: input and indices (N, C, H, W) or (C, H, W); output (..., H_out, W_out)
    with H_out = (H - 1) s - 2p + k, or ``output_size`` (within a stride of that) to
    undo a pooling whose input size the formula cannot recover.  The gradient of
    each input value is the upstream gradient at its index.
    """
    return _max_unpool("max_unpool2d", 2, input, indices, kernel_size, stride, padding,
                       output_size)


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0,
                 output_size=None) -> Tensor:
    """Partial inverse of ``max_pool3d`` on (N, C, D, H, W) or (C, D, H, W); see
    ``max_unpool2d``."""
    return _max_unpool("max_unpool3d", 3, input, indices, kernel_size, stride, padding,
                       output_size)
