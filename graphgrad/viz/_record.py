"""Gradient statistics, and recording them during backward.

After ``backward`` only the leaves keep a gradient (``.grad``); the gradients of
intermediate results are freed as soon as they have been passed on.  To show
them, ``record_gradients()`` installs the engine's observer hook
(``STATE.observer``) for the duration of a ``with`` block: the engine then calls
it with each node's complete gradient, and we keep a few numbers per node
(norm, mean |g|, max |g|, NaN/Inf counts, a histogram: ``ArrayStats``), the order
backward visited the nodes in, and a description and the same statistics of the
arrays each node had saved (its forward values, freed right after the node runs).
Nothing else is kept: no array outlives backward.
"""
from __future__ import annotations

import itertools
import weakref
from dataclasses import dataclass

import numpy as np

from graphgrad.autograd.arrays import to_host
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


# Histogram bins of ``ArrayStats``, on a signed log scale so that histograms of arrays of any
# size and range add up: one bin per decade of |x| from 1e-8 to 1e4 for each sign (values
# beyond fall in the outermost bins), and a middle bin for |x| < 1e-8.
HIST_LO, HIST_HI = -8, 4
HIST_DECADES = HIST_HI - HIST_LO


@dataclass(frozen=True)
class ArrayStats:
    """Mergeable summary of one array (what the explorer shows for values and gradients):
    sums over the finite entries, extremes, NaN/Inf counts and a signed-log histogram
    (``hist[HIST_DECADES]`` counts |x| < 1e-8; ``HIST_DECADES + 1 + k`` the positive
    values in decade 1e(HIST_LO + k); the negative ones mirror them below the middle)."""

    size: int
    dtype: np.dtype
    finite: int  # number of finite entries, over which the sums, min and max are taken
    total: float
    total_sq: float
    total_abs: float
    min: float
    max: float
    max_abs: float
    nan: int
    inf: int
    hist: tuple[int, ...]

    @property
    def mean(self) -> float:
        return self.total / self.finite if self.finite else 0.0

    @property
    def std(self) -> float:
        """Population standard deviation of the finite entries."""
        if not self.finite:
            return 0.0
        return float(np.sqrt(max(self.total_sq / self.finite - self.mean ** 2, 0.0)))

    def grad_stats(self) -> GradStats:
        mean_abs = self.total_abs / self.finite if self.finite else 0.0
        return GradStats(float(np.sqrt(self.total_sq)), mean_abs, self.max_abs, self.nan,
                         self.inf, self.size, self.dtype)


def array_stats(g) -> ArrayStats:
    """The ``ArrayStats`` of an array or Tensor (computed in float64, on the host: a
    device's array is copied there first)."""
    raw = to_host(g._data if isinstance(g, Tensor) else g)
    dtype = raw.dtype
    a = raw.astype(np.float64, copy=False).ravel()
    size = int(a.size)
    nan = inf = 0
    if size and not np.isfinite(np.abs(a).max(initial=0.0)):
        nan = int(np.count_nonzero(np.isnan(a)))
        inf = int(np.count_nonzero(np.isinf(a)))
        a = a[np.isfinite(a)]
    if a.size == 0:
        empty = (0,) * (2 * HIST_DECADES + 1)
        return ArrayStats(size, dtype, 0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, nan, inf, empty)
    m = np.abs(a)
    small = m < 10.0 ** HIST_LO
    with np.errstate(divide="ignore"):
        decade = np.clip(np.floor(np.log10(m)) - HIST_LO, 0, HIST_DECADES - 1).astype(np.int64)
    index = np.where(small, HIST_DECADES,
                     np.where(a > 0, HIST_DECADES + 1 + decade, HIST_DECADES - 1 - decade))
    hist = np.bincount(index, minlength=2 * HIST_DECADES + 1)
    return ArrayStats(size, dtype, int(a.size), float(a.sum()), float(np.dot(a, a)),
                      float(m.sum()), float(a.min()), float(a.max()), float(m.max()), nan, inf,
                      tuple(int(c) for c in hist))


def merge_array_stats(stats: list[ArrayStats]) -> ArrayStats | None:
    """The ``ArrayStats`` of several arrays taken together (as if concatenated)."""
    stats = [s for s in stats if s is not None]
    if len(stats) <= 1:
        return stats[0] if stats else None
    seen = [s for s in stats if s.finite]
    return ArrayStats(
        sum(s.size for s in stats), stats[0].dtype, sum(s.finite for s in stats),
        sum(s.total for s in stats), sum(s.total_sq for s in stats),
        sum(s.total_abs for s in stats), min((s.min for s in seen), default=0.0),
        max((s.max for s in seen), default=0.0), max(s.max_abs for s in stats),
        sum(s.nan for s in stats), sum(s.inf for s in stats),
        tuple(int(c) for c in np.sum([s.hist for s in stats], axis=0)))


def grad_stats(g) -> GradStats:
    """The ``GradStats`` of an array or Tensor (computed in float64)."""
    return array_stats(g).grad_stats()


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
    grad: ArrayStats  # the same gradient, in more detail (for the explorer)
    tick: int  # global visit counter: ranks give backward's order
    saved: tuple[SavedArray, ...] | None  # None for leaves
    values: tuple[tuple[int, ArrayStats], ...] | None  # (input index or -1 for the output,
    # stats of that saved array): the forward values the node kept (None for leaves)


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


def saved_values(node) -> tuple[tuple[int, ArrayStats], ...]:
    """(input index, or -1 for the output; its ``ArrayStats``) for each array ``node``
    holds for backward right now: the forward values still known once backward ran."""
    out = [] if node.out is None else [(-1, array_stats(node.out))]
    for i, x in enumerate(node.saved or ()):
        if isinstance(x, Tensor):
            out.append((i, array_stats(x._data)))
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
        leaf = isinstance(key, Tensor)
        saved = None if leaf else describe_saved(key)
        values = None if leaf else saved_values(key)
        ident = id(key)
        entries = self._entries

        def forget(_ref, ident=ident, entries=entries):
            entry = entries.get(ident)
            if entry is not None and entry[0] is _ref:
                del entries[ident]

        summary = array_stats(g)
        entries[ident] = (weakref.ref(key, forget),
                          Observation(summary.grad_stats(), summary, next(self._ticks), saved,
                                      values))


RECORD = GradientRecord()  # what draw_graph reads; written by record_gradients blocks


class record_gradients:
    """Context manager: record every gradient's statistics during the backward passes run
    inside it, for ``draw_graph`` and ``explore`` to show on op nodes.

        with gg.viz.record_gradients():
            loss.backward()
        gg.viz.draw_graph(loss)

    Costs a few passes over each gradient array and each saved forward array (sums,
    extremes, NaN/Inf counts, a log-scale histogram) and a few numbers per node; a
    backward outside the block pays nothing.  An observer already installed (an outer
    block, or another tool) keeps being called.
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
