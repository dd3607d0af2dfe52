"""Gradient clipping, in place on ``.grad`` (as ``torch.nn.utils``)."""
from __future__ import annotations

import math

from graphgrad.autograd import Tensor, no_grad
from graphgrad.autograd.arrays import namespace


def _grads(parameters) -> list[Tensor]:
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach=None) -> Tensor:
    """Scale all gradients together so that their joint norm is at most ``max_norm``.

    total = ||(||g_1||_p, ..., ||g_k||_p)||_p (the p-norm of all gradients as one
    vector; max |g| for p = inf).  If total > max_norm every gradient is
    multiplied by max_norm / (total + 1e-6).  Returns ``total`` (before
    clipping) as a 0-d Tensor on the gradients' device (all on one device).

        >>> loss.backward()
        >>> nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
    """
    grads = _grads(parameters)
    if not grads:
        return Tensor(0.0)
    norm_type = float(norm_type)
    arrays = [g._data for g in grads]
    xp = namespace(arrays[0])
    if norm_type == math.inf:
        norms = [abs(a).max() if a.size else xp.zeros((), a.dtype) for a in arrays]
        total = xp.stack(norms).max()
    else:
        norms = [xp.linalg.norm(a.reshape(-1), norm_type) for a in arrays]
        total = xp.linalg.norm(xp.stack(norms), norm_type)
    total = total.astype(arrays[0].dtype)
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is "
            f"non-finite, so it cannot be clipped (pass error_if_nonfinite=False to skip "
            f"this check)"
        )
    coef = float(max_norm) / (float(total) + 1e-6)
    if coef < 1.0:
        with no_grad():
            for g in grads:
                g.mul_(coef)
    return Tensor(total)


def clip_grad_value_(parameters, clip_value: float, foreach=None) -> None:
    """Clamp every gradient element to [-clip_value, clip_value], in place."""
    clip_value = float(clip_value)
    with no_grad():
        for g in _grads(parameters):
            g.clamp_(-clip_value, clip_value)
