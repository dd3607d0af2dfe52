"""Adamax: Adam with the infinity norm in place of the second moment."""
from __future__ import annotations

from graphgrad.autograd.arrays import namespace

from .adam import check_betas
from .optimizer import Optimizer, check_hyper


class Adamax(Optimizer):
    r"""Adamax, as ``torch.optim.Adamax`` (Kingma & Ba, 2014, section 7).

    For each parameter ``p`` with gradient ``g`` (``-g`` when ``maximize``);
    ``m`` and ``u`` start at zero and ``t`` counts the steps::

        g <- g + weight_decay * p                   (if weight_decay)
        m <- beta1 * m + (1 - beta1) * g
        u <- max(beta2 * u, |g| + eps)              (a decaying running maximum)
        p <- p - lr / (1 - beta1**t) * m / u

    ``u`` needs no bias correction: it is a maximum, not an average.  State per
    parameter (Tensors): ``step`` (0-d float32), ``exp_avg`` (m), ``exp_inf`` (u).
    ``foreach``, ``capturable`` and ``differentiable`` as in the ``Optimizer``
    base.  See https://pytorch.org/docs/stable/generated/torch.optim.Adamax.html
    """

    def __init__(self, params, lr: float = 2e-3, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, foreach: bool | None = None,
                 *, maximize: bool = False, differentiable: bool = False,
                 capturable: bool = False) -> None:
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        foreach=foreach, maximize=maximize, differentiable=differentiable,
                        capturable=capturable)
        super().__init__(params, defaults)

    def _check_group(self, group: dict) -> None:
        check_hyper("Adamax", "lr", group["lr"])
        check_hyper("Adamax", "eps", group["eps"])
        check_betas("Adamax", group["betas"])
        check_hyper("Adamax", "weight_decay", group["weight_decay"])

    def _update(self, p, g, state, group) -> None:
        x = p._data
        xp = namespace(x)
        beta1, beta2 = group["betas"]
        if not state:
            state["step"] = self._scalar(0.0)
            state["exp_avg"] = self._zeros(x)
            state["exp_inf"] = self._zeros(x)
        step = self._advance(state)
        gbuf, tmp = self._scratch(x, 2)
        g = self._grad_term(x, g, group["weight_decay"], group["maximize"], gbuf)

        exp_avg, exp_inf = state["exp_avg"]._data, state["exp_inf"]._data
        self._lerp_(exp_avg, g, 1.0 - beta1, tmp)
        exp_inf *= beta2
        xp.abs(g, out=tmp)
        tmp += group["eps"]
        xp.maximum(exp_inf, tmp, out=exp_inf)
        clr = group["lr"] / (1.0 - beta1**step)
        xp.multiply(exp_avg, -clr, out=tmp)
        tmp /= exp_inf
        x += tmp
