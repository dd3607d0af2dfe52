"""Activations as PyTorch's: values and gradients in float64 (random inputs and every
kink), gradcheck and gradgradcheck, in-place forms with PyTorch's rules, bad
arguments, and the two places where PyTorch's gradient rounds a constant to
float32 (hardsigmoid's 1/6, celu's 1/alpha) documented as tests.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import graphgrad as gg
import graphgrad.nn as nn
import graphgrad.nn.functional as F
from graphgrad.testing import gradcheck, gradgradcheck

RNG = np.random.default_rng(0)

# name -> (kwargs, points where the function has a kink or a jump)
ELEMENTWISE = {
    "relu": ({}, [0.0]),
    "relu6": ({}, [0.0, 6.0]),
    "hardtanh": ({"min_val": -0.5, "max_val": 2.0}, [-0.5, 2.0]),
    "leaky_relu": ({"negative_slope": 0.2}, [0.0]),
    "elu": ({"alpha": 1.5}, [0.0]),
    "celu": ({"alpha": 2.0}, [0.0]),
    "selu": ({}, [0.0]),
    "threshold": ({"threshold": 0.5, "value": -3.0}, [0.5]),
    "mish": ({}, []),
    "hardswish": ({}, [-3.0, 3.0]),
    "hardsigmoid": ({}, [-3.0, 3.0]),
    "softsign": ({}, [0.0]),
    "tanhshrink": ({}, []),
    "softshrink": ({"lambd": 0.7}, [-0.7, 0.7]),
    "hardshrink": ({"lambd": 0.7}, [-0.7, 0.7]),
    "silu": ({}, []),
}
# PyTorch multiplies hardsigmoid's gradient by 1/6 rounded to float32 (see the docstring
# of nn.functional.activation): a relative difference of 3e-8.
GRAD_RTOL = {"hardsigmoid": 1e-7}


def _both(name, x, upstream, **kwargs):
    torch = pytest.importorskip("torch")
    ours = gg.tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    y_o = getattr(F, name)(ours, **kwargs)
    y_t = getattr(torch.nn.functional, name)(theirs, **kwargs)
    y_o.backward(gg.tensor(upstream))
    y_t.backward(torch.tensor(upstream))
    return (y_o.numpy(), ours.grad.numpy()), (y_t.detach().numpy(), theirs.grad.numpy())


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_values_and_gradients_match_torch_at_random_points_and_kinks(name):
    kwargs, kinks = ELEMENTWISE[name]
    x = np.concatenate([RNG.uniform(-8, 8, 40), kinks, [-30.0, 30.0]])
    upstream = RNG.standard_normal(x.shape)
    (y, g), (y_t, g_t) = _both(name, x, upstream, **kwargs)
    np.testing.assert_allclose(y, y_t, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(g, g_t, rtol=GRAD_RTOL.get(name, 1e-14), atol=1e-14)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_gradcheck_and_gradgradcheck_away_from_kinks(name):
    kwargs, kinks = ELEMENTWISE[name]
    x = RNG.uniform(-4, 4, (3, 4))
    for k in kinks:  # keep a finite difference from stepping over a kink
        x = np.where(np.abs(x - k) < 0.05, k + 0.3, x)
    x = gg.tensor(x, requires_grad=True)
    fn = lambda t: getattr(F, name)(t, **kwargs)  # noqa: E731
    assert gradcheck(fn, [x])
    assert gradgradcheck(fn, [x])


@given(st.integers(1, 3), st.integers(1, 4), st.floats(-3, 3))
def test_prelu_matches_torch(channels, length, init):
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal((2, channels, length))
    x[0, 0, 0] = 0.0  # the kink: slope weight at 0, as PyTorch
    w = RNG.uniform(-1, 1, channels) + init
    ours = [gg.tensor(x, requires_grad=True), gg.tensor(w, requires_grad=True)]
    theirs = [torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)]
    upstream = RNG.standard_normal(x.shape)
    F.prelu(*ours).backward(gg.tensor(upstream))
    torch.nn.functional.prelu(*theirs).backward(torch.tensor(upstream))
    for o, t in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(o.grad.numpy(), t.grad.numpy(), rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(F.prelu(*ours).numpy(), torch.nn.functional.prelu(*theirs)
                               .detach().numpy(), rtol=1e-15)


def test_prelu_module_layout_and_gradcheck():
    m = nn.PReLU(3, init=0.1).double()
    assert m.weight.shape == (3,) and np.all(m.weight.numpy() == np.float32(0.1))
    assert repr(m) == "PReLU(num_parameters=3)"
    x = gg.tensor(RNG.uniform(0.1, 1, (2, 3, 4)) * RNG.choice([-1, 1], (2, 3, 4)),
                  requires_grad=True)
    assert gradcheck(F.prelu, [x, m.weight])
    assert gradgradcheck(F.prelu, [x, m.weight])
    y = F.prelu(gg.tensor([-2.0, 3.0]), gg.tensor(0.5))  # a 0-d weight
    assert y.tolist() == [-1.0, 3.0]


def test_prelu_rejects_a_weight_that_does_not_fit():
    with pytest.raises(ValueError, match=r"prelu: weight of shape \(2,\) has 2 slopes, but the "
                                         r"input of shape \(4, 3\) has 3 channels"):
        F.prelu(gg.randn(4, 3), gg.ones(2))
    with pytest.raises(ValueError, match=r"prelu: expected weight to be a scalar or 1-D"):
        F.prelu(gg.randn(4, 3), gg.ones(3, 1))
    with pytest.raises(ValueError, match=r"PReLU\(num_parameters=2\): expected input with "
                                         r"channels = 2 at dim 1, got input of shape \(4, 3\)"):
        nn.PReLU(2)(gg.randn(4, 3))


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_glu_matches_torch_and_checks_the_halved_dim(dim):
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal((4, 6, 2))
    upstream = RNG.standard_normal(torch.nn.functional.glu(torch.tensor(x), dim).shape)
    (y, g), (y_t, g_t) = _both("glu", x, upstream, dim=dim)
    np.testing.assert_allclose(y, y_t, rtol=1e-14)
    np.testing.assert_allclose(g, g_t, rtol=1e-13, atol=1e-15)
    assert gradgradcheck(lambda t: F.glu(t, dim), [gg.tensor(x[:2, :2], requires_grad=True)])
    with pytest.raises(ValueError, match=r"glu: the halved dim 0 must have an even size, got "
                                         r"input of shape \(3, 2\)"):
        F.glu(gg.randn(3, 2), 0)
    with pytest.raises(ValueError, match="glu: a 0-d input"):
        F.glu(gg.tensor(1.0))


def test_softmax2d_is_a_softmax_over_channels():
    x = gg.tensor(RNG.standard_normal((2, 3, 2, 2)), requires_grad=True)
    y = nn.Softmax2d()(x)
    np.testing.assert_allclose(y.numpy().sum(1), 1.0, rtol=1e-15)
    np.testing.assert_allclose(nn.Softmax2d()(x[0]).numpy(), y.numpy()[0], rtol=1e-15)
    with pytest.raises(ValueError, match=r"Softmax2d\(\): expected 3D or 4D input .* got 2D "
                                         r"input of shape \(3, 4\)"):
        nn.Softmax2d()(gg.randn(3, 4))


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match=r"softshrink: lambd must be at least 0, got -1"):
        F.softshrink(gg.randn(3), -1)
    with pytest.raises(ValueError, match="celu: alpha must not be 0"):
        F.celu(gg.randn(3), 0.0)
    with pytest.raises(ValueError, match=r"hardtanh: min_val \(2\) cannot be greater than "
                                         r"max_val \(1\)"):
        F.hardtanh(gg.randn(3), 2, 1)
    with pytest.raises(TypeError, match="relu: inplace=True needs a Tensor"):
        F.relu(np.ones(3), inplace=True)


# ------------------------------------------------------------------- in place
INPLACE = [("relu", {}), ("relu6", {}), ("hardtanh", {}), ("leaky_relu", {"negative_slope": 0.1}),
           ("elu", {}), ("celu", {"alpha": 2.0}), ("selu", {}), ("silu", {}), ("mish", {}),
           ("hardswish", {}), ("hardsigmoid", {}),
           ("threshold", {"threshold": 0.1, "value": 5.0})]


@pytest.mark.parametrize(("name", "kwargs"), INPLACE)
def test_inplace_overwrites_the_input_and_keeps_the_gradient(name, kwargs):
    torch = pytest.importorskip("torch")
    x = RNG.uniform(-4, 4, (3, 4))
    upstream = RNG.standard_normal(x.shape)
    base = gg.tensor(x, requires_grad=True)
    h = base * 2.0  # a non-leaf to change in place
    out = getattr(F, name)(h, inplace=True, **kwargs)
    assert out is h
    base_t = torch.tensor(x, requires_grad=True)
    h_t = base_t * 2.0
    getattr(torch.nn.functional, name)(h_t, inplace=True, **kwargs)
    np.testing.assert_allclose(h.numpy(), h_t.detach().numpy(), rtol=1e-13, atol=1e-15)
    h.backward(gg.tensor(upstream))
    h_t.backward(torch.tensor(upstream))
    np.testing.assert_allclose(base.grad.numpy(), base_t.grad.numpy(),
                               rtol=GRAD_RTOL.get(name, 1e-13), atol=1e-15)


@pytest.mark.parametrize("name", ["relu_", "elu_", "celu_", "selu_", "leaky_relu_",
                                  "hardtanh_"])
def test_underscore_functions_change_their_input(name):
    x = gg.tensor([-1.0, 0.5, 2.0])
    expected = getattr(F, name[:-1])(x.clone()).numpy()
    assert getattr(F, name)(x) is x
    np.testing.assert_array_equal(x.numpy(), expected)
    y = gg.tensor([-1.0, 0.5, 2.0])
    assert F.threshold_(y, 1.0, 7.0) is y and y.tolist() == [7.0, 7.0, 2.0]


def test_inplace_follows_pytorchs_rules():
    leaf = gg.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        F.relu(leaf, inplace=True)
    with gg.no_grad():  # allowed outside recording, as PyTorch
        F.relu(leaf, inplace=True)
    assert (leaf.numpy() >= 0).all()
    # A value saved for backward (sigmoid keeps its output) must not change in place.
    y = gg.sigmoid(gg.randn(3, requires_grad=True))
    F.relu_(y)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_modules_pass_inplace_on():
    x = gg.tensor([-1.0, 2.0])
    assert nn.ReLU(inplace=True)(x) is x and x.tolist() == [0.0, 2.0]
    assert repr(nn.ReLU(inplace=True)) == "ReLU(inplace=True)"
    z = gg.tensor([-1.0, 2.0], dtype=gg.float64)
    nn.Hardswish(inplace=True)(z)
    assert z.tolist() == [-1.0 * 2.0 / 6.0, 2.0 * 5.0 / 6.0]


# ------------------------------------------------ PyTorch's float32 constants
def test_celu_gradient_is_the_exact_derivative():
    """PyTorch's celu backward divides by alpha rounded to float32 (pytorch's
    derivatives.yaml: 1 / alpha.toFloat()); ours is the derivative of the forward.
    For an alpha exact in float32 both agree (tested above with alpha = 2)."""
    torch = pytest.importorskip("torch")
    x = np.array([-2.0, -0.5, 1.0])
    (_, g), (_, g_t) = _both("celu", x, np.ones(3), alpha=1.7)
    np.testing.assert_allclose(g[:2], np.exp(x[:2] / 1.7), rtol=1e-15)
    alpha32 = float(np.float32(1.7))
    np.testing.assert_allclose(g_t[:2], 1.7 / alpha32 * np.exp(x[:2] / alpha32), rtol=1e-15)
    np.testing.assert_allclose(g, g_t, rtol=1e-7)
    assert torch.is_tensor(torch.tensor(g_t))


def test_hardsigmoid_gradient_is_exactly_one_sixth_inside():
    (_, g), (_, g_t) = _both("hardsigmoid", np.array([-1.0, 0.0, 2.5]), np.ones(3))
    np.testing.assert_array_equal(g, 1 / 6)
    np.testing.assert_array_equal(g_t, float(np.float32(1 / 6)))


@pytest.mark.parametrize("cls", ["CELU", "SELU", "Threshold", "Mish", "Hardswish", "Hardsigmoid",
                                 "Softshrink", "Hardshrink", "GLU", "PReLU"])
def test_reprs_with_arguments_match_torch(cls):
    torch = pytest.importorskip("torch")
    args = {"CELU": (0.5, True), "SELU": (True,), "Threshold": (0.1, 2.0, True),
            "Mish": (True,), "Hardswish": (True,), "Hardsigmoid": (True,), "Softshrink": (0.2,),
            "Hardshrink": (0.3,), "GLU": (0,), "PReLU": (4, 0.5)}[cls]
    assert repr(getattr(nn, cls)(*args)) == repr(getattr(torch.nn, cls)(*args))
