"""Adam: momentum and RMSprop combined, with bias correction."""
from __future__ import annotations

import numpy as np

from graphgrad.autograd.arrays import namespace

from .optimizer import Optimizer, check_hyper


def check_betas(name: str, betas) -> None:
    """``betas`` is a pair with each value in [0, 1) (Adam, NAdam, RAdam, Adamax)."""
    if len(betas) != 2:
        raise ValueError(f"{name}: betas must be a pair (beta1, beta2), got {betas!r}")
    check_hyper(name, "betas[0]", betas[0], 0.0, 1.0, high_open=True)
    check_hyper(name, "betas[1]", betas[1], 0.0, 1.0, high_open=True)


def check_adam_group(name: str, group: dict) -> None:
    """The hyper-parameters Adam, NAdam and RAdam share: lr, eps, betas, weight_decay."""
    check_hyper(name, "lr", group["lr"])
    check_hyper(name, "eps", group["eps"])
    check_betas(name, group["betas"])
    check_hyper(name, "weight_decay", group["weight_decay"])


def decayed_gradient(x: np.ndarray, g: np.ndarray, group: dict, out: np.ndarray) -> np.ndarray:
    """Weight decay as Adam, NAdam and RAdam apply it, before the moments: decoupled
    (``x <- x * (1 - lr * weight_decay)`` in place, gradient unchanged) or as an L2
    penalty (``g + weight_decay * x``); ``-g`` when maximizing."""
    weight_decay = group["weight_decay"]
    if group["decoupled_weight_decay"]:
        if weight_decay:
            x *= 1.0 - group["lr"] * weight_decay
        weight_decay = 0.0
    return Optimizer._grad_term(x, g, weight_decay, group["maximize"], out)


def update_moments(state: dict, g: np.ndarray, betas: tuple, tmp: np.ndarray):
    """Adam's moving averages, in place: ``m <- beta1 m + (1 - beta1) g`` and
    ``v <- beta2 v + (1 - beta2) g**2``; returns the arrays ``(m, v)``."""
    beta1, beta2 = betas
    exp_avg, exp_avg_sq = state["exp_avg"]._data, state["exp_avg_sq"]._data
    Optimizer._lerp_(exp_avg, g, 1.0 - beta1, tmp)
    exp_avg_sq *= beta2
    namespace(g).multiply(g, 1.0 - beta2, out=tmp)
    tmp *= g
    exp_avg_sq += tmp
    return exp_avg, exp_avg_sq


class Adam(Optimizer):
    r"""Adam, as ``torch.optim.Adam`` (Kingma & Ba, 2014).

    For each parameter ``p`` with gradient ``g`` (``-g`` when ``maximize``);
    ``m``, ``v`` and ``v_max`` start at zero and ``t`` counts the steps::

        g <- g + weight_decay * p               (L2 penalty, the default)
        p <- p * (1 - lr * weight_decay)        (instead, if decoupled_weight_decay: AdamW)
        m <- beta1 * m + (1 - beta1) * g        (first moment, "V_dW" in the course)
        v <- beta2 * v + (1 - beta2) * g**2     (second moment, "S_dW")
        m_hat = m / (1 - beta1**t)              (bias correction)
        v_hat = v / (1 - beta2**t)
        v_max <- max(v_max, v)  and  v_hat = v_max / (1 - beta2**t)   (if amsgrad)
        p <- p - lr * m_hat / (sqrt(v_hat) + eps)

    The last line is computed as PyTorch does,
    ``p - (lr / (1 - beta1**t)) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)``.
    State per parameter: ``step`` (0-d float32 Tensor), ``exp_avg``, ``exp_avg_sq``,
    ``max_exp_avg_sq`` (amsgrad).  ``foreach``, ``fused``, ``capturable`` and
    ``differentiable`` as in the ``Optimizer`` base.  See
    https://pytorch.org/docs/stable/generated/torch.optim.Adam.html
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False,
                 *, foreach: bool | None = None, maximize: bool = False,
                 capturable: bool = False, differentiable: bool = False,
                 fused: bool | None = None, decoupled_weight_decay: bool = False) -> None:
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize, foreach=foreach,
                        capturable=capturable, differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _check_group(self, group: dict) -> None:
        check_adam_group(type(self).__name__, group)

    def _update(self, p, g, state, group) -> None:
        x = p._data
        xp = namespace(x)
        beta1, beta2 = group["betas"]
        lr = group["lr"]
        if not state:
            state["step"] = self._scalar(0.0)
            state["exp_avg"] = self._zeros(x)
            state["exp_avg_sq"] = self._zeros(x)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = self._zeros(x)
        step = self._advance(state)
        gbuf, tmp = self._scratch(x, 2)
        g = decayed_gradient(x, g, group, gbuf)

        exp_avg, exp_avg_sq = update_moments(state, g, group["betas"], tmp)

        step_size = lr / (1.0 - beta1**step)
        bias_correction2_sqrt = (1.0 - beta2**step) ** 0.5
        if group["amsgrad"]:
            max_exp_avg_sq = state["max_exp_avg_sq"]._data
            xp.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
            xp.sqrt(max_exp_avg_sq, out=tmp)
        else:
            xp.sqrt(exp_avg_sq, out=tmp)
        tmp /= bias_correction2_sqrt
        tmp += group["eps"]
        xp.multiply(exp_avg, -step_size, out=gbuf)  # g is no longer needed
        gbuf /= tmp
        x += gbuf
