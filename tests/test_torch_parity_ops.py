"""Registry-driven comparison with PyTorch for the maths, product, grid, statistics and
einsum ops: each draws the calls of its ``tests/opinfo.py`` entry (hypothesis shapes,
broadcasting, its kwargs) in float64, and checks values, first derivatives and second
derivatives (of the first in a random direction) against PyTorch's.  Skipped where
torch is not installed."""
from __future__ import annotations

import math

import numpy as np
import pytest
from against_torch import against_torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from opinfo import GRAD, OPS


def _same_name(name):
    return lambda torch: getattr(torch, name)


def _nan_masked(name):
    return lambda torch: lambda x, mask, **kw: getattr(torch, name)(
        torch.where(torch.tensor(mask), math.nan, x), **kw)


# name: torch -> the torch function called as the entry's ``op`` (same inputs and kwargs)
TORCH = {
    **{name: _same_name(name) for name in (
        "log1p", "expm1", "log2", "log10", "exp2", "sinh", "cosh", "tan", "asin", "acos", "atan",
        "asinh", "acosh", "atanh", "reciprocal", "sinc", "erfc", "erfinv", "lgamma", "digamma",
        "floor", "ceil", "trunc", "round", "frac", "atan2", "hypot", "logaddexp", "logaddexp2",
        "xlogy", "float_power", "addcmul", "addcdiv", "addmm", "addmv", "addr", "baddbmm",
        "addbmm", "tensordot", "kron", "cross", "meshgrid", "cartesian_prod", "var_mean",
        "std_mean", "norm", "dist", "cdist")},
    "polygamma": lambda torch: lambda x, n: torch.polygamma(n, x),
    "lerp": lambda torch: lambda *xs, **kw: torch.lerp(xs[0], xs[1], xs[2] if len(xs) == 3
                                                       else kw["weight"]),
    "clamp": lambda torch: lambda x, *limits, bounds: torch.clamp(
        x, **dict(zip(bounds, limits, strict=True))),
    "nansum": _nan_masked("nansum"),
    "nanmean": _nan_masked("nanmean"),
    "einsum": lambda torch: lambda *xs, subscripts: torch.einsum(subscripts, *xs),
}
# PyTorch's own error is larger than ours here (polygamma(1, .) is off by ~5e-10).
RTOL = {"polygamma": 1e-8}
FIRST_ORDER_ONLY = {"cdist"}  # PyTorch has no double backward for cdist


@pytest.mark.parametrize("name", sorted(TORCH))
@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_values_and_derivatives_match_pytorch(name, data):
    torch = pytest.importorskip("torch")
    info = OPS[name]
    sample = data.draw(info.samples(np.float64, GRAD), label="sample")
    kwargs = sample.kwargs
    if name == "clamp":  # PyTorch's backward fails where the bounds broadcast x to more dims
        assume(np.broadcast_shapes(*(a.shape for a in sample.arrays)) == sample.arrays[0].shape)

    def ours(*xs):
        return info.op(*xs, **kwargs)

    def theirs(*xs):
        return TORCH[name](torch)(*xs, **kwargs)

    against_torch(ours, theirs, sample.arrays, second_order=name not in FIRST_ORDER_ONLY,
                  rtol=RTOL.get(name, 1e-9))
