"""Pooling as functions: max, average and adaptive average pooling (1-D and 2-D).

Shapes follow PyTorch: (N, C, *S) or one unbatched sample (C, *S).  Along each
spatial dim of size n, with kernel k, stride s (default k), padding p (at most
k / 2) and dilation d, the output has floor((n + 2p - d (k - 1) - 1) / s) + 1
positions (the ceiling with ``ceil_mode``, never starting a window in the right
padding).  No gradient code: average pooling sums the unfolded windows, max
pooling gathers each window's arg-max with an indexing op, adaptive average
pooling is an einsum with averaging matrices.
"""
from __future__ import annotations

import math

import numpy as np

from graphgrad.autograd import Tensor, einsum, where
from graphgrad.autograd.ops import conv as windows
from graphgrad.autograd.ops.conv import Window
from graphgrad.autograd.ops.index import GETITEM
from graphgrad.autograd.ops.shape import not_a_view

from .conv import _check_fits, _from_columns, _input, _ntuple

__all__ = ["max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d",
           "adaptive_avg_pool2d"]


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


def _padded_like(x: np.ndarray, geom: Window, axes: tuple, value: float) -> np.ndarray:
    """x padded per ``geom`` with ``value``, its memory in the order ``axes`` like x's."""
    shape = x.shape[:2] + geom.padded
    xp = np.full(tuple(shape[a] for a in axes), value, dtype=x.dtype)
    xp = xp.transpose(np.argsort(axes))
    xp[geom.interior()] = x
    return xp


def _max_pool(op: str, nd: int, x, kernel_size, stride, padding, dilation, ceil_mode,
              return_indices):
    """y[n, c, l] = max over kernel offsets j of x_pad[n, c, l*s + j*d] (padding is
    -inf).  The gradient goes to the position of the maximum, the first one in
    the window on ties (as PyTorch): the maxima are found in NumPy, then gathered
    from x by a differentiable indexing op whose gradient scatters back to them.
    The output keeps x's memory order (one gather in that order)."""
    x, batched = _input(op, x, nd, unbatched=True)
    geom, _ = _pool_window(op, x, nd, kernel_size, stride, padding, dilation, ceil_mode)
    values, strides, axes = _memory_order(x)
    padded = any(lo or hi for lo, hi in geom.padding)
    xp = _padded_like(x._data, geom, axes, -np.inf) if padded else x._data
    best, index = windows.window_argmax(xp, geom)
    positions = windows.window_offsets(geom, strides[2:])[index.transpose(axes)]
    positions += windows.window_starts(geom, strides, axes)  # (N, C, *L) in memory order
    inside = None
    if padded and np.isneginf(best).any():  # a window of padding only (dilation) gives -inf
        coords = _max_coordinates(geom, index)
        inside = np.logical_and.reduce([(c >= 0) & (c < n) for c, n in
                                        zip(coords, x.shape[2:], strict=True)])
        positions = np.where(inside.transpose(axes), positions, 0)
    # The indexing op itself (the public x[i] would copy the fresh index array), with a
    # 1-D index: its scatter-add in backward (np.add.at) is several times faster.
    y = GETITEM(values, index=(positions.reshape(-1),), shape=values.shape)
    y = not_a_view(y.reshape(positions.shape).permute(tuple(np.argsort(axes))))
    if inside is not None:
        y = where(inside, y, -np.inf)
    if not batched:
        y = y.squeeze(0)
    if not return_indices:
        return y
    flat = np.zeros(index.shape, dtype=np.int64)
    for c, n in zip(_max_coordinates(geom, index), x.shape[2:], strict=True):
        flat = flat * n + c  # PyTorch's indices: the position in each (n, c) plane
    return y, Tensor(flat if batched else flat[0])


def _max_coordinates(geom: Window, index: np.ndarray) -> list:
    """For each spatial dim, the coordinate in the unpadded input of every window's
    element ``index`` (negative or too large inside the padding)."""
    offsets = np.array(list(geom.offsets()), dtype=np.int64).reshape(-1, len(geom.kernel))
    coords = []
    for i, (s, d, (lo, _)) in enumerate(zip(geom.stride, geom.dilation, geom.padding,
                                            strict=True)):
        shape = [1] * index.ndim
        shape[2 + i] = geom.out[i]
        coords.append((np.arange(geom.out[i]) * s).reshape(shape) + offsets[index, i] * d - lo)
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
    the first in row-major order on ties (as PyTorch).  With ``return_indices``
    also returns the position of each maximum in its flattened H x W plane.
    """
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


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
        counts = windows.window_counts(geom, tuple((p, p) for p in pads), count_include_pad)
        uniform = counts.min() == counts.max()
        divisor = float(counts.flat[0]) if uniform else Tensor(counts, dtype=x.dtype)
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


def _averaging_matrix(n_in: int, n_out: int, dtype) -> np.ndarray:
    """P (n_out, n_in): row i is 1/|w_i| on w_i = [floor(i n_in / n_out),
    ceil((i + 1) n_in / n_out)) and 0 elsewhere."""
    p = np.zeros((n_out, n_in), dtype=dtype)
    for i in range(n_out):
        start, stop = (i * n_in) // n_out, -(-((i + 1) * n_in) // n_out)
        p[i, start:stop] = 1.0 / (stop - start)
    return p


def _adaptive_avg_pool(op: str, nd: int, x, output_size) -> Tensor:
    """y[..., i, j] = mean of x over the window rows w_i and columns w_j; as an einsum
    with one averaging matrix per spatial dim, so the gradient is the transposed einsum."""
    x, batched = _input(op, x, nd, unbatched=True)
    sizes = (output_size,) * nd if isinstance(output_size, (int, np.integer)) or \
        output_size is None else tuple(output_size)
    if len(sizes) != nd:
        raise ValueError(f"{op}: output_size must be an int or {nd} ints, got {output_size!r}")
    sizes = tuple(n if s is None else int(s) for s, n in zip(sizes, x.shape[2:], strict=True))
    if any(s < 1 for s in sizes):
        raise ValueError(f"{op}: output_size must be positive, got {output_size!r}")
    letters = "hwd"[:nd]
    outs = "HWD"[:nd]
    mats = [_averaging_matrix(n, s, x.dtype) for n, s in zip(x.shape[2:], sizes, strict=True)]
    pairs = ",".join(o + i for o, i in zip(outs, letters, strict=True))
    spec = f"nc{letters},{pairs}->nc{outs}"  # e.g. "nchw,Hh,Ww->ncHW"
    y = einsum(spec, x, *mats)
    return y if batched else y.squeeze(0)


def adaptive_avg_pool1d(input, output_size) -> Tensor:
    """1-D adaptive average pooling to ``output_size`` positions; see ``adaptive_avg_pool2d``."""
    return _adaptive_avg_pool("adaptive_avg_pool1d", 1, input, output_size)


def adaptive_avg_pool2d(input, output_size) -> Tensor:
    """Average pooling to a fixed output size (H_out, W_out) (an int for both; None
    keeps that input size).  Output cell i of a dim of size n averages input
    [floor(i n / n_out), ceil((i + 1) n / n_out)), as PyTorch; windows may differ
    in size and overlap.  Shapes: (N, C, H, W) or (C, H, W) -> (..., H_out, W_out).
    """
    return _adaptive_avg_pool("adaptive_avg_pool2d", 2, input, output_size)
