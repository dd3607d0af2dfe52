"""Object-detection utilities in NumPy: box formats, IoU, non-max suppression,
YOLO grid encoding/decoding and average precision.

Boxes are float arrays of shape (N, 4) in corner format ``(x1, y1, x2, y2)``
(x to the right, y down, x2 > x1, y2 > y1) unless a function says otherwise.

Intersection over union, for two boxes A and B::

    IoU(A, B) = area(A n B) / area(A u B) = inter / (area(A) + area(B) - inter)

is 1 for identical boxes and 0 for disjoint ones; a detection usually counts
as correct when IoU >= 0.5.  Non-max suppression keeps the highest-scoring box,
drops every remaining box that overlaps it with IoU above a threshold, and
repeats with what is left, so each object is reported once.

The YOLO grid (``encode_grid``/``decode_grid``) splits the image into S x S
cells; the cell that holds an object's centre is responsible for it and stores
``[p_obj, bx, by, bw, bh, one-hot class]`` with (bx, by) the centre relative to
the cell (in [0, 1)) and (bw, bh) the size relative to the whole image.
"""
from __future__ import annotations

import numpy as np

__all__ = [
    "box_area", "box_iou", "iou", "xyxy_to_cxcywh", "cxcywh_to_xyxy", "nms", "batched_nms",
    "encode_grid", "decode_grid", "average_precision",
]


def box_area(boxes: np.ndarray) -> np.ndarray:
    """Areas of (N, 4) corner boxes: (x2 - x1) * (y2 - y1), 0 for degenerate boxes."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0,
                                                                 None)


def box_iou(boxes1: np.ndarray, boxes2: np.ndarray) -> np.ndarray:
    """Pairwise IoU of (N, 4) and (M, 4) corner boxes, an (N, M) array.

    The intersection of two boxes is the box from the larger top-left corner to
    the smaller bottom-right corner, empty (area 0) when those cross.
    """
    a = np.asarray(boxes1, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(boxes2, dtype=np.float64).reshape(-1, 4)
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.clip(bottom_right - top_left, 0, None)
    inter = wh[..., 0] * wh[..., 1]
    union = box_area(a)[:, None] + box_area(b)[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def iou(box1, box2) -> float:
    """IoU of two corner boxes ``(x1, y1, x2, y2)``, a float in [0, 1]."""
    return float(box_iou(box1, box2)[0, 0])


def xyxy_to_cxcywh(boxes: np.ndarray) -> np.ndarray:
    """Corner boxes (x1, y1, x2, y2) to centre/size boxes (cx, cy, w, h)."""
    b = np.asarray(boxes, dtype=np.float64)
    return np.concatenate([(b[..., :2] + b[..., 2:]) / 2, b[..., 2:] - b[..., :2]], axis=-1)


def cxcywh_to_xyxy(boxes: np.ndarray) -> np.ndarray:
    """Centre/size boxes (cx, cy, w, h) to corner boxes (x1, y1, x2, y2)."""
    b = np.asarray(boxes, dtype=np.float64)
    return np.concatenate([b[..., :2] - b[..., 2:] / 2, b[..., :2] + b[..., 2:] / 2], axis=-1)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy non-max suppression; the indices of the kept boxes, best score first.

    Repeatedly keep the highest-scoring remaining box and discard every
    remaining box whose IoU with it is greater than ``iou_threshold`` (as
    ``torchvision.ops.nms``; ties in score keep the lower index first).
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    keep = []
    while order.size:
        best, order = order[0], order[1:]
        keep.append(best)
        order = order[box_iou(boxes[best], boxes[order])[0] <= iou_threshold]
    return np.array(keep, dtype=np.int64)


def batched_nms(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray,
                iou_threshold: float) -> np.ndarray:
    """Non-max suppression within each class (boxes of different classes never
    suppress each other); the kept indices, best score first."""
    classes = np.asarray(classes)
    keep = [np.flatnonzero(classes == c)[nms(boxes[classes == c], scores[classes == c],
                                              iou_threshold)] for c in np.unique(classes)]
    keep = np.concatenate(keep) if keep else np.zeros(0, dtype=np.int64)
    return keep[np.argsort(-np.asarray(scores)[keep], kind="stable")]


def encode_grid(boxes: np.ndarray, labels: np.ndarray, grid: int, num_classes: int,
                image_size: float) -> np.ndarray:
    """The YOLO target for one image: an array (grid, grid, 5 + num_classes).

    For each box, the cell (row i, column j) containing its centre gets
    ``[1, bx, by, bw, bh, one_hot(label)]`` with bx = cx / cell - j, by = cy / cell
    - i (the centre within the cell, in [0, 1)) and bw = w / image_size, bh = h /
    image_size.  Other cells are all zeros (p_obj = 0).  One object per cell:
    a second object whose centre falls in an occupied cell raises ValueError.
    """
    target = np.zeros((grid, grid, 5 + num_classes), dtype=np.float32)
    cell = image_size / grid
    for (cx, cy, w, h), label in zip(xyxy_to_cxcywh(boxes).reshape(-1, 4), labels, strict=True):
        j, i = min(int(cx // cell), grid - 1), min(int(cy // cell), grid - 1)
        if target[i, j, 0]:
            raise ValueError(f"encode_grid: two objects have their centre in cell ({i}, {j})")
        target[i, j, :5] = (1.0, cx / cell - j, cy / cell - i, w / image_size, h / image_size)
        target[i, j, 5 + int(label)] = 1.0
    return target


def decode_grid(pred: np.ndarray, image_size: float, score_threshold: float = 0.5,
                iou_threshold: float = 0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Turn one image's grid output (grid, grid, 5 + C) into detections.

    ``pred`` holds [p_obj, bx, by, bw, bh, class probabilities] per cell (already
    squashed: probabilities in [0, 1]).  The score of a cell is p_obj times its
    best class probability; cells scoring below ``score_threshold`` are dropped,
    then class-wise non-max suppression removes duplicates.  Returns (boxes
    (K, 4) in corner format and pixels, scores (K,), classes (K,)), best first.
    """
    grid = pred.shape[0]
    cell = image_size / grid
    rows, cols = np.meshgrid(np.arange(grid), np.arange(grid), indexing="ij")
    cx = (cols + pred[..., 1]) * cell
    cy = (rows + pred[..., 2]) * cell
    wh = pred[..., 3:5] * image_size
    boxes = cxcywh_to_xyxy(np.stack([cx, cy, wh[..., 0], wh[..., 1]], axis=-1)).reshape(-1, 4)
    class_probs = pred[..., 5:].reshape(grid * grid, -1)
    classes = class_probs.argmax(axis=1)
    scores = pred[..., 0].reshape(-1) * class_probs.max(axis=1)
    mask = scores >= score_threshold
    boxes, scores, classes = boxes[mask], scores[mask], classes[mask]
    keep = batched_nms(boxes, scores, classes, iou_threshold)
    return boxes[keep], scores[keep], classes[keep]


def average_precision(detections: list, ground_truths: list, iou_threshold: float = 0.5) -> float:
    """Average precision of one class over a set of images (area under the
    precision-recall curve, with all-point interpolation as PASCAL VOC 2010+).

    ``detections[k]`` = (boxes (D, 4), scores (D,)) and ``ground_truths[k]`` =
    boxes (G, 4) for image k.  Detections are ranked by score over all images;
    one is a true positive when its IoU with a not yet matched ground-truth box
    of its image is >= ``iou_threshold`` (the best such box is taken), otherwise
    a false positive.  Precision is made monotone (running maximum from the
    right) before integrating over recall.  Returns 0.0 when there is no
    ground truth.
    """
    total = sum(len(np.asarray(g).reshape(-1, 4)) for g in ground_truths)
    if total == 0:
        return 0.0
    ranked = [(score, k, box) for k, (boxes, scores) in enumerate(detections)
              for box, score in zip(np.asarray(boxes).reshape(-1, 4), scores, strict=True)]
    ranked.sort(key=lambda item: -item[0])
    matched = [np.zeros(len(np.asarray(g).reshape(-1, 4)), dtype=bool) for g in ground_truths]
    hits = np.zeros(len(ranked))
    for r, (_, k, box) in enumerate(ranked):
        gt = np.asarray(ground_truths[k]).reshape(-1, 4)
        if not len(gt):
            continue
        overlaps = np.where(matched[k], -1.0, box_iou(box, gt)[0])
        best = int(overlaps.argmax())
        if overlaps[best] >= iou_threshold:
            matched[k][best] = True
            hits[r] = 1
    tp = np.cumsum(hits)
    recall = np.concatenate([[0.0], tp / total])
    precision = np.concatenate([[1.0], tp / np.arange(1, len(ranked) + 1)])
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    return float(np.sum(np.diff(recall) * precision[1:]))
