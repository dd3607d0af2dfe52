"""Losses: values and gradients equal PyTorch's for every reduction and option, gradient
checks in float64, numerical stability, and clear errors for bad targets."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest

import graphgrad as gg
import graphgrad.nn.functional as F
from graphgrad import nn
from graphgrad.testing import gradcheck, gradgradcheck


def _probs(rng, shape):
    return rng.uniform(0.05, 0.95, shape)


def _soft_targets(rng, shape, axis=1):
    p = rng.uniform(0.1, 1.0, shape)
    return p / p.sum(axis=axis, keepdims=True)


@dataclass
class LossCase:
    fn: str  # the name in nn.functional and torch.nn.functional
    inputs: callable  # rng -> list of arrays (positional arguments)
    kwargs: dict = field(default_factory=dict)  # NumPy arrays become tensors
    grad: tuple = (0,)  # positions of the arguments to differentiate
    id: str = ""
    reductions: tuple = ("none", "mean", "sum")


def _regression(rng):
    x = rng.uniform(-2, 2, (3, 4))
    return [x, x + rng.choice([-1.5, -0.3, 0.4, 2.0], (3, 4))]


W4 = np.array([0.5, 1.0, 2.0, 0.1])
IDX = np.array([[0, 3, -100], [2, 2, 1]])  # with ignored positions, for (2, 4, 3) logits

CASES = [
    LossCase("mse_loss", _regression, grad=(0, 1)),
    LossCase("l1_loss", _regression, grad=(0, 1)),
    LossCase("smooth_l1_loss", _regression, grad=(0, 1)),
    LossCase("smooth_l1_loss", _regression, {"beta": 0.5}, id="beta0.5"),
    LossCase("huber_loss", _regression, {"delta": 0.5}, grad=(0, 1)),
    LossCase("binary_cross_entropy", lambda r: [_probs(r, (3, 4)), r.uniform(0, 1, (3, 4))],
             grad=(0, 1)),
    LossCase("binary_cross_entropy", lambda r: [_probs(r, (3, 4)),
                                                r.integers(0, 2, (3, 4)).astype(float)],
             {"weight": W4}, id="weight"),
    LossCase("binary_cross_entropy_with_logits",
             lambda r: [r.uniform(-5, 5, (3, 4)), r.uniform(0, 1, (3, 4))], grad=(0, 1)),
    LossCase("binary_cross_entropy_with_logits",
             lambda r: [r.uniform(-5, 5, (3, 4)), r.integers(0, 2, (3, 4)).astype(float)],
             {"weight": np.array([[1.0], [0.5], [2.0]]), "pos_weight": W4}, grad=(0, 1),
             id="weight-pos_weight"),
    LossCase("cross_entropy", lambda r: [r.normal(size=(5, 4)), np.array([0, 3, 1, 1, 2])]),
    LossCase("cross_entropy", lambda r: [r.normal(size=(5, 4)), np.array([0, 3, 1, 1, 2])],
             {"weight": W4}, id="weight"),
    LossCase("cross_entropy", lambda r: [r.normal(size=(5, 4)), np.array([0, 3, -1, 1, -1])],
             {"weight": W4, "ignore_index": -1}, id="weight-ignore"),
    LossCase("cross_entropy", lambda r: [r.normal(size=(5, 4)), np.array([0, 3, 7, 1, 2])],
             {"weight": W4, "ignore_index": 7, "label_smoothing": 0.2},
             id="weight-ignore-smoothing"),
    LossCase("cross_entropy", lambda r: [r.normal(size=(5, 4)), np.array([0, 3, 1, 1, 2])],
             {"label_smoothing": 0.1}, id="smoothing"),
    LossCase("cross_entropy", lambda r: [r.normal(size=(2, 4, 3)), IDX], {"weight": W4},
             id="spatial-weight-ignore"),
    LossCase("cross_entropy", lambda r: [r.normal(size=(2, 4, 3, 2)),
                                         r.integers(0, 4, (2, 3, 2))],
             {"label_smoothing": 0.3}, id="spatial2d-smoothing"),
    LossCase("cross_entropy", lambda r: [r.normal(size=(4,)), np.array(2)], id="unbatched"),
    LossCase("cross_entropy", lambda r: [r.normal(size=(5, 4)), _soft_targets(r, (5, 4))],
             grad=(0, 1), id="probs"),
    LossCase("cross_entropy", lambda r: [r.normal(size=(2, 4, 3)), _soft_targets(r, (2, 4, 3))],
             {"weight": W4, "label_smoothing": 0.2}, id="probs-spatial-weight-smoothing"),
    LossCase("nll_loss", lambda r: [r.normal(size=(5, 4)), np.array([0, 3, 1, 1, 2])]),
    LossCase("nll_loss", lambda r: [r.normal(size=(2, 4, 3)), IDX], {"weight": W4},
             id="spatial-weight-ignore"),
    # At a zero target PyTorch's gradient for the target is NaN (ours 0): input only there.
    LossCase("kl_div", lambda r: [np.log(_soft_targets(r, (3, 4))),
                                  np.concatenate([_soft_targets(r, (2, 4)), np.zeros((1, 4))])],
             reductions=("none", "mean", "sum", "batchmean"), id="zero-target"),
    LossCase("kl_div", lambda r: [np.log(_soft_targets(r, (3, 4))), _soft_targets(r, (3, 4))],
             grad=(0, 1), reductions=("none", "batchmean")),
    LossCase("kl_div", lambda r: [np.log(_soft_targets(r, (3, 4))),
                                  np.log(_soft_targets(r, (3, 4)))],
             {"log_target": True}, grad=(0, 1), id="log_target",
             reductions=("none", "batchmean")),
    LossCase("triplet_margin_loss", lambda r: [r.normal(size=(4, 3)) for _ in range(3)],
             grad=(0, 1, 2)),
    LossCase("triplet_margin_loss", lambda r: [r.normal(size=(4, 3)) for _ in range(3)],
             {"margin": 3.0, "p": 1.0, "swap": True}, grad=(0, 1, 2), id="p1-swap"),
    LossCase("triplet_margin_loss", lambda r: [r.normal(size=(3,)) for _ in range(3)],
             {"margin": 2.0, "p": 3.0}, grad=(0, 1, 2), id="p3-unbatched"),
]
PARAMS = [pytest.param(case, red, id=f"{case.fn}-{case.id or 'basic'}-{red}")
          for case in CASES for red in case.reductions]


def _ours(case, arrays, reduction, dtype=np.float64):
    args = [gg.tensor(a, requires_grad=i in case.grad and a.dtype.kind == "f")
            for i, a in enumerate(arrays)]
    kwargs = {k: gg.tensor(v) if isinstance(v, np.ndarray) else v for k, v in case.kwargs.items()}
    return args, getattr(F, case.fn)(*args, reduction=reduction, **kwargs)


@pytest.mark.filterwarnings("ignore::UserWarning")  # torch's note on kl_div's "mean"
@pytest.mark.parametrize("case, reduction", PARAMS)
def test_loss_matches_torch(case, reduction):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    arrays = case.inputs(rng)
    args, out = _ours(case, arrays, reduction)
    t_args = [torch.tensor(a, requires_grad=i in case.grad and a.dtype.kind == "f")
              for i, a in enumerate(arrays)]
    t_kwargs = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v
                for k, v in case.kwargs.items()}
    t_out = getattr(torch.nn.functional, case.fn)(*t_args, reduction=reduction, **t_kwargs)
    np.testing.assert_allclose(out.numpy(), t_out.detach().numpy(), rtol=1e-10, atol=1e-12)
    upstream = rng.standard_normal(t_out.shape)
    out.backward(gg.tensor(upstream))
    t_out.backward(torch.tensor(upstream))
    for a, t in zip(args, t_args, strict=True):
        if a.requires_grad:
            np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("case, reduction", [p for p in PARAMS if p.values[1] != "sum"])
def test_loss_gradcheck_and_gradgradcheck(case, reduction):
    arrays = case.inputs(np.random.default_rng(1))
    args = [gg.tensor(a, requires_grad=i in case.grad and a.dtype.kind == "f")
            for i, a in enumerate(arrays)]
    kwargs = {k: gg.tensor(v) if isinstance(v, np.ndarray) else v for k, v in case.kwargs.items()}
    fn = getattr(F, case.fn)
    assert gradcheck(lambda *xs: fn(*xs, reduction=reduction, **kwargs), args)
    assert gradgradcheck(lambda *xs: fn(*xs, reduction=reduction, **kwargs), args)


def test_loss_modules_match_functions():
    rng = np.random.default_rng(2)
    logits, labels = gg.tensor(rng.normal(size=(6, 4))), gg.tensor(rng.integers(0, 4, 6))
    w = gg.tensor(W4)
    crit = nn.CrossEntropyLoss(weight=w, ignore_index=2, label_smoothing=0.1, reduction="sum")
    expected = F.cross_entropy(logits, labels, w, 2, "sum", 0.1)
    np.testing.assert_array_equal(crit(logits, labels).numpy(), expected.numpy())
    assert list(crit.state_dict()) == ["weight"]
    bce = nn.BCEWithLogitsLoss(pos_weight=W4)
    y = gg.tensor(rng.integers(0, 2, (6, 4)).astype(float))
    np.testing.assert_array_equal(
        bce(logits, y).numpy(),
        F.binary_cross_entropy_with_logits(logits, y, pos_weight=W4).numpy())
    trip = nn.TripletMarginLoss(margin=0.5, swap=True)
    a, p, n = (gg.tensor(rng.normal(size=(3, 2))) for _ in range(3))
    np.testing.assert_array_equal(trip(a, p, n).numpy(),
                                  F.triplet_margin_loss(a, p, n, 0.5, swap=True).numpy())
    assert repr(nn.NLLLoss()) == "NLLLoss()"
    with pytest.raises(ValueError, match="reduction"):
        nn.MSELoss(reduction="avg")


# ------------------------------------------------------------------ stability
def test_bce_with_logits_is_stable_for_huge_logits():
    torch = pytest.importorskip("torch")
    x = np.array([-1e4, -100.0, -30.0, 0.0, 30.0, 100.0, 1e4], dtype=np.float32)
    y = np.array([1, 0, 1, 1, 0, 1, 0], dtype=np.float32)
    xt = gg.tensor(x, requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(xt, gg.tensor(y), reduction="sum")
    loss.backward()
    t = torch.tensor(x, requires_grad=True)
    t_loss = torch.nn.functional.binary_cross_entropy_with_logits(t, torch.tensor(y),
                                                                  reduction="sum")
    t_loss.backward()
    assert np.isfinite(loss.item()) and np.all(np.isfinite(xt.grad.numpy()))
    np.testing.assert_allclose(loss.item(), t_loss.item(), rtol=1e-6)
    np.testing.assert_allclose(xt.grad.numpy(), t.grad.numpy(), atol=1e-6)


def test_bce_with_logits_gradient_is_exact_at_zero():
    x = gg.zeros(3, requires_grad=True, dtype=np.float64)
    F.binary_cross_entropy_with_logits(x, gg.tensor([0.0, 1.0, 0.25]), reduction="sum").backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.5, -0.5, 0.25])  # sigmoid(0) - y


def test_bce_clamps_log_at_minus_100_with_finite_gradients():
    torch = pytest.importorskip("torch")
    p = np.array([0.0, 1.0, 0.0, 1.0, 0.5], dtype=np.float32)
    y = np.array([1.0, 0.0, 0.0, 1.0, 1.0], dtype=np.float32)
    pt = gg.tensor(p, requires_grad=True)
    loss = F.binary_cross_entropy(pt, gg.tensor(y), reduction="none")
    expected = torch.nn.functional.binary_cross_entropy(torch.tensor(p), torch.tensor(y),
                                                        reduction="none")
    np.testing.assert_allclose(loss.numpy(), expected.numpy(), rtol=1e-6)
    assert loss.numpy()[0] == 100.0
    loss.sum().backward()
    assert np.all(np.isfinite(pt.grad.numpy()))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_gradient_where_p_saturates_is_pytorchs(dtype):
    """-y / max(p, 1e-12) + (1 - y) / max(1 - p, 1e-12): PyTorch's (p - y) / max(p (1 - p),
    1e-12) wherever p (1 - p) > 1e-12, and as large where a prediction is confidently wrong
    (p = 0 for y = 1), not 0 as the clamped log alone would give.  (Where p = y = 0 or 1
    it is the true derivative, +1 or -1; PyTorch's formula gives 0 there.)"""
    p = np.array([0.0, 1.0, 1e-30, 0.0, 1.0, 0.3], dtype=dtype)
    y = np.array([1.0, 0.9, 1.0, 0.0, 1.0, 0.6], dtype=dtype)
    pt = gg.tensor(p, requires_grad=True)
    F.binary_cross_entropy(pt, gg.tensor(y), reduction="sum").backward()
    p64, y64 = p.astype(np.float64), y.astype(np.float64)
    expected = -y64 / np.maximum(p64, 1e-12) + (1 - y64) / np.maximum(1 - p64, 1e-12)
    np.testing.assert_allclose(pt.grad.numpy(), expected, rtol=1e-5)
    torch_formula = (p64 - y64) / np.maximum(p64 * (1 - p64), 1e-12)
    differ = (p64 == y64) & ((p64 == 0) | (p64 == 1))
    np.testing.assert_allclose(expected[~differ], torch_formula[~differ], rtol=1e-5)


def test_cross_entropy_is_stable_for_huge_logits():
    logits = gg.tensor([[1e4, 0.0, -1e4], [0.0, 0.0, 0.0]], requires_grad=True)
    loss = F.cross_entropy(logits, gg.tensor([1, 2]))
    loss.backward()
    np.testing.assert_allclose(loss.item(), (1e4 + np.log(3)) / 2, rtol=1e-6)
    assert np.all(np.isfinite(logits.grad.numpy()))


@pytest.mark.parametrize("loss_fn", [
    F.cross_entropy, F.nll_loss, lambda x, t: F.cross_entropy(x, t, label_smoothing=0.1),
    lambda x, t: F.cross_entropy(x, t, weight=gg.tensor([1.0, 2.0, 3.0]))])
def test_all_ignored_gives_nan_like_pytorch_with_a_zero_gradient(loss_fn):
    """The mean over no positions is NaN; its gradient is 0, as PyTorch's (a fully padded
    batch must not turn the weights into NaN)."""
    x = gg.randn(2, 3, requires_grad=True)
    loss = loss_fn(x, gg.tensor([-100, -100]))
    loss.backward()
    assert np.isnan(loss.item())
    np.testing.assert_array_equal(x.grad.numpy(), 0.0)


# --------------------------------------------------------------------- errors
@pytest.mark.parametrize("fn", [F.cross_entropy, F.nll_loss])
@pytest.mark.parametrize("bad", [3, -1, 5])
def test_target_index_out_of_range_raises(fn, bad):
    with pytest.raises(IndexError, match=fn.__name__) as err:
        fn(gg.randn(2, 3), gg.tensor([0, bad]))
    assert str(bad) in str(err.value) and "3 classes" in str(err.value)


def test_class_target_errors():
    with pytest.raises(TypeError, match="integer"):
        F.cross_entropy(gg.randn(2, 3), gg.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"expected target of shape \(2,\)"):
        F.cross_entropy(gg.randn(2, 3), gg.tensor([0, 1, 2]))
    with pytest.raises(TypeError, match="input's shape"):
        F.cross_entropy(gg.randn(2, 3), gg.rand(2, 4))
    with pytest.raises(ValueError, match="weight"):
        F.cross_entropy(gg.randn(2, 3), gg.tensor([0, 1]), weight=gg.ones(4))
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(gg.randn(2, 3), gg.tensor([0, 1]), label_smoothing=1.5)
    with pytest.raises(IndexError, match="CrossEntropyLoss|cross_entropy"):
        nn.CrossEntropyLoss()(gg.randn(2, 3), gg.tensor([0, 3]))


@pytest.mark.parametrize("call, shapes", [
    (lambda: F.binary_cross_entropy(gg.rand(4, 3), gg.rand(4, 3), weight=gg.rand(2)),
     r"binary_cross_entropy: shapes \(4, 3\) and \(2,\) cannot be broadcast"),
    (lambda: F.binary_cross_entropy_with_logits(gg.randn(4, 3), gg.rand(4, 3),
                                                pos_weight=gg.rand(2)),
     r"binary_cross_entropy_with_logits: shapes \(4, 3\) and \(2,\) cannot"),
    (lambda: F.triplet_margin_loss(gg.randn(4, 3), gg.randn(4, 5), gg.randn(4, 3)),
     r"triplet_margin_loss: shapes \(4, 3\) and \(4, 5\) and \(4, 3\) cannot"),
    (lambda: F.mse_loss(gg.randn(4, 3), gg.rand(4, 2)),
     r"mse_loss: shapes \(4, 3\) and \(4, 2\) cannot be broadcast"),
])
def test_operands_that_do_not_broadcast_raise_naming_the_loss(call, shapes):
    with pytest.raises(ValueError, match=shapes):
        call()


def test_binary_target_errors():
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.binary_cross_entropy(gg.tensor([1.5]), gg.tensor([1.0]))
    with pytest.raises(ValueError, match="binary_cross_entropy.*size"):
        F.binary_cross_entropy(gg.rand(3, 1), gg.rand(3))
    with pytest.raises(ValueError, match="with_logits.*size"):
        F.binary_cross_entropy_with_logits(gg.rand(3, 1), gg.rand(3))
    with pytest.raises(ValueError, match="reduction"):
        F.mse_loss(gg.rand(3), gg.rand(3), reduction="avg")
    with pytest.warns(UserWarning, match="mse_loss: target size"):
        F.mse_loss(gg.rand(3, 1), gg.rand(3))
