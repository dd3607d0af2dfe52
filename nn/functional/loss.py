"""Loss functions, composed from autograd operations (as PyTorch's, same arguments).

Every loss takes ``reduction``: "none" (one value per element or sample),
"sum", or "mean".  For the class-index losses with ``weight`` the mean is
PyTorch's weighted mean, sum_i w[y_i] l_i / sum_i w[y_i] over the positions
that are not ``ignore_index``.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

import graphgrad.autograd as ag
from graphgrad.autograd import Tensor
from graphgrad.autograd._shapes import broadcast_shapes
from graphgrad.autograd.arrays import namespace
from graphgrad.autograd.tensor import tensor_arg, unwrap

from ._utils import array_like, check_reduction, reduce
from ._utils import reduce as _reduce
from .activation import _softplus
from .distance import pairwise_distance
from .loss_margin import legacy_reduction

__all__ = [
    "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "nll_loss", "cross_entropy", "kl_div",
    "triplet_margin_loss", "poisson_nll_loss", "gaussian_nll_loss",
]


def _check_same_size(name: str, input: Tensor, target, warn: bool) -> None:
    if tuple(input.shape) == tuple(np.shape(unwrap(target))):
        return
    message = (f"{name}: target size {tuple(np.shape(unwrap(target)))} is different to the input "
               f"size {tuple(input.shape)}")
    if not warn:
        raise ValueError(message + "; please ensure they have the same size")
    broadcast_shapes(name, tuple(input.shape), np.shape(unwrap(target)))
    # PyTorch broadcasts with a warning: (N, 1) against (N,) silently gives (N, N).
    warnings.warn(message + "; this will likely lead to incorrect results due to "
                  "broadcasting", stacklevel=3)


# ----------------------------------------------------------------- regression
def mse_loss(input: Tensor, target, reduction: str = "mean") -> Tensor:
    """(x - y)^2, reduced."""
    x = tensor_arg(input)
    _check_same_size("mse_loss", x, target, warn=True)
    diff = x - target
    return reduce(diff * diff, reduction, "mse_loss")


def l1_loss(input: Tensor, target, reduction: str = "mean") -> Tensor:
    """|x - y|, reduced (gradient sign(x - y), 0 where x == y)."""
    x = tensor_arg(input)
    _check_same_size("l1_loss", x, target, warn=True)
    return reduce(ag.abs(x - target), reduction, "l1_loss")


def huber_loss(input: Tensor, target, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta), with d = x - y."""
    x = tensor_arg(input)
    _check_same_size("huber_loss", x, target, warn=True)
    diff = x - target
    small = abs(diff._data) < delta
    loss = ag.where(small, 0.5 * diff * diff, delta * (ag.abs(diff) - 0.5 * delta))
    return reduce(loss, reduction, "huber_loss")


def smooth_l1_loss(input: Tensor, target, reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (huber_loss / beta)."""
    x = tensor_arg(input)
    _check_same_size("smooth_l1_loss", x, target, warn=True)
    if beta == 0:
        return l1_loss(x, target, reduction)
    diff = x - target
    small = abs(diff._data) < beta
    loss = ag.where(small, (0.5 / beta) * diff * diff, ag.abs(diff) - 0.5 * beta)
    return reduce(loss, reduction, "smooth_l1_loss")


# ------------------------------------------------------------- binary targets
def binary_cross_entropy(input: Tensor, target, weight=None, reduction: str = "mean") -> Tensor:
    """-w [y log p + (1 - y) log(1 - p)], each log clamped at -100 (as PyTorch).

    The gradient is w [-y / max(p, 1e-12) + (1 - y) / max(1 - p, 1e-12)]
    (``ag.clamped_log``): PyTorch's w (p - y) / max(p (1 - p), 1e-12) wherever
    p (1 - p) > 1e-12, and as large and finite where p reaches 0 or 1 against its
    target, so a confidently wrong prediction still gets a gradient.

    Shape: input p (any, values in [0, 1]) and target y of the same shape; the
    optional ``weight`` broadcasts to them.  The mean is over all elements.
    """
    p = tensor_arg(input)
    _check_same_size("binary_cross_entropy", p, target, warn=False)
    if p.numel() and (p._data.min() < 0 or p._data.max() > 1):
        raise ValueError("binary_cross_entropy: all elements of input should be between 0 and "
                         "1 (use binary_cross_entropy_with_logits for logits)")
    loss = -(target * ag.clamped_log(p) + (1 - tensor_arg(target)) * ag.clamped_log(1 - p))
    if weight is not None:
        broadcast_shapes("binary_cross_entropy", tuple(p.shape), np.shape(unwrap(weight)))
        loss = loss * weight
    return reduce(loss, reduction, "binary_cross_entropy")


def binary_cross_entropy_with_logits(input: Tensor, target, weight=None,
                                     reduction: str = "mean", pos_weight=None) -> Tensor:
    """BCE of sigmoid(x) computed from the logits x, stable for any x:

        l = (1 - y) x + (1 + (pw - 1) y) log(1 + e^-x),
        log(1 + e^-x) = max(-x, 0) + log(1 + e^-|x|).

    ``pos_weight`` pw (broadcast along the last dim, one per class) weighs the
    positive term; ``weight`` rescales each element.  Without pw this is
    max(x, 0) - x y + log(1 + e^-|x|).
    """
    x = tensor_arg(input)
    name = "binary_cross_entropy_with_logits"
    _check_same_size(name, x, target, warn=False)
    broadcast_shapes(name, tuple(x.shape), *[np.shape(unwrap(value))
                                             for value in (weight, pos_weight)
                                             if value is not None])
    y = tensor_arg(target)
    log_one_plus = _softplus(-x)  # log(1 + e^-x) = -log sigmoid(x)
    if pos_weight is not None:
        log_one_plus = (1 + (tensor_arg(pos_weight) - 1) * y) * log_one_plus
    loss = (1 - y) * x + log_one_plus
    if weight is not None:
        loss = loss * weight
    return reduce(loss, reduction, name)


# --------------------------------------------------------------- class targets
def _class_dim(name: str, x: Tensor) -> int:
    if x.ndim == 0:
        raise ValueError(f"{name}: expected input of shape (C,) or (N, C, *), got a 0-d tensor")
    return 0 if x.ndim == 1 else 1


def _class_targets(name: str, x: Tensor, target, ignore_index: int) -> np.ndarray:
    """``target`` as an array on x's device, checked to hold class indices of the right
    shape and range."""
    cd = _class_dim(name, x)
    t = array_like(name, target, x._data)
    if t.dtype.kind not in "iu":
        raise TypeError(f"{name}: expected class indices of an integer dtype (e.g. int64), got "
                        f"dtype {t.dtype}")
    expected = x.shape[:cd] + x.shape[cd + 1:]
    if t.shape != expected:
        raise ValueError(f"{name}: expected target of shape {expected} for input of shape "
                         f"{x.shape}, got {t.shape}")
    n_classes = x.shape[cd]
    bad = ((t < 0) | (t >= n_classes)) & (t != ignore_index)
    if bad.any():
        raise IndexError(f"{name}: target {int(t[bad].reshape(-1)[0])} is out of range for "
                         f"{n_classes} classes (expected 0 <= target < {n_classes}, or "
                         f"ignore_index = {ignore_index})")
    return t


def _class_weights(name: str, weight, x: Tensor, n_classes: int) -> np.ndarray | None:
    """``weight`` as an array of x's dtype on x's device, one value per class."""
    if weight is None:
        return None
    w = array_like(name, weight, x._data).astype(x.dtype)
    if w.shape != (n_classes,):
        raise ValueError(f"{name}: weight should have one value per class, shape "
                         f"({n_classes},), got {w.shape}")
    return w


def _divide(total: Tensor, count: float) -> Tensor:
    # 0 / 0 (everything ignored) is NaN, as in PyTorch, without NumPy's warning; its
    # gradient is 0, as PyTorch's (a fully padded batch must not turn the weights into NaN).
    return total / count if count else total * 0.0 + math.nan


def _target_weights(target: np.ndarray, w: np.ndarray | None, ignore_index: int, dtype):
    """(targets with ignored positions set to class 0, w[y] per position with 0 where
    ignored): the weights of PyTorch's weighted mean."""
    valid = target != ignore_index
    safe = namespace(target).where(valid, target, 0)
    return safe, (valid.astype(dtype) if w is None else w[safe] * valid)


def _nll(name: str, logp: Tensor, target: np.ndarray, w: np.ndarray | None,
         ignore_index: int, reduction: str) -> Tensor:
    """-w[y] logp[y] per position (0 where ignored), with PyTorch's weighted mean."""
    cd = _class_dim(name, logp)
    if w is None and not (target == ignore_index).any():  # unweighted, nothing ignored
        picked = ag.take_along_dim(logp, namespace(target).expand_dims(target, cd), cd)
        if reduction == "none":
            return -picked.squeeze(cd)
        total = picked.sum()
        return -total if reduction == "sum" else _divide(total, -target.size)
    safe, scale = _target_weights(target, w, ignore_index, logp.dtype)
    picked = ag.take_along_dim(logp, namespace(safe).expand_dims(safe, cd), cd).squeeze(cd)
    loss = -picked * Tensor._make(scale)
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return _divide(loss.sum(), float(scale.sum()))


def nll_loss(input: Tensor, target, weight=None, ignore_index: int = -100,
             reduction: str = "mean") -> Tensor:
    """Negative log likelihood of log-probabilities: l_i = -w[y_i] x[i, y_i].

    Shape: input (N, C) or (C,) or (N, C, d1, ...); target class indices (N,),
    () or (N, d1, ...).  Positions whose target is ``ignore_index`` count for
    nothing (in the mean too).  A target outside [0, C) raises IndexError.
    """
    name = "nll_loss"
    x = tensor_arg(input)
    check_reduction(name, reduction)
    t = _class_targets(name, x, target, ignore_index)
    w = _class_weights(name, weight, x, x.shape[_class_dim(name, x)])
    return _nll(name, x, t, w, ignore_index, reduction)


def cross_entropy(input: Tensor, target, weight=None, ignore_index: int = -100,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Softmax cross-entropy from logits (stable: built on ``log_softmax``).

    With class indices y (integer target of shape (N,) / (N, d1, ...)):
    l_i = -w[y_i] log softmax(x_i)[y_i], and with ``label_smoothing`` e,
    (1 - e) l_i + (e / C) sum_c -w[c] log softmax(x_i)[c].  ``ignore_index``
    positions are skipped; the mean is PyTorch's weighted mean.

    With class probabilities (float target of the input's shape):
    l_i = -sum_c w[c] y_ic log softmax(x_i)[c], y smoothed to (1 - e) y + e / C,
    and the mean divides by the number of samples N * d1 * ....

    Shape: input (N, C) or (C,) or (N, C, d1, ...), classes along dim 1.
    """
    name = "cross_entropy"
    x = tensor_arg(input)
    check_reduction(name, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{name}: label_smoothing must be between 0.0 and 1.0, got "
                         f"{label_smoothing}")
    cd = _class_dim(name, x)
    n_classes = x.shape[cd]
    logp = ag.log_softmax(x, cd)
    w = _class_weights(name, weight, x, n_classes)
    w_b = None if w is None else w.reshape((n_classes,) + (1,) * (x.ndim - cd - 1))
    target_array = array_like(name, target, x._data)
    if target_array.dtype.kind == "f":
        if target_array.shape != x.shape:
            raise TypeError(f"{name}: expected class indices of an integer dtype (e.g. int64) "
                            f"or class probabilities of the input's shape {x.shape}, got a "
                            f"{target_array.dtype} target of shape {target_array.shape}")
        probs = target if isinstance(target, Tensor) else target_array
        return _cross_entropy_probs(x, logp, probs, w_b, reduction, label_smoothing)
    t = _class_targets(name, x, target_array, ignore_index)
    nll = _nll(name, logp, t, w, ignore_index, reduction)
    if label_smoothing == 0:
        return nll
    # The uniform part: -sum_c w[c] logp[c] per position, 0 where ignored.
    valid = (t != ignore_index).astype(x.dtype)
    smooth = -(logp if w_b is None else logp * w_b).sum(cd) * valid
    if reduction == "sum":
        smooth = smooth.sum()
    elif reduction == "mean":
        _, scale = _target_weights(t, w, ignore_index, x.dtype)
        smooth = _divide(smooth.sum(), float(scale.sum()))
    return (1 - label_smoothing) * nll + (label_smoothing / n_classes) * smooth


def _cross_entropy_probs(x: Tensor, logp: Tensor, target, w_b, reduction: str,
                         label_smoothing: float) -> Tensor:
    cd = _class_dim("cross_entropy", x)
    y = tensor_arg(target)
    if label_smoothing > 0:
        y = y * (1 - label_smoothing) + label_smoothing / x.shape[cd]
    terms = logp * y if w_b is None else logp * y * w_b
    if reduction == "none":
        return -terms.sum(cd)
    total = -terms.sum()
    if reduction == "sum":
        return total
    return _divide(total, x.numel() // x.shape[cd] if x.shape[cd] else 0)


def kl_div(input: Tensor, target, reduction: str = "mean", log_target: bool = False) -> Tensor:
    """Kullback-Leibler divergence with ``input`` = log q: y (log y - log q) pointwise,
    0 where y = 0 (``log_target``: target given as log y, e^logy (logy - log q)).

    ``reduction="batchmean"`` divides the sum by the batch size (the true KL
    per sample); "mean" divides by the number of elements, as PyTorch.
    """
    x = tensor_arg(input)
    y = tensor_arg(target)
    if log_target:
        loss = ag.exp(y) * (y - x)
    else:
        positive = y._data > 0
        log_y = ag.log(ag.where(positive, y, 1.0))  # y log y -> 0 as y -> 0
        loss = ag.where(positive, y * (log_y - x), 0.0)
    if reduction == "batchmean":
        return loss.sum() / (x.shape[0] if x.ndim else 1)
    return reduce(loss, reduction, "kl_div")


# ------------------------------------------------------------ likelihoods
def poisson_nll_loss(input: Tensor, target, log_input: bool = True, full: bool = False,
                     size_average=None, eps: float = 1e-8, reduce=None,
                     reduction: str = "mean") -> Tensor:
    """Negative log likelihood of a Poisson target y with rate lambda, dropping log(y!):

        log_input=True:  exp(x) - y x          (x = log lambda)
        log_input=False: x - y log(x + eps)    (x = lambda)

    ``full`` adds Stirling's approximation of log(y!), y log y - y + 0.5 log(2 pi y),
    where y > 1 (0 elsewhere, as PyTorch).  Shape: broadcastable input and target.
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    x, y = tensor_arg(input), tensor_arg(target)
    broadcast_shapes("poisson_nll_loss", tuple(x.shape), tuple(y.shape))
    loss = ag.exp(x) - y * x if log_input else x - y * ag.log(x + eps)
    if full:
        big = y._data > 1
        safe = ag.where(big, y, 2.0)  # no log of 0 in the branch that is dropped
        stirling = safe * ag.log(safe) - safe + 0.5 * ag.log(2 * math.pi * safe)
        loss = loss + ag.where(big, stirling, 0.0)
    return _reduce(loss, reduction, "poisson_nll_loss")


def gaussian_nll_loss(input: Tensor, target, var, full: bool = False, eps: float = 1e-6,
                      reduction: str = "mean") -> Tensor:
    """Negative log likelihood of the target under N(input, var), up to a constant:
    0.5 (log max(var, eps) + (x - y)^2 / max(var, eps)), plus 0.5 log(2 pi) with ``full``.

    The clamp at ``eps`` does not cut var's gradient (PyTorch clamps without
    recording).  ``var``: a float, the input's shape (one variance each), or one
    dim short of it / with a single dim of size 1 (one variance shared across that
    dim).  Negative variances raise.
    """
    name = "gaussian_nll_loss"
    x = tensor_arg(input)
    if isinstance(var, (int, float)):
        if var < 0:
            raise ValueError(f"{name}: var has negative entry/entries, got {var}")
        var = ag.full(x.shape, float(var), dtype=x.dtype, device=x.device)
    var = tensor_arg(var)
    if (var._data < 0).any():
        raise ValueError(f"{name}: var has negative entry/entries")
    if var.shape != x.shape:
        if var.shape == x.shape[:-1]:
            var = var.unsqueeze(-1)
        elif var.ndim != x.ndim or sum(v for i, v in zip(x.shape, var.shape, strict=True)
                                       if i != v) != 1:
            raise ValueError(f"{name}: var is of incorrect size: got var of shape {var.shape} "
                             f"for input of shape {x.shape}")
    check_reduction(name, reduction)
    floor = namespace(var._data).maximum(var._data, eps) - var._data  # the clamp, as a constant
    var = var + floor
    loss = 0.5 * (ag.log(var) + (x - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction, name)


# ------------------------------------------------------------------- metric
def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor,
                        margin: float = 1.0, p: float = 2.0, eps: float = 1e-6,
                        swap: bool = False, reduction: str = "mean") -> Tensor:
    """max(d(a, p) - d(a, n) + margin, 0) with d the ``pairwise_distance`` (p-norm).

    With ``swap``, d(a, n) is replaced by min(d(a, n), d(p, n)) (the harder
    negative).  Shape: (N, D) or (D,) each -> (N,) or ().
    """
    a, pos, neg = tensor_arg(anchor), tensor_arg(positive), tensor_arg(negative)
    if not a.ndim == pos.ndim == neg.ndim or a.ndim not in (1, 2):
        raise ValueError(f"triplet_margin_loss: expected anchor, positive and negative of "
                         f"shape (N, D) or (D,) each, got {a.shape}, {pos.shape} and {neg.shape}")
    broadcast_shapes("triplet_margin_loss", tuple(a.shape), tuple(pos.shape), tuple(neg.shape))
    d_pos = pairwise_distance(a, pos, p, eps)
    d_neg = pairwise_distance(a, neg, p, eps)
    if swap:
        d_neg = ag.minimum(d_neg, pairwise_distance(pos, neg, p, eps))
    return reduce(ag.clip(margin + d_pos - d_neg, min=0.0), reduction, "triplet_margin_loss")
