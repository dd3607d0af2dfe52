"""Adam: momentum and RMSprop combined, with bias correction."""
from __future__ import annotations

import numpy as np

from .optimizer import Optimizer, check_hyper


class Adam(Optimizer):
    r"""Adam, as ``torch.optim.Adam`` (Kingma & Ba, 2014).

    For each parameter ``p`` with gradient ``g`` (``-g`` when ``maximize``);
    ``m``, ``v`` and ``v_max`` start at zero and ``t`` counts the steps::

        g <- g + weight_decay * p               (L2 penalty; see AdamW for the decoupled form)
        m <- beta1 * m + (1 - beta1) * g        (first moment, "V_dW" in the course)
        v <- beta2 * v + (1 - beta2) * g**2     (second moment, "S_dW")
        m_hat = m / (1 - beta1**t)              (bias correction)
        v_hat = v / (1 - beta2**t)
        v_max <- max(v_max, v)  and  v_hat = v_max / (1 - beta2**t)   (if amsgrad)
        p <- p - lr * m_hat / (sqrt(v_hat) + eps)

    The last line is computed as PyTorch does,
    ``p - (lr / (1 - beta1**t)) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)``.
    State per parameter: ``step``, ``exp_avg``, ``exp_avg_sq``, ``max_exp_avg_sq``
    (amsgrad).  See https://pytorch.org/docs/stable/generated/torch.optim.Adam.html
    """

    _decoupled = False

    def __init__(self, params, lr: float = 1e-3, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False,
                 *, maximize: bool = False) -> None:
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize)
        super().__init__(params, defaults)

    def _check_group(self, group: dict) -> None:
        name = type(self).__name__
        check_hyper(name, "lr", group["lr"])
        check_hyper(name, "eps", group["eps"])
        betas = group["betas"]
        if len(betas) != 2:
            raise ValueError(f"{name}: betas must be a pair (beta1, beta2), got {betas!r}")
        check_hyper(name, "betas[0]", betas[0], 0.0, 1.0, high_open=True)
        check_hyper(name, "betas[1]", betas[1], 0.0, 1.0, high_open=True)
        check_hyper(name, "weight_decay", group["weight_decay"])

    def _update(self, p, g, state, group) -> None:
        x = p._data
        beta1, beta2 = group["betas"]
        lr, weight_decay = group["lr"], group["weight_decay"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(x)
            state["exp_avg_sq"] = np.zeros_like(x)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(x)
        state["step"] += 1
        step = state["step"]
        gbuf, tmp = self._scratch(x, 2)
        if self._decoupled:
            if weight_decay:
                x *= 1.0 - lr * weight_decay
            weight_decay = 0.0
        g = self._grad_term(x, g, weight_decay, group["maximize"], gbuf)

        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        self._lerp_(exp_avg, g, 1.0 - beta1, tmp)
        exp_avg_sq *= beta2
        np.multiply(g, 1.0 - beta2, out=tmp)
        tmp *= g
        exp_avg_sq += tmp

        step_size = lr / (1.0 - beta1**step)
        bias_correction2_sqrt = (1.0 - beta2**step) ** 0.5
        if group["amsgrad"]:
            np.maximum(state["max_exp_avg_sq"], exp_avg_sq, out=state["max_exp_avg_sq"])
            np.sqrt(state["max_exp_avg_sq"], out=tmp)
        else:
            np.sqrt(exp_avg_sq, out=tmp)
        tmp /= bias_correction2_sqrt
        tmp += group["eps"]
        np.divide(exp_avg, tmp, out=tmp)
        tmp *= -step_size
        x += tmp
