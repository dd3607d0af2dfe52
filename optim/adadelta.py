"""Adadelta: steps whose size follows the running size of the past steps."""
from __future__ import annotations

from graphgrad.autograd.arrays import namespace

from .optimizer import Optimizer, check_hyper


class Adadelta(Optimizer):
    r"""Adadelta, as ``torch.optim.Adadelta`` (Zeiler, 2012).

    For each parameter ``p`` with gradient ``g`` (``-g`` when ``maximize``); the
    running averages ``v`` (squared gradients) and ``u`` (squared steps) start
    at zero::

        g <- g + weight_decay * p                    (if weight_decay)
        v <- rho * v + (1 - rho) * g**2
        delta = sqrt(u + eps) / sqrt(v + eps) * g    (the step, in the units of p)
        u <- rho * u + (1 - rho) * delta**2
        p <- p - lr * delta

    The ratio of the two root-mean-squares gives each coordinate its own step
    size, so ``lr`` (default 1.0) only scales it.  State per parameter
    (Tensors): ``step`` (0-d float32), ``square_avg`` (v), ``acc_delta`` (u).
    ``foreach``, ``capturable`` and ``differentiable`` as in the ``Optimizer``
    base.  See https://pytorch.org/docs/stable/generated/torch.optim.Adadelta.html
    """

    def __init__(self, params, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0.0, foreach: bool | None = None, *,
                 capturable: bool = False, maximize: bool = False,
                 differentiable: bool = False) -> None:
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        capturable=capturable, foreach=foreach, differentiable=differentiable)
        super().__init__(params, defaults)

    def _check_group(self, group: dict) -> None:
        check_hyper("Adadelta", "lr", group["lr"])
        check_hyper("Adadelta", "rho", group["rho"], 0.0, 1.0)
        check_hyper("Adadelta", "eps", group["eps"])
        check_hyper("Adadelta", "weight_decay", group["weight_decay"])

    def _update(self, p, g, state, group) -> None:
        x = p._data
        xp = namespace(x)
        rho, eps = group["rho"], group["eps"]
        if not state:
            state["step"] = self._scalar(0.0)
            state["square_avg"] = self._zeros(x)
            state["acc_delta"] = self._zeros(x)
        self._advance(state)
        gbuf, std, delta = self._scratch(x, 3)
        g = self._grad_term(x, g, group["weight_decay"], group["maximize"], gbuf)

        square_avg, acc_delta = state["square_avg"]._data, state["acc_delta"]._data
        square_avg *= rho
        xp.multiply(g, 1.0 - rho, out=std)
        std *= g
        square_avg += std
        xp.add(square_avg, eps, out=std)
        xp.sqrt(std, out=std)
        xp.add(acc_delta, eps, out=delta)
        xp.sqrt(delta, out=delta)
        delta /= std
        delta *= g
        acc_delta *= rho
        xp.multiply(delta, 1.0 - rho, out=std)
        std *= delta
        acc_delta += std
        delta *= -group["lr"]
        x += delta
