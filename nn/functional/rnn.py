"""Recurrent cells (Elman RNN, GRU, LSTM) and the layer loop that ``nn.RNN``, ``nn.GRU``
and ``nn.LSTM`` share.

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

The input projection W_ih x + b is computed for all time steps in one matrix product;
the recurrence over the steps is one primitive of autograd per layer and direction
(``autograd/ops/recurrent.py``: its forward loops over time in NumPy and its rule
runs backpropagation through time), so a layer records a handful of nodes whatever
the sequence's length.  A packed sequence runs it one step at a time, as does a cell.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import graphgrad.autograd as ag
from graphgrad import viz
from graphgrad.autograd import Tensor
from graphgrad.autograd.ops.recurrent import gru_layer, lstm_layer, rnn_layer

from .dropout import dropout as _dropout

__all__ = ["rnn_tanh_cell", "rnn_relu_cell", "gru_cell", "lstm_cell", "cell_forward", "recurrent",
           "CELLS"]


# ------------------------------------------------------------------ one layer
# A layer maps (xw, state, w_hh, b_hh, w_hr, reverse) to (the outputs of its steps (T, B,
# H_out), the final state), where xw (T, B, gates * H) is the input projection of every
# step (with b_hh already folded in when the cell allows) and state a tuple of (B, *)
# tensors: (h,) or (h, c).  The final state is the last step's (the first's, reversed).

def _rnn_layer(nonlinearity: str) -> Callable:
    def layer(xw, state, w_hh, b_hh, w_hr, reverse):
        out = rnn_layer(xw, state[0], w_hh, nonlinearity, reverse)
        return out, (out[0 if reverse else -1],)

    return layer


def _gru_layer(xw, state, w_hh, b_hh, w_hr, reverse):
    out = gru_layer(xw, state[0], w_hh, b_hh, reverse)
    return out, (out[0 if reverse else -1],)


def _lstm_layer(xw, state, w_hh, b_hh, w_hr, reverse):
    out = lstm_layer(xw, state[0], state[1], w_hh, w_hr, reverse)
    width = state[0].shape[-1]  # [h, c] side by side
    last = out[0 if reverse else -1]
    return out[..., :width], (last[:, :width], last[:, width:])


class Cell(NamedTuple):
    """What the shared loop needs to know about one kind of recurrent cell."""

    gates: int  # gate blocks stacked in weight_ih / weight_hh
    states: int  # 1 for (h,), 2 for (h, c)
    fold_bias: bool  # b_hh can be added to the input projection (not for GRU's n gate)
    layer: Callable


CELLS = {
    "RNN_TANH": Cell(1, 1, True, _rnn_layer("tanh")),
    "RNN_RELU": Cell(1, 1, True, _rnn_layer("relu")),
    "GRU": Cell(3, 1, False, _gru_layer),
    "LSTM": Cell(4, 2, True, _lstm_layer),
}


def _split_biases(cell: Cell, b_ih: Tensor | None, b_hh: Tensor | None) -> tuple:
    """(the bias added to the input projection, the bias left for the recurrence)."""
    if cell.fold_bias and b_hh is not None:
        return (b_hh if b_ih is None else b_ih + b_hh), None
    return b_ih, b_hh


def cell_forward(mode: str, input: Tensor, state: tuple, w_ih: Tensor, w_hh: Tensor,
                 b_ih: Tensor | None, b_hh: Tensor | None) -> tuple:
    """One step of the ``mode`` cell (a key of ``CELLS``): returns (h', state')."""
    cell = CELLS[mode]
    bias, b_hh = _split_biases(cell, b_ih, b_hh)
    xw = ag.linear(input, w_ih, bias)
    _, state = cell.layer(xw[None], state, w_hh, b_hh, None, False)
    return state[0], state


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
def _run_direction(cell: Cell, seq: Tensor, state: tuple, weights: tuple,
                   reverse: bool) -> tuple:
    """Run one direction of one layer over ``seq`` (T, B, I); returns (its outputs (T, B, H),
    final state).  The input projection x_t W_ih^T + b of all steps is one matmul."""
    w_ih, w_hh, b_ih, b_hh, w_hr = weights
    bias, b_hh = _split_biases(cell, b_ih, b_hh)
    return cell.layer(ag.linear(seq, w_ih, bias), state, w_hh, b_hh, w_hr, reverse)


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
            _, state = cell.layer(xw[None, starts[t]:starts[t] + size], state, w_hh, b_hh, w_hr,
                                  False)
        outputs[t] = state[0]
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
        initial = [tuple(ag.zeros((batch, size), dtype=input.dtype, device=input.device)
                         for size in sizes)] \
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
