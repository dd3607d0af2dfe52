"""A Siamese network trained with the triplet loss: one-shot verification on digits
(course 4, week 4, face recognition).

One-shot learning must recognise a class from a single example, too few to
train a classifier.  Instead a network f learns an encoding, here a unit
vector in R^16, such that d(x1, x2) = ||f(x1) - f(x2)|| is small for two
images of the same class and large otherwise; verification is then "same
class if d < tau", and recognition compares a new image with one stored
example per class.  The inputs pass through the same network with the same
weights, hence "Siamese".  Training uses triplets of an anchor A, a positive P
(same class) and a negative N (another class):

    L(A, P, N) = max(d(A, P) - d(A, N) + margin, 0)        (nn.TripletMarginLoss)

Random triplets are mostly satisfied already and teach nothing, so, as the
course advises, triplets are chosen hard: within each mini-batch every image
is an anchor, paired with its farthest positive and its nearest negative
("batch-hard" mining).

The network is trained on the digits 0-6 only, then tested on test images of
0-6 and on the digits 7-9, which it has never seen (like the new faces of a
face-recognition system): verification accuracy of all test pairs (tau picked
on training images), the ROC AUC of the distances, and one-shot recognition
from one stored example per class (averaged over 50 random choices of the
stored examples), compared with the untrained network.

    python examples/cnn_siamese_triplet.py [--quick] [--out DIR]
"""
from __future__ import annotations

import numpy as np
from common import example_args, plotting
from common.image_plots import pyplot, save

import graphgrad as gg
import graphgrad.nn.functional as F
from graphgrad import nn, optim
from graphgrad.datasets import load_digits
from graphgrad.utils.data import DataLoader, TensorDataset

SEEN, UNSEEN = list(range(7)), [7, 8, 9]


class Encoder(nn.Module):
    """Two conv-BN-ReLU-pool stages and a linear layer to a unit vector of ``dim`` numbers."""

    def __init__(self, dim: int = 16) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(32 * 2 * 2, dim),
        )

    def forward(self, x):
        return F.normalize(self.net(x), dim=1)


def batch_hard_triplets(embeddings: np.ndarray, labels: np.ndarray):
    """For each anchor: the index of its farthest positive and of its nearest negative
    in the batch (anchors without a positive are dropped)."""
    d = np.linalg.norm(embeddings[:, None] - embeddings[None], axis=-1)
    same = labels[:, None] == labels[None]
    positives = np.where(same & ~np.eye(len(labels), dtype=bool), d, -np.inf)
    negatives = np.where(same, np.inf, d)
    anchors = np.flatnonzero(np.isfinite(positives.max(axis=1)))
    return anchors, positives.argmax(axis=1)[anchors], negatives.argmin(axis=1)[anchors]


def embed(model: nn.Module, images: np.ndarray) -> np.ndarray:
    model.eval()
    with gg.no_grad():
        return model(gg.tensor(images)).numpy()


def pair_distances(embeddings: np.ndarray, labels: np.ndarray):
    """Distances of all distinct pairs, and whether each pair shares a class."""
    i, j = np.triu_indices(len(labels), k=1)
    return np.linalg.norm(embeddings[i] - embeddings[j], axis=1), labels[i] == labels[j]


def balanced_accuracy(distances: np.ndarray, same: np.ndarray, tau: float) -> float:
    """Mean of the accuracies on same-class and on different-class pairs of 'same iff d < tau'."""
    return float(((distances[same] < tau).mean() + (distances[~same] >= tau).mean()) / 2)


def best_threshold(distances: np.ndarray, same: np.ndarray) -> float:
    """The tau with the best balanced accuracy on these pairs."""
    candidates = np.quantile(distances, np.linspace(0.01, 0.99, 99))
    return float(max(candidates, key=lambda tau: balanced_accuracy(distances, same, tau)))


def auc(distances: np.ndarray, same: np.ndarray) -> float:
    """Probability that a random different-class pair is farther apart than a random
    same-class pair (the area under the ROC curve; 0.5 is chance, 1 perfect)."""
    return float((distances[~same][None, :] > distances[same][:, None]).mean())


def one_shot(embeddings: np.ndarray, labels: np.ndarray, draws: int = 50) -> float:
    """Recognition accuracy from one stored example per class (the nearest stored example
    wins), averaged over ``draws`` random choices of the stored examples."""
    rng = np.random.default_rng(0)
    classes = np.unique(labels)
    accuracies = []
    for _ in range(draws):
        stored = np.array([rng.choice(np.flatnonzero(labels == c)) for c in classes])
        distances = np.linalg.norm(embeddings[:, None] - embeddings[stored][None], axis=-1)
        queries = ~np.isin(np.arange(len(labels)), stored)
        accuracies.append((classes[distances.argmin(axis=1)] == labels)[queries].mean())
    return float(np.mean(accuracies))


def evaluate(model: nn.Module, fit: tuple, test: tuple) -> dict:
    """Verification on all pairs of ``test`` images with the tau that is best on ``fit``
    images, its AUC, and one-shot recognition among the test classes."""
    tau = best_threshold(*pair_distances(embed(model, fit[0]), fit[1]))
    embeddings = embed(model, test[0])
    distances, same = pair_distances(embeddings, test[1])
    return {"tau": tau, "verification": balanced_accuracy(distances, same, tau),
            "auc": auc(distances, same), "one_shot": one_shot(embeddings, test[1]),
            "distances": distances, "same": same}


def plot(results: dict, losses: list, path) -> None:
    plt = pyplot()
    if plt is None:
        return
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    axes[0].plot(np.arange(1, len(losses) + 1), losses, marker="o")
    axes[0].set(xlabel="epoch", ylabel="batch-hard triplet loss", title="training on digits 0-6")
    axes[0].grid(alpha=0.3)
    bins = np.linspace(0, 2, 41)
    for ax, key, title in ((axes[1], "seen", "digits 0-6, test images"),
                           (axes[2], "unseen", "digits 7-9, never trained on")):
        r = results[key]
        ax.hist(r["distances"][r["same"]], bins, alpha=0.6, density=True, label="same digit")
        ax.hist(r["distances"][~r["same"]], bins, alpha=0.6, density=True, label="different")
        ax.axvline(r["tau"], color="k", ls="--", label=f"tau = {r['tau']:.2f}")
        ax.set(xlabel="||f(x1) - f(x2)||", title=f"{title}: AUC {r['auc']:.2f}")
        ax.legend(fontsize=8)
    save(plt, fig, path)


def main(quick: bool = False, out=None) -> dict:
    gg.manual_seed(0)
    images, labels = load_digits("train")
    test_images, test_labels = load_digits("test")
    train = (images[np.isin(labels, SEEN)], labels[np.isin(labels, SEEN)])
    fit = (train[0][:300], train[1][:300])  # pairs for choosing the threshold tau
    seen_test = (test_images[np.isin(test_labels, SEEN)], test_labels[np.isin(test_labels, SEEN)])
    unseen_test = (test_images[np.isin(test_labels, UNSEEN)],
                   test_labels[np.isin(test_labels, UNSEEN)])

    model = Encoder()
    untrained = evaluate(model, fit, unseen_test)
    loader = DataLoader(TensorDataset(*train), batch_size=64, shuffle=True, drop_last=True)
    optimizer = optim.Adam(model.parameters(), lr=3e-3, weight_decay=1e-2)
    loss_fn = nn.TripletMarginLoss(margin=0.2)
    losses = []
    for epoch in range(3 if quick else 8):
        model.train()
        total = []
        for batch, batch_labels in loader:
            emb = model(batch)
            a, p, n = batch_hard_triplets(emb.detach().numpy(), batch_labels.numpy())
            loss = loss_fn(emb[a], emb[p], emb[n])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total.append(loss.item())
        losses.append(float(np.mean(total)))
        print(f"epoch {epoch + 1:2d}  batch-hard triplet loss {losses[-1]:.4f}")
    results = {"seen": evaluate(model, fit, seen_test), "unseen": evaluate(model, fit, unseen_test),
               "unseen_untrained": untrained}
    for key, title in (("seen", "digits 0-6, test images"), ("unseen", "digits 7-9 (unseen)"),
                       ("unseen_untrained", "digits 7-9, untrained net")):
        r = results[key]
        print(f"{title:<27}: verification accuracy {r['verification']:.3f} (tau {r['tau']:.2f} "
              f"from 0-6), AUC {r['auc']:.3f}, one-shot recognition {r['one_shot']:.3f}")
    plot(results, losses, plotting.output_dir(out) / "cnn_siamese_triplet.png")
    summary = {key: {k: r[k] for k in ("verification", "auc", "one_shot", "tau")}
               for key, r in results.items()}
    return {"losses": losses, **summary}


if __name__ == "__main__":
    args = example_args(__doc__)
    main(quick=args.quick, out=args.out)
