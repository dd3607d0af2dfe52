"""Hand-written NumPy training steps for the models of ``bench_models.py`` and the
LSTM of ``bench_sequence.py``.

Written the way the course writes them: an explicit forward that keeps what the
backward needs, and an explicit backward (im2col with a strided window view,
col2im by a loop over kernel offsets, max pooling with a 2 x 2 reshape and a
mask; backpropagation through time for the LSTM).  Plain SGD (Adam for the LSTM)
updates the arrays in place.  The benchmarks compare the engine against these to
measure what the autograd machinery costs.
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


# ----------------------------------------------------------------------- LSTM
def sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * np.tanh(0.5 * x) + 0.5  # exact identity, no overflow


class Adam:
    """torch.optim.Adam's update (no weight decay), on a dict of arrays in place."""

    def __init__(self, params: dict, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8):
        self.lr, (self.b1, self.b2), self.eps, self.t = lr, betas, eps, 0
        self.m = {k: np.zeros_like(p) for k, p in params.items()}
        self.v = {k: np.zeros_like(p) for k, p in params.items()}

    def step(self, params: dict, grads: dict) -> None:
        self.t += 1
        step_size = self.lr / (1 - self.b1 ** self.t)
        root_correction = np.sqrt(1 - self.b2 ** self.t)
        for k, p in params.items():
            g, m, v = grads[k], self.m[k], self.v[k]
            m *= self.b1
            m += (1 - self.b1) * g
            v *= self.b2
            v += (1 - self.b2) * g * g
            p -= step_size * m / (np.sqrt(v) / root_correction + self.eps)


def lstm_step(params: dict, adam: Adam, x: np.ndarray, labels: np.ndarray) -> float:
    """One Adam step of an LSTM (PyTorch's layout and gate order i, f, g, o; zero initial
    state) with a linear head on every step and mean cross-entropy over all steps:
    backpropagation through time written out.  ``x`` (T, B, I); params "w_ih", "w_hh",
    "b_ih", "b_hh", "w_head", "b_head"."""
    w_ih, w_hh, w_head = params["w_ih"], params["w_hh"], params["w_head"]
    steps, batch, _ = x.shape
    hidden = w_hh.shape[1]
    xw = (x.reshape(steps * batch, -1) @ w_ih.T + params["b_ih"] + params["b_hh"]).reshape(
        steps, batch, 4 * hidden)
    acts = np.empty((steps, batch, 4 * hidden), dtype=x.dtype)  # i, f, g, o after activation
    cs = np.zeros((steps + 1, batch, hidden), dtype=x.dtype)  # cs[t + 1]: cell after step t
    hs = np.zeros((steps + 1, batch, hidden), dtype=x.dtype)
    tanh_cs = np.empty((steps, batch, hidden), dtype=x.dtype)
    for t in range(steps):
        gates = xw[t] + hs[t] @ w_hh.T
        a = acts[t]
        a[:, :2 * hidden] = sigmoid(gates[:, :2 * hidden])
        a[:, 2 * hidden:3 * hidden] = np.tanh(gates[:, 2 * hidden:3 * hidden])
        a[:, 3 * hidden:] = sigmoid(gates[:, 3 * hidden:])
        i, f, g, o = np.split(a, 4, axis=1)
        cs[t + 1] = f * cs[t] + i * g
        tanh_cs[t] = np.tanh(cs[t + 1])
        hs[t + 1] = o * tanh_cs[t]
    outputs = hs[1:].reshape(steps * batch, hidden)
    loss, d_logits = cross_entropy(outputs @ w_head.T + params["b_head"], labels)
    grads = {"w_head": d_logits.T @ outputs, "b_head": d_logits.sum(0)}
    d_outputs = (d_logits @ w_head).reshape(steps, batch, hidden)
    d_gates = np.empty_like(acts)
    dh_next = np.zeros((batch, hidden), dtype=x.dtype)
    dc_next = np.zeros((batch, hidden), dtype=x.dtype)
    for t in reversed(range(steps)):
        i, f, g, o = np.split(acts[t], 4, axis=1)
        dh = d_outputs[t] + dh_next
        dc = dc_next + dh * o * (1 - tanh_cs[t] ** 2)
        di, df, dg, do = np.split(d_gates[t], 4, axis=1)
        np.multiply(dc * g, i * (1 - i), out=di)
        np.multiply(dc * cs[t], f * (1 - f), out=df)
        np.multiply(dc * i, 1 - g * g, out=dg)
        np.multiply(dh * tanh_cs[t], o * (1 - o), out=do)
        dc_next = dc * f
        dh_next = d_gates[t] @ w_hh
    flat = d_gates.reshape(steps * batch, 4 * hidden)
    grads["w_ih"] = flat.T @ x.reshape(steps * batch, -1)
    grads["w_hh"] = flat.T @ hs[:-1].reshape(steps * batch, hidden)
    grads["b_ih"] = grads["b_hh"] = flat.sum(0)
    adam.step(params, grads)
    return float(loss)
