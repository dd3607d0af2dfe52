"""Convolutions as functions, composed from the ``unfold``/``fold`` primitives.

Shapes follow PyTorch: inputs (N, C, *S) with S = (L,) for 1-D and (H, W) for
2-D; a convolution weight is (C_out, C_in / groups, *k), a transposed
convolution weight (C_in, C_out / groups, *k).  Along each spatial dim of size
n, with kernel k, stride s, padding p and dilation d, the output has

    floor((n + 2p - d (k - 1) - 1) / s) + 1

positions.  Every function checks its arguments and raises ``ValueError``
naming the function and the shapes.

Nothing here computes a gradient: convolution is unfold + matmul (one with many
columns runs as ``conv_by_rows``, the same in bands of output rows), transposed
convolution is matmul + fold, and a large depthwise convolution is a few matrix
products with banded matrices built from its weight (``_depthwise2d_banded``);
the engine differentiates the pieces (to any order).  The pooling functions, in
``pooling.py``, share the argument helpers.
"""
from __future__ import annotations

import functools
import math

import numpy as np

import graphgrad.autograd as ag
from graphgrad.autograd import Tensor
from graphgrad.autograd.arrays import namespace
from graphgrad.autograd.ops import conv as windows
from graphgrad.autograd.ops.conv import Window
from graphgrad.autograd.ops.shape import not_a_view
from graphgrad.autograd.tensor import tensor_arg

__all__ = [
    "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
    "unfold", "fold",
]

_SPATIAL = {1: "L", 2: "H, W", 3: "D, H, W"}


# ------------------------------------------------------------------ arguments
def _ntuple(op: str, name: str, value, nd: int, minimum: int = 1) -> tuple:
    """An int or a sequence of ``nd`` ints as an ``nd``-tuple, each >= ``minimum``."""
    values = (value,) * nd if isinstance(value, (int, np.integer)) else tuple(value)
    if len(values) != nd or not all(isinstance(v, (int, np.integer)) for v in values):
        raise ValueError(f"{op}: {name} must be an int or {nd} ints, got {value!r}")
    if any(v < minimum for v in values):
        raise ValueError(f"{op}: {name} must be >= {minimum}, got {value!r}")
    return tuple(int(v) for v in values)


def _input(op: str, x, nd: int, unbatched: bool = False) -> tuple:
    """``x`` as a float Tensor of nd + 2 dims (N, C, *S); an (nd + 1)-dim input is
    accepted as one unbatched sample when ``unbatched``.  Returns (x, batched)."""
    x = tensor_arg(x)
    if unbatched and x.ndim == nd + 1:
        return _float(op, x.unsqueeze(0)), False
    if x.ndim != nd + 2:
        accepted = f"{nd + 1}-D or " if unbatched else ""
        raise ValueError(f"{op}: expected a {accepted}{nd + 2}-D input (N, C, {_SPATIAL[nd]}), "
                         f"got shape {x.shape}")
    return _float(op, x), True


def _float(op: str, x: Tensor) -> Tensor:
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating point input, got dtype {x.dtype}")
    return x


def _check_fits(op: str, x: Tensor, geom: Window, what: str = "kernel") -> None:
    """Every dim needs at least one window: d (k - 1) + 1 <= n + lo + hi."""
    extent = tuple(d * (k - 1) + 1 for k, d in zip(geom.kernel, geom.dilation, strict=True))
    if any(e > n for e, n in zip(extent, geom.padded, strict=True)) or any(n < 1 for n in geom.out):
        raise ValueError(
            f"{op}: the {what} (size {_x(geom.kernel)}, dilated extent {_x(extent)}) is larger "
            f"than the padded input ({_x(geom.padded)}); input shape {x.shape}, padding "
            f"{tuple(lo for lo, _ in geom.padding)}"
        )


def _x(sizes: tuple) -> str:
    return "x".join(str(n) for n in sizes)


def _same_padding(op: str, kernel: tuple, stride: tuple, dilation: tuple) -> tuple:
    # "same": total padding d (k - 1), the odd unit on the right (as PyTorch).
    if any(s != 1 for s in stride):
        raise ValueError(f"{op}: padding='same' is not supported for strided convolutions "
                         f"(stride {stride})")
    return tuple((d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2)
                 for k, d in zip(kernel, dilation, strict=True))


def _conv_padding(op: str, padding, kernel: tuple, stride: tuple, dilation: tuple) -> tuple:
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * len(kernel)
        if padding == "same":
            return _same_padding(op, kernel, stride, dilation)
        raise ValueError(f"{op}: padding must be an int, a tuple, 'same' or 'valid', "
                         f"got {padding!r}")
    return tuple((p, p) for p in _ntuple(op, "padding", padding, len(kernel), minimum=0))


def _check_bias(op: str, bias, channels: int):
    if bias is None:
        return None
    bias = tensor_arg(bias)
    if bias.shape != (channels,):
        raise ValueError(f"{op}: expected a bias of shape ({channels},), got {bias.shape}")
    return bias


def _add_bias(y: Tensor, bias, nd: int) -> Tensor:
    if bias is None:
        return y
    return y + bias.reshape((1, bias.shape[0]) + (1,) * nd)


def _to_columns(x: Tensor) -> Tensor:
    """(N, C, *S) viewed as (C, *S, N): the layout of the columns (no copy when x's
    memory is already in that order, as a convolution's output is)."""
    return x.permute((1,) + tuple(range(2, x.ndim)) + (0,))


def _from_columns(y: Tensor) -> Tensor:
    """(C, *S, N) viewed as (N, C, *S): the inverse of ``_to_columns``.  ``y`` is the
    product's private result, so the output is a tensor of its own (not a view)."""
    return not_a_view(y.permute((y.ndim - 1,) + tuple(range(y.ndim - 1))))


def _weight(op: str, weight, nd: int, layout: str) -> Tensor:
    weight = tensor_arg(weight)
    if weight.ndim != nd + 2:
        raise ValueError(f"{op}: expected a {nd + 2}-D weight {layout}, got shape {weight.shape}")
    return weight


def _groups(op: str, groups) -> int:
    if not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    return int(groups)


# ---------------------------------------------------------------- convolution
def _conv(op: str, nd: int, x, weight, bias, stride, padding, dilation, groups) -> Tensor:
    """y[n, o, l] = b[o] + sum over c in o's group and kernel offsets j of
    w[o, c, j] x_padded[n, c, l*s + j*d], computed as W @ unfold(x) (O, L * N),
    returned as an (N, O, *L) view of that (O, *L, N) product."""
    x, _ = _input(op, x, nd)
    weight = _weight(op, weight, nd, "(C_out, C_in / groups, *kernel)")
    groups = _groups(op, groups)
    c_out, c_group = weight.shape[:2]
    kernel = weight.shape[2:]
    if c_group * groups != x.shape[1]:
        raise ValueError(
            f"{op}: expected input with {c_group * groups} channels (weight of shape "
            f"{weight.shape}, groups={groups}), got {x.shape[1]} channels in input of shape "
            f"{x.shape}"
        )
    if c_out % groups:
        raise ValueError(f"{op}: out_channels {c_out} (weight of shape {weight.shape}) must be "
                         f"divisible by groups={groups}")
    bias = _check_bias(op, bias, c_out)
    stride = _ntuple(op, "stride", stride, nd)
    dilation = _ntuple(op, "dilation", dilation, nd)
    pads = _conv_padding(op, padding, kernel, stride, dilation)
    geom = windows.window(x.shape, kernel, stride, pads, dilation)
    _check_fits(op, x, geom)
    if nd == 2 and groups > 1 and c_group == 1 and _banded_is_cheaper(geom):
        return _add_bias(_depthwise2d_banded(x, weight, geom), bias, nd)
    pointwise = all(k == 1 for k in kernel) and all(s == 1 for s in stride) and \
        not any(lo or hi for lo, hi in pads)
    if groups == 1 and not pointwise and \
            math.prod(geom.cols_shape) * x._data.itemsize > windows.BY_ROWS_MIN_BYTES:
        y = windows.conv_by_rows(x, weight.reshape(c_out, -1), None if bias is None else
                                bias.reshape(c_out, 1), geom)
        return _from_columns(y.reshape((c_out,) + geom.out + (x.shape[0],)))
    if pointwise:
        cols = _to_columns(x).reshape(x.shape[1], -1)  # 1x1: no copy after another conv
    else:
        cols = windows.unfold(x, geom)  # (C * K, L * N)
    if groups == 1:  # W @ cols + b[:, None], as linear(W, cols^T, b[:, None]): one op
        y = ag.linear(weight.reshape(c_out, -1), cols.T,
                      None if bias is None else bias.reshape(c_out, 1))
        return _from_columns(y.reshape((c_out,) + geom.out + (x.shape[0],)))
    y = weight.reshape(groups, c_out // groups, -1) @ cols.reshape(groups, -1, cols.shape[1])
    y = _from_columns(y.reshape((c_out,) + geom.out + (x.shape[0],)))
    return _add_bias(y, bias, nd)


# When depthwise convolutions run as banded products (_depthwise2d_banded), measured
# here (2 cores, float32, 3x3, fwd + bwd, N * C * H * W from 25k to 3.2M elements): with
# stride 1 from about 400k elements on (0.5-0.9x unfold's time; unfold's k^2 copies
# outgrow the caches), with stride 2 from about 1.6M (0.6-0.8x), and while the band
# wastes little (it does W_p * s_w / k_w times the multiply-adds of a direct convolution:
# 1.45x faster at 112x112, 0.75x at 224x224).  Smaller layers stay with unfold (its few
# operations cost less there).
_BANDED_MIN_SIZE = 400_000  # elements of the input, times s_h s_w for a strided layer
_BANDED_MAX_WASTE = 48


def _banded_is_cheaper(geom: Window) -> bool:
    (sh, sw), (_, kw) = geom.stride, geom.kernel
    large = math.prod(geom.shape) >= _BANDED_MIN_SIZE * sh * sw
    return large and geom.padded[1] * sw <= _BANDED_MAX_WASTE * kw


@functools.lru_cache(maxsize=64)
def _column_shifts(k: int, width: int, out: int, stride: int, dilation: int,
                   dtype: np.dtype, xp=np) -> np.ndarray:
    """E[q, v, j] = 1 where v = j * stride + q * dilation: kernel column q's tap of each
    output column j in a padded row of ``width``, an array of the array module ``xp``
    (shared: not to be written to)."""
    shifts = xp.zeros((k, width, out), dtype=dtype)
    j = xp.arange(out)
    for q in range(k):
        shifts[q, j * stride + q * dilation, j] = 1
    if xp is np:
        shifts.flags.writeable = False
    return shifts


def _depthwise2d_banded(x: Tensor, weight: Tensor, geom: Window) -> Tensor:
    """A depthwise convolution (groups = C_in, C_out = m C_in) as k_h batched matrix
    products with banded matrices, one per kernel row p:

        y[n, c m + r, i, j] = sum_p sum_v xp[n, c, i s_h + p d_h, v] T_p[c, r, v, j],
        T_p[c, r, v, j] = sum_q w[c m + r, 0, p, q] [v = j s_w + q d_w]

    with xp the padded input: products (C, 1, rows, W_p) @ (C, m, W_p, W_o), summed.
    With stride 1 each product runs over every padded row of every sample (N * H_p
    rows, no copy) and the rows i + p d_h of its result are kept; with a row stride
    the rows i s_h + p d_h that tap p reads are copied out first (N * H_o rows,
    s_h times less to multiply).  Composed of autograd ops (the engine derives every
    order); it avoids unfold's k_h k_w copies of the input, which dominate depthwise
    layers.
    """
    n, c = x.shape[:2]
    c_out, _, kh, kw = weight.shape
    (lo_h, hi_h), (lo_w, hi_w) = geom.padding
    (sh, sw), (dh, dw), (ho, wo) = geom.stride, geom.dilation, geom.out
    hp, wp = geom.padded
    padded = ag.pad(x.permute(1, 0, 2, 3), (lo_w, hi_w, lo_h, hi_h))  # (C, N, H_p, W_p)
    every_row = padded.reshape(c, 1, n * hp, wp) if sh == 1 else None
    taps = weight.reshape(c, c_out // c, kh, kw)
    shifts = _column_shifts(kw, wp, wo, sw, dw, np.dtype(x.dtype), namespace(x._data))
    y = None
    for p in range(kh):
        band = ag.einsum("crq,qvj->crvj", taps[:, :, p], shifts)  # T_p: (C, m, W_p, W_o)
        first = p * dh
        if sh == 1:
            z = (every_row @ band).reshape(c_out, n, hp, wo)[:, :, first: first + ho]
        else:
            rows = padded[:, :, first: first + sh * (ho - 1) + 1: sh].reshape(c, 1, n * ho, wp)
            z = (rows @ band).reshape(c_out, n, ho, wo)
        y = z if y is None else y + z
    return y.permute(1, 0, 2, 3)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    """1-D convolution (cross-correlation, as PyTorch) of input (N, C_in, L) with
    weight (C_out, C_in / groups, k); see ``conv2d``."""
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    """2-D convolution (cross-correlation, as PyTorch) over NCHW input.

    y[n, o, i, j] = b[o] + sum_{c, p, q} w[o, c, p, q] x_pad[n, g(o) + c, i s_h + p d_h,
    j s_w + q d_w], with c running over the C_in / groups channels of o's group.
    Shapes: input (N, C_in, H, W), weight (C_out, C_in / groups, kh, kw), bias
    (C_out,), output (N, C_out, H_out, W_out) with H_out = floor((H + 2 p_h -
    d_h (kh - 1) - 1) / s_h) + 1.  ``padding`` is an int, a pair, "valid" (0) or
    "same" (output size = input size, stride 1 only; an odd total padding puts
    the extra row/column at the bottom/right).  groups == C_in gives a depthwise
    convolution.  Gradients: dx is the transposed convolution of the upstream
    gradient with w, dw the correlation of x with the upstream gradient.
    """
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    """3-D convolution of input (N, C_in, D, H, W) with weight (C_out, C_in / groups,
    kd, kh, kw); see ``conv2d``."""
    return _conv("conv3d", 3, input, weight, bias, stride, padding, dilation, groups)


def _conv_transpose(op: str, nd: int, x, weight, bias, stride, padding, output_padding, groups,
                    dilation) -> Tensor:
    """The adjoint of ``_conv`` with respect to its input: y = fold(W^T @ x)."""
    x, _ = _input(op, x, nd)
    weight = _weight(op, weight, nd, "(C_in, C_out / groups, *kernel)")
    groups = _groups(op, groups)
    c_in, c_group = weight.shape[:2]
    kernel = weight.shape[2:]
    if c_in != x.shape[1]:
        raise ValueError(f"{op}: expected input with {c_in} channels (weight of shape "
                         f"{weight.shape}), got {x.shape[1]} channels in input of shape {x.shape}")
    if c_in % groups:
        raise ValueError(f"{op}: in_channels {c_in} (weight of shape {weight.shape}) must be "
                         f"divisible by groups={groups}")
    c_out = c_group * groups
    bias = _check_bias(op, bias, c_out)
    stride = _ntuple(op, "stride", stride, nd)
    dilation = _ntuple(op, "dilation", dilation, nd)
    pads = _ntuple(op, "padding", padding, nd, minimum=0)
    extra = _ntuple(op, "output_padding", output_padding, nd, minimum=0)
    if any(e >= s and e >= d for e, s, d in zip(extra, stride, dilation, strict=True)):
        raise ValueError(f"{op}: output_padding {extra} must be smaller than either stride "
                         f"{stride} or dilation {dilation}")
    size = tuple((n - 1) * s - 2 * p + d * (k - 1) + e + 1 for n, s, p, d, k, e in
                 zip(x.shape[2:], stride, pads, dilation, kernel, extra, strict=True))
    if any(n < 1 for n in size):
        raise ValueError(f"{op}: the output size {size} is not positive (input shape {x.shape}, "
                         f"kernel {kernel}, stride {stride}, padding {pads})")
    n = x.shape[0]
    geom = Window((n, c_out) + size, kernel, stride, tuple((p, p) for p in pads), dilation,
                  x.shape[2:])
    xc = _to_columns(x).reshape(c_in, -1)  # (C_in, L * N)
    if groups == 1:
        cols = weight.reshape(c_in, -1).T @ xc
    else:
        cols = weight.reshape(groups, c_in // groups, -1).swapaxes(1, 2) @ \
            xc.reshape(groups, c_in // groups, -1)
    y = windows.fold(cols.reshape(geom.cols_shape), geom)
    return _add_bias(y, bias, nd)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1) -> Tensor:
    """1-D transposed convolution of input (N, C_in, L) with weight (C_in, C_out / groups,
    k); see ``conv_transpose2d``."""
    return _conv_transpose("conv_transpose1d", 1, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1) -> Tensor:
    """2-D transposed convolution ("deconvolution"): the gradient of ``conv2d`` with
    respect to its input, used as an upsampling layer.

    Each input pixel x[n, c, i, j] adds x * w[c, o, p, q] to the output at
    (i s_h + p d_h - p_h, j s_w + q d_w - p_w).  Shapes: input (N, C_in, H, W),
    weight (C_in, C_out / groups, kh, kw), output (N, C_out, H_out, W_out) with
    H_out = (H - 1) s_h - 2 p_h + d_h (kh - 1) + output_padding_h + 1;
    ``output_padding`` (smaller than the stride or the dilation) adds rows/columns
    at the bottom/right to pick one of the input sizes a strided conv2d maps to H.
    """
    return _conv_transpose("conv_transpose2d", 2, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1) -> Tensor:
    """3-D transposed convolution; see ``conv_transpose2d``."""
    return _conv_transpose("conv_transpose3d", 3, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


# ------------------------------------------------------------ unfold / fold
def _blocks(op: str, shape: tuple, kernel_size, dilation, padding, stride) -> Window:
    pads = _ntuple(op, "padding", padding, 2, minimum=0)
    return windows.window(shape, _ntuple(op, "kernel_size", kernel_size, 2),
                          _ntuple(op, "stride", stride, 2), tuple((p, p) for p in pads),
                          _ntuple(op, "dilation", dilation, 2))


def unfold(input, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Extract sliding local blocks (im2col) from (N, C, H, W) as (N, C * kh * kw, L),
    L the number of windows, rows ordered (c, i, j), as ``torch.nn.functional.unfold``."""
    x, _ = _input("unfold", input, 2)
    geom = _blocks("unfold", x.shape, kernel_size, dilation, padding, stride)
    _check_fits("unfold", x, geom)
    cols = windows.unfold(x, geom)  # (C * K, L * N)
    return cols.reshape(cols.shape[0], -1, x.shape[0]).permute(2, 0, 1)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Sum sliding local blocks (N, C * kh * kw, L) into an image (N, C, *output_size)
    (col2im, the adjoint of ``unfold``), as ``torch.nn.functional.fold``."""
    cols = tensor_arg(input)
    k = math.prod(_ntuple("fold", "kernel_size", kernel_size, 2))
    size = _ntuple("fold", "output_size", output_size, 2)
    if cols.ndim != 3 or cols.shape[1] % k:
        raise ValueError(f"fold: expected input (N, C * {k}, L), got shape {cols.shape}")
    shape = (cols.shape[0], cols.shape[1] // k) + size
    geom = _blocks("fold", shape, kernel_size, dilation, padding, stride)
    if math.prod(geom.out) != cols.shape[2]:
        raise ValueError(f"fold: expected {math.prod(geom.out)} blocks for output_size {size}, "
                         f"got input of shape {cols.shape}")
    return windows.fold(cols.permute(1, 2, 0).reshape(geom.cols_shape), geom)
