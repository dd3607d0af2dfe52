"""A shallow network on the planar "flower" (course 1, week 3).

Two classes of 2-D points lie on alternate petals of a flower.  Logistic
regression can only draw a straight line and stays near chance; one hidden
layer of tanh units,

    a1 = tanh(W1 x + b1),   y_hat = sigmoid(W2 a1 + b2),

trained by full-batch gradient descent (lr 1.2, 5,000 iterations, as in the
course's size sweep), bends the boundary around the petals.  The script varies
the hidden layer size as the course does (1, 2, 3, 4, 5, 20, 50 units): 3 to 5
units already fit the petals; 20 or 50 units gain a little on the training
points by carving small regions around noisy ones, the start of overfitting.
The only code a user writes is the forward pass: ``loss.backward()`` derives
the course's backprop equations.

Plot: the decision boundary of logistic regression and of each hidden size.

    python examples/nn_shallow_flower.py [--quick] [--out DIR]
"""
from __future__ import annotations

import numpy as np
from common import accuracy, datasets, example_args, plotting, predict

import graphgrad as gg
from graphgrad import nn, optim


def shallow_net(hidden: int) -> nn.Module:
    """2 -> hidden (tanh) -> 1 logit; hidden = 0 gives logistic regression."""
    if hidden == 0:
        return nn.Linear(2, 1)
    return nn.Sequential(nn.Linear(2, hidden), nn.Tanh(), nn.Linear(hidden, 1))


def train(model: nn.Module, X: gg.Tensor, y: gg.Tensor, iterations: int, lr: float = 1.2):
    """Full-batch gradient descent on the cross-entropy cost; returns the costs."""
    opt = optim.SGD(model.parameters(), lr=lr)
    loss_fn = nn.BCEWithLogitsLoss()
    costs = []
    for _ in range(iterations):
        opt.zero_grad()
        loss = loss_fn(model(X).squeeze(1), y)
        loss.backward()
        opt.step()
        costs.append(loss.item())
    return costs


def main(quick: bool = False, out=None) -> dict:
    gg.manual_seed(1)
    X, y = datasets.flower(n=400, seed=1)
    Xt, yt = gg.tensor(X), gg.tensor(y.astype(np.float32))
    iterations = 1000 if quick else 5000
    sizes = (0, 4) if quick else (0, 1, 2, 3, 4, 5, 20, 50)

    models, results = {}, {}
    for hidden in sizes:
        model = shallow_net(hidden)
        costs = train(model, Xt, yt, iterations)
        models[hidden] = model
        results[hidden] = {"cost_first": costs[0], "cost_last": costs[-1],
                           "accuracy": accuracy(model, X, y)}
        name = "logistic regression" if hidden == 0 else f"{hidden} hidden unit{'s' * (hidden > 1)}"
        print(f"{name:>20}: cost {costs[0]:.3f} -> {costs[-1]:.3f}   "
              f"accuracy {results[hidden]['accuracy']:.1%}")

    folder = plotting.output_dir(out)
    panels = {("logistic regression" if h == 0 else f"{h} tanh unit{'s' * (h > 1)}")
              + f" ({results[h]['accuracy']:.0%})": (lambda p, m=m: predict(m, p))
              for h, m in models.items()}
    plotting.plot_decision_boundaries(panels, X, y, folder / "nn_shallow_flower.png",
                                      cols=4, title="Planar flower: one hidden layer")
    return results


if __name__ == "__main__":
    args = example_args(__doc__)
    main(quick=args.quick, out=args.out)
