"""Padding with PyTorch's modes, checks and negative (cropping) pads: ``pad``, which is
also ``nn.functional.pad`` and what the padding layers call.

``pad`` is the flat tuple (left, right) of the last dim, then of the one before,
and so on.  Constant padding takes any number of dims (the ``PAD`` primitive,
after cropping the negative pads).  The other modes pad the last 1, 2 or 3 dims
of a (N, C, *S) or (C, *S) input.  Along a padded dim of size n with pads
(lo, hi), output position j reads input position

    replicate   clip(j - lo, 0, n - 1)                     (the edge repeats)
    reflect     |j - lo| mirrored at n - 1                 (the edge is not repeated;
                                                            each pad must be < n)
    circular    crop the negative pads first, then (j - max(lo, 0)) mod m on
                the m positions left                       (each pad at most m)

Each such padded dim is the concatenation of three slices of the input (the left
pad, the kept middle, the right pad; reflected slices run backwards), so the
gradient of an input element is the sum of the gradients of its copies, as
PyTorch's, and needs no rule of its own.
"""
from __future__ import annotations

from ..arrays import namespace
from ..graph import apply
from ..tensor import Tensor, tensor_arg
from ._registry import Op
from .shape import cat

# Constant padding by ``widths`` ((lo, hi) per dim, all >= 0): the gradient is the slice
# of g inside the pad.
PAD = Op(
    "pad", lambda x, widths, value: namespace(x).pad(x, widths, constant_values=value),
    lambda g, out, x, widths, value: g[tuple(slice(lo, n - hi) for (lo, hi), n in
                                              zip(widths, g.shape, strict=False))],
)

_MODES = ("constant", "reflect", "replicate", "circular")


def _padded_dim(x: Tensor, dim: int, mode: str, lo: int, hi: int) -> Tensor:
    """x padded (or cropped) along ``dim`` by (lo, hi) in ``mode``."""
    def part(t: Tensor, start: int, stop: int | None, step: int = 1) -> Tensor:
        return t[(slice(None),) * dim + (slice(start, stop, step),)]

    def repeated(t: Tensor, count: int) -> Tensor:
        return t.expand(*t.shape[:dim], count, *t.shape[dim + 1:])

    n = x.shape[dim]
    middle = part(x, max(-lo, 0), n - max(-hi, 0))
    if mode == "circular":  # wraps around the kept middle
        x, n = middle, middle.shape[dim]
    left = right = None
    if mode == "reflect":  # read from the whole input, the edge not repeated
        left = part(x, lo, 0, -1) if lo > 0 else None
        right = part(x, n - 2, n - 2 - hi if hi < n - 1 else None, -1) if hi > 0 else None
    elif mode == "replicate":
        left = repeated(part(x, 0, 1), lo) if lo > 0 else None
        right = repeated(part(x, n - 1, n), hi) if hi > 0 else None
    else:
        left = part(x, n - lo, n) if lo > 0 else None
        right = part(x, 0, hi) if hi > 0 else None
    pieces = [p for p in (left, middle, right) if p is not None]
    return cat(pieces, dim) if len(pieces) > 1 else middle


def _check(mode: str, x: Tensor, widths: list) -> None:
    dims = len(widths)
    if x.ndim not in (dims + 1, dims + 2):
        raise ValueError(f"pad: {mode} padding of {dims} dim(s) (pad of length {2 * dims}) "
                         f"needs a {dims + 1}-D or {dims + 2}-D input, got shape {x.shape}")
    sizes = x.shape[x.ndim - dims:]
    for (lo, hi), n, d in zip(widths, sizes, range(x.ndim - dims, x.ndim), strict=True):
        if mode == "reflect" and (lo >= n or hi >= n):
            raise ValueError(f"pad: reflect padding ({lo}, {hi}) must be smaller than dim {d}'s "
                             f"size {n} (input shape {x.shape})")
        if mode == "circular" and (lo > n or hi > n):
            raise ValueError(f"pad: circular padding ({lo}, {hi}) must not exceed dim {d}'s size "
                             f"{n}: it would wrap around more than once (input shape {x.shape})")
        kept = n - max(-lo, 0) - max(-hi, 0)
        if mode == "circular" and (lo > kept or hi > kept) and n + lo + hi > 0:
            raise ValueError(f"pad: circular padding ({lo}, {hi}) of dim {d} (input shape "
                             f"{x.shape}) wraps around more than the {kept} positions its "
                             f"negative pad keeps")
    out = [n + lo + hi for (lo, hi), n in zip(widths, sizes, strict=True)]
    # As PyTorch: an empty result is refused when every padded dim would be empty.
    if min(out) < 0 or (mode != "circular" and max(out) < 1):
        raise ValueError(f"pad: the pad {_flat(widths)} leaves input of shape {x.shape} with "
                         f"padded sizes {tuple(out)}")


def _constant_pad(x: Tensor, pad: tuple, value: float) -> Tensor:
    """``PAD`` by the non-negative parts of ``pad``, after cropping its negative parts."""
    widths = [(0, 0)] * (x.ndim - len(pad) // 2) + [(pad[i], pad[i + 1])
                                                     for i in range(len(pad) - 2, -1, -2)]
    if not any(lo or hi for lo, hi in widths):
        return x
    if any(lo < 0 or hi < 0 for lo, hi in widths):
        x = x[tuple(slice(max(-lo, 0), n - max(-hi, 0))
                    for (lo, hi), n in zip(widths, x.shape, strict=True))]
        widths = [(max(lo, 0), max(hi, 0)) for lo, hi in widths]
    return apply(PAD, (x,), {"widths": tuple(widths), "value": value})


def _flat(widths: list) -> tuple:
    return tuple(p for lo_hi in reversed(widths) for p in lo_hi)


def pad(input: Tensor, pad, mode: str = "constant", value: float | None = None) -> Tensor:
    """Pad (or, with negative values, crop) the trailing dims of ``input``.

    ``pad`` = (left_last, right_last, left_2nd_last, right_2nd_last, ...), even
    length, at most twice the number of dims.  ``mode``: "constant" (filled with
    ``value``, default 0), "reflect", "replicate" or "circular" (see the module
    docstring; ``value`` must then be left out).
    """
    x = tensor_arg(input)
    pad = tuple(int(p) for p in pad)
    if mode not in _MODES:
        raise ValueError(f"pad: mode must be 'constant', 'reflect', 'replicate' or 'circular', "
                         f"got {mode!r}")
    if len(pad) % 2:
        raise ValueError(f"pad: the pad {pad} must have an even length")
    if len(pad) > 2 * x.ndim:
        raise ValueError(f"pad: the pad {pad} is longer than twice the number of dims of the "
                         f"input of shape {x.shape}")
    if mode == "constant":
        for d, lo, hi in zip(range(x.ndim - 1, -1, -1), pad[::2], pad[1::2], strict=False):
            n = x.shape[d]
            if n + min(lo, 0) + min(hi, 0) < 0:
                raise ValueError(f"pad: the negative pad ({lo}, {hi}) crops more than dim {d}'s "
                                 f"size {n} (input shape {x.shape})")
        return _constant_pad(x, pad, 0.0 if value is None else value)
    if value is not None and value != 0:
        raise ValueError(f"pad: mode {mode!r} takes no value, got value={value}")
    widths = [(pad[i], pad[i + 1]) for i in range(len(pad) - 2, -1, -2)]  # first padded dim first
    if len(widths) not in (1, 2, 3):
        raise ValueError(f"pad: {mode} padding pads the last 1, 2 or 3 dims, got pad {pad}")
    _check(mode, x, widths)
    out = x
    for d, (lo, hi) in enumerate(widths, x.ndim - len(widths)):
        if lo or hi:
            out = _padded_dim(out, d, mode, lo, hi)
    return out
