"""Known values for the shared detection, shapes and convolution-cost helpers."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
if str(EXAMPLES) not in sys.path:
    sys.path.insert(0, str(EXAMPLES))

from common.conv_cost import conv_macs, count_macs  # noqa: E402
from common.detection import (  # noqa: E402
    average_precision,
    batched_nms,
    box_iou,
    cxcywh_to_xyxy,
    decode_grid,
    encode_grid,
    iou,
    nms,
    xyxy_to_cxcywh,
)
from common.shapes import make_shapes, shape_mask  # noqa: E402

import graphgrad as gg  # noqa: E402
from graphgrad import nn  # noqa: E402


# ------------------------------------------------------------------------ IoU
def test_iou_course_example():
    # The course's boxes: intersection 1x1, union 4 + 4 - 1 = 7.
    assert iou((2, 1, 4, 3), (1, 2, 3, 4)) == pytest.approx(1 / 7)


@pytest.mark.parametrize("a, b, expected", [
    ((0, 0, 2, 2), (0, 0, 2, 2), 1.0),           # identical
    ((0, 0, 2, 2), (1, 0, 3, 2), 2 / 6),         # half overlap: 2 / (4 + 4 - 2)
    ((0, 0, 2, 2), (2, 0, 4, 2), 0.0),           # touching edges
    ((0, 0, 1, 1), (3, 3, 4, 4), 0.0),           # disjoint
    ((0, 0, 4, 4), (1, 1, 3, 3), 4 / 16),        # nested
])
def test_iou_known_values(a, b, expected):
    assert iou(a, b) == pytest.approx(expected)
    assert iou(b, a) == pytest.approx(expected)


def test_box_iou_is_pairwise():
    a = np.array([[0, 0, 2, 2], [1, 1, 3, 3]])
    b = np.array([[0, 0, 2, 2], [2, 2, 3, 3], [10, 10, 11, 11]])
    expected = np.array([[1.0, 0.0, 0.0], [1 / 7, 1 / 4, 0.0]])
    np.testing.assert_allclose(box_iou(a, b), expected)


def test_box_format_round_trip():
    boxes = np.array([[1.0, 2.0, 5.0, 4.0], [0.0, 0.0, 1.0, 3.0]])
    np.testing.assert_allclose(xyxy_to_cxcywh(boxes), [[3, 3, 4, 2], [0.5, 1.5, 1, 3]])
    np.testing.assert_allclose(cxcywh_to_xyxy(xyxy_to_cxcywh(boxes)), boxes)


# ------------------------------------------------------------------------ NMS
def test_nms_hand_made_case():
    boxes = np.array([[0, 0, 10, 10],     # 0: overlaps 1 (IoU 0.68) and 3 (0.9)
                      [1, 1, 11, 11],     # 1
                      [20, 20, 30, 30],   # 2: alone
                      [0, 0, 9, 10]])     # 3: best score
    scores = np.array([0.9, 0.8, 0.7, 0.95])
    assert nms(boxes, scores, 0.5).tolist() == [3, 2]
    # IoU(3, 1) = 72 / 118 = 0.61: a higher threshold keeps box 1 too, box 0 is still
    # suppressed by 3 (IoU 0.9).
    assert nms(boxes, scores, 0.65).tolist() == [3, 1, 2]
    assert nms(boxes, scores, 1.0).tolist() == [3, 0, 1, 2]  # nothing suppressed


def test_nms_empty_and_ties():
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.5).tolist() == []
    same = np.array([[0, 0, 1, 1], [0, 0, 1, 1]])
    assert nms(same, np.array([0.5, 0.5]), 0.5).tolist() == [0]  # ties keep the lower index


def test_batched_nms_only_within_a_class():
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [1, 1, 10, 10]])
    scores = np.array([0.9, 0.8, 0.7])
    assert batched_nms(boxes, scores, np.array([0, 1, 0]), 0.5).tolist() == [0, 1]


# ----------------------------------------------------------------- YOLO grid
def test_encode_grid_known_cell():
    # A 8x8 box centred at (20, 12) in a 32-pixel image on a 4x4 grid (cells of 8):
    # cell (row 1, col 2), centre (0.5, 0.5) in the cell, size 0.25 of the image.
    target = encode_grid(np.array([[16, 8, 24, 16]]), np.array([2]), 4, 3, 32)
    assert target.shape == (4, 4, 8)
    np.testing.assert_allclose(target[1, 2], [1, 0.5, 0.5, 0.25, 0.25, 0, 0, 1])
    assert target.sum() == target[1, 2].sum()


def test_encode_grid_rejects_two_objects_in_a_cell():
    with pytest.raises(ValueError, match="cell"):
        encode_grid(np.array([[0, 0, 4, 4], [1, 1, 5, 5]]), np.array([0, 1]), 4, 3, 32)


def test_decode_inverts_encode():
    boxes = np.array([[2, 3, 12, 13], [16, 8, 30, 22], [5, 20, 15, 31]], dtype=float)
    labels = np.array([0, 2, 1])
    target = encode_grid(boxes, labels, 4, 3, 32)
    got, scores, classes = decode_grid(target, 32, score_threshold=0.5)
    order = np.argsort(got[:, 0] * 100 + got[:, 1])
    np.testing.assert_allclose(got[order], boxes[np.argsort(boxes[:, 0] * 100 + boxes[:, 1])],
                               atol=1e-5)
    assert sorted(classes.tolist()) == sorted(labels.tolist())
    np.testing.assert_allclose(scores, 1.0)


# ---------------------------------------------------------- average precision
def test_average_precision_known_values():
    truth = [np.array([[0, 0, 10, 10]]), np.array([[0, 0, 10, 10]])]
    perfect = [(np.array([[0, 0, 10, 10]]), np.array([0.9])),
               (np.array([[0, 0, 10, 10]]), np.array([0.8]))]
    assert average_precision(perfect, truth) == pytest.approx(1.0)
    # A false positive ranked first, then the two hits: precision 1/2 then 2/3 at
    # recall 1/2 and 1, made monotone -> 2/3 everywhere: AP = 2/3.
    with_fp = [(np.array([[0, 0, 10, 10], [50, 50, 60, 60]]), np.array([0.8, 0.95])),
               (np.array([[0, 0, 10, 10]]), np.array([0.7]))]
    assert average_precision(with_fp, truth) == pytest.approx(2 / 3)
    # One of two objects found, ranked first: AP = 1/2.  A duplicate is a false positive.
    half = [(np.array([[0, 0, 10, 10], [0, 0, 10, 10]]), np.array([0.9, 0.8])),
            (np.zeros((0, 4)), np.zeros(0))]
    assert average_precision(half, truth) == pytest.approx(0.5)
    assert average_precision(half, [np.zeros((0, 4))] * 2) == 0.0


# ---------------------------------------------------------------------- shapes
def test_shape_masks():
    square = shape_mask(0, 2, 2, 4, 8)
    assert square.sum() == 16 and square[2:6, 2:6].all()
    disc = shape_mask(1, 0, 0, 8, 8)
    assert disc[4, 4] and not disc[0, 0] and disc.sum() < 64
    triangle = shape_mask(2, 0, 0, 8, 8)
    assert triangle[7].sum() == 8 and triangle[0].sum() <= 1  # wide base, pointed top


def test_make_shapes_is_consistent():
    data = make_shapes(40, size=32, seed=3)
    assert data.images.shape == (40, 1, 32, 32) and data.images.dtype == np.float32
    for mask, boxes, labels in zip(data.masks, data.boxes, data.labels, strict=True):
        assert 1 <= len(boxes) <= 3
        assert box_iou(boxes, boxes)[~np.eye(len(boxes), dtype=bool)].max(initial=0) == 0
        for (x1, y1, x2, y2), label in zip(boxes.astype(int), labels, strict=True):
            inside = mask[y1:y2, x1:x2]
            assert (inside == label + 1).any() and set(np.unique(inside)) <= {0, label + 1}
        encode_grid(boxes, labels, 4, 3, 32)  # at most one object centre per cell
    again = make_shapes(40, size=32, seed=3)
    np.testing.assert_array_equal(data.images, again.images)


# ----------------------------------------------------------- convolution cost
def test_conv_macs_formula():
    assert conv_macs(3, 5, 3, 4) == 2160  # the course's 6x6x3 * five 3x3 filters
    assert conv_macs(192, 32, 5, 28) == 120_422_400
    assert conv_macs(8, 8, 3, (2, 3), groups=8) == 2 * 3 * 8 * 9


def test_count_macs_by_hooks():
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
                          nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=8),
                          nn.ConvTranspose2d(8, 4, 2, stride=2), nn.Flatten(),
                          nn.Linear(4 * 8 * 8, 10))
    total, layers = count_macs(model, gg.zeros(2, 3, 8, 8), by_layer=True)
    expected = [64 * 8 * 9 * 3, 16 * 8 * 9, 16 * 8 * 4 * 4, 256 * 10]
    assert [macs for _, macs in layers] == expected
    assert [name for name, _ in layers] == ["0", "2", "3", "5"]
    assert total == sum(expected)
    assert not model[0]._forward_hooks  # hooks removed
