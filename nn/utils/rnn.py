"""Helpers for batches of sequences of unequal lengths, as ``torch.nn.utils.rnn``.

A ``PackedSequence`` holds a batch of sequences without padding, time step by
time step: ``data`` stacks, for t = 0, 1, ..., the step-t elements of the
``batch_sizes[t]`` sequences still running (sequences sorted longest first), so
``nn.RNN``/``GRU``/``LSTM`` fed with it compute nothing for padding and return
each sequence's state at its own last step.  ``sorted_indices[i]`` is the
original batch position of the i-th longest sequence (None when the batch was
already sorted); ``unsorted_indices`` is its inverse.  As in PyTorch, ``batch_sizes``
(and the lengths that ``pad_packed_sequence`` returns) stay on the host; the data and
the indices are on the padded input's device.

    packed = pack_padded_sequence(padded, lengths, batch_first=True, enforce_sorted=False)
    output, (h_n, c_n) = lstm(packed)            # h_n[:, b] is sequence b's last state
    padded_out, lengths = pad_packed_sequence(output, batch_first=True)
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

import graphgrad.autograd as ag
from graphgrad.autograd import Tensor
from graphgrad.autograd.arrays import namespace, to_host
from graphgrad.autograd.tensor import tensor_arg, unwrap

__all__ = ["PackedSequence", "invert_permutation", "pack_padded_sequence",
           "pad_packed_sequence", "pad_sequence", "unpad_sequence", "pack_sequence",
           "unpack_sequence"]


class _PackedFields(NamedTuple):
    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None
    unsorted_indices: Tensor | None


class PackedSequence(_PackedFields):
    """``(data, batch_sizes, sorted_indices, unsorted_indices)``: see the module docstring.

    Made by ``pack_padded_sequence`` / ``pack_sequence``, not by hand.  ``data`` is
    (sum of lengths, *); ``batch_sizes`` an int64 tensor (longest length,);
    ``unsorted_indices`` is computed from ``sorted_indices`` when not given.
    """

    __slots__ = ()

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if batch_sizes is None:  # PackedSequence((data, batch_sizes)), as PyTorch allows
            if not (isinstance(data, (list, tuple)) and len(data) == 2):
                raise TypeError("PackedSequence: expected data and batch_sizes, or a pair of "
                                "them")
            data, batch_sizes = data
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs) -> PackedSequence:
        """The same packing with ``data.to(...)`` (a dtype and/or a device; the indices
        follow the data to its device, ``batch_sizes`` stays on the host)."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        indices = [None if i is None else i.to(data.device)
                   for i in (self.sorted_indices, self.unsorted_indices)]
        return type(self)(data, self.batch_sizes, *indices)

    def cpu(self) -> PackedSequence:
        return self.to("cpu")

    def cuda(self, device=None) -> PackedSequence:
        return self.to("cuda" if device is None else device)

    def double(self) -> PackedSequence:
        return self.to(np.float64)

    def float(self) -> PackedSequence:
        return self.to(np.float32)

    def half(self) -> PackedSequence:
        return self.to(np.float16)

    def long(self) -> PackedSequence:
        return self.to(np.int64)

    def int(self) -> PackedSequence:
        return self.to(np.int32)

    @property
    def is_cuda(self) -> bool:
        return self.data.is_cuda

    def is_pinned(self) -> bool:
        return False


def invert_permutation(permutation: Tensor | None) -> Tensor | None:
    """The permutation q with q[p[i]] = i (None for None)."""
    if permutation is None:
        return None
    p = unwrap(permutation)
    xp = namespace(p)
    p = xp.asarray(p)
    inverse = xp.empty_like(p)
    inverse[p] = xp.arange(p.size, dtype=p.dtype)
    return Tensor._make(inverse)


def _lengths(name: str, lengths) -> np.ndarray:
    """``lengths`` as a host array (as PyTorch, which keeps them on the CPU)."""
    array = to_host(unwrap(lengths))
    if array.ndim != 1 or (array.size and array.dtype.kind not in "iu"):
        raise ValueError(f"{name}: 'lengths' should be a 1D list or tensor of integers, got "
                         f"shape {array.shape} and dtype {array.dtype}")
    return array.astype(np.int64)


def _batch_sizes(lengths: np.ndarray) -> np.ndarray:
    """batch_sizes[t] = how many of the (sorted) lengths exceed t."""
    return (lengths[None, :] > np.arange(lengths.max())[:, None]).sum(1).astype(np.int64)


def pack_padded_sequence(input: Tensor, lengths, batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """Pack a padded batch (T, B, *) ((B, T, *) with ``batch_first``) whose sequence b has
    ``lengths[b]`` valid steps.  With ``enforce_sorted`` the lengths must already be
    decreasing; otherwise the batch is sorted here and the permutation kept in the
    result.  Differentiable with respect to ``input`` (padding gets zero gradient)."""
    name = "pack_padded_sequence"
    lengths = _lengths(name, lengths)
    input = tensor_arg(input)
    batch_dim = 0 if batch_first else 1
    if input.ndim < 2 or input.shape[batch_dim] != lengths.size:
        raise ValueError(f"{name}: expected len(lengths) to be equal to the batch size of the "
                         f"input (dim {batch_dim} of shape {input.shape}), got "
                         f"{lengths.size} lengths")
    if lengths.size and lengths.min() <= 0:
        raise ValueError(f"{name}: length of all samples has to be greater than 0, but found "
                         f"an element in 'lengths' that is <= 0: {lengths.tolist()}")
    steps = input.shape[1 - batch_dim]
    if lengths.size and lengths.max() > steps:
        raise ValueError(f"{name}: a length {int(lengths.max())} exceeds the {steps} time "
                         f"steps of the input (shape {input.shape})")
    if enforce_sorted:
        if np.any(np.diff(lengths) > 0):
            raise ValueError(f"{name}: `lengths` array must be sorted in decreasing order when "
                             f"`enforce_sorted` is True, got {lengths.tolist()}. You can pass "
                             f"`enforce_sorted=False` to pack_padded_sequence and/or "
                             f"pack_sequence to sidestep this requirement.")
        order = np.arange(lengths.size)
        sorted_indices = None
    else:
        order = np.argsort(-lengths, kind="stable")
        sorted_indices = Tensor._make(namespace(input._data).asarray(order.astype(np.int64)))
    batch_sizes = _batch_sizes(lengths[order])
    steps_idx = np.repeat(np.arange(batch_sizes.size), batch_sizes)  # t of each packed row
    batch_idx = order[np.concatenate([np.arange(n) for n in batch_sizes])] \
        if batch_sizes.size else np.zeros(0, dtype=np.int64)
    xp = namespace(input._data)  # the index arrays go to the input's device
    batch_idx, steps_idx = xp.asarray(batch_idx), xp.asarray(steps_idx)
    data = input[batch_idx, steps_idx] if batch_first else input[steps_idx, batch_idx]
    return PackedSequence(data, Tensor._make(batch_sizes), sorted_indices)


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False,
                        padding_value: float = 0.0,
                        total_length: int | None = None) -> tuple[Tensor, Tensor]:
    """The inverse of ``pack_padded_sequence``: ``(padded, lengths)`` with padded
    (T, B, *) ((B, T, *) with ``batch_first``), the batch in its original order, the
    missing steps filled with ``padding_value``, and T = ``total_length`` if given
    (at least the longest length).  ``lengths`` is an int64 tensor.  Differentiable
    with respect to ``sequence.data``."""
    data, batch_sizes = sequence.data, to_host(unwrap(sequence.batch_sizes))
    steps = batch_sizes.size
    if total_length is not None:
        if total_length < steps:
            raise ValueError(f"pad_packed_sequence: expected total_length to be at least the "
                             f"length of the longest sequence in input, but got total_length="
                             f"{total_length} and max sequence length being {steps}")
        steps = total_length
    batch = int(batch_sizes[0]) if batch_sizes.size else 0
    starts = np.concatenate([[0], np.cumsum(batch_sizes)[:-1]]).astype(np.int64)
    b = np.arange(batch)[None, :]
    inside = b < np.pad(batch_sizes, (0, steps - batch_sizes.size))[:, None]
    filler = data.shape[0]  # the row appended below, holding padding_value
    rows = np.where(inside, np.pad(starts, (0, steps - starts.size))[:, None] + b, filler)
    lengths = (batch_sizes[None, :] > np.arange(batch)[:, None]).sum(1).astype(np.int64)
    if sequence.unsorted_indices is not None:
        unsorted = to_host(sequence.unsorted_indices._data)
        rows, lengths = rows[:, unsorted], lengths[unsorted]
    pad_row = ag.full((1, *data.shape[1:]), padding_value, dtype=data.dtype, device=data.device)
    rows = namespace(data._data).asarray(rows.T if batch_first else rows)  # to data's device
    padded = ag.cat([data, pad_row])[rows]
    return padded, Tensor._make(lengths)


def pad_sequence(sequences, batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right") -> Tensor:
    """Stack sequences of shapes (L_i, *) into one (L_max, B, *) tensor ((B, L_max, *)
    with ``batch_first``), filling the missing steps with ``padding_value`` on the
    ``padding_side`` ("right" or "left").  Differentiable with respect to every sequence.

    The matching key_padding_mask for attention is ``arange(L_max) >= lengths[:, None]``
    (right padding).

        >>> pad_sequence([gg.ones(3, 2), gg.ones(1, 2)], batch_first=True).shape
        (2, 3, 2)
    """
    if padding_side not in ("right", "left"):
        raise ValueError(f"pad_sequence: padding_side must be 'right' or 'left', got "
                         f"{padding_side!r}")
    sequences = [tensor_arg(s) for s in sequences]
    if not sequences:
        raise ValueError("pad_sequence: expected a non-empty list of sequences")
    trailing = {s.shape[1:] for s in sequences}
    if len(trailing) > 1 or sequences[0].ndim == 0:
        raise ValueError(f"pad_sequence: sequences must be (L_i, *) with equal trailing dims, "
                         f"got shapes {[s.shape for s in sequences]}")
    longest = max(s.shape[0] for s in sequences)
    padded = []
    for s in sequences:
        missing = longest - s.shape[0]
        widths = (0, 0) * (s.ndim - 1) + ((0, missing) if padding_side == "right" else
                                          (missing, 0))
        padded.append(ag.pad(s, widths, value=padding_value) if missing else s)
    return ag.stack(padded, 0 if batch_first else 1)


def unpad_sequence(padded_sequences: Tensor, lengths, batch_first: bool = False) -> list:
    """The inverse of ``pad_sequence`` (right padding): a list of (L_i, *) tensors."""
    x = padded_sequences if batch_first else padded_sequences.transpose(0, 1)
    return [x[i, :int(n)] for i, n in enumerate(lengths)]


def pack_sequence(sequences, enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of (L_i, *) tensors (longest first unless ``enforce_sorted=False``)."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences: PackedSequence) -> list:
    """The list of (L_i, *) tensors a PackedSequence holds, in the original batch order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
