"""Batch normalisation lets a deep network train whatever the scale of its weights
(course 2, week 3).

For each hidden layer, batch norm normalises z over the mini-batch and then
rescales it with learned gamma and beta:

    mu = mean(z),  var = mean((z - mu)^2),  z_norm = (z - mu) / sqrt(var + eps),
    z_tilde = gamma * z_norm + beta,

so the Linear layer before it needs no bias (beta takes its place).  Two
networks of 6 hidden ReLU layers of 32 units learn three spiral arms with the
same mini-batch SGD (momentum 0.9, lr 0.05) from PyTorch's default
initialisation, which draws weights of variance 1 / (3 n[l-1]): without batch
norm each layer shrinks how much its activations vary with the input (by
about sqrt(6) after the ReLU), after six layers the output hardly depends on
the input, the gradients all but vanish and the cost sits near log 3 = 1.099
for tens of epochs; with batch norm every layer starts again from mean 0,
variance 1 (0.58 after the ReLU), and the network trains from the first epoch.
The script reports the first epoch whose cost is below 0.5 for each.

At test time one example may come alone, so ``model.eval()`` normalises with
the running averages of mu and var collected in training (an exponentially
weighted average, momentum 0.1) instead of the batch's: an example's output
then no longer depends on the rest of its batch.

Plot: the two cost curves.

    python examples/improve_batch_norm.py [--quick] [--out DIR]
"""
from __future__ import annotations

import numpy as np
from common import accuracy, datasets, example_args, plotting

import graphgrad as gg
import graphgrad.nn.functional as F
from graphgrad import nn, optim
from graphgrad.utils.data import DataLoader, TensorDataset


def make_net(batch_norm: bool, depth: int = 6, width: int = 32, classes: int = 3):
    layers, n = [], 2
    for _ in range(depth):
        layers.append(nn.Linear(n, width, bias=not batch_norm))  # beta replaces the bias
        if batch_norm:
            layers.append(nn.BatchNorm1d(width))
        layers.append(nn.ReLU())
        n = width
    layers.append(nn.Linear(n, classes))
    return nn.Sequential(*layers)


def activation_scales(model: nn.Sequential, X: gg.Tensor) -> list[float]:
    """How much each hidden layer's output a[l] varies with the input: the standard
    deviation over the batch X of each unit, averaged over the units."""
    scales = []
    hooks = [m.register_forward_hook(
        lambda mod, inp, out: scales.append(float(out.numpy().std(axis=0).mean())))
        for m in model if isinstance(m, nn.ReLU)]
    with gg.no_grad():
        model(X)
    for h in hooks:
        h.remove()
    return scales


def train(model: nn.Module, loader: DataLoader, epochs: int) -> list[float]:
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    costs = []
    for _ in range(epochs):
        model.train()
        total, count = 0.0, 0
        for xb, yb in loader:
            opt.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            total, count = total + loss.item() * len(xb), count + len(xb)
        costs.append(total / count)
    return costs


def main(quick: bool = False, out=None) -> dict:
    X, y = datasets.spirals(n=600, classes=3, noise=0.1, turns=1.0, seed=0)
    X_train, y_train, X_dev, y_dev = datasets.split(X, y, dev=0.25, seed=0)
    epochs = 12 if quick else 60

    results, costs = {}, {}
    for batch_norm in (False, True):
        name = "with batch norm" if batch_norm else "without batch norm"
        gg.manual_seed(0)
        model = make_net(batch_norm)
        scales = activation_scales(model, gg.tensor(X_train))
        print(f"{name}: spread of a[1..6] over the examples at initialisation: "
              + " ".join(f"{s:.3f}" for s in scales))
        # drop_last: a last batch of 2 examples would give batch norm useless statistics
        loader = DataLoader(TensorDataset(X_train, y_train), batch_size=64, shuffle=True,
                            drop_last=True)
        costs[name] = train(model, loader, epochs)
        below = [epoch for epoch, cost in enumerate(costs[name], 1) if cost < 0.5]
        results["bn" if batch_norm else "plain"] = r = {
            "last_layer_scale": scales[-1], "cost_first": costs[name][0],
            "cost_last": costs[name][-1], "epochs_to_0.5": below[0] if below else None,
            "dev_accuracy": accuracy(model, X_dev, y_dev)}
        print(f"  cost {r['cost_first']:.3f} -> {r['cost_last']:.3f}   first epoch below 0.5: "
              f"{r['epochs_to_0.5'] or 'none'}   dev accuracy {r['dev_accuracy']:.1%}")

    # Test time: with running statistics one example's output does not depend on its batch.
    model.eval()
    with gg.no_grad():
        alone = model(gg.tensor(X_dev[:1])).numpy()
        in_batch = model(gg.tensor(X_dev)).numpy()[:1]
    results["eval_batch_independence"] = difference = float(np.abs(alone - in_batch).max())
    with gg.no_grad():
        z1 = model[0](gg.tensor(X_train)).numpy()  # the first layer's z over the training set
    print(f"eval mode: an example alone and inside the dev batch differ by {difference:.1e}")
    print(f"first layer, units 1-3: running var {np.round(model[1].running_var.numpy()[:3], 3)}, "
          f"variance over the training set {np.round(z1.var(axis=0, ddof=1)[:3], 3)}")

    plotting.plot_curves(costs, plotting.output_dir(out) / "improve_batch_norm.png",
                         title="6 hidden ReLU layers, default init, SGD + momentum")
    return results


if __name__ == "__main__":
    args = example_args(__doc__)
    main(quick=args.quick, out=args.out)
