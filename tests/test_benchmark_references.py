"""The hand-written NumPy steps the benchmarks compare against compute what graphgrad
computes (otherwise their times would mean nothing)."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import _numpy_reference as ref  # noqa: E402
import bench_sequence  # noqa: E402


def test_lstm_step_by_hand_matches_graphgrads_step():
    model, step = bench_sequence.ours("lstm", seq=5)
    state = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    params = {short: state[long].copy() for short, long in bench_sequence._REF_NAMES.items()}
    adam = ref.Adam(params)
    x, y = bench_sequence._lstm_data(5)
    for _ in range(2):
        np.testing.assert_allclose(ref.lstm_step(params, adam, x, y), step(), rtol=1e-5)
    after = model.state_dict()
    for short, long in bench_sequence._REF_NAMES.items():
        np.testing.assert_allclose(params[short], after[long].numpy(), rtol=1e-4, atol=1e-6)
        assert not np.allclose(params[short], state[long])  # the step did change them


def test_bench_ops_steps_compute_what_torch_computes():
    """Each case of benchmarks/bench_ops.py gives graphgrad and PyTorch the same inputs
    and asks for the same gradients (the table compares like with like)."""
    torch = pytest.importorskip("torch")
    import bench_ops

    import graphgrad as gg
    for op, compute, shapes in bench_ops.CASES:  # the same ranks, smaller
        small = tuple(tuple(min(n, 6) for n in shape) for shape in shapes)
        arrays = bench_ops.inputs(op, small, np.random.default_rng(0))
        ours = bench_ops.step(gg, compute, arrays)()
        theirs = bench_ops.step(torch, compute, arrays)()
        for a, b in zip(ours, theirs, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5, err_msg=f"{op} {small}")
