"""Synthetic images of simple shapes with segmentation masks and bounding boxes.

Each image is a noisy grey background holding a few non-overlapping squares,
discs and triangles of random size, position and brightness.  For every image
the generator also returns the pixel-wise class mask (0 = background, 1 =
square, 2 = disc, 3 = triangle) for segmentation, and the objects' boxes
``(x1, y1, x2, y2)`` in pixels with their class (0 = square, 1 = disc, 2 =
triangle) for detection.  Everything is drawn with NumPy from a seeded
Generator, so a dataset is reproducible and needs no download.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["CLASSES", "Shapes", "make_shapes", "shape_mask"]

CLASSES = ("square", "disc", "triangle")


class Shapes(NamedTuple):
    """A shapes dataset: ``images`` (N, 1, H, W) float32, ``masks`` (N, H, W) int64
    with 0 for background and 1 + class inside an object, and per image a (K, 4)
    float array of ``boxes`` and a (K,) int array of ``labels``."""

    images: np.ndarray
    masks: np.ndarray
    boxes: list
    labels: list


def shape_mask(kind: int, x1: int, y1: int, side: int, size: int) -> np.ndarray:
    """A boolean (size, size) mask of one shape filling the square box at (x1, y1)
    with the given side: a square, a disc, or an upward triangle."""
    yy, xx = np.mgrid[0:size, 0:size] + 0.5  # pixel centres
    u, v = (xx - x1) / side, (yy - y1) / side  # box coordinates in [0, 1]
    inside = (u >= 0) & (u <= 1) & (v >= 0) & (v <= 1)
    if kind == 0:
        return inside
    if kind == 1:
        return (u - 0.5) ** 2 + (v - 0.5) ** 2 <= 0.25
    return inside & (np.abs(u - 0.5) <= v / 2)


def make_shapes(n: int, size: int = 32, max_objects: int = 3, min_side: int = 8,
                max_side: int = 14, noise: float = 0.1, seed: int = 0) -> Shapes:
    """``n`` images of ``size`` x ``size`` pixels holding 1..``max_objects`` shapes.

    Objects have sides between ``min_side`` and ``max_side`` pixels and their
    boxes never overlap (so with ``min_side`` >= size / grid, no two object
    centres share a cell of a grid x grid YOLO grid).  Brightness 0.5..1 on a
    background of 0 plus Gaussian noise of std ``noise``.
    """
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 1, size, size), dtype=np.float32)
    masks = np.zeros((n, size, size), dtype=np.int64)
    all_boxes, all_labels = [], []
    for k in range(n):
        boxes, labels = [], []
        count = int(rng.integers(1, max_objects + 1))
        for _ in range(100):  # rejection sampling of non-overlapping boxes
            side = int(rng.integers(min_side, max_side + 1))
            x1, y1 = rng.integers(0, size - side + 1, size=2)
            box = np.array([x1, y1, x1 + side, y1 + side], dtype=np.float64)
            if any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3]
                   for b in boxes):
                continue
            kind = int(rng.integers(len(CLASSES)))
            inside = shape_mask(kind, int(x1), int(y1), side, size)
            images[k, 0][inside] = rng.uniform(0.5, 1.0)
            masks[k][inside] = kind + 1
            boxes.append(box)
            labels.append(kind)
            if len(boxes) == count:
                break
        all_boxes.append(np.array(boxes).reshape(-1, 4))
        all_labels.append(np.array(labels, dtype=np.int64))
    images += rng.normal(0, noise, images.shape).astype(np.float32)
    return Shapes(images, masks, all_boxes, all_labels)
