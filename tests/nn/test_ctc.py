"""CTC loss: brute force over alignments, PyTorch parity, impossible targets, gradients."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import graphgrad as gg
import graphgrad.nn.functional as F
from graphgrad import nn
from graphgrad.testing import gradcheck

torch = pytest.importorskip("torch")


def _log_softmax(x: np.ndarray) -> np.ndarray:
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def _brute_force(log_probs: np.ndarray, target: list, blank: int = 0) -> float:
    """-log of the summed probability of every path that collapses to ``target``."""
    steps, classes = log_probs.shape
    total = 0.0
    for path in itertools.product(range(classes), repeat=steps):
        merged = [c for c, _ in itertools.groupby(path)]
        if [c for c in merged if c != blank] == list(target):
            total += np.exp(sum(log_probs[t, c] for t, c in enumerate(path)))
    return -np.log(total)


@pytest.mark.parametrize("target", [[1, 2], [2, 2], [1], [], [1, 2, 1]], ids=str)
def test_equals_brute_force_sum_over_alignments(target):
    rng = np.random.default_rng(0)
    lp = _log_softmax(rng.standard_normal((5, 3)))
    loss = F.ctc_loss(gg.tensor(lp), np.array(target, dtype=np.int64), 5, len(target),
                      reduction="sum")
    assert loss.shape == ()
    np.testing.assert_allclose(loss.item(), _brute_force(lp, target), rtol=1e-10)


def test_brute_force_with_another_blank_index():
    lp = _log_softmax(np.random.default_rng(1).standard_normal((4, 3)))
    loss = F.ctc_loss(gg.tensor(lp[:, None]), np.array([[0, 1]]), [4], [2], blank=2,
                      reduction="none")
    np.testing.assert_allclose(loss.numpy()[0], _brute_force(lp, [0, 1], blank=2), rtol=1e-10)


CASES = {
    "padded": dict(targets=[[1, 2, 2], [3, 1, 0], [4, 4, 1]], target_lengths=[3, 2, 3],
                   input_lengths=[8, 6, 7]),
    "concatenated": dict(targets=[1, 2, 2, 3, 1, 4, 4, 1], target_lengths=[3, 2, 3],
                         input_lengths=[8, 8, 8]),
    "empty-target": dict(targets=[[1, 2], [0, 0], [3, 0]], target_lengths=[2, 0, 1],
                         input_lengths=[8, 5, 1]),
}


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("case", list(CASES))
def test_matches_torch_values_and_gradients(case, reduction):
    spec = CASES[case]
    rng = np.random.default_rng(2)
    logits = rng.standard_normal((8, 3, 5))
    x = gg.tensor(logits, requires_grad=True)
    x_t = torch.tensor(logits, requires_grad=True)
    args = [np.array(spec[k]) for k in ("targets", "input_lengths", "target_lengths")]
    ours = F.ctc_loss(x.log_softmax(2), *args, reduction=reduction)
    theirs = torch.nn.functional.ctc_loss(x_t.log_softmax(2), *map(torch.tensor, args),
                                          reduction=reduction)
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-10)
    g = rng.standard_normal(ours.shape)
    ours.backward(g)
    theirs.backward(torch.tensor(g))
    # PyTorch's ctc_loss returns d/d(logits) through log_softmax (not d/d(log_probs)), so
    # the gradients are compared with respect to the logits.
    np.testing.assert_allclose(x.grad.numpy(), x_t.grad.numpy(), atol=1e-10)


def test_impossible_target_is_infinite_or_zero_with_zero_infinity():
    rng = np.random.default_rng(3)
    lp = _log_softmax(rng.standard_normal((3, 2, 4)))
    targets = np.array([[1, 1], [1, 2]])  # [1, 1] needs 3 steps, [1, 2] needs 2
    x = gg.tensor(lp, requires_grad=True)
    loss = F.ctc_loss(x, targets, [2, 2], [2, 2], reduction="none")
    assert np.isinf(loss.numpy()[0]) and np.isfinite(loss.numpy()[1])
    safe = F.ctc_loss(x, targets, [2, 2], [2, 2], reduction="sum", zero_infinity=True)
    theirs = torch.nn.functional.ctc_loss(torch.tensor(lp), torch.tensor(targets),
                                          torch.tensor([2, 2]), torch.tensor([2, 2]),
                                          reduction="sum", zero_infinity=True)
    np.testing.assert_allclose(safe.item(), theirs.item(), rtol=1e-10)
    safe.backward()
    assert np.isfinite(x.grad.numpy()).all()
    np.testing.assert_array_equal(x.grad.numpy()[:, 0], 0.0)
    assert np.abs(x.grad.numpy()[:2, 1]).sum() > 0
    np.testing.assert_array_equal(x.grad.numpy()[2:, 1], 0.0)  # beyond its input length


def test_zero_probability_classes_keep_the_gradient_finite():
    lp = np.full((4, 1, 3), -np.inf)
    lp[:, 0, :2] = np.log(0.5)  # class 2 has probability exactly 0
    x = gg.tensor(lp, requires_grad=True)
    loss = F.ctc_loss(x, np.array([[1]]), [4], [1], reduction="sum")
    np.testing.assert_allclose(loss.item(), _brute_force(np.log(np.full((4, 2), 0.5)), [1]))
    loss.backward()
    assert np.isfinite(x.grad.numpy()[..., :2]).all()


def test_gradcheck():
    rng = np.random.default_rng(4)
    x = gg.tensor(rng.standard_normal((5, 2, 3)), requires_grad=True)
    targets = np.array([[1, 1], [2, 0]])
    fn = lambda a: F.ctc_loss(a.log_softmax(2), targets, [5, 4], [2, 1], reduction="none")
    assert gradcheck(fn, [x])


def test_module_and_unbatched_input():
    rng = np.random.default_rng(5)
    lp = _log_softmax(rng.standard_normal((6, 2, 4)))
    targets, lengths = np.array([[1, 2], [3, 3]]), np.array([2, 2])
    ctc = nn.CTCLoss(blank=0, reduction="mean")
    assert repr(ctc) == "CTCLoss(blank=0, reduction='mean')"
    loss = ctc(gg.tensor(lp), targets, gg.tensor(np.array([6, 6])), lengths)
    np.testing.assert_allclose(loss.item(), F.ctc_loss(gg.tensor(lp), targets, [6, 6],
                                                       lengths).item())
    single = F.ctc_loss(gg.tensor(lp[:, 0]), targets[0], 6, 2, reduction="none")
    assert single.shape == ()
    np.testing.assert_allclose(single.item(), _brute_force(lp[:, 0], [1, 2]), rtol=1e-10)


def test_bad_inputs_raise():
    lp = gg.tensor(_log_softmax(np.zeros((4, 2, 3))))
    with pytest.raises(ValueError, match="blank"):
        F.ctc_loss(lp, np.array([[0, 1], [1, 1]]), [4, 4], [2, 2])
    with pytest.raises(ValueError, match="exceed"):
        F.ctc_loss(lp, np.array([[2, 1], [1, 1]]), [5, 4], [2, 2])
    with pytest.raises(ValueError, match="one entry per batch"):
        F.ctc_loss(lp, np.array([[2, 1], [1, 1]]), [4], [2, 2])
    with pytest.raises(ValueError, match="class indices"):
        F.ctc_loss(lp, np.array([[3, 1], [1, 1]]), [4, 4], [2, 2])
    with pytest.raises(ValueError, match="reduction"):
        F.ctc_loss(lp, np.array([[2, 1], [1, 1]]), [4, 4], [2, 2], reduction="avg")


def test_twice_differentiable():
    from graphgrad.testing import gradgradcheck

    x = gg.tensor(np.random.default_rng(6).standard_normal((4, 1, 3)), requires_grad=True)
    assert gradgradcheck(lambda a: F.ctc_loss(a.log_softmax(2), np.array([[1, 2]]), [4], [2]),
                         [x])
