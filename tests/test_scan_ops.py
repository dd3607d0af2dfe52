"""cumsum, cumprod, cummax, cummin and logcumsumexp: the cases the op registry
(tests/opinfo.py) does not reach (zeros in cumprod, ties and NaN in cummax/cummin, -inf
and large values in logcumsumexp, 0-d and size-0 inputs, dtypes, errors), known values
from the maths, and comparisons with PyTorch in float64 (values, indices, gradients and
second derivatives) on hypothesis shapes."""
from __future__ import annotations

import numpy as np
import pytest
from against_torch import against_torch
from hypothesis import given, settings
from hypothesis import strategies as st

import graphgrad as gg
from graphgrad.testing import gradcheck, gradgradcheck
from graphgrad.testing.strategies import arrays, shapes

nan, inf = float("nan"), float("inf")
SCANS = ("cumsum", "cumprod", "logcumsumexp", "cummax", "cummin")


def _f64(data, requires_grad=True):
    return gg.tensor(data, dtype=gg.float64, requires_grad=requires_grad)


# ------------------------------------------------------------ known values
def test_cumprod_with_a_zero_by_hand():
    """x = [1, 2, 0, 3]: out = [1, 2, 0, 0].  d out_i / d x_k = prod_{j <= i, j != k} x_j:
    x_0 gets 1 + x_1 = 3 (the later terms hold x_2 = 0), x_1 gets x_0 = 1, x_2 gets
    x_0 x_1 + x_0 x_1 x_3 = 2 + 6 = 8, x_3 gets 0 (its products hold x_2)."""
    x = _f64([1.0, 2.0, 0.0, 3.0])
    out = gg.cumprod(x, 0)
    assert out.tolist() == [1.0, 2.0, 0.0, 0.0]
    out.sum().backward()
    assert x.grad.tolist() == [3.0, 1.0, 8.0, 0.0]


def test_cumprod_second_derivative_with_zeros_by_hand():
    """x = [1, 2, 0, 3, 0, 4], sum of the gradient (g = 1): every term of
    sum_k sum_{i >= k} prod_{j <= i, j != k} x_j that holds at most one zero factor
    counts in the derivative.  E.g. d/dx_5 = 0 (every product with x_5 holds both zeros,
    less at most one), d/dx_4 = x_0 x_1 x_3 (1 + x_5) = 30 (from k = 2, i = 4 and 5)."""
    x = _f64([1.0, 2.0, 0.0, 3.0, 0.0, 4.0])
    (g,) = gg.grad(gg.cumprod(x, 0).sum(), [x], create_graph=True)
    assert g.tolist() == [3.0, 1.0, 8.0, 0.0, 0.0, 0.0]
    (h,) = gg.grad(g.sum(), [x])
    assert h.tolist() == [9.0, 5.0, 44.0, 2.0, 30.0, 0.0]


def test_cumsum_gradient_is_a_reverse_cumsum():
    x = _f64([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    out = gg.cumsum(x, 1)
    assert out.tolist() == [[1.0, 3.0, 6.0], [4.0, 9.0, 15.0]]
    out.backward(gg.tensor([[1.0, 10.0, 100.0], [0.0, 0.0, 1.0]], dtype=gg.float64))
    assert x.grad.tolist() == [[111.0, 110.0, 100.0], [1.0, 1.0, 1.0]]


def test_logcumsumexp_known_values_and_gradient():
    """log(e^0) = 0, log(1 + 1) = log 2, log(2 + e^(log 2)) = log 4; the gradient of
    out_2 is the softmax of x_0..x_2 = [1/4, 1/4, 1/2]."""
    x = _f64([0.0, 0.0, np.log(2.0)])
    out = gg.logcumsumexp(x, 0)
    np.testing.assert_allclose(out.numpy(), np.log([1.0, 2.0, 4.0]), rtol=1e-15)
    out[2].backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.25, 0.25, 0.5], rtol=1e-15)


def test_logcumsumexp_is_stable_for_large_values_and_minus_inf():
    x = _f64([1000.0, 1000.0, -inf, 999.0, -1000.0])
    out = gg.logcumsumexp(x, 0)
    want = 1000.0 + np.log([1.0, 2.0, 2.0, 2.0 + np.exp(-1.0), 2.0 + np.exp(-1.0)])
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-15)
    out.backward(gg.ones(5, dtype=gg.float64))
    assert np.isfinite(x.grad.numpy()).all() and x.grad[2].item() == 0.0
    np.testing.assert_allclose(x.grad.sum().item(), 5.0, rtol=1e-12)  # softmax rows sum to 1
    assert gg.logcumsumexp(_f64([-inf, -inf]), 0).tolist() == [-inf, -inf]


def test_cummax_cummin_ties_take_the_latest_position_and_nan_stays():
    x = gg.tensor([1.0, 3.0, 3.0, 2.0, nan, 5.0, nan, 1.0])
    values, indices = gg.cummax(x, 0)
    np.testing.assert_array_equal(values.numpy(), [1, 3, 3, 3, nan, nan, nan, nan])
    assert indices.tolist() == [0, 1, 2, 2, 4, 4, 6, 6]
    values, indices = gg.cummin(gg.tensor([2, 1, 2, 1]), 0)
    assert values.tolist() == [2, 1, 1, 1] and indices.tolist() == [0, 1, 1, 3]
    assert values.dtype == np.int64 and indices.dtype == np.int64


def test_cummax_gradient_goes_to_the_arg_positions():
    x = _f64([2.0, 1.0, 2.0, 3.0])
    values, indices = gg.cummax(x, 0)
    assert indices.tolist() == [0, 0, 2, 3]
    values.backward(gg.tensor([1.0, 10.0, 100.0, 1000.0], dtype=gg.float64))
    assert x.grad.tolist() == [11.0, 0.0, 100.0, 1000.0]


# --------------------------------------------------- types, dtypes, shapes, errors
def test_results_methods_and_dtypes():
    x = gg.tensor([[1, 2], [3, 4]], dtype=gg.int32)
    assert gg.cumsum(x, 0).dtype == np.int64 and gg.cumprod(x, 1).dtype == np.int64
    assert gg.cumsum(gg.tensor([True, True]), 0).tolist() == [1, 2]
    assert gg.cumsum(x, 1, dtype=gg.float32).dtype == np.float32
    assert gg.cumsum(gg.tensor([0.5, 0.25], dtype=gg.float32), 0, dtype=gg.float64).dtype \
        == np.float64
    result = gg.cummax(gg.tensor([1.0]), 0)
    assert type(result).__name__ == "cummax" and result._fields == ("values", "indices")
    assert type(gg.cummin(gg.tensor([1.0]), 0)).__name__ == "cummin"
    for name in SCANS:
        assert getattr(gg.Tensor, name) is getattr(gg, name)


@pytest.mark.parametrize("name", SCANS)
def test_zero_dim_and_empty_inputs(name):
    fn = getattr(gg, name)
    x = gg.tensor(2.5, requires_grad=True)
    for dim in (0, -1):
        out = fn(x, dim)
        values = out[0] if isinstance(out, tuple) else out
        assert values.shape == () and values.item() == 2.5
        if isinstance(out, tuple):
            assert out.indices.shape == () and out.indices.item() == 0
    values.backward()
    assert x.grad.item() == 1.0
    for shape, dim in (((0,), 0), ((2, 0), 1), ((0, 3), 1)):
        e = gg.zeros(*shape, requires_grad=True)
        out = fn(e, dim)
        values = out[0] if isinstance(out, tuple) else out
        assert values.shape == shape
        values.sum().backward()
        assert e.grad.shape == shape


@pytest.mark.parametrize("name", SCANS)
def test_errors_name_the_op_and_the_shape(name):
    fn = getattr(gg, name)
    with pytest.raises(IndexError, match=rf"{name}: dim 2 is out of range for a tensor with "
                                         r"2 dimensions"):
        fn(gg.ones(2, 3), 2)
    with pytest.raises(IndexError, match=rf"{name}: dim -2 is out of range"):
        fn(gg.tensor(1.0), -2)
    with pytest.raises(TypeError, match=rf"{name}: dim must be an integer"):
        fn(gg.ones(2, 3), None)


def test_logcumsumexp_needs_floats():
    with pytest.raises(TypeError, match="logcumsumexp: expected a floating point input, "
                                        "got int64"):
        gg.logcumsumexp(gg.tensor([1, 2]), 0)


@pytest.mark.parametrize("data", [
    [0.0, 0.0, 0.5, 2.0], [[0.0, 1.5, 0.0], [2.0, 0.0, 0.0]], [3.0, 0.0], [0.0],
    [1e-10, 2.0, 1e-12, 0.0], [5e-324, 2.0], [3e-224, 3e-224],
    [[1.5, -2.0, 0.0, 3.0, 0.0, -1.0]],
])
def test_cumprod_gradients_with_zeros_and_tiny_values_pass_checks(data):
    x = _f64(data)
    fn = lambda t: gg.cumprod(t, -1)  # noqa: E731
    assert gradcheck(fn, [x]) and gradgradcheck(fn, [x])


def test_jvp_through_the_scans_is_exact():
    """jvp is the double-vjp construction: the rules must be linear in g also at g = 0
    (logcumsumexp's rule never takes a log of g)."""
    torch = pytest.importorskip("torch")
    from torch.func import jvp

    a = np.array([[0.5, 0.0, -1.0, 2.0], [1.0, 0.0, 0.0, 3.0]])
    v = np.array([[1.0, -2.0, 0.5, 0.25], [0.0, 1.0, 2.0, -1.0]])
    for name in ("cumsum", "cumprod", "logcumsumexp"):
        _, ours = gg.autograd.functional.jvp(lambda x: getattr(gg, name)(x, 1), gg.tensor(a),
                                             gg.tensor(v))
        _, theirs = jvp(lambda x: getattr(torch, name)(x, 1), (torch.tensor(a),),
                        (torch.tensor(v),))
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12, err_msg=name)


# ----------------------------------------------------------- against PyTorch
def _call(name: str, dim: int):
    return lambda module: lambda x: getattr(module, name)(x, dim)


@st.composite
def _line_data(draw, zeros: bool = False, distinct: bool = False):
    shape = draw(shapes(0, 3, 1, 4))
    a = draw(arrays(shape, np.float64, -2.0, 2.0, distinct=distinct))
    # no tiny values: where products underflow, PyTorch's division loses them (ours is
    # exact: test_cumprod_gradients_with_zeros_and_tiny_values_pass_checks)
    a = np.where(np.abs(a) < 1e-3, 0.0, a)
    if zeros and a.size:  # some exact zeros, often several in a line
        a = np.where(draw(arrays(shape, np.float64, 0.0, 1.0)) < 0.4, 0.0, a)
    dim = draw(st.integers(-max(a.ndim, 1), max(a.ndim, 1) - 1))
    return a, dim


@settings(max_examples=15)
@given(case=_line_data(zeros=True))
def test_cumsum_cumprod_match_torch_with_zeros(case):
    torch = pytest.importorskip("torch")
    a, dim = case
    for name in ("cumsum", "cumprod"):
        against_torch(_call(name, dim)(gg), _call(name, dim)(torch), [a])


@settings(max_examples=15)
@given(case=_line_data())
def test_logcumsumexp_matches_torch(case):
    torch = pytest.importorskip("torch")
    a, dim = case
    against_torch(_call("logcumsumexp", dim)(gg), _call("logcumsumexp", dim)(torch), [a])


def test_logcumsumexp_matches_torch_at_minus_inf_and_large_values():
    torch = pytest.importorskip("torch")
    for data in ([-inf, 0.0, -inf, 1000.0, 1000.0], [-inf, -inf, 1.0], [700.0, -700.0, 710.0],
                 [[-inf, 2.0], [3.0, -inf]]):
        dim = -1
        against_torch(_call("logcumsumexp", dim)(gg), _call("logcumsumexp", dim)(torch),
                      [np.array(data)], second_order=False)


@settings(max_examples=15)
@given(case=_line_data(distinct=True))
def test_cummax_cummin_match_torch(case):
    torch = pytest.importorskip("torch")
    a, dim = case
    for name in ("cummax", "cummin"):
        against_torch(_call(name, dim)(gg), _call(name, dim)(torch), [a])


def test_cummax_cummin_match_torch_on_ties_and_nan():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    for shape in ((9,), (3, 6), (2, 3, 4)):
        a = rng.integers(-2, 3, size=shape).astype(np.float64)
        a[rng.random(shape) < 0.15] = nan
        for dim in range(a.ndim):
            for name in ("cummax", "cummin"):
                against_torch(_call(name, dim)(gg), _call(name, dim)(torch), [a],
                              second_order=False)
