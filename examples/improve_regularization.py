"""L2 regularisation and inverted dropout shrink the train/dev gap (course 2, week 1).

A network much bigger than its data ([2, 64, 64, 1], 4,400 parameters for 120
noisy training points of two moons) learns the training set by heart and draws
a boundary around single noisy points: high variance, a large gap between train
and dev accuracy.  Two remedies from the course:

- L2 regularisation adds (lambda / 2m) sum_l ||W[l]||^2 to the cost (weights only,
  not biases).  Its gradient is (lambda / m) W, which is why it is also called
  weight decay (``optim.SGD(..., weight_decay=lambda / m)`` does the same for
  plain SGD); here the penalty is written into the cost and backward derives it.
- Inverted dropout (``nn.Dropout(p)``) zeroes each hidden activation with
  probability p during training and divides the survivors by 1 - p, so the
  expected activation is unchanged and nothing needs rescaling at test time:
  ``model.eval()`` turns dropout off.

All three train alike (full-batch Adam, lr 0.01).  Plot: the three decision
boundaries over the training points.

    python examples/improve_regularization.py [--quick] [--out DIR]
"""
from __future__ import annotations

import numpy as np
from common import accuracy, datasets, example_args, plotting, predict

import graphgrad as gg
import graphgrad.nn.functional as F
from graphgrad import nn, optim

LAMBDA = 0.7  # the course's value for its L2 exercise
P_DROP = 0.5


def make_net(p_drop: float = 0.0, hidden: int = 64) -> nn.Sequential:
    return nn.Sequential(nn.Linear(2, hidden), nn.ReLU(), nn.Dropout(p_drop),
                         nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(p_drop),
                         nn.Linear(hidden, 1))


def l2_penalty(model: nn.Module, lam: float, m: int) -> gg.Tensor:
    """(lambda / 2m) times the sum of the squared weights of every Linear layer."""
    weights = [layer.weight for layer in model.modules() if isinstance(layer, nn.Linear)]
    return lam / (2 * m) * sum((w**2).sum() for w in weights)


def train(model: nn.Module, X: gg.Tensor, y: gg.Tensor, iterations: int,
          lam: float = 0.0) -> list[float]:
    model.train()  # dropout on
    opt = optim.Adam(model.parameters(), lr=0.01)
    costs = []
    for _ in range(iterations):
        opt.zero_grad()
        cost = F.binary_cross_entropy_with_logits(model(X).squeeze(1), y)
        if lam:
            cost = cost + l2_penalty(model, lam, len(X))
        cost.backward()
        opt.step()
        costs.append(cost.item())
    return costs


def inverted_dropout_demo(p: float = P_DROP) -> float:
    """Dropout keeps the mean activation: returns mean(dropout(ones)) in training mode."""
    drop = nn.Dropout(p)
    ones = gg.ones(100_000)
    kept = drop(ones).numpy()
    print(f"inverted dropout p={p}: {np.mean(kept == 0):.1%} zeroed, survivors = "
          f"{kept.max():.1f}, mean {kept.mean():.3f} (expected 1); eval mode returns the input: "
          f"{bool(np.all(drop.eval()(ones).numpy() == 1))}")
    return float(kept.mean())


def main(quick: bool = False, out=None) -> dict:
    gg.manual_seed(0)
    X, y = datasets.moons(n=600, noise=0.3, seed=0)
    X_train, y_train, X_dev, y_dev = datasets.split(X, y, dev=0.8, seed=0)  # 120 train
    Xt, yt = gg.tensor(X_train), gg.tensor(y_train.astype(np.float32))
    iterations = 250 if quick else 1500
    dropout_mean = inverted_dropout_demo()

    setups = {"no regularisation": (0.0, 0.0), f"L2, lambda = {LAMBDA}": (0.0, LAMBDA),
              f"dropout, p = {P_DROP}": (P_DROP, 0.0)}
    models, results = {}, {}
    for name, (p_drop, lam) in setups.items():
        gg.manual_seed(0)
        models[name] = model = make_net(p_drop)
        costs = train(model, Xt, yt, iterations, lam)
        train_acc, dev_acc = accuracy(model, X_train, y_train), accuracy(model, X_dev, y_dev)
        results[name] = {"cost_last": costs[-1], "train_accuracy": train_acc,
                         "dev_accuracy": dev_acc, "gap": train_acc - dev_acc}
        print(f"{name:>20}: train {train_acc:.1%}   dev {dev_acc:.1%}   "
              f"gap {train_acc - dev_acc:+.1%}")

    folder = plotting.output_dir(out)
    panels = {f"{name}\ntrain {r['train_accuracy']:.0%}, dev {r['dev_accuracy']:.0%}":
              (lambda p, m=models[name]: predict(m, p)) for name, r in results.items()}
    plotting.plot_decision_boundaries(panels, X_train, y_train,
                                      folder / "improve_regularization.png")
    return {"dropout_mean": dropout_mean, "none": results["no regularisation"],
            "l2": results[f"L2, lambda = {LAMBDA}"], "dropout": results[f"dropout, p = {P_DROP}"]}


if __name__ == "__main__":
    args = example_args(__doc__)
    main(quick=args.quick, out=args.out)
