"""Recurrent cells (Elman RNN, GRU, LSTM) and the layer loop that ``nn.RNN``, ``nn.GRU``
and ``nn.LSTM`` share.

Everything is composed of autograd operations: backpropagation through time is
the engine differentiating the unrolled loop, with no gradient code here.

Cell equations, with x the input, h the previous hidden state and every W, b in
PyTorch's layout (``w_ih`` stacks the gate blocks in the order listed):

    RNN   h' = act(W_ih x + b_ih + W_hh h + b_hh)                 act = tanh or relu
    GRU   r  = sigmoid(W_ir x + b_ir + W_hr h + b_hr)             gates r, z, n
          z  = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
          n  = tanh(W_in x + b_in + r * (W_hn h + b_hn))          (reset gate inside, as PyTorch)
          h' = (1 - z) * n + z * h
    LSTM  i, f, o = sigmoid(.), g = tanh(.) of W_ih x + b_ih + W_hh h + b_hh   gates i, f, g, o
          c' = f * c + i * g
          h' = o * tanh(c')             (times W_hr^T with proj_size: h' is then P wide)

The input projection W_ih x + b is computed for all time steps in one matrix
product, then sliced per step (slicing costs backward only the slice's size: the
engine adds slice gradients into one buffer in place).
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

import graphgrad.autograd as ag
from graphgrad import viz
from graphgrad.autograd import Tensor

from .dropout import dropout as _dropout

__all__ = ["rnn_tanh_cell", "rnn_relu_cell", "gru_cell", "lstm_cell", "cell_forward", "recurrent",
           "CELLS"]


# ------------------------------------------------------------------ one step
# A step maps (xw, state, w_hh, b_hh) to (h', state'), where xw is the input
# projection of this step (with b_hh already folded in when the cell allows) and
# state a tuple of (B, H) tensors.  ``ag.linear(h, w_hh, xw)`` = xw + h W_hh^T in
# one operation.

def _rnn_step(activation):
    def step(xw, state, w_hh, b_hh):
        h = activation(ag.linear(state[0], w_hh, xw))
        return h, (h,)

    return step


def _gru_step(xw, state, w_hh, b_hh):
    (h,) = state
    hidden = h.shape[-1]
    hw = ag.linear(h, w_hh, b_hh)
    rz = ag.sigmoid(xw[:, :2 * hidden] + hw[:, :2 * hidden])
    r, z = rz[:, :hidden], rz[:, hidden:]
    n = ag.tanh(xw[:, 2 * hidden:] + r * hw[:, 2 * hidden:])
    h = n + z * (h - n)  # = (1 - z) * n + z * h, one operation fewer
    return h, (h,)


def _lstm_step(xw, state, w_hh, b_hh, w_hr=None):
    h, c = state
    hidden = c.shape[-1]
    gates = ag.linear(h, w_hh, xw)
    s = ag.sigmoid(gates)  # i, f and o; the g block is recomputed with tanh below
    i, f, o = s[:, :hidden], s[:, hidden:2 * hidden], s[:, 3 * hidden:]
    g = ag.tanh(gates[:, 2 * hidden:3 * hidden])
    c = f * c + i * g
    h = o * ag.tanh(c)
    if w_hr is not None:  # LSTM with projections: h' = W_hr (o * tanh(c'))
        h = ag.linear(h, w_hr)
    return h, (h, c)


class Cell(NamedTuple):
    """What the shared loop needs to know about one kind of recurrent cell."""

    gates: int  # gate blocks stacked in weight_ih / weight_hh
    states: int  # 1 for (h,), 2 for (h, c)
    fold_bias: bool  # b_hh can be added to the input projection (not for GRU's n gate)
    step: Callable


CELLS = {
    "RNN_TANH": Cell(1, 1, True, _rnn_step(ag.tanh)),
    "RNN_RELU": Cell(1, 1, True, _rnn_step(ag.relu)),
    "GRU": Cell(3, 1, False, _gru_step),
    "LSTM": Cell(4, 2, True, _lstm_step),
}


def _split_biases(cell: Cell, b_ih: Tensor | None, b_hh: Tensor | None) -> tuple:
    """(the bias added to the input projection, the bias left for the step)."""
    if cell.fold_bias and b_hh is not None:
        return (b_hh if b_ih is None else b_ih + b_hh), None
    return b_ih, b_hh


def cell_forward(mode: str, input: Tensor, state: tuple, w_ih: Tensor, w_hh: Tensor,
                 b_ih: Tensor | None, b_hh: Tensor | None) -> tuple:
    """One step of the ``mode`` cell (a key of ``CELLS``): returns (h', state')."""
    cell = CELLS[mode]
    bias, b_hh = _split_biases(cell, b_ih, b_hh)
    return cell.step(ag.linear(input, w_ih, bias), state, w_hh, b_hh)


def rnn_tanh_cell(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor,
                  b_ih: Tensor | None = None, b_hh: Tensor | None = None) -> Tensor:
    """One Elman step h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh).

    Shape: input (B, I), hx (B, H), w_ih (H, I), w_hh (H, H) -> (B, H).
    """
    return cell_forward("RNN_TANH", input, (hx,), w_ih, w_hh, b_ih, b_hh)[0]


def rnn_relu_cell(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor,
                  b_ih: Tensor | None = None, b_hh: Tensor | None = None) -> Tensor:
    """One Elman step with relu: h' = relu(x W_ih^T + b_ih + h W_hh^T + b_hh)."""
    return cell_forward("RNN_RELU", input, (hx,), w_ih, w_hh, b_ih, b_hh)[0]


def gru_cell(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor,
             b_ih: Tensor | None = None, b_hh: Tensor | None = None) -> Tensor:
    """One GRU step (gates r, z, n; see the module docstring).

    Shape: input (B, I), hx (B, H), w_ih (3H, I), w_hh (3H, H) -> (B, H).
    """
    return cell_forward("GRU", input, (hx,), w_ih, w_hh, b_ih, b_hh)[0]


def lstm_cell(input: Tensor, hx: tuple, w_ih: Tensor, w_hh: Tensor,
              b_ih: Tensor | None = None, b_hh: Tensor | None = None) -> tuple:
    """One LSTM step (gates i, f, g, o); ``hx = (h, c)``, returns ``(h', c')``.

    Shape: input (B, I), h and c (B, H), w_ih (4H, I), w_hh (4H, H).
    """
    return cell_forward("LSTM", input, tuple(hx), w_ih, w_hh, b_ih, b_hh)[1]


# ---------------------------------------------------------------- the layer loop
def _stepper(cell: Cell, w_hr: Tensor | None) -> Callable:
    return cell.step if w_hr is None else functools.partial(cell.step, w_hr=w_hr)


def _run_direction(cell: Cell, seq: Tensor, state: tuple, weights: tuple,
                   reverse: bool) -> tuple:
    """Run one direction of one layer over ``seq`` (T, B, I); returns (its outputs (T, B, H),
    final state).  The input projection x_t W_ih^T + b of all steps is one matmul."""
    w_ih, w_hh, b_ih, b_hh, w_hr = weights
    bias, b_hh = _split_biases(cell, b_ih, b_hh)
    xw = ag.linear(seq, w_ih, bias)
    step_fn = _stepper(cell, w_hr)
    steps = seq.shape[0]
    outputs = [None] * steps
    step = viz.scope("step")  # the graph drawing folds the T steps into one cluster
    for t in (reversed(range(steps)) if reverse else range(steps)):
        with step:
            h, state = step_fn(xw[t], state, w_hh, b_hh)
            outputs[t] = h
    return ag.stack(outputs, 0), state


def _run_direction_packed(cell: Cell, data: Tensor, batch_sizes: list, state: tuple,
                          weights: tuple, reverse: bool) -> tuple:
    """Run one direction of one layer over packed ``data`` (N, I): step t advances the first
    batch_sizes[t] sequences (sorted longest first), the others keep their state, so each
    sequence's final state is the one after its own last step (forward) or after step 0
    (reverse, where a sequence starts from the initial state at its own last step).
    Returns (packed outputs (N, H), final state with rows in sorted order)."""
    w_ih, w_hh, b_ih, b_hh, w_hr = weights
    bias, b_hh = _split_biases(cell, b_ih, b_hh)
    xw = ag.linear(data, w_ih, bias)
    step_fn = _stepper(cell, w_hr)
    starts = [0]
    for size in batch_sizes[:-1]:
        starts.append(starts[-1] + size)
    outputs = [None] * len(batch_sizes)
    initial, finished = state, []
    active = 0 if reverse else batch_sizes[0]
    state = tuple(s[:active] for s in initial)
    step = viz.scope("step")
    for t in (reversed(range(len(batch_sizes))) if reverse else range(len(batch_sizes))):
        size = batch_sizes[t]
        if size > active:  # reverse: shorter sequences start here, from the initial state
            state = tuple(ag.cat([s, s0[active:size]]) for s, s0 in zip(state, initial,
                                                                         strict=True))
        elif size < active:  # forward: the rows past ``size`` have ended; keep their state
            finished.append(tuple(s[size:] for s in state))
            state = tuple(s[:size] for s in state)
        active = size
        with step:
            h, state = step_fn(xw[starts[t]:starts[t] + size], state, w_hh, b_hh)
        outputs[t] = h
    if finished:  # rows ended in decreasing blocks: put them back in order
        state = tuple(ag.cat([s, *[f[k] for f in reversed(finished)]])
                      for k, s in enumerate(state))
    return ag.cat(outputs, 0), state


def recurrent(mode: str, input: Tensor, hx: tuple, weights: list, num_layers: int,
              bidirectional: bool, dropout: float = 0.0, training: bool = True,
              batch_first: bool = False, batch_sizes: list | None = None) -> tuple:
    """Run a stack of recurrent layers over a whole sequence (the loop of nn.RNN/GRU/LSTM).

    ``mode``: "RNN_TANH", "RNN_RELU", "GRU" or "LSTM".  ``input``: (T, B, I), or
    (B, T, I) with ``batch_first``, or with ``batch_sizes`` the data of a packed
    sequence (N, I) (time-major, batch sorted longest first, batch_sizes[t]
    sequences at step t).  ``hx``: a tuple of initial states, each
    (num_layers * D, B, H_state) (D = 2 if bidirectional else 1), or None for zeros.
    ``weights``: one (w_ih, w_hh, b_ih, b_hh, w_hr) tuple per layer and direction,
    in the order l0, l0_reverse, l1, ... (biases and the LSTM projection w_hr may be
    None).  Layer l > 0 reads the concatenated outputs of both directions of layer
    l - 1, with dropout applied to them when ``training`` (not after the last layer).

    Returns ``(output, states)``: output (T, B, D * H_out) (batch first if asked; (N,
    D * H_out) when packed) and a tuple of final states, each (num_layers * D, B,
    H_state), ordered like ``hx``.
    """
    cell = CELLS[mode]
    directions = 2 if bidirectional else 1
    packed = batch_sizes is not None
    seq = input if packed or not batch_first else input.transpose(0, 1)
    if hx is None:
        batch = batch_sizes[0] if packed else seq.shape[1]
        w_hh = weights[0][1]
        sizes = (w_hh.shape[1], w_hh.shape[0] // cell.gates)[:cell.states]  # h, then c
        initial = [tuple(ag.zeros((batch, size), dtype=input.dtype) for size in sizes)] \
            * (num_layers * directions)
    else:
        initial = list(zip(*[ag.unbind(h, 0) for h in hx], strict=True))
    finals = []
    for layer in range(num_layers):
        outs = []
        for d in range(directions):
            k = layer * directions + d
            if packed:
                out, state = _run_direction_packed(cell, seq, batch_sizes, tuple(initial[k]),
                                                   weights[k], d == 1)
            else:
                out, state = _run_direction(cell, seq, tuple(initial[k]), weights[k], d == 1)
            outs.append(out)
            finals.append(state)
        seq = outs[0] if directions == 1 else ag.cat(outs, -1)  # both directions side by side
        if dropout > 0 and training and layer < num_layers - 1:
            seq = _dropout(seq, dropout, True)
    output = seq.transpose(0, 1) if batch_first and not packed else seq
    states = tuple(ag.stack([f[j] for f in finals]) for j in range(cell.states))
    return output, states
