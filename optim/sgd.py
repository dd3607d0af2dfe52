"""Stochastic gradient descent, with momentum, Nesterov momentum and weight decay."""
from __future__ import annotations

from graphgrad.autograd import Tensor
from graphgrad.autograd.arrays import namespace

from .optimizer import Optimizer, check_hyper


class SGD(Optimizer):
    r"""Gradient descent, with optional (Nesterov) momentum, as ``torch.optim.SGD``.

    For each parameter ``p`` with gradient ``g`` (``-g`` when ``maximize``)::

        g <- g + weight_decay * p                      (L2 penalty, if weight_decay)
        v <- g                                         (first step)
        v <- momentum * v + (1 - dampening) * g        (later steps)
        d <- g + momentum * v   if nesterov   else   v (d = g without momentum)
        p <- p - lr * d

    With ``dampening == momentum == b`` the buffer is the exponentially weighted
    average of the course, ``v = b v + (1 - b) g``, except that (as PyTorch) it
    starts at the first gradient instead of ``(1 - b) g``, which removes the
    start-up bias.  State per parameter: ``momentum_buffer`` (a Tensor; none
    without momentum).  ``foreach``, ``fused`` and ``differentiable`` as in the
    ``Optimizer`` base.  See
    https://pytorch.org/docs/stable/generated/torch.optim.SGD.html

        >>> opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        >>> opt.zero_grad(); loss.backward(); opt.step()
    """

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False,
                 *, maximize: bool = False, foreach: bool | None = None,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize,
                        foreach=foreach, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)

    def _check_group(self, group: dict) -> None:
        check_hyper(type(self).__name__, "lr", group["lr"])
        check_hyper(type(self).__name__, "momentum", group["momentum"])
        check_hyper(type(self).__name__, "dampening", group["dampening"], 0.0, 1.0)
        check_hyper(type(self).__name__, "weight_decay", group["weight_decay"])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(f"{type(self).__name__}: nesterov=True requires momentum > 0 and "
                             f"dampening=0 (got momentum={group['momentum']}, "
                             f"dampening={group['dampening']})")

    def _update(self, p, g, state, group) -> None:
        x = p._data
        xp = namespace(x)
        momentum = group["momentum"]
        gbuf, tmp = self._scratch(x, 2)
        g = self._grad_term(x, g, group["weight_decay"], group["maximize"], gbuf)
        d = g
        if momentum:
            buf = state.get("momentum_buffer")
            if buf is None:
                state["momentum_buffer"] = Tensor._make(g.copy())
                buf = state["momentum_buffer"]._data
            else:
                buf = buf._data
                buf *= momentum
                if group["dampening"]:
                    xp.multiply(g, 1.0 - group["dampening"], out=tmp)
                    buf += tmp
                else:
                    buf += g
            if group["nesterov"]:
                xp.multiply(buf, momentum, out=tmp)
                d = xp.add(g, tmp, out=tmp)
            else:
                d = buf
        xp.multiply(d, -group["lr"], out=tmp)
        x += tmp
