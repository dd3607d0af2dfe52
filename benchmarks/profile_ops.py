"""Time spent per primitive operation in one training step of a benchmark model.

    python benchmarks/profile_ops.py mlp|cnn|lstm|transformer [--steps 10]

Every ``Op`` of autograd (its NumPy forward and each vector-Jacobian rule) and the
engine's gradient bookkeeping (accumulation, lazy products and scatters made
dense) are wrapped with timers; the step is then run ``--steps`` times.  Prints
the time per step and the operations that took the most of it.  Nested work
is counted in both rows (a rule that calls another op, as linear's rule makes
a lazy product that the accumulation then makes dense), so the rows do not add
up.  The timers themselves cost a few microseconds per call.
"""
from __future__ import annotations

import argparse
import gc
import time
from collections import defaultdict

import bench_models
import bench_sequence

import graphgrad.autograd.grad_buffers as buffers
from graphgrad.autograd.ops._registry import Op

FORWARD: dict = defaultdict(float)
BACKWARD: dict = defaultdict(float)
CALLS: dict = defaultdict(int)


def _timed(fn, table: dict, name: str, count: bool = False):
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        result = fn(*args, **kwargs)
        table[name] += time.perf_counter() - start
        if count:
            CALLS[name] += 1
        return result

    return wrapper


def instrument() -> None:
    """Wrap every Op and the engine's bookkeeping with timers."""
    for op in [o for o in gc.get_objects() if type(o) is Op]:
        op.forward = _timed(op.forward, FORWARD, op.name, count=True)
        if op.vjps is None:
            continue
        if op.variadic:
            op.vjps = _timed(op.vjps, BACKWARD, f"{op.name} rule")
        else:
            op.vjps = tuple(_timed(rule, BACKWARD, f"{op.name} rule {i}")
                            for i, rule in enumerate(op.vjps))
    buffers.GradBuffers._accumulate = _timed(buffers.GradBuffers._accumulate, BACKWARD,
                                             "engine: accumulate")
    for cls in (buffers.Product, buffers.Scatter):
        cls.dense = _timed(cls.dense, BACKWARD, f"engine: {cls.__name__}.dense")


def model_step(kind: str):
    """One training step (zero_grad, forward, loss, backward, update) of a benchmark model."""
    if kind in ("mlp", "cnn"):
        x, y = bench_models.batch(kind)
        model = bench_models.build(kind)
        step = bench_models.ours(kind, {k: v.numpy().copy() for k, v in
                                        model.state_dict().items()}, x, y)
    else:
        _, step = bench_sequence.ours(kind)
    return step


def report(step, label: str, steps: int = 10, top: int = 15) -> None:
    """Instrument the ops, warm ``step`` up, run it ``steps`` times and print the tables."""
    instrument()
    for _ in range(3):  # warm-up
        step()
    FORWARD.clear()
    BACKWARD.clear()
    CALLS.clear()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    per_step = 1e3 / steps
    print(f"{label}: {(time.perf_counter() - start) * per_step:.2f} ms per step "
          f"(timers included), mean of {steps}")
    for title, table in (("NumPy forwards of the ops (also when a rule calls them)", FORWARD),
                         ("vector-Jacobian rules and engine bookkeeping", BACKWARD)):
        print(f"\n{title}: ms per step")
        for name, seconds in sorted(table.items(), key=lambda kv: -kv[1])[:top]:
            calls = f"  x{CALLS[name] / steps:.0f}" if name in CALLS else ""
            print(f"  {name:32s} {seconds * per_step:8.3f}{calls}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", choices=["mlp", "cnn", "lstm", "transformer"])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--top", type=int, default=15, help="rows per table")
    args = parser.parse_args()
    report(model_step(args.model), args.model, args.steps, args.top)

if __name__ == "__main__":
    main()
