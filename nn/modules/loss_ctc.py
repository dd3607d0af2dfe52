"""``CTCLoss``: the connectionist temporal classification loss as a layer."""
from __future__ import annotations

from ..functional.ctc import ctc_loss
from .loss import _Loss

__all__ = ["CTCLoss"]


class CTCLoss(_Loss):
    """-log p(target | input) summed over every alignment of the target to the input
    steps (see ``F.ctc_loss`` for the recursion).

    ``forward(log_probs, targets, input_lengths, target_lengths)``: log_probs (T, N, C)
    from ``log_softmax(dim=2)``; targets (N, S) padded or 1-D concatenated, never
    ``blank``; lengths (N,).  ``reduction="mean"`` divides each loss by its target
    length, then averages over the batch (PyTorch's convention); ``zero_infinity``
    turns the infinite loss of an impossible target into 0.

        >>> ctc = nn.CTCLoss(blank=0)
        >>> loss = ctc(logits.log_softmax(2), targets, input_lengths, target_lengths)
    """

    def __init__(self, blank: int = 0, reduction: str = "mean",
                 zero_infinity: bool = False) -> None:
        super().__init__(reduction=reduction)
        self.blank = blank
        self.zero_infinity = zero_infinity

    def forward(self, log_probs, targets, input_lengths, target_lengths):
        return ctc_loss(log_probs, targets, input_lengths, target_lengths, self.blank,
                        self.reduction, self.zero_infinity)

    def extra_repr(self) -> str:
        return f"blank={self.blank}, reduction={self.reduction!r}"
