"""Float64 references and input strategies for the recurrent layer primitives
(``autograd/ops/recurrent.py``), used by their entries in ``opinfo.INTERNAL_DB``.

Each reference is the textbook loop over time with the gates written out one by one
(sigmoid as 1 / (1 + e^-x)), independent of the primitives' fused arithmetic.
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _order(steps: int, reverse: bool):
    return range(steps - 1, -1, -1) if reverse else range(steps)


def rnn_ref(xw, h0, w_hh, relu, reverse):
    out, h = np.empty(xw.shape), h0
    for t in _order(len(xw), reverse):
        a = xw[t] + h @ w_hh.T
        h = out[t] = np.maximum(a, 0) if relu else np.tanh(a)
    return out


def gru_ref(xw, h0, w_hh, *bias, reverse):
    size = h0.shape[-1]
    out, h = np.empty(xw.shape[:2] + (size,)), h0
    for t in _order(len(xw), reverse):
        u = h @ w_hh.T + (bias[0] if bias else 0)
        a_r, a_z, a_n = np.split(xw[t], 3, axis=-1)
        u_r, u_z, u_n = np.split(u, 3, axis=-1)
        r, z = _sigmoid(a_r + u_r), _sigmoid(a_z + u_z)
        n = np.tanh(a_n + r * u_n)
        h = out[t] = (1 - z) * n + z * h
    return out


def lstm_ref(xw, h0, c0, w_hh, *projection, reverse):
    width, size = h0.shape[-1], c0.shape[-1]
    out, h, c = np.empty(xw.shape[:2] + (width + size,)), h0, c0
    for t in _order(len(xw), reverse):
        i, f, g, o = np.split(xw[t] + h @ w_hh.T, 4, axis=-1)
        c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
        h = _sigmoid(o) * np.tanh(c)
        if projection:
            h = h @ projection[0].T
        out[t, :, :width], out[t, :, width:] = h, c
    return out


def _sizes(draw, lim) -> tuple:
    """(steps, batch, hidden), each at least 1."""
    side = st.integers(1, max(lim.max_side, 1))
    return draw(side), draw(side), draw(side)


@st.composite
def rnn_joint(draw, lim) -> tuple:
    """tanh only: relu's kink at 0 is tested apart, away from it (test_recurrent_ops.py)."""
    steps, batch, size = _sizes(draw, lim)
    return ((steps, batch, size), (batch, size), (size, size)), \
        {"relu": False, "reverse": draw(st.booleans())}


@st.composite
def gru_joint(draw, lim) -> tuple:
    steps, batch, size = _sizes(draw, lim)
    shapes = ((steps, batch, 3 * size), (batch, size), (3 * size, size))
    if draw(st.booleans()):
        shapes += ((3 * size,),)
    return shapes, {"reverse": draw(st.booleans())}


@st.composite
def lstm_joint(draw, lim) -> tuple:
    steps, batch, size = _sizes(draw, lim)
    width = draw(st.integers(1, size)) if draw(st.booleans()) else None  # a projection
    shapes = ((steps, batch, 4 * size), (batch, width or size), (batch, size),
              (4 * size, width or size))
    if width is not None:
        shapes += ((width, size),)
    return shapes, {"reverse": draw(st.booleans())}
