"""1x1 convolutions and an inception block (course 4, week 2).

A 1x1 convolution is a fully connected layer applied at every pixel: each
output channel is a weighted sum of the input channels at that position (plus
a bias).  It changes the number of channels without touching height and width,
which makes it a cheap "bottleneck": the course's example shrinks a 28x28x192
volume to 16 channels before a 5x5 convolution to 32 channels,

    direct 5x5:      28 * 28 * 32 * 5 * 5 * 192                    = 120,422,400
    1x1 then 5x5:    28 * 28 * 16 * 192 + 28 * 28 * 32 * 5 * 5 * 16 =  12,443,648

multiply-adds, about a tenth.  An inception block runs several filter sizes in
parallel (1x1, 3x3 and 5x5 convolutions, and a 3x3 max-pool, each 'same'
padded) and concatenates their outputs along the channels, letting the
network learn which mix it wants; 1x1 bottlenecks keep the 3x3/5x5 branches
and the pool branch affordable.

The script checks that a 1x1 convolution equals a Linear layer over the
channels at every pixel, measures the course's costs with forward hooks
against the formula, and trains a small inception network on the digits.

    python examples/cnn_inception.py [--quick] [--out DIR]
"""
from __future__ import annotations

import numpy as np
from common import example_args, plotting
from common.conv_cost import conv_macs, count_macs
from common.image_plots import pyplot, save
from common.training import count_parameters, train_classifier

import graphgrad as gg
from graphgrad import nn
from graphgrad.datasets import load_digits


def conv_bn_relu(c_in: int, c_out: int, k: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, k, padding="same", bias=False),
                         nn.BatchNorm2d(c_out), nn.ReLU())


class Inception(nn.Module):
    """Four parallel branches on the same input, concatenated along the channels:
    1x1 | 1x1 -> 3x3 | 1x1 -> 5x5 | 3x3 max-pool (stride 1) -> 1x1."""

    def __init__(self, c_in: int, c1: int, c3_reduce: int, c3: int, c5_reduce: int, c5: int,
                 pool_proj: int) -> None:
        super().__init__()
        self.branch1 = conv_bn_relu(c_in, c1, 1)
        self.branch3 = nn.Sequential(conv_bn_relu(c_in, c3_reduce, 1),
                                     conv_bn_relu(c3_reduce, c3, 3))
        self.branch5 = nn.Sequential(conv_bn_relu(c_in, c5_reduce, 1),
                                     conv_bn_relu(c5_reduce, c5, 5))
        self.branch_pool = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1),
                                         conv_bn_relu(c_in, pool_proj, 1))
        self.out_channels = c1 + c3 + c5 + pool_proj

    def forward(self, x):
        branches = (self.branch1, self.branch3, self.branch5, self.branch_pool)
        return gg.cat([branch(x) for branch in branches], dim=1)


class InceptionNet(nn.Module):
    """stem 3x3 conv -> inception (8x8) -> max-pool -> inception (4x4) -> global average
    pool -> linear classifier."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.stem = conv_bn_relu(1, 16, 3)
        self.block1 = Inception(16, 8, 8, 16, 4, 8, 8)       # -> 40 channels
        self.pool = nn.MaxPool2d(2)
        self.block2 = Inception(40, 16, 16, 24, 8, 12, 12)   # -> 64 channels
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                  nn.Linear(self.block2.out_channels, num_classes))

    def forward(self, x):
        return self.head(self.block2(self.pool(self.block1(self.stem(x)))))


def one_by_one_is_linear() -> float:
    """max |conv1x1(x) - Linear(x at each pixel)| with the same weights."""
    conv, linear = nn.Conv2d(6, 4, 1), nn.Linear(6, 4)
    with gg.no_grad():
        linear.weight.copy_(conv.weight.reshape(4, 6))
        linear.bias.copy_(conv.bias)
        x = gg.randn(2, 6, 5, 5)
        per_pixel = linear(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)  # channels last and back
        return float(np.abs((conv(x) - per_pixel).numpy()).max())


def bottleneck_costs() -> dict:
    """The course's 28x28x192 -> 32-channel 5x5 'same' convolution, directly and through
    a 16-channel 1x1 bottleneck: measured by hooks and by the formula."""
    x = gg.zeros(1, 192, 28, 28)
    direct = count_macs(nn.Conv2d(192, 32, 5, padding="same"), x)
    bottleneck = count_macs(nn.Sequential(nn.Conv2d(192, 16, 1),
                                          nn.Conv2d(16, 32, 5, padding="same")), x)
    formula_direct = conv_macs(192, 32, 5, 28)
    formula_bottleneck = conv_macs(192, 16, 1, 28) + conv_macs(16, 32, 5, 28)
    return {"direct": direct, "bottleneck": bottleneck, "formula_direct": formula_direct,
            "formula_bottleneck": formula_bottleneck}


def plot(costs: dict, history: dict, path) -> None:
    plt = pyplot()
    if plt is None:
        return
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    bars = left.bar(["5x5 conv", "1x1 (16) then 5x5"],
                    [costs["direct"] / 1e6, costs["bottleneck"] / 1e6], color=["C3", "C2"])
    left.bar_label(bars, fmt="%.1f M")
    left.set(ylabel="multiply-adds (millions)", title="28x28x192 -> 28x28x32")
    right.plot(history["train_loss"], label="train loss")
    right.plot(history["test_accuracy"], label="test accuracy")
    right.set(xlabel="epoch", title=f"inception net on digits: test accuracy "
                                    f"{history['test_accuracy'][-1]:.3f}")
    right.grid(alpha=0.3)
    right.legend()
    save(plt, fig, path)


def main(quick: bool = False, out=None) -> dict:
    gg.manual_seed(0)
    gap = one_by_one_is_linear()
    print(f"1x1 convolution vs a Linear layer at each pixel: max difference {gap:.1e}")
    costs = bottleneck_costs()
    print(f"28x28x192 -> 32 channels, 5x5 'same': {costs['direct']:,} multiply-adds "
          f"(formula {costs['formula_direct']:,}); with a 16-channel 1x1 bottleneck "
          f"{costs['bottleneck']:,} (formula {costs['formula_bottleneck']:,}), "
          f"{costs['direct'] / costs['bottleneck']:.1f}x fewer")
    model = InceptionNet()
    x = gg.zeros(1, 16, 8, 8)
    print(f"inception block: (16, 8, 8) -> {model.block1(x).shape[1:]}, branches 1x1: 8, "
          f"3x3: 16, 5x5: 8, pool: 8 channels")
    train = load_digits("train")
    test = load_digits("test")
    if quick:
        train = (train[0][:640], train[1][:640])
    history = train_classifier(model, train, test, epochs=4 if quick else 15, lr=3e-3,
                               batch_size=32, verbose=not quick)
    accuracy = history["test_accuracy"][-1]
    print(f"inception net: {count_parameters(model):,} parameters, "
          f"{count_macs(model, gg.zeros(1, 1, 8, 8)):,} multiply-adds per image, test accuracy "
          f"{accuracy:.3f} ({history['seconds']:.1f} s)")
    plot(costs, history, plotting.output_dir(out) / "cnn_inception.png")
    return {"one_by_one_gap": gap, "costs": costs, "test_accuracy": accuracy,
            "train_loss": history["train_loss"]}


if __name__ == "__main__":
    args = example_args(__doc__)
    main(quick=args.quick, out=args.out)
