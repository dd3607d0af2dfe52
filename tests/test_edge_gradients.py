"""Gradients at NaN, ties, zeros and constants follow PyTorch's conventions, so that a
training run meets the same numbers: the expected values are PyTorch 2.13's (checked
against it below where it is installed)."""
import numpy as np
import pytest

import graphgrad as gg

nan, inf = float("nan"), float("inf")

# name: (function of (module, x), input, PyTorch's gradient)
CASES = {
    "std of equal values": (lambda m, x: x.std(), [2.0, 2.0, 2.0], [0.0, 0.0, 0.0]),
    "std over a dim, one column constant": (
        lambda m, x: x.std(dim=0).sum(), [[2.0, 1.0], [2.0, 3.0]],
        [[0.0, -0.70710678], [0.0, 0.70710678]]),
    "var of equal values": (lambda m, x: x.var(), [2.0, 2.0, 2.0], [0.0, 0.0, 0.0]),
    "max with a NaN": (lambda m, x: x.max(), [1.0, nan, 3.0], [0.0, 1.0, 0.0]),
    "max with NaN and inf": (lambda m, x: x.max(), [inf, nan], [0.0, 1.0]),
    "max with two NaNs": (lambda m, x: x.max(), [nan, 1.0, nan], [0.5, 0.0, 0.5]),
    "min with a NaN": (lambda m, x: x.min(), [1.0, nan, 3.0], [0.0, 1.0, 0.0]),
    "max ties": (lambda m, x: x.max(), [3.0, 1.0, 3.0], [0.5, 0.0, 0.5]),
    "amin ties": (lambda m, x: x.amin(), [1.0, 1.0, 3.0], [0.5, 0.5, 0.0]),
    "amax over a dim with NaN": (lambda m, x: x.amax(dim=1).sum(),
                                 [[1.0, nan, 3.0], [1.0, 2.0, 2.0]],
                                 [[nan, nan, nan], [0.0, 0.5, 0.5]]),
    "max over a dim, ties": (lambda m, x: x.max(dim=1)[0].sum(), [[3.0, 1.0, 3.0]],
                             [[1.0, 0.0, 0.0]]),
    "max over a dim, NaN": (lambda m, x: x.max(dim=1)[0].sum(), [[3.0, nan, 3.0]],
                            [[0.0, 1.0, 0.0]]),
    "maximum tie": (lambda m, x: m.maximum(x, m.tensor([1.0, 5.0, 3.0], dtype=x.dtype)).sum(),
                    [1.0, 2.0, 3.0], [0.5, 0.0, 0.5]),
    "maximum with NaN": (lambda m, x: m.maximum(x, m.tensor([1.0, nan, 3.0],
                                                            dtype=x.dtype)).sum(),
                         [nan, 2.0, 3.0], [1.0, 1.0, 0.5]),
    "minimum with NaN": (lambda m, x: m.minimum(x, m.tensor([1.0, nan, 3.0],
                                                            dtype=x.dtype)).sum(),
                         [nan, 2.0, 3.0], [1.0, 1.0, 0.5]),
    "abs at 0": (lambda m, x: x.abs().sum(), [0.0, -1.0, 1.0], [0.0, -1.0, 1.0]),
    "relu at 0": (lambda m, x: x.relu().sum(), [0.0, -1.0, 1.0], [0.0, 0.0, 1.0]),
    "clamp at its bounds": (lambda m, x: x.clamp(0.0, 1.0).sum(), [0.0, 1.0, 0.5, 2.0],
                            [1.0, 1.0, 1.0, 0.0]),
    "sqrt at 0": (lambda m, x: x.sqrt().sum(), [0.0, 1.0], [inf, 0.5]),
    "prod with a zero": (lambda m, x: x.prod(), [0.0, 2.0, 3.0], [6.0, 0.0, 0.0]),
    "prod with two zeros": (lambda m, x: x.prod(), [0.0, 0.0, 3.0], [0.0, 0.0, 0.0]),
    "softmax with -inf": (lambda m, x: (x.softmax(0) * m.tensor([1.0, 2.0, 3.0],
                                                                dtype=x.dtype)).sum(),
                          [-inf, 0.0, 1.0], [0.0, -0.19661193, 0.19661193]),
    "pow 0^0": (lambda m, x: (x ** 0.0).sum(), [0.0, 1.0], [0.0, 0.0]),
    "pow 0^0.5": (lambda m, x: (x ** 0.5).sum(), [0.0, 1.0], [inf, 0.5]),
    "sort with NaN": (lambda m, x: (x.sort()[0] * m.tensor([1.0, 2.0, 3.0],
                                                           dtype=x.dtype)).sum(),
                      [nan, 2.0, 1.0], [3.0, 2.0, 1.0]),
    "topk ties": (lambda m, x: x.topk(1)[0].sum(), [3.0, 3.0, 1.0], [1.0, 0.0, 0.0]),
}


def _gradient(module, fn, data, to_numpy):
    x = module.tensor(data, dtype=module.float64, requires_grad=True)
    fn(module, x).backward()
    return to_numpy(x.grad)


@pytest.mark.parametrize("name", CASES)
def test_gradient_at_the_edge(name):
    fn, data, expected = CASES[name]
    got = _gradient(gg, fn, data, lambda g: g.numpy())
    np.testing.assert_allclose(got, expected, rtol=1e-7, equal_nan=True)


@pytest.mark.parametrize("name", CASES)
def test_expected_values_are_pytorchs(name):
    torch = pytest.importorskip("torch")
    fn, data, expected = CASES[name]
    theirs = _gradient(torch, fn, data, lambda g: g.detach().numpy())
    np.testing.assert_allclose(theirs, expected, rtol=1e-7, equal_nan=True)


def test_std_of_a_constant_keeps_second_order():
    x = gg.tensor([2.0, 2.0, 5.0], dtype=gg.float64, requires_grad=True)
    (g,) = gg.autograd.grad(x[:2].std(), x, create_graph=True)
    assert np.all(g.numpy() == 0.0)
    (gg_,) = gg.autograd.grad((g * gg.tensor([1.0, 2.0, 3.0], dtype=gg.float64)).sum(), x,
                              allow_unused=True)
    assert gg_ is None or np.all(np.isfinite(gg_.numpy()))
