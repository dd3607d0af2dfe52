"""RMSprop: gradient steps scaled by a running root-mean-square of the gradients."""
from __future__ import annotations

from graphgrad.autograd.arrays import namespace

from .optimizer import Optimizer, check_hyper


class RMSprop(Optimizer):
    r"""RMSprop, as ``torch.optim.RMSprop``.

    For each parameter ``p`` with gradient ``g`` (``-g`` when ``maximize``);
    ``s``, ``m`` and ``b`` start at zero::

        g <- g + weight_decay * p                     (if weight_decay)
        s <- alpha * s + (1 - alpha) * g**2           (mean square, "S_dW" in the course)
        m <- alpha * m + (1 - alpha) * g              (only if centered)
        r <- sqrt(s - m**2) + eps   if centered   else   sqrt(s) + eps
        b <- momentum * b + g / r;   p <- p - lr * b  (if momentum > 0)
        p <- p - lr * g / r                           (otherwise)

    ``alpha`` is the course's beta_2 and ``eps`` is added *outside* the square
    root.  State per parameter (Tensors): ``step`` (0-d float32), ``square_avg``,
    ``momentum_buffer`` (momentum > 0), ``grad_avg`` (centered).  ``capturable``,
    ``foreach`` and ``differentiable`` as in the ``Optimizer`` base; the
    arguments are positional in PyTorch's order.  See
    https://pytorch.org/docs/stable/generated/torch.optim.RMSprop.html
    """

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False,
                 capturable: bool = False, foreach: bool | None = None,
                 maximize: bool = False, differentiable: bool = False) -> None:
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, capturable=capturable, foreach=foreach,
                        maximize=maximize, differentiable=differentiable)
        super().__init__(params, defaults)

    def _check_group(self, group: dict) -> None:
        check_hyper(type(self).__name__, "lr", group["lr"])
        check_hyper(type(self).__name__, "alpha", group["alpha"], 0.0, 1.0)
        check_hyper(type(self).__name__, "eps", group["eps"])
        check_hyper(type(self).__name__, "weight_decay", group["weight_decay"])
        check_hyper(type(self).__name__, "momentum", group["momentum"])

    def _update(self, p, g, state, group) -> None:
        x = p._data
        xp = namespace(x)
        alpha, momentum = group["alpha"], group["momentum"]
        if not state:
            state["step"] = self._scalar(0.0)
            state["square_avg"] = self._zeros(x)
            if momentum > 0:
                state["momentum_buffer"] = self._zeros(x)
            if group["centered"]:
                state["grad_avg"] = self._zeros(x)
        self._advance(state)
        gbuf, tmp = self._scratch(x, 2)
        g = self._grad_term(x, g, group["weight_decay"], group["maximize"], gbuf)

        square_avg = state["square_avg"]._data
        square_avg *= alpha
        xp.multiply(g, 1.0 - alpha, out=tmp)
        tmp *= g
        square_avg += tmp
        if group["centered"]:
            grad_avg = state["grad_avg"]._data
            self._lerp_(grad_avg, g, 1.0 - alpha, tmp)
            xp.multiply(grad_avg, grad_avg, out=tmp)
            xp.subtract(square_avg, tmp, out=tmp)
            xp.sqrt(tmp, out=tmp)
        else:
            xp.sqrt(square_avg, out=tmp)
        tmp += group["eps"]

        if momentum > 0:
            xp.divide(g, tmp, out=tmp)
            buf = state["momentum_buffer"]._data
            buf *= momentum
            buf += tmp
            xp.multiply(buf, -group["lr"], out=tmp)
            x += tmp
        else:
            xp.multiply(g, -group["lr"], out=gbuf)  # g is no longer needed
            gbuf /= tmp
            x += gbuf
