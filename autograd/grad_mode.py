"""The engine's switches: whether operations record a graph, anomaly mode, the Module
call running, and the gradient observer of viz.

Each thread has its own (as PyTorch's grad mode): a ``no_grad`` block in one thread
never stops another thread's recording.  They are read on every operation, so they
live in one object whose attributes are cheap to read; a new thread starts with
recording on and everything else off.
"""
from __future__ import annotations

import functools
import inspect
import threading


class _State(threading.local):
    """``grad_enabled``: record graphs; ``anomaly``: check every value (anomaly.py);
    ``scope``: the innermost Module call running, stamped on each recorded node (None
    outside modules); ``observer``: when set, ``observer(key, grad)`` is called with
    every node's (and leaf's) complete gradient during backward (used by viz).
    ``threading.local`` runs ``__init__`` again in each thread that reads it."""

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
            return run_inside(cls, func)
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
        return run_inside(type(self), func)


def run_inside(context, func):
    """``func`` wrapped so that each call runs inside a fresh ``context()``; for a
    generator function, each resumption of its generator does."""
    if inspect.isgeneratorfunction(func):
        return _wrap_generator(func, context)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with context():
            return func(*args, **kwargs)

    return wrapper


def _wrap_generator(func, context):
    """``func`` (a generator function) with each step of its generator run inside a new
    ``context()``, so a decorated generator computes in the mode at every resumption
    while the caller's code between resumptions keeps its own: values, ``send``,
    ``throw`` and ``close`` all pass through."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        generator = func(*args, **kwargs)  # runs none of the body yet
        try:
            with context():
                value = next(generator)
            while True:
                try:
                    sent = yield value
                except GeneratorExit:
                    with context():
                        generator.close()
                    raise
                except BaseException as error:  # thrown in by the caller: pass it on
                    with context():
                        value = generator.throw(error)
                else:
                    with context():
                        value = generator.send(sent)
        except StopIteration as stop:
            return stop.value

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
        return run_inside(lambda: set_grad_enabled(mode), func)
