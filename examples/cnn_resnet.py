"""Residual networks: identity and projection shortcuts (course 4, week 2).

In theory a deeper network can do everything a shallower one can (extra layers
could compute the identity), yet very deep "plain" networks train worse: the
training error itself goes up with depth.  A residual block adds a shortcut
that carries the block's input a[l] past two convolutions,

    a[l+2] = relu(z[l+2] + a[l]),

so a block whose weights are driven to zero computes the identity, and the
gradient reaches early layers through the shortcuts undiminished.  When the
block changes the shape (stride 2, more channels) the shortcut becomes a
projection, a 1x1 convolution with stride 2 and batch norm (the course's
"convolutional block"); otherwise it is the identity ("identity block").

The script checks that a block whose last batch-norm scale is zero is exactly
the identity on a non-negative input, then trains a ResNet and the same
network without shortcuts ("plain", same depth and layers) on the digits and
plots both training losses.

    python examples/cnn_resnet.py [--quick] [--out DIR]
"""
from __future__ import annotations

import numpy as np
from common import example_args, plotting
from common.training import count_parameters, train_classifier

import graphgrad as gg
import graphgrad.nn.functional as F
from graphgrad import nn
from graphgrad.datasets import load_digits


class ResidualBlock(nn.Module):
    """CONV3x3(stride) -> BN -> ReLU -> CONV3x3 -> BN, plus the shortcut, then ReLU.

    The shortcut is the identity when the shape is kept, and a projection
    (1x1 conv with the same stride, then BN) when ``stride`` > 1 or the number of
    channels changes.  ``residual=False`` drops the shortcut (a plain block)."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1, residual: bool = True) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.residual = residual
        if residual and (stride != 1 or c_in != c_out):
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False),
                                          nn.BatchNorm2d(c_out))
        else:
            self.shortcut = nn.Identity()

    def forward(self, x):
        z = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(z + self.shortcut(x)) if self.residual else F.relu(z)


class ResNet(nn.Module):
    """A stem convolution, three stages of ``blocks`` residual blocks (channels w, 2w, 4w;
    the first block of stages 2 and 3 halves the size with a projection shortcut),
    global average pooling and a linear classifier: 6 * blocks + 2 weighted layers."""

    def __init__(self, blocks: int = 3, width: int = 8, residual: bool = True,
                 num_classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, width, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(width), nn.ReLU())
        layers, c_in = [], width
        for stage, c_out in enumerate((width, 2 * width, 4 * width)):
            for b in range(blocks):
                stride = 2 if stage > 0 and b == 0 else 1
                layers.append(ResidualBlock(c_in, c_out, stride, residual))
                c_in = c_out
        self.stages = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                  nn.Linear(c_in, num_classes))

    def forward(self, x):
        return self.head(self.stages(self.stem(x)))


def identity_check() -> float:
    """max |block(x) - x| for an identity block whose last BN scale is zero (eval mode,
    x >= 0 as after a ReLU): the block is exactly the identity."""
    block = ResidualBlock(8, 8)
    nn.init.zeros_(block.bn2.weight)
    block.eval()
    x = gg.randn(4, 8, 6, 6).relu()
    with gg.no_grad():
        return float(np.abs((block(x) - x).numpy()).max())


def main(quick: bool = False, out=None) -> dict:
    gg.manual_seed(0)
    gap = identity_check()
    print(f"identity block with zero last BN scale: max |block(x) - x| = {gap:.1e}")
    print(f"projection block 8 -> 16 channels, stride 2: "
          f"{ResidualBlock(8, 16, 2)(gg.zeros(1, 8, 8, 8)).shape[1:]} from (8, 8, 8)")
    train = load_digits("train")
    test = load_digits("test")
    blocks, epochs = (2, 4) if quick else (5, 15)
    if quick:
        train = (train[0][:640], train[1][:640])
    results = {"identity_gap": gap}
    for name, residual in (("resnet", True), ("plain", False)):
        gg.manual_seed(1)  # the same initial weights for both networks
        model = ResNet(blocks, residual=residual)
        history = train_classifier(model, train, test, epochs=epochs, lr=3e-3, batch_size=32,
                                   name=f"{name:<7}", verbose=not quick)
        results[name] = {"train_loss": history["train_loss"],
                         "test_accuracy": history["test_accuracy"][-1],
                         "parameters": count_parameters(model), "seconds": history["seconds"]}
    depth = 6 * blocks + 2
    for name in ("resnet", "plain"):
        r = results[name]
        print(f"{name}-{depth}: {r['parameters']:,} parameters, final training loss "
              f"{r['train_loss'][-1]:.4f}, test accuracy {r['test_accuracy']:.3f} "
              f"({r['seconds']:.1f} s)")
    plotting.plot_curves({f"ResNet-{depth}": results["resnet"]["train_loss"],
                          f"plain-{depth} (no shortcuts)": results["plain"]["train_loss"]},
                         plotting.output_dir(out) / "cnn_resnet.png", logy=True,
                         ylabel="training loss", title="shortcuts make a deep network trainable")
    return results


if __name__ == "__main__":
    args = example_args(__doc__)
    main(quick=args.quick, out=args.out)
