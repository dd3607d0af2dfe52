"""addmm & co, tensordot, kron, cross, meshgrid, cartesian_prod, nansum/nanmean,
var_mean/std_mean, norm, dist and cdist: the conventions the registry (tests/opinfo.py)
and the PyTorch parity test (tests/test_torch_parity_ops.py) do not reach: NaN, zero
distances, beta = 0, known values, methods, size-0 inputs and errors."""
from __future__ import annotations

import math

import numpy as np
import pytest
from against_torch import against_torch

import graphgrad as gg

nan, inf = math.nan, math.inf


def _grad(module, fn, data):
    x = module.tensor(data, dtype=module.float64, requires_grad=True)
    fn(module, x).backward()
    return x.grad.numpy()


# name: (function of (module, x), input, PyTorch's gradient)
CASES = {
    "nansum with NaN": (lambda m, x: m.nansum(x), [1.0, nan, 2.0], [1.0, 0.0, 1.0]),
    "nanmean with NaN": (lambda m, x: m.nanmean(x, 1).sum(), [[1.0, nan], [3.0, 5.0]],
                         [[1.0, 0.0], [0.5, 0.5]]),
    "norm of zeros": (lambda m, x: m.norm(x), [0.0, 0.0], [0.0, 0.0]),
    "3-norm of zeros": (lambda m, x: m.norm(x, p=3), [0.0, 0.0], [0.0, 0.0]),
    "1-norm with a zero": (lambda m, x: m.norm(x, p=1), [0.0, -2.0], [0.0, -1.0]),
    "inf-norm ties": (lambda m, x: m.norm(x, p=inf), [3.0, -3.0, 1.0], [0.5, -0.5, 0.0]),
    "-inf-norm": (lambda m, x: m.norm(x, p=-inf), [3.0, -1.0, 2.0], [0.0, -1.0, 0.0]),
    "dist of equal points": (lambda m, x: m.dist(x, m.tensor([1.0, 2.0], dtype=x.dtype)),
                             [1.0, 2.0], [0.0, 0.0]),
    "cdist at zero distance": (
        lambda m, x: m.cdist(x, m.tensor([[1.0, 2.0], [0.0, 0.0]], dtype=x.dtype)).sum(),
        [[1.0, 2.0]], [[1 / math.sqrt(5), 2 / math.sqrt(5)]]),
    "cdist p=1 at zero distance": (
        lambda m, x: m.cdist(x, m.tensor([[1.0, 2.0]], dtype=x.dtype), p=1.0).sum(),
        [[1.0, 2.0]], [[0.0, 0.0]]),
    "std_mean of equal values": (lambda m, x: sum(m.std_mean(x)), [2.0, 2.0],
                                 [0.5, 0.5]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_gradients_at_nan_zeros_and_ties(case):
    fn, data, expected = CASES[case]
    np.testing.assert_allclose(_grad(gg, fn, data), expected, rtol=1e-12)
    torch = pytest.importorskip("torch")
    np.testing.assert_allclose(_grad(gg, fn, data), _grad(torch, fn, data), rtol=1e-12)


def test_beta_zero_ignores_the_input():
    """beta = 0: NaN and inf in input do not reach the result; its gradient is 0."""
    x = gg.tensor([[nan, inf], [1.0, 2.0]], dtype=gg.float64, requires_grad=True)
    a, b = gg.eye(2, dtype=gg.float64), gg.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=gg.float64)
    out = gg.addmm(x, a, b, beta=0, alpha=2)
    assert out.tolist() == [[2.0, 4.0], [6.0, 8.0]]
    out.sum().backward()
    assert x.grad.tolist() == [[0.0, 0.0], [0.0, 0.0]]


def test_known_values():
    x = gg.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=gg.float64)
    assert gg.norm(x).item() == pytest.approx(math.sqrt(30))
    assert gg.norm(x, p=1, dim=0).tolist() == [4.0, 6.0]
    assert gg.norm(x, p=0).item() == 3.0 + 1.0
    assert gg.dist(x, gg.zeros(2, 2), p=inf).item() == 4.0
    assert gg.cross(gg.tensor([1.0, 0.0, 0.0]), gg.tensor([0.0, 1.0, 0.0])).tolist() == [
        0.0, 0.0, 1.0]
    assert gg.kron(gg.eye(2), gg.tensor([[1.0, 2.0]])).tolist() == [[1.0, 2.0, 0.0, 0.0],
                                                                    [0.0, 0.0, 1.0, 2.0]]
    assert gg.tensordot(x, x, dims=2).item() == 30.0
    assert gg.tensordot(gg.ones(2), gg.ones(3), dims=0).shape == (2, 3)
    gx, gy = gg.meshgrid(gg.tensor([1, 2]), gg.tensor([5, 6, 7]), indexing="xy")
    assert gx.tolist() == [[1, 2]] * 3 and gy.tolist() == [[5, 5], [6, 6], [7, 7]]
    assert gg.cartesian_prod(gg.tensor([1, 2]), gg.tensor([3, 4])).tolist() == [
        [1, 3], [1, 4], [2, 3], [2, 4]]
    single = gg.tensor([1.0, 2.0])
    assert gg.cartesian_prod(single) is single
    v, m = gg.var_mean(gg.tensor([1.0, 2.0, 3.0, 4.0]), correction=0)
    assert (v.item(), m.item()) == (1.25, 2.5)
    assert gg.var_mean(gg.tensor([1.0, 3.0]), True)[0].item() == 2.0  # (input, unbiased)
    assert gg.nanmean(gg.tensor([nan, nan])).isnan().item()
    assert gg.nansum(gg.tensor([nan, 1.0])).item() == 1.0


def test_methods_are_the_functions():
    for name in ("addmm", "addmv", "addr", "baddbmm", "addbmm", "kron", "cross", "nansum",
                 "nanmean", "norm", "dist"):
        assert getattr(gg.Tensor, name) is getattr(gg, name)
    x = gg.ones(2, 3)
    assert x.addmm(gg.ones(2, 4), gg.ones(4, 3)).tolist() == [[5.0] * 3] * 2


def test_size_zero_inputs():
    e = gg.zeros((0, 3), requires_grad=True)
    w = gg.zeros((3, 2), requires_grad=True)
    out = gg.addmm(gg.zeros(2), e, w)
    assert out.shape == (0, 2)
    checks = [out.sum(), gg.norm(e), gg.nansum(e), gg.cdist(e, gg.ones(2, 3)).sum(),
              gg.tensordot(e, w, 1).sum(), gg.kron(e, w).sum()]
    for value in checks:
        value.backward()
    assert e.grad.shape == (0, 3) and w.grad.tolist() == [[0.0, 0.0]] * 3
    assert gg.norm(e).item() == 0.0 and gg.cdist(e, gg.ones(2, 3)).shape == (0, 2)


@pytest.mark.parametrize("call, error, match", [
    (lambda: gg.addmm(gg.ones(3), gg.ones(2, 2), gg.ones(2, 2)), ValueError,
     r"addmm: input of shape \(3,\) does not broadcast"),
    (lambda: gg.addmm(gg.ones(2, 2), gg.ones(2), gg.ones(2, 2)), ValueError, "addmm: mat1"),
    (lambda: gg.addmm(gg.ones(2, 2), gg.ones(2, 3), gg.ones(2, 2)), ValueError, "matmul"),
    (lambda: gg.baddbmm(gg.ones(1), gg.ones(2, 2, 3), gg.ones(3, 3, 2)), ValueError,
     "baddbmm: batch1"),
    (lambda: gg.addmv(gg.ones(2), gg.ones(2, 2), gg.ones(2, 1)), ValueError, "addmv: vec"),
    (lambda: gg.tensordot(gg.ones(2, 3), gg.ones(2, 3), dims=1), ValueError, "tensordot: dim 1"),
    (lambda: gg.tensordot(gg.ones(2), gg.ones(2), dims=2), ValueError, "tensordot: dims = 2"),
    (lambda: gg.tensordot(gg.ones(2), gg.ones(2), dims=([0], [])), ValueError, "tensordot"),
    (lambda: gg.cross(gg.ones(2, 4), gg.ones(2, 4)), ValueError, "cross: no dim of size 3"),
    (lambda: gg.cross(gg.ones(3, 4), gg.ones(3, 4), dim=1), ValueError, "cross: dim 1"),
    (lambda: gg.meshgrid(gg.ones(2, 2)), ValueError, "meshgrid: expects 0-D or 1-D"),
    (lambda: gg.meshgrid(gg.ones(2), indexing="ji"), ValueError, "meshgrid: indexing"),
    (lambda: gg.cartesian_prod(gg.ones(2, 2)), ValueError, "cartesian_prod"),
    (lambda: gg.norm(gg.ones(2, 2), p="nuc"), NotImplementedError, "norm: p='nuc'"),
    (lambda: gg.norm(gg.ones(2, 2), p="max"), ValueError, "norm: p must be"),
    (lambda: gg.norm(gg.ones(2, 2), dim=3), IndexError, "norm: dim 3"),
    (lambda: gg.cdist(gg.ones(2, 3), gg.ones(2, 4)), ValueError, "cdist: x1"),
    (lambda: gg.cdist(gg.ones(2, 3), gg.ones(2, 3), p=-1), ValueError, "cdist: p"),
])
def test_errors_name_the_operation(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize("name, shapes", [
    ("addmm_", [(2, 3), (2, 4), (4, 3)]), ("addmv_", [(2,), (2, 3), (3,)]),
    ("addr_", [(2, 3), (2,), (3,)]), ("baddbmm_", [(2, 2, 3), (2, 2, 4), (2, 4, 3)]),
    ("addbmm_", [(2, 3), (3, 2, 4), (3, 4, 3)]),
])
def test_inplace_forms_match_pytorch(name, shapes):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s) for s in shapes]
    results = []
    for m in (gg, torch):
        leaf = m.tensor(arrays[0], requires_grad=True)
        factors = [m.tensor(a, requires_grad=True) for a in arrays[1:]]
        x = leaf * 1.0
        assert getattr(x, name)(*factors, beta=0.5, alpha=-2.0) is x
        x.sum().backward()
        results.append([x.detach().numpy(), leaf.grad.numpy(), *(f.grad.numpy()
                                                                 for f in factors)])
    for a, b in zip(*results, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)


@pytest.mark.parametrize("p", [inf, -inf])
def test_infinity_norms_match_pytorch(p):
    """max/min |x| (no ties in these random values): values and gradients, second order
    for norm and dist (cdist has no double backward in PyTorch)."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((3, 4)), rng.standard_normal((2, 4))
    calls = [
        (lambda m: lambda a: m.norm(a, p=p, dim=1, keepdim=True), [x], True),
        (lambda m: lambda a: m.norm(a, p=p), [x], True),
        (lambda m: lambda a, b: m.dist(a, b, p=p), [x[:2], y], True),
    ]
    if p > 0:  # cdist takes p >= 0
        calls.append((lambda m: lambda a, b: m.cdist(a, b, p=p), [x, y], False))
    for make, arrays, second in calls:
        against_torch(make(gg), make(torch), arrays, second_order=second, rtol=1e-12,
                      atol=1e-14)
