"""Recurrent layers over a whole sequence, one primitive each: the Elman RNN (tanh or
relu), the GRU and the LSTM, with PyTorch's gate layout.

Composed of small ops, a layer over T steps records a dozen nodes per step, and a small
model's training step is then mostly the engine's bookkeeping.  Here the forward runs
the recurrence as a loop of array-module calls (NumPy's or a device's) and records one
node; the rule runs backpropagation through time and gives every input's gradient in
one call (a ``jointly`` op: the inputs' gradients share the loop).

The input projection is not part of the op: ``xw`` (T, B, G*H) holds x_t W_ih^T + b of
every step, made by one ``linear`` (G gate blocks stacked as in PyTorch's weights).  With
h the state before the step (h_0 given), step t computes

    RNN   h' = act(xw_t + h W_hh^T)                                 act = tanh or relu
    GRU   [a_r, a_z, a_n] = xw_t,  [u_r, u_z, u_n] = h W_hh^T + b_hh
          r = sigmoid(a_r + u_r),  z = sigmoid(a_z + u_z),  n = tanh(a_n + r * u_n)
          h' = (1 - z) * n + z * h
    LSTM  [i, f, g, o] = [sigmoid, sigmoid, tanh, sigmoid](xw_t + h W_hh^T)
          c' = f * c + i * g,  m = o * tanh(c'),  h' = m  (m W_hr^T with a projection)

``reverse`` runs the steps from T - 1 down to 0 (the second direction of a bidirectional
layer).  The output holds every step's state: h (T, B, H) for the RNN and the GRU, and
[h, c] side by side (T, B, P + H) for the LSTM (P = H without a projection).

Backward.  The rule reads the gates of every step that the forward kept (a
``Workspace``), or, on Tensors and after a first backward freed them, recomputes them
at once from the output (the state before step t is the output of step t - 1); only
the adjoint recurrence is a loop.  With dh_t the whole gradient reaching h_t (from the
output and from step t + 1) and g_t the output's gradient at step t:

    RNN   da_t = dh_t act'(h_t);  dh_{t-1} = g_{t-1} + da_t W_hh      (relu'(0) = 0)
    GRU   du_t = dh_t [k_r, k_z, k_n r]_t,  da_t = dh_t [k_r, k_z, k_n]_t,
          dh_{t-1} = g_{t-1} + dh_t z_t + du_t W_hh,  where k_n = (1 - z)(1 - n^2),
          k_r = k_n u_n r (1 - r),  k_z = (h_{t-1} - n) z (1 - z)
    LSTM  dm_t = dh_t (W_hr),  dc_t = g^c_t + dm_t o (1 - tanh^2 c_t) + dc_{t+1} f_{t+1},
          da_t = [dc_t g i(1 - i), dc_t c_{t-1} f(1 - f), dc_t i(1 - g^2),
                  dm_t tanh(c_t) o(1 - o)],   dh_{t-1} = g^h_{t-1} + da_t W_hh

and dxw_t = da_t, dh_0 and dc_0 are what reaches the state before step 0, and the
weights' gradients are sums over steps: dW_hh = sum_t du_t^T h_{t-1} (du = da for the
RNN and the LSTM), db_hh = sum_t du_t, dW_hr = sum_t dh_t^T m_t.  The rule is written
with operators and Ops: on Tensors (``create_graph``) it records, so the gradient is
differentiable again.
"""
from __future__ import annotations

import functools
import itertools

import numpy as np

from ..arrays import namespace
from ..grad_buffers import Product
from ..graph import apply
from ..tensor import Tensor, tensor_arg, unwrap
from ._registry import Op
from .elementwise import TANH, _indicator
from .shape import CAT, STACK


def _steps(count: int, reverse: bool) -> range:
    return range(count - 1, -1, -1) if reverse else range(count)


def _out_like(xp, xw, shape: tuple, *others):
    return xp.empty(shape, dtype=np.result_type(xw.dtype, *(x.dtype for x in others)))


@functools.lru_cache(maxsize=64)
def _host_gate_columns(kinds: str, size: int, dtype: np.dtype) -> tuple:
    scale = np.repeat([0.5 if k == "s" else 1.0 for k in kinds], size).astype(dtype)
    offset = np.repeat([0.5 if k == "s" else 0.0 for k in kinds], size).astype(dtype)
    scale.flags.writeable = offset.flags.writeable = False
    return scale, offset


def _gate_columns(xp, kinds: str, size: int, dtype: np.dtype) -> tuple:
    """(scale, offset) per column of gate blocks ``kinds`` ("s" sigmoid, "t" tanh, each
    ``size`` wide), so that every gate is one tanh: act(x) = tanh(x * scale) * scale +
    offset, as sigmoid(x) = tanh(x / 2) / 2 + 1 / 2 (no overflow for any x; its error is
    absolute, a unit in the last place of 1/2).  ``xp`` arrays (made once on the host,
    copied to a device)."""
    scale, offset = _host_gate_columns(kinds, size, dtype)
    return (scale, offset) if xp is np else (xp.asarray(scale), xp.asarray(offset))


def _gates(a, kinds: str):
    """The activations of gate blocks ``kinds`` of the pre-activations ``a`` (arrays or
    Tensors; see ``_gate_columns``)."""
    scale, offset = _gate_columns(namespace(unwrap(a)), kinds, a.shape[-1] // len(kinds),
                                  a.dtype)
    return TANH(a * scale) * scale + offset


class Workspace:
    """What a layer's forward keeps for its first-order rule: the gate activations of
    every step, so that backward need not recompute them (``gates``: a tuple of arrays,
    None once a rule took them).  The rule on Tensors (``create_graph``) recomputes them
    from the inputs and the output instead, so that its gradient stays differentiable;
    so does a second backward through a retained graph."""

    __slots__ = ("gates",)

    def __init__(self) -> None:
        self.gates = None

    def take(self, grad, reverse: bool) -> tuple | None:
        """The saved activations, in forward time, for a first-order rule (else None)."""
        if self.gates is None or isinstance(grad, Tensor):
            return None
        gates, self.gates = self.gates, None  # freed with the rule's other temporaries
        return tuple(a[::-1] for a in gates) if reverse else gates


# ------------------------------------------------------------------ forwards
# Loops of array-module calls updating in place; the tanh's argument scale is folded into the
# input projection and the weights once, outside the loop.

def _rnn_forward(xw, h0, w_hh, *, relu, reverse):
    xp = namespace(xw)
    out = _out_like(xp, xw, xw.shape, h0, w_hh)
    h, w = h0, xp.ascontiguousarray(w_hh.T)
    for t in _steps(len(xw), reverse):
        a = out[t]
        xp.matmul(h, w, out=a)
        a += xw[t]
        if relu:
            xp.maximum(a, 0, out=a)
        else:
            xp.tanh(a, out=a)
        h = a
    return out


def _gru_forward(xw, h0, w_hh, b_hh=None, *, reverse, workspace=None):
    xp = namespace(xw)
    steps, batch, gates = xw.shape
    size = gates // 3
    out = _out_like(xp, xw, (steps, batch, size), h0, w_hh)
    scale, offset = _gate_columns(xp, "ss", size, out.dtype)
    columns = xp.concatenate([scale, xp.ones(size, out.dtype)])  # r and z's scale only
    xs, w = xw * columns, xp.ascontiguousarray(w_hh.T * columns)
    b = None if b_hh is None else b_hh * columns
    rz, n, u = (xp.empty((steps, batch, k * size), out.dtype) for k in (2, 1, 3))
    h = h0
    for t in _steps(steps, reverse):
        a, u_t = xs[t], xp.matmul(h, w, out=u[t])
        if b is not None:
            u_t += b
        gate = xp.add(a[:, :2 * size], u_t[:, :2 * size], out=rz[t])
        xp.tanh(gate, out=gate)
        gate *= scale
        gate += offset
        new_n = xp.multiply(u_t[:, 2 * size:], gate[:, :size], out=n[t])
        new_n += a[:, 2 * size:]
        xp.tanh(new_n, out=new_n)
        new = out[t]
        xp.subtract(h, new_n, out=new)  # h' = n + z (h - n)
        new *= gate[:, size:]
        new += new_n
        h = new
    if workspace is not None:
        workspace.gates = (rz, n, u[..., 2 * size:])
    return out


def _lstm_forward(xw, h0, c0, w_hh, w_hr=None, *, reverse, workspace=None):
    xp = namespace(xw)
    steps, batch, gates = xw.shape
    size, width = gates // 4, h0.shape[-1]
    out = _out_like(xp, xw, (steps, batch, width + size), h0, c0, w_hh)
    scale, offset = _gate_columns(xp, "ssts", size, out.dtype)
    xs, w = xw * scale, xp.ascontiguousarray(w_hh.T * scale)
    act, tanh_c = xp.empty(xs.shape, out.dtype), xp.empty((steps, batch, size), out.dtype)
    h, c = h0, c0
    for t in _steps(steps, reverse):
        a = xp.matmul(h, w, out=act[t])
        a += xs[t]
        xp.tanh(a, out=a)
        a *= scale
        a += offset
        i, f, g, o = (a[:, k * size:(k + 1) * size] for k in range(4))
        h, new = out[t, :, :width], out[t, :, width:]
        xp.multiply(f, c, out=new)
        new += i * g
        m = xp.tanh(new, out=tanh_c[t])
        if w_hr is None:
            xp.multiply(m, o, out=h)
        else:
            xp.matmul(m * o, w_hr.T, out=h)
        c = new
    if workspace is not None:
        workspace.gates = (act, tanh_c)
    return out


# -------------------------------------------------------------------- rules
def _join(*parts):
    """``parts`` side by side along their last dim (arrays or Tensors alike)."""
    if not isinstance(parts[0], Tensor):
        return namespace(parts[0]).concatenate(parts, axis=-1)
    bounds = tuple(itertools.accumulate([p.shape[-1] for p in parts], initial=0))
    return CAT(*parts, dim=parts[0].ndim - 1, bounds=bounds)


def _previous(first, states):
    """The state before each step: ``first``, then the states of all steps but the last."""
    steps = states.shape[0]
    return CAT(first[None], states[:steps - 1], dim=0, bounds=(0, 1, steps))


def _summed_product(d, x):
    """sum over steps and batch of d_t^T x_t, for a weight used at every step (lazy on
    arrays: a ``Product``, summed with the weight's other uses by one matrix product)."""
    d2, x2 = d.reshape(-1, d.shape[-1]), x.reshape(-1, x.shape[-1])
    if isinstance(d2, Tensor):
        return d2.T @ x2
    return Product(d2, x2)


def _in_time_order(grad, out, xw, reverse: bool) -> tuple:
    """A reversed layer's values flipped to forward time, where its rule reads them."""
    return (grad[::-1], out[::-1], xw[::-1]) if reverse else (grad, out, xw)


def _rnn_rule(grad, out, inputs, needed, relu, reverse):
    xw, h0, w_hh = inputs
    grad, out, xw = _in_time_order(grad, out, xw, reverse)
    steps = xw.shape[0]
    slope = _indicator(unwrap(out) > 0, out) if relu else 1 - out * out
    da, carry = [None] * steps, None
    for t in reversed(range(steps)):
        dh = grad[t] if carry is None else grad[t] + carry
        da[t] = dh * slope[t]
        if t or needed[1]:
            carry = da[t] @ w_hh
    da = STACK(*da, dim=0)
    return ((da[::-1] if reverse else da) if needed[0] else None,
            carry if needed[1] else None,
            _summed_product(da, _previous(h0, out)) if needed[2] else None)


def _gru_rule(grad, out, inputs, needed, reverse, workspace=None):
    xw, h0, w_hh, *bias = inputs
    saved = workspace and workspace.take(grad, reverse)
    grad, out, xw = _in_time_order(grad, out, xw, reverse)
    steps, size = xw.shape[0], h0.shape[-1]
    h_prev = _previous(h0, out)
    if saved:
        rz, n, u_n = saved
    else:
        u = h_prev @ w_hh.T
        if bias:
            u = u + bias[0]
        rz, u_n = _gates(xw[..., :2 * size] + u[..., :2 * size], "ss"), u[..., 2 * size:]
        n = TANH(xw[..., 2 * size:] + rz[..., :size] * u_n)
    r, z = rz[..., :size], rz[..., size:]
    k_n = (1 - z) * (1 - n * n)
    k_r = k_n * u_n * r * (1 - r)
    k_z = (h_prev - n) * z * (1 - z)
    k_u = _join(k_r, k_z, k_n * r)
    dh, du, carry = [None] * steps, [None] * steps, None
    for t in reversed(range(steps)):
        dh[t] = grad[t] if carry is None else grad[t] + carry
        du[t] = _join(dh[t], dh[t], dh[t]) * k_u[t]
        if t or needed[1]:
            carry = dh[t] * z[t] + du[t] @ w_hh
    du = STACK(*du, dim=0)
    dxw = None
    if needed[0]:
        dh = STACK(*dh, dim=0)
        dxw = _join(dh, dh, dh) * _join(k_r, k_z, k_n)
        dxw = dxw[::-1] if reverse else dxw
    return (dxw, carry if needed[1] else None,
            _summed_product(du, h_prev) if needed[2] else None,
            *([du.sum(axis=(0, 1))] if bias and needed[3] else [None] * len(bias)))


def _lstm_rule(grad, out, inputs, needed, reverse, workspace=None):
    xw, h0, c0, w_hh, *projection = inputs
    w_hr = projection[0] if projection else None
    saved = workspace and workspace.take(grad, reverse)
    grad, out, xw = _in_time_order(grad, out, xw, reverse)
    steps, size, width = xw.shape[0], c0.shape[-1], h0.shape[-1]
    c = out[..., width:]
    h_prev, c_prev = _previous(h0, out[..., :width]), _previous(c0, c)
    if saved:
        act, tanh_c = saved
    else:
        act, tanh_c = _gates(xw + h_prev @ w_hh.T, "ssts"), TANH(c)
    i, f, g, o = (act[..., k * size:(k + 1) * size] for k in range(4))
    k_c = o * (1 - tanh_c * tanh_c)  # dc_t gets dm_t k_c
    k_a = _join(g * i * (1 - i), c_prev * f * (1 - f), i * (1 - g * g), tanh_c * o * (1 - o))
    g_h, g_c = grad[..., :width], grad[..., width:]
    da, dh, dc = [None] * steps, [None] * steps, None
    for t in reversed(range(steps)):
        dh[t] = g_h[t] if t == steps - 1 else g_h[t] + da[t + 1] @ w_hh
        dm = dh[t] if w_hr is None else dh[t] @ w_hr
        dc = g_c[t] + dm * k_c[t] if dc is None else g_c[t] + dm * k_c[t] + dc * f[t + 1]
        da[t] = _join(dc, dc, dc, dm) * k_a[t]
    da = STACK(*da, dim=0)
    return ((da[::-1] if reverse else da) if needed[0] else None,
            da[0] @ w_hh if needed[1] else None,
            dc * f[0] if needed[2] else None,
            _summed_product(da, h_prev) if needed[3] else None,
            *([_summed_product(STACK(*dh, dim=0), o * tanh_c)] if projection and needed[4]
              else [None] * len(projection)))


RNN_LAYER = Op("rnn_layer", _rnn_forward, _rnn_rule, saves="inputs out", jointly=True)
GRU_LAYER = Op("gru_layer", _gru_forward, _gru_rule, saves="inputs out", jointly=True)
LSTM_LAYER = Op("lstm_layer", _lstm_forward, _lstm_rule, saves="inputs out", jointly=True)


# ------------------------------------------------------------ the functions
def _check(name: str, gates: int, xw: Tensor, states: tuple, w_hh: Tensor) -> None:
    """Raise naming ``name`` unless xw is (T, B, gates * H), each state (B, *) and w_hh
    (gates * H, width of h)."""
    shapes = f"xw {xw.shape}, states {[s.shape for s in states]}, w_hh {w_hh.shape}"
    if xw.ndim != 3 or xw.shape[0] == 0 or xw.shape[-1] % gates:
        raise ValueError(f"{name}: xw must be (T >= 1, B, {gates} * hidden); got {shapes}")
    size = xw.shape[-1] // gates
    if w_hh.ndim != 2 or w_hh.shape[0] != gates * size or any(
            s.ndim != 2 or s.shape[0] != xw.shape[1] for s in states) \
            or states[0].shape[1] != w_hh.shape[1] or states[-1].shape[1] != size:
        raise ValueError(f"{name}: shapes do not fit one layer of hidden size {size}: {shapes}")


def rnn_layer(xw, h0, w_hh, nonlinearity: str = "tanh", reverse: bool = False) -> Tensor:
    """Elman RNN over a sequence: xw (T, B, H), h0 (B, H), w_hh (H, H) -> every step's h
    (T, B, H); ``nonlinearity`` "tanh" or "relu"."""
    xw, h0, w_hh = tensor_arg(xw), tensor_arg(h0), tensor_arg(w_hh)
    _check("rnn_layer", 1, xw, (h0,), w_hh)
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"rnn_layer: nonlinearity must be 'tanh' or 'relu', got "
                         f"{nonlinearity!r}")
    return apply(RNN_LAYER, (xw, h0, w_hh), {"relu": nonlinearity == "relu", "reverse": reverse})


def gru_layer(xw, h0, w_hh, b_hh=None, reverse: bool = False) -> Tensor:
    """GRU over a sequence: xw (T, B, 3H), h0 (B, H), w_hh (3H, H), b_hh (3H,) or None ->
    every step's h (T, B, H)."""
    xw, h0, w_hh = tensor_arg(xw), tensor_arg(h0), tensor_arg(w_hh)
    _check("gru_layer", 3, xw, (h0,), w_hh)
    inputs = (xw, h0, w_hh)
    if b_hh is not None:
        b_hh = tensor_arg(b_hh)
        if b_hh.shape != (w_hh.shape[0],):
            raise ValueError(f"gru_layer: b_hh must be ({w_hh.shape[0]},), got {b_hh.shape}")
        inputs += (b_hh,)
    return apply(GRU_LAYER, inputs, {"reverse": reverse, "workspace": Workspace()})


def lstm_layer(xw, h0, c0, w_hh, w_hr=None, reverse: bool = False) -> Tensor:
    """LSTM over a sequence: xw (T, B, 4H), h0 (B, P), c0 (B, H), w_hh (4H, P), w_hr (P, H)
    or None (then P = H) -> every step's [h, c] side by side (T, B, P + H)."""
    xw, h0, c0, w_hh = (tensor_arg(v) for v in (xw, h0, c0, w_hh))
    _check("lstm_layer", 4, xw, (h0, c0), w_hh)
    inputs = (xw, h0, c0, w_hh)
    if w_hr is not None:
        w_hr = tensor_arg(w_hr)
        if w_hr.shape != (h0.shape[1], c0.shape[1]):
            raise ValueError(f"lstm_layer: w_hr must be {(h0.shape[1], c0.shape[1])}, got "
                             f"{w_hr.shape}")
        inputs += (w_hr,)
    elif h0.shape != c0.shape:
        raise ValueError(f"lstm_layer: h0 {h0.shape} and c0 {c0.shape} differ (no projection)")
    return apply(LSTM_LAYER, inputs, {"reverse": reverse, "workspace": Workspace()})
