"""Margin, embedding and likelihood losses: values and every gradient equal PyTorch's in
float64 for each reduction and option, gradient checks to second order, the Module forms,
PyTorch's deprecated size_average/reduce flags, and errors naming the loss and shapes."""
from __future__ import annotations

from dataclasses import dataclass, field

import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import given, settings

import graphgrad as gg
import graphgrad.nn.functional as F
from graphgrad import nn
from graphgrad.testing import gradcheck, gradgradcheck


def _signs(rng, shape):
    return rng.choice([-1.0, 1.0], shape)


def _away(rng, shape, kink=0.0):
    """Uniform values in [-2, 2] kept 0.05 away from ``kink`` (hinges are not smooth there)."""
    x = rng.uniform(-2, 2, shape)
    return np.where(np.abs(x - kink) < 0.05, kink + 0.3, x)


@dataclass
class LossCase:
    fn: str  # the name in nn.functional and torch.nn.functional
    inputs: callable  # rng -> list of arrays (positional arguments)
    kwargs: dict = field(default_factory=dict)  # NumPy arrays become tensors
    grad: tuple = (0,)  # positions of the arguments to differentiate
    id: str = ""
    exact_gradient: bool = True  # False where PyTorch's gradient ignores a clamp on purpose


def _ranking(rng, n=5):
    x1 = rng.uniform(-2, 2, n)
    return [x1, x1 + rng.choice([-1.1, -0.6, 0.7, 1.3], n), _signs(rng, n)]


def _multilabel_targets(rng, n, c):
    """Rows of label lists ended by -1 (one row with a repeated label, one with none)."""
    t = np.full((n, c), -1)
    for i in range(n):
        k = rng.integers(0, c)
        t[i, :k] = rng.choice(c, k, replace=False)
    if n >= 2 and c >= 3:
        t[0, :3] = [2, 2, 0]
        t[1, :] = -1
    return t


def _triplets(rng, shape=(4, 3)):
    return [rng.normal(size=shape) for _ in range(3)]


W5 = np.array([0.5, 1.0, 2.0, 0.1, 1.5])
CASES = [
    LossCase("margin_ranking_loss", _ranking, grad=(0, 1, 2)),
    LossCase("margin_ranking_loss", _ranking, {"margin": 0.25}, grad=(0, 1), id="margin"),
    LossCase("hinge_embedding_loss", lambda r: [_away(r, (3, 4), 1.0), _signs(r, (3, 4))]),
    LossCase("hinge_embedding_loss",
             lambda r: [_away(r, (3, 4), 0.5), r.choice([-1.0, 1.0, 0.0], (3, 4))],
             {"margin": 0.5}, id="margin-odd-targets"),
    LossCase("soft_margin_loss", lambda r: [r.normal(size=(3, 4)), _signs(r, (3, 4))],
             grad=(0,)),
    LossCase("multilabel_soft_margin_loss",
             lambda r: [r.normal(size=(3, 5)), r.integers(0, 2, (3, 5)).astype(float)],
             grad=(0, 1)),
    LossCase("multilabel_soft_margin_loss",
             lambda r: [r.normal(size=(3, 5)), r.uniform(0, 1, (3, 5))], {"weight": W5},
             grad=(0, 1), id="weight"),
    LossCase("multilabel_soft_margin_loss",
             lambda r: [r.normal(size=(5,)), r.integers(0, 2, 5).astype(float)],
             id="unbatched"),
    LossCase("multi_margin_loss", lambda r: [r.normal(size=(4, 5)), r.integers(0, 5, 4)]),
    LossCase("multi_margin_loss", lambda r: [r.normal(size=(4, 5)), r.integers(0, 5, 4)],
             {"p": 2, "margin": 0.7, "weight": W5}, id="p2-weight"),
    LossCase("multi_margin_loss", lambda r: [r.normal(size=(5,)), np.array(3)],
             id="unbatched"),
    LossCase("multilabel_margin_loss",
             lambda r: [r.normal(size=(4, 5)), _multilabel_targets(r, 4, 5)]),
    LossCase("multilabel_margin_loss",
             lambda r: [r.normal(size=(5,)), np.array([3, 0, -1, 1, 2])], id="unbatched"),
    LossCase("cosine_embedding_loss",
             lambda r: [r.normal(size=(5, 3)), r.normal(size=(5, 3)), _signs(r, 5)],
             grad=(0, 1)),
    LossCase("cosine_embedding_loss",
             lambda r: [r.normal(size=(5, 3)), r.normal(size=(5, 3)), _signs(r, 5)],
             {"margin": -0.3}, grad=(0, 1), id="margin"),
    LossCase("cosine_embedding_loss",
             lambda r: [r.normal(size=(3,)), r.normal(size=(3,)), np.array(-1.0)],
             {"margin": -0.9}, grad=(0, 1), id="unbatched"),
    LossCase("poisson_nll_loss", lambda r: [r.normal(size=(3, 4)), r.poisson(2.0, (3, 4))
                                            .astype(float)], grad=(0,)),
    LossCase("poisson_nll_loss",
             lambda r: [r.uniform(0.1, 3, (3, 4)), r.uniform(0, 4, (3, 4))],
             {"log_input": False, "full": True}, grad=(0, 1), id="rates-full"),
    LossCase("poisson_nll_loss",
             lambda r: [r.normal(size=(3, 4)), r.uniform(1.5, 4, (3, 4))], {"full": True},
             grad=(0, 1), id="full"),
    LossCase("gaussian_nll_loss",
             lambda r: [r.normal(size=(4, 3)), r.normal(size=(4, 3)), r.uniform(0.2, 2, (4, 3))],
             grad=(0, 1, 2)),
    LossCase("gaussian_nll_loss",
             lambda r: [r.normal(size=(4, 3)), r.normal(size=(4, 3)), r.uniform(0.2, 2, 4)],
             {"full": True}, grad=(0, 1, 2), id="var-one-dim-short"),
    LossCase("gaussian_nll_loss",
             lambda r: [r.normal(size=(4, 3)), r.normal(size=(4, 3)),
                        np.r_[r.uniform(0.2, 2, 3), 1e-4].reshape(4, 1)],
             {"eps": 1e-3}, grad=(0, 1, 2), id="var-shared-clamped", exact_gradient=False),
    LossCase("triplet_margin_with_distance_loss", _triplets, grad=(0, 1, 2)),
    LossCase("triplet_margin_with_distance_loss", _triplets,
             {"margin": 2.0, "swap": True}, grad=(0, 1, 2), id="swap"),
    LossCase("triplet_margin_with_distance_loss", lambda r: _triplets(r, (3,)),
             {"margin": 3.0}, grad=(0, 1, 2), id="unbatched"),
]
PARAMS = [pytest.param(case, red, id=f"{case.fn}-{case.id or 'basic'}-{red}")
          for case in CASES for red in ("none", "mean", "sum")]


def _args(case, arrays, lib):
    return [lib.tensor(a, requires_grad=i in case.grad and a.dtype.kind == "f")
            for i, a in enumerate(arrays)]


def _kwargs(case, lib):
    return {k: lib.tensor(v) if isinstance(v, np.ndarray) else v for k, v in case.kwargs.items()}


@pytest.mark.parametrize("case, reduction", PARAMS)
def test_loss_matches_torch(case, reduction):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    arrays = case.inputs(rng)
    args, t_args = _args(case, arrays, gg), _args(case, arrays, torch)
    out = getattr(F, case.fn)(*args, reduction=reduction, **_kwargs(case, gg))
    t_out = getattr(torch.nn.functional, case.fn)(*t_args, reduction=reduction,
                                                  **_kwargs(case, torch))
    np.testing.assert_allclose(out.numpy(), t_out.detach().numpy(), rtol=1e-10, atol=1e-12)
    upstream = rng.standard_normal(t_out.shape)
    out.backward(gg.tensor(upstream))
    t_out.backward(torch.tensor(upstream))
    for i in case.grad:
        np.testing.assert_allclose(args[i].grad.numpy(), t_args[i].grad.numpy(), rtol=1e-9,
                                   atol=1e-12, err_msg=f"gradient of argument {i}")


SMOOTH = [c for c in CASES if c.exact_gradient]


@pytest.mark.parametrize("case", SMOOTH, ids=[f"{c.fn}-{c.id or 'basic'}" for c in SMOOTH])
def test_loss_gradcheck_and_gradgradcheck(case):
    args = _args(case, case.inputs(np.random.default_rng(1)), gg)
    kwargs = _kwargs(case, gg)
    fn = getattr(F, case.fn)
    assert gradcheck(lambda *xs: fn(*xs, reduction="none", **kwargs), args)
    assert gradgradcheck(lambda *xs: fn(*xs, reduction="mean", **kwargs), args)


@settings(max_examples=15, deadline=None)
@given(n=st.integers(1, 6), c=st.integers(1, 6), seed=st.integers(0, 2**31),
       p=st.sampled_from([1, 2]), margin=st.floats(0.1, 2.0))
def test_class_margin_losses_match_torch_on_random_shapes(n, c, seed, p, margin):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, c))
    target = rng.integers(0, c, n)
    labels = _multilabel_targets(rng, n, c)
    weight = rng.uniform(0.1, 2, c)
    upstream = rng.standard_normal(n)
    calls = [
        ("multi_margin_loss", (target,), {"p": p, "margin": margin, "weight": weight}),
        ("multilabel_margin_loss", (labels,), {}),
        ("multilabel_soft_margin_loss", ((labels >= 0).astype(float),), {"weight": weight}),
    ]
    for name, rest, kwargs in calls:
        ours_x, t_x = gg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        ours = getattr(F, name)(ours_x, *map(gg.tensor, rest), reduction="none",
                                **{k: gg.tensor(v) if isinstance(v, np.ndarray) else v
                                   for k, v in kwargs.items()})
        theirs = getattr(torch.nn.functional, name)(
            t_x, *map(torch.tensor, rest), reduction="none",
            **{k: torch.tensor(v) if isinstance(v, np.ndarray) else v
               for k, v in kwargs.items()})
        np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), atol=1e-12,
                                   err_msg=name)
        ours.backward(gg.tensor(upstream))
        theirs.backward(torch.tensor(upstream))
        np.testing.assert_allclose(ours_x.grad.numpy(), t_x.grad.numpy(), atol=1e-12,
                                   err_msg=name)


# ------------------------------------------------------------------ modules
MODULE_CALLS = [
    (nn.MarginRankingLoss(0.2, reduction="sum"),
     lambda x: F.margin_ranking_loss(*x, margin=0.2, reduction="sum"), _ranking),
    (nn.HingeEmbeddingLoss(0.5), lambda x: F.hinge_embedding_loss(*x, margin=0.5),
     lambda r: [_away(r, (3, 4), 0.5), _signs(r, (3, 4))]),
    (nn.SoftMarginLoss(), lambda x: F.soft_margin_loss(*x),
     lambda r: [r.normal(size=(3, 4)), _signs(r, (3, 4))]),
    (nn.MultiLabelSoftMarginLoss(gg.tensor(W5)),
     lambda x: F.multilabel_soft_margin_loss(*x, weight=gg.tensor(W5)),
     lambda r: [r.normal(size=(3, 5)), r.uniform(0, 1, (3, 5))]),
    (nn.MultiLabelMarginLoss(reduction="none"),
     lambda x: F.multilabel_margin_loss(*x, reduction="none"),
     lambda r: [r.normal(size=(4, 5)), _multilabel_targets(r, 4, 5)]),
    (nn.MultiMarginLoss(2, 0.5, gg.tensor(W5)),
     lambda x: F.multi_margin_loss(*x, p=2, margin=0.5, weight=gg.tensor(W5)),
     lambda r: [r.normal(size=(4, 5)), r.integers(0, 5, 4)]),
    (nn.CosineEmbeddingLoss(0.1), lambda x: F.cosine_embedding_loss(*x, margin=0.1),
     lambda r: [r.normal(size=(5, 3)), r.normal(size=(5, 3)), _signs(r, 5)]),
    (nn.PoissonNLLLoss(log_input=False, full=True),
     lambda x: F.poisson_nll_loss(*x, log_input=False, full=True),
     lambda r: [r.uniform(0.1, 3, (3, 4)), r.uniform(0, 4, (3, 4))]),
    (nn.GaussianNLLLoss(full=True, eps=0.1), lambda x: F.gaussian_nll_loss(*x, full=True,
                                                                           eps=0.1),
     lambda r: [r.normal(size=(4, 3)), r.normal(size=(4, 3)), r.uniform(0.01, 2, (4, 1))]),
    (nn.TripletMarginWithDistanceLoss(margin=2.0, swap=True),
     lambda x: F.triplet_margin_with_distance_loss(*x, margin=2.0, swap=True), _triplets),
]


@pytest.mark.parametrize("module, function, inputs", MODULE_CALLS,
                         ids=[type(m).__name__ for m, _, _ in MODULE_CALLS])
def test_loss_modules_equal_their_functions_and_torch_repr_and_state(module, function, inputs):
    torch = pytest.importorskip("torch")
    args = [gg.tensor(a) for a in inputs(np.random.default_rng(3))]
    np.testing.assert_array_equal(module(*args).numpy(), function(args).numpy())
    name = type(module).__name__
    theirs = getattr(torch.nn, name)()
    assert repr(getattr(nn, name)()) == repr(theirs)
    assert list(module.state_dict()) == (["weight"] if getattr(module, "weight", None)
                                         is not None else [])


def test_triplet_with_distance_takes_any_distance_and_keeps_the_default_as_a_child():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    arrays = _triplets(rng)
    loss = nn.TripletMarginWithDistanceLoss(
        distance_function=lambda a, b: 1.0 - F.cosine_similarity(a, b), margin=0.5)
    t_loss = torch.nn.TripletMarginWithDistanceLoss(
        distance_function=lambda a, b: 1.0 - torch.nn.functional.cosine_similarity(a, b),
        margin=0.5)
    args = [gg.tensor(a, requires_grad=True) for a in arrays]
    t_args = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, t_out = loss(*args), t_loss(*t_args)
    np.testing.assert_allclose(out.item(), t_out.item(), rtol=1e-12)
    out.backward()
    t_out.backward()
    for a, t in zip(args, t_args, strict=True):
        np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), atol=1e-12)
    default = nn.TripletMarginWithDistanceLoss()
    assert isinstance(default.distance_function, nn.PairwiseDistance)
    assert dict(default.named_children()) == {"distance_function": default.distance_function}


@pytest.mark.parametrize("size_average, reduce, expected", [
    (None, False, "none"), (False, None, "sum"), (True, True, "mean"), (False, False, "none"),
])
def test_deprecated_size_average_and_reduce_set_the_reduction(size_average, reduce, expected):
    torch = pytest.importorskip("torch")
    with pytest.warns(UserWarning, match=f"reduction='{expected}'"):
        module = nn.MarginRankingLoss(0.1, size_average, reduce)
    with pytest.warns(UserWarning):
        assert torch.nn.MarginRankingLoss(0.1, size_average, reduce).reduction == expected
    assert module.reduction == expected
    with pytest.warns(UserWarning):
        assert nn.MSELoss(size_average, reduce).reduction == expected
    rng = np.random.default_rng(5)
    x, y = gg.tensor(rng.normal(size=4)), gg.tensor(_signs(rng, 4))
    with pytest.warns(UserWarning):
        legacy = F.soft_margin_loss(x, y, size_average, reduce)
    np.testing.assert_array_equal(legacy.numpy(),
                                  F.soft_margin_loss(x, y, reduction=expected).numpy())


def test_gaussian_nll_clamps_var_without_cutting_its_gradient():
    var = gg.tensor([1e-9, 0.5], requires_grad=True, dtype=gg.float64)
    x, y = gg.tensor([0.3, 0.1], dtype=gg.float64), gg.zeros(2, dtype=gg.float64)
    F.gaussian_nll_loss(x, y, var, eps=1e-2, reduction="sum").backward()
    clamped = np.array([1e-2, 0.5])
    expected = 0.5 / clamped - 0.5 * np.array([0.09, 0.01]) / clamped**2
    np.testing.assert_allclose(var.grad.numpy(), expected)
    np.testing.assert_allclose(F.gaussian_nll_loss(x, y, 0.5, reduction="none").numpy(),
                               0.5 * (np.log(0.5) + np.array([0.09, 0.01]) / 0.5))


# ------------------------------------------------------------------- errors
@pytest.mark.parametrize("call, error, match", [
    (lambda: F.margin_ranking_loss(gg.randn(3), gg.randn(3, 1), gg.ones(3)), ValueError,
     r"margin_ranking_loss: .*same number of dims, got shapes \(3,\), \(3, 1\)"),
    (lambda: F.hinge_embedding_loss(gg.randn(3, 2), gg.ones(4)), ValueError,
     r"hinge_embedding_loss: shapes \(3, 2\) and \(4,\)"),
    (lambda: F.soft_margin_loss(gg.randn(3, 2), gg.ones(3)), ValueError,
     r"soft_margin_loss: shapes \(3, 2\) and \(3,\)"),
    (lambda: F.multilabel_soft_margin_loss(gg.randn(3, 2), gg.ones(3, 3)), ValueError,
     r"multilabel_soft_margin_loss: shapes \(3, 2\) and \(3, 3\)"),
    (lambda: F.multi_margin_loss(gg.randn(3, 4), gg.tensor([0, 1])), ValueError,
     r"multi_margin_loss: inconsistent target size: got target of shape \(2,\) for input "
     r"of shape \(3, 4\)"),
    (lambda: F.multi_margin_loss(gg.randn(2, 4), gg.tensor([0, 4])), IndexError,
     "multi_margin_loss: target 4 is out of range for 4 classes"),
    (lambda: F.multi_margin_loss(gg.randn(2, 4), gg.tensor([0, 1]), p=3), ValueError,
     "only p == 1 and p == 2"),
    (lambda: F.multi_margin_loss(gg.randn(2, 4), gg.tensor([0, 1]), weight=gg.ones(3)),
     ValueError, r"multi_margin_loss: weight .* shape \(4,\), got \(3,\)"),
    (lambda: F.multi_margin_loss(gg.randn(2, 4), gg.tensor([0.0, 1.0])), TypeError,
     "multi_margin_loss: expected class indices"),
    (lambda: F.multilabel_margin_loss(gg.randn(2, 4), gg.tensor([0, 1])), ValueError,
     r"multilabel_margin_loss: .*got input \(2, 4\) and target \(2,\)"),
    (lambda: F.multilabel_margin_loss(gg.randn(4), gg.tensor([0, 7, -1, 9])), IndexError,
     "multilabel_margin_loss: target 7 is out of range for 4 classes"),
    (lambda: F.cosine_embedding_loss(gg.randn(3, 2), gg.randn(3, 2), gg.ones(3, 1)),
     ValueError, r"cosine_embedding_loss: .*got \(3, 2\), \(3, 2\) and \(3, 1\)"),
    (lambda: F.gaussian_nll_loss(gg.randn(4, 3), gg.randn(4, 3), gg.ones(4, 2)), ValueError,
     r"gaussian_nll_loss: var is of incorrect size: got var of shape \(4, 2\) for input of "
     r"shape \(4, 3\)"),
    (lambda: F.gaussian_nll_loss(gg.randn(4), gg.randn(4), -1.0), ValueError,
     "gaussian_nll_loss: var has negative"),
    (lambda: F.gaussian_nll_loss(gg.randn(2), gg.randn(2), gg.tensor([1.0, -1.0])),
     ValueError, "gaussian_nll_loss: var has negative"),
    (lambda: F.poisson_nll_loss(gg.randn(3, 2), gg.ones(3)), ValueError,
     r"poisson_nll_loss: shapes \(3, 2\) and \(3,\)"),
    (lambda: F.triplet_margin_with_distance_loss(gg.randn(3, 2), gg.randn(3, 2), gg.randn(2)),
     ValueError, r"triplet_margin_with_distance_loss: .*\(3, 2\), \(3, 2\) and \(2,\)"),
    (lambda: F.triplet_margin_with_distance_loss(gg.randn(2), gg.randn(2), gg.randn(2),
                                                 margin=0.0),
     ValueError, "margin must be greater than 0"),
    (lambda: nn.TripletMarginWithDistanceLoss(margin=-1.0), ValueError,
     "TripletMarginWithDistanceLoss: expected margin to be greater than 0"),
    (lambda: nn.MultiMarginLoss(p=3), ValueError, "MultiMarginLoss: only p == 1 and p == 2"),
    (lambda: nn.MultiMarginLoss(weight=gg.ones(2, 2)), ValueError,
     r"MultiMarginLoss: weight must be one-dimensional, got shape \(2, 2\)"),
    (lambda: nn.SoftMarginLoss(reduction="avg"), ValueError, "SoftMarginLoss: reduction"),
    (lambda: F.cosine_embedding_loss(gg.randn(2), gg.randn(2), gg.tensor(1.0),
                                     reduction="avg"), ValueError, "reduction"),
])
def test_bad_arguments_raise_naming_the_loss(call, error, match):
    with pytest.raises(error, match=match):
        call()
