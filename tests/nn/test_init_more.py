"""nn.init beyond the layer defaults: trunc_normal_ (both samplers), orthogonal_, sparse_,
dirac_, eye_, constant_, generator= on every random initialiser, and PyTorch's deprecated
aliases."""
from __future__ import annotations

import math

import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import given, settings

import graphgrad as gg
from graphgrad.nn import init


def _truncated_moments(mean, std, a, b):
    """Mean and variance of N(mean, std^2) conditioned on [a, b] (closed form)."""
    alpha, beta = (a - mean) / std, (b - mean) / std
    pdf = lambda z: math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)  # noqa: E731
    cdf = lambda z: 0.5 * (1 + math.erf(z / math.sqrt(2)))  # noqa: E731
    mass = cdf(beta) - cdf(alpha)
    shift = (pdf(alpha) - pdf(beta)) / mass
    var = 1 + (alpha * pdf(alpha) - beta * pdf(beta)) / mass - shift**2
    return mean + std * shift, std**2 * var


@pytest.mark.parametrize("mean, std, a, b", [
    (0.0, 1.0, -2.0, 2.0),  # most of the mass inside: normal draws, redrawn outside
    (0.5, 2.0, -1.0, 0.0),  # an interval off the mean
    (0.0, 1.0, 1.9, 4.0),  # a tail (2.9% of the mass): uniform candidates
    pytest.param(0.0, 1.0, 3.0, 4.0, marks=pytest.mark.filterwarnings("ignore:mean is more"),
                 id="far-tail"),  # 0.13% of the mass
    (1.0, 0.1, -1.0, 0.9),  # one-sided, 1 std below the mean
])
def test_trunc_normal_has_the_truncated_distribution(mean, std, a, b):
    gg.manual_seed(0)
    w = gg.empty(200, 200, dtype=gg.float64)
    init.trunc_normal_(w, mean, std, a, b)
    values = w.numpy()
    assert values.min() >= a and values.max() <= b
    expected_mean, expected_var = _truncated_moments(mean, std, a, b)
    standard_error = math.sqrt(expected_var / values.size)
    assert abs(values.mean() - expected_mean) < 5 * standard_error
    assert values.var() == pytest.approx(expected_var, rel=0.03)


def test_trunc_normal_keeps_float32_values_inside_the_bounds_and_warns_far_from_the_mean():
    gg.manual_seed(1)
    w = init.trunc_normal_(gg.empty(1000), mean=0.0, std=1.0, a=0.1, b=0.3)
    assert w.dtype == np.float32
    bounds = np.array([0.1, 0.3], dtype=np.float32)
    assert w.numpy().min() >= bounds[0] and w.numpy().max() <= bounds[1]
    with pytest.warns(UserWarning, match="mean is more than 2 std from"):
        init.trunc_normal_(gg.empty(10), mean=5.0, std=1.0, a=-1.0, b=1.0)


RANDOM_INITS = [
    (init.uniform_, {"a": -1.0, "b": 2.0}),
    (init.normal_, {"mean": 1.0, "std": 0.5}),
    (init.trunc_normal_, {"std": 0.02}),
    (init.trunc_normal_, {"a": 1.9, "b": 4.0}),
    (init.xavier_uniform_, {}),
    (init.xavier_normal_, {"gain": 2.0}),
    (init.kaiming_uniform_, {"a": 0.1}),
    (init.kaiming_normal_, {"mode": "fan_out"}),
    (init.orthogonal_, {"gain": 0.5}),
    (init.sparse_, {"sparsity": 0.3}),
]


@pytest.mark.parametrize("fn, kwargs", RANDOM_INITS,
                         ids=[f"{fn.__name__}-{i}" for i, (fn, _) in enumerate(RANDOM_INITS)])
def test_generator_draws_reproducibly_and_apart_from_the_global_seed(fn, kwargs):
    first, second, third = (gg.empty(6, 5, dtype=gg.float64) for _ in range(3))
    gg.manual_seed(0)
    fn(first, generator=gg.Generator().manual_seed(7), **kwargs)
    gg.manual_seed(123)
    fn(second, generator=gg.Generator().manual_seed(7), **kwargs)
    np.testing.assert_array_equal(first.numpy(), second.numpy())
    fn(third, generator=gg.Generator().manual_seed(8), **kwargs)
    assert not np.array_equal(first.numpy(), third.numpy())
    gg.manual_seed(5)
    fn(first, **kwargs)
    gg.manual_seed(5)
    fn(second, **kwargs)
    np.testing.assert_array_equal(first.numpy(), second.numpy())


@settings(max_examples=20, deadline=None)
@given(shape=st.lists(st.integers(1, 6), min_size=2, max_size=4).map(tuple),
       gain=st.floats(0.1, 3.0))
def test_orthogonal_rows_or_columns_are_orthonormal(shape, gain):
    w = init.orthogonal_(gg.empty(*shape, dtype=gg.float64), gain=gain)
    flat = w.numpy().reshape(shape[0], -1) / gain
    rows, cols = flat.shape
    gram = flat @ flat.T if rows <= cols else flat.T @ flat
    np.testing.assert_allclose(gram, np.eye(min(rows, cols)), atol=1e-12)


def test_orthogonal_of_an_empty_tensor_is_a_no_op_and_a_vector_raises():
    assert init.orthogonal_(gg.empty(0, 3)).shape == (0, 3)
    with pytest.raises(ValueError, match=r"orthogonal_: .*2 or more dimensions.*\(4,\)"):
        init.orthogonal_(gg.empty(4))


@settings(max_examples=20, deadline=None)
@given(rows=st.integers(1, 12), cols=st.integers(1, 6), sparsity=st.floats(0.0, 1.0))
def test_sparse_zeroes_the_same_count_in_every_column(rows, cols, sparsity):
    gg.manual_seed(0)
    w = init.sparse_(gg.empty(rows, cols, dtype=gg.float64), sparsity, std=0.5)
    zeros = (w.numpy() == 0).sum(axis=0)
    np.testing.assert_array_equal(zeros, min(rows, math.ceil(sparsity * rows)))


def test_sparse_values_have_the_asked_std_and_only_2d_is_accepted():
    gg.manual_seed(2)
    values = init.sparse_(gg.empty(400, 300, dtype=gg.float64), 0.5, std=0.05).numpy()
    assert values[values != 0].std() == pytest.approx(0.05, rel=0.02)
    with pytest.raises(ValueError, match=r"sparse_: only tensors with 2 dimensions.*\(2, 3, 4\)"):
        init.sparse_(gg.empty(2, 3, 4), 0.1)


@pytest.mark.parametrize("shape, groups", [((4, 3, 5), 1), ((6, 2, 3, 3), 2), ((4, 4, 2, 3, 3), 2),
                                           ((3, 5, 4, 4), 3), ((2, 2, 1), 1)])
def test_dirac_equals_torch(shape, groups):
    torch = pytest.importorskip("torch")
    ours = init.dirac_(gg.randn(*shape), groups)
    theirs = torch.nn.init.dirac_(torch.randn(*shape), groups)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_dirac_and_eye_errors_name_the_shape():
    with pytest.raises(ValueError, match=r"dirac_: dim 0 must be divisible by groups.*\(5, 2, 3\)"):
        init.dirac_(gg.empty(5, 2, 3), groups=2)
    with pytest.raises(ValueError, match=r"dirac_: only 3, 4 or 5-D.*\(2, 2\)"):
        init.dirac_(gg.empty(2, 2))
    with pytest.raises(ValueError, match=r"eye_: only 2-D.*\(2, 2, 2\)"):
        init.eye_(gg.empty(2, 2, 2))


@pytest.mark.parametrize("shape", [(3, 5), (5, 3), (4, 4)])
def test_eye_equals_torch_and_keeps_a_parameter_a_leaf(shape):
    torch = pytest.importorskip("torch")
    p = gg.nn.Parameter(gg.randn(*shape))
    assert init.eye_(p) is p
    np.testing.assert_array_equal(p.numpy(), torch.nn.init.eye_(torch.empty(*shape)).numpy())
    assert p.requires_grad and p.is_leaf and p.grad_fn is None


def test_constant_ones_zeros_fill_in_place_without_recording():
    p = gg.nn.Parameter(gg.randn(2, 3, dtype=gg.float64))
    data = p.numpy()
    assert init.constant_(p, 0.25) is p
    np.testing.assert_array_equal(data, 0.25)
    init.ones_(p)
    np.testing.assert_array_equal(data, 1.0)
    init.zeros_(p)
    np.testing.assert_array_equal(data, 0.0)
    assert p.is_leaf and p.grad_fn is None and p.dtype == np.float64


@pytest.mark.parametrize("old, new, args", [
    ("uniform", "uniform_", ()), ("normal", "normal_", ()), ("constant", "constant_", (0.5,)),
    ("xavier_uniform", "xavier_uniform_", ()), ("xavier_normal", "xavier_normal_", ()),
    ("kaiming_uniform", "kaiming_uniform_", ()), ("kaiming_normal", "kaiming_normal_", ()),
    ("orthogonal", "orthogonal_", ()), ("sparse", "sparse_", (0.5,)),
])
def test_deprecated_names_warn_and_call_the_new_ones(old, new, args):
    a, b = gg.empty(4, 3, dtype=gg.float64), gg.empty(4, 3, dtype=gg.float64)
    gg.manual_seed(0)
    with pytest.warns(FutureWarning, match=f"`nn.init.{old}` is now deprecated in favor of "
                                           f"`nn.init.{new}`"):
        getattr(init, old)(a, *args)
    gg.manual_seed(0)
    getattr(init, new)(b, *args)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
