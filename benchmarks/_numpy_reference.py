"""Hand-written NumPy training steps for the models of ``bench_models.py``.

Written the way the course writes them: an explicit forward that keeps what the
backward needs, and an explicit backward (im2col with a strided window view,
col2im by a loop over kernel offsets, max pooling with a 2 x 2 reshape and a
mask).  Plain SGD updates the arrays in place.  The benchmark compares the
engine against these to measure what the autograd machinery costs.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def cross_entropy(logits: np.ndarray, labels: np.ndarray) -> tuple:
    """Mean softmax cross-entropy and its gradient with respect to the logits."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n = len(labels)
    loss = -log_probs[np.arange(n), labels].mean()
    grad = np.exp(log_probs)
    grad[np.arange(n), labels] -= 1
    return loss, grad / n


def sgd(params: dict, grads: dict, lr: float) -> None:
    for name, p in params.items():
        p -= lr * grads[name]


# ------------------------------------------------------------------------ MLP
def mlp_step(params: dict, x: np.ndarray, labels: np.ndarray, lr: float = 0.01) -> float:
    """One SGD step of Linear-ReLU-Linear-ReLU-Linear; params "w1", "b1", ... with
    PyTorch's layout (weights (out, in))."""
    w1, b1, w2, b2, w3, b3 = (params[k] for k in ("w1", "b1", "w2", "b2", "w3", "b3"))
    z1 = x @ w1.T + b1
    a1 = np.maximum(z1, 0)
    z2 = a1 @ w2.T + b2
    a2 = np.maximum(z2, 0)
    logits = a2 @ w3.T + b3
    loss, d3 = cross_entropy(logits, labels)
    grads = {"w3": d3.T @ a2, "b3": d3.sum(0)}
    d2 = (d3 @ w3) * (z2 > 0)
    grads.update(w2=d2.T @ a1, b2=d2.sum(0))
    d1 = (d2 @ w2) * (z1 > 0)
    grads.update(w1=d1.T @ x, b1=d1.sum(0))
    sgd(params, grads, lr)
    return float(loss)


# ------------------------------------------------------------------------ CNN
def conv_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray, pad: int) -> tuple:
    """Stride-1 convolution by im2col: rows are (n, i, j) positions, columns (c, p, q)."""
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    windows = sliding_window_view(xp, (kh, kw), axis=(2, 3))  # (n, c, ho, wo, kh, kw)
    ho, wo = windows.shape[2:4]
    cols = windows.transpose(0, 2, 3, 1, 4, 5).reshape(n * ho * wo, c * kh * kw)
    out = cols @ w.reshape(o, -1).T + b
    return out.reshape(n, ho, wo, o).transpose(0, 3, 1, 2), (cols, xp.shape)


def conv_backward(g: np.ndarray, w: np.ndarray, cache: tuple, pad: int, need_dx: bool) -> tuple:
    cols, padded_shape = cache
    n, o, ho, wo = g.shape
    _, c, kh, kw = w.shape
    g2 = g.transpose(0, 2, 3, 1).reshape(-1, o)
    dw = (g2.T @ cols).reshape(w.shape)
    db = g2.sum(0)
    if not need_dx:
        return None, dw, db
    dcols = (g2 @ w.reshape(o, -1)).reshape(n, ho, wo, c, kh, kw)
    dxp = np.zeros(padded_shape, dtype=g.dtype)
    for p in range(kh):
        for q in range(kw):
            dxp[:, :, p:p + ho, q:q + wo] += dcols[:, :, :, :, p, q].transpose(0, 3, 1, 2)
    return dxp[:, :, pad:padded_shape[2] - pad, pad:padded_shape[3] - pad], dw, db


def maxpool2_forward(x: np.ndarray) -> tuple:
    n, c, h, w = x.shape
    blocks = x.reshape(n, c, h // 2, 2, w // 2, 2)
    out = blocks.max(axis=(3, 5))
    return out, (blocks, out)


def maxpool2_backward(g: np.ndarray, cache: tuple) -> np.ndarray:
    blocks, out = cache
    mask = blocks == out[:, :, :, None, :, None]
    dx = mask * g[:, :, :, None, :, None]
    n, c, h2, _, w2, _ = blocks.shape
    return dx.reshape(n, c, h2 * 2, w2 * 2)


def cnn_step(params: dict, x: np.ndarray, labels: np.ndarray, lr: float = 0.01) -> float:
    """One SGD step of conv(1->32)-relu-pool-conv(32->64)-relu-pool-linear-relu-linear."""
    z1, c1 = conv_forward(x, params["c1w"], params["c1b"], 1)
    a1 = np.maximum(z1, 0)
    p1, q1 = maxpool2_forward(a1)
    z2, c2 = conv_forward(p1, params["c2w"], params["c2b"], 1)
    a2 = np.maximum(z2, 0)
    p2, q2 = maxpool2_forward(a2)
    flat = p2.reshape(len(x), -1)
    z3 = flat @ params["l1w"].T + params["l1b"]
    a3 = np.maximum(z3, 0)
    logits = a3 @ params["l2w"].T + params["l2b"]
    loss, d = cross_entropy(logits, labels)
    grads = {"l2w": d.T @ a3, "l2b": d.sum(0)}
    d = (d @ params["l2w"]) * (z3 > 0)
    grads.update(l1w=d.T @ flat, l1b=d.sum(0))
    d = (d @ params["l1w"]).reshape(p2.shape)
    d = maxpool2_backward(d, q2) * (z2 > 0)
    d, grads["c2w"], grads["c2b"] = conv_backward(d, params["c2w"], c2, 1, need_dx=True)
    d = maxpool2_backward(d, q1) * (z1 > 0)
    _, grads["c1w"], grads["c1b"] = conv_backward(d, params["c1w"], c1, 1, need_dx=False)
    sgd(params, grads, lr)
    return float(loss)
