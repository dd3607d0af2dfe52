"""``gradient_flow``: per-parameter gradient magnitudes after backward, as a table and
a bar chart, the usual check for vanishing and exploding gradients."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from graphgrad.autograd.arrays import to_host
from graphgrad.autograd.tensor import Tensor

from ._graph import is_module
from ._record import GradStats, grad_stats


@dataclass(frozen=True)
class FlowRow:
    """One parameter: ``stats`` of its ``.grad`` (None when it has none) and
    ``ratio`` = ||grad|| / ||param|| (Frobenius norms; None when undefined)."""

    name: str
    shape: tuple
    stats: GradStats | None
    ratio: float | None

    @property
    def mean_abs(self) -> float | None:
        return None if self.stats is None else self.stats.mean_abs

    @property
    def max_abs(self) -> float | None:
        return None if self.stats is None else self.stats.max_abs


class GradientFlow:
    """The report ``gradient_flow`` returns: ``rows`` (one ``FlowRow`` per parameter, in
    registration order), ``str()`` a text table, ``plot(path)`` a bar chart."""

    def __init__(self, rows: list[FlowRow]) -> None:
        self.rows = rows

    def __getitem__(self, name: str) -> FlowRow:
        for row in self.rows:
            if row.name == name:
                return row
        raise KeyError(name)

    def spread(self) -> float | None:
        """Orders of magnitude between the largest and smallest mean |grad| (None if
        fewer than two parameters have a positive finite gradient)."""
        means = [r.mean_abs for r in self.rows if r.stats is not None and r.stats.finite
                 and r.mean_abs > 0]
        if len(means) < 2:
            return None
        return math.log10(max(means) / min(means))

    def table(self) -> str:
        header = ("parameter", "shape", "mean|g|", "max|g|", "|g|/|w|", "log10 mean|g|", "")
        means = [r.mean_abs for r in self.rows if r.stats is not None and r.mean_abs > 0
                 and r.stats.finite]
        lo = math.floor(math.log10(min(means))) if means else 0
        hi = math.ceil(math.log10(max(means))) if means else 1
        body = []
        for r in self.rows:
            s = r.stats
            if s is None:
                body.append((r.name, _shape(r.shape), "no grad", "", "", "", ""))
                continue
            flags = ", ".join(f"{what} x{n}" for what, n in (("NaN", s.nan), ("Inf", s.inf)) if n)
            bar = ""
            if s.mean_abs > 0 and s.finite:
                width = round(20 * (math.log10(s.mean_abs) - lo) / max(hi - lo, 1))
                bar = "#" * max(width, 1)
            body.append((r.name, _shape(r.shape), f"{s.mean_abs:.2e}", f"{s.max_abs:.2e}",
                         "" if r.ratio is None else f"{r.ratio:.2e}", bar, flags))
        widths = [max(len(str(row[i])) for row in [header, *body]) for i in range(len(header))]
        lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
                 for row in [header, *body]]
        lines.insert(1, "-" * len(lines[0]))
        if means:
            lines.append(f"(bars: log10 mean|g| from 1e{lo} to 1e{hi})")
        spread = self.spread()
        if spread is not None and spread >= 3:
            lines.append(f"warning: mean |grad| spans {spread:.1f} orders of magnitude across "
                         f"parameters (vanishing or exploding gradients?)")
        if any(r.stats is not None and not r.stats.finite for r in self.rows):
            lines.append("warning: some gradients contain NaN or Inf")
        return "\n".join(lines)

    __str__ = table

    def __repr__(self) -> str:
        return f"GradientFlow({len(self.rows)} parameters)\n{self.table()}"

    def plot(self, path=None, title: str = "gradient flow"):
        """A bar chart of mean and max |grad| per parameter on a log axis; written to
        ``path`` (PNG, or any format matplotlib knows from the suffix) when given.
        Returns the matplotlib ``Figure``.  Needs matplotlib (``graphgrad[plot]``)."""
        try:
            from matplotlib.figure import Figure
        except ImportError as err:
            raise ImportError("gradient_flow's chart needs matplotlib: "
                              "pip install graphgrad[plot]  (or: pip install matplotlib)") from err
        names = [r.name for r in self.rows]
        x = np.arange(len(names))
        tiny = 1e-30  # log axes cannot show 0; missing/zero gradients sit at the bottom

        def values(attr):
            return [max(getattr(r, attr) or 0.0, tiny) if r.stats is None or r.stats.finite
                    else np.nan for r in self.rows]

        fig = Figure(figsize=(max(6.0, 0.45 * len(names) + 2), 4.5), layout="constrained")
        ax = fig.subplots()
        ax.bar(x, values("max_abs"), 0.8, color="#92c5de", label="max |grad|")
        ax.bar(x, values("mean_abs"), 0.5, color="#2166ac", label="mean |grad|")
        for i, r in enumerate(self.rows):
            if r.stats is not None and not r.stats.finite:
                ax.axvspan(i - 0.4, i + 0.4, color="#d6604d", alpha=0.5)
                ax.text(i, 0.5, "NaN/Inf", rotation=90, ha="center", va="center",
                        transform=ax.get_xaxis_transform(), color="#b2182b")
        positive = [v for v in values("mean_abs") + values("max_abs")
                    if np.isfinite(v) and v > tiny]
        ax.set_yscale("log")
        if positive:
            ax.set_ylim(min(positive) / 3, max(positive) * 3)
        ax.set_xticks(x, names, rotation=60, ha="right", fontsize=8)
        ax.set_ylabel("|grad| (log scale)")
        ax.set_title(title)
        ax.grid(axis="y", which="major", alpha=0.3)
        ax.legend(loc="best", fontsize=8)
        if path is not None:
            fig.savefig(path, dpi=120)
        return fig


def gradient_flow(model, path=None) -> GradientFlow:
    """Per-parameter gradient report of ``model`` after ``backward``.

    ``model``: a Module, its ``named_parameters()``, or a ``{name: tensor}`` dict.
    For each parameter: shape, mean and max |grad|, ||grad|| / ||param|| (how big a
    step of plain SGD is relative to the weights) and NaN/Inf counts.  ``print`` the
    result for a table; with ``path`` a bar chart is also written (needs matplotlib,
    the ``plot`` extra).  Vanishing gradients show as the first layers' mean |grad|
    several orders of magnitude below the last layers'.
    """
    if is_module(model):
        items = list(model.named_parameters())
    elif isinstance(model, dict):
        items = list(model.items())
    else:
        items = list(model)
    rows = []
    for name, p in items:
        if not isinstance(p, Tensor):
            raise TypeError(f"gradient_flow: {name!r} is a {type(p).__name__}, not a Tensor")
        if p.grad is None:
            rows.append(FlowRow(name, p.shape, None, None))
            continue
        s = grad_stats(p.grad)
        w = float(np.linalg.norm(to_host(p._data).astype(np.float64).ravel()))
        rows.append(FlowRow(name, p.shape, s, s.norm / w if w and s.finite else None))
    report = GradientFlow(rows)
    if path is not None:
        report.plot(path)
    return report


def _shape(shape) -> str:
    return str(tuple(shape))
