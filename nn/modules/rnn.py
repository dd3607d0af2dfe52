"""Recurrent layers: ``RNN``, ``GRU``, ``LSTM`` and their single-step cells.

The cell equations and the loop over layers and directions live in
``nn.functional.rnn``; these modules hold the parameters in PyTorch's layout,
so a PyTorch state_dict loads unchanged:

    weight_ih_l{k}{suffix}  (gates * H, I) for layer 0, (gates * H, D * H_out) above
    weight_hh_l{k}{suffix}  (gates * H, H_out)
    bias_ih_l{k}{suffix}, bias_hh_l{k}{suffix}  (gates * H,)
    weight_hr_l{k}{suffix}  (P, H)   LSTM with proj_size = P > 0 only

with gates = 1 (RNN), 3 (GRU: r, z, n) or 4 (LSTM: i, f, g, o), suffix "" or
"_reverse", D = 2 when bidirectional, H_out = P if proj_size else H.  Every
parameter starts as U(-1/sqrt(H), 1/sqrt(H)), as PyTorch.

The layers take a padded batch or a ``nn.utils.rnn.PackedSequence``; given a
packed one they return the output packed the same way and, in h_n (and c_n),
each sequence's state after its own last step.
"""
from __future__ import annotations

import math
import warnings

import graphgrad.autograd as ag
from graphgrad.autograd import Tensor
from graphgrad.autograd.tensor import tensor_arg

from .. import init
from ..functional import rnn as R
from ..module import Module
from ..parameter import Parameter
from ..utils.rnn import PackedSequence

__all__ = ["RNNBase", "RNN", "GRU", "LSTM", "RNNCellBase", "RNNCell", "GRUCell", "LSTMCell"]


def _init_uniform(module: Module, hidden_size: int) -> None:
    bound = 1.0 / math.sqrt(hidden_size) if hidden_size > 0 else 0.0
    for param in module.parameters():
        init.uniform_(param, -bound, bound)


class RNNBase(Module):
    """The multi-layer recurrent layer shared by ``RNN``, ``GRU`` and ``LSTM``.

    ``mode``: "RNN_TANH", "RNN_RELU", "GRU" or "LSTM".  See those classes.
    """

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device=None,
                 dtype=None) -> None:
        super().__init__()
        name = type(self).__name__
        if not isinstance(hidden_size, int) or hidden_size <= 0:
            raise ValueError(f"{name}: hidden_size must be a positive int, got {hidden_size!r}")
        if not isinstance(num_layers, int) or num_layers <= 0:
            raise ValueError(f"{name}: num_layers must be a positive int, got {num_layers!r}")
        if not 0 <= dropout <= 1:
            raise ValueError(f"{name}: dropout must be a probability in [0, 1], got {dropout}")
        if proj_size < 0:
            raise ValueError(f"{name}: proj_size should be a positive integer or zero to "
                             f"disable projections, got {proj_size}")
        if proj_size and mode != "LSTM":
            raise ValueError(f"{name}: proj_size argument is only supported for LSTM, not RNN "
                             f"or GRU")
        if proj_size >= hidden_size:
            raise ValueError(f"{name}: proj_size has to be smaller than hidden_size, got "
                             f"proj_size={proj_size} and hidden_size={hidden_size}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(f"{name}: dropout={dropout} acts between layers, so it does nothing "
                          f"with num_layers=1", stacklevel=3)
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        directions = 2 if bidirectional else 1
        gate_size = R.CELLS[mode].gates * hidden_size
        out_size = proj_size or hidden_size
        self._flat_weights_names = []
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else out_size * directions
            for d in range(directions):
                suffix = f"_l{layer}" + ("_reverse" if d else "")
                shapes = {"weight_ih": (gate_size, layer_input),
                          "weight_hh": (gate_size, out_size)}
                if bias:
                    shapes.update(bias_ih=(gate_size,), bias_hh=(gate_size,))
                if proj_size:
                    shapes["weight_hr"] = (proj_size, hidden_size)
                for kind, shape in shapes.items():
                    weight = ag.empty(*shape, device=device, dtype=dtype)
                    setattr(self, kind + suffix, Parameter(weight))
                    self._flat_weights_names.append(kind + suffix)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        _init_uniform(self, self.hidden_size)

    @property
    def all_weights(self) -> list:
        """[[w_ih, w_hh, b_ih, b_hh, (w_hr)], ...] (no biases without ``bias``, w_hr with
        ``proj_size``) per layer and direction, in the order l0, l0_reverse, l1, ..."""
        per = (4 if self.bias else 2) + (1 if self.proj_size else 0)
        flat = [getattr(self, name) for name in self._flat_weights_names]
        return [flat[i:i + per] for i in range(0, len(flat), per)]

    def flatten_parameters(self) -> None:
        """Does nothing, as PyTorch's on the CPU (it packs the weights into one buffer for
        cuDNN); here so that scripts ported from PyTorch run unchanged."""

    def _weights(self) -> list:
        """(w_ih, w_hh, b_ih, b_hh, w_hr) per layer and direction, None where absent."""
        out = []
        for ws in self.all_weights:
            biases = tuple(ws[2:4]) if self.bias else (None, None)
            out.append((ws[0], ws[1], *biases, ws[-1] if self.proj_size else None))
        return out

    def _state_sizes(self) -> tuple:
        """The width of each state: (H_out,), or (H_out, H) for LSTM's (h, c)."""
        out_size = self.proj_size or self.hidden_size
        return (out_size, self.hidden_size)[:R.CELLS[self.mode].states]

    def _check_states(self, hx: tuple, batch: int, batched: bool) -> tuple:
        name = type(self).__name__
        layers = (2 if self.bidirectional else 1) * self.num_layers
        hx = tuple(tensor_arg(h) for h in hx)
        for h, size in zip(hx, self._state_sizes(), strict=True):
            expected = (layers, batch, size) if batched else (layers, size)
            if h.shape != expected:
                raise ValueError(f"{name}: expected hidden state of shape {expected}, got "
                                 f"{h.shape}")
        return hx

    def _check_input(self, input: Tensor, hx: tuple | None) -> tuple:
        """Validate shapes; return (input with a batch dim, hx with a batch dim, whether the
        input had one)."""
        name = type(self).__name__
        if input.ndim not in (2, 3):
            raise ValueError(f"{name}: expected input of 2 (unbatched) or 3 dims, got shape "
                             f"{input.shape}")
        if input.shape[-1] != self.input_size:
            raise ValueError(f"{name}: expected input with input_size = {self.input_size} "
                             f"features in its last dim, got input of shape {input.shape}")
        batched = input.ndim == 3
        if not batched:
            input = input.unsqueeze(0 if self.batch_first else 1)
        if input.shape[1 if self.batch_first else 0] == 0:
            raise ValueError(f"{name}: expected a sequence of length > 0, got input of shape "
                             f"{input.shape if batched else input.shape[1:]}")
        batch = input.shape[0 if self.batch_first else 1]
        if hx is not None:
            hx = self._check_states(hx, batch, batched)
            if not batched:
                hx = tuple(h.unsqueeze(1) for h in hx)
        return input, hx, batched

    def _run(self, input, hx: tuple | None) -> tuple:
        if isinstance(input, PackedSequence):
            return self._run_packed(input, hx)
        input, hx, batched = self._check_input(tensor_arg(input), hx)
        output, states = R.recurrent(self.mode, input, hx, self._weights(), self.num_layers,
                                     self.bidirectional, self.dropout, self.training,
                                     self.batch_first)
        if not batched:
            output = output.squeeze(0 if self.batch_first else 1)
            states = tuple(s.squeeze(1) for s in states)
        return output, states

    def _run_packed(self, packed: PackedSequence, hx: tuple | None) -> tuple:
        """Run over a PackedSequence; hx and the final states are in the batch's original
        order (the packing's sorted order is internal)."""
        name = type(self).__name__
        data = tensor_arg(packed.data)
        if data.ndim != 2 or data.shape[-1] != self.input_size:
            raise ValueError(f"{name}: expected packed data of shape (N, input_size = "
                             f"{self.input_size}), got {data.shape}")
        batch_sizes = [int(b) for b in packed.batch_sizes.tolist()]
        order = packed.sorted_indices
        if hx is not None:
            hx = self._check_states(hx, batch_sizes[0], True)
            if order is not None:
                hx = tuple(h[:, order._data] for h in hx)
        output, states = R.recurrent(self.mode, data, hx, self._weights(), self.num_layers,
                                     self.bidirectional, self.dropout, self.training,
                                     batch_sizes=batch_sizes)
        if packed.unsorted_indices is not None:
            states = tuple(s[:, packed.unsorted_indices._data] for s in states)
        return PackedSequence(output, packed.batch_sizes, packed.sorted_indices,
                              packed.unsorted_indices), states

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size:
            text += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if self.mode == "RNN_RELU":
            text += ", nonlinearity='relu'"
        if not self.bias:
            text += ", bias=False"
        if self.batch_first:
            text += ", batch_first=True"
        if self.dropout:
            text += f", dropout={self.dropout}"
        if self.bidirectional:
            text += ", bidirectional=True"
        return text


class RNN(RNNBase):
    """Elman RNN over a sequence: h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh),
    act = tanh (``nonlinearity="tanh"``) or relu; stacked ``num_layers`` deep, layer
    l > 0 reading layer l - 1's outputs (with ``dropout`` between layers in
    training); ``bidirectional`` adds a second pass from the end of the sequence.

    Shape: input (T, B, I) ((B, T, I) with ``batch_first``; (T, I) unbatched),
    h_0 (num_layers * D, B, H) or None for zeros -> output (T, B, D * H) (the top
    layer's h_t, both directions concatenated) and h_n (num_layers * D, B, H).
    Parameters: see the module docstring; init U(-1/sqrt(H), 1/sqrt(H)).

        >>> rnn = nn.RNN(10, 20, num_layers=2)
        >>> output, h_n = rnn(gg.randn(5, 3, 10))      # (5, 3, 20), (2, 3, 20)
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, device=None,
                 dtype=None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(f"RNN_{nonlinearity.upper()}", input_size, hidden_size, num_layers,
                         bias, batch_first, dropout, bidirectional, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None) -> tuple:
        output, (h_n,) = self._run(input, None if hx is None else (hx,))
        return output, h_n


class GRU(RNNBase):
    """Gated recurrent unit layer (gates r, z, n, PyTorch's placement of the reset gate):

        r = sigmoid(W_ir x + b_ir + W_hr h + b_hr),   z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn)),   h' = (1 - z) * n + z * h

    Layers, directions, shapes and init as ``RNN``; returns ``output, h_n``.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, device=None, dtype=None) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, device=device, dtype=dtype)

    def forward(self, input, hx=None) -> tuple:
        output, (h_n,) = self._run(input, None if hx is None else (hx,))
        return output, h_n


class LSTM(RNNBase):
    """Long short-term memory layer (gates i, f, g, o):

        i, f, o = sigmoid(W_i* x + b_i* + W_h* h + b_h*),   g = tanh(W_ig x + ... )
        c' = f * c + i * g,   h' = o * tanh(c')

    Layers, directions, shapes and init as ``RNN``.  ``forward(input, (h_0, c_0))``
    (or None for zeros) returns ``output, (h_n, c_n)``, both states
    (num_layers * D, B, H).  With ``proj_size`` P > 0, h' = W_hr (o * tanh(c')) is
    P wide: output (T, B, D * P), h_n (num_layers * D, B, P), c_n still H wide.

        >>> lstm = nn.LSTM(10, 20, batch_first=True)
        >>> output, (h_n, c_n) = lstm(gg.randn(3, 5, 10))   # output (3, 5, 20)
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device=None,
                 dtype=None) -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, proj_size, device=device, dtype=dtype)

    def forward(self, input, hx=None) -> tuple:
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise ValueError("LSTM: hx must be a pair (h_0, c_0)")
        output, (h_n, c_n) = self._run(input, hx)
        return output, (h_n, c_n)


# ------------------------------------------------------------------ cells
class RNNCellBase(Module):
    """One recurrent step with parameters ``weight_ih`` (gates * H, I), ``weight_hh``
    (gates * H, H), ``bias_ih`` and ``bias_hh`` (gates * H,), all U(-1/sqrt(H), 1/sqrt(H))."""

    _mode = ""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        gate_size = R.CELLS[self._mode].gates * hidden_size
        self.weight_ih = Parameter(ag.empty(gate_size, input_size, device=device, dtype=dtype))
        self.weight_hh = Parameter(ag.empty(gate_size, hidden_size, device=device, dtype=dtype))
        if bias:
            self.bias_ih = Parameter(ag.empty(gate_size, device=device, dtype=dtype))
            self.bias_hh = Parameter(ag.empty(gate_size, device=device, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _init_uniform(self, self.hidden_size)

    def _prepare(self, input, hx: tuple | None, states: int) -> tuple:
        """(input (B, I), state tuple of (B, H) tensors, whether the input was batched)."""
        name = type(self).__name__
        x = tensor_arg(input)
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ValueError(f"{name}: expected input of shape (B, {self.input_size}) or "
                             f"({self.input_size},), got {x.shape}")
        batched = x.ndim == 2
        if not batched:
            x = x[None]
        if hx is None:
            zeros = ag.zeros((x.shape[0], self.hidden_size), dtype=x.dtype, device=x.device)
            return x, (zeros,) * states, batched
        hx = tuple(tensor_arg(h) for h in hx)
        expected = (x.shape[0], self.hidden_size) if batched else (self.hidden_size,)
        for h in hx:
            if h.shape != expected:
                raise ValueError(f"{name}: expected hidden state of shape {expected}, got "
                                 f"{h.shape}")
        return x, (hx if batched else tuple(h[None] for h in hx)), batched

    def _step(self, input, hx: tuple | None) -> tuple:
        cell = R.CELLS[self._mode]
        x, state, batched = self._prepare(input, hx, cell.states)
        _, state = R.cell_forward(self._mode, x, state, self.weight_ih, self.weight_hh,
                                  self.bias_ih, self.bias_hh)
        return state if batched else tuple(s[0] for s in state)

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            text += ", bias=False"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            text += f", nonlinearity={self.nonlinearity!r}"
        return text


class RNNCell(RNNCellBase):
    """One Elman step: h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh), act = tanh or relu.

    Shape: input (B, I) or (I,), hx (B, H) or None for zeros -> h' (B, H).

        >>> cell = nn.RNNCell(10, 20)
        >>> h = cell(gg.randn(3, 10))            # (3, 20)
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device=None, dtype=None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', got "
                             f"{nonlinearity!r}")
        self._mode = f"RNN_{nonlinearity.upper()}"  # read by RNNCellBase.__init__
        super().__init__(input_size, hidden_size, bias, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None) -> Tensor:
        return self._step(input, None if hx is None else (hx,))[0]


class GRUCell(RNNCellBase):
    """One GRU step (see ``GRU`` for the equations).  Shape: input (B, I), hx (B, H) ->
    h' (B, H); parameters (3H, I), (3H, H), (3H,), (3H,)."""

    _mode = "GRU"

    def forward(self, input, hx=None) -> Tensor:
        return self._step(input, None if hx is None else (hx,))[0]


class LSTMCell(RNNCellBase):
    """One LSTM step (see ``LSTM`` for the equations).  ``forward(input, (h, c))`` (or
    None for zeros) returns ``(h', c')``, each (B, H); parameters (4H, I), (4H, H),
    (4H,), (4H,)."""

    _mode = "LSTM"

    def forward(self, input, hx=None) -> tuple:
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise ValueError("LSTMCell: hx must be a pair (h, c)")
        return self._step(input, hx)
