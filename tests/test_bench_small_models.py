"""benchmarks/bench_small_models.py compares like with like: each model, written once
against a torch-like module, trains to the same losses in graphgrad and in PyTorch from
the same weights and data (at a tiny size, without dropout, for two steps: the second
loss also checks the first update)."""
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import _small_models  # noqa: E402
import bench_small_models  # noqa: E402


@pytest.mark.parametrize("name", list(_small_models.MODELS))
def test_small_model_trains_as_in_pytorch(name):
    torch = pytest.importorskip("torch")
    losses = np.array(bench_small_models.first_losses(name, torch, tiny=True, steps=2))
    assert np.isfinite(losses).all() and losses[1, 0] != losses[0, 0]
    np.testing.assert_allclose(losses[:, 0], losses[:, 1], rtol=1e-5)


def test_profile_mode_reports_the_ops_of_a_small_model():
    import subprocess

    result = subprocess.run(
        [sys.executable, str(Path(bench_small_models.__file__)), "--profile", "gpt128-tanh",
         "--tiny"], capture_output=True, text=True, timeout=300, check=True)
    assert result.stdout.startswith("gpt128-tanh: ")
    linear = [line.split() for line in result.stdout.splitlines() if line.startswith("  linear ")]
    assert linear and linear[0][-1] == "x9"  # 4 Linear layers in each of 2 blocks, the head
