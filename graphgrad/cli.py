"""The ``graphgrad`` command (also ``python -m graphgrad``).

    graphgrad demo [--epochs N] [--seed S] [--out DIR] [--quick] [--no-progress]
                   [--device DEVICE]
    graphgrad draw [--out FILE] [--seed S] [--batch-size N] [--html]
"""
from __future__ import annotations

import argparse
import os
import sys

from . import __version__

# `graphgrad demo` with the default epochs exits with status 1 when the test accuracy ends
# below this (the defaults give 99.4%), so scripts and CI can rely on its exit status.
TARGET_ACCURACY = 0.97

DEMO_HELP = """\
Train a small CNN (conv, batch norm, ReLU, max pool, dropout, linear; Adam with a
cosine learning-rate schedule) on the UCI handwritten digits that ship with
graphgrad (1,442 training and 355 test images of 8x8 pixels), with a progress bar
per epoch, and print the test accuracy. Then write into the output folder: loss
and accuracy curves (curves.png), the backward graph of the first training step
(graph.svg) and the same step as an interactive page to explore (backprop.html),
the gradient flow at that step (gradient_flow.png), test digits with
their predicted labels (predictions.png), the trained weights (digits_cnn.ckpt,
reloaded and checked) and the numbers (history.json). The same seed gives the
same numbers. With the default epochs (and without --quick) it exits with status 1
if the test accuracy ends below 97%. Needs the demo extra: pip install
'graphgrad[demo]'."""

DRAW_HELP = """\
Draw the backward graph of one training step of the demo's (untrained) CNN: each
operation with its output shape and the statistics of the gradient that reached
it, parameters named by module path. Prints the gradient-flow table. With --html,
writes instead an interactive page (one self-contained HTML file: click a node for
its numbers, step through backward, fold modules, search). Needs the viz extra: pip
install 'graphgrad[viz]'."""


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="graphgrad", description="graphgrad: a NumPy autograd engine with PyTorch's API.")
    top.add_argument("--version", action="version", version=f"graphgrad {__version__}")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser("demo", help="train a CNN on handwritten digits, draw what "
                               "happened", description=DEMO_HELP)
    demo.add_argument("--epochs", type=positive, default=None, metavar="N",
                      help="passes over the training images (default: 15; 2 with --quick)")
    demo.add_argument("--seed", type=int, default=0, metavar="S",
                      help="seed for initialisation, dropout and shuffling (default: 0)")
    demo.add_argument("--out", default="out/demo", metavar="DIR",
                      help="folder for the pictures, weights and history (default: out/demo)")
    demo.add_argument("--quick", action="store_true",
                      help="a run of a few seconds (2 epochs on 480 training images), to "
                      "check that everything works; the accuracy is not meaningful")
    demo.add_argument("--no-progress", action="store_true",
                      help="print one line per epoch instead of progress bars")
    demo.add_argument("--device", default="cpu", metavar="DEVICE",
                      help="where to train: cpu, or cuda (a GPU, with graphgrad[cuda]) "
                      "(default: cpu)")

    draw = commands.add_parser("draw", help="draw the backward graph of one training step",
                               description=DRAW_HELP)
    draw.add_argument("--out", default="out/graph.svg", metavar="FILE",
                      help="where to write the graph; the suffix picks the format, .svg or "
                      ".png (default: out/graph.svg)")
    draw.add_argument("--seed", type=int, default=0, metavar="S",
                      help="seed for the initial weights (default: 0)")
    draw.add_argument("--batch-size", type=positive, default=8, metavar="N",
                      help="images in the batch (default: 8)")
    draw.add_argument("--html", action="store_true",
                      help="write the interactive explorer page instead, to --out with the "
                      "suffix .html (default: out/graph.html)")
    return top


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    # The demo's matrices are small (at most 512 x 144): BLAS threads cost more than they
    # give (3x slower with two threads on two busy cores).  Set before NumPy loads; an
    # explicit setting in the environment wins.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    from . import demo  # imported here: --help works without NumPy, before the above
    from .autograd.devices import check_device

    try:
        if args.command == "demo":
            try:  # a device that is not there: say so, without a traceback
                check_device("graphgrad demo --device", args.device)
            except (RuntimeError, ValueError) as err:
                print(err, file=sys.stderr)
                return 2
            result = demo.run(epochs=args.epochs, seed=args.seed, out=args.out,
                              quick=args.quick, progress=not args.no_progress,
                              device=args.device)
            default_run = args.epochs is None and not args.quick
            if default_run and result.test_accuracy < TARGET_ACCURACY:
                print(f"graphgrad demo: test accuracy {result.test_accuracy:.2%} is below the "
                      f"{TARGET_ACCURACY:.0%} target", file=sys.stderr)
                return 1
            return 0
        demo.draw(out=args.out, seed=args.seed, batch_size=args.batch_size, html=args.html)
    except ImportError as err:  # a missing extra: say which, without a traceback
        print(f"graphgrad {args.command}: {err}", file=sys.stderr)
        return 1
    return 0
