"""Transposed convolutions and a small U-Net segmenting synthetic shapes (course 4, week 3).

Semantic segmentation labels every pixel, so the network must bring its
small, deep feature maps back up to the input's size.  A transposed
convolution does that: each input value scales a copy of the filter, the
copies are pasted into the output ``stride`` pixels apart, and overlapping
contributions add up.  (It is the gradient of a convolution with respect to
its input, hence its name.)  With kernel 2 and stride 2 it exactly doubles
height and width.

A U-Net is an encoder (convolutions and max-pooling: the image shrinks, the
channels grow) followed by a mirror-image decoder (transposed convolutions:
the image grows back).  Skip connections concatenate each encoder level's
activations to the decoder level of the same size, so the fine spatial detail
lost by pooling is available when the decoder draws the boundaries.  A final
1x1 convolution gives per-pixel class scores, trained with cross-entropy over
all pixels.

The script builds a transposed convolution by hand (pasting filter copies)
and compares it with ``nn.ConvTranspose2d``, checks that it is the adjoint of
``Conv2d`` (<conv(x), y> = <x, conv_T(y)>), then trains a U-Net to label the
pixels of noisy images as background, square, disc or triangle and reports
the intersection over union of each class.

    python examples/cnn_unet.py [--quick] [--out DIR]
"""
from __future__ import annotations

import numpy as np
from common import example_args, plotting
from common.image_plots import pyplot, save
from common.shapes import CLASSES, make_shapes
from common.training import count_parameters

import graphgrad as gg
import graphgrad.nn.functional as F
from graphgrad import nn, optim
from graphgrad.utils.data import DataLoader, TensorDataset

LABELS = ("background", *CLASSES)


def transposed_conv_by_hand(x: np.ndarray, w: np.ndarray, stride: int) -> np.ndarray:
    """Single-channel transposed convolution without padding: paste x[i, j] * w at
    (i * stride, j * stride) and add up the overlaps."""
    k = w.shape[0]
    out = np.zeros(((x.shape[0] - 1) * stride + k, (x.shape[1] - 1) * stride + k))
    for i, j in np.ndindex(*x.shape):
        out[i * stride:i * stride + k, j * stride:j * stride + k] += x[i, j] * w
    return out


def transposed_conv_checks() -> dict:
    x = np.array([[2.0, 1.0], [3.0, 2.0]])
    w = np.array([[1.0, 2.0, 1.0], [2.0, 0.0, 1.0], [0.0, 2.0, 1.0]])
    layer = nn.ConvTranspose2d(1, 1, 3, stride=2, bias=False)
    with gg.no_grad():
        layer.weight.copy_(gg.tensor(w.reshape(1, 1, 3, 3), dtype=gg.float32))
        library = layer(gg.tensor(x.reshape(1, 1, 2, 2), dtype=gg.float32)).numpy()[0, 0]
    by_hand = transposed_conv_by_hand(x, w, 2)
    print(f"2x2 input, 3x3 filter, stride 2 -> {by_hand.shape[0]}x{by_hand.shape[1]}:\n"
          f"{by_hand.astype(int)}")
    conv = nn.Conv2d(3, 5, 3, stride=2, padding=1, bias=False)
    xs, ys = gg.randn(2, 3, 8, 8, dtype=gg.float64), gg.randn(2, 5, 4, 4, dtype=gg.float64)
    weight = conv.weight.detach().astype(gg.float64)
    lhs = float((F.conv2d(xs, weight, stride=2, padding=1) * ys).sum().item())
    rhs = float((xs * F.conv_transpose2d(ys, weight, stride=2, padding=1,
                                         output_padding=1)).sum().item())
    print(f"<conv(x), y> = {lhs:.6f}, <x, conv_transpose(y)> = {rhs:.6f}")
    return {"by_hand_gap": float(np.abs(library - by_hand).max()),
            "adjoint_gap": abs(lhs - rhs) / abs(lhs)}


def double_conv(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(),
    )


class UNet(nn.Module):
    """Two down steps (32 -> 16 -> 8 pixels), two transposed-convolution up steps with
    skip connections, and a 1x1 convolution to per-pixel class scores."""

    def __init__(self, num_classes: int = len(LABELS), width: int = 8) -> None:
        super().__init__()
        w = width
        self.enc1, self.enc2 = double_conv(1, w), double_conv(w, 2 * w)
        self.pool = nn.MaxPool2d(2)
        self.bottleneck = double_conv(2 * w, 4 * w)
        self.up2 = nn.ConvTranspose2d(4 * w, 2 * w, 2, stride=2)
        self.dec2 = double_conv(4 * w, 2 * w)   # 2w upsampled + 2w from the skip
        self.up1 = nn.ConvTranspose2d(2 * w, w, 2, stride=2)
        self.dec1 = double_conv(2 * w, w)
        self.classify = nn.Conv2d(w, num_classes, 1)

    def forward(self, x):
        e1 = self.enc1(x)                     # (w, 32, 32)
        e2 = self.enc2(self.pool(e1))         # (2w, 16, 16)
        b = self.bottleneck(self.pool(e2))    # (4w, 8, 8)
        d2 = self.dec2(gg.cat([self.up2(b), e2], dim=1))
        d1 = self.dec1(gg.cat([self.up1(d2), e1], dim=1))
        return self.classify(d1)              # (classes, 32, 32)


def class_iou(predicted: np.ndarray, truth: np.ndarray, num_classes: int) -> np.ndarray:
    """IoU of each class's pixel set over the whole test set: |P n T| / |P u T|."""
    ious = []
    for c in range(num_classes):
        p, t = predicted == c, truth == c
        union = np.logical_or(p, t).sum()
        ious.append(np.logical_and(p, t).sum() / union if union else 1.0)
    return np.array(ious)


def plot(test, predicted: np.ndarray, ious: np.ndarray, losses: list, path, count: int = 6):
    plt = pyplot()
    if plt is None:
        return
    fig, axes = plt.subplots(3, count + 1, figsize=(2 * (count + 1), 6.2))
    for k in range(count):
        axes[0, k].imshow(test.images[k, 0], cmap="gray")
        axes[1, k].imshow(test.masks[k], cmap="tab10", vmin=0, vmax=9, interpolation="nearest")
        axes[2, k].imshow(predicted[k], cmap="tab10", vmin=0, vmax=9, interpolation="nearest")
    for row, name in enumerate(("image", "true mask", "U-Net")):
        axes[row, 0].set_ylabel(name)
    for ax in axes[:, :count].flat:
        ax.set_xticks([])
        ax.set_yticks([])
    grid = axes[0, count].get_gridspec()
    for ax in axes[:, count]:
        ax.remove()
    ax = fig.add_subplot(grid[:, count])  # one tall panel for the loss
    ax.plot(losses)
    ax.set(yscale="log", xlabel="epoch", title="training loss")
    scores = ", ".join(f"{name} {iou:.2f}" for name, iou in zip(LABELS, ious, strict=True))
    fig.suptitle("U-Net on synthetic shapes (blue background, orange square, green disc, red "
                 f"triangle); test IoU: {scores}")
    save(plt, fig, path)


def main(quick: bool = False, out=None) -> dict:
    gg.manual_seed(0)
    results = transposed_conv_checks()
    n_train, n_test, epochs = (192, 64, 5) if quick else (800, 200, 15)
    train, test = make_shapes(n_train, seed=11), make_shapes(n_test, seed=12)
    loader = DataLoader(TensorDataset(train.images, train.masks), batch_size=16, shuffle=True)
    model = UNet()
    print(f"U-Net: {count_parameters(model):,} parameters")
    optimizer = optim.Adam(model.parameters(), lr=3e-3)
    scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    losses = []
    for epoch in range(epochs):
        model.train()
        total = 0.0
        for images, masks in loader:
            loss = F.cross_entropy(model(images), masks)  # (N, C, H, W) scores vs (N, H, W)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(images)
        scheduler.step()
        losses.append(total / n_train)
        print(f"epoch {epoch + 1:2d}  loss {losses[-1]:.4f}")
    model.eval()
    with gg.no_grad():
        predicted = model(gg.tensor(test.images)).numpy().argmax(axis=1)
    ious = class_iou(predicted, test.masks, len(LABELS))
    print("test IoU per class: " + ", ".join(f"{name} {iou:.3f}"
                                             for name, iou in zip(LABELS, ious, strict=True))
          + f"; mean IoU {ious.mean():.3f}, pixel accuracy {(predicted == test.masks).mean():.3f}")
    plot(test, predicted, ious, losses, plotting.output_dir(out) / "cnn_unet.png")
    results.update(losses=losses, ious=ious.tolist(), mean_iou=float(ious.mean()),
                   pixel_accuracy=float((predicted == test.masks).mean()))
    return results


if __name__ == "__main__":
    args = example_args(__doc__)
    main(quick=args.quick, out=args.out)
