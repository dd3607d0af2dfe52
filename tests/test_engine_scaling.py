"""Backward is linear in the number of inputs of variadic ops (stack, cat): a rule gets
the inputs as one sequence, never unpacked once per input (20k inputs took 1.8 s and
100k 41 s when they were)."""
import gc
import time

import numpy as np
import pytest

import graphgrad as gg


def _stack_backward_seconds(n: int) -> float:
    xs = [gg.tensor(np.float32(i), requires_grad=True) for i in range(n)]
    start = time.perf_counter()
    (gg.stack(xs) * 2).sum().backward()
    seconds = time.perf_counter() - start
    assert xs[-1].grad.item() == 2.0
    return seconds


def _cat_backward_seconds(n: int) -> float:
    xs = [gg.ones(2, requires_grad=True) for _ in range(n)]
    start = time.perf_counter()
    (gg.cat(xs) * 3).sum().backward()
    seconds = time.perf_counter() - start
    assert xs[0].grad.tolist() == [3.0, 3.0]
    return seconds


@pytest.mark.slow  # a timing: in the slow target, where nothing else shares the machine
@pytest.mark.parametrize("timed", [_stack_backward_seconds, _cat_backward_seconds])
def test_stack_and_cat_backward_scale_linearly(timed):
    gc.disable()  # the collector's passes over 100k tensors would blur the timing
    try:
        small = min(timed(20_000) for _ in range(3))
        large = min(timed(100_000) for _ in range(3))
    finally:
        gc.enable()
    assert large / small < 10, f"5x the inputs took {large / small:.1f}x the time (linear: 5x)"


@pytest.mark.slow
def test_stack_backward_against_pytorch():
    torch = pytest.importorskip("torch")
    xs = [torch.tensor(float(i), requires_grad=True) for i in range(100_000)]
    start = time.perf_counter()
    (torch.stack(xs) * 2).sum().backward()
    theirs = time.perf_counter() - start
    ours = min(_stack_backward_seconds(100_000) for _ in range(2))
    assert ours < 3 * theirs, f"100k inputs: {ours:.2f} s, PyTorch {theirs:.2f} s"
