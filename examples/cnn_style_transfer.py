"""Neural style transfer: content cost, Gram-matrix style cost, and gradient descent on
the pixels (course 4, week 4).

Style transfer (Gatys et al., 2015) paints a content image C in the style of
an image S by optimising the pixels of a generated image G, not the weights of
a network.  A fixed CNN supplies activations a[l] (n_C channels of n_H x n_W):

- content cost, at one deeper layer: the activations of G should match C's,

      J_content = 1 / (4 n_H n_W n_C) * sum (a_C - a_G)^2;

- style cost, at several layers: "style" is which channels fire together, the
  Gram matrix of the unrolled activations A (n_C x n_H n_W), Gram = A A^T,
  whose entry (k, k') correlates channels k and k' over all positions, so it
  ignores where things are:

      J_style[l] = 1 / (4 n_C^2 (n_H n_W)^2) * sum (Gram_S - Gram_G)^2;

- J(G) = alpha J_content + beta sum_l lambda_l J_style[l], plus (not in the
  course, but usual in style-transfer code) a small total-variation term, the
  mean squared difference of neighbouring pixels, against pixel noise.

G starts as the content image plus noise and is a leaf Tensor with
``requires_grad=True``; ``J.backward()`` gives dJ/dG and ``optim.Adam([G])``
updates the pixels (clamped to [0, 1]).  The course uses a VGG-19 trained on
ImageNet; with no downloads here the feature extractor is a small fixed CNN
whose first layer is a bank of oriented Gabor filters (what the first layer of
a trained CNN learns) and whose deeper layers have random weights.  (With
random weights everywhere, Gram matrices of this small a network hold too
little of the texture.)  Content and style images are synthetic: a house
under a sun, and coloured wavy diagonal stripes.

    python examples/cnn_style_transfer.py [--quick] [--out DIR]
"""
from __future__ import annotations

import numpy as np
from common import example_args, plotting
from common.image_plots import pyplot, save

import graphgrad as gg
from graphgrad import nn, optim

SIZE = 48


def content_image(size: int = SIZE) -> np.ndarray:
    """A house (walls, roof, door) under a yellow sun on a blue-to-white sky, (3, H, W)."""
    y, x = np.mgrid[0:size, 0:size] / size
    image = np.stack([0.55 + 0.4 * y, 0.7 + 0.25 * y, np.full_like(y, 0.95)])  # sky
    grass = y > 0.8
    walls = (x > 0.25) & (x < 0.7) & (y > 0.5) & (y <= 0.8)
    roof = (y > 0.25) & (y <= 0.5) & (np.abs(x - 0.475) < (y - 0.25) * 1.1)
    door = (x > 0.42) & (x < 0.53) & (y > 0.62) & (y <= 0.8)
    sun = (x - 0.82) ** 2 + (y - 0.18) ** 2 < 0.1**2
    for mask, colour in ((grass, (0.2, 0.6, 0.2)), (walls, (0.85, 0.75, 0.55)),
                         (roof, (0.7, 0.15, 0.1)), (door, (0.35, 0.2, 0.1)),
                         (sun, (1.0, 0.85, 0.1))):
        image[:, mask] = np.array(colour)[:, None]
    return image.astype(np.float32)


def style_image(size: int = SIZE) -> np.ndarray:
    """Wavy diagonal stripes cycling through purple, orange and teal, (3, H, W)."""
    y, x = np.mgrid[0:size, 0:size] / size
    phase = 14 * (x + y) + 0.6 * np.sin(12 * y)
    palette = np.array([[0.45, 0.1, 0.55], [0.95, 0.55, 0.1], [0.1, 0.6, 0.6]])
    weights = np.stack([np.cos(phase - k * 2 * np.pi / 3) for k in range(3)]) ** 8
    image = np.einsum("kc,khw->chw", palette, weights / weights.sum(axis=0))
    return image.astype(np.float32)


def gabor_bank(k: int = 7, colours: int = 2, seed: int = 0) -> np.ndarray:
    """First-layer filters (N, 3, k, k) like those a trained CNN learns: Gabor filters (a
    cosine grating under a Gaussian window) at 8 orientations, 2 wavelengths and 2
    phases, each tied to ``colours`` random colour directions, plus 3 filters that
    pass the red, green and blue values through."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:k, 0:k] - k // 2
    filters = []
    for theta in np.arange(8) * np.pi / 8:
        along = x * np.cos(theta) + y * np.sin(theta)
        for wavelength in (3.0, 6.0):
            window = np.exp(-(x**2 + y**2) / (2 * (0.6 * wavelength) ** 2))
            for phase in (0.0, np.pi / 2):
                grating = window * np.cos(2 * np.pi * along / wavelength + phase)
                grating -= window * grating.sum() / window.sum()  # no response to flat colour
                grating /= np.linalg.norm(grating)
                for _ in range(colours):
                    colour = rng.normal(size=3)
                    filters.append(colour[:, None, None] / np.linalg.norm(colour) * grating)
    for c in range(3):
        tap = np.zeros((3, k, k))
        tap[c, k // 2, k // 2] = 1.0
        filters.append(tap)
    return np.array(filters, dtype=np.float32)


class Features(nn.Module):
    """A fixed feature extractor: a Gabor filter bank (67 channels at 48x48), then 2x2
    average pooling and a random 5x5 convolution (128 channels at 24x24), then pooling
    and a random 3x3 convolution (128 channels at 12x12), each followed by a ReLU.
    Returns the activations of the three stages; its weights never train."""

    def __init__(self) -> None:
        super().__init__()
        bank = gabor_bank()
        first = nn.Conv2d(3, len(bank), 7, padding=3, bias=False)
        with gg.no_grad():
            first.weight.copy_(gg.tensor(bank))
        self.stages = nn.ModuleList([
            nn.Sequential(first, nn.ReLU()),
            nn.Sequential(nn.AvgPool2d(2), nn.Conv2d(len(bank), 128, 5, padding=2), nn.ReLU()),
            nn.Sequential(nn.AvgPool2d(2), nn.Conv2d(128, 128, 3, padding=1), nn.ReLU()),
        ])
        for stage in self.stages[1:]:
            nn.init.kaiming_normal_(stage[1].weight, nonlinearity="relu")  # activations O(1)
        self.requires_grad_(False)

    def forward(self, x):
        activations = []
        for stage in self.stages:
            x = stage(x)
            activations.append(x)
        return activations


def gram_matrix(a: gg.Tensor) -> gg.Tensor:
    """Gram = A A^T of one image's activations unrolled to A (n_C, n_H n_W)."""
    unrolled = a.reshape(a.shape[1], -1)
    return unrolled @ unrolled.T


def content_cost(a_c: gg.Tensor, a_g: gg.Tensor) -> gg.Tensor:
    _, n_c, n_h, n_w = a_g.shape
    return ((a_c - a_g) ** 2).sum() / (4 * n_h * n_w * n_c)


def layer_style_cost(a_s: gg.Tensor, a_g: gg.Tensor) -> gg.Tensor:
    _, n_c, n_h, n_w = a_g.shape
    return ((gram_matrix(a_s) - gram_matrix(a_g)) ** 2).sum() / (4 * n_c**2 * (n_h * n_w) ** 2)


def style_cost(style_acts: list, generated_acts: list, weights=(0.5, 0.3, 0.2)) -> gg.Tensor:
    return sum(w * layer_style_cost(s, g)
               for w, s, g in zip(weights, style_acts, generated_acts, strict=True))


def total_variation(image: gg.Tensor) -> gg.Tensor:
    """Mean squared difference of vertically and horizontally adjacent pixels."""
    return (((image[:, :, 1:] - image[:, :, :-1]) ** 2).mean()
            + ((image[:, :, :, 1:] - image[:, :, :, :-1]) ** 2).mean())


def plot(content: np.ndarray, style: np.ndarray, generated: np.ndarray, history: dict, path):
    plt = pyplot()
    if plt is None:
        return
    fig, axes = plt.subplots(1, 4, figsize=(13, 3.4))
    for ax, image, title in zip(axes, (content, style, generated),
                                ("content C", "style S", "generated G"), strict=False):
        ax.imshow(np.clip(image.transpose(1, 2, 0), 0, 1))
        ax.set_title(title)
        ax.axis("off")
    for key in ("total", "content", "style"):
        axes[3].plot(history[key], label=key)
    axes[3].set(yscale="log", xlabel="Adam step on the pixels", title="costs")
    axes[3].legend()
    axes[3].grid(alpha=0.3)
    save(plt, fig, path)


def main(quick: bool = False, out=None) -> dict:
    gg.manual_seed(0)
    features = Features()
    content, style = content_image(), style_image()
    with gg.no_grad():
        content_acts = features(gg.tensor(content[None]))
        style_acts = features(gg.tensor(style[None]))
    noise = 0.2 * gg.rand(1, *content.shape) - 0.1  # uniform in [-0.1, 0.1)
    generated = (gg.tensor(content[None]) + noise).clip(0.0, 1.0).detach().requires_grad_()
    optimizer = optim.Adam([generated], lr=0.01)
    alpha, beta, smoothness = 10.0, 150.0, 0.03
    history = {"total": [], "content": [], "style": []}
    steps = 40 if quick else 300
    for step in range(steps + 1):
        acts = features(generated)
        j_content = content_cost(content_acts[2], acts[2])
        j_style = style_cost(style_acts, acts)
        total = alpha * j_content + beta * j_style + smoothness * total_variation(generated)
        for key, value in (("total", total), ("content", j_content), ("style", j_style)):
            history[key].append(value.item())
        if step % (10 if quick else 50) == 0:
            print(f"step {step:3d}  J {total.item():.4f}  J_content {j_content.item():.4f}  "
                  f"J_style {j_style.item():.5f}")
        if step == steps:
            break
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
        with gg.no_grad():
            generated.clamp_(0.0, 1.0)
    print(f"style cost fell {history['style'][0] / history['style'][-1]:.1f}x while the content "
          f"cost went from {history['content'][0]:.4f} to {history['content'][-1]:.4f}")
    plot(content, style, generated.numpy()[0], history,
         plotting.output_dir(out) / "cnn_style_transfer.png")
    return history


if __name__ == "__main__":
    args = example_args(__doc__)
    main(quick=args.quick, out=args.out)
