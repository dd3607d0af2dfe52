"""Gradient checking of a whole network, with the course's thresholds (course 2, week 1).

Backprop is easy to get subtly wrong, so the course checks it against the
two-sided difference of the cost J, parameter by parameter: flatten every W[l]
and b[l] into one vector theta, and for each component i

    gradapprox[i] = (J(theta + eps e_i) - J(theta - eps e_i)) / (2 eps),   eps = 1e-7,

    difference = ||grad - gradapprox|| / (||grad|| + ||gradapprox||).

A difference below about 2e-7 means backprop is right; 1e-5 deserves a second
look; 1e-3 or more means a bug.  The check runs in float64: in float32 the
rounding error of J (about 1e-7 of it) divided by 2 eps is as large as the
gradient itself.  The plot shows the difference against eps for both: too
large an eps leaves the O(eps^2) error of the formula (and crosses ReLU kinks),
too small a one the rounding error, about 1e-16 / eps in float64.

graphgrad derives backprop itself, so where can a bug hide?  In a custom
``gg.Function`` whose backward a user writes by hand, just as the course's
students write ``linear_backward``.  The script builds the course's 3-layer net
[4, 5, 3, 1] (ReLU, ReLU, sigmoid) with its middle layer as a hand-written
linear Function, once correct and once with the course's planted bug (dW twice
too large), checks both with ``nn.utils.parameters_to_vector`` /
``vector_to_parameters``, and then with the library's one-liner
``gg.testing.gradcheck``, which reports the same relative difference.

    python examples/improve_gradient_checking.py [--quick] [--out DIR]
"""
from __future__ import annotations

import numpy as np
from common import example_args, plotting

import graphgrad as gg
import graphgrad.nn.functional as F
from graphgrad import nn
from graphgrad.nn.utils import parameters_to_vector, vector_to_parameters
from graphgrad.testing import gradcheck, relative_difference

THRESHOLD = 2e-7  # the course's bound for a correct backprop with eps = 1e-7


class LinearFunction(gg.Function):
    """y = x W^T + b with a hand-written backward; ``bug`` scales dW by 2 (the course's bug)."""

    @staticmethod
    def forward(ctx, x, weight, bias, bug=False):
        ctx.save_for_backward(x, weight)
        ctx.bug = bug
        return x @ weight.T + bias

    @staticmethod
    def backward(ctx, g):
        x, weight = ctx.saved_tensors
        grad_weight = g.T @ x
        if ctx.bug:
            grad_weight = 2 * grad_weight
        return g @ weight, grad_weight, g.sum(0), None


class HandWrittenLinear(nn.Linear):
    """``nn.Linear`` whose forward goes through ``LinearFunction``."""

    def __init__(self, in_features: int, out_features: int, bug: bool = False) -> None:
        super().__init__(in_features, out_features)
        self.bug = bug

    def forward(self, x):
        return LinearFunction.apply(x, self.weight, self.bias, self.bug)


def make_net(bug: bool = False, dtype=np.float64) -> nn.Sequential:
    """The course's [4, 5, 3, 1] network; the output is a logit."""
    return nn.Sequential(nn.Linear(4, 5), nn.ReLU(), HandWrittenLinear(5, 3, bug), nn.ReLU(),
                         nn.Linear(3, 1)).to(dtype)


def gradient_check(model: nn.Module, X: gg.Tensor, y: gg.Tensor, eps: float = 1e-7) -> float:
    """The course's ``gradient_check_n``: backprop vs two-sided differences over theta."""
    def cost() -> gg.Tensor:
        return F.binary_cross_entropy_with_logits(model(X).squeeze(1), y)

    params = list(model.parameters())
    model.zero_grad()
    cost().backward()
    grad = np.concatenate([p.grad.numpy().ravel() for p in params])

    theta = parameters_to_vector(params).detach().numpy()
    gradapprox = np.zeros_like(theta)
    with gg.no_grad():
        for i in range(theta.size):
            for sign in (+1, -1):
                shifted = theta.copy()
                shifted[i] += sign * eps
                vector_to_parameters(gg.tensor(shifted), params)
                gradapprox[i] += sign * cost().item() / (2 * eps)
        vector_to_parameters(gg.tensor(theta), params)  # put theta back
    return relative_difference(gradapprox, grad)


def report(name: str, difference: float) -> None:
    verdict = ("backprop works" if difference < THRESHOLD else
               "look again" if difference < 1e-5 else "there is a mistake in backprop")
    print(f"{name:>28}: difference = {difference:.2e}  -> {verdict}")


def main(quick: bool = False, out=None) -> dict:
    gg.manual_seed(1)
    X = gg.randn(8 if quick else 32, 4, dtype=np.float64)
    y = gg.tensor((np.arange(len(X)) % 2).astype(np.float64))

    results = {}
    for bug in (False, True):
        gg.manual_seed(2)  # the same weights for both networks
        model = make_net(bug)
        name = "planted bug (2 dW)" if bug else "correct backward"
        results["difference_bug" if bug else "difference"] = d = gradient_check(model, X, y)
        report(f"network, {name}", d)

    # The library's check of the Function alone (random upstream gradient, float64).
    x = gg.randn(6, 5, dtype=np.float64, requires_grad=True)
    w = gg.randn(3, 5, dtype=np.float64, requires_grad=True)
    b = gg.randn(3, dtype=np.float64, requires_grad=True)
    for bug in (False, True):
        ok = gradcheck(lambda x, w, b, bug=bug: LinearFunction.apply(x, w, b, bug), (x, w, b),
                       eps=1e-6, raise_exception=False)
        results["gradcheck_bug" if bug else "gradcheck"] = ok
        print(f"gg.testing.gradcheck(LinearFunction{', bug' if bug else ''}): {ok}")
    try:
        gradcheck(lambda x, w, b: LinearFunction.apply(x, w, b, True), (x, w, b))
    except AssertionError as error:
        print(f"  its message: {error}")

    if not quick:  # the difference against eps, in float64 and float32
        epsilons = [10.0**-k for k in range(1, 11)]
        sweep = {}
        for dtype in (np.float64, np.float32):
            gg.manual_seed(2)
            model = make_net(dtype=dtype)
            sweep[np.dtype(dtype).name] = [
                gradient_check(model, X.astype(dtype), y.astype(dtype), eps) for eps in epsilons]
        print("difference against eps:")
        for eps, d64, d32 in zip(epsilons, *sweep.values(), strict=True):
            print(f"  eps {eps:.0e}: float64 {d64:.1e}   float32 {d32:.1e}")
        results["sweep"] = dict(eps=epsilons, **sweep)
        plotting.plot_curves(sweep, plotting.output_dir(out) / "improve_gradient_checking.png",
                             x=epsilons, logx=True, logy=True, xlabel="eps",
                             ylabel="relative difference",
                             title="Gradient check of a [4, 5, 3, 1] network")
    return results


if __name__ == "__main__":
    args = example_args(__doc__)
    main(quick=args.quick, out=args.out)
