"""Instance, group, RMS and local response normalisation, BatchNorm3d and LayerNorm
without bias, as PyTorch's: values, gradients and running statistics in float64 on
random shapes, gradcheck and gradgradcheck, errors naming the layer and shapes."""
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


def _pair(make, randomise=True):
    """(ours, PyTorch's): ``make(namespace)`` built from graphgrad.nn and torch.nn in
    float64, PyTorch's given our (randomised) parameters and buffers."""
    torch = pytest.importorskip("torch")
    module = make(nn).double()
    if randomise:
        with gg.no_grad():
            for p in module.parameters():
                p.normal_()
    theirs = make(torch.nn).double()
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in module.state_dict().items()})
    return module, theirs


def _compare(module, theirs, shape, steps=2, train=True):
    """Outputs, input gradients, parameter gradients and buffers after each step."""
    torch = pytest.importorskip("torch")
    module.train(train)
    theirs.train(train)
    for _ in range(steps):
        x = RNG.standard_normal(shape) * 2 + 0.5
        ours, t_x = gg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        y, y_t = module(ours), theirs(t_x)
        np.testing.assert_allclose(y.numpy(), y_t.detach().numpy(), rtol=1e-12, atol=1e-12)
        upstream = RNG.standard_normal(y_t.shape)
        y.backward(gg.tensor(upstream))
        y_t.backward(torch.tensor(upstream))
        np.testing.assert_allclose(ours.grad.numpy(), t_x.grad.numpy(), rtol=1e-10, atol=1e-11)
        t_params = dict(theirs.named_parameters())
        for name, p in module.named_parameters():
            np.testing.assert_allclose(p.grad.numpy(), t_params[name].grad.numpy(), rtol=1e-10,
                                       atol=1e-11, err_msg=name)
            p.grad = None
            t_params[name].grad = None
        t_state = theirs.state_dict()
        for key, value in module.state_dict().items():
            np.testing.assert_allclose(value.numpy(), t_state[key].numpy(), rtol=1e-12,
                                       err_msg=key)


# ------------------------------------------------------------ instance norm
@given(st.sampled_from([1, 2, 3]), st.integers(1, 3), st.integers(1, 4), st.booleans(),
       st.booleans(), st.booleans(), st.sampled_from([0.1, 0.5, None]))
def test_instance_norm_matches_torch(nd, n, c, affine, track, batched, momentum):
    module, theirs = _pair(lambda ns: getattr(ns, f"InstanceNorm{nd}d")(
        c, affine=affine, track_running_stats=track, momentum=momentum))
    spatial = tuple(RNG.integers(2, 4, size=nd))
    shape = ((n,) if batched else ()) + (c,) + spatial
    _compare(module, theirs, shape, train=True)
    _compare(module, theirs, shape, train=False)


def test_instance_norm_function_with_and_without_input_statistics():
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal((3, 2, 5))
    mean, var = RNG.standard_normal(2), RNG.uniform(0.5, 2, 2)
    ours = (gg.tensor(mean), gg.tensor(var))
    theirs = (torch.tensor(mean), torch.tensor(var))
    y = F.instance_norm(gg.tensor(x), *ours, momentum=0.3)
    y_t = torch.nn.functional.instance_norm(torch.tensor(x), *theirs, momentum=0.3)
    np.testing.assert_allclose(y.numpy(), y_t.numpy(), rtol=1e-12, atol=1e-13)
    for o, t in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(o.numpy(), t.numpy(), rtol=1e-14)
    y = F.instance_norm(gg.tensor(x), *ours, use_input_stats=False)
    y_t = torch.nn.functional.instance_norm(torch.tensor(x), *theirs, use_input_stats=False)
    np.testing.assert_allclose(y.numpy(), y_t.numpy(), rtol=1e-12, atol=1e-13)


def test_instance_norm_gradcheck_and_gradgradcheck():
    x = gg.tensor(RNG.standard_normal((2, 3, 4)), requires_grad=True)
    w = gg.tensor(RNG.standard_normal(3), requires_grad=True)
    b = gg.tensor(RNG.standard_normal(3), requires_grad=True)
    fn = lambda x, w, b: F.instance_norm(x, weight=w, bias=b)  # noqa: E731
    assert gradcheck(fn, [x, w, b])
    assert gradgradcheck(fn, [x, w, b])


def test_instance_norm_errors_and_warnings():
    with pytest.raises(ValueError, match=r"instance_norm: expected more than 1 spatial element "
                                         r"when training, got input of shape \(2, 3, 1\)"):
        F.instance_norm(gg.randn(2, 3, 1))
    with pytest.raises(ValueError, match="running_mean and running_var are needed"):
        F.instance_norm(gg.randn(2, 3, 4), use_input_stats=False)
    with pytest.raises(ValueError, match=r"instance_norm: running_mean should hold 3 values, got "
                                         r"shape \(2,\)"):
        F.instance_norm(gg.randn(2, 3, 4), gg.zeros(2), gg.ones(3))
    with pytest.raises(ValueError, match=r"InstanceNorm1d\(3, .*affine=True.*\): expected input "
                                         r"with num_features = 3 channels at dim 1, got input of "
                                         r"shape \(2, 4, 5\)"):
        nn.InstanceNorm1d(3, affine=True)(gg.randn(2, 4, 5))
    with pytest.warns(UserWarning, match="num_features is unused without affine"):
        nn.InstanceNorm1d(3)(gg.randn(2, 4, 5))
    with pytest.raises(ValueError, match=r"InstanceNorm2d\(.*\): expected 3D or 4D input"):
        nn.InstanceNorm2d(3)(gg.randn(2, 3))


def test_instance_norm_layout():
    plain = nn.InstanceNorm2d(3)
    assert list(plain.state_dict()) == [] and list(plain.parameters()) == []
    tracked = nn.InstanceNorm3d(3, affine=True, track_running_stats=True)
    assert list(tracked.state_dict()) == ["weight", "bias", "running_mean", "running_var",
                                          "num_batches_tracked"]
    tracked(gg.randn(2, 3, 2, 2, 2))
    assert tracked.num_batches_tracked.item() == 0  # instance norm does not count batches


# ------------------------------------------------------------ group norm, batch norm 3d
@given(st.integers(1, 3), st.sampled_from([(1, 2), (2, 4), (3, 6), (6, 6)]), st.integers(0, 2))
def test_group_norm_matches_torch(n, groups_channels, spatial_dims):
    groups, channels = groups_channels
    shape = (n, channels) + tuple(RNG.integers(1, 4, size=spatial_dims))
    if n * channels // groups * int(np.prod(shape[2:])) == 1:
        return  # one value per group: refused, as PyTorch (tests/compat/test_nn_fixes.py)
    _compare(*_pair(lambda ns: ns.GroupNorm(groups, channels, eps=1e-3)), shape, steps=1)


def test_batch_norm_3d_matches_torch_over_steps():
    module, theirs = _pair(lambda ns: ns.BatchNorm3d(3, momentum=None))
    _compare(module, theirs, (2, 3, 2, 3, 2), steps=3)
    _compare(module, theirs, (2, 3, 2, 3, 2), steps=1, train=False)
    with pytest.raises(ValueError, match=r"BatchNorm3d\(3, .*\): expected 5D input "
                                         r"\(N, C, D, H, W\), got 4D input of shape"):
        module(gg.randn(2, 3, 2, 2))


def test_layer_norm_without_bias():
    module, theirs = _pair(lambda ns: ns.LayerNorm((2, 3), bias=False))
    assert module.bias is None and list(module.state_dict()) == ["weight"]
    _compare(module, theirs, (4, 2, 3), steps=1)


# ------------------------------------------------------------ RMS norm
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_rms_norm_default_eps_is_the_dtype_epsilon(dtype):
    torch = pytest.importorskip("torch")
    x = np.full((2, 3), 1e-5, dtype=dtype)  # mean(x^2) = 1e-10, comparable to float32's eps
    x[1] = RNG.standard_normal(3)
    y = F.rms_norm(gg.tensor(x), (3,))
    y_t = torch.nn.functional.rms_norm(torch.tensor(x), (3,))
    rtol = 1e-6 if dtype == "float32" else 1e-14
    np.testing.assert_allclose(y.numpy(), y_t.numpy(), rtol=rtol)
    eps = np.finfo(dtype).eps
    np.testing.assert_allclose(y.numpy()[0], x[0] / np.sqrt(1e-10 + eps), rtol=rtol)


@given(st.integers(1, 3), st.integers(1, 4), st.booleans(), st.sampled_from([None, 1e-3]))
def test_rms_norm_module_matches_torch(lead, last, affine, eps):
    module, theirs = _pair(lambda ns: ns.RMSNorm((2, last), eps=eps, elementwise_affine=affine))
    _compare(module, theirs, (lead, 2, last), steps=1)


def test_rms_norm_gradcheck_and_errors():
    x = gg.tensor(RNG.standard_normal((3, 4)), requires_grad=True)
    w = gg.tensor(RNG.standard_normal(4), requires_grad=True)
    assert gradcheck(lambda x, w: F.rms_norm(x, (4,), w), [x, w])
    assert gradgradcheck(lambda x, w: F.rms_norm(x, (4,), w), [x, w])
    with pytest.raises(ValueError, match=r"rms_norm: input of shape \(3, 4\) does not end in "
                                         r"normalized_shape \(3,\)"):
        F.rms_norm(gg.randn(3, 4), (3,))
    with pytest.raises(ValueError, match=r"rms_norm: weight of shape \(3,\) does not match "
                                         r"normalized_shape \(4,\)"):
        F.rms_norm(gg.randn(3, 4), (4,), gg.ones(3))
    with pytest.raises(ValueError, match="normalized_shape must name at least one dim"):
        F.rms_norm(gg.randn(3, 4), ())
    with pytest.raises(ValueError, match=r"RMSNorm\(\(4,\), eps=None, elementwise_affine=True\): "
                                         r"expected input whose last dims are \(4,\), got input "
                                         r"of shape \(2, 3\)"):
        nn.RMSNorm(4)(gg.randn(2, 3))


# ------------------------------------------------------------ local response norm
@given(st.integers(1, 7), st.integers(1, 6), st.integers(0, 3), st.floats(0.5, 2.0))
def test_local_response_norm_matches_torch(size, channels, spatial_dims, beta):
    module, theirs = _pair(lambda ns: ns.LocalResponseNorm(size, alpha=0.3, beta=beta, k=0.7))
    shape = (2, channels) + tuple(RNG.integers(1, 4, size=max(spatial_dims, 1)))
    _compare(module, theirs, shape, steps=1)


def test_local_response_norm_gradcheck_and_errors():
    x = gg.tensor(RNG.standard_normal((2, 5, 3)), requires_grad=True)
    fn = lambda x: F.local_response_norm(x, 3, alpha=0.5, k=1.0)  # noqa: E731
    assert gradcheck(fn, [x])
    assert gradgradcheck(fn, [x])
    with pytest.raises(ValueError, match=r"local_response_norm: expected a 3D or higher input "
                                         r"\(N, C, \*\), got shape \(2, 5\)"):
        F.local_response_norm(gg.randn(2, 5), 2)
    assert F.local_response_norm(gg.randn(0, 3, 2), 2).shape == (0, 3, 2)


@pytest.mark.parametrize("make", [
    lambda ns: ns.InstanceNorm1d(4, momentum=None),
    lambda ns: ns.InstanceNorm2d(2, affine=True, bias=False),
    lambda ns: ns.InstanceNorm3d(3, eps=1e-3, track_running_stats=True),
    lambda ns: ns.BatchNorm3d(5, affine=False), lambda ns: ns.RMSNorm([2, 3], eps=1e-6),
    lambda ns: ns.LocalResponseNorm(3, 1e-3, 0.5, 2.0), lambda ns: ns.GroupNorm(2, 4, affine=False),
    lambda ns: ns.LayerNorm(3, bias=False)])
def test_repr_matches_torch(make):
    torch = pytest.importorskip("torch")
    assert repr(make(nn)) == repr(make(torch.nn))


def test_an_in_place_op_after_a_normalization_without_affine_is_allowed():
    # standardize saves its input, not its output (as PyTorch): changing the output in
    # place afterwards leaves the gradient right.
    x = gg.randn(4, 8, requires_grad=True)
    y = F.layer_norm(x, (8,))
    F.relu(y, inplace=True)
    (y * y).sum().backward()
    x2 = gg.tensor(x.numpy(), requires_grad=True)
    (F.relu(F.layer_norm(x2, (8,))) ** 2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), x2.grad.numpy(), rtol=1e-6, atol=1e-6)
