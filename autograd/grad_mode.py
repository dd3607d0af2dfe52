"""Global switches of the engine: whether operations record a graph, and anomaly mode.

Both are process-wide flags (not thread-local), read on every operation, so they
live in one tiny object whose attributes are cheap to read.
"""
from __future__ import annotations

import functools


class _State:
    """``grad_enabled``: record graphs; ``anomaly``: check every value (anomaly.py);
    ``scope``: the innermost Module call running, stamped on each recorded node (None
    outside modules); ``observer``: when set, ``observer(key, grad)`` is called with
    every node's (and leaf's) complete gradient during backward (used by viz)."""

    __slots__ = ("grad_enabled", "anomaly", "scope", "observer")

    def __init__(self) -> None:
        self.grad_enabled = True
        self.anomaly = False
        self.scope = None
        self.observer = None


STATE = _State()


def is_grad_enabled() -> bool:
    """True when operations on tensors that require grad record a graph."""
    return STATE.grad_enabled


class _FlagContext:
    """Sets one flag of STATE while active; usable as ``with x():``, ``@x()`` and ``@x``.

    As a decorator it returns a plain function (so it also works on methods).
    """

    _flag = ""
    _value = True

    def __new__(cls, func=None):
        if callable(func):  # used as @x without parentheses
            return _decorate(cls, func)
        return super().__new__(cls)

    def __init__(self, func=None) -> None:
        self._saved: list[bool] = []

    def __enter__(self):
        self._saved.append(getattr(STATE, self._flag))
        setattr(STATE, self._flag, self._value)
        return self

    def __exit__(self, *exc) -> bool:
        setattr(STATE, self._flag, self._saved.pop())
        return False

    def __call__(self, func):
        """Used as @x(): wrap ``func`` so that each call runs inside a fresh context."""
        return _decorate(type(self), func)


def _decorate(cls, func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with cls():
            return func(*args, **kwargs)

    return wrapper


class no_grad(_FlagContext):
    """Operations inside record no graph (like ``torch.no_grad``)."""

    _flag = "grad_enabled"
    _value = False


class enable_grad(_FlagContext):
    """Re-enables recording inside a ``no_grad`` block (like ``torch.enable_grad``)."""

    _flag = "grad_enabled"
    _value = True


class set_grad_enabled(_FlagContext):
    """Sets recording on or off: ``with set_grad_enabled(False): ...``.

    Like PyTorch, calling it also sets the mode immediately, so it works as a
    plain function call too.
    """

    _flag = "grad_enabled"

    def __init__(self, mode: bool) -> None:
        super().__init__()
        self._value = bool(mode)
        self._previous = STATE.grad_enabled
        STATE.grad_enabled = self._value

    def __enter__(self):
        self._saved.append(self._previous)
        return self

    def __call__(self, func):
        STATE.grad_enabled = self._previous
        mode = self._value

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return func(*args, **kwargs)

        return wrapper
