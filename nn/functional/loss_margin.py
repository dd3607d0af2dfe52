"""Margin and embedding losses, composed from autograd operations (as PyTorch's).

Hinges are ``clip(z, min=0)``: the gradient passes where z >= 0, as PyTorch's
``clamp_min``.  Every loss takes ``reduction`` ("none", "mean" or "sum") and
PyTorch's deprecated ``size_average`` / ``reduce`` flags, which override it.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np

import graphgrad.autograd as ag
from graphgrad.autograd import Tensor
from graphgrad.autograd._shapes import broadcast_shapes
from graphgrad.autograd.arrays import namespace
from graphgrad.autograd.tensor import tensor_arg, unwrap

from ._utils import array_like, check_reduction
from ._utils import reduce as _reduce
from .activation import _softplus, logsigmoid
from .distance import pairwise_distance

__all__ = [
    "margin_ranking_loss", "hinge_embedding_loss", "soft_margin_loss",
    "multilabel_soft_margin_loss", "multilabel_margin_loss", "multi_margin_loss",
    "cosine_embedding_loss", "triplet_margin_with_distance_loss", "legacy_reduction",
]


def legacy_reduction(size_average: bool | None, reduce: bool | None, reduction: str) -> str:
    """``reduction``, or what PyTorch's deprecated flags ask for when one is given:
    "mean" when both are true (None counts as true), "sum" with reduce only, else "none"."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    result = "mean" if size_average and reduce else "sum" if reduce else "none"
    warnings.warn(f"size_average and reduce args will be deprecated, please use "
                  f"reduction='{result}' instead.", stacklevel=3)
    return result


def _hinge(z: Tensor) -> Tensor:
    return ag.clip(z, min=0.0)


def margin_ranking_loss(input1: Tensor, input2: Tensor, target, margin: float = 0.0,
                        size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """max(0, -y (x1 - x2) + margin): x1 should rank above x2 where y = 1, below where
    y = -1.  Shape: x1, x2 and y of the same number of dims, broadcastable."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    x1, x2, y = tensor_arg(input1), tensor_arg(input2), tensor_arg(target)
    if not x1.ndim == x2.ndim == y.ndim:
        raise ValueError(f"margin_ranking_loss: input1, input2 and target should have the same "
                         f"number of dims, got shapes {x1.shape}, {x2.shape} and {y.shape}")
    broadcast_shapes("margin_ranking_loss", x1.shape, x2.shape, y.shape)
    return _reduce(_hinge(-y * (x1 - x2) + margin), reduction, "margin_ranking_loss")


def hinge_embedding_loss(input: Tensor, target, margin: float = 1.0, size_average=None,
                         reduce=None, reduction: str = "mean") -> Tensor:
    """x where y = 1, max(0, margin - x) where y = -1 (x is a distance; as PyTorch, a
    target that is neither gets both terms).  Shape: broadcastable x and y."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    x = tensor_arg(input)
    y = array_like("hinge_embedding_loss", target, x._data)
    broadcast_shapes("hinge_embedding_loss", x.shape, y.shape)
    loss = ag.where(y != 1, _hinge(margin - x), 0.0) + ag.where(y != -1, x, 0.0)
    return _reduce(loss, reduction, "hinge_embedding_loss")


def soft_margin_loss(input: Tensor, target, size_average=None, reduce=None,
                     reduction: str = "mean") -> Tensor:
    """log(1 + exp(-y x)) per element, y in {1, -1} (logistic loss); mean over all."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    x = tensor_arg(input)
    broadcast_shapes("soft_margin_loss", x.shape, np.shape(unwrap(target)))
    return _reduce(_softplus(-tensor_arg(target) * x), reduction, "soft_margin_loss")


def multilabel_soft_margin_loss(input: Tensor, target, weight=None, size_average=None,
                                reduce=None, reduction: str = "mean") -> Tensor:
    """-(1/C) sum_c w_c [y_c log sigmoid(x_c) + (1 - y_c) log sigmoid(-x_c)] per sample:
    one binary cross-entropy per class, averaged over the C classes (the last dim).

    Shape: input (N, C) or (C,), target of the same shape (0/1 labels), optional
    ``weight`` broadcastable to them -> (N,) or () with reduction "none".
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    name = "multilabel_soft_margin_loss"
    x = tensor_arg(input)
    if x.ndim == 0:
        raise ValueError(f"{name}: expected input of shape (N, C) or (C,), got a 0-d tensor")
    shapes = [np.shape(unwrap(v)) for v in (target, weight) if v is not None]
    broadcast_shapes(name, x.shape, *shapes)
    y = tensor_arg(target)
    loss = -(y * logsigmoid(x) + (1 - y) * logsigmoid(-x))
    if weight is not None:
        loss = loss * weight
    loss = loss.sum(-1) / x.shape[-1]
    return _reduce(loss, reduction, name)


def _class_target(name: str, x: Tensor, target) -> np.ndarray:
    """The integer class target of a (N, C) or (C,) input, shape (N,) or ()."""
    if x.ndim not in (1, 2):
        raise ValueError(f"{name}: expected input of shape (N, C) or (C,), got {x.shape}")
    t = array_like(name, target, x._data)
    if t.dtype.kind not in "iu":
        raise TypeError(f"{name}: expected class indices of an integer dtype (e.g. int64), got "
                        f"dtype {t.dtype}")
    if t.size != (x.shape[0] if x.ndim == 2 else 1) or t.ndim > 1:
        raise ValueError(f"{name}: inconsistent target size: got target of shape {t.shape} for "
                         f"input of shape {x.shape}")
    n_classes = x.shape[-1]
    bad = (t < 0) | (t >= n_classes)
    if bad.any():
        raise IndexError(f"{name}: target {int(t[bad].reshape(-1)[0])} is out of range for "
                         f"{n_classes} classes")
    return t.reshape(-1)


def multi_margin_loss(input: Tensor, target, p: int = 1, margin: float = 1.0, weight=None,
                      size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """Multi-class hinge: (1/C) sum_{j != y} w_y max(0, margin - x_y + x_j)^p per sample.

    Shape: input (N, C) or (C,), target class indices (N,) or () -> (N,) or ();
    ``p`` is 1 or 2, ``weight`` one value per class (C,).
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    name = "multi_margin_loss"
    if p not in (1, 2):
        raise ValueError(f"{name}: only p == 1 and p == 2 supported, got p = {p}")
    x = tensor_arg(input)
    t = _class_target(name, x, target)
    rows = x if x.ndim == 2 else x[None]
    n_classes = rows.shape[1]
    picked = ag.take_along_dim(rows, t[:, None], 1)
    hinge = _hinge(margin - picked + rows)
    if p == 2:
        hinge = hinge * hinge
    others = namespace(t).arange(n_classes)[None, :] != t[:, None]
    if weight is not None:
        shape = np.shape(unwrap(weight))
        if shape != (n_classes,):
            raise ValueError(f"{name}: weight should be one-dimensional with one value per "
                             f"class, shape ({n_classes},), got {shape}")
        hinge = hinge * tensor_arg(weight)[t][:, None]
    loss = ag.where(others, hinge, 0.0).sum(1) / n_classes
    return _reduce(loss if x.ndim == 2 else loss[0], reduction, name)


def multilabel_margin_loss(input: Tensor, target, size_average=None, reduce=None,
                           reduction: str = "mean") -> Tensor:
    """Multi-label hinge: (1/C) sum_{j in Y} sum_{k not in Y} max(0, 1 - (x_j - x_k)) per
    sample, Y the labels listed in the target row up to its first -1 (a label listed
    twice counts twice, as PyTorch).

    Shape: input (N, C) or (C,), integer target of the same shape -> (N,) or ().
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    name = "multilabel_margin_loss"
    x = tensor_arg(input)
    t = array_like(name, target, x._data)
    if x.ndim not in (1, 2) or t.shape != x.shape:
        raise ValueError(f"{name}: expected input (N, C) or (C,) and a target of the same "
                         f"shape, got input {x.shape} and target {t.shape}")
    if t.dtype.kind not in "iu":
        raise TypeError(f"{name}: expected class indices of an integer dtype (e.g. int64), got "
                        f"dtype {t.dtype}")
    rows, t = (x, t) if x.ndim == 2 else (x[None], t[None])
    n_classes = rows.shape[1]
    xp = namespace(t)
    listed = xp.cumprod(t != -1, axis=1).astype(bool)  # slots before the first -1
    bad = listed & ((t < 0) | (t >= n_classes))
    if bad.any():
        raise IndexError(f"{name}: target {int(t[bad][0])} is out of range for {n_classes} "
                         f"classes (expected 0 <= target < {n_classes}, -1 ending the list)")
    labels = xp.where(listed, t, 0)
    is_label = xp.zeros(rows.shape, dtype=bool)
    sample, slot = xp.nonzero(listed)
    is_label[sample, t[sample, slot]] = True
    at_labels = ag.take_along_dim(rows, labels, 1)  # (N, slots)
    pairs = _hinge(1.0 - (at_labels[:, :, None] - rows[:, None, :]))  # (N, slots, C)
    keep = listed[:, :, None] & ~is_label[:, None, :]
    loss = ag.where(keep, pairs, 0.0).sum((1, 2)) / n_classes
    return _reduce(loss if x.ndim == 2 else loss[0], reduction, name)


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target, margin: float = 0.0,
                          size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """1 - cos(x1, x2) where y = 1, max(0, cos(x1, x2) - margin) where y = -1, with
    cos = <x1, x2> / sqrt((|x1|^2 + 1e-12)(|x2|^2 + 1e-12)) (PyTorch's epsilon).

    Shape: x1, x2 (N, D) with y (N,), or (D,) with a 0-d y.
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    name = "cosine_embedding_loss"
    x1, x2 = tensor_arg(input1), tensor_arg(input2)
    y = array_like(name, target, x1._data)
    if y.ndim not in (0, 1) or x1.ndim != y.ndim + 1 or x2.ndim != y.ndim + 1:
        raise ValueError(f"{name}: expected x1, x2 of shape (N, D) with a target (N,), or (D,) "
                         f"with a 0-d target, got {x1.shape}, {x2.shape} and {y.shape}")
    broadcast_shapes(name, x1.shape, x2.shape)
    dim = y.ndim
    dot = (x1 * x2).sum(dim)
    sq1 = (x1 * x1).sum(dim) + 1e-12
    sq2 = (x2 * x2).sum(dim) + 1e-12
    cos = dot / ag.sqrt(sq1 * sq2)
    loss = ag.where(y == 1, 1.0 - cos, 0.0) + ag.where(y == -1, _hinge(cos - margin), 0.0)
    return _reduce(loss, reduction, name)


def triplet_margin_with_distance_loss(anchor: Tensor, positive: Tensor, negative: Tensor, *,
                                      distance_function: Callable | None = None,
                                      margin: float = 1.0, swap: bool = False,
                                      reduction: str = "mean") -> Tensor:
    """max(0, d(a, p) - d(a, n) + margin) with any distance function ``d`` (default
    ``pairwise_distance``); ``swap`` uses min(d(a, n), d(p, n)), the harder negative."""
    name = "triplet_margin_with_distance_loss"
    check_reduction(name, reduction)
    if margin <= 0:
        raise ValueError(f"{name}: margin must be greater than 0, got {margin}")
    a, pos, neg = tensor_arg(anchor), tensor_arg(positive), tensor_arg(negative)
    if not a.ndim == pos.ndim == neg.ndim:
        raise ValueError(f"{name}: anchor, positive and negative should have the same number "
                         f"of dims, got shapes {a.shape}, {pos.shape} and {neg.shape}")
    distance = pairwise_distance if distance_function is None else distance_function
    d_pos, d_neg = distance(a, pos), distance(a, neg)
    if swap:
        d_neg = ag.minimum(d_neg, distance(pos, neg))
    return _reduce(_hinge(margin + d_pos - d_neg), reduction, name)
