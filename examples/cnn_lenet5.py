"""LeNet-5 on the UCI handwritten digits (course 4, week 1-2).

LeNet-5 (LeCun et al., 1998) is the pattern most CNNs still follow: a few
convolution + pooling stages whose height and width shrink while the number of
channels grows, then fully connected layers and a softmax:

    CONV(5x5, 6) -> tanh -> AVGPOOL(2) -> CONV(3x3, 16) -> tanh -> AVGPOOL(2)
    -> FC(120) -> tanh -> FC(84) -> tanh -> FC(10) -> softmax

(the original 32x32 inputs are 8x8 here, so the second convolution is 3x3 and
both are padded).  Convolutions share parameters, a 5x5 filter is 26 numbers
however big the image, and are sparsely connected, each output depends on a
small patch, which is why the convolution layers hold few parameters and the
fully connected layers hold most of them.  The script prints the course's
table of activation shapes and parameter counts, trains with Adam and plots
the learning curves, the first layer's filters and some test digits.

    python examples/cnn_lenet5.py [--quick] [--out DIR]
"""
from __future__ import annotations

import numpy as np
from common import example_args, plotting, predict
from common.image_plots import pyplot, save, tile
from common.training import count_parameters, train_classifier

import graphgrad as gg
from graphgrad import nn
from graphgrad.datasets import load_digits


class LeNet5(nn.Module):
    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.Tanh(), nn.AvgPool2d(2),   # 6 x 8 x 8 -> 6 x 4 x 4
            nn.Conv2d(6, 16, 3, padding=1), nn.Tanh(), nn.AvgPool2d(2),  # 16 x 4 x 4 -> 16 x 2 x 2
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(16 * 2 * 2, 120), nn.Tanh(), nn.Linear(120, 84), nn.Tanh(),
            nn.Linear(84, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


def shape_table(model: LeNet5, x: gg.Tensor) -> list[tuple]:
    """(layer, activation shape, activation size, parameters) for every layer, as the
    course tabulates LeNet-5, found by running ``x`` through the layers in turn."""
    rows = [("input", x.shape[1:], int(np.prod(x.shape[1:])), 0)]
    with gg.no_grad():
        for layer in [*model.features, *model.classifier]:
            x = layer(x)
            if not isinstance(layer, nn.Tanh):
                rows.append((type(layer).__name__, x.shape[1:], int(np.prod(x.shape[1:])),
                             count_parameters(layer)))
    return rows


def plot(model, history: dict, images, labels, path) -> None:
    plt = pyplot()
    if plt is None:
        return
    predicted = predict(model, images[:24])
    filters = model.features[0].weight.detach().numpy()[:, 0]
    filters = filters / np.abs(filters).max(axis=(1, 2), keepdims=True)
    fig, axes = plt.subplots(1, 3, figsize=(12, 4), width_ratios=[1.3, 0.5, 1.2])
    axes[0].plot(history["train_loss"], label="train loss")
    axes[0].plot(history["test_accuracy"], label="test accuracy")
    axes[0].set(xlabel="epoch", title="learning curves")
    axes[0].grid(alpha=0.3)
    axes[0].legend()
    axes[1].imshow(tile(filters, 2), cmap="bwr", vmin=-1, vmax=1)
    axes[1].set_title("first-layer 5x5 filters")
    axes[2].imshow(tile(images[:24, 0], 6), cmap="gray_r")
    for k in range(24):
        r, c = divmod(k, 6)
        axes[2].text(9 * c + 7, 9 * r + 1, str(predicted[k]), fontsize=9, ha="right",
                     color="green" if predicted[k] == labels[k] else "red")
    axes[2].set_title("test digits, predicted label")
    for ax in axes[1:]:
        ax.axis("off")
    fig.suptitle(f"LeNet-5 on 8x8 digits: test accuracy {history['test_accuracy'][-1]:.3f}")
    save(plt, fig, path)


def main(quick: bool = False, out=None) -> dict:
    gg.manual_seed(0)
    train_x, train_y = load_digits("train")
    test_x, test_y = load_digits("test")
    model = LeNet5()
    print(f"{'layer':<10}{'activation shape':<20}{'size':>6}{'parameters':>12}")
    for name, shape, size, params in shape_table(model, gg.tensor(train_x[:1])):
        print(f"{name:<10}{str(shape):<20}{size:>6}{params:>12}")
    print(f"total parameters: {count_parameters(model)}")
    history = train_classifier(model, (train_x, train_y), (test_x, test_y),
                               epochs=8 if quick else 40, lr=3e-3, batch_size=32)
    accuracy = history["test_accuracy"][-1]
    print(f"LeNet-5 test accuracy {accuracy:.3f} on {len(test_y)} digits "
          f"({history['seconds']:.1f} s of training)")
    plot(model, history, test_x, test_y, plotting.output_dir(out) / "cnn_lenet5.png")
    return {"test_accuracy": accuracy, "train_loss": history["train_loss"],
            "parameters": count_parameters(model)}


if __name__ == "__main__":
    args = example_args(__doc__)
    main(quick=args.quick, out=args.out)
