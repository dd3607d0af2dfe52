"""The CNN examples (course 4) learn: each runs in --quick mode here, and in full in
the slow target, with the bars stated in each test."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from example_loader import EXAMPLES, ROOT, load


def fell(losses, factor: float) -> bool:
    return losses[-1] * factor <= losses[0]


# ------------------------------------------------------------------ quick runs
def test_lenet5_quick(tmp_path):
    r = load("cnn_lenet5").main(quick=True, out=tmp_path)
    assert r["parameters"] == 19850  # the table the script prints
    assert fell(r["train_loss"], 3)
    assert r["test_accuracy"] >= 0.8
    assert (tmp_path / "cnn_lenet5.png").exists()


def test_resnet_quick(tmp_path):
    r = load("cnn_resnet").main(quick=True, out=tmp_path)
    assert r["identity_gap"] == 0.0  # zero last BN scale: the block is the identity
    assert fell(r["resnet"]["train_loss"], 5)
    assert r["resnet"]["test_accuracy"] >= 0.8


def test_inception_quick(tmp_path):
    r = load("cnn_inception").main(quick=True, out=tmp_path)
    assert r["one_by_one_gap"] < 1e-5
    costs = r["costs"]
    assert costs["direct"] == costs["formula_direct"] == 120_422_400  # the course's numbers
    assert costs["bottleneck"] == costs["formula_bottleneck"] == 12_443_648
    assert fell(r["train_loss"], 3)
    assert r["test_accuracy"] >= 0.8


def test_mobilenet_quick(tmp_path):
    r = load("cnn_mobilenet").main(quick=True, out=tmp_path)
    course = r["course"]  # 6x6x3 input, five 3x3 filters
    assert (course["standard"], course["separable"]) == (2160, 672)
    for case in (course, r["mobilenet"]):
        assert case["ratio"] == pytest.approx(case["formula"], rel=1e-12)
    assert r["mobilenet_v1"]["macs"] < r["mobilenet_v2"]["macs"] < r["standard"]["macs"]
    for kind in ("standard", "mobilenet_v1", "mobilenet_v2"):
        assert fell(r[kind]["train_loss"], 1.3), kind


def test_unet_quick(tmp_path):
    r = load("cnn_unet").main(quick=True, out=tmp_path)
    assert r["by_hand_gap"] < 1e-5
    assert r["adjoint_gap"] < 1e-10
    assert fell(r["losses"], 1.5)
    assert r["mean_iou"] >= 0.4


def test_yolo_quick(tmp_path):
    r = load("cnn_yolo").main(quick=True, out=tmp_path)
    assert r["iou_example"] == pytest.approx(1 / 7)
    assert r["nms_example"] == [3, 2]
    assert fell(r["losses"], 3)
    assert r["mAP"] >= 0.2


def test_siamese_triplet_quick(tmp_path):
    r = load("cnn_siamese_triplet").main(quick=True, out=tmp_path)
    assert fell(r["losses"], 1.3)
    assert r["seen"]["one_shot"] >= 0.8
    assert r["seen"]["auc"] >= 0.9


def test_style_transfer_quick(tmp_path):
    h = load("cnn_style_transfer").main(quick=True, out=tmp_path)
    assert fell(h["style"], 2)
    assert h["content"][-1] < 0.01  # the house is still there


def test_gram_matrix_ignores_positions():
    """The style representation: permuting the positions leaves the Gram matrix as is."""
    import graphgrad as gg

    st = load("cnn_style_transfer")
    a = gg.randn(1, 4, 3, 5)
    shuffled = gg.tensor(a.numpy().reshape(1, 4, 15)[:, :, np.random.default_rng(0)
                                                     .permutation(15)].reshape(1, 4, 3, 5))
    gram = st.gram_matrix(a).numpy()
    assert gram.shape == (4, 4)
    np.testing.assert_allclose(gram, st.gram_matrix(shuffled).numpy(), rtol=1e-5)
    np.testing.assert_allclose(gram, gram.T)


def test_cnn_script_runs_from_the_command_line(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    done = subprocess.run([sys.executable, str(EXAMPLES / "cnn_lenet5.py"), "--quick", "--out",
                           str(tmp_path)], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "total parameters: 19850" in done.stdout and "LeNet-5 test accuracy" in done.stdout
    assert (tmp_path / "cnn_lenet5.png").exists()


# ------------------------------------------------------------------- full runs
@pytest.mark.slow
def test_lenet5_full(tmp_path):
    assert load("cnn_lenet5").main(out=tmp_path)["test_accuracy"] >= 0.96


@pytest.mark.slow
def test_resnet_full(tmp_path):
    r = load("cnn_resnet").main(out=tmp_path)
    assert r["resnet"]["test_accuracy"] >= 0.96
    assert r["resnet"]["train_loss"][-1] < r["plain"]["train_loss"][-1]


@pytest.mark.slow
def test_inception_full(tmp_path):
    assert load("cnn_inception").main(out=tmp_path)["test_accuracy"] >= 0.96


@pytest.mark.slow
def test_mobilenet_full(tmp_path):
    r = load("cnn_mobilenet").main(out=tmp_path)
    for kind in ("standard", "mobilenet_v1", "mobilenet_v2"):
        assert r[kind]["test_accuracy"] >= 0.96, kind


@pytest.mark.slow
def test_unet_full(tmp_path):
    r = load("cnn_unet").main(out=tmp_path)
    assert r["mean_iou"] >= 0.8
    assert r["pixel_accuracy"] >= 0.97


@pytest.mark.slow
def test_yolo_full(tmp_path):
    r = load("cnn_yolo").main(out=tmp_path)
    assert r["mAP"] >= 0.8
    assert r["mean_iou"] >= 0.7


@pytest.mark.slow
def test_siamese_triplet_full(tmp_path):
    r = load("cnn_siamese_triplet").main(out=tmp_path)
    assert r["seen"]["verification"] >= 0.95
    assert r["seen"]["one_shot"] >= 0.95
    # Digits 7-9 were never trained on: better than the untrained network, far from perfect.
    assert r["unseen"]["auc"] >= r["unseen_untrained"]["auc"] + 0.05
    assert r["unseen"]["one_shot"] >= 0.6


@pytest.mark.slow
def test_style_transfer_full(tmp_path):
    h = load("cnn_style_transfer").main(out=tmp_path)
    assert fell(h["style"], 3)
    assert h["content"][-1] < 0.01
