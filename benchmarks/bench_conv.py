"""Depthwise convolutions (groups = channels, MobileNet's), forward and backward, beside PyTorch.

    python benchmarks/bench_conv.py [--repeat 10]

For each input shape (N, C, H, W), a 3x3 depthwise ``F.conv2d`` (padding 1, the
stride listed) with the input and the weight requiring gradients: the output's
gradient is ones.  Three candidates, in float32: graphgrad as it chooses (banded
matrix products or unfold, see ``nn.functional.conv._banded_is_cheaper``),
graphgrad forced through unfold (im2col, the general path), and PyTorch (2
threads; skipped when torch is missing).  Medians of interleaved runs; ratios
within the run.  The shapes span the choice: small layers stay with unfold.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
from _harness import interleaved_medians, load_torch, machine, print_table

import graphgrad as gg
import graphgrad.nn.functional as F
import graphgrad.nn.functional.conv as conv_module
from graphgrad.autograd.ops.conv import window

SHAPES = [  # (N, C, H, W), stride
    ((64, 32, 28, 28), 1), ((8, 64, 56, 56), 1), ((64, 256, 7, 7), 1),
    ((32, 16, 14, 14), 1), ((64, 64, 28, 28), 2), ((32, 32, 28, 28), 2),
]


def ours(shape: tuple, stride: int, force_unfold: bool):
    rng = np.random.default_rng(0)
    x = gg.tensor(rng.standard_normal(shape, dtype=np.float32), requires_grad=True)
    w = gg.tensor(rng.standard_normal((shape[1], 1, 3, 3), dtype=np.float32),
                  requires_grad=True)
    choose = conv_module._banded_is_cheaper

    def step() -> None:
        conv_module._banded_is_cheaper = (lambda geom: False) if force_unfold else choose
        try:
            x.grad = w.grad = None
            y = F.conv2d(x, w, padding=1, stride=stride, groups=shape[1])
            y.backward(gg.ones_like(y))
        finally:
            conv_module._banded_is_cheaper = choose

    return step


def theirs(torch, shape: tuple, stride: int):
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.standard_normal(shape, dtype=np.float32), requires_grad=True)
    w = torch.tensor(rng.standard_normal((shape[1], 1, 3, 3), dtype=np.float32),
                     requires_grad=True)

    def step() -> None:
        x.grad = w.grad = None
        y = torch.nn.functional.conv2d(x, w, padding=1, stride=stride, groups=shape[1])
        y.backward(torch.ones_like(y))

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    torch = load_torch(threads=2)
    print(machine() + (f", torch {torch.__version__} (2 threads)" if torch else ", no torch"))
    rows = []
    for shape, stride in SHAPES:
        geom = window(shape, (3, 3), (stride, stride), ((1, 1), (1, 1)), (1, 1))
        steps = {"graphgrad": ours(shape, stride, False), "unfold": ours(shape, stride, True)}
        if torch is not None:
            steps["torch"] = theirs(torch, shape, stride)
        ms = {name: 1e3 * t for name, t in interleaved_medians(
            steps, repeat=args.repeat, settle=1, pause=0.3, clock=time.perf_counter).items()}
        rows.append([f"{shape} s{stride}", "banded" if conv_module._banded_is_cheaper(geom)
                     else "unfold", ms["graphgrad"], ms["unfold"], ms.get("torch"),
                     ms["unfold"] / ms["graphgrad"],
                     ms["graphgrad"] / ms["torch"] if torch else None])
    print_table(f"3x3 depthwise conv2d, forward + backward (ms), median of {args.repeat} "
                f"interleaved runs",
                ["input, stride", "path", "graphgrad", "unfold only", "torch",
                 "unfold / graphgrad", "graphgrad / torch"], rows)


if __name__ == "__main__":
    main()
