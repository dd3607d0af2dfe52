"""Sliding windows: ``unfold`` (im2col) and its adjoint ``fold`` (col2im).

These two linear primitives are all that convolution and pooling need; the
layers in ``nn.functional`` compose them with matmul, sums and indexing:

    conv(x, w)            = W @ unfold(x)                    (then reshaped to N, O, *L;
                                                              a large one: conv_by_rows)
    conv_transpose(x, w)  = fold(W^T @ x)
    avg_pool(x)           = mean over the window axis of unfold(x)
    max_pool(x)           = x at the arg-max of each window   (a gather)

For an input x of shape (N, C, *S) (S the spatial sizes), a kernel k, stride s,
dilation d and padding (lo, hi) per spatial dim, window l of dim i covers the
padded positions l*s + j*d for j = 0..k-1, and there are

    L = floor((S + lo + hi - d (k - 1) - 1) / s) + 1

windows along that dim.  ``unfold`` copies every window into a column:

    cols[(c, j), (l, n)] = x_padded[n, c, l*s + j*d]       shape (C * prod(k), prod(L) * N)

(rows ordered by channel then kernel offset, columns by window then sample;
this layout makes a convolution a single large matrix product).  ``fold`` is the
adjoint (transpose) of ``unfold``: it adds every column entry back into the
position it was copied from and drops the padding,

    x[n, c, p] = sum over (j, l) with l*s + j*d = p + lo of cols[(c, j), (n, l)],

so unfold's vector-Jacobian product is fold and fold's is unfold, to any order.

Both loop over the prod(k) kernel offsets and move one strided slice of all
N * C * prod(L) elements per offset, which is much faster in NumPy than
gathering with index arrays or scattering with ``np.add.at``.  Padding is never
materialised: each offset copies only the windows that fall inside the input
and zeroes the others.  The image is read and written in the columns' order,
(C, *S, N) -- channels first, the batch last -- so every copy moves runs of
whole rows times N contiguous elements (with NCHW the runs would be single rows,
and NumPy's per-run overhead would dominate).  fold's result and a convolution's
output (W @ cols, reshaped) are therefore NCHW views of (C, *S, N) memory, which
the next layer's unfold or pooling reads without reordering.

With a stride s > 1 an offset reads every s-th position, runs of only N
elements.  When windows overlap (k d > s: several offsets per position, as the
4x4 stride-2 layers of a DCGAN), the image is first split into its s phases,
one copy,

    phases[c, r, b, n] = image[c, b*s + r, n]        (per spatial dim: r < s, b < ceil(S / s)),

where offset j of window l reads phase (l*s + j*d - lo) mod s at block
l + floor((j*d - lo) / s): consecutive windows read consecutive blocks, runs of
whole rows of blocks times N again.  fold adds into the phases and interleaves
them back into the image once.
"""
from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np

from ..arrays import namespace
from ..tensor import Tensor
from ._registry import Op
from .linalg import MATMUL


class Window(NamedTuple):
    """The geometry of a sliding window over an input of shape ``shape`` = (N, C, *S).

    ``kernel``, ``stride``, ``dilation``: one int per spatial dim; ``padding``:
    one (lo, hi) pair per spatial dim; ``out``: the number of windows L per dim.
    """

    shape: tuple
    kernel: tuple
    stride: tuple
    padding: tuple
    dilation: tuple
    out: tuple

    @property
    def padded(self) -> tuple:
        """The spatial sizes after padding."""
        return tuple(n + lo + hi for n, (lo, hi) in zip(self.shape[2:], self.padding, strict=True))

    @property
    def cols_shape(self) -> tuple:
        """The shape of ``unfold``'s result: (C * prod(kernel), prod(out) * N)."""
        n, c = self.shape[:2]
        return (c * math.prod(self.kernel), n * math.prod(self.out))

    def offsets(self):
        """The kernel offsets (j_1, j_2, ...) in row-major order."""
        return np.ndindex(*self.kernel)

    def slices(self, offset: tuple) -> tuple:
        """Index of the padded image, laid out (C, N, *S_padded) or (N, C, *S_padded),
        that selects element ``offset`` of every window."""
        return (slice(None), slice(None)) + tuple(
            slice(j * d, j * d + s * (n - 1) + 1, s)
            for j, d, s, n in zip(offset, self.dilation, self.stride, self.out, strict=True)
        )

    def overlap(self, offset: tuple) -> tuple:
        """Where element ``offset`` of the windows falls inside the unpadded input.

        Returns (windows, inputs, edges): ``windows`` indexes the windows (over
        dims (*L), None when none of them reaches the input), ``inputs`` the input
        positions they read (over dims (*S)), and ``edges`` one (first, last)
        pair per dim: the windows outside [first, last) read padding.
        """
        windows, inputs, edges = [], [], []
        for j, d, s, size, n, (lo, _) in zip(offset, self.dilation, self.stride, self.out,
                                             self.shape[2:], self.padding, strict=True):
            # Window l reads input position l*s + j*d - lo; keep the l with 0 <= it < n.
            first = max(0, -(-(lo - j * d) // s))
            last = min(size, (n - 1 + lo - j * d) // s + 1)
            edges.append((first, max(first, last)))
            start = first * s + j * d - lo
            windows.append(slice(first, last))
            inputs.append(slice(start, start + s * (last - first - 1) + 1, s))
        if any(last <= first for first, last in edges):
            return None, None, edges
        return tuple(windows), tuple(inputs), edges

    def interior(self) -> tuple:
        """Index of the padded image that selects the unpadded input."""
        return (slice(None), slice(None)) + tuple(
            slice(lo, lo + n) for n, (lo, _) in zip(self.shape[2:], self.padding, strict=True)
        )


def window(shape: tuple, kernel: tuple, stride: tuple, padding: tuple, dilation: tuple,
           ceil_mode: bool = False) -> Window:
    """The Window over ``shape`` = (N, C, *S); ``padding`` holds (lo, hi) pairs.

    L = floor((S + lo + hi - d (k - 1) - 1) / s) + 1, or with ``ceil_mode`` the
    ceiling, dropping a last window that would start in the right padding (as
    PyTorch's pooling); the ``hi`` padding is then extended so that every window
    lies inside the padded input.  Sizes are assumed valid (callers check them).
    """
    out, padding = [], list(padding)
    dims = zip(shape[2:], kernel, stride, padding, dilation, strict=True)
    for i, (n, k, s, (lo, hi), d) in enumerate(dims):
        span = n + lo + hi - d * (k - 1) - 1
        size = (-(-span // s) if ceil_mode else span // s) + 1
        if ceil_mode and (size - 1) * s >= n + lo:
            size -= 1
        extra = (size - 1) * s + d * (k - 1) + 1 - (n + lo + hi)
        if extra > 0:
            padding[i] = (lo, hi + extra)
        out.append(size)
    return Window(tuple(shape), tuple(kernel), tuple(stride), tuple(padding), tuple(dilation),
                  tuple(out))


@functools.lru_cache(maxsize=64)
def _overlaps(geom: Window) -> tuple:
    """(offset, windows, inputs, edges) for every kernel offset (see ``Window.overlap``)."""
    return tuple((offset, *geom.overlap(offset)) for offset in geom.offsets())


def _by_phase(geom: Window) -> bool:
    """Whether unfold and fold go through the phases (see the module docstring): a
    stride above 1 with windows that overlap, so that each phase serves several offsets."""
    return any(s > 1 for s in geom.stride) and \
        math.prod(geom.kernel) > math.prod(geom.stride)


def _blocks(geom: Window) -> tuple:
    """ceil(S / s) per spatial dim: the blocks of each phase."""
    return tuple(-(-n // s) for n, s in zip(geom.shape[2:], geom.stride, strict=True))


@functools.lru_cache(maxsize=64)
def _phase_overlaps(geom: Window) -> tuple:
    """``_overlaps`` with ``inputs`` indexing the phases (C, *s, *blocks, N) instead
    of the image (C, *S, N): the phase of each dim, then the slice of its blocks."""
    rebased = []
    for offset, windows, inputs, edges in _overlaps(geom):
        if windows is not None:
            starts = [index.start for index in inputs]
            count = [w.stop - w.start for w in windows]
            inputs = tuple(start % s for start, s in zip(starts, geom.stride, strict=True)) + \
                tuple(slice(start // s, start // s + m)
                      for start, s, m in zip(starts, geom.stride, count, strict=True))
        rebased.append((offset, windows, inputs, edges))
    return tuple(rebased)


def _phase_parts(geom: Window):
    """(phase, index) pairs: ``phases[(slice(None),) + phase]`` holds
    ``image[(slice(None),) + index]`` (both over (C, *S, N) dims)."""
    for phase in np.ndindex(*geom.stride):
        yield phase, tuple(slice(r, None, s) for r, s in zip(phase, geom.stride, strict=True))


def _to_phases(image, geom: Window):
    """phases[c, *r, *b, n] = image[c, *(b*s + r), n]; blocks past the image are left
    unset (no window reads them)."""
    c, n = image.shape[0], image.shape[-1]
    phases = namespace(image).empty((c, *geom.stride, *_blocks(geom), n), dtype=image.dtype)
    for phase, index in _phase_parts(geom):
        part = image[(slice(None),) + index]
        phases[(slice(None),) + phase + tuple(slice(0, m) for m in part.shape[1:-1])] = part
    return phases


def _from_phases(phases, geom: Window):
    """The image (C, *S, N) whose phases are ``phases`` (the inverse of ``_to_phases``)."""
    c, n = phases.shape[0], phases.shape[-1]
    image = namespace(phases).empty((c, *geom.shape[2:], n), dtype=phases.dtype)
    for phase, index in _phase_parts(geom):
        part = image[(slice(None),) + index]
        part[...] = phases[(slice(None),) + phase + tuple(slice(0, m) for m in part.shape[1:-1])]
    return image


def _channels_first_batch_last(nd: int) -> tuple:
    """The axes that view (N, C, *S) as (C, *S, N)."""
    return (1,) + tuple(range(2, 2 + nd)) + (0,)


def _unfold(x, geom: Window):
    xp = namespace(x)
    n, c = geom.shape[:2]
    nd = len(geom.kernel)
    image = x.transpose(_channels_first_batch_last(nd))  # (C, *S, N), the columns' order
    if _by_phase(geom):
        image, overlaps = _to_phases(image, geom), _phase_overlaps(geom)
    else:
        overlaps = _overlaps(geom)
        if not image.flags.c_contiguous:  # one reordering copy beats k strided gathers
            image = xp.ascontiguousarray(image)
    cols = xp.empty((c, *geom.kernel, *geom.out, n), dtype=x.dtype)
    for offset, windows, inputs, edges in overlaps:
        target = cols[(slice(None),) + offset]  # (C, *L, N)
        for i, (first, last) in enumerate(edges):  # zero the windows that read padding
            before = (slice(None),) * (1 + i)
            if first:
                target[before + (slice(0, first),)] = 0
            if last < target.shape[1 + i]:
                target[before + (slice(last, None),)] = 0
        if windows is not None:
            target[(slice(None),) + windows] = image[(slice(None),) + inputs]
    return cols.reshape(geom.cols_shape)


def _fold(cols, geom: Window):
    nd = len(geom.kernel)
    image = _fold_into_columns_order(cols, geom)
    return image.transpose((nd + 1, 0) + tuple(range(1, nd + 1)))  # (N, C, *S)


def _fold_into_columns_order(cols, geom: Window):
    """fold's image, laid out (C, *S, N)."""
    n, c = geom.shape[:2]
    cols = cols.reshape(c, *geom.kernel, *geom.out, n)
    by_phase = _by_phase(geom)
    sums = namespace(cols).zeros((c, *geom.stride, *_blocks(geom), n) if by_phase else
                                 (c, *geom.shape[2:], n), dtype=cols.dtype)
    for offset, windows, inputs, _ in _phase_overlaps(geom) if by_phase else _overlaps(geom):
        if windows is not None:  # entries that fall in the padding are dropped
            source = cols[(slice(None),) + offset]  # (C, *L, N)
            sums[(slice(None),) + inputs] += source[(slice(None),) + windows]
    return _from_phases(sums, geom) if by_phase else sums


UNFOLD = Op("unfold", _unfold, lambda g, out, x, geom: FOLD(g, geom=geom))
FOLD = Op("fold", _fold, lambda g, out, cols, geom: UNFOLD(g, geom=geom))


def unfold(x, geom: Window):
    """The columns of every window of x (N, C, *S): shape (C * prod(k), prod(L) * N).

    Linear in x; its vector-Jacobian product is ``fold``.  ``geom`` comes from
    ``window``; x's shape must equal ``geom.shape``.
    """
    if tuple(x.shape) != geom.shape:
        raise ValueError(f"unfold: input of shape {tuple(x.shape)} does not match the window "
                         f"geometry's input shape {geom.shape}")
    return UNFOLD(x, geom=geom)


def fold(cols, geom: Window):
    """Sum columns (C * prod(k), prod(L) * N) back into an image of shape ``geom.shape``.

    The adjoint of ``unfold``: overlapping window entries add up, padding is
    dropped.  Its vector-Jacobian product is ``unfold``.
    """
    if tuple(cols.shape) != geom.cols_shape:
        raise ValueError(f"fold: columns of shape {tuple(cols.shape)} do not match the window "
                         f"geometry, which expects {geom.cols_shape}")
    return FOLD(cols, geom=geom)


# ------------------------------------------------- a convolution in bands of output rows
# Above this many bytes of columns a convolution runs in bands of output rows (the
# MNIST CNN's conv2: 42 MiB of columns); below it, unfold + linear keep the columns
# for the kernel gradient.
BY_ROWS_MIN_BYTES = 16 << 20
_BAND_BYTES = 2 << 20  # about one L2 cache: the columns of one band


@functools.lru_cache(maxsize=16)
def _bands(geom: Window, rows: int) -> tuple:
    """(input rows, the band's Window, first column, last column) for bands of ``rows``
    output rows of the first spatial dim."""
    (k, *_), (s, *_), (d, *_), ((lo, _), *_) = geom.kernel, geom.stride, geom.dilation, \
        geom.padding
    per_row = geom.cols_shape[1] // geom.out[0]  # columns of one output row
    bands = []
    for first in range(0, geom.out[0], rows):
        stop = min(first + rows, geom.out[0])
        start, end = first * s - lo, (stop - 1) * s + d * (k - 1) - lo + 1  # padded rows read
        a = min(max(start, 0), geom.shape[2])
        b = max(min(end, geom.shape[2]), a)  # (no input rows: a band of padding only)
        band = Window(geom.shape[:2] + (b - a,) + geom.shape[3:], geom.kernel, geom.stride,
                      ((a - start, end - b),) + geom.padding[1:], geom.dilation,
                      (stop - first,) + geom.out[1:])
        bands.append((slice(a, b), band, first * per_row, stop * per_row))
    return tuple(bands)


def _conv_by_rows(x, w, bias=None, *, geom: Window, rows: int):
    xp = namespace(x)
    y = xp.empty((w.shape[0], geom.cols_shape[1]), dtype=xp.result_type(x, w))
    for inputs, band, first, stop in _bands(geom, rows):
        xp.matmul(w, _unfold(x[:, :, inputs], band), out=y[:, first:stop])
    if bias is not None:
        y += bias
    return y


def _conv_by_rows_vjp(i, g, out, inputs, geom: Window, rows: int):
    x, w = inputs[:2]
    if i == 2:
        return g  # the engine sums it over the dims the bias was broadcast along
    if isinstance(g, Tensor):  # create_graph: the same maths with unfold, fold and matmul
        if i == 0:
            return FOLD(MATMUL(w.T, g), geom=geom)
        return MATMUL(g, UNFOLD(x, geom=geom).T)
    xp = namespace(g)
    bands = _bands(geom, rows)
    if i == 0:  # fold(W^T g), band by band, into the image laid out (C, *S, N)
        image = xp.zeros(geom.shape[1:] + geom.shape[:1], dtype=g.dtype)
        for band_inputs, band, first, stop in bands:
            image[:, band_inputs] += _fold_into_columns_order(w.T @ g[:, first:stop], band)
        return image.transpose((image.ndim - 1,) + tuple(range(image.ndim - 1)))
    kernel = xp.zeros(w.shape[::-1], dtype=g.dtype)  # (C k, O): cols g^T, band by band
    for band_inputs, band, first, stop in bands:
        kernel += _unfold(x[:, :, band_inputs], band) @ g[:, first:stop].T
    return kernel.T


CONV_BY_ROWS = Op("conv_by_rows", _conv_by_rows, _conv_by_rows_vjp, saves="inputs",
                  variadic=True, broadcasts=True)


def conv_by_rows(x, w, bias, geom: Window):
    """y = W @ unfold(x) (+ bias), shape (O, prod(L) * N), computed in bands of the
    first spatial dim's output rows: each band's columns (about 2 MiB) are unfolded
    and multiplied while they are in the cache, and none are kept.  Gradients, band
    by band too: dW = g unfold(x)^T (the columns unfolded again), dx = fold(W^T g),
    db = g summed over the columns.  ``w`` is (O, C prod(k)), ``bias`` None or (O, 1).
    Used for convolutions with more than ``BY_ROWS_MIN_BYTES`` of columns (the MNIST
    CNN's conv2, (64, 32, 26, 26) by 3x3: forward 23.5 -> 19.2 ms in the training
    step, the kernel gradient as fast as from kept columns, 42 MiB less memory)."""
    per_row = geom.cols_shape[1] // geom.out[0]
    rows = max(1, _BAND_BYTES // (geom.cols_shape[0] * per_row * x._data.itemsize))
    inputs = (x, w) if bias is None else (x, w, bias)
    return CONV_BY_ROWS(*inputs, geom=geom, rows=rows)

