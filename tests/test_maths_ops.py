"""The elementwise maths of pointwise.py, binary.py and special.py: accuracy over wide
ranges, known values from the maths, the conventions at 0 and at the poles (against
PyTorch where it is installed), the in-place forms, size-0 inputs and errors.  The
generic checks (forward vs NumPy, gradcheck, gradgradcheck) are the registry's
(tests/opinfo.py); values and derivatives vs PyTorch on hypothesis shapes are in
tests/test_torch_parity_ops.py."""
from __future__ import annotations

import math

import numpy as np
import pytest

import graphgrad as gg


def test_special_functions_over_wide_ranges():
    """Relative accuracy ~1e-12 (worse only near a root, where relative error has no
    meaning) against PyTorch, from tiny to huge arguments and deep in the negatives."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-30, 30, 500), 10 ** rng.uniform(-8, 8, 300),
                        -(10 ** rng.uniform(-8, 2, 200)) - 0.01])
    x = x[np.abs(x - np.round(x)) > 1e-3]  # away from the poles
    for name in ("lgamma", "digamma", "erfc"):
        ours, theirs = getattr(gg, name)(gg.tensor(x)).numpy(), getattr(torch, name)(
            torch.tensor(x)).numpy()
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12, err_msg=name)
    for n in (1, 2, 5):
        np.testing.assert_allclose(gg.polygamma(n, gg.tensor(x)).numpy(),
                                   torch.polygamma(n, torch.tensor(x)).numpy(), rtol=1e-8)
    u = np.concatenate([rng.uniform(-1, 1, 500), 1 - 10 ** rng.uniform(-15, -1, 100),
                        10 ** rng.uniform(-300, -1, 100)])
    np.testing.assert_allclose(gg.erfinv(gg.tensor(u)).numpy(),
                               torch.erfinv(torch.tensor(u)).numpy(), rtol=1e-13)


def test_known_values():
    def t64(v):
        return gg.tensor(v, dtype=gg.float64)

    euler_gamma = 0.5772156649015329
    np.testing.assert_allclose(gg.lgamma(t64([0.5, 1.0, 2.0, 10.0])).numpy(),
                               [math.log(math.sqrt(math.pi)), 0.0, 0.0, math.log(362880)],
                               rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(gg.digamma(t64([1.0, 0.5, 2.0])).numpy(),
                               [-euler_gamma, -euler_gamma - 2 * math.log(2),
                                1 - euler_gamma], rtol=1e-14)
    np.testing.assert_allclose(gg.polygamma(1, t64([1.0, 0.5])).numpy(),
                               [math.pi ** 2 / 6, math.pi ** 2 / 2], rtol=1e-14)
    np.testing.assert_allclose(gg.polygamma(2, t64(1.0)).item(), -2 * 1.2020569031595942,
                               rtol=1e-14)  # -2 zeta(3)
    x = np.linspace(-3, 3, 101)  # beyond, erf rounds to 1 too closely to invert
    erf = np.vectorize(math.erf)(x)
    np.testing.assert_allclose(gg.erfinv(t64(erf)).numpy(), x, rtol=1e-10)
    assert gg.erfinv(t64([0.0, 1.0, -1.0])).tolist() == [0.0, math.inf, -math.inf]
    assert math.isnan(gg.erfinv(t64(1.5)).item())
    np.testing.assert_allclose(gg.erfc(t64([0.0, 10.0, -10.0])).numpy(),
                               [1.0, math.erfc(10.0), 2.0], rtol=1e-15)
    np.testing.assert_allclose(gg.sinc(t64([0.0, 0.5, 1.0])).numpy(),
                               [1.0, 2 / math.pi, 0.0], atol=1e-16)
    np.testing.assert_allclose(gg.log2(t64([8.0])).numpy(), [3.0])
    np.testing.assert_allclose(gg.hypot(t64(1e300), t64(1e300)).item(),
                               math.sqrt(2) * 1e300)  # no overflow
    assert gg.logaddexp(t64(1000.0), t64(1000.0)).item() == 1000.0 + math.log(2)


# name: (function of (module, x), input, PyTorch's gradient)
EDGES = {
    "sinc at 0": (lambda m, x: m.sinc(x).sum(), [0.0, 0.5], [0.0, -4 / math.pi]),
    "xlogy, x = 0": (lambda m, x: m.xlogy(x, m.tensor([0.0, 2.0, -1.0], dtype=x.dtype)).sum(),
                     [0.0, 0.0, 0.0], [0.0, math.log(2), 0.0]),
    "xlogy, y = 0": (lambda m, x: m.xlogy(m.tensor([0.0, 1.0], dtype=x.dtype), x).sum(),
                     [0.0, 0.0], [math.nan, math.inf]),
    "floor": (lambda m, x: m.floor(x).sum(), [1.0, -0.5], [0.0, 0.0]),
    "round with decimals": (lambda m, x: m.round(x, decimals=1).sum(), [1.26, 2.0], [0.0, 0.0]),
    "frac": (lambda m, x: m.frac(x).sum(), [1.5, -2.25], [1.0, 1.0]),
    "hypot at the origin": (lambda m, x: m.hypot(x, m.zeros_like(x)).sum(), [0.0], [math.nan]),
    "digamma pole": (lambda m, x: m.lgamma(x).sum(), [-1.0, 1.0], [math.nan, -0.5772156649]),
    "clamp at tensor bounds": (
        lambda m, x: m.clamp(x, m.tensor([1.0, 1.0, 4.0], dtype=x.dtype),
                             m.tensor([3.0, 3.0, 3.0], dtype=x.dtype)).sum(),
        [1.0, 3.0, 3.5], [1.0, 1.0, 0.0]),
}


@pytest.mark.parametrize("case", sorted(EDGES))
def test_conventions_at_kinks_zeros_and_poles(case):
    fn, data, expected = EDGES[case]
    x = gg.tensor(data, dtype=gg.float64, requires_grad=True)
    fn(gg, x).backward()
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-9)
    torch = pytest.importorskip("torch")
    t = torch.tensor(data, dtype=torch.float64, requires_grad=True)
    fn(torch, t).backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-9)


def test_pole_values_match_pytorch():
    torch = pytest.importorskip("torch")
    x = [0.0, -0.0, -1.0, -2.0, 1.0, math.inf, -math.inf, math.nan]
    for name in ("lgamma", "digamma"):
        np.testing.assert_allclose(getattr(gg, name)(gg.tensor(x, dtype=gg.float64)).numpy(),
                                   getattr(torch, name)(torch.tensor(x, dtype=torch.float64))
                                   .numpy(), rtol=1e-14, err_msg=name)
    np.testing.assert_array_equal(gg.polygamma(1, gg.tensor([0.0, 1.0, math.inf])).numpy(),
                                  torch.polygamma(1, torch.tensor([0.0, 1.0, math.inf])).numpy())
    np.testing.assert_array_equal(gg.polygamma(2, gg.tensor(0.0)).numpy(),
                                  torch.polygamma(2, torch.tensor(0.0)).numpy())


@pytest.mark.parametrize("bounds", [("min",), ("max",), ("min", "max")])
def test_clamp_with_tensor_bounds_matches_pytorch(bounds):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x, lo, hi = rng.standard_normal((2, 3)), rng.standard_normal((3,)), rng.standard_normal((2, 1))
    limits = {"min": lo, "max": hi}
    results = []
    for m in (gg, torch):
        xs = [m.tensor(a, requires_grad=True) for a in (x, *(limits[b] for b in bounds))]
        out = m.clamp(xs[0], **dict(zip(bounds, xs[1:], strict=True)))
        (out * m.tensor(np.linspace(-1.0, 2.0, 6).reshape(2, 3))).sum().backward()
        results.append([out.detach().numpy()] + [t.grad.numpy() for t in xs])
    for a, b in zip(*results, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    with gg.no_grad():
        y = gg.tensor(x)
        y.clamp_(gg.tensor(lo), gg.tensor(hi))
    np.testing.assert_allclose(y.numpy(), torch.clamp(torch.tensor(x), torch.tensor(lo),
                                                      torch.tensor(hi)).numpy())


def test_non_differentiable_sign_tests_match_pytorch():
    torch = pytest.importorskip("torch")
    x = [-2.0, -0.0, 0.0, 3.0, math.inf]
    t = gg.tensor(x, requires_grad=True)
    for name in ("signbit", "sgn"):
        out = getattr(gg, name)(t)
        assert not out.requires_grad
        np.testing.assert_array_equal(out.numpy(), getattr(torch, name)(torch.tensor(x)).numpy())
    values = [0.5, 0.5, 0.5, 0.5, 0.5]
    np.testing.assert_array_equal(
        gg.heaviside(gg.tensor(x), gg.tensor(values)).numpy(),
        torch.heaviside(torch.tensor(x), torch.tensor(values)).numpy())


@pytest.mark.parametrize("name, args", [
    ("floor_", ()), ("ceil_", ()), ("round_", ()), ("trunc_", ()), ("fix_", ()), ("frac_", ()),
    ("log1p_", ()), ("expm1_", ()), ("exp2_", ()), ("sinh_", ()), ("tan_", ()), ("arcsin_", ()),
    ("arctan_", ()), ("reciprocal_", ()), ("sinc_", ()), ("erfc_", ()), ("erfinv_", ()),
    ("lgamma_", ()), ("digamma_", ()), ("polygamma_", (2,)),
    ("atan2_", ("other",)), ("hypot_", ("other",)), ("xlogy_", ("other",)),
    ("lerp_", ("other", 0.3)), ("addcmul_", ("other", "other")),
    ("addcdiv_", ("other", "other")), ("true_divide_", ("other",)),
])
def test_inplace_forms_match_pytorch(name, args):
    torch = pytest.importorskip("torch")
    base = np.array([0.3, -0.45, 0.8])
    other = np.array([0.7, 0.2, 0.9])
    results = []
    for m in (gg, torch):
        leaf = m.tensor(base, requires_grad=True)
        x = leaf * 1.0  # a non-leaf: changed in place while recording
        margs = [m.tensor(other) if a == "other" else a for a in args]
        assert getattr(x, name)(*margs) is x
        (x * m.tensor([1.0, 2.0, 3.0], dtype=m.float64)).sum().backward()
        with m.no_grad():
            y = m.tensor(base)
            getattr(y, name)(*margs)  # no graph: written straight into the array
        results.append((x.detach().numpy(), leaf.grad.numpy(), y.numpy()))
    for a, b in zip(*results, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-15)  # PyTorch's polygamma: 1e-9


def test_methods_aliases_and_dtypes():
    x = gg.tensor([1, 2, 3])
    assert gg.log1p(x).dtype == gg.float32 and gg.atan2(x, x).dtype == gg.float32
    assert gg.floor(x).dtype == gg.int64 and gg.floor(x).tolist() == [1, 2, 3]
    assert gg.float_power(gg.tensor([2.0], dtype=gg.float32), 2).dtype == gg.float64
    assert gg.fix is gg.trunc and gg.arcsin is gg.asin and gg.arctan2 is gg.atan2
    assert gg.true_divide is gg.div and gg.Tensor.true_divide is gg.div
    assert gg.Tensor.arccosh is gg.acosh and gg.Tensor.fix is gg.trunc
    y = gg.tensor([0.5, 1.5])
    assert y.polygamma(1).tolist() == gg.polygamma(1, y).tolist()
    assert y.lerp(gg.tensor([1.5, 2.5]), 0.5).tolist() == [1.0, 2.0]
    z = gg.tensor([-2.0, 0.0, 3.0])
    assert z.sgn_() is z and z.tolist() == [-1.0, 0.0, 1.0]


def test_size_zero_inputs():
    e = gg.zeros((0, 3), requires_grad=True)
    for fn in (gg.lgamma, gg.erfinv, gg.sinc, gg.floor, lambda t: gg.polygamma(2, t),
               lambda t: gg.xlogy(t, t), lambda t: gg.lerp(t, t, t)):
        out = fn(e)
        assert out.shape == (0, 3)
        out.sum().backward()
        assert e.grad.shape == (0, 3)
        e.grad = None


@pytest.mark.parametrize("call, error, match", [
    (lambda: gg.polygamma(-1, gg.tensor([1.0])), ValueError, "polygamma: the order n"),
    (lambda: gg.polygamma(1.5, gg.tensor([1.0])), ValueError, "polygamma: the order n"),
    (lambda: gg.round(gg.tensor([1.0]), decimals=0.5), TypeError, "round: decimals"),
    (lambda: gg.frac(gg.tensor([1, 2])), TypeError, "frac: expected a floating"),
    (lambda: gg.heaviside(gg.tensor([1.0]), gg.tensor([1], dtype=gg.int64)), TypeError,
     "heaviside: input"),
    (lambda: gg.atan2(gg.ones(2), gg.ones(3)), ValueError, "broadcast"),
    (lambda: gg.clamp(gg.ones(2), gg.ones(3)), ValueError, "broadcast"),
    (lambda: gg.ones(2).lerp_(gg.ones(3, 2), 0.5), ValueError, "lerp_"),
])
def test_errors_name_the_operation(call, error, match):
    with pytest.raises(error, match=match):
        call()
