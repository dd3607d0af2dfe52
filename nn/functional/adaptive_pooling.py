"""Adaptive pooling: average and max pooling to a fixed output size (1-D, 2-D, 3-D).

Along a spatial dim of size n pooled to n_out cells, cell i covers the input
positions [floor(i n / n_out), ceil((i + 1) n / n_out)) (as PyTorch): windows
may differ in size by one and may overlap.  Shapes: (N, C, *S) or one unbatched
sample (C, *S) -> (..., *output_size); an output size of None keeps that input
size.  No gradient code: average pooling is an einsum with one averaging matrix
per dim; max pooling finds each window's arg-max in NumPy and gathers it with
``take_along_dim``, whose gradient scatters back to the maxima.
"""
from __future__ import annotations

import math

import numpy as np

from graphgrad.autograd import Tensor, einsum, take_along_dim
from graphgrad.autograd.arrays import namespace

from .conv import _input

__all__ = ["adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
           "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d",
           "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d_with_indices",
           "adaptive_max_pool3d_with_indices"]


def _sizes(op: str, x: Tensor, nd: int, output_size) -> tuple:
    """The output size as ``nd`` ints (None keeps the input's size), checked."""
    sizes = (output_size,) * nd if isinstance(output_size, (int, np.integer)) or \
        output_size is None else tuple(output_size)
    if len(sizes) != nd:
        raise ValueError(f"{op}: output_size must be an int or {nd} ints, got {output_size!r}")
    sizes = tuple(n if s is None else int(s) for s, n in zip(sizes, x.shape[2:], strict=True))
    if any(s < 0 for s in sizes):
        raise ValueError(f"{op}: output_size must not be negative, got {output_size!r}")
    if any(n == 0 for n in x.shape[2:]):
        raise ValueError(f"{op}: expected non-empty spatial dims, got input of shape "
                         f"{x.shape}")
    return sizes


def _bounds(n_in: int, n_out: int) -> tuple:
    """(starts, stops) of the n_out windows over n_in positions."""
    i = np.arange(n_out)
    return (i * n_in) // n_out, -(-((i + 1) * n_in) // n_out)


def _averaging_matrix(n_in: int, n_out: int, dtype) -> np.ndarray:
    """P (n_out, n_in): row i is 1/|w_i| on window w_i and 0 elsewhere."""
    starts, stops = _bounds(n_in, n_out)
    columns = np.arange(n_in)
    inside = (columns >= starts[:, None]) & (columns < stops[:, None])
    return inside / (stops - starts)[:, None].astype(dtype)


def _adaptive_avg_pool(op: str, nd: int, x, output_size) -> Tensor:
    """y[..., i, j] = mean of x over the window rows w_i and columns w_j; as an einsum
    with one averaging matrix per spatial dim, so the gradient is the transposed einsum."""
    x, batched = _input(op, x, nd, unbatched=True)
    sizes = _sizes(op, x, nd, output_size)
    letters, outs = "dhw"[3 - nd:], "DHW"[3 - nd:]
    xp = namespace(x._data)
    mats = [xp.asarray(_averaging_matrix(n, s, x.dtype).astype(x.dtype))  # to x's device
            for n, s in zip(x.shape[2:], sizes, strict=True)]
    pairs = ",".join(o + i for o, i in zip(outs, letters, strict=True))
    y = einsum(f"nc{letters},{pairs}->nc{outs}", x, *mats)  # e.g. "nchw,Hh,Ww->ncHW"
    return y if batched else y.squeeze(0)


def adaptive_avg_pool1d(input, output_size) -> Tensor:
    """1-D adaptive average pooling to ``output_size`` positions; see ``adaptive_avg_pool2d``."""
    return _adaptive_avg_pool("adaptive_avg_pool1d", 1, input, output_size)


def adaptive_avg_pool2d(input, output_size) -> Tensor:
    """Average pooling to a fixed output size (H_out, W_out) (an int for both; None
    keeps that input size).  Output cell i of a dim of size n averages input
    [floor(i n / n_out), ceil((i + 1) n / n_out)), as PyTorch.  Shapes: (N, C, H, W)
    or (C, H, W) -> (..., H_out, W_out).  ``adaptive_avg_pool2d(x, 1)`` is global
    average pooling.
    """
    return _adaptive_avg_pool("adaptive_avg_pool2d", 2, input, output_size)


def adaptive_avg_pool3d(input, output_size) -> Tensor:
    """3-D adaptive average pooling of (N, C, D, H, W) or (C, D, H, W); see
    ``adaptive_avg_pool2d``."""
    return _adaptive_avg_pool("adaptive_avg_pool3d", 3, input, output_size)


def _window_positions(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, K) input positions of each window, K the longest window; shorter
    windows repeat their last position (a repeat never changes a maximum)."""
    starts, stops = _bounds(n_in, n_out)
    k = int((stops - starts).max()) if n_out else 1
    return np.minimum(starts[:, None] + np.arange(k), stops[:, None] - 1)


def _adaptive_max_pool(op: str, nd: int, x, output_size) -> tuple:
    """y = the maximum of each window, with the flat position of that maximum in its
    (sample, channel) plane (the first in row-major order on ties, the last NaN if
    there are NaNs, as PyTorch's kernel).  The values are gathered from x by
    ``take_along_dim``: the gradient of each output goes to its maximum."""
    x, batched = _input(op, x, nd, unbatched=True)
    sizes = _sizes(op, x, nd, output_size)
    xp = namespace(x._data)
    positions = [xp.asarray(_window_positions(n, s))  # to x's device
                 for n, s in zip(x.shape[2:], sizes, strict=True)]
    # Index of every window element: dim d's positions broadcast to (o_1, K_1, ..., o_nd, K_nd).
    grid = []
    for d, p in enumerate(positions):
        shape = [1] * (2 * nd)
        shape[2 * d: 2 * d + 2] = p.shape
        grid.append(p.reshape(shape))
    windows = x._data[(slice(None), slice(None)) + tuple(grid)]  # (N, C, o_1, K_1, ...)
    order = tuple(range(2)) + tuple(2 + 2 * d for d in range(nd)) + \
        tuple(3 + 2 * d for d in range(nd))
    kernel = tuple(p.shape[1] for p in positions)
    windows = windows.transpose(order).reshape(x.shape[:2] + tuple(sizes) + (math.prod(kernel),))
    best = _argmax_last_nan(windows)
    offsets = xp.unravel_index(best, kernel)  # the maximum's offset in its window, per dim
    flat = xp.zeros(best.shape, dtype=np.int64)
    for d, (p, n) in enumerate(zip(positions, x.shape[2:], strict=True)):
        cell = xp.arange(sizes[d]).reshape((1, 1) + tuple(-1 if e == d else 1 for e in range(nd)))
        flat = flat * n + p[cell, offsets[d]]  # the maximum's input coordinate along dim d
    y = take_along_dim(x.reshape(x.shape[:2] + (-1,)), flat.reshape(x.shape[:2] + (-1,)), 2)
    y = y.reshape(x.shape[:2] + tuple(sizes))
    if not batched:
        return y.squeeze(0), Tensor(flat[0])
    return y, Tensor(flat)


def _argmax_last_nan(windows: np.ndarray) -> np.ndarray:
    """Arg-max over the last axis: the first maximum, or the last NaN where there is one."""
    xp = namespace(windows)
    if windows.shape[-1] == 0 or windows.size == 0:
        return xp.zeros(windows.shape[:-1], dtype=np.int64)
    best = xp.argmax(windows, axis=-1)
    nan = xp.isnan(windows)
    if nan.any():
        last = windows.shape[-1] - 1 - xp.argmax(nan[..., ::-1], axis=-1)
        best = xp.where(nan.any(-1), last, best)
    return best


def adaptive_max_pool1d_with_indices(input, output_size, return_indices: bool = False):
    """``adaptive_max_pool1d`` returning (values, indices)."""
    return _adaptive_max_pool("adaptive_max_pool1d", 1, input, output_size)


def adaptive_max_pool2d_with_indices(input, output_size, return_indices: bool = False):
    """``adaptive_max_pool2d`` returning (values, indices)."""
    return _adaptive_max_pool("adaptive_max_pool2d", 2, input, output_size)


def adaptive_max_pool3d_with_indices(input, output_size, return_indices: bool = False):
    """``adaptive_max_pool3d`` returning (values, indices)."""
    return _adaptive_max_pool("adaptive_max_pool3d", 3, input, output_size)


def adaptive_max_pool1d(input, output_size, return_indices: bool = False):
    """1-D adaptive max pooling of (N, C, L) or (C, L); see ``adaptive_max_pool2d``."""
    out = _adaptive_max_pool("adaptive_max_pool1d", 1, input, output_size)
    return out if return_indices else out[0]


def adaptive_max_pool2d(input, output_size, return_indices: bool = False):
    """Max pooling to a fixed output size (H_out, W_out) (an int for both; None keeps
    that input size), over the windows of ``adaptive_avg_pool2d``.  The gradient of
    each output goes to its window's maximum (the first on ties).  With
    ``return_indices`` also returns each maximum's flat position in its H x W plane
    (int64), as ``max_unpool2d`` takes them.
    """
    out = _adaptive_max_pool("adaptive_max_pool2d", 2, input, output_size)
    return out if return_indices else out[0]


def adaptive_max_pool3d(input, output_size, return_indices: bool = False):
    """3-D adaptive max pooling of (N, C, D, H, W) or (C, D, H, W); see
    ``adaptive_max_pool2d`` (indices are flat positions in the D x H x W volume)."""
    out = _adaptive_max_pool("adaptive_max_pool3d", 3, input, output_size)
    return out if return_indices else out[0]
