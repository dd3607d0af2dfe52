"""Logistic regression as a one-neuron network (course 1, week 2: "neural network mindset").

One neuron computes z = w . x + b and a = sigmoid(z); the cost is the mean
cross-entropy  J = -mean(y log a + (1 - y) log(1 - a)).  The course derives the
gradients by hand, dw = X^T (a - y) / m and db = mean(a - y); here the neuron is
``nn.Linear(2, 1)``, the cost ``nn.BCEWithLogitsLoss`` (sigmoid and cross-entropy
in one stable formula) and ``loss.backward()`` derives them.  The script checks
that backward gives exactly the course's formula, then trains with full-batch
gradient descent at three learning rates ("too small crawls, a good one
converges") from zero weights, which is fine for a single neuron: symmetry only
matters once there are hidden units (see nn_initialization.py).

Data: two overlapping Gaussian blobs in the plane, so the learned decision
boundary (the line w . x + b = 0) can be drawn.  Plots: the cost curves of the
three learning rates, and the boundary of the best one.

    python examples/nn_logistic_regression.py [--quick] [--out DIR]
"""
from __future__ import annotations

import numpy as np
from common import accuracy, datasets, example_args, plotting, predict

import graphgrad as gg
from graphgrad import nn, optim

LEARNING_RATES = (1.0, 0.01, 0.001)


def check_gradient(X: gg.Tensor, y: gg.Tensor) -> float:
    """Largest |autograd - course formula| over dw and db, at a random neuron."""
    neuron = nn.Linear(X.shape[1], 1)
    loss = nn.BCEWithLogitsLoss()(neuron(X).squeeze(1), y)
    loss.backward()
    a = neuron(X).sigmoid().squeeze(1).detach().numpy()
    m = X.shape[0]
    dw = X.numpy().T @ (a - y.numpy()) / m
    db = np.mean(a - y.numpy())
    return max(np.abs(neuron.weight.grad.numpy()[0] - dw).max(),
               abs(neuron.bias.grad.item() - db))


def train(X: gg.Tensor, y: gg.Tensor, lr: float, iterations: int):
    """Full-batch gradient descent from w = 0, b = 0; returns the neuron and its costs."""
    neuron = nn.Linear(X.shape[1], 1)
    nn.init.zeros_(neuron.weight)
    nn.init.zeros_(neuron.bias)
    opt = optim.SGD(neuron.parameters(), lr=lr)
    loss_fn = nn.BCEWithLogitsLoss()
    costs = []
    for _ in range(iterations):
        opt.zero_grad()
        loss = loss_fn(neuron(X).squeeze(1), y)
        loss.backward()
        opt.step()
        costs.append(loss.item())
    return neuron, costs


def main(quick: bool = False, out=None) -> dict:
    gg.manual_seed(0)
    X, y = datasets.blobs(n=400, centers=2, std=1.0, radius=1.5, seed=0)
    X_train, y_train, X_test, y_test = datasets.split(X, y, dev=0.25, seed=0)
    Xt, yt = gg.tensor(X_train), gg.tensor(y_train.astype(np.float32))

    error = check_gradient(Xt, yt)
    print(f"backward vs the course's dw = X^T (a - y) / m, db = mean(a - y): "
          f"max difference {error:.2e} (float32 rounding)")

    iterations = 60 if quick else 1000
    runs = {lr: train(Xt, yt, lr, iterations) for lr in LEARNING_RATES}
    for lr, (neuron, costs) in runs.items():
        print(f"lr {lr:<5}: cost {costs[0]:.4f} -> {costs[-1]:.4f}   "
              f"train {accuracy(neuron, X_train, y_train):.1%}   "
              f"test {accuracy(neuron, X_test, y_test):.1%}")
    best_lr = min(runs, key=lambda lr: runs[lr][1][-1])
    neuron, costs = runs[best_lr]
    w, b = neuron.weight.numpy()[0], neuron.bias.item()
    print(f"best lr {best_lr}: boundary {w[0]:.3f} x1 + {w[1]:.3f} x2 + {b:.3f} = 0")

    folder = plotting.output_dir(out)
    plotting.plot_curves({f"lr = {lr}": c for lr, (_, c) in runs.items()},
                         folder / "nn_logistic_regression_costs.png", xlabel="iteration",
                         title="Logistic regression: the choice of learning rate")
    plotting.plot_decision_boundaries({f"one neuron, lr = {best_lr}": lambda p: predict(neuron, p)},
                                      X_test, y_test, folder / "nn_logistic_regression.png")
    return {"gradient_error": error, "cost_first": costs[0], "cost_last": costs[-1],
            "final_costs": {lr: c[-1] for lr, (_, c) in runs.items()},
            "train_accuracy": accuracy(neuron, X_train, y_train),
            "test_accuracy": accuracy(neuron, X_test, y_test)}


if __name__ == "__main__":
    args = example_args(__doc__)
    main(quick=args.quick, out=args.out)
