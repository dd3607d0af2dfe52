"""Helpers for batches of sequences of unequal lengths, as ``torch.nn.utils.rnn``."""
from __future__ import annotations

import graphgrad.autograd as ag
from graphgrad.autograd import Tensor

__all__ = ["pad_sequence", "unpad_sequence"]


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
    sequences = [s if isinstance(s, Tensor) else Tensor(s) for s in sequences]
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
