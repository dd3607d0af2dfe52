"""Registry-driven comparison with PyTorch for the maths, product, grid, statistics and
einsum ops: each draws the calls of its ``tests/opinfo.py`` entry (hypothesis shapes,
broadcasting, its kwargs) in float64, and checks values, first derivatives and second
derivatives (of the first in a random direction) against PyTorch's.  Skipped where
torch is not installed."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from opinfo import GRAD, OPS

import graphgrad as gg


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


def _numpy(t):
    return t.numpy() if isinstance(t, gg.Tensor) else t.detach().numpy(force=True)


def _as_list(out) -> list:
    return list(out) if isinstance(out, (tuple, list)) else [out]


def derivatives(module, fn, arrays, seed: int = 0, second: bool = True):
    """Values, first and second derivatives of sum_k sum(w_k * out_k) for ``fn(*xs)``,
    computed by ``module`` (gg or torch); the second: of the first derivatives in a
    random direction.  Piecewise-constant results give zeros."""
    xs = [module.tensor(a, dtype=module.float64, requires_grad=True) for a in arrays]
    outs = _as_list(fn(*xs))
    rng = np.random.default_rng(seed)
    loss = sum((o * module.tensor(rng.standard_normal(tuple(o.shape)), dtype=module.float64)
                ).sum() for o in outs)
    grad = gg.grad if module is gg else module.autograd.grad
    zeros = [np.zeros(a.shape) for a in arrays]
    if not loss.requires_grad:
        return [_numpy(o) for o in outs], zeros, zeros
    firsts = grad(loss, xs, create_graph=True, allow_unused=True)
    firsts = [module.zeros_like(x) if f is None else f for x, f in zip(xs, firsts, strict=True)]
    total = sum((f * module.tensor(rng.standard_normal(a.shape), dtype=module.float64)).sum()
                for f, a in zip(firsts, arrays, strict=True))
    seconds = zeros
    if second and total.requires_grad:
        found = grad(total, xs, allow_unused=True)
        seconds = [z if s is None else _numpy(s)
                   for z, s in zip(zeros, found, strict=True)]
    return [_numpy(o) for o in outs], [_numpy(f) for f in firsts], seconds


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

    second = name not in FIRST_ORDER_ONLY
    mine = derivatives(gg, ours, sample.arrays, second=second)
    ref = derivatives(torch, theirs, sample.arrays, second=second)
    rtol = RTOL.get(name, 1e-9)
    for kind, a_list, b_list in zip(("value", "first derivative", "second derivative"), mine,
                                    ref, strict=True):
        assert len(a_list) == len(b_list)
        for i, (a, b) in enumerate(zip(a_list, b_list, strict=True)):
            assert a.shape == b.shape, f"{kind} {i}: shape {a.shape} != {b.shape}"
            np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-10, err_msg=f"{kind} {i}")
