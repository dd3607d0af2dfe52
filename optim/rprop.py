"""Rprop: per-coordinate step sizes adapted from the signs of successive gradients."""
from __future__ import annotations

from graphgrad.autograd.arrays import namespace

from .optimizer import Optimizer, check_hyper


class Rprop(Optimizer):
    r"""Resilient backpropagation, as ``torch.optim.Rprop`` (Riedmiller & Braun, 1993).

    Only the sign of the gradient is used.  For each parameter ``p`` with
    gradient ``g`` (``-g`` when ``maximize``); each coordinate's step size
    ``s`` starts at ``lr`` and the previous gradient ``g_prev`` at zero::

        c = sign(g * g_prev)
        s <- clip(s * eta_plus, step_min, step_max)    where c > 0 (same sign: speed up)
        s <- clip(s * eta_minus, step_min, step_max)   where c < 0 (sign flip: overshot)
        g <- 0                                          where c < 0 (and skip this step)
        p <- p - sign(g) * s
        g_prev <- g

    with ``(eta_minus, eta_plus) = etas`` and ``(step_min, step_max) = step_sizes``.
    Meant for full-batch training: noisy minibatch signs defeat it.  State per
    parameter (Tensors): ``step`` (0-d float32), ``prev`` (g_prev), ``step_size``
    (s).  ``foreach``, ``capturable`` and ``differentiable`` as in the
    ``Optimizer`` base.  See
    https://pytorch.org/docs/stable/generated/torch.optim.Rprop.html
    """

    def __init__(self, params, lr: float = 1e-2, etas: tuple = (0.5, 1.2),
                 step_sizes: tuple = (1e-6, 50), *, capturable: bool = False,
                 foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False) -> None:
        defaults = dict(lr=lr, etas=tuple(etas), step_sizes=tuple(step_sizes), foreach=foreach,
                        maximize=maximize, differentiable=differentiable,
                        capturable=capturable)
        super().__init__(params, defaults)

    def _check_group(self, group: dict) -> None:
        check_hyper("Rprop", "lr", group["lr"])
        etas, sizes = group["etas"], group["step_sizes"]
        if len(etas) != 2 or len(sizes) != 2:
            raise ValueError(f"Rprop: etas and step_sizes must be pairs, got etas={etas!r}, "
                             f"step_sizes={sizes!r}")
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Rprop: invalid etas={etas!r} (must be 0 < etas[0] < 1 < etas[1])")

    def _update(self, p, g, state, group) -> None:
        x = p._data
        xp = namespace(x)
        eta_minus, eta_plus = group["etas"]
        if not state:
            state["step"] = self._scalar(0.0)
            state["prev"] = self._zeros(x)
            state["step_size"] = self._zeros(x)
            state["step_size"]._data[...] = group["lr"]
        self._advance(state)
        factor, tmp = self._scratch(x, 2)
        if group["maximize"]:
            g = xp.negative(g, out=tmp)
        prev, step_size = state["prev"]._data, state["step_size"]._data

        xp.multiply(g, prev, out=factor)
        xp.sign(factor, out=factor)
        flipped = factor < 0
        # NaN stays NaN, as PyTorch's masked assignments leave it
        factor[factor > 0] = eta_plus
        factor[flipped] = eta_minus
        factor[factor == 0] = 1.0
        step_size *= factor
        xp.clip(step_size, *group["step_sizes"], out=step_size)
        xp.copyto(prev, g)
        prev[flipped] = 0.0
        xp.sign(prev, out=tmp)
        tmp *= step_size
        x -= tmp
