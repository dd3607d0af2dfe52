"""Figure helpers for the image (CNN) examples: free-form figures and image mosaics.

``pyplot()`` returns matplotlib's pyplot with the Agg backend (None without
matplotlib) and ``save(plt, fig, path)`` writes and closes a figure, both as
``plotting`` does for its own plots; ``tile`` packs many small images into one
array for a single ``imshow``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from . import plotting

__all__ = ["pyplot", "save", "tile"]


def pyplot():
    """matplotlib.pyplot on the Agg backend, or None (with a note) without matplotlib."""
    return plotting._pyplot()


def save(plt, fig, path: str | Path) -> Path:
    """Lay out ``fig``, write it to ``path`` (format from the suffix), close it, print."""
    return plotting._save(plt, fig, path)


def tile(images: np.ndarray, cols: int, pad: int = 1) -> np.ndarray:
    """Arrange (N, H, W) or (N, H, W, 3) images row by row into one mosaic of ``cols``
    columns, with ``pad`` pixels of NaN (drawn blank) between them."""
    images = np.asarray(images, dtype=np.float64)
    n, h, w = images.shape[:3]
    rows = -(-n // cols)
    mosaic = np.full((rows * (h + pad) - pad, cols * (w + pad) - pad) + images.shape[3:], np.nan)
    for k, image in enumerate(images):
        r, c = divmod(k, cols)
        mosaic[r * (h + pad):r * (h + pad) + h, c * (w + pad):c * (w + pad) + w] = image
    return mosaic
