"""ASGD: SGD with a decaying step size and a running average of the iterates."""
from __future__ import annotations

import numpy as np

from graphgrad.autograd.arrays import namespace

from .optimizer import Optimizer, check_hyper


class ASGD(Optimizer):
    r"""Averaged SGD, as ``torch.optim.ASGD`` (Polyak & Juditsky, 1992).

    For each parameter ``p`` with gradient ``g`` (``-g`` when ``maximize``);
    ``t`` counts the steps, the step size ``eta`` starts at ``lr``, the
    averaging weight ``mu`` at 1 and the average ``ax`` at zero::

        g <- g + weight_decay * p                   (if weight_decay)
        p <- p * (1 - lambd * eta)                  (decay towards zero)
        p <- p - eta * g
        ax <- ax + mu * (p - ax)      (ax <- p while mu == 1)
        eta <- lr / (1 + lambd * lr * t) ** alpha
        mu <- 1 / max(1, t - t0)

    ``ax`` (the average of the iterates since step ``t0``) is the estimate to
    evaluate; the parameters themselves follow SGD.  State per parameter
    (Tensors): ``step``, ``eta`` and ``mu`` (0-d float32, as PyTorch, so eta and
    mu are rounded to float32), ``ax``.  ``foreach``, ``capturable`` and
    ``differentiable`` as in the ``Optimizer`` base.  See
    https://pytorch.org/docs/stable/generated/torch.optim.ASGD.html
    """

    _scalar_state = ("eta", "mu")

    def __init__(self, params, lr: float = 1e-2, lambd: float = 1e-4, alpha: float = 0.75,
                 t0: float = 1e6, weight_decay: float = 0.0, foreach: bool | None = None,
                 maximize: bool = False, differentiable: bool = False,
                 capturable: bool = False) -> None:
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                        foreach=foreach, maximize=maximize, differentiable=differentiable,
                        capturable=capturable)
        super().__init__(params, defaults)

    def _check_group(self, group: dict) -> None:
        check_hyper("ASGD", "lr", group["lr"])
        check_hyper("ASGD", "weight_decay", group["weight_decay"])
        for key in ("lambd", "alpha", "t0"):
            check_hyper("ASGD", key, group[key], low=-np.inf)

    def _update(self, p, g, state, group) -> None:
        x = p._data
        xp = namespace(x)
        lr, lambd = group["lr"], group["lambd"]
        if not state:
            state["step"] = self._scalar(0.0)
            state["eta"] = self._scalar(lr)
            state["mu"] = self._scalar(1.0)
            state["ax"] = self._zeros(x)
        step = self._advance(state)
        gbuf, tmp = self._scratch(x, 2)
        g = self._grad_term(x, g, group["weight_decay"], group["maximize"], gbuf)

        eta, mu, ax = state["eta"]._data, state["mu"]._data, state["ax"]._data
        x *= 1.0 - lambd * float(eta)
        xp.multiply(g, -float(eta), out=tmp)
        x += tmp
        if float(mu) != 1.0:
            xp.subtract(x, ax, out=tmp)
            tmp *= float(mu)
            ax += tmp
        else:
            ax[...] = x
        eta[...] = lr / ((1.0 + lambd * lr * step) ** group["alpha"])
        mu[...] = 1.0 / max(1.0, step - group["t0"])
