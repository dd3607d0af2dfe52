"""Plots for the examples: curves on one axis, and decision boundaries of 2-D classifiers.

Matplotlib is imported lazily with the non-interactive Agg backend, so nothing
opens a window and a machine without a display works.  Without matplotlib (the
``plot`` extra) the plot functions print a note and return None; the examples
still run and print their numbers.  Every plot function takes the file path to
write (the format follows the suffix) and returns it.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

DEFAULT_OUT = Path(__file__).resolve().parents[2] / "out" / "examples"


def output_dir(out: str | Path | None = None) -> Path:
    """The folder for plots, created if needed: ``out``, or ``out/examples`` under the
    repository root when ``out`` is None."""
    path = DEFAULT_OUT if out is None else Path(out)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        print("matplotlib is not installed (pip install graphgrad[plot]): no plot written")
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt, fig, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {path}")
    return path


def plot_curves(curves: Mapping[str, Sequence[float]], path: str | Path, *, title: str = "",
                xlabel: str = "epoch", ylabel: str = "cost", logy: bool = False,
                logx: bool = False, x: Sequence[float] | None = None) -> Path | None:
    """Draw each ``label: values`` curve on one axis (x = 0, 1, ... or ``x``) and save."""
    plt = _pyplot()
    if plt is None:
        return None
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for label, values in curves.items():
        ax.plot(np.arange(len(values)) if x is None else x[:len(values)], values, label=label,
                marker="o" if len(values) < 20 else None)
    if logy:
        ax.set_yscale("log")
    if logx:
        ax.set_xscale("log")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(plt, fig, path)


def decision_grid(X: np.ndarray, steps: int = 200, margin: float = 0.5):
    """A ``steps x steps`` grid covering the points of ``X`` (n, 2) plus ``margin``.

    Returns ``xx, yy`` (the meshgrid, each (steps, steps)) and ``points``
    ((steps * steps, 2) float32, row-major: ``points[i * steps + j] ==
    (xx[i, j], yy[i, j])``), ready to feed to a classifier.
    """
    lo = X.min(axis=0) - margin
    hi = X.max(axis=0) + margin
    xx, yy = np.meshgrid(np.linspace(lo[0], hi[0], steps), np.linspace(lo[1], hi[1], steps))
    points = np.stack([xx.ravel(), yy.ravel()], axis=1).astype(np.float32)
    return xx, yy, points


def plot_decision_boundaries(panels: Mapping[str, Callable[[np.ndarray], np.ndarray]],
                             X: np.ndarray, y: np.ndarray, path: str | Path, *,
                             cols: int | None = None, title: str = "",
                             steps: int = 200) -> Path | None:
    """One panel per ``title: predict_fn``: the regions each class gets, and the points.

    ``predict_fn`` maps a (m, 2) float32 array to m integer labels (for a model,
    ``lambda pts: common.predict(model, pts)``).  Points are coloured by ``y``.
    """
    plt = _pyplot()
    if plt is None:
        return None
    cols = cols or min(len(panels), 3)
    rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 3.4 * rows), squeeze=False)
    xx, yy, points = decision_grid(X, steps)
    k = int(max(y.max(), 1)) + 1
    for ax, (name, fn) in zip(axes.flat, panels.items(), strict=False):
        regions = np.asarray(fn(points)).reshape(xx.shape)
        ax.contourf(xx, yy, regions, levels=np.arange(k + 1) - 0.5, cmap="coolwarm", alpha=0.35)
        ax.scatter(X[:, 0], X[:, 1], c=y, s=9, cmap="coolwarm", vmin=0, vmax=k - 1,
                   edgecolors="k", linewidths=0.2)
        ax.set_title(name, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    if title:
        fig.suptitle(title)
    return _save(plt, fig, path)


def plot_images(images: np.ndarray, path: str | Path, *, titles: Sequence[str] | None = None,
                cols: int = 10, title: str = "", cmap: str = "gray",
                symmetric: bool = False) -> Path | None:
    """A grid of small images (N, H, W), one per panel, with optional ``titles``.

    ``symmetric`` centres the colour scale of each image on 0 (for weights, with
    a diverging ``cmap`` such as "coolwarm"); otherwise each image spans its own
    range.
    """
    plt = _pyplot()
    if plt is None:
        return None
    images = np.asarray(images)
    cols = min(cols, len(images))
    rows = math.ceil(len(images) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.3 * cols, 1.4 * rows + 0.3 * bool(title)),
                             squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k >= len(images):
            continue
        limit = float(np.abs(images[k]).max()) or 1.0
        ax.imshow(images[k], cmap=cmap, vmin=-limit if symmetric else None,
                  vmax=limit if symmetric else None)
        if titles is not None:
            ax.set_title(str(titles[k]), fontsize=9)
    if title:
        fig.suptitle(title)
    return _save(plt, fig, path)
