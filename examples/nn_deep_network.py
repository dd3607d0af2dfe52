"""An L-layer deep network built from a list of layer sizes (course 1, week 4).

The course writes ``L_layer_model(X, Y, layer_dims)``: [LINEAR -> RELU] x (L-1)
-> LINEAR -> SIGMOID, with W[l] of shape (n[l], n[l-1]) and b[l] of shape
(n[l],), and a forward pass that caches what backward needs.  Here the same
network is an ``nn.Module`` over ``nn.ModuleList`` (``nn.Linear`` stores its
weight as (out, in), exactly the course's W[l]); the caches and the backward
pass are the engine's job.  Weights start with He initialisation.

The course compares a 2-layer net [n, 7, 1] with the 4-layer [n, 20, 7, 5, 1].
On two spiral arms winding twice around each other, the deep net separates the
arms; the course's 2-layer net cannot, and neither can a 2-layer net with as
many parameters as the deep one: depth buys more than width here.  All three
train the same way (full-batch Adam, lr 0.01; plain gradient descent as in
course 1 also works for the deep net but needs many more iterations).

Plots: the three decision boundaries, and the three cost curves.

    python examples/nn_deep_network.py [--quick] [--out DIR]
"""
from __future__ import annotations

from itertools import pairwise

import numpy as np
from common import accuracy, datasets, example_args, plotting, predict

import graphgrad as gg
import graphgrad.nn.functional as F
from graphgrad import nn, optim

ARCHITECTURES = {
    "2-layer [2, 7, 1]": [2, 7, 1],
    "2-layer [2, 63, 1]": [2, 63, 1],  # as many parameters (253) as the deep one
    "4-layer [2, 20, 7, 5, 1]": [2, 20, 7, 5, 1],
}


class DeepNetwork(nn.Module):
    """[LINEAR -> RELU] x (L-1) -> LINEAR; the output is a logit (sigmoid is in the loss)."""

    def __init__(self, layer_dims: list[int]) -> None:
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(n_prev, n) for n_prev, n in pairwise(layer_dims))
        for layer in self.layers:  # He initialisation: Var(W) = 2 / n[l-1]
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
            nn.init.zeros_(layer.bias)

    def forward(self, x: gg.Tensor) -> gg.Tensor:
        for layer in self.layers[:-1]:
            x = F.relu(layer(x))
        return self.layers[-1](x)


def train(model: nn.Module, X: gg.Tensor, y: gg.Tensor, iterations: int) -> list[float]:
    opt = optim.Adam(model.parameters(), lr=0.01)
    costs = []
    for _ in range(iterations):
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(model(X).squeeze(1), y)
        loss.backward()
        opt.step()
        costs.append(loss.item())
    return costs


def main(quick: bool = False, out=None) -> dict:
    X, y = datasets.spirals(n=800, classes=2, turns=2.0, noise=0.05, seed=0)
    X_train, y_train, X_dev, y_dev = datasets.split(X, y, dev=0.25, seed=0)
    Xt, yt = gg.tensor(X_train), gg.tensor(y_train.astype(np.float32))
    iterations = 700 if quick else 3000

    models = {}
    for name, dims in ARCHITECTURES.items():
        gg.manual_seed(0)  # each network starts from the same random stream
        models[name] = DeepNetwork(dims)
    print("the deep network's parameters, W[l]: (n[l], n[l-1]), b[l]: (n[l],)")
    for name, p in models["4-layer [2, 20, 7, 5, 1]"].named_parameters():
        print(f"  {name:16} {tuple(p.shape)}")

    costs, results = {}, {}
    for name, model in models.items():
        costs[name] = train(model, Xt, yt, iterations)
        results[name] = {"parameters": sum(p.numel() for p in model.parameters()),
                         "cost_first": costs[name][0], "cost_last": costs[name][-1],
                         "train_accuracy": accuracy(model, X_train, y_train),
                         "dev_accuracy": accuracy(model, X_dev, y_dev)}
        r = results[name]
        print(f"{name:>25} ({r['parameters']:3d} parameters): cost {r['cost_first']:.3f} -> "
              f"{r['cost_last']:.4f}   train {r['train_accuracy']:.1%}   "
              f"dev {r['dev_accuracy']:.1%}")

    folder = plotting.output_dir(out)
    plotting.plot_curves(costs, folder / "nn_deep_network_costs.png", xlabel="iteration",
                         logy=True, title="Deep vs shallow on two spirals")
    panels = {f"{name} ({results[name]['dev_accuracy']:.0%} dev)": (lambda p, m=m: predict(m, p))
              for name, m in models.items()}
    plotting.plot_decision_boundaries(panels, X, y, folder / "nn_deep_network.png")
    return results


if __name__ == "__main__":
    args = example_args(__doc__)
    main(quick=args.quick, out=args.out)
