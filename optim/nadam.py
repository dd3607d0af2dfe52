"""NAdam: Adam with Nesterov momentum."""
from __future__ import annotations

from graphgrad.autograd.arrays import namespace

from .adam import check_adam_group, decayed_gradient, update_moments
from .optimizer import Optimizer, check_hyper


class NAdam(Optimizer):
    r"""NAdam, as ``torch.optim.NAdam`` (Dozat, 2016).

    For each parameter ``p`` with gradient ``g`` (``-g`` when ``maximize``);
    ``m`` and ``v`` start at zero, ``t`` counts the steps and the running
    product ``P`` of the momentum coefficients starts at 1::

        p <- p * (1 - lr * weight_decay)        (if decoupled_weight_decay, "NAdamW")
        g <- g + weight_decay * p               (otherwise, if weight_decay)
        mu_t = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
        P <- P * mu_t;   P_next = P * mu_{t+1}
        m <- beta1 * m + (1 - beta1) * g
        v <- beta2 * v + (1 - beta2) * g**2
        d = sqrt(v / (1 - beta2**t)) + eps
        p <- p - lr * (1 - mu_t) / (1 - P) * g / d - lr * mu_{t+1} / (1 - P_next) * m / d

    The last line looks one momentum step ahead (Nesterov): the current gradient
    and the *next* momentum coefficient both act now.  State per parameter
    (Tensors): ``step`` and ``mu_product`` (P; both 0-d float32, as PyTorch, so P
    is rounded to float32 each step), ``exp_avg`` (m), ``exp_avg_sq`` (v).
    ``foreach``, ``capturable`` and ``differentiable`` as in the ``Optimizer``
    base.  See https://pytorch.org/docs/stable/generated/torch.optim.NAdam.html
    """

    _scalar_state = ("mu_product",)

    def __init__(self, params, lr: float = 2e-3, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, foreach: bool | None = None,
                 maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False) -> None:
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize,
                        foreach=foreach, capturable=capturable, differentiable=differentiable)
        super().__init__(params, defaults)

    def _check_group(self, group: dict) -> None:
        check_adam_group("NAdam", group)
        check_hyper("NAdam", "momentum_decay", group["momentum_decay"])

    def _update(self, p, g, state, group) -> None:
        x = p._data
        xp = namespace(x)
        beta1, beta2 = group["betas"]
        lr, psi = group["lr"], group["momentum_decay"]
        if not state:
            state["step"] = self._scalar(0.0)
            state["mu_product"] = self._scalar(1.0)
            state["exp_avg"] = self._zeros(x)
            state["exp_avg_sq"] = self._zeros(x)
        step = self._advance(state)
        gbuf, denom, tmp = self._scratch(x, 3)
        g = decayed_gradient(x, g, group, gbuf)

        mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * psi))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * psi))
        mu_product = state["mu_product"]._data
        mu_product *= mu  # in its own (float32) precision, as PyTorch's 0-d tensor
        product = float(mu_product)

        exp_avg, exp_avg_sq = update_moments(state, g, group["betas"], tmp)
        xp.divide(exp_avg_sq, 1.0 - beta2**step, out=denom)
        xp.sqrt(denom, out=denom)
        denom += group["eps"]
        xp.multiply(g, -lr * (1.0 - mu) / (1.0 - product), out=tmp)
        tmp /= denom
        x += tmp
        xp.multiply(exp_avg, -lr * mu_next / (1.0 - product * mu_next), out=tmp)
        tmp /= denom
        x += tmp
