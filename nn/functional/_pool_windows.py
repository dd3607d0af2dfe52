"""Pooling's window arithmetic on plain arrays (no gradients): the max of every window
and where it is, where each window starts in memory, how many elements each averages.

``nn.functional.pooling`` turns these into a gather (max pooling) and a division
(average pooling) of autograd ops; the geometry comes from
``graphgrad.autograd.ops.conv.window`` (the ``Window`` that unfold and fold use).
"""
from __future__ import annotations

import functools

import numpy as np

from graphgrad.autograd.arrays import namespace
from graphgrad.autograd.ops.conv import Window


def window_argmax(image: np.ndarray, geom: Window) -> tuple:
    """Max and arg-max of every window of a padded image (N, C, *S_padded).

    Returns (values, index), both of shape (N, C, *L): ``index`` is the
    row-major kernel offset of the window's maximum, the first one on ties (as
    PyTorch); a NaN wins over numbers (the first NaN).  One pass per kernel
    offset over strided views, no copy of the windows.
    """
    xp = namespace(image)
    views = [image[geom.slices(offset)] for offset in geom.offsets()]
    dtype = np.int8 if len(views) < 128 else np.int64
    if len(views) == 1:
        return views[0].copy(), xp.zeros(views[0].shape, dtype=dtype)
    larger = xp.greater(views[1], views[0])  # strictly: on ties the first maximum stays
    best = xp.maximum(views[0], views[1])  # propagates NaN
    index = larger.astype(dtype)
    for k, v in enumerate(views[2:], 2):
        xp.greater(v, best, out=larger)
        xp.maximum(best, v, out=best)
        index += larger.view(np.int8) * (dtype(k) - index)  # index = k where larger
    nan = xp.isnan(best)
    if nan.any():
        index[nan] = 0
        for k in range(len(views) - 1, -1, -1):
            index[nan & xp.isnan(views[k])] = k
    return best, index


def window_offsets(geom: Window, strides: tuple, xp=np) -> np.ndarray:
    """The displacement of each kernel offset (row-major) in an array whose spatial
    dims have element ``strides`` (an array of the array module ``xp``)."""
    return xp.asarray([sum(j * d * st for j, d, st in
                         zip(offset, geom.dilation, strides, strict=True))
                     for offset in geom.offsets()], dtype=np.int64)


@functools.lru_cache(maxsize=8)
def window_starts(geom: Window, strides: tuple, axes: tuple, xp=np) -> np.ndarray:
    """The position of the first element of every window, in an unpadded input whose
    dims (N, C, *S) have element ``strides`` (windows that start in the padding
    point before their row); an array of shape (N, C, *L) transposed to ``axes``
    (C-contiguous), of the array module ``xp``.  Cached (not to be written to): a
    training loop asks for the same geometry at every step."""
    sizes = geom.shape[:2] + geom.out
    steps = (1, 1) + geom.stride
    shifts = (0, 0) + tuple(lo for lo, _ in geom.padding)
    starts = xp.zeros((1,) * len(sizes), dtype=np.int64)
    for i, (n, step, shift, st) in enumerate(zip(sizes, steps, shifts, strides, strict=True)):
        shape = [1] * len(sizes)
        shape[i] = n
        starts = starts + ((xp.arange(n, dtype=np.int64) * step - shift) * st).reshape(shape)
    starts = xp.ascontiguousarray(starts.transpose(axes))
    if xp is np:
        starts.flags.writeable = False
    return starts


def window_counts(geom: Window, padding: tuple, include_pad: bool) -> np.ndarray:
    """How many elements each window averages over, shape (*L), as PyTorch's avg_pool:
    the positions inside the input, plus (with ``include_pad``) those inside the
    declared ``padding`` ((lo, hi) pairs), never the extra right padding that
    ``ceil_mode`` adds."""
    inside = np.zeros(geom.padded)
    region = []
    for n, (lo, _), (lo0, hi0) in zip(geom.shape[2:], geom.padding, padding, strict=True):
        region.append(slice(lo - lo0, lo + n + hi0) if include_pad else slice(lo, lo + n))
    inside[tuple(region)] = 1.0
    total = np.zeros(geom.out)
    for offset in geom.offsets():
        total += inside[geom.slices(offset)[2:]]
    return total
