"""YOLO-style detection on synthetic shapes: IoU, non-max suppression and a grid head.

A YOLO detector looks at the image once.  A CNN maps the image to an S x S grid
(here 4 x 4 cells of 8 x 8 pixels); each cell predicts

    [p_obj, bx, by, bw, bh, p(square), p(disc), p(triangle)]

where p_obj says whether an object's centre lies in this cell, (bx, by) is
that centre relative to the cell and (bw, bh) the box size relative to the
image.  Training uses the YOLO v1 loss: binary cross-entropy on p_obj for
every cell (empty cells down-weighted), squared error on the centre and on
sqrt(w), sqrt(h) (so an error matters more on a small box) and cross-entropy
on the class, the last two only in cells that hold an object.  At test time a
cell's score is p_obj * max class probability; cells below a threshold are
dropped and non-max suppression removes overlapping duplicates.  Detections
are scored by mean average precision (mAP) at IoU 0.5.

    python examples/cnn_yolo.py [--quick] [--out DIR]
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from common import example_args, plotting
from common.detection import average_precision, box_iou, decode_grid, encode_grid, iou, nms
from common.image_plots import pyplot, save
from common.shapes import CLASSES, make_shapes

import graphgrad as gg
import graphgrad.nn.functional as F
from graphgrad import nn, optim
from graphgrad.utils.data import DataLoader, TensorDataset

GRID, SIZE = 4, 32
NUM_CLASSES = len(CLASSES)


def conv_bn(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
                         nn.LeakyReLU(0.1))


class TinyYolo(nn.Module):
    """Three conv + max-pool stages (32 -> 4 pixels), then a 1x1 convolution that
    outputs the 5 + C numbers of every grid cell.  Its receptive field (38 px)
    covers the whole image, so each cell can see all of any object centred in it."""

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        self.features = nn.Sequential(
            conv_bn(1, width), nn.MaxPool2d(2),
            conv_bn(width, 2 * width), nn.MaxPool2d(2),
            conv_bn(2 * width, 4 * width), nn.MaxPool2d(2),
            conv_bn(4 * width, 4 * width),
        )
        self.head = nn.Conv2d(4 * width, 5 + NUM_CLASSES, 1)

    def forward(self, x):
        return self.head(self.features(x)).permute(0, 2, 3, 1)  # (N, S, S, 5 + C) raw


def yolo_loss(out, target, lambda_coord: float = 5.0, lambda_noobj: float = 0.5):
    """The YOLO v1 loss on raw outputs (N, S, S, 5 + C) and targets from encode_grid."""
    obj = target[..., 0]
    weight = obj + lambda_noobj * (1 - obj)
    objectness = F.binary_cross_entropy_with_logits(out[..., 0], obj, weight=weight,
                                                    reduction="sum")
    cells = gg.tensor(np.flatnonzero(obj.numpy().reshape(-1)))  # the cells holding an object
    flat_out = out.reshape(-1, out.shape[-1])[cells]
    flat_target = target.reshape(-1, target.shape[-1])[cells]
    centre = ((flat_out[:, 1:3].sigmoid() - flat_target[:, 1:3]) ** 2).sum()
    size = ((flat_out[:, 3:5].sigmoid().sqrt() - flat_target[:, 3:5].sqrt()) ** 2).sum()
    classes = F.cross_entropy(flat_out[:, 5:], flat_target[:, 5:].argmax(dim=1),
                              reduction="sum")
    return (objectness + lambda_coord * (centre + size) + classes) / out.shape[0]


def predict(out: np.ndarray) -> np.ndarray:
    """Squash the raw outputs: sigmoid on p_obj and the box, softmax on the classes."""
    squashed = 1 / (1 + np.exp(-out))
    logits = out[..., 5:] - out[..., 5:].max(axis=-1, keepdims=True)
    squashed[..., 5:] = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
    return squashed


def evaluate(model: nn.Module, data, score_threshold: float = 0.5) -> dict:
    """mAP at IoU 0.5 over the classes, and the mean IoU of each true box with its
    best-overlapping detection."""
    model.eval()
    with gg.no_grad():
        grids = predict(model(gg.tensor(data.images)).numpy())
    detections = [decode_grid(g, SIZE, score_threshold) for g in grids]
    aps = []
    for c in range(NUM_CLASSES):
        per_image = [(b[k == c], s[k == c]) for b, s, k in detections]
        truth = [boxes[labels == c] for boxes, labels in zip(data.boxes, data.labels, strict=True)]
        aps.append(average_precision(per_image, truth, 0.5))
    best = [box_iou(t, d[0]).max(axis=1) if len(d[0]) else np.zeros(len(t))
            for t, d in zip(data.boxes, detections, strict=True)]
    return {"mAP": float(np.mean(aps)), "AP": aps, "mean_iou": float(np.concatenate(best).mean()),
            "detections": detections}


def show_course_examples() -> dict:
    """IoU and NMS on hand-made boxes, the numbers the course derives by hand."""
    a, b = (2, 1, 4, 3), (1, 2, 3, 4)
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 9, 10]])
    scores = np.array([0.9, 0.8, 0.7, 0.95])
    kept = nms(boxes, scores, 0.5)
    print(f"IoU of {a} and {b}: {iou(a, b):.4f} (intersection 1, union 7)")
    print(f"NMS of 4 boxes, scores {scores.tolist()}: keeps {kept.tolist()}")
    return {"iou_example": iou(a, b), "nms_example": kept.tolist()}


def plot(data, result: dict, path: Path, count: int = 8) -> None:
    plt = pyplot()
    if plt is None:
        return
    from matplotlib.patches import Rectangle

    colours = ("tab:red", "tab:green", "tab:blue")
    fig, axes = plt.subplots(2, count // 2, figsize=(2.2 * count // 2, 4.6))
    for k, ax in enumerate(axes.flat):
        ax.imshow(data.images[k, 0], cmap="gray", vmin=0, vmax=1)
        for line in np.arange(0, SIZE + 1, SIZE / GRID) - 0.5:
            ax.axhline(line, color="w", lw=0.3)
            ax.axvline(line, color="w", lw=0.3)
        for x1, y1, x2, y2 in data.boxes[k]:
            ax.add_patch(Rectangle((x1 - 0.5, y1 - 0.5), x2 - x1, y2 - y1, fill=False,
                                   ec="w", ls="--", lw=1))
        boxes, scores, classes = result["detections"][k]
        for (x1, y1, x2, y2), s, c in zip(boxes, scores, classes, strict=True):
            ax.add_patch(Rectangle((x1 - 0.5, y1 - 0.5), x2 - x1, y2 - y1, fill=False,
                                   ec=colours[c], lw=1.5))
            ax.text(x1, y1 - 1, f"{CLASSES[c]} {s:.2f}", color=colours[c], fontsize=6)
        ax.axis("off")
    fig.suptitle(f"TinyYolo on a 4x4 grid (dashed: truth), test mAP@0.5 = {result['mAP']:.3f}")
    save(plt, fig, path)


def main(quick: bool = False, out: str | Path | None = None) -> dict:
    gg.manual_seed(0)
    results = show_course_examples()
    n_train, n_test, epochs = (256, 100, 6) if quick else (1200, 300, 25)
    train, test = make_shapes(n_train, SIZE, seed=1), make_shapes(n_test, SIZE, seed=2)
    targets = np.stack([encode_grid(b, lab, GRID, NUM_CLASSES, SIZE)
                        for b, lab in zip(train.boxes, train.labels, strict=True)])
    loader = DataLoader(TensorDataset(train.images, targets), batch_size=32, shuffle=True)
    model = TinyYolo()
    optimizer = optim.Adam(model.parameters(), lr=3e-3)
    scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    losses, start = [], time.perf_counter()
    for epoch in range(epochs):
        model.train()
        total = 0.0
        for images, target in loader:
            loss = yolo_loss(model(images), target)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(images)
        scheduler.step()
        losses.append(total / n_train)
        print(f"epoch {epoch + 1:2d}  loss {losses[-1]:.3f}")
    result = evaluate(model, test)
    print(f"test mAP@0.5 {result['mAP']:.3f} (per class "
          + ", ".join(f"{c} {ap:.3f}" for c, ap in zip(CLASSES, result["AP"], strict=True))
          + f"), mean IoU of true boxes with their best detection {result['mean_iou']:.3f}"
          f"  ({time.perf_counter() - start:.1f} s)")
    plot(test, result, plotting.output_dir(out) / "cnn_yolo.png")
    results.update(losses=losses, mAP=result["mAP"], mean_iou=result["mean_iou"])
    return results


if __name__ == "__main__":
    args = example_args(__doc__)
    main(quick=args.quick, out=args.out)
