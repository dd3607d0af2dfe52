"""Connectionist temporal classification loss (Graves et al., 2006).

For log-probabilities y (T, C) over C classes (class ``blank`` included) and a
target l of length S, CTC sums over every alignment: every path pi of length T
that becomes l after merging repeats and then removing blanks,

    loss = -log sum_pi prod_t y_t(pi_t).

The sum is the forward (alpha) recursion over the extended target
l' = (blank, l_1, blank, l_2, ..., l_S, blank) of length U = 2S + 1, in log space:

    alpha_0(0) = y_0(blank),  alpha_0(1) = y_0(l_1),  alpha_0(s) = log 0 otherwise
    alpha_t(s) = logsumexp(alpha_{t-1}(s), alpha_{t-1}(s-1), alpha_{t-1}(s-2) if skip(s))
                 + y_t(l'_s)
    loss = -logsumexp(alpha_{T-1}(U-1), alpha_{T-1}(U-2))

where skip(s) holds when l'_s is not blank and differs from l'_{s-2} (a path
may jump over a blank only between different labels).  It is composed of
gather, pad, stack, logsumexp and where, so its gradient comes from the engine.

The lengths and labels are bookkeeping on the host (small integer arrays, as
PyTorch's lengths); what meets the log-probabilities is copied to their device.
"""
from __future__ import annotations

import numpy as np

import graphgrad.autograd as ag
from graphgrad.autograd import Tensor
from graphgrad.autograd.arrays import namespace, to_host
from graphgrad.autograd.tensor import tensor_arg, unwrap

from ._utils import check_reduction

__all__ = ["ctc_loss"]

# log 0, kept finite: an exact -inf makes logsumexp's gradient 0 * nan = nan on
# states no path reaches.  exp(LOG_ZERO - x) is exactly 0 for any reachable x.
LOG_ZERO = -1e30


def _lengths(name: str, what: str, lengths, n: int) -> np.ndarray:
    array = np.asarray(to_host(unwrap(lengths)), dtype=np.int64)
    array = array.reshape(-1)
    if array.shape != (n,):
        raise ValueError(f"{name}: {what} must have one entry per batch element ({n}), got "
                         f"shape {array.shape}")
    if (array < 0).any():
        raise ValueError(f"{name}: {what} must be non-negative, got {array.tolist()}")
    return array


def _target_matrix(name: str, targets, target_lengths: np.ndarray) -> np.ndarray:
    """Targets as an (N, S_max) int host array, from padded (N, S) or concatenated 1-D form."""
    t = to_host(unwrap(targets))
    if t.dtype.kind not in "iu":
        raise TypeError(f"{name}: targets must be integers, got dtype {t.dtype}")
    n, longest = len(target_lengths), int(target_lengths.max(initial=0))
    if t.ndim == 2:
        if t.shape[0] != n or t.shape[1] < longest:
            raise ValueError(f"{name}: padded targets of shape {t.shape} need N = {n} rows of "
                             f"at least max(target_lengths) = {longest} labels")
        return t[:, :longest].astype(np.int64)
    if t.ndim != 1 or t.size != target_lengths.sum():
        raise ValueError(f"{name}: targets of shape {t.shape} must be (N, S) padded or 1-D "
                         f"with sum(target_lengths) = {int(target_lengths.sum())} labels")
    out = np.zeros((n, longest), dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(target_lengths)[:-1]])
    for i, (start, length) in enumerate(zip(starts, target_lengths, strict=True)):
        out[i, :length] = t[start:start + length]
    return out


def ctc_loss(log_probs: Tensor, targets, input_lengths, target_lengths, blank: int = 0,
             reduction: str = "mean", zero_infinity: bool = False) -> Tensor:
    """The CTC loss -log p(target | input), summed over alignments (see the module docstring).

    Shape: ``log_probs`` (T, N, C) log-softmax outputs (or (T, C) for one
    sequence); ``targets`` (N, S) padded or 1-D concatenated (sum of
    target_lengths) class indices, never ``blank``; ``input_lengths`` and
    ``target_lengths`` (N,) (ints, lists, arrays or Tensors).

    ``reduction``: "none" gives (N,) losses; "sum" their sum; "mean" (default)
    divides each loss by its target length (at least 1) and averages over the
    batch, as PyTorch.  A target that no alignment can produce (input shorter
    than the target plus its repeated neighbours) has an infinite loss and no
    gradient; ``zero_infinity=True`` makes that loss 0.

    Example: ``F.ctc_loss(logits.log_softmax(2), targets, [50] * N, lengths)``.
    """
    name = "ctc_loss"
    check_reduction(name, reduction)
    x = tensor_arg(log_probs)
    batched = x.ndim == 3
    if x.ndim not in (2, 3):
        raise ValueError(f"{name}: log_probs must be (T, N, C) or (T, C), got {x.shape}")
    if not batched:
        x = x[:, None]
        targets = to_host(unwrap(targets))[None]
    steps, n, classes = x.shape
    if not 0 <= blank < classes:
        raise ValueError(f"{name}: blank {blank} is not a class index in [0, {classes})")
    in_len = _lengths(name, "input_lengths", input_lengths, n)
    tgt_len = _lengths(name, "target_lengths", target_lengths, n)
    if (in_len > steps).any():
        raise ValueError(f"{name}: input_lengths {in_len.tolist()} exceed the {steps} steps of "
                         f"log_probs {x.shape}")
    labels = _target_matrix(name, targets, tgt_len)
    valid = np.arange(labels.shape[1]) < tgt_len[:, None]
    if valid.any() and (labels[valid].min() < 0 or labels[valid].max() >= classes
                        or (labels[valid] == blank).any()):
        raise ValueError(f"{name}: targets must be class indices in [0, {classes}) other than "
                         f"blank = {blank}")
    labels = np.where(valid, labels, blank)

    # Extended targets l' (N, U) and where a transition may skip a blank.
    width = 2 * labels.shape[1] + 1
    ext = np.full((n, width), blank, dtype=np.int64)
    ext[:, 1::2] = labels
    skip = np.zeros((n, width), dtype=bool)
    skip[:, 2:] = (ext[:, 2:] != blank) & (ext[:, 2:] != ext[:, :-2])
    xp = namespace(x._data)
    skip_bias = xp.asarray(np.where(skip, 0.0, LOG_ZERO).astype(x.dtype))

    # y_t(l'_s) for every t, n, s: one gather; -inf (probability 0) floored to LOG_ZERO.
    y = ag.take_along_dim(x, xp.broadcast_to(xp.asarray(ext), (steps, n, width)), 2)
    if (y._data == -np.inf).any():
        y = ag.clip(y, min=LOG_ZERO)

    start = np.full(width, LOG_ZERO, dtype=x.dtype)
    start[:2] = 0.0
    alpha = y[0] + xp.asarray(start)
    ragged = (in_len != in_len.max()).any()
    running = xp.asarray(in_len)[:, None]
    for t in range(1, int(in_len.max(initial=0))):
        shifted = ag.pad(alpha, (2, 0), value=LOG_ZERO)
        paths = ag.stack([alpha, shifted[:, 1:-1], shifted[:, :-2] + skip_bias])
        new = ag.logsumexp(paths, 0) + y[t]
        alpha = ag.where(t < running, new, alpha) if ragged else new

    # Paths end on the last label or the blank after it: s = U_n - 1 and U_n - 2.
    last = 2 * tgt_len
    ends = np.stack([last, np.maximum(last - 1, 0)], 1)
    end_bias = np.zeros((n, 2), dtype=x.dtype)
    end_bias[tgt_len == 0, 1] = LOG_ZERO  # an empty target ends on its only blank
    loss = -ag.logsumexp(ag.take_along_dim(alpha, xp.asarray(ends), 1) + xp.asarray(end_bias), 1)

    # No alignment exists when the input is shorter than the target plus one blank
    # between each pair of repeated labels; an empty input aligns only an empty target.
    repeats = ((labels[:, 1:] == labels[:, :-1]) & valid[:, 1:]).sum(1)
    impossible = in_len < tgt_len + repeats
    if impossible.any():
        loss = ag.where(xp.asarray(impossible), 0.0 if zero_infinity else np.inf, loss)
    if (in_len == 0).any():
        kept = xp.where(xp.asarray(impossible), loss._data, 0.0)
        loss = ag.where(xp.asarray(in_len == 0), kept, loss)
    if reduction == "mean":
        return (loss / xp.asarray(np.maximum(tgt_len, 1).astype(x.dtype))).mean()
    if reduction == "sum":
        return loss.sum()
    return loss if batched else loss[0]
