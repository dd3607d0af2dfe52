"""Mini-batch gradient descent vs momentum vs RMSprop vs Adam, with learning-rate decay
(course 2, week 2).

The course's setting: the 3-layer network [2, 5, 2, 1] on two noisy moons,
mini-batches of 64 reshuffled every epoch (``DataLoader(shuffle=True)``), the
same learning rate for every method.  The updates, per parameter W with
mini-batch gradient dW:

- mini-batch GD:  W -= lr dW                                   ``optim.SGD``
- momentum:       v = b1 v + (1 - b1) dW;  W -= lr v            ``SGD(momentum=0.9,
                                                                  dampening=0.9)``
- RMSprop:        s = b2 s + (1 - b2) dW^2;  W -= lr dW / (sqrt(s) + eps)  ``RMSprop``
- Adam:           both, bias-corrected: W -= lr v_hat / (sqrt(s_hat) + eps)  ``Adam``

v and s are exponentially weighted averages; with b1 = 0.9 momentum averages
the last ~10 gradients, which damps the zig-zag of noisy mini-batch steps.
Every run also decays the learning rate in the course's staircase,
lr = lr0 / (1 + decay_rate * floor(epoch / interval)) (``InverseTimeDecay``),
ending at lr0 / 5.  GD stalls on a plateau (cost about 0.28, 88% accuracy);
momentum follows it almost exactly, since its averaged step is as large as
GD's, only smoother (the course too finds its effect "almost negligible"
here); the adaptive methods, whose step for each parameter is scaled by that
parameter's own gradient history, leave the plateau and fit the moons.

Plot: the mini-batch costs of the four methods, smoothed with the bias-corrected
exponentially weighted average (``common.ema``), on one axis.

    python examples/improve_optimizers.py [--quick] [--out DIR]
"""
from __future__ import annotations

import numpy as np
from common import accuracy, datasets, ema, example_args, plotting

import graphgrad as gg
import graphgrad.nn.functional as F
from graphgrad import nn, optim
from graphgrad.utils.data import DataLoader, TensorDataset

LR = 0.03
OPTIMIZERS = {
    "mini-batch GD": lambda params: optim.SGD(params, lr=LR),
    "momentum": lambda params: optim.SGD(params, lr=LR, momentum=0.9, dampening=0.9),
    "RMSprop": lambda params: optim.RMSprop(params, lr=LR, alpha=0.99),
    "Adam": lambda params: optim.Adam(params, lr=LR, betas=(0.9, 0.999)),
}


def make_net() -> nn.Sequential:
    net = nn.Sequential(nn.Linear(2, 5), nn.ReLU(), nn.Linear(5, 2), nn.ReLU(), nn.Linear(2, 1))
    for layer in net:
        if isinstance(layer, nn.Linear):
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
            nn.init.zeros_(layer.bias)
    return net


def train(model, make_optimizer, loader: DataLoader, epochs: int):
    """One optimizer step per mini-batch, one lr-decay step per epoch; returns the
    mini-batch costs and the learning rates used."""
    opt = make_optimizer(model.parameters())
    decay = optim.lr_scheduler.InverseTimeDecay(opt, decay_rate=1.0,
                                                time_interval=max(epochs // 5, 1))
    costs, lrs = [], []
    for _ in range(epochs):
        lrs.append(decay.get_last_lr()[0])
        for xb, yb in loader:
            opt.zero_grad()
            loss = F.binary_cross_entropy_with_logits(model(xb).squeeze(1), yb)
            loss.backward()
            opt.step()
            costs.append(loss.item())
        decay.step()
    return costs, lrs


def main(quick: bool = False, out=None) -> dict:
    X, y = datasets.moons(n=300, noise=0.2, seed=3)
    loader = DataLoader(TensorDataset(X, y.astype(np.float32)), batch_size=64, shuffle=True)
    epochs = 60 if quick else 1000

    smoothed, results = {}, {}
    for name, make_optimizer in OPTIMIZERS.items():
        gg.manual_seed(0)  # the same initial weights and batch order for every method
        model = make_net()
        costs, lrs = train(model, make_optimizer, loader, epochs)
        per_epoch = np.reshape(costs, (epochs, len(loader))).mean(axis=1)
        smoothed[name] = ema(costs, beta=0.98)
        results[name] = {"cost_first": float(per_epoch[0]), "cost_last": float(per_epoch[-1]),
                         "accuracy": accuracy(model, X, y)}
        print(f"{name:>14}: epoch cost {per_epoch[0]:.3f} -> {per_epoch[-1]:.3f}   "
              f"accuracy {results[name]['accuracy']:.1%}")
    print(f"learning rate by epoch (all methods): {lrs[0]:g} -> {lrs[-1]:g} "
          f"(decay_rate 1, every {max(epochs // 5, 1)} epochs)")

    plotting.plot_curves(smoothed, plotting.output_dir(out) / "improve_optimizers.png",
                         x=np.arange(1, epochs * len(loader) + 1) / len(loader), logy=True,
                         ylabel="mini-batch cost (EWA, beta 0.98)",
                         title=f"Optimizers on moons, lr0 = {LR} with inverse-time decay")
    return results


if __name__ == "__main__":
    args = example_args(__doc__)
    main(quick=args.quick, out=args.out)
