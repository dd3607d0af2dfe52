"""Adagrad: per-coordinate steps scaled by the root of the summed squared gradients."""
from __future__ import annotations

import numpy as np

from graphgrad.autograd import Tensor
from graphgrad.autograd.arrays import namespace

from .optimizer import Optimizer, check_hyper


class Adagrad(Optimizer):
    r"""Adagrad, as ``torch.optim.Adagrad`` (Duchi, Hazan & Singer, 2011).

    For each parameter ``p`` with gradient ``g`` (``-g`` when ``maximize``); the
    sum ``s`` starts at ``initial_accumulator_value`` and ``t`` counts the steps::

        g <- g + weight_decay * p                  (if weight_decay)
        lr_t = lr / (1 + (t - 1) * lr_decay)
        s <- s + g**2
        p <- p - lr_t * g / (sqrt(s) + eps)

    Coordinates that saw large gradients take smaller steps, and every step
    shrinks as ``s`` grows.  State per parameter (Tensors, made when the
    optimizer is built, as PyTorch's): ``step`` (0-d float32) and ``sum``.
    ``foreach``, ``fused`` and ``differentiable`` as in the ``Optimizer`` base.
    See https://pytorch.org/docs/stable/generated/torch.optim.Adagrad.html
    """

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0.0,
                 weight_decay: float = 0.0, initial_accumulator_value: float = 0.0,
                 eps: float = 1e-10, foreach: bool | None = None, *, maximize: bool = False,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value,
                        foreach=foreach, maximize=maximize, differentiable=differentiable,
                        fused=fused)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(self.state[p], p._data, group)

    def _check_group(self, group: dict) -> None:
        for key in ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"):
            check_hyper("Adagrad", key, group[key])

    def _init_state(self, state: dict, x: np.ndarray, group: dict) -> None:
        state["step"] = self._scalar(0.0)
        state["sum"] = Tensor._make(namespace(x).full_like(x, group["initial_accumulator_value"]))

    def _update(self, p, g, state, group) -> None:
        x = p._data
        xp = namespace(x)
        if not state:  # a parameter added with add_param_group after construction
            self._init_state(state, x, group)
        step = self._advance(state)
        gbuf, std, tmp = self._scratch(x, 3)
        g = self._grad_term(x, g, group["weight_decay"], group["maximize"], gbuf)
        clr = group["lr"] / (1 + (step - 1) * group["lr_decay"])

        total = state["sum"]._data
        xp.multiply(g, g, out=tmp)
        total += tmp
        xp.sqrt(total, out=std)
        std += group["eps"]
        xp.multiply(g, -clr, out=tmp)
        tmp /= std
        x += tmp
