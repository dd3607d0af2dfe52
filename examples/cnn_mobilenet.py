"""MobileNet v1 and v2 blocks: depthwise-separable convolutions and their cost (course 4, week 2).

A standard k x k convolution from C_in to C_out channels on an H x W output
costs H W C_out k^2 C_in multiply-adds.  MobileNet v1 splits it in two:

- a depthwise k x k convolution, one filter per input channel
  (``Conv2d(C_in, C_in, k, groups=C_in)``): H W C_in k^2 multiply-adds;
- a pointwise 1x1 convolution mixing the channels: H W C_in C_out.

The cost ratio (depthwise-separable / standard) is therefore

    (k^2 C_in + C_in C_out) / (k^2 C_in C_out) = 1 / C_out + 1 / k^2,

about 1/9 for 3x3 filters and many channels.  MobileNet v2's bottleneck block
expands the channels by a factor t with a 1x1 convolution, filters them with a
depthwise 3x3 convolution, projects them back down with a linear 1x1
convolution (no ReLU, so the narrow representation loses nothing) and adds a
residual connection when the input and output shapes agree.

The script computes the course's example (a 6x6x3 input, five 3x3 filters:
2160 vs 672 multiplies) and a realistic MobileNet layer, measuring each cost
by forward hooks and checking it against the formula; then trains a standard
CNN, a MobileNet v1 and a MobileNet v2 of the same layout on the digits and
compares accuracy, parameters and multiply-adds.

    python examples/cnn_mobilenet.py [--quick] [--out DIR]
"""
from __future__ import annotations

from common import example_args, plotting
from common.conv_cost import count_macs
from common.training import count_parameters, train_classifier

import graphgrad as gg
from graphgrad import nn
from graphgrad.datasets import load_digits


class DepthwiseSeparable(nn.Module):
    """MobileNet v1 block: depthwise k x k conv -> BN -> ReLU6 -> pointwise 1x1 -> BN -> ReLU6."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1, kernel_size: int = 3) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(c_in, c_in, kernel_size, stride, kernel_size // 2,
                                   groups=c_in, bias=False)
        self.bn1 = nn.BatchNorm2d(c_in)
        self.pointwise = nn.Conv2d(c_in, c_out, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)

    def forward(self, x):
        x = nn.functional.relu6(self.bn1(self.depthwise(x)))
        return nn.functional.relu6(self.bn2(self.pointwise(x)))


class InvertedResidual(nn.Module):
    """MobileNet v2 bottleneck: expand 1x1 (t C_in) -> depthwise 3x3 -> project 1x1 (linear),
    plus the input when stride is 1 and C_in == C_out."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1, expansion: int = 6) -> None:
        super().__init__()
        hidden = c_in * expansion
        self.residual = stride == 1 and c_in == c_out
        self.block = nn.Sequential(
            nn.Conv2d(c_in, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6(),
            nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden), nn.ReLU6(),
            nn.Conv2d(hidden, c_out, 1, bias=False), nn.BatchNorm2d(c_out),
        )

    def forward(self, x):
        out = self.block(x)
        return x + out if self.residual else out


def standard_block(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out),
                         nn.ReLU6())


# (C_in, C_out, stride) of each block on 8x8 inputs.  v2 keeps a narrower stream between
# blocks (the bottleneck) and widens it 4x inside each block.
LAYOUTS = {
    "standard": [(16, 24, 1), (24, 24, 1), (24, 48, 2), (48, 48, 1)],
    "mobilenet_v1": [(16, 24, 1), (24, 24, 1), (24, 48, 2), (48, 48, 1)],
    "mobilenet_v2": [(16, 16, 1), (16, 16, 1), (16, 24, 2), (24, 24, 1)],
}


def network(kind: str) -> nn.Sequential:
    """A stem 3x3 conv, four blocks of the given kind, global average pooling, a classifier."""
    block = {"standard": standard_block, "mobilenet_v1": DepthwiseSeparable,
             "mobilenet_v2": lambda c_in, c_out, s: InvertedResidual(c_in, c_out, s, 4)}[kind]
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU6(),
        *[block(c_in, c_out, stride) for c_in, c_out, stride in LAYOUTS[kind]],
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(LAYOUTS[kind][-1][1], 10),
    )


def cost_ratio(c_in: int, c_out: int, size: int, k: int = 3) -> dict:
    """Measured multiply-adds of a standard conv and a depthwise-separable block on a
    size x size x c_in input ('valid' padding, as the course's example), and the formula."""
    x = gg.zeros(1, c_in, size, size)
    standard = count_macs(nn.Conv2d(c_in, c_out, k), x)
    separable = count_macs(nn.Sequential(nn.Conv2d(c_in, c_in, k, groups=c_in),
                                         nn.Conv2d(c_in, c_out, 1)), x)
    return {"standard": standard, "separable": separable, "ratio": separable / standard,
            "formula": 1 / c_out + 1 / k**2}


def main(quick: bool = False, out=None) -> dict:
    gg.manual_seed(0)
    results = {}
    for name, (c_in, c_out, size) in {"course": (3, 5, 6), "mobilenet": (64, 128, 114)}.items():
        r = cost_ratio(c_in, c_out, size)
        results[name] = r
        print(f"{size}x{size}x{c_in} input, {c_out} 3x3 filters: standard {r['standard']:,} "
              f"multiply-adds, depthwise-separable {r['separable']:,}; ratio {r['ratio']:.4f} "
              f"= 1/{c_out} + 1/9 = {r['formula']:.4f}")

    train = load_digits("train")
    test = load_digits("test")
    epochs = 3 if quick else 12
    if quick:
        train = (train[0][:512], train[1][:512])
    x = gg.tensor(train[0][:1])
    for kind in ("standard", "mobilenet_v1", "mobilenet_v2"):
        model = network(kind)
        history = train_classifier(model, train, test, epochs=epochs, lr=3e-3, batch_size=32,
                                   name=f"{kind:<13}", verbose=not quick)
        results[kind] = {"test_accuracy": history["test_accuracy"][-1],
                         "train_loss": history["train_loss"], "macs": count_macs(model, x),
                         "parameters": count_parameters(model), "seconds": history["seconds"]}
    print(f"\n{'network':<14}{'multiply-adds':>14}{'parameters':>12}{'test accuracy':>15}"
          f"{'seconds':>9}")
    for kind in ("standard", "mobilenet_v1", "mobilenet_v2"):
        r = results[kind]
        print(f"{kind:<14}{r['macs']:>14,}{r['parameters']:>12,}{r['test_accuracy']:>15.3f}"
              f"{r['seconds']:>9.1f}")
    plotting.plot_curves({kind: results[kind]["train_loss"]
                          for kind in ("standard", "mobilenet_v1", "mobilenet_v2")},
                         plotting.output_dir(out) / "cnn_mobilenet.png", logy=True,
                         ylabel="training loss",
                         title="standard conv vs MobileNet v1 / v2 blocks on the digits")
    return results


if __name__ == "__main__":
    args = example_args(__doc__)
    main(quick=args.quick, out=args.out)
