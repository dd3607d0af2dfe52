"""benchmarks/bench_gpu.py: its three models compute the same losses in graphgrad and in
PyTorch from the same weights and batch (so its GPU columns compare like with like), its
CPU part runs and says when there is no GPU, and its GPU path runs on the strict
stand-in."""
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import bench_gpu  # noqa: E402
from device_under_test import no_cuda  # noqa: E402

import graphgrad as gg  # noqa: E402
from graphgrad.testing.strict_arrays import strict_cuda  # noqa: E402


@pytest.mark.parametrize("name", list(bench_gpu.BUILDERS))
def test_models_train_as_in_pytorch(name):
    torch = pytest.importorskip("torch")
    cfg = bench_gpu.SIZES[name][1]
    ours, weights = bench_gpu.trainer(gg, name, cfg, "cpu", None)
    theirs, _ = bench_gpu.trainer(torch, name, cfg, "cpu", weights)
    losses = np.array([[ours(), theirs()] for _ in range(2)])
    assert np.isfinite(losses).all() and losses[1, 0] != losses[0, 0]
    np.testing.assert_allclose(losses[:, 0], losses[:, 1], rtol=1e-5)


def test_without_a_gpu_it_measures_the_cpu_and_says_so(capsys):
    with no_cuda():
        assert bench_gpu.main(["--small", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert "no GPU: graphgrad.cuda.is_available() is False" in out
    assert all(name in out for name in bench_gpu.BUILDERS)


def test_the_gpu_path_runs_on_the_stand_in(capsys):
    with strict_cuda():
        assert bench_gpu.main(["--small", "--repeat", "1"]) == 0
    assert "GPU: graphgrad strict stand-in" in capsys.readouterr().out
