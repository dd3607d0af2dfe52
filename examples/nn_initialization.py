"""Zero vs random vs He initialisation, and why symmetry must be broken (course 2, week 1).

The same 3-layer ReLU network [2, 10, 5, 1] learns two concentric circles with
full-batch gradient descent, starting from four initialisations (biases 0):

- zeros: every hidden unit outputs 0 and gets a zero gradient, so only the last
  bias moves; the cost stays at log 2 = 0.693 and the net predicts one class.
- a constant (0.5): the units of a layer compute the same function and receive
  the same gradient, so they stay identical for ever ("symmetry"): the network
  is no wider than one unit per layer and cannot bend its boundary around a circle.
- large random (N(0, 10^2)): symmetry is broken, but the first cost is huge and
  training is slow to recover.
- He (N(0, 2 / n[l-1]), ``nn.init.kaiming_normal_``): activations keep their
  scale through the ReLU layers and the circles are separated quickly.

The script prints, for each, the cost, the accuracy and the "spread" of each
hidden layer (the largest difference between two units' incoming weights; 0
means the layer is still symmetric).  Plots: the four cost curves (log scale) and
the four decision boundaries.

    python examples/nn_initialization.py [--quick] [--out DIR]
"""
from __future__ import annotations

import numpy as np
from common import accuracy, datasets, example_args, plotting, predict

import graphgrad as gg
import graphgrad.nn.functional as F
from graphgrad import nn, optim

INITS = {
    "zeros": nn.init.zeros_,
    "constant 0.5": lambda w: nn.init.constant_(w, 0.5),
    "random x 10": lambda w: nn.init.normal_(w, std=10.0),
    "He": lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu"),
}


def make_net(init_weight) -> nn.Sequential:
    net = nn.Sequential(nn.Linear(2, 10), nn.ReLU(), nn.Linear(10, 5), nn.ReLU(),
                        nn.Linear(5, 1))
    for layer in net:
        if isinstance(layer, nn.Linear):
            init_weight(layer.weight)
            nn.init.zeros_(layer.bias)
    return net


def spread(net: nn.Sequential) -> float:
    """Largest difference between two hidden units of a layer (weights and bias); 0 when
    every hidden layer is symmetric."""
    hidden = [m for m in net if isinstance(m, nn.Linear)][:-1]
    gaps = [np.abs(np.column_stack([m.weight.numpy(), m.bias.numpy()])
                   - np.append(m.weight.numpy()[0], m.bias.numpy()[0])).max() for m in hidden]
    return float(max(gaps))


def main(quick: bool = False, out=None) -> dict:
    X, y = datasets.circles(n=400, noise=0.05, seed=0)
    X_train, y_train, X_dev, y_dev = datasets.split(X, y, dev=0.25, seed=0)
    Xt, yt = gg.tensor(X_train), gg.tensor(y_train.astype(np.float32))
    iterations = 400 if quick else 5000

    models, costs, results = {}, {}, {}
    for name, init in INITS.items():
        gg.manual_seed(0)
        models[name] = net = make_net(init)
        opt = optim.SGD(net.parameters(), lr=0.1)
        costs[name] = []
        for _ in range(iterations):
            opt.zero_grad()
            loss = F.binary_cross_entropy_with_logits(net(Xt).squeeze(1), yt)
            loss.backward()
            opt.step()
            costs[name].append(loss.item())
        results[name] = {"cost_first": costs[name][0], "cost_last": costs[name][-1],
                         "train_accuracy": accuracy(net, X_train, y_train),
                         "dev_accuracy": accuracy(net, X_dev, y_dev), "spread": spread(net)}
        r = results[name]
        print(f"{name:>13}: cost {r['cost_first']:9.3f} -> {r['cost_last']:.3f}   "
              f"train {r['train_accuracy']:.1%}   dev {r['dev_accuracy']:.1%}   "
              f"hidden-unit spread {r['spread']:.3g}")

    folder = plotting.output_dir(out)
    plotting.plot_curves(costs, folder / "nn_initialization_costs.png", xlabel="iteration",
                         logy=True, title="Initialisation of a [2, 10, 5, 1] ReLU network")
    panels = {f"{name} ({results[name]['dev_accuracy']:.0%} dev)": (lambda p, m=m: predict(m, p))
              for name, m in models.items()}
    plotting.plot_decision_boundaries(panels, X, y, folder / "nn_initialization.png", cols=2)
    return results


if __name__ == "__main__":
    args = example_args(__doc__)
    main(quick=args.quick, out=args.out)
