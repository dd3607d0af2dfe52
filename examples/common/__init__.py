"""Shared helpers for the example scripts: command line, synthetic data, evaluation, plots.

Every script in ``examples/`` is run as ``python examples/NAME.py``, which puts
``examples/`` first on ``sys.path``, so the scripts import this package as
``common`` (tests do the same by putting ``examples/`` on ``sys.path``):

    from common import datasets, plotting
    from common import accuracy, ema, example_args, predict

The API, in one screen:

- ``example_args(doc)``: argparse with ``--quick`` (a seconds-long run, for tests)
  and ``--out DIR`` (where plots go).
- ``datasets``: ``flower``, ``moons``, ``circles``, ``blobs``, ``spirals``, each
  ``(n, noise, seed, ...) -> (X float32 (n, 2), y int64 (n,))`` with balanced
  classes in class order and their own seeded generator (independent of
  ``gg.manual_seed``); ``split(X, y, dev=0.25, seed=0)`` shuffles into
  train and dev sets.
- ``predict(model, X)``: class labels from a model's output (a single column is a
  logit thresholded at 0, several columns an argmax), in eval mode, no graph;
  ``accuracy(model, X, y)``; ``ema(values, beta)``: the course's exponentially
  weighted average with bias correction (to smooth noisy mini-batch costs).
- ``plotting``: ``output_dir(out)``, ``plot_curves({label: values}, path)``,
  ``plot_decision_boundaries({title: predict_fn}, X, y, path)``, ``decision_grid``,
  ``plot_images(images, path, titles=...)`` (a grid of small images or weights).
  Matplotlib (the ``plot`` extra) is imported lazily with the Agg backend; without
  it the plot functions print a note and return None.
"""
from . import datasets, plotting
from .cli import example_args
from .metrics import accuracy, ema, predict

__all__ = ["accuracy", "datasets", "ema", "example_args", "plotting", "predict"]
