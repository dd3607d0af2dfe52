"""Layer-specific behaviour beyond the generic registry tests: dropout statistics,
BatchNorm's rules, Embedding's indices, functional-only helpers, and nn.utils."""
from __future__ import annotations

import math

import numpy as np
import pytest

import graphgrad as gg
import graphgrad.nn.functional as F
from graphgrad import nn
from graphgrad.testing import gradcheck


# -------------------------------------------------------------------- dropout
def test_dropout_statistics_and_scaling():
    gg.manual_seed(0)
    x = gg.ones(200, 500, requires_grad=True)
    y = F.dropout(x, p=0.3)
    values = y.numpy()
    kept = values != 0
    assert kept.mean() == pytest.approx(0.7, abs=0.01)
    np.testing.assert_allclose(values[kept], 1 / 0.7, rtol=1e-6)  # inverted dropout
    assert values.mean() == pytest.approx(1.0, abs=0.01)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), values)  # the gradient is the same mask


def test_dropout_modes_and_edge_probabilities():
    x = gg.randn(4, 5)
    drop = nn.Dropout(0.5).eval()
    assert drop(x) is x
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    np.testing.assert_array_equal(F.dropout(x, 1.0).numpy(), 0)
    for p in (-0.1, 1.5):
        with pytest.raises(ValueError, match="between 0 and 1"):
            nn.Dropout(p)
        with pytest.raises(ValueError, match="between 0 and 1"):
            F.dropout(x, p)


def test_dropout_is_reproducible_from_the_seed():
    x = gg.ones(10, 10)
    gg.manual_seed(5)
    a = F.dropout(x).numpy()
    gg.manual_seed(5)
    np.testing.assert_array_equal(F.dropout(x).numpy(), a)
    assert not np.array_equal(F.dropout(x).numpy(), a)


def test_dropout2d_drops_whole_channels():
    gg.manual_seed(0)
    out = nn.Dropout2d(0.5)(gg.ones(8, 16, 3, 3)).numpy()
    per_channel = out.reshape(8, 16, 9)
    assert np.all((per_channel == 0).all(-1) | (per_channel == 2).all(-1))
    assert 0.3 < (per_channel == 0).all(-1).mean() < 0.7


# ------------------------------------------------------------------ batchnorm
def test_batchnorm_training_with_one_value_per_channel_raises():
    bn = nn.BatchNorm1d(3)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        bn(gg.randn(1, 3))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm2d(3)(gg.randn(1, 3, 1, 1))
    assert nn.BatchNorm2d(3)(gg.randn(1, 3, 2, 1)).shape == (1, 3, 2, 1)
    assert bn.eval()(gg.randn(1, 3)).shape == (1, 3)  # evaluation needs no batch


def test_batchnorm_running_statistics_by_hand():
    bn = nn.BatchNorm1d(2, momentum=0.1)
    rng = np.random.default_rng(0)
    mean, var = np.zeros(2), np.ones(2)
    for _ in range(4):
        x = rng.normal(3.0, 2.0, (16, 2))
        bn(gg.tensor(x, dtype=np.float32))
        mean = 0.9 * mean + 0.1 * x.mean(0)
        var = 0.9 * var + 0.1 * x.var(0, ddof=1)  # unbiased in the running estimate
    np.testing.assert_allclose(bn.running_mean.numpy(), mean, rtol=1e-5)
    np.testing.assert_allclose(bn.running_var.numpy(), var, rtol=1e-5)
    assert bn.num_batches_tracked.item() == 4
    x = rng.normal(size=(3, 2))
    out = bn.eval()(gg.tensor(x, dtype=np.float32)).numpy()
    np.testing.assert_allclose(out, (x - mean) / np.sqrt(var + 1e-5), rtol=1e-4, atol=1e-5)
    x = rng.normal(size=(5, 2))  # training normalises with the biased batch variance
    out = bn.train()(gg.tensor(x, dtype=np.float32)).numpy()
    np.testing.assert_allclose(out, (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5), atol=1e-5)


def test_batchnorm_functional_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4, 3, 5))
    rm, rv = rng.normal(size=3), rng.uniform(0.5, 2, 3)
    w, b = rng.normal(size=3), rng.normal(size=3)
    ours_rm, ours_rv = gg.tensor(rm), gg.tensor(rv)
    t_rm, t_rv = torch.tensor(rm), torch.tensor(rv)
    for training in (True, False):
        ours = F.batch_norm(gg.tensor(x), ours_rm, ours_rv, gg.tensor(w), gg.tensor(b),
                            training, 0.2, 1e-3)
        theirs = torch.nn.functional.batch_norm(torch.tensor(x), t_rm, t_rv, torch.tensor(w),
                                                torch.tensor(b), training, 0.2, 1e-3)
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), atol=1e-12)
        np.testing.assert_allclose(ours_rm.numpy(), t_rm.numpy(), atol=1e-12)
        np.testing.assert_allclose(ours_rv.numpy(), t_rv.numpy(), atol=1e-12)


def test_layer_norm_functional_gradcheck_and_shape_error():
    x = gg.randn(2, 3, 4, dtype=np.float64, requires_grad=True)
    w = gg.randn(3, 4, dtype=np.float64, requires_grad=True)
    b = gg.randn(3, 4, dtype=np.float64, requires_grad=True)
    assert gradcheck(lambda x, w, b: F.layer_norm(x, (3, 4), w, b), (x, w, b))
    with pytest.raises(ValueError, match=r"LayerNorm\(\(4,\).*\(2, 5\)"):
        nn.LayerNorm(4)(gg.randn(2, 5))


# ------------------------------------------------------------------ embedding
def test_embedding_index_errors_name_the_layer():
    emb = nn.Embedding(5, 2)
    for bad in (5, -1):
        with pytest.raises(IndexError, match=r"embedding: index .* out of range for 5"):
            emb(gg.tensor([0, bad]))
    with pytest.raises(TypeError, match="integer"):
        emb(gg.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="padding_idx"):
        nn.Embedding(5, 2, padding_idx=5)


def test_embedding_gradient_accumulates_and_skips_padding():
    emb = nn.Embedding(4, 2, padding_idx=0)
    with gg.no_grad():
        emb.weight[0] = 7.0  # the padding row's value is still returned
    out = emb(gg.tensor([[1, 1, 0], [3, 0, 1]]))
    np.testing.assert_array_equal(out.numpy()[0, 2], [7.0, 7.0])
    out.sum().backward()
    np.testing.assert_array_equal(emb.weight.grad.numpy(), [[0, 0], [3, 3], [0, 0], [1, 1]])


def test_embedding_max_norm_and_from_pretrained_match_torch():
    torch = pytest.importorskip("torch")
    weights = np.random.default_rng(0).normal(size=(5, 3)) * 3
    idx = np.array([[0, 2], [2, 4]])
    ours = nn.Embedding.from_pretrained(weights, max_norm=1.5)
    theirs = torch.nn.Embedding.from_pretrained(torch.tensor(weights), max_norm=1.5)
    assert not ours.weight.requires_grad
    np.testing.assert_allclose(ours(gg.tensor(idx)).numpy(),
                               theirs(torch.tensor(idx)).numpy(), atol=1e-12)
    np.testing.assert_allclose(ours.weight.numpy(), theirs.weight.numpy(), atol=1e-12)
    assert nn.Embedding.from_pretrained(weights, freeze=False).weight.requires_grad


def test_one_hot_matches_torch():
    torch = pytest.importorskip("torch")
    idx = np.array([[0, 3], [2, 1]])
    np.testing.assert_array_equal(F.one_hot(gg.tensor(idx)).numpy(),
                                  torch.nn.functional.one_hot(torch.tensor(idx)).numpy())
    assert F.one_hot(gg.tensor(idx), 6).shape == (2, 2, 6)
    with pytest.raises(IndexError, match="one_hot"):
        F.one_hot(gg.tensor([0, 4]), 3)


# ------------------------------------------------------------ shape layers
def test_linear_accepts_1d_and_nd_inputs():
    lin = nn.Linear(3, 2)
    x = gg.randn(4, 5, 3)
    np.testing.assert_allclose(lin(x).numpy()[1, 2], lin(x[1, 2]).numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match=r"Linear\(in_features=3, .*in_features = 3 at dim -1, "
                                         r"got input of shape \(4, 5, 2\)"):
        lin(gg.randn(4, 5, 2))


def test_flatten_unflatten_round_trip():
    x = gg.randn(2, 3, 4, 5)
    flat = nn.Flatten()(x)
    assert flat.shape == (2, 60)
    assert nn.Unflatten(1, (3, 4, 5))(flat).shape == x.shape
    assert nn.Flatten(0, 2)(x).shape == (24, 5)
    with pytest.raises(ValueError, match="Unflatten"):
        nn.Unflatten(1, (7, 9))(flat)


def test_softmax_without_dim_warns_and_picks_pytorchs_dim():
    x = gg.randn(2, 3)
    with pytest.warns(UserWarning, match="implicit dimension"):
        out = nn.Softmax()(x)
    np.testing.assert_allclose(out.numpy().sum(1), 1, rtol=1e-6)


def test_activations_are_safe_for_large_inputs():
    x = gg.tensor([-1e4, -50.0, 0.0, 50.0, 1e4], requires_grad=True)
    for fn in (F.elu, F.softplus, F.logsigmoid, F.silu, F.sigmoid):
        out = fn(x)
        out.sum().backward()
        assert np.all(np.isfinite(out.numpy())) and np.all(np.isfinite(x.grad.numpy())), fn
        x.grad = None


@pytest.mark.parametrize("dtype, x", [(np.float32, -85.0), (np.float32, -30.0),
                                      (np.float64, -700.0), (np.float64, -40.0)])
def test_sigmoid_is_accurate_far_into_the_tails(dtype, x):
    """sigmoid(x) = e^x / (1 + e^x) ~ e^x for x << 0, to the dtype's own precision (no
    floor: sigmoid(-85) in float32 is 1.2e-37, not a clamped value), and exactly 1 or 0
    at the ends."""
    out = F.sigmoid(gg.tensor(np.array([x, -x, -np.inf, np.inf], dtype=dtype))).numpy()
    np.testing.assert_allclose(out[0], np.exp(np.float64(x)), rtol=4 * np.finfo(dtype).eps)
    assert out[1] == 1 and out[2] == 0 and out[3] == 1


# ------------------------------------------------------- distance functions
def test_distances_match_torch_including_zero_vectors():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    a[1] = 0.0  # a zero vector: finite gradients as PyTorch
    cases = [
        ("normalize", (a,), {}), ("normalize", (a,), {"p": 1.0, "dim": 0}),
        ("cosine_similarity", (a, b), {}), ("cosine_similarity", (a, b[:1]), {"dim": -1}),
        ("pairwise_distance", (a, b), {}), ("pairwise_distance", (a, b), {"p": 3.0}),
        ("pairwise_distance", (a, a), {"p": 1.0, "keepdim": True}),
    ]
    for name, arrays, kwargs in cases:
        ours_in = [gg.tensor(x, requires_grad=True) for x in arrays]
        theirs_in = [torch.tensor(x, requires_grad=True) for x in arrays]
        ours = getattr(F, name)(*ours_in, **kwargs)
        theirs = getattr(torch.nn.functional, name)(*theirs_in, **kwargs)
        np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), atol=1e-12)
        g = rng.normal(size=theirs.shape)
        ours.backward(gg.tensor(g))
        theirs.backward(torch.tensor(g))
        for o, t in zip(ours_in, theirs_in, strict=True):
            np.testing.assert_allclose(o.grad.numpy(), t.grad.numpy(), atol=1e-9,
                                       err_msg=f"{name} {kwargs}")


def test_vector_norm_has_zero_gradient_at_zero():
    x = gg.zeros(2, 3, requires_grad=True, dtype=np.float64)
    F.vector_norm(x, 2, dim=1).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 0)


def test_functional_surface_is_complete():
    names = """linear bilinear relu leaky_relu gelu sigmoid tanh softmax log_softmax dropout
    batch_norm layer_norm embedding one_hot pad mse_loss l1_loss binary_cross_entropy
    binary_cross_entropy_with_logits cross_entropy nll_loss triplet_margin_loss normalize
    cosine_similarity pairwise_distance elu silu softplus""".split()
    assert [n for n in names if not callable(getattr(F, n, None))] == []
    assert F.pad is gg.pad


# ---------------------------------------------------------------- nn.utils
def _model_with_grads(torch=None):
    rng = np.random.default_rng(0)
    shapes = [(3, 4), (4,), (2, 3)]
    values = [rng.normal(size=s) for s in shapes]
    grads = [rng.normal(size=s) * 3 for s in shapes]
    ours = []
    for v, g in zip(values, grads, strict=True):
        p = nn.Parameter(v)
        p.grad = gg.tensor(g)
        ours.append(p)
    if torch is None:
        return ours, None
    theirs = []
    for v, g in zip(values, grads, strict=True):
        p = torch.nn.Parameter(torch.tensor(v))
        p.grad = torch.tensor(g)
        theirs.append(p)
    return ours, theirs


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 1e6])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    torch = pytest.importorskip("torch")
    ours, theirs = _model_with_grads(torch)
    total = nn.utils.clip_grad_norm_(ours, max_norm, norm_type)
    t_total = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    assert isinstance(total, gg.Tensor)
    np.testing.assert_allclose(total.item(), t_total.item(), rtol=1e-12)
    for o, t in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(o.grad.numpy(), t.grad.numpy(), rtol=1e-12)


def test_clip_grad_norm_edge_cases():
    ours, _ = _model_with_grads()
    ours[0].grad = gg.tensor(np.full((3, 4), np.inf))
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_(ours, 1.0, error_if_nonfinite=True)
    assert nn.utils.clip_grad_norm_([nn.Parameter(np.zeros(2))], 1.0).item() == 0.0
    p = nn.Parameter(np.ones(4))
    p.grad = gg.tensor(np.full(4, 2.0))
    assert nn.utils.clip_grad_norm_(p, 1.0).item() == 4.0  # a single tensor is accepted
    np.testing.assert_allclose(np.linalg.norm(p.grad.numpy()), 1.0, rtol=1e-5)


def test_clip_grad_value():
    ours, _ = _model_with_grads()
    nn.utils.clip_grad_value_(ours, 0.5)
    for p in ours:
        assert np.abs(p.grad.numpy()).max() <= 0.5


def test_parameters_vector_round_trip():
    model = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    vec = nn.utils.parameters_to_vector(model.parameters())
    assert vec.shape == (3 * 2 + 2 + 2 + 1,)
    vec.sum().backward()  # differentiable
    assert all(np.all(p.grad.numpy() == 1) for p in model.parameters())
    new = gg.arange(vec.numel(), dtype=np.float32)
    nn.utils.vector_to_parameters(new, model.parameters())
    np.testing.assert_array_equal(nn.utils.parameters_to_vector(model.parameters()).numpy(),
                                  new.numpy())
    with pytest.raises(ValueError, match="elements"):
        nn.utils.vector_to_parameters(gg.zeros(3), model.parameters())
