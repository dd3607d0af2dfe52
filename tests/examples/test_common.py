"""The shared helpers of the examples (examples/common): datasets, metrics, plots, CLI,
checked against values known by construction."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
if str(EXAMPLES) not in sys.path:
    sys.path.insert(0, str(EXAMPLES))

from common import accuracy, datasets, ema, example_args, plotting, predict  # noqa: E402

import graphgrad as gg  # noqa: E402
from graphgrad import nn  # noqa: E402

GENERATORS = {
    "flower": lambda **kw: datasets.flower(**kw),
    "moons": lambda **kw: datasets.moons(**kw),
    "circles": lambda **kw: datasets.circles(**kw),
    "blobs": lambda **kw: datasets.blobs(**kw),
    "spirals": lambda **kw: datasets.spirals(**kw),
}


# ------------------------------------------------------------------ datasets
@pytest.mark.parametrize("name", GENERATORS)
def test_dataset_shapes_balance_and_determinism(name):
    X, y = GENERATORS[name](n=101, seed=5)
    assert X.shape == (101, 2) and X.dtype == np.float32
    assert y.shape == (101,) and y.dtype == np.int64
    counts = np.bincount(y)
    assert counts.max() - counts.min() <= 1  # balanced, first classes get the remainder
    assert np.all(np.diff(y) >= 0)  # stored class by class
    X2, y2 = GENERATORS[name](n=101, seed=5)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    assert not np.array_equal(X, GENERATORS[name](n=101, seed=6)[0])


def test_datasets_leave_the_project_generator_alone():
    gg.manual_seed(3)
    expected = gg.randn(4).numpy()
    gg.manual_seed(3)
    for make in GENERATORS.values():
        make(n=30, seed=0)
    np.testing.assert_array_equal(gg.randn(4).numpy(), expected)


def test_flower_without_noise_follows_the_petal_curve():
    X, y = datasets.flower(n=4, noise=0.0)
    # class 0: t = [0, 3.12]; class 1: t = [3.12, 6.24]; r = 4 sin(4 t); point (r sin t, r cos t)
    t = np.array([0.0, 3.12, 3.12, 6.24])
    r = 4 * np.sin(4 * t)
    np.testing.assert_allclose(X, np.stack([r * np.sin(t), r * np.cos(t)], 1), atol=1e-6)
    np.testing.assert_array_equal(y, [0, 0, 1, 1])


def test_moons_without_noise_lie_on_their_half_circles():
    X, y = datasets.moons(n=50, noise=0.0)
    upper, lower = X[y == 0].astype(np.float64), X[y == 1].astype(np.float64)
    np.testing.assert_allclose(np.hypot(*upper.T), 1.0, atol=1e-6)
    assert np.all(upper[:, 1] >= -1e-7)
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1, lower[:, 1] - 0.5), 1.0, atol=1e-6)
    assert np.all(lower[:, 1] <= 0.5 + 1e-7)


def test_circles_without_noise_have_radii_one_and_factor():
    X, y = datasets.circles(n=40, noise=0.0, factor=0.3)
    radius = np.hypot(*X.astype(np.float64).T)
    np.testing.assert_allclose(radius[y == 0], 1.0, atol=1e-6)
    np.testing.assert_allclose(radius[y == 1], 0.3, atol=1e-6)


def test_blobs_with_zero_spread_sit_on_their_centres():
    X, y = datasets.blobs(n=6, centers=3, std=0.0, radius=2.0)
    angles = 2 * np.pi * y / 3
    np.testing.assert_allclose(X, 2 * np.stack([np.cos(angles), np.sin(angles)], 1), atol=1e-6)
    X, y = datasets.blobs(n=4, centers=[[1, 2], [-3, 4]], std=0.0)
    np.testing.assert_allclose(X, [[1, 2], [1, 2], [-3, 4], [-3, 4]])


def test_spiral_radius_grows_linearly_along_each_arm():
    X, y = datasets.spirals(n=30, classes=3, noise=0.0)
    for j in range(3):
        np.testing.assert_allclose(np.hypot(*X[y == j].T), np.linspace(0, 1, 10), atol=1e-6)


def test_split_is_a_shuffled_partition():
    X = np.arange(20, dtype=np.float32).reshape(10, 2)
    y = np.arange(10)
    X_train, y_train, X_dev, y_dev = datasets.split(X, y, dev=0.3, seed=1)
    assert len(X_dev) == 3 and len(X_train) == 7
    np.testing.assert_array_equal(np.sort(np.concatenate([y_train, y_dev])), y)
    np.testing.assert_array_equal(X_train[:, 0], 2 * y_train)  # rows stay paired
    with pytest.raises(ValueError):
        datasets.split(X, y[:5])
    with pytest.raises(ValueError):
        datasets.blobs(n=2, centers=3)


# ------------------------------------------------------------------ metrics
def _linear(weight, bias) -> nn.Linear:
    layer = nn.Linear(len(weight[0]), len(weight))
    with gg.no_grad():
        layer.weight.copy_(gg.tensor(np.array(weight, dtype=np.float32)))
        layer.bias.copy_(gg.tensor(np.array(bias, dtype=np.float32)))
    return layer


def test_predict_thresholds_one_logit_and_argmaxes_several():
    X = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 2.0]], dtype=np.float32)
    np.testing.assert_array_equal(predict(_linear([[1.0, 0.0]], [0.0]), X), [1, 0, 0])
    scores = _linear([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0]], [0.0, 0.0, 0.5])
    np.testing.assert_array_equal(predict(scores, X), [0, 1, 2])
    assert accuracy(scores, X, np.array([0, 1, 0])) == pytest.approx(2 / 3)


def test_predict_uses_eval_mode_and_restores_the_mode():
    model = nn.Sequential(nn.Dropout(0.9), _linear([[1.0]], [0.0]))
    X = np.ones((50, 1), dtype=np.float32)
    assert model.training
    np.testing.assert_array_equal(predict(model, X), np.ones(50))  # no dropout in eval
    assert model.training
    model.eval()
    predict(model, X)
    assert not model.training


def test_ema_known_values():
    np.testing.assert_allclose(ema([1.0, 0.0], beta=0.5, bias_correction=False), [0.5, 0.25])
    # corrected: 0.5 / (1 - 0.5) = 1, 0.25 / (1 - 0.25) = 1/3
    np.testing.assert_allclose(ema([1.0, 0.0], beta=0.5), [1.0, 1 / 3])
    np.testing.assert_allclose(ema([3.0] * 20, beta=0.9), 3.0)  # constants stay constant
    with pytest.raises(ValueError):
        ema([1.0], beta=1.0)


# ------------------------------------------------------------------ plotting and CLI
def test_decision_grid_known_values():
    xx, yy, points = plotting.decision_grid(np.array([[0.0, 0.0], [1.0, 2.0]]), steps=3,
                                            margin=0.0)
    np.testing.assert_allclose(xx[0], [0.0, 0.5, 1.0])
    np.testing.assert_allclose(yy[:, 0], [0.0, 1.0, 2.0])
    assert points.shape == (9, 2) and points.dtype == np.float32
    np.testing.assert_allclose(points[1 * 3 + 2], [xx[1, 2], yy[1, 2]])


def test_plots_write_files(tmp_path):
    pytest.importorskip("matplotlib")
    out = plotting.output_dir(tmp_path / "new" / "folder")
    assert out.is_dir()
    X, y = datasets.blobs(n=30, centers=2, seed=0)
    paths = [
        plotting.plot_curves({"a": [3, 2, 1], "b": [1, 2]}, out / "curves.png", logy=True),
        plotting.plot_decision_boundaries({"x > 0": lambda p: (p[:, 0] > 0).astype(int)}, X, y,
                                          out / "boundary.png", steps=20),
        plotting.plot_images(np.random.default_rng(0).normal(size=(3, 4, 4)),
                             out / "images.png", titles="abc", symmetric=True),
    ]
    for path in paths:
        assert path.exists() and path.stat().st_size > 1000
        assert path.read_bytes()[:4] == b"\x89PNG"


def test_plots_without_matplotlib_return_none(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    assert plotting.plot_curves({"a": [1, 2]}, tmp_path / "c.png") is None
    assert "matplotlib is not installed" in capsys.readouterr().out
    assert not (tmp_path / "c.png").exists()


def test_example_args():
    args = example_args("doc", argv=[])
    assert args.quick is False and args.out is None
    args = example_args("doc", argv=["--quick", "--out", "plots"])
    assert args.quick is True and args.out == "plots"
