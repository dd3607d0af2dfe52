"""Gradient statistics, and recording them during backward.

After ``backward`` only the leaves keep a gradient (``.grad``); the gradients of
intermediate results are freed as soon as they have been passed on.  To show
them, ``record_gradients()`` installs the engine's observer hook
(``STATE.observer``) for the duration of a ``with`` block: the engine then calls
it with each node's complete gradient, and we keep a few numbers per node
(norm, mean |g|, max |g|, NaN/Inf counts), the order backward visited the nodes
in, and a description of the arrays each node had saved (those are freed right
after the node runs).  Nothing else is kept: no gradient array outlives backward.
"""
from __future__ import annotations

import itertools
import weakref
from dataclasses import dataclass

import numpy as np

from graphgrad.autograd.grad_mode import STATE
from graphgrad.autograd.tensor import Tensor


@dataclass(frozen=True)
class GradStats:
    """Summary of one gradient array; norm and means are over its finite entries."""

    norm: float
    mean_abs: float
    max_abs: float
    nan: int  # number of NaN entries
    inf: int  # number of +-Inf entries
    size: int
    dtype: np.dtype

    @property
    def finite(self) -> bool:
        return not (self.nan or self.inf)


def grad_stats(g) -> GradStats:
    """The ``GradStats`` of an array or Tensor (computed in float64)."""
    a = np.asarray(g._data if isinstance(g, Tensor) else g)
    dtype = a.dtype
    a = np.abs(a.astype(np.float64, copy=False).ravel())
    nan = inf = 0
    if a.size and not np.isfinite(a.max(initial=0.0)):
        nan = int(np.count_nonzero(np.isnan(a)))
        inf = int(np.count_nonzero(np.isinf(a)))
        a = a[np.isfinite(a)]
    if a.size == 0:
        return GradStats(0.0, 0.0, 0.0, nan, inf, int(nan + inf), dtype)
    return GradStats(float(np.sqrt(np.dot(a, a))), float(a.mean()), float(a.max()), nan, inf,
                     int(a.size + nan + inf), dtype)


def merge_stats(stats: list[GradStats]) -> GradStats | None:
    """The stats of several gradients taken together (as if concatenated)."""
    stats = [s for s in stats if s is not None]
    if not stats:
        return None
    if len(stats) == 1:
        return stats[0]
    finite = sum(s.size - s.nan - s.inf for s in stats)
    mean = sum(s.mean_abs * (s.size - s.nan - s.inf) for s in stats) / finite if finite else 0.0
    return GradStats(
        float(np.sqrt(sum(s.norm ** 2 for s in stats))), mean, max(s.max_abs for s in stats),
        sum(s.nan for s in stats), sum(s.inf for s in stats), sum(s.size for s in stats),
        stats[0].dtype,
    )


@dataclass(frozen=True)
class SavedArray:
    """One array a node keeps for its backward rules."""

    name: str  # "x", "y", "in2" (an input) or "out" (the node's output)
    index: int  # the input's position (-1 for the output)
    shape: tuple
    dtype: np.dtype
    nbytes: int
    key: int  # id of the array, to count shared arrays once
    tensor: int  # id of the saved Tensor (0 for the output), to name constants later


@dataclass(frozen=True)
class Observation:
    """What was seen of one node (or leaf) during a recorded backward."""

    stats: GradStats
    tick: int  # global visit counter: ranks give backward's order
    saved: tuple[SavedArray, ...] | None  # None for leaves


def describe_saved(node) -> tuple[SavedArray, ...]:
    """The arrays ``node`` holds for backward right now (empty once released)."""
    out = []
    saved = node.saved
    if saved is not None:
        binary = len(saved) <= 2
        for i, x in enumerate(saved):
            if isinstance(x, Tensor):
                name = ("x", "y")[i] if binary else f"in{i}"
                a = x._data
                out.append(SavedArray(name, i, a.shape, a.dtype, a.nbytes, id(a), id(x)))
    if node.out is not None:
        a = node.out
        out.append(SavedArray("out", -1, a.shape, a.dtype, a.nbytes, id(a), 0))
    return tuple(out)


class GradientRecord:
    """Observations keyed by graph node or leaf, held weakly: an entry disappears with
    its node, so recording around every training step does not grow memory."""

    def __init__(self) -> None:
        self._entries: dict[int, tuple[weakref.ref, Observation]] = {}
        self._ticks = itertools.count()

    def get(self, key) -> Observation | None:
        entry = self._entries.get(id(key))
        if entry is None or entry[0]() is not key:
            return None
        return entry[1]

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def observe(self, key, g) -> None:
        """The engine's observer: called with each node's and leaf's complete gradient."""
        saved = None if isinstance(key, Tensor) else describe_saved(key)
        ident = id(key)
        entries = self._entries

        def forget(_ref, ident=ident, entries=entries):
            entry = entries.get(ident)
            if entry is not None and entry[0] is _ref:
                del entries[ident]

        entries[ident] = (weakref.ref(key, forget),
                          Observation(grad_stats(g), next(self._ticks), saved))


RECORD = GradientRecord()  # what draw_graph reads; written by record_gradients blocks


class record_gradients:
    """Context manager: record every gradient's statistics during the backward passes run
    inside it, for ``draw_graph`` to show on op nodes.

        with gg.viz.record_gradients():
            loss.backward()
        gg.viz.draw_graph(loss)

    Costs one pass over each gradient array (norm, mean, max, NaN/Inf counts) and a
    few numbers per node; a backward outside the block pays nothing.  An observer
    already installed (an outer block, or another tool) keeps being called.
    """

    def __init__(self, record: GradientRecord | None = None) -> None:
        self.record = RECORD if record is None else record
        self._previous: list = []

    def __enter__(self) -> GradientRecord:
        previous = STATE.observer
        self._previous.append(previous)
        observe = self.record.observe
        if previous is None:
            STATE.observer = observe
        else:
            def both(key, g):
                previous(key, g)
                observe(key, g)

            STATE.observer = both
        return self.record

    def __exit__(self, *exc) -> bool:
        STATE.observer = self._previous.pop()
        return False
