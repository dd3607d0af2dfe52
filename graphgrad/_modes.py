"""``inference_mode``, as ``torch.inference_mode``: graphgrad's spelling of ``no_grad``.

``inference_mode(mode=True)`` turns graph recording off while active (``mode=False``
turns it on, as PyTorch's does), as a context manager (``with gg.inference_mode():``)
and as a decorator (``@gg.inference_mode`` or ``@gg.inference_mode()``), including on
generator functions, whose body runs in the mode at every resumption while the caller's
code between resumptions keeps its own mode.

What differs from PyTorch: PyTorch marks tensors made in inference mode as "inference
tensors", which skip version counting and can never enter autograd later (using one in
a graph that records raises).  graphgrad has no such marking: tensors made inside are
ordinary tensors that do not require grad, exactly as under ``no_grad``.  Code that is
correct under PyTorch's inference mode therefore runs the same here.
"""
from __future__ import annotations

from graphgrad.autograd.grad_mode import is_grad_enabled, run_inside, set_grad_enabled


class inference_mode:  # noqa: N801  (torch's spelling)
    """Graph recording off (``mode=True``) or on (``mode=False``) inside; see the module
    docstring for how it differs from PyTorch's inference tensors."""

    def __new__(cls, mode=True):
        if callable(mode):  # used as @inference_mode without parentheses
            return cls()(mode)
        return super().__new__(cls)

    def __init__(self, mode: bool = True) -> None:
        self.mode = bool(mode)
        self._previous: list[bool] = []

    def __enter__(self) -> None:
        self._previous.append(is_grad_enabled())
        set_grad_enabled(not self.mode)

    def __exit__(self, *exc) -> bool:
        set_grad_enabled(self._previous.pop())
        return False

    def __call__(self, func):
        """Used as @inference_mode(mode): each call of ``func`` (each resumption, for a
        generator function) runs inside a fresh ``inference_mode(mode)``."""
        mode = self.mode
        return run_inside(lambda: inference_mode(mode), func)

