"""AdamW: Adam with decoupled weight decay."""
from __future__ import annotations

from .adam import Adam


class AdamW(Adam):
    r"""Adam with decoupled weight decay, as ``torch.optim.AdamW`` (Loshchilov & Hutter).

    The weight decay shrinks the parameter directly instead of being added to
    the gradient, so it is not rescaled by Adam's ``1 / sqrt(v_hat)``::

        p <- p * (1 - lr * weight_decay)
        m, v, m_hat, v_hat as in Adam, with the plain gradient g
        p <- p - lr * m_hat / (sqrt(v_hat) + eps)

    It is ``Adam(..., decoupled_weight_decay=True)`` with default
    ``weight_decay=1e-2`` (as PyTorch).  State as ``Adam``.  See
    https://pytorch.org/docs/stable/generated/torch.optim.AdamW.html
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False,
                 *, maximize: bool = False, foreach: bool | None = None,
                 capturable: bool = False, differentiable: bool = False,
                 fused: bool | None = None) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, foreach=foreach, maximize=maximize,
                         capturable=capturable, differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)
