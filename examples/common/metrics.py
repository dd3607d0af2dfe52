"""Evaluation helpers: predicted labels, accuracy, and the exponentially weighted average."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

import graphgrad as gg


def predict(model, X) -> np.ndarray:
    """Class labels (int64 array) that ``model`` predicts for the rows of ``X``.

    An output with one column (or 1-D) is a logit: label 1 where it is > 0, i.e.
    where sigmoid(logit) > 0.5.  Several columns are class scores: the argmax.
    The model runs in eval mode (dropout off, batch norm on running statistics)
    with no graph recorded; its previous mode is restored afterwards.
    """
    was_training = model.training
    model.eval()
    try:
        with gg.no_grad():
            out = model(X if isinstance(X, gg.Tensor) else gg.tensor(np.asarray(X))).numpy()
    finally:
        model.train(was_training)
    if out.ndim == 1 or out.shape[1] == 1:
        return (out.reshape(-1) > 0).astype(np.int64)
    return out.argmax(axis=1).astype(np.int64)


def accuracy(model, X, y) -> float:
    """Fraction of the rows of ``X`` whose predicted label equals ``y``."""
    y = np.asarray(y.numpy() if isinstance(y, gg.Tensor) else y).reshape(-1)
    return float(np.mean(predict(model, X) == y))


def ema(values: Sequence[float], beta: float = 0.9, bias_correction: bool = True) -> np.ndarray:
    """The exponentially weighted average ``v_t = beta v_{t-1} + (1 - beta) x_t``, v_0 = 0.

    With ``bias_correction`` each ``v_t`` is divided by ``1 - beta**t``, which
    removes the pull towards 0 at the start (a constant sequence stays constant).
    It averages over roughly the last ``1 / (1 - beta)`` values.
    """
    if not 0 <= beta < 1:
        raise ValueError(f"ema: beta must be in [0, 1), got {beta}")
    out = np.empty(len(values))
    v = 0.0
    for t, x in enumerate(values, start=1):
        v = beta * v + (1 - beta) * float(x)
        out[t - 1] = v / (1 - beta**t) if bias_correction else v
    return out
