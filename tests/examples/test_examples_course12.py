"""The examples of course 1 (neural networks) and course 2 (improving deep networks) learn.

Each runs in --quick mode here and asserts the effect it shows, with the bar
stated in each test; the full runs are in the slow target with the bars the
README quotes (the full numbers are printed by ``python examples/NAME.py``).
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from example_loader import EXAMPLES, ROOT, load


def plotted(folder: Path, *names: str) -> bool:
    """The plots exist (or matplotlib is absent, and the examples skip them)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return True
    return all((folder / name).exists() for name in names)


# ------------------------------------------------------------------ course 1
def test_logistic_regression_quick(tmp_path):
    r = load("nn_logistic_regression").main(quick=True, out=tmp_path)
    assert r["gradient_error"] < 1e-5  # backward == the course's dw, db formulas
    assert r["cost_last"] * 3 < r["cost_first"]
    assert r["test_accuracy"] >= 0.9
    costs = r["final_costs"]
    assert costs[1.0] < costs[0.01] < costs[0.001]  # too small a learning rate crawls
    assert plotted(tmp_path, "nn_logistic_regression.png", "nn_logistic_regression_costs.png")


def test_shallow_flower_quick(tmp_path):
    r = load("nn_shallow_flower").main(quick=True, out=tmp_path)
    assert r[0]["accuracy"] < 0.65  # a straight line cannot separate the petals
    assert r[4]["accuracy"] >= 0.85  # 4 tanh units can
    assert r[4]["cost_last"] * 2.5 < r[4]["cost_first"]
    assert plotted(tmp_path, "nn_shallow_flower.png")


def test_deep_network_quick(tmp_path):
    r = load("nn_deep_network").main(quick=True, out=tmp_path)
    deep, small, wide = (r["4-layer [2, 20, 7, 5, 1]"], r["2-layer [2, 7, 1]"],
                         r["2-layer [2, 63, 1]"])
    assert deep["parameters"] == wide["parameters"] == 253
    assert deep["cost_last"] * 20 < deep["cost_first"]
    assert deep["dev_accuracy"] >= 0.9
    assert deep["dev_accuracy"] >= small["dev_accuracy"] + 0.2
    assert deep["dev_accuracy"] >= wide["dev_accuracy"] + 0.1  # depth beats width
    assert plotted(tmp_path, "nn_deep_network.png", "nn_deep_network_costs.png")


def test_initialization_quick(tmp_path):
    r = load("nn_initialization").main(quick=True, out=tmp_path)
    zeros, constant, large, he = (r["zeros"], r["constant 0.5"], r["random x 10"], r["He"])
    assert zeros["spread"] == 0 and zeros["cost_last"] > 0.69  # nothing but the last bias moves
    assert constant["spread"] < 1e-6  # symmetric units stay identical (up to rounding)
    assert constant["dev_accuracy"] < 0.8
    assert large["cost_first"] > 100 * he["cost_first"]  # huge weights, huge first cost
    assert he["spread"] > 0.1 and he["dev_accuracy"] >= 0.9
    assert plotted(tmp_path, "nn_initialization.png", "nn_initialization_costs.png")


# ------------------------------------------------------------------ course 2
def test_regularization_quick(tmp_path):
    r = load("improve_regularization").main(quick=True, out=tmp_path)
    assert r["dropout_mean"] == pytest.approx(1.0, abs=0.02)  # inverted dropout keeps the mean
    assert r["none"]["gap"] >= 0.05  # the big network overfits
    for method in ("l2", "dropout"):
        assert r[method]["gap"] <= r["none"]["gap"] - 0.03  # the train/dev gap shrinks
        assert r[method]["dev_accuracy"] >= r["none"]["dev_accuracy"]
    assert plotted(tmp_path, "improve_regularization.png")


def test_gradient_checking_quick(tmp_path):
    r = load("improve_gradient_checking").main(quick=True, out=tmp_path)
    assert r["difference"] < 2e-7  # the course's bound for a correct backprop
    assert r["difference_bug"] > 1e-3  # the planted bug is caught
    assert r["gradcheck"] is True and r["gradcheck_bug"] is False


def test_optimizers_quick(tmp_path):
    r = load("improve_optimizers").main(quick=True, out=tmp_path)
    for name, run in r.items():
        assert run["cost_last"] < run["cost_first"], name
    for adaptive in ("RMSprop", "Adam"):
        assert r[adaptive]["cost_last"] < 0.8 * r["mini-batch GD"]["cost_last"]
    assert plotted(tmp_path, "improve_optimizers.png")


def test_batch_norm_quick(tmp_path):
    r = load("improve_batch_norm").main(quick=True, out=tmp_path)
    assert r["plain"]["last_layer_scale"] < 0.01  # the signal has faded after 6 layers
    assert r["plain"]["cost_last"] > 1.0  # ... and the plain network does not learn yet
    assert r["plain"]["epochs_to_0.5"] is None
    assert r["bn"]["last_layer_scale"] > 0.3
    assert r["bn"]["epochs_to_0.5"] is not None and r["bn"]["epochs_to_0.5"] <= 8
    assert r["bn"]["cost_last"] < 0.6  # mini-batch costs bounce with batch norm: a loose bar
    assert r["bn"]["dev_accuracy"] >= 0.75
    assert r["eval_batch_independence"] < 1e-5
    assert plotted(tmp_path, "improve_batch_norm.png")


def test_softmax_quick(tmp_path):
    r = load("improve_softmax").main(quick=True, out=tmp_path)
    assert r["gradient_error"] < 1e-6  # dL/dz = a - y
    assert r["softmax"]["test_accuracy"] >= 0.88
    assert r["network"]["cost_last"] * 5 < r["network"]["cost_first"]
    assert r["network"]["test_accuracy"] >= 0.85
    assert plotted(tmp_path, "improve_softmax_costs.png", "improve_softmax_weights.png")


def test_script_runs_from_the_command_line(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    done = subprocess.run([sys.executable, str(EXAMPLES / "improve_gradient_checking.py"),
                           "--quick", "--out", str(tmp_path)], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "backprop works" in done.stdout and "mistake in backprop" in done.stdout


# ------------------------------------------------------------------ full runs
@pytest.mark.slow
def test_full_runs_course1(tmp_path):
    r = load("nn_logistic_regression").main(out=tmp_path)
    assert r["test_accuracy"] >= 0.93
    r = load("nn_shallow_flower").main(out=tmp_path)
    assert r[0]["accuracy"] < 0.6 and r[4]["accuracy"] >= 0.9 and r[20]["accuracy"] >= 0.9
    r = load("nn_deep_network").main(out=tmp_path)
    assert r["4-layer [2, 20, 7, 5, 1]"]["dev_accuracy"] >= 0.97
    assert r["2-layer [2, 63, 1]"]["dev_accuracy"] <= 0.85
    r = load("nn_initialization").main(out=tmp_path)
    assert r["He"]["dev_accuracy"] >= 0.97 and r["He"]["cost_last"] < 0.02
    assert r["zeros"]["dev_accuracy"] <= 0.6 and r["constant 0.5"]["spread"] < 1e-6


@pytest.mark.slow
def test_full_runs_course2(tmp_path):
    r = load("improve_regularization").main(out=tmp_path)
    assert r["none"]["gap"] >= 0.1
    assert r["l2"]["gap"] <= 0.05 and r["dropout"]["gap"] <= r["none"]["gap"] - 0.05
    r = load("improve_gradient_checking").main(out=tmp_path)
    assert r["difference"] < 2e-7 < 1e-3 < r["difference_bug"]
    assert min(r["sweep"]["float64"]) < 1e-9 < 1e-3 < min(r["sweep"]["float32"])
    r = load("improve_optimizers").main(out=tmp_path)
    assert r["Adam"]["accuracy"] >= 0.95 and r["RMSprop"]["accuracy"] >= 0.95
    assert r["mini-batch GD"]["accuracy"] >= 0.8
    r = load("improve_batch_norm").main(out=tmp_path)
    assert r["bn"]["dev_accuracy"] >= 0.95 and r["bn"]["epochs_to_0.5"] <= 5
    assert r["plain"]["epochs_to_0.5"] is None or r["plain"]["epochs_to_0.5"] >= 20
    r = load("improve_softmax").main(out=tmp_path)
    assert r["softmax"]["test_accuracy"] >= 0.95 and r["network"]["test_accuracy"] >= 0.95
