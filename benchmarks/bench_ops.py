"""Single ops, forward and backward, beside PyTorch: ``linalg.solve``, ``sort``,
``cumsum`` and ``scatter_add``.

    python benchmarks/bench_ops.py [--repeat 15]

For each case (sort and cumsum along the last dim; scatter_add along dim 0 with an index of
random rows, as message passing sums) the inputs (float32) require gradients; one
step is the op's forward and a backward with a gradient of ones, and the gradients
are what it returns (so tests/test_benchmark_references.py checks that both
libraries compute the same thing).  Both run on one thread
(``gg.set_num_threads(1)``, which sizes the BLAS pool, and
``torch.set_num_threads(1)``); times are medians of interleaved runs, ratios within
the run.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
from _harness import interleaved_medians, load_torch, machine, print_table

import graphgrad as gg


def _solve(lib, a, b):
    return lib.linalg.solve(a, b)


def _sort(lib, x):
    return lib.sort(x, dim=-1).values


def _cumsum(lib, x):
    return lib.cumsum(x, dim=-1)


_INDEX = {}


def _scatter_add(lib, x, src):
    """Message passing's sum: rows of src added into rows of x at random row indices (an
    int64 index tensor made once per library and shape, outside the timing)."""
    key = (lib.__name__, tuple(x.shape), tuple(src.shape))
    if key not in _INDEX:
        rows = np.random.default_rng(1).integers(0, x.shape[0], src.shape[0])
        _INDEX[key] = lib.tensor(np.broadcast_to(rows[:, None], src.shape).copy())
    return lib.scatter_add(x, 0, _INDEX[key], src)


def inputs(op: str, shapes: tuple, rng) -> list:
    """float32 inputs of ``shapes``; for ``linalg.solve`` A is well conditioned (Gaussian
    plus n times the identity)."""
    arrays = [rng.standard_normal(shape).astype(np.float32) for shape in shapes]
    if op == "linalg.solve":
        n = shapes[0][-1]
        arrays[0] += n * np.eye(n, dtype=np.float32)
    return arrays


# (op, the computation on either library, the input shapes)
CASES = [
    ("linalg.solve", _solve, ((256, 256), (256, 64))),
    ("linalg.solve", _solve, ((1024, 8, 8), (1024, 8))),
    ("linalg.solve", _solve, ((32, 64, 64), (32, 64, 16))),
    ("sort", _sort, ((512, 1024),)),
    ("sort", _sort, ((1_000_000,),)),
    ("cumsum", _cumsum, ((512, 1024),)),
    ("cumsum", _cumsum, ((1_000_000,),)),
    ("scatter_add", _scatter_add, ((10_000, 64), (100_000, 64))),
]


def step(lib, compute, arrays):
    """A function running one forward and backward of ``compute`` on leaves holding
    ``arrays``; it returns their gradients as NumPy arrays."""
    leaves = [lib.tensor(a, requires_grad=True) for a in arrays]

    def run() -> list:
        for x in leaves:
            x.grad = None
        out = compute(lib, *leaves)
        out.backward(lib.ones_like(out))
        return [x.grad.numpy() for x in leaves]

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    gg.set_num_threads(1)
    torch = load_torch(threads=1)
    print(machine() + (f", torch {torch.__version__}" if torch else ", no torch")
          + ", 1 thread each")
    rows = []
    for op, compute, shapes in CASES:
        arrays = inputs(op, shapes, np.random.default_rng(0))
        steps = {"graphgrad": step(gg, compute, arrays)}
        if torch is not None:
            steps["torch"] = step(torch, compute, arrays)
        ms = {name: 1e3 * t for name, t in interleaved_medians(
            steps, repeat=args.repeat, settle=1, pause=0.05, clock=time.perf_counter).items()}
        rows.append([op, ", ".join(str(s) for s in shapes), ms["graphgrad"], ms.get("torch"),
                     ms["graphgrad"] / ms["torch"] if torch else None])
    print_table(f"forward + backward (ms), float32, median of {args.repeat} interleaved runs",
                ["op", "inputs", "graphgrad", "torch", "graphgrad / torch"], rows)


if __name__ == "__main__":
    main()
