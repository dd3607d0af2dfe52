"""nn.init: PyTorch's gains and fans, sample statistics, in-place and seeded behaviour,
and the default initialisation of each layer."""
from __future__ import annotations

import math

import numpy as np
import pytest

import graphgrad as gg
from graphgrad import nn
from graphgrad.nn import init


def test_calculate_gain_matches_torch():
    torch = pytest.importorskip("torch")
    for name in ("linear", "conv2d", "sigmoid", "tanh", "relu", "leaky_relu", "selu"):
        assert init.calculate_gain(name) == pytest.approx(torch.nn.init.calculate_gain(name))
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    with pytest.raises(ValueError):
        init.calculate_gain("swish")


@pytest.mark.parametrize("shape, fans", [((5, 3), (3, 5)), ((8, 4, 3, 3), (36, 72)),
                                         ((8, 1, 3, 3), (9, 72)), ((6, 2, 5), (10, 30))])
def test_fans_follow_pytorch(shape, fans):
    assert init._calculate_fan_in_and_fan_out(gg.empty(*shape)) == fans
    with pytest.raises(ValueError, match="fewer than 2"):
        init.xavier_uniform_(gg.empty(4))


def _std_and_bound(fn, shape, **kwargs):
    gg.manual_seed(0)
    w = gg.empty(*shape, dtype=np.float64)
    fn(w, **kwargs)
    return w.numpy().std(), np.abs(w.numpy()).max(), w.numpy().mean()


@pytest.mark.parametrize("fn, kwargs, std, bound", [
    (init.kaiming_normal_, {"nonlinearity": "relu"}, math.sqrt(2 / 200), None),
    (init.kaiming_normal_, {"mode": "fan_out", "nonlinearity": "relu"}, math.sqrt(2 / 300), None),
    (init.kaiming_uniform_, {"nonlinearity": "relu"}, None, math.sqrt(6 / 200)),
    (init.kaiming_uniform_, {"a": math.sqrt(5)}, None, 1 / math.sqrt(200)),
    (init.xavier_normal_, {}, math.sqrt(2 / 500), None),
    (init.xavier_uniform_, {"gain": 2.0}, None, 2 * math.sqrt(6 / 500)),
    (init.normal_, {"mean": 0.0, "std": 0.3}, 0.3, None),
    (init.uniform_, {"a": -0.5, "b": 0.5}, None, 0.5),
    (init.trunc_normal_, {"std": 1.0, "a": -1.0, "b": 1.0}, None, 1.0),
])
def test_sample_statistics(fn, kwargs, std, bound):
    sample_std, sample_max, sample_mean = _std_and_bound(fn, (300, 200), **kwargs)
    assert abs(sample_mean) < 0.01
    if std is not None:
        assert sample_std == pytest.approx(std, rel=0.02)
    if bound is not None:
        assert sample_max <= bound and sample_max > 0.99 * bound
        if fn is not init.trunc_normal_:
            assert sample_std == pytest.approx(bound / math.sqrt(3), rel=0.02)


def test_conv_weight_fan_for_kaiming():
    gg.manual_seed(0)
    w = init.kaiming_normal_(gg.empty(64, 32, 3, 3, dtype=np.float64), nonlinearity="relu")
    assert w.numpy().std() == pytest.approx(math.sqrt(2 / (32 * 9)), rel=0.02)


def test_in_place_seeded_and_graph_safe():
    p = nn.Parameter(gg.empty(4, 3))
    version = p._version
    assert init.xavier_uniform_(p) is p and p.requires_grad and p._version > version
    gg.manual_seed(7)
    a = init.normal_(gg.empty(3, 3)).numpy().copy()
    gg.manual_seed(7)
    np.testing.assert_array_equal(init.normal_(gg.empty(3, 3)).numpy(), a)
    assert p.dtype == np.float32 and init.normal_(gg.empty(2, dtype=np.float64)).dtype == np.float64


def test_constant_ones_zeros_eye_dirac_orthogonal():
    np.testing.assert_array_equal(init.constant_(gg.empty(2, 2), 0.5).numpy(), 0.5)
    np.testing.assert_array_equal(init.ones_(gg.empty(3)).numpy(), 1)
    np.testing.assert_array_equal(init.zeros_(gg.empty(3)).numpy(), 0)
    np.testing.assert_array_equal(init.eye_(gg.empty(2, 3)).numpy(), np.eye(2, 3))
    with pytest.raises(ValueError):
        init.eye_(gg.empty(2, 2, 2))
    d = init.dirac_(gg.empty(2, 2, 3, 3)).numpy()
    assert d[0, 0, 1, 1] == 1 and d[1, 1, 1, 1] == 1 and d.sum() == 2
    q = init.orthogonal_(gg.empty(3, 5, dtype=np.float64)).numpy()
    np.testing.assert_allclose(q @ q.T, np.eye(3), atol=1e-12)
    q = init.orthogonal_(gg.empty(5, 3, dtype=np.float64), gain=2.0).numpy()
    np.testing.assert_allclose(q.T @ q, 4 * np.eye(3), atol=1e-12)


def test_layer_default_inits_match_pytorchs_distributions():
    gg.manual_seed(0)
    linear = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    for p in (linear.weight, linear.bias):
        assert np.abs(p.numpy()).max() <= bound and np.abs(p.numpy()).max() > 0.95 * bound
    assert linear.weight.numpy().std() == pytest.approx(bound / math.sqrt(3), rel=0.02)
    bn = nn.BatchNorm1d(5)
    np.testing.assert_array_equal(bn.weight.numpy(), 1)
    np.testing.assert_array_equal(bn.bias.numpy(), 0)
    emb = nn.Embedding(400, 300, padding_idx=3)
    assert emb.weight.numpy().std() == pytest.approx(1.0, rel=0.02)
    np.testing.assert_array_equal(emb.weight.numpy()[3], 0)
    bil = nn.Bilinear(50, 20, 30)
    assert np.abs(bil.weight.numpy()).max() <= 1 / math.sqrt(50)


def test_same_seed_same_model():
    gg.manual_seed(3)
    a = nn.Sequential(nn.Linear(4, 4), nn.Embedding(3, 2))
    gg.manual_seed(3)
    b = nn.Sequential(nn.Linear(4, 4), nn.Embedding(3, 2))
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert ka == kb
        np.testing.assert_array_equal(va.numpy(), vb.numpy())


@pytest.mark.parametrize("fn", [init.kaiming_uniform_, init.kaiming_normal_])
def test_kaiming_init_of_a_zero_element_tensor_warns_and_does_nothing(fn):
    """As PyTorch: "Initializing zero-element tensors is a no-op" (so nn.Linear(0, 5) builds)."""
    w = gg.empty(5, 0)
    with pytest.warns(UserWarning, match="zero-element tensors is a no-op"):
        assert fn(w) is w
    with pytest.warns(UserWarning, match="no-op"):
        layer = nn.Linear(0, 5)
    assert layer(gg.randn(3, 0)).shape == (3, 5)
