"""Reductions that skip NaN (nansum, nanmean), the paired statistics (var_mean,
std_mean), standardization (the normalization layers' one primitive), and norms
and distances (norm, dist, cdist).

All but the p-norm and standardize are compositions of differentiable ops.
Conventions, as PyTorch's:
- nansum/nanmean: NaNs count as absent; their gradient is 0.  A mean over no
  numbers is NaN.
- a p-norm (sum |x_i|^p)^(1/p) (one primitive, ``NORM``, also ``linalg.vector_norm``'s)
  has gradient sign(x_i) |x_i|^(p-1) / norm^(p-1), taken as 0 where x_i = 0 and where
  the norm is 0 (its rule is written with differentiable ops); p = inf/-inf: max/min
  |x_i|, the gradient shared evenly among ties (as ``amax``) with the sign of each;
  p = 0 counts the nonzero elements and has no gradient.  So cdist's gradient at zero
  distance is 0, for every p.
"""
from __future__ import annotations

import math

import numpy as np

from .._shapes import kept_shape, sum_kept
from ..arrays import namespace
from ..tensor import Tensor, tensor_arg, unwrap
from ._args import as_float, method
from ._registry import Op
from .elementwise import ABS, POW, abs, rsqrt, sub, where
from .reduce import _reduce_args, amax, amin, mean, std, sum, var


@method()
def nansum(input, dim=None, keepdim=False, *, dtype=None) -> Tensor:
    """Sum over ``dim`` treating NaN as 0.  The gradient is g where x is a number, 0 at NaN."""
    x = tensor_arg(input)
    if dtype is not None:
        x = x.astype(dtype)
    numbers = ~namespace(x._data).isnan(x._data)
    return sum(where(numbers, x, 0.0), dim, keepdim)


@method()
def nanmean(input, dim=None, keepdim=False, *, dtype=None) -> Tensor:
    """Mean over ``dim`` of the elements that are not NaN (NaN where there are none).
    d/dx_i = 1 / count for the numbers, 0 at NaN."""
    x = as_float(tensor_arg(input))
    if dtype is not None:
        x = x.astype(dtype)
    dims, keepdim = _reduce_args("nanmean", x, dim, keepdim, None, None)
    xp = namespace(x._data)
    count = xp.add.reduce(~xp.isnan(x._data), axis=dims, keepdims=keepdim)
    return nansum(x, dims, keepdim) / Tensor._make(count.astype(x._data.dtype))


def _statistic_args(dim, unbiased):
    if isinstance(dim, bool):  # the overload (input, unbiased)
        return None, dim
    return dim, unbiased


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None) -> tuple:
    """(var, mean) over ``dim``, as ``var`` and ``mean`` (correction 1 by default; also
    ``unbiased`` as the second or third argument)."""
    dim, unbiased = _statistic_args(dim, unbiased)
    return (var(input, dim, keepdim, correction=correction, unbiased=unbiased),
            mean(input, dim, keepdim))


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None) -> tuple:
    """(std, mean) over ``dim``, as ``std`` and ``mean`` (the gradient of std is 0 where the
    values are all equal, as PyTorch)."""
    dim, unbiased = _statistic_args(dim, unbiased)
    return (std(input, dim, keepdim, correction=correction, unbiased=unbiased),
            mean(input, dim, keepdim))


def _standardize_forward(x, dims, eps, mean, inv_std):
    out = x - mean
    out *= inv_std
    return out


def _standardize_vjp(g, out, x, dims, eps, mean, inv_std):
    if isinstance(g, Tensor):  # create_graph: the same formula recorded from x (any order)
        centered = x - x.mean(dims, keepdim=True)
        r = rsqrt((centered * centered).mean(dims, keepdim=True) + eps)
        y = centered * r
        return (g - g.mean(dims, keepdim=True) - y * (g * y).mean(dims, keepdim=True)) * r
    count = math.prod(g.shape[d] for d in dims)
    y = x - mean
    y *= inv_std
    mean_gy = sum_kept(g * y, dims) / count
    mean_g = sum_kept(g, dims) / count
    y *= mean_gy
    dx = g - y
    dx -= mean_g
    dx *= inv_std
    return dx


# The rule reads x, not the output (recomputing y costs one pass): a layer norm without
# weight and bias hands its output on, and an in-place op on it (ReLU(inplace=True)) must
# not invalidate this node, as in PyTorch, which also saves the input.
STANDARDIZE = Op("standardize", _standardize_forward, _standardize_vjp, saves="x")


def standardize(x: Tensor, dims: tuple, eps: float) -> tuple:
    """(y, mean, var): y = (x - mean) r over ``dims``, r = 1 / sqrt(var + eps), with the
    mean and the biased variance over ``dims`` (kept as size-1 dims).  One primitive
    for every normalization layer; its gradient is

        dx = r (g - mean(g) - y mean(g y))      (means over ``dims``)

    (the mean and the variance depend on x too).  ``mean`` and ``var`` are arrays for
    running estimates (no gradient flows through them); they are computed once and
    passed to the op, so neither its forward nor its first-order rule recomputes them.
    """
    x = as_float(tensor_arg(x))
    data = x._data
    xp = namespace(data)
    count = math.prod(data.shape[d] for d in dims)
    mean = sum_kept(data, dims) / count
    squares = data - mean
    squares *= squares
    var = sum_kept(squares, dims) / count
    inv_std = 1 / xp.sqrt(var + eps)
    return STANDARDIZE(x, dims=dims, eps=eps, mean=mean, inv_std=inv_std), mean, var


def _norm_forward(x, ord, dims, keepdim):
    xp = namespace(x)
    a = xp.abs(x)
    if ord == 2:
        return xp.sqrt(xp.add.reduce(a * a, axis=dims, keepdims=keepdim))
    return xp.power(xp.add.reduce(a ** ord, axis=dims, keepdims=keepdim), 1.0 / ord)


def _norm_vjp(g, out, x, ord, dims, keepdim):
    """||x||_p = (sum |x|^p)^{1/p}: d/dx = sign(x) |x|^{p-1} / ||x||^{p-1}, taken as 0
    where x = 0 and where the norm is 0 (PyTorch's choice at the kinks)."""
    data = unwrap(x)
    kept = kept_shape(data.shape, dims)
    g, out = g.reshape(kept), out.reshape(kept)
    safe_out = out + (unwrap(out) == 0).astype(data.dtype)
    if ord == 2:
        return g * x / safe_out
    scaled = POW(ABS(x + (data == 0).astype(data.dtype)), ord - 1) * namespace(data).sign(data)
    return g * scaled / POW(safe_out, ord - 1)


# (sum |x|^p)^(1/p) over ``dims`` for a finite p other than 0.
NORM = Op("norm", _norm_forward, _norm_vjp, saves="x out")


def vector_norm(x: Tensor, p, dims: tuple, keepdim: bool) -> Tensor:
    """(sum |x_i|^p)^(1/p) over ``dims`` (a tuple of dims); see the module's conventions."""
    if p == math.inf or p == -math.inf:
        extreme = amax if p > 0 else amin
        return extreme(abs(x), dims, keepdim) if dims else abs(x)
    if p == 0:
        return sum(Tensor._make((x._data != 0).astype(x._data.dtype)), dims, keepdim)
    return NORM(x, ord=float(p), dims=dims, keepdim=keepdim)


@method()
def norm(input, p="fro", dim=None, keepdim=False, dtype=None) -> Tensor:
    """The p-norm over ``dim`` (all dims when None), as ``torch.norm``: a number p gives the
    vector norm (sum |x|^p)^(1/p) over the dims, inf/-inf the max/min of |x|, 0 the count
    of nonzeros; ``'fro'`` is the 2-norm over the dims (at most two).  ``'nuc'`` (the sum
    of the singular values) is not here: see ``gg.linalg.matrix_norm``."""
    x = as_float(tensor_arg(input))
    if dtype is not None:
        x = x.astype(dtype)
    if isinstance(p, str):
        if p == "nuc":
            raise NotImplementedError("norm: p='nuc' needs the singular values; use "
                                      "gg.linalg.matrix_norm(x, 'nuc')")
        if p != "fro":
            raise ValueError(f"norm: p must be a number, 'fro' or 'nuc', got {p!r}")
        if isinstance(dim, (tuple, list)) and len(dim) > 2:
            raise ValueError(f"norm: p='fro' takes at most two dims, got dim={tuple(dim)}")
        p = 2
    dims, keepdim = _reduce_args("norm", x, dim, keepdim, None, None)
    return vector_norm(x, p, dims, keepdim)


@method()
def dist(input, other, p=2) -> Tensor:
    """The p-norm of input - other (broadcast together), over all elements."""
    return norm(sub(input, other), p)


def cdist(x1, x2, p=2.0, compute_mode=None) -> Tensor:
    """Pairwise p-norm distances between the rows of x1 (..., P, M) and of x2 (..., R, M):
    a (..., P, R) tensor, batch dims broadcast.  The gradient at zero distance is 0 for
    every p, as PyTorch's.  ``compute_mode`` is accepted for compatibility (the
    distances are always computed directly, never through matrix products)."""
    a, b = as_float(tensor_arg(x1)), as_float(tensor_arg(x2))
    if a._data.ndim < 2 or b._data.ndim < 2 or a._data.shape[-1] != b._data.shape[-1]:
        raise ValueError(f"cdist: x1 (..., P, M) and x2 (..., R, M) must be at least 2-D with "
                         f"the same last dim, got shapes {a.shape} and {b.shape}")
    if p < 0:
        raise ValueError(f"cdist: p must be >= 0, got {p}")
    try:
        np.broadcast_shapes(a._data.shape[:-2], b._data.shape[:-2])
    except ValueError:
        raise ValueError(f"cdist: the batch dims of shapes {a.shape} and {b.shape} cannot be "
                         f"broadcast") from None
    diff = a[..., :, None, :] - b[..., None, :, :]
    return vector_norm(diff, p, (diff._data.ndim - 1,), False)
