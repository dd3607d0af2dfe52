"""A softmax classifier on the handwritten digits (course 2, week 3).

Softmax turns C class scores z into probabilities,

    a_j = exp(z_j) / sum_k exp(z_k),

a "soft" version of the hard max that puts 1 at the argmax and 0 elsewhere;
with two classes it reduces to logistic regression.  With a one-hot label y
the loss is L = -sum_j y_j log a_j, and its gradient has the course's simple
form dL/dz = a - y.  ``nn.CrossEntropyLoss`` takes the raw scores (logits) and
the class index and computes log-softmax and the loss in one stable step.

The script (1) works the course's example z = [5, 2, -1, 3] and checks that
backward gives a - y; (2) trains softmax regression (one Linear layer, 64
pixels -> 10 digits, linear boundaries between classes) and a network with
two hidden ReLU layers [64, 25, 12, 10] (the course's sizes) on the UCI
digits shipped with graphgrad (``autograd.datasets.load_digits``), with
mini-batch Adam.  Plots: the cost curves, and softmax regression's ten
weight vectors drawn as 8x8 images, each a template of its digit (red
pixels raise the digit's score, blue ones lower it).

    python examples/improve_softmax.py [--quick] [--out DIR]
"""
from __future__ import annotations

import numpy as np
from common import accuracy, example_args, plotting, predict

import graphgrad as gg
import graphgrad.nn.functional as F
from graphgrad import nn, optim
from graphgrad.datasets import load_digits
from graphgrad.utils.data import DataLoader, TensorDataset


def softmax_by_hand() -> float:
    """The course's example; returns max |backward - (a - y)|."""
    z = gg.tensor([5.0, 2.0, -1.0, 3.0], requires_grad=True)
    a = F.softmax(z, dim=0)
    hard = (a.numpy() == a.numpy().max()).astype(int)
    print(f"z = {z.tolist()}:  softmax {[round(float(v), 3) for v in a.numpy()]} "
          f"(sums to {a.sum().item():.3f}),  hard max {hard.tolist()}")
    y = np.array([0.0, 1.0, 0.0, 0.0])  # the true class is 1
    loss = F.cross_entropy(z.unsqueeze(0), gg.tensor([1]))
    loss.backward()
    error = float(np.abs(z.grad.numpy() - (a.detach().numpy() - y)).max())
    print(f"true class 1: loss -log a_1 = {loss.item():.3f}; backward dL/dz = "
          f"{[round(float(v), 3) for v in z.grad.numpy()]} = a - y (max difference {error:.1e})")
    return error


def train(model: nn.Module, loader: DataLoader, epochs: int) -> list[float]:
    opt = optim.Adam(model.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()
    costs = []
    for _ in range(epochs):
        total = 0.0
        for xb, yb in loader:
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            total += loss.item() * len(xb)
        costs.append(total / len(loader.dataset))
    return costs


def confusion(model: nn.Module, X: np.ndarray, y: np.ndarray, classes: int = 10) -> np.ndarray:
    """counts[i, j]: images of digit i predicted as j."""
    counts = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(counts, (y, predict(model, X)), 1)
    return counts


def main(quick: bool = False, out=None) -> dict:
    results = {"gradient_error": softmax_by_hand()}
    images, labels = load_digits("train")
    test_images, test_labels = load_digits("test")
    X_train, X_test = images.reshape(len(images), -1), test_images.reshape(len(test_images), -1)
    loader = DataLoader(TensorDataset(X_train, labels), batch_size=64, shuffle=True)
    epochs = 5 if quick else 40

    gg.manual_seed(0)
    models = {"softmax regression": nn.Linear(64, 10),
              "[64, 25, 12, 10] network": nn.Sequential(
                  nn.Linear(64, 25), nn.ReLU(), nn.Linear(25, 12), nn.ReLU(), nn.Linear(12, 10))}
    costs = {}
    for (name, model), key in zip(models.items(), ("softmax", "network"), strict=True):
        costs[name] = train(model, loader, epochs)
        results[key] = r = {"cost_first": costs[name][0], "cost_last": costs[name][-1],
                            "train_accuracy": accuracy(model, X_train, labels),
                            "test_accuracy": accuracy(model, X_test, test_labels)}
        print(f"{name:>25}: cost {r['cost_first']:.3f} -> {r['cost_last']:.3f}   "
              f"train {r['train_accuracy']:.1%}   test {r['test_accuracy']:.1%}")

    counts = confusion(models["[64, 25, 12, 10] network"], X_test, test_labels)
    print("confusion matrix of the network on the test digits (row: true, column: predicted)")
    print("     " + " ".join(f"{j:3d}" for j in range(10)))
    for i, row in enumerate(counts):
        print(f"  {i}: " + " ".join(f"{c:3d}" for c in row))

    folder = plotting.output_dir(out)
    plotting.plot_curves(costs, folder / "improve_softmax_costs.png", logy=True,
                         title="Softmax classifiers on the digits")
    weights = models["softmax regression"].weight.numpy().reshape(10, 8, 8)
    plotting.plot_images(weights, folder / "improve_softmax_weights.png",
                         titles=[str(d) for d in range(10)], cmap="coolwarm", symmetric=True,
                         title="Softmax regression: each digit's weights")
    return results


if __name__ == "__main__":
    args = example_args(__doc__)
    main(quick=args.quick, out=args.out)
