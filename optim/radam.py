"""RAdam: Adam whose adaptive step is switched on once its variance is tractable."""
from __future__ import annotations

from graphgrad.autograd.arrays import namespace

from .adam import check_adam_group, decayed_gradient, update_moments
from .optimizer import Optimizer


class RAdam(Optimizer):
    r"""Rectified Adam, as ``torch.optim.RAdam`` (Liu et al., 2019).

    For each parameter ``p`` with gradient ``g`` (``-g`` when ``maximize``);
    ``m`` and ``v`` start at zero and ``t`` counts the steps::

        p <- p * (1 - lr * weight_decay)        (if decoupled_weight_decay)
        g <- g + weight_decay * p               (otherwise, if weight_decay)
        m <- beta1 * m + (1 - beta1) * g
        v <- beta2 * v + (1 - beta2) * g**2
        m_hat = m / (1 - beta1**t)
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 t beta2**t / (1 - beta2**t)   (length of the approximated SMA)
        if rho_t > 5:
            r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
            p <- p - lr * m_hat * sqrt(1 - beta2**t) / (sqrt(v) + eps) * r_t
        else:
            p <- p - lr * m_hat                   (plain momentum SGD while v is unreliable)

    State per parameter (Tensors): ``step`` (0-d float32), ``exp_avg`` (m),
    ``exp_avg_sq`` (v).  ``foreach``, ``capturable`` and ``differentiable`` as
    in the ``Optimizer`` base.  See
    https://pytorch.org/docs/stable/generated/torch.optim.RAdam.html
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0,
                 decoupled_weight_decay: bool = False, *, foreach: bool | None = None,
                 maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False) -> None:
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        maximize=maximize, foreach=foreach, capturable=capturable,
                        decoupled_weight_decay=decoupled_weight_decay,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    def _check_group(self, group: dict) -> None:
        check_adam_group("RAdam", group)

    def _update(self, p, g, state, group) -> None:
        x = p._data
        xp = namespace(x)
        beta1, beta2 = group["betas"]
        lr = group["lr"]
        if not state:
            state["step"] = self._scalar(0.0)
            state["exp_avg"] = self._zeros(x)
            state["exp_avg_sq"] = self._zeros(x)
        step = self._advance(state)
        gbuf, tmp, update = self._scratch(x, 3)
        g = decayed_gradient(x, g, group, gbuf)

        exp_avg, exp_avg_sq = update_moments(state, g, group["betas"], tmp)

        bias_correction1 = 1.0 - beta1**step
        bias_correction2 = 1.0 - beta2**step
        rho_inf = 2.0 / (1.0 - beta2) - 1.0
        rho_t = rho_inf - 2.0 * step * beta2**step / bias_correction2
        xp.divide(exp_avg, bias_correction1, out=update)
        update *= lr
        if rho_t > 5.0:
            rect = ((rho_t - 4) * (rho_t - 2) * rho_inf
                    / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
            xp.sqrt(exp_avg_sq, out=tmp)
            tmp += group["eps"]
            xp.divide(bias_correction2**0.5, tmp, out=tmp)
            update *= tmp
            update *= rect
        x -= update
