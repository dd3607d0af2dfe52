"""Spatial transformers as functions: ``affine_grid`` and ``grid_sample`` (2-D and 3-D).

``grid_sample`` reads the input at the real locations a grid holds, normalised
to [-1, 1] over each spatial dim (x the width first, then y, then z).  Each
location is mapped to input coordinates (``align_corners``: -1 and 1 are the
centres of the corner pixels, else the outer corners of the pixel grid), then
made valid by ``padding_mode``:

    zeros       locations outside read 0
    border      clamped to [0, n - 1]
    reflection  reflected at the borders (at the corner centres with
                align_corners, else at the pixel grid's edges) until inside,
                then clamped

and interpolated: "bilinear" (trilinear in 3-D) weighs the 2^d surrounding
pixels by the opposite sub-volumes, "nearest" reads the nearest pixel (halves
round to even).  All of it is composed of autograd ops: the gradient reaches the
input through the gathers and the grid through the weights and the coordinate
maps, with PyTorch's conventions where those are not differentiable: a clamp
passes no gradient at or beyond its bounds, a reflection flips its sign in the
mirrored copies, rounding (nearest) passes 0.
"""
from __future__ import annotations

import warnings

import numpy as np

import graphgrad.autograd as ag
from graphgrad.autograd import Tensor
from graphgrad.autograd.arrays import namespace
from graphgrad.autograd.tensor import tensor_arg

__all__ = ["affine_grid", "grid_sample"]

_ALIGN_WARNING = ("Default grid_sample and affine_grid behavior has changed to "
                  "align_corners=False since 1.3.0. Please specify align_corners=True if the old "
                  "behavior is desired. See the documentation of grid_sample for details.")


def _linspace_from_minus_one(steps: int, align_corners: bool, dtype) -> np.ndarray:
    """The pixel centres' normalised coordinates along a dim of ``steps`` pixels, as
    PyTorch computes them (torch.linspace's two-sided formula, then scaled by
    (steps - 1) / steps without align_corners)."""
    if steps <= 1:
        return np.zeros(1, dtype=dtype)
    step = 2.0 / (steps - 1)
    i = np.arange(steps)
    values = np.where(i < steps // 2, -1.0 + step * i, 1.0 - step * (steps - 1 - i)).astype(dtype)
    return values if align_corners else values * dtype.type(steps - 1) / dtype.type(steps)


def affine_grid(theta: Tensor, size, align_corners: bool | None = None) -> Tensor:
    """The sampling grid of a batch of affine maps, for ``grid_sample``.

    theta (N, 2, 3) and size (N, C, H, W) give a grid (N, H, W, 2) with grid[n, h, w]
    = theta[n] @ (x_w, y_h, 1), x_w and y_h the normalised pixel centres; theta
    (N, 3, 4) and size (N, C, D, H, W) give (N, D, H, W, 3).  Differentiable in
    theta (a matrix product with a constant base grid).
    """
    if align_corners is None:
        warnings.warn(_ALIGN_WARNING, stacklevel=2)
        align_corners = False
    theta = tensor_arg(theta)
    size = tuple(int(s) for s in size)
    if theta.dtype.kind != "f":
        raise TypeError(f"affine_grid: expected a floating point theta, got dtype {theta.dtype}")
    if len(size) not in (4, 5):
        raise ValueError(f"affine_grid: size must be (N, C, H, W) or (N, C, D, H, W), got {size}")
    nd = len(size) - 2
    if theta.ndim != 3 or theta.shape[1:] != (nd, nd + 1):
        raise ValueError(f"affine_grid: expected theta of shape (N, {nd}, {nd + 1}) for size "
                         f"{size}, got {theta.shape}")
    if theta.shape[0] != size[0]:
        raise ValueError(f"affine_grid: theta of shape {theta.shape} holds {theta.shape[0]} maps, "
                         f"size {size} asks for {size[0]}")
    if min(size) <= 0:
        raise ValueError(f"affine_grid: expected a positive size, got {size}")
    if align_corners and min(size[2:]) == 1:
        warnings.warn("affine_grid: with align_corners=True a unit-size dim is ill-defined; its "
                      "grid points are all placed at 0", stacklevel=2)
    dtype = np.dtype(theta.dtype)
    axes = [_linspace_from_minus_one(n, align_corners, dtype) for n in reversed(size[2:])]
    mesh = list(np.meshgrid(*axes, indexing="xy" if nd == 2 else "ij"))
    if nd == 3:  # meshgrid over (x, y, z) in ij order gives (W, H, D): put D, H, W first
        mesh = [m.transpose(2, 1, 0) for m in mesh]
    base = np.stack(mesh + [np.ones_like(mesh[0])], axis=-1).reshape(-1, nd + 1)
    base = namespace(theta._data).asarray(base)  # to theta's device
    grid = ag.matmul(base, theta.transpose(1, 2))  # (N, prod(S), nd)
    return grid.reshape((size[0],) + size[2:] + (nd,))


def _unnormalize(coord: Tensor, n: int, align_corners: bool, nd: int) -> Tensor:
    """[-1, 1] -> [0, n - 1] (align_corners) or [-0.5, n - 0.5], rounded as PyTorch's
    kernels do (the 2-D one and the 3-D one order the operations differently, which
    decides the cell of a location on a pixel boundary)."""
    if nd == 2:
        if align_corners:
            return (coord + 1) * ((n - 1) / 2)
        # PyTorch's 2-D kernel rounds (x + 1) * n/2 - 1/2 once (a fused multiply-add):
        # the exact correction to the twice-rounded value is added as a constant.
        shifted = coord + 1
        twice_rounded = shifted * (n / 2) - 0.5
        once = _fused_multiply_add(shifted._data, n / 2, -0.5)
        return twice_rounded + (once - twice_rounded._data)
    if align_corners:
        return (coord + 1) / 2 * (n - 1)
    return ((coord + 1) * n - 1) / 2


def _fused_multiply_add(a: np.ndarray, b: float, c: float) -> np.ndarray:
    """a * b + c rounded once, as a fused multiply-add: the product's rounding error
    recovered exactly (Dekker's split; float32 products are exact in float64)."""
    if a.dtype != np.float64:
        return (a.astype(np.float64) * b + c).astype(a.dtype)
    product = a * b

    def split(v):
        t = 134217729.0 * v  # 2^27 + 1
        high = t - (t - v)
        return high, v - high

    (ah, al), (bh, bl) = split(a), split(np.float64(b))
    error = ((ah * bh - product) + ah * bl + al * bh) + al * bl
    total = product + c  # two-sum: total + rest == product + c exactly
    back = total - product
    rest = (product - (total - back)) + (c - back)
    return total + (rest + error)


def _clip(coord: Tensor, n: int) -> Tensor:
    """coord clamped to [0, n - 1]; the gradient passes strictly inside only (NaN -> 0)."""
    c = coord._data
    xp = namespace(c)
    inside = (c > 0) & (c < n - 1)
    clamped = xp.where(xp.isnan(c), 0, xp.clip(c, 0, n - 1)).astype(c.dtype)
    return ag.where(inside, coord, clamped)


def _reflect(coord: Tensor, twice_low: int, twice_high: int) -> Tensor:
    """coord reflected into [twice_low / 2, twice_high / 2] as often as needed; the
    slope is +1 in even copies and -1 in odd ones."""
    xp = namespace(coord._data)
    if twice_low == twice_high:
        return ag.where(xp.zeros(coord.shape, dtype=bool), coord, 0.0)
    low, span = twice_low / 2, (twice_high - twice_low) / 2
    c = coord - low
    a = ag.where(c._data < 0, -c, c)
    flips = xp.floor(a._data / span)
    extra = a - (a._data - xp.fmod(a._data, span))  # fmod(a, span), slope 1
    return ag.where(flips % 2 == 0, extra + low, (span - extra) + low)


def _source(coord: Tensor, n: int, padding_mode: str, align_corners: bool, nd: int) -> Tensor:
    coord = _unnormalize(coord, n, align_corners, nd)
    if padding_mode == "border":
        return _clip(coord, n)
    if padding_mode == "reflection":
        twice = (0, 2 * (n - 1)) if align_corners else (-1, 2 * n - 1)
        return _clip(_reflect(coord, *twice), n)
    return coord


def _gather(values: Tensor, sizes: tuple, corner: list) -> Tensor:
    """values (N * prod(S), C) at the integer coordinates ``corner`` (one (N, *L) array
    per spatial dim, d, h, w order), 0 outside: shape (N, *L, C)."""
    n = corner[0].shape[0]
    xp = namespace(corner[0])
    inside = True
    for c, s in zip(corner, sizes, strict=True):
        inside = inside & (c >= 0) & (c < s)
    flat = xp.arange(n).reshape((n,) + (1,) * (corner[0].ndim - 1))
    for c, s in zip(corner, sizes, strict=True):
        flat = flat * s + xp.clip(c, 0, s - 1)
    picked = values[flat.reshape(-1)].reshape(corner[0].shape + (values.shape[1],))
    return picked if inside.all() else ag.where(inside[..., None], picked, 0.0)


def _sample_bilinear(values: Tensor, sizes: tuple, coords: list) -> Tensor:
    """sum over the 2^d corners of the cell around coords of corner value * weight."""
    lows = [namespace(c._data).floor(c._data).astype(np.int64) for c in coords]
    # Weight of the low and the high neighbour along each dim (differentiable in coords).
    sides = [(ag.sub(lo + 1, c), c - lo) for c, lo in zip(coords, lows, strict=True)]
    out = None
    for corner in np.ndindex(*(2,) * len(coords)):
        weight = None
        for (w_lo, w_hi), bit in zip(sides, corner, strict=True):
            w = w_hi if bit else w_lo
            weight = w if weight is None else weight * w
        value = _gather(values, sizes, [lo + bit for lo, bit in zip(lows, corner, strict=True)])
        term = value * weight.unsqueeze(-1)
        out = term if out is None else out + term
    return out


def _sample_nearest(values: Tensor, sizes: tuple, coords: list) -> Tensor:
    xp = namespace(coords[0]._data)
    picked = _gather(values, sizes, [xp.rint(c._data).astype(np.int64) for c in coords])
    # Rounding is flat: the grid gets an exact zero gradient, still connected (as PyTorch).
    zero = sum(ag.where(xp.zeros(c.shape, dtype=bool), c, 0.0) for c in coords)
    return picked + zero.unsqueeze(-1)


def grid_sample(input: Tensor, grid: Tensor, mode: str = "bilinear", padding_mode: str = "zeros",
                align_corners: bool | None = None) -> Tensor:
    """Sample ``input`` (N, C, H, W) at the normalised locations ``grid`` (N, H_out,
    W_out, 2), giving (N, C, H_out, W_out); in 3-D input (N, C, D, H, W) and grid
    (N, D_out, H_out, W_out, 3).  grid[..., 0] is x (the width), grid[..., 1] y, and
    grid[..., 2] z.  ``mode``: "bilinear" or "nearest"; ``padding_mode``: "zeros",
    "border" or "reflection"; ``align_corners`` defaults to False (with a
    warning, as PyTorch).  See the module docstring for the maths and gradients.
    """
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError(f"grid_sample: mode must be 'bilinear', 'nearest' or 'bicubic', got "
                         f"{mode!r}")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(f"grid_sample: padding_mode must be 'zeros', 'border' or 'reflection', "
                         f"got {padding_mode!r}")
    if mode == "bicubic":
        raise NotImplementedError("grid_sample: mode='bicubic' is not supported; use "
                                  "'bilinear' or 'nearest'")
    if align_corners is None:
        warnings.warn(_ALIGN_WARNING, stacklevel=2)
        align_corners = False
    x, grid = tensor_arg(input), tensor_arg(grid)
    if x.ndim not in (4, 5):
        raise ValueError(f"grid_sample: expected a 4-D or 5-D input (N, C, *S), got shape "
                         f"{x.shape}")
    nd = x.ndim - 2
    if grid.ndim != x.ndim or grid.shape[-1] != nd or grid.shape[0] != x.shape[0]:
        raise ValueError(f"grid_sample: expected a grid of shape ({x.shape[0]}, *S_out, {nd}) "
                         f"for input of shape {x.shape}, got {grid.shape}")
    if x.dtype != grid.dtype:
        raise TypeError(f"grid_sample: input ({x.dtype}) and grid ({grid.dtype}) must have the "
                        f"same dtype")
    sizes = x.shape[2:]
    if min(sizes) == 0:
        raise ValueError(f"grid_sample: expected non-empty spatial dims, got input of shape "
                         f"{x.shape}")
    # Rows of (N * prod(S), C): one gather per corner picks whole rows.
    values = x.permute(0, *range(2, x.ndim), 1).reshape(-1, x.shape[1])
    # grid's last axis is (x, y[, z]): reversed, it follows the dims (d, h, w).
    coords = [_source(grid[..., nd - 1 - d], n, padding_mode, align_corners, nd)
              for d, n in enumerate(sizes)]
    sample = _sample_bilinear if mode == "bilinear" else _sample_nearest
    out = sample(values, sizes, coords)  # (N, *S_out, C)
    return out.permute(0, x.ndim - 1, *range(1, x.ndim - 1))
