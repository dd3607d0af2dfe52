"""Anomaly mode: find the operation that produced the first NaN or Inf.

Inside ``with detect_anomaly():`` every operation checks its output, and each
node remembers the stack where it was created; backward checks every gradient
it computes.  The first non-finite value raises ``FloatingPointError`` naming
the operation and, for backward, where that operation was created.  It slows
everything down: use it to debug, not to train.
"""
from __future__ import annotations

import weakref

from .grad_mode import _FlagContext

# Where each node recorded under detect_anomaly was created (its stack), kept beside the
# nodes rather than in them: every other node would pay for the slot.
TRACES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class detect_anomaly(_FlagContext):
    """Context manager (and decorator) turning anomaly mode on."""

    _flag = "anomaly"
    _value = True


class set_detect_anomaly(_FlagContext):
    """``set_detect_anomaly(False)`` turns anomaly mode off inside its block."""

    _flag = "anomaly"

    def __init__(self, mode: bool) -> None:
        super().__init__()
        self._value = bool(mode)
