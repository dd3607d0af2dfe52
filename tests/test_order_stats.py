"""msort, kthvalue, median, nanmedian, quantile, nanquantile, mode and aminmax: what the op
registry (tests/opinfo.py, distinct values) does not reach — ties, NaN, 0-d and size-0
inputs, q forms and interpolations, errors, the result types — known values, and
comparisons with PyTorch in float64 (values, indices, gradients, second derivatives)."""
from __future__ import annotations

import numpy as np
import pytest
from against_torch import against_torch
from hypothesis import given, settings
from hypothesis import strategies as st

import graphgrad as gg
from graphgrad.testing.strategies import arrays, shapes

nan = float("nan")
TIES = [3.0, 1.0, 3.0, 2.0, 1.0, 3.0, 2.0]
INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def _f64(data):
    return gg.tensor(data, dtype=gg.float64, requires_grad=True)


# ------------------------------------------------------------ known values
def test_known_values():
    x = gg.tensor(TIES)  # sorted: 1 1 2 2 3 3 3
    assert gg.median(x).item() == 2.0 and gg.median(gg.tensor([4.0, 1.0, 3.0, 2.0])).item() == 2.0
    assert gg.kthvalue(x, 3).values.item() == 2.0 and gg.kthvalue(x, 7).values.item() == 3.0
    values, indices = gg.mode(x)
    assert values.item() == 3.0 and indices.item() == 5  # three 3s; the last at 5
    values, indices = gg.mode(gg.tensor([2.0, 1.0, 1.0, 2.0, 3.0]))
    assert values.item() == 1.0 and indices.item() == 2  # 1 and 2 twice: the smaller
    # rank q (n - 1) = 0.3 * 3 = 0.9 between 10 and 20
    q = gg.tensor([10.0, 40.0, 20.0, 30.0])
    assert gg.quantile(q, 0.3).item() == pytest.approx(19.0)
    for interpolation, want in zip(INTERPOLATIONS, (19.0, 10.0, 20.0, 15.0, 20.0), strict=True):
        assert gg.quantile(q, 0.3, interpolation=interpolation).item() == pytest.approx(want)
    assert gg.msort(gg.tensor([[3.0, 1.0], [1.0, 2.0]])).tolist() == [[1.0, 1.0], [3.0, 2.0]]
    low, high = gg.aminmax(gg.tensor([[1.0, 2.0], [3.0, 0.0]]), dim=1)
    assert low.tolist() == [1.0, 0.0] and high.tolist() == [2.0, 3.0]


def test_quantile_gradient_splits_between_the_neighbours():
    x = _f64([10.0, 40.0, 20.0, 30.0])
    gg.quantile(x, 0.3).backward()  # 0.1 of the way from 10 to 20
    np.testing.assert_allclose(x.grad.numpy(), [0.1, 0.0, 0.9, 0.0])


def test_global_median_shares_the_gradient_among_ties_and_nans():
    x = _f64([1.0, 2.0, 2.0, 2.0, 0.0])
    gg.median(x).backward()
    np.testing.assert_allclose(x.grad.numpy(), [0, 1 / 3, 1 / 3, 1 / 3, 0])
    x = _f64([1.0, nan, 2.0, nan])
    gg.median(x).backward()
    assert x.grad.tolist() == [0.0, 0.5, 0.0, 0.5]
    x = _f64([1.0, nan, 2.0, nan])
    gg.nanmedian(x).backward()
    assert x.grad.tolist() == [1.0, 0.0, 0.0, 0.0]


def test_nan_conventions():
    x = gg.tensor([1.0, nan, 2.0, nan])
    values, indices = gg.median(x, 0)
    assert np.isnan(values.item()) and indices.item() == 1  # the first NaN
    values, indices = gg.nanmedian(gg.tensor([1.0, nan, 2.0, nan, 0.0]), 0)
    assert values.item() == 1.0 and indices.item() == 0
    values, indices = gg.nanmedian(gg.tensor([nan, nan]), 0)
    assert np.isnan(values.item()) and indices.item() == 0
    assert np.isnan(gg.quantile(x, 0.5).item()) and gg.nanquantile(x, 0.5).item() == 1.5
    assert np.isnan(gg.nanquantile(gg.tensor([nan, nan]), 0.5).item())
    assert gg.kthvalue(gg.tensor([2.0, nan, 1.0, nan, 3.0]), 4).indices.item() == 1


# --------------------------------------------------- types, shapes, errors
def test_results_and_methods():
    x = gg.tensor([[2.0, 1.0, 3.0]])
    for name, fields in (("kthvalue", ("values", "indices")), ("median", ("values", "indices")),
                         ("nanmedian", ("values", "indices")), ("mode", ("values", "indices")),
                         ("aminmax", ("min", "max"))):
        result = getattr(gg, name)(x, 1) if name == "kthvalue" else (
            gg.aminmax(x, dim=1) if name == "aminmax" else getattr(gg, name)(x, 1))
        assert type(result).__name__ == name and result._fields == fields
        assert getattr(gg.Tensor, name) is getattr(gg, name)
    for name in ("msort", "quantile", "nanquantile"):
        assert getattr(gg.Tensor, name) is getattr(gg, name)
    assert gg.median(gg.tensor([3, 1, 2])).dtype == np.int64


def test_quantile_shapes():
    x = gg.zeros(2, 3, dtype=gg.float64)
    q = gg.tensor([0.2, 0.5], dtype=gg.float64)
    assert gg.quantile(x, q, dim=1, keepdim=True).shape == (2, 2, 1)
    assert gg.quantile(x, q, keepdim=True).shape == (2, 1, 1)
    assert gg.quantile(x, gg.tensor(0.2, dtype=gg.float64), keepdim=True).shape == (1, 1)
    assert gg.quantile(x, 0.5, dim=0).shape == (3,)
    assert gg.quantile(x, gg.tensor([], dtype=gg.float64), dim=1).shape == (0, 2)
    assert gg.quantile(gg.tensor(3.0), 0.5, dim=0, keepdim=True).shape == ()


def test_zero_dim_and_size_zero_inputs():
    s = gg.tensor(3.0, requires_grad=True)
    for result in (gg.median(s, 0), gg.kthvalue(s, 1), gg.mode(s), gg.nanmedian(s, 0)):
        assert result.values.shape == () and result.values.item() == 3.0
        assert result.indices.item() == 0
    assert gg.msort(s).item() == 3.0 and gg.aminmax(s, dim=0).max.item() == 3.0
    assert np.isnan(gg.median(gg.zeros(0)).item())
    for fn in (lambda e: gg.median(e, 1), lambda e: gg.kthvalue(e, 1, 1), lambda e: gg.mode(e, 1),
               lambda e: gg.nanmedian(e, 1)):
        values, indices = fn(gg.zeros(0, 3))
        assert values.shape == indices.shape == (0,)
    assert gg.aminmax(gg.zeros(2, 0), dim=0).min.shape == (0,)
    assert gg.msort(gg.zeros(0, 2)).shape == (0, 2)


@pytest.mark.parametrize("call, error, match", [
    (lambda: gg.kthvalue(gg.ones(2, 3), 4), RuntimeError,
     r"kthvalue: k = 4 is out of range for dim 1 of size 3 \(input shape \(2, 3\)\)"),
    (lambda: gg.kthvalue(gg.ones(2, 3), 0, 0), RuntimeError, "k = 0 is out of range for dim 0"),
    (lambda: gg.kthvalue(gg.ones(3), 1.5), TypeError, "kthvalue: k must be an int, got 1.5"),
    (lambda: gg.kthvalue(gg.ones(2, 0), 1), IndexError,
     r"kthvalue: cannot reduce over dim 1 of size 0 \(input shape \(2, 0\)\)"),
    (lambda: gg.median(gg.ones(2, 0), 1), IndexError, "median: cannot reduce over dim 1"),
    (lambda: gg.mode(gg.ones(2, 0)), IndexError, "mode: cannot reduce over dim 1 of size 0"),
    (lambda: gg.median(gg.ones(2), 3), IndexError, "median: dim 3 is out of range"),
    (lambda: gg.quantile(gg.zeros(0), 0.5), ValueError,
     r"quantile: the input must be non-empty \(shape \(0,\)\)"),
    (lambda: gg.quantile(gg.zeros(3), 1.5), ValueError, r"quantile: q values must be in \[0, 1\]"),
    (lambda: gg.nanquantile(gg.zeros(3), gg.tensor([0.5, -0.1], dtype=gg.float32)), ValueError,
     r"nanquantile: q values must be in \[0, 1\], got \[0.5, -0.1"),
    (lambda: gg.quantile(gg.zeros(3), gg.tensor([[0.5]], dtype=gg.float32)), ValueError,
     r"quantile: q must be a scalar or 1-D tensor, got shape \(1, 1\)"),
    (lambda: gg.quantile(gg.zeros(3), gg.tensor([0.5], dtype=gg.float64)), TypeError,
     r"quantile: q \(float64\) must have the input's dtype \(float32\)"),
    (lambda: gg.quantile(gg.zeros(3), [0.5]), TypeError, "quantile: q must be a float or a Tensor"),
    (lambda: gg.quantile(gg.tensor([1, 2]), 0.5), TypeError,
     "quantile: expected a floating point input, got int64"),
    (lambda: gg.quantile(gg.zeros(3), 0.5, interpolation="foo"), ValueError,
     "quantile: interpolation must be one of linear, lower, higher, midpoint, nearest, got 'foo'"),
    (lambda: gg.aminmax(gg.zeros(0)), ValueError, r"aminmax: cannot reduce an empty input"),
    (lambda: gg.aminmax(gg.zeros(2, 0), dim=1), IndexError,
     r"aminmax: cannot reduce over dim 1 of size 0 \(input shape \(2, 0\)\)"),
])
def test_errors_name_the_op_and_the_values(call, error, match):
    with pytest.raises(error, match=match):
        call()


# ----------------------------------------------------------- against PyTorch
@st.composite
def _case(draw, distinct=True):
    shape = draw(shapes(0, 3, 1, 4))
    a = draw(arrays(shape, np.float64, -3.0, 3.0, distinct=distinct))
    dim = draw(st.integers(-max(a.ndim, 1), max(a.ndim, 1) - 1))
    return a, dim, draw(st.booleans())


@settings(max_examples=15)
@given(case=_case(), data=st.data())
def test_selections_match_torch(case, data):
    torch = pytest.importorskip("torch")
    a, dim, keepdim = case
    n = a.shape[dim] if a.ndim else 1
    k = data.draw(st.integers(1, n), label="k")
    for name, args in (("kthvalue", (k, dim, keepdim)), ("median", (dim, keepdim)),
                       ("nanmedian", (dim, keepdim)), ("mode", (dim, keepdim))):
        against_torch(lambda x, name=name, args=args: getattr(gg, name)(x, *args),
                      lambda x, name=name, args=args: getattr(torch, name)(x, *args), [a])
    for name in ("median", "nanmedian", "msort"):
        against_torch(getattr(gg, name), getattr(torch, name), [a])
    against_torch(lambda x: gg.aminmax(x, dim=dim, keepdim=keepdim),
                  lambda x: torch.aminmax(x, dim=dim, keepdim=keepdim), [a])
    against_torch(lambda x: gg.aminmax(x), lambda x: torch.aminmax(x), [a])


@settings(max_examples=15)
@given(case=_case(), data=st.data())
def test_quantiles_match_torch(case, data):
    torch = pytest.importorskip("torch")
    a, dim, keepdim = case
    qs = data.draw(st.lists(st.floats(0.0, 1.0), max_size=3), label="q")
    as_tensor = data.draw(st.booleans(), label="q as tensor") or len(qs) != 1
    use_dim = data.draw(st.booleans(), label="with dim")
    for name in ("quantile", "nanquantile"):
        for interpolation in INTERPOLATIONS:
            kwargs = {"dim": dim if use_dim else None, "keepdim": keepdim,
                      "interpolation": interpolation}

            def ours(x, name=name, kwargs=kwargs):
                q = gg.tensor(qs, dtype=gg.float64) if as_tensor else qs[0]
                return getattr(gg, name)(x, q, **kwargs)

            def theirs(x, name=name, kwargs=kwargs):
                q = torch.tensor(qs, dtype=torch.float64) if as_tensor else qs[0]
                return getattr(torch, name)(x, q, **kwargs)

            against_torch(ours, theirs, [a])


def test_ties_and_nan_match_torch():
    """Small integers (many ties) and NaN: values, and mode's indices, exactly; kthvalue's
    and median's indices point at an element of the value (PyTorch's choice among ties is
    open); the gradients of the global median and of aminmax (shared by ties)."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    for shape in ((9,), (3, 6), (2, 3, 4)):
        a = rng.integers(-2, 3, size=shape).astype(np.float64)
        with_nan = np.where(rng.random(shape) < 0.2, nan, a)
        for dim in range(a.ndim):
            ours, theirs = gg.mode(gg.tensor(a), dim), torch.mode(torch.tensor(a), dim)
            np.testing.assert_array_equal(ours.values.numpy(), theirs.values.numpy())
            np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())
            for b in (a, with_nan):
                for name, args in (("kthvalue", (2, dim)), ("median", (dim,)),
                                   ("nanmedian", (dim,))):
                    ours = getattr(gg, name)(gg.tensor(b), *args)
                    theirs = getattr(torch, name)(torch.tensor(b), *args)
                    np.testing.assert_array_equal(ours.values.numpy(), theirs.values.numpy())
                    picked = np.take_along_axis(b, np.expand_dims(ours.indices.numpy(), dim), dim)
                    np.testing.assert_array_equal(picked.squeeze(dim), ours.values.numpy())
                for name in ("quantile", "nanquantile"):
                    for interpolation in INTERPOLATIONS:
                        np.testing.assert_allclose(
                            getattr(gg, name)(gg.tensor(b), 0.4, dim,
                                              interpolation=interpolation).numpy(),
                            getattr(torch, name)(torch.tensor(b), 0.4, dim,
                                                 interpolation=interpolation).numpy(),
                            rtol=1e-12, equal_nan=True)
        against_torch(lambda x: gg.aminmax(x, dim=0), lambda x: torch.aminmax(x, dim=0), [a])
        against_torch(lambda x: gg.aminmax(x), lambda x: torch.aminmax(x), [a])
        for b in (a, with_nan):
            for name in ("median", "nanmedian"):
                against_torch(getattr(gg, name), getattr(torch, name), [b])
            # quantile's gradient with NaN lines goes to a NaN element, as PyTorch's
            against_torch(lambda x: gg.quantile(x, 0.5, -1), lambda x: torch.quantile(x, 0.5, -1),
                          [np.where(np.isnan(b), nan, np.arange(b.size).reshape(b.shape))])
