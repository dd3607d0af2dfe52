"""nn.utils.parametrize and nn.utils.parametrizations (weight_norm, spectral_norm,
orthogonal) and the older hook-based nn.utils.weight_norm / spectral_norm: state_dict
keys, reprs, values and gradients equal PyTorch's in float64, assignment through
right_inverse, caching, removal, gradcheck/gradgradcheck, errors."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import graphgrad as gg
from graphgrad import nn
from graphgrad.nn.utils import parametrizations as P
from graphgrad.nn.utils import parametrize
from graphgrad.testing import gradcheck, gradgradcheck


def _pair(torch, cls, *args):
    """The same layer in both libraries, float64, with PyTorch's weights."""
    theirs = getattr(torch.nn, cls)(*args).double()
    ours = getattr(nn, cls)(*args).double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def _sync(ours, theirs, torch, perturb=False):
    """Copy PyTorch's state into ours (optionally perturbing the unconstrained tensors
    first, in both, so the maps are not at their identity point)."""
    rng = np.random.default_rng(7)
    state = {k: v.detach().numpy().copy() for k, v in theirs.state_dict().items()}
    if perturb:
        for key in state:
            if key.endswith(("original", "original1")):
                state[key] = state[key] + 0.3 * rng.normal(size=state[key].shape)
        theirs.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
    ours.load_state_dict(state)


def _assert_same_run(ours, theirs, torch, x, tol=1e-11):
    """Outputs, input gradient and every parameter gradient equal, with a random upstream."""
    ox, tx = gg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, t_out = ours(ox), theirs(tx)
    np.testing.assert_allclose(out.numpy(), t_out.detach().numpy(), atol=tol)
    upstream = np.random.default_rng(0).normal(size=tuple(t_out.shape))
    out.backward(gg.tensor(upstream))
    t_out.backward(torch.tensor(upstream))
    np.testing.assert_allclose(ox.grad.numpy(), tx.grad.numpy(), atol=tol)
    t_params = dict(theirs.named_parameters())
    assert sorted(dict(ours.named_parameters())) == sorted(t_params)
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), t_params[name].grad.numpy(), atol=tol,
                                   err_msg=name)


# ---------------------------------------------------------------- parametrize
class Symmetric(nn.Module):
    def forward(self, x):
        return gg.triu(x) + gg.triu(x, 1).mT

    def right_inverse(self, a):
        return gg.triu(a)


class Scale(nn.Module):
    def __init__(self, factor):
        super().__init__()
        self.factor = factor

    def forward(self, x):
        return x * self.factor

    def right_inverse(self, a):
        return a / self.factor


def test_register_parametrization_moves_the_tensor_and_makes_a_property():
    gg.manual_seed(0)
    layer = nn.Linear(3, 3).double()
    weight = layer.weight
    before = weight.numpy().copy()
    parametrize.register_parametrization(layer, "weight", Symmetric())
    assert type(layer).__name__ == "ParametrizedLinear" and isinstance(layer, nn.Linear)
    assert parametrize.type_before_parametrizations(layer) is nn.Linear
    assert parametrize.is_parametrized(layer) and parametrize.is_parametrized(layer, "weight")
    assert not parametrize.is_parametrized(layer, "bias")
    assert layer.parametrizations.weight.original is weight  # the same Parameter object
    np.testing.assert_array_equal(weight.numpy(), np.triu(before))  # right_inverse applied
    w = layer.weight.numpy()
    np.testing.assert_array_equal(w, w.T)
    assert list(layer.state_dict()) == ["bias", "parametrizations.weight.original"]
    assert [n for n, _ in layer.named_parameters()] == ["bias",
                                                        "parametrizations.weight.original"]
    layer(gg.randn(2, 3, dtype=gg.float64)).sum().backward()
    assert weight.grad is not None and layer.bias.grad is not None


def test_assignment_goes_through_right_inverse_and_parametrizations_compose():
    layer = nn.Linear(2, 2).double()
    parametrize.register_parametrization(layer, "weight", Symmetric())
    parametrize.register_parametrization(layer, "weight", Scale(3.0))
    assert len(layer.parametrizations.weight) == 2
    target = np.array([[1.0, 2.0], [2.0, 5.0]])
    layer.weight = gg.tensor(target)
    np.testing.assert_allclose(layer.weight.numpy(), target)
    np.testing.assert_allclose(layer.parametrizations.weight.original.numpy(),
                               np.triu(target) / 3.0)
    with pytest.raises(KeyError, match="attribute 'weight' already exists"):
        layer.weight = nn.Parameter(gg.ones(2, 2))


def test_register_parametrization_checks_shape_and_dtype_unless_unsafe():
    class Flatten(nn.Module):
        def forward(self, x):
            return x.reshape(-1)

    with pytest.raises(ValueError, match=r"may not change the shape.*\n.*\(2, 2\)\n.*\(4,\)"):
        parametrize.register_parametrization(nn.Linear(2, 2), "weight", Flatten())
    layer = parametrize.register_parametrization(nn.Linear(2, 2), "weight", Flatten(),
                                                 unsafe=True)
    assert layer.weight.shape == (4,)
    with pytest.raises(ValueError, match="does not have a parameter, a buffer, or a "
                                         "parametrized element with name 'scale'"):
        parametrize.register_parametrization(nn.Linear(2, 2), "scale", Flatten())
    layer = nn.Linear(2, 2)
    parametrize.register_parametrization(layer, "weight", Flatten(), unsafe=True)
    with pytest.raises(RuntimeError, match="Flatten does not implement right_inverse"):
        layer.weight = gg.ones(4)


def test_remove_parametrizations_keeps_the_value_or_the_original():
    layer = nn.Linear(2, 2).double()
    weight = layer.weight
    parametrize.register_parametrization(layer, "weight", Scale(2.0))
    value = layer.weight.numpy().copy()
    parametrize.remove_parametrizations(layer, "weight")
    assert type(layer) is nn.Linear and "parametrizations" not in layer._modules
    assert layer.weight is weight and isinstance(weight, nn.Parameter)
    np.testing.assert_array_equal(weight.numpy(), value)
    parametrize.register_parametrization(layer, "weight", Scale(2.0))
    original = layer.parametrizations.weight.original.numpy().copy()
    parametrize.remove_parametrizations(layer, "weight", leave_parametrized=False)
    np.testing.assert_array_equal(layer.weight.numpy(), original)
    assert list(layer.state_dict()) == ["bias", "weight"]  # registered again, last (PyTorch)
    with pytest.raises(ValueError, match="does not have a parametrization on weight"):
        parametrize.remove_parametrizations(layer, "weight")


def test_cached_computes_each_parametrized_tensor_once():
    calls = []

    class Counting(nn.Module):
        def forward(self, x):
            calls.append(1)
            return x * 2

    layer = nn.Linear(2, 2)
    parametrize.register_parametrization(layer, "weight", Counting())
    calls.clear()
    with parametrize.cached():
        first = layer.weight
        assert layer.weight is first
        with parametrize.cached():
            assert layer.weight is first
    assert len(calls) == 1
    assert layer.weight is not first  # recomputed outside the context
    assert len(calls) == 2


def test_a_parametrized_module_copies_but_does_not_pickle():
    import copy
    import pickle

    layer = nn.Linear(2, 2)
    parametrize.register_parametrization(layer, "weight", Scale(2.0))
    twin = copy.deepcopy(layer)
    np.testing.assert_array_equal(twin.weight.numpy(), layer.weight.numpy())
    assert twin.parametrizations.weight.original is not layer.parametrizations.weight.original
    with pytest.raises(RuntimeError, match="only supported through state_dict"):
        pickle.dumps(layer)


# --------------------------------------------------------------- weight norm
@pytest.mark.parametrize("cls, args, dim, x_shape", [
    ("Linear", (4, 3), 0, (2, 4)), ("Linear", (4, 3), None, (2, 4)),
    ("Conv1d", (2, 3, 3), 1, (2, 2, 5)), ("Conv2d", (2, 3, 2), 0, (1, 2, 4, 4)),
])
def test_weight_norm_matches_torch(cls, args, dim, x_shape):
    torch = pytest.importorskip("torch")
    ours, theirs = _pair(torch, cls, *args)
    P.weight_norm(ours, dim=dim)
    torch.nn.utils.parametrizations.weight_norm(theirs, dim=dim)
    assert repr(ours) == repr(theirs)
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    _sync(ours, theirs, torch, perturb=True)
    _assert_same_run(ours, theirs, torch, np.random.default_rng(1).normal(size=x_shape))


def test_weight_norm_loads_the_old_weight_norms_state_dict():
    torch = pytest.importorskip("torch")
    old = torch.nn.Linear(3, 2).double()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.nn.utils.weight_norm(old)
    state = {k: v.detach().numpy() for k, v in old.state_dict().items()}
    assert sorted(state) == ["bias", "weight_g", "weight_v"]
    ours = P.weight_norm(nn.Linear(3, 2).double())
    ours.load_state_dict(state)
    np.testing.assert_allclose(ours.weight.numpy(), old.weight.detach().numpy(), atol=1e-14)


def test_weight_norm_gradcheck_and_gradgradcheck():
    gg.manual_seed(2)
    layer = P.weight_norm(nn.Linear(3, 2).double())
    g = layer.parametrizations.weight.original0
    v = layer.parametrizations.weight.original1
    x = gg.randn(2, 3, dtype=gg.float64)

    def run(g_, v_):
        return gg.nn.functional.linear(x, layer.parametrizations.weight[0](g_, v_), layer.bias)

    assert gradcheck(run, [g, v])
    assert gradgradcheck(run, [g, v])


# ------------------------------------------------------------- spectral norm
@pytest.mark.parametrize("cls, args, x_shape", [
    ("Linear", (4, 3), (2, 4)), ("Conv2d", (2, 3, 2), (1, 2, 4, 4)),
    ("ConvTranspose1d", (3, 2, 3), (2, 3, 4)),
])
@pytest.mark.parametrize("n_power_iterations", [1, 3])
def test_spectral_norm_matches_torch_in_training_and_evaluation(cls, args, x_shape,
                                                                n_power_iterations):
    torch = pytest.importorskip("torch")
    ours, theirs = _pair(torch, cls, *args)
    P.spectral_norm(ours, n_power_iterations=n_power_iterations)
    torch.nn.utils.parametrizations.spectral_norm(theirs, n_power_iterations=n_power_iterations)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert repr(ours) == repr(theirs)
    _sync(ours, theirs, torch)
    rng = np.random.default_rng(3)
    for mode in ("train", "eval", "train"):
        ours.train(mode == "train")
        theirs.train(mode == "train")
        for module in (ours, theirs):
            module.zero_grad()
        _assert_same_run(ours, theirs, torch, rng.normal(size=x_shape))
        u, t_u = ours.parametrizations.weight[0]._u, theirs.parametrizations.weight[0]._u
        np.testing.assert_allclose(u.numpy(), t_u.numpy(), atol=1e-12)


def test_spectral_norm_divides_by_the_largest_singular_value():
    gg.manual_seed(4)
    layer = P.spectral_norm(nn.Linear(5, 4).double(), n_power_iterations=1)
    for _ in range(30):  # each training access runs one more power iteration
        weight = layer.weight
    sigma = np.linalg.svd(weight.detach().numpy(), compute_uv=False)[0]
    np.testing.assert_allclose(sigma, 1.0, rtol=1e-8)
    layer.eval()
    u = layer.parametrizations.weight[0]._u.numpy().copy()
    np.testing.assert_array_equal(layer.weight.numpy(), weight.numpy())  # same u, v: same W
    np.testing.assert_array_equal(layer.parametrizations.weight[0]._u.numpy(), u)
    with pytest.raises(ValueError, match="n_power_iterations=0"):
        P.spectral_norm(nn.Linear(2, 2), n_power_iterations=0)
    with pytest.raises(IndexError, match=r"Dimension out of range .*\[-2, 1\] but got 2"):
        P.spectral_norm(nn.Linear(2, 2), dim=2)
    with pytest.raises(ValueError, match="has no parameter or buffer with name 'kernel'"):
        P.spectral_norm(nn.Linear(2, 2), "kernel")


# ---------------------------------------------------------------- orthogonal
ORTHOGONAL_CASES = [((4, 4), None), ((4, 3), None), ((3, 4), None), ((4, 3), "matrix_exp"),
                    ((3, 4), "matrix_exp"), ((4, 4), "householder")]


@pytest.mark.parametrize("shape, orthogonal_map", ORTHOGONAL_CASES)
def test_orthogonal_matches_torch(shape, orthogonal_map):
    torch = pytest.importorskip("torch")
    ours, theirs = _pair(torch, "Linear", *shape)
    before = ours.weight.numpy().copy()
    P.orthogonal(ours, orthogonal_map=orthogonal_map)
    torch.nn.utils.parametrizations.orthogonal(theirs, orthogonal_map=orthogonal_map)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert repr(ours) == repr(theirs)
    w = ours.weight.detach().numpy()
    np.testing.assert_allclose(w, theirs.weight.detach().numpy(), atol=1e-12)
    gram = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
    np.testing.assert_allclose(gram, np.eye(min(w.shape)), atol=1e-12)
    if shape[0] == shape[1]:  # the starting weight is its own orthogonal factor's base
        assert np.allclose(w, np.linalg.qr(before)[0] * np.sign(np.diag(np.linalg.qr(
            before)[1])), atol=1e-12)
    _sync(ours, theirs, torch, perturb=True)  # away from the identity point of the map
    _assert_same_run(ours, theirs, torch,
                     np.random.default_rng(5).normal(size=(2, shape[0])))


def test_orthogonal_without_trivialization_and_assignment():
    torch = pytest.importorskip("torch")
    ours, theirs = _pair(torch, "Linear", 3, 5)
    P.orthogonal(ours, orthogonal_map="householder", use_trivialization=False)
    torch.nn.utils.parametrizations.orthogonal(theirs, orthogonal_map="householder",
                                               use_trivialization=False)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == [
        "bias", "parametrizations.weight.original"]
    np.testing.assert_allclose(ours.weight.detach().numpy(), theirs.weight.detach().numpy(),
                               atol=1e-12)
    _assert_same_run(ours, theirs, torch, np.random.default_rng(6).normal(size=(2, 3)))
    q = np.linalg.qr(np.random.default_rng(8).normal(size=(5, 3)))[0]
    ours.weight = gg.tensor(q)  # an orthogonal matrix is stored exactly
    np.testing.assert_allclose(ours.weight.detach().numpy(), q, atol=1e-12)
    square = P.orthogonal(nn.Linear(3, 3), use_trivialization=False)
    with pytest.raises(NotImplementedError, match="not possible to assign to the matrix "
                                                  "exponential"):
        square.weight = gg.eye(3)


def test_orthogonal_gradcheck_and_gradgradcheck_of_both_maps():
    for orthogonal_map, shape in (("matrix_exp", (3, 3)), ("householder", (4, 2))):
        gg.manual_seed(9)
        layer = P.orthogonal(nn.Linear(shape[1], shape[0]).double(),
                             orthogonal_map=orthogonal_map)
        orth = layer.parametrizations.weight[0]
        x = (gg.randn(*shape, dtype=gg.float64) * 0.5).requires_grad_()
        assert gradcheck(orth, [x])
        assert gradgradcheck(orth, [x])


def test_orthogonal_errors():
    with pytest.raises(NotImplementedError, match="Cayley map .* needs a differentiable linear "
                                                  "solve"):
        P.orthogonal(nn.Linear(3, 3), orthogonal_map="cayley")
    with pytest.raises(ValueError, match='orthogonal_map has to be one of "matrix_exp", '
                                         '"cayley", "householder". Got: qr'):
        P.orthogonal(nn.Linear(3, 3), orthogonal_map="qr")
    with pytest.raises(ValueError, match="Expected a matrix or batch of matrices. Got a tensor "
                                         "of 1 dimensions"):
        P.orthogonal(nn.Linear(3, 3), "bias")
    layer = P.orthogonal(nn.Linear(3, 3))
    with pytest.raises(ValueError, match=r"Expected a matrix .* of shape \(3, 3\). Got a tensor "
                                         r"of shape \(2, 2\)"):
        layer.weight = gg.eye(2)


# ------------------------------------------------------- the hook-based forms
@pytest.mark.parametrize("dim", [0, None])
def test_old_weight_norm_matches_torch_and_removes(dim):
    torch = pytest.importorskip("torch")
    ours, theirs = _pair(torch, "Linear", 4, 3)
    with pytest.warns(FutureWarning, match="weight_norm` is deprecated"):
        nn.utils.weight_norm(ours, dim=dim)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.nn.utils.weight_norm(theirs, dim=dim)
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    _sync(ours, theirs, torch)
    _assert_same_run(ours, theirs, torch, np.random.default_rng(1).normal(size=(2, 4)))
    with pytest.raises(RuntimeError, match="Cannot register two weight_norm hooks"), \
            pytest.warns(FutureWarning):
        nn.utils.weight_norm(ours, dim=dim)
    nn.utils.remove_weight_norm(ours)
    torch.nn.utils.remove_weight_norm(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["bias", "weight"]
    np.testing.assert_allclose(ours.weight.numpy(), theirs.weight.detach().numpy(), atol=1e-14)
    with pytest.raises(ValueError, match="weight_norm of 'weight' not found in Linear"):
        nn.utils.remove_weight_norm(ours)


@pytest.mark.parametrize("cls, args, x_shape", [("Linear", (4, 3), (2, 4)),
                                                ("ConvTranspose2d", (3, 2, 2), (1, 3, 3, 3))])
def test_old_spectral_norm_matches_torch_and_removes(cls, args, x_shape):
    torch = pytest.importorskip("torch")
    ours, theirs = _pair(torch, cls, *args)
    nn.utils.spectral_norm(ours, n_power_iterations=2)
    torch.nn.utils.spectral_norm(theirs, n_power_iterations=2)
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    _sync(ours, theirs, torch)
    rng = np.random.default_rng(2)
    for mode in ("train", "eval"):
        ours.train(mode == "train")
        theirs.train(mode == "train")
        ours.zero_grad()
        theirs.zero_grad()
        _assert_same_run(ours, theirs, torch, rng.normal(size=x_shape))
        np.testing.assert_allclose(ours.weight_u.numpy(), theirs.weight_u.numpy(), atol=1e-12)
    with pytest.raises(RuntimeError, match="Cannot register two spectral_norm hooks"):
        nn.utils.spectral_norm(ours)
    nn.utils.remove_spectral_norm(ours)
    torch.nn.utils.remove_spectral_norm(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    np.testing.assert_allclose(ours.weight.numpy(), theirs.weight.detach().numpy(), atol=1e-12)
    with pytest.raises(ValueError, match="spectral_norm of 'weight' not found"):
        nn.utils.remove_spectral_norm(ours)
