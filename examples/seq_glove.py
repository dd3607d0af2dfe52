"""GloVe word vectors, analogies, and removing a gender bias from them (course 5, week 2).

GloVe (Pennington et al., 2014) fits word vectors to the corpus's co-occurrence
counts X_ij (how often word j appears near word i, each occurrence weighted
1 / distance) by weighted least squares:

    J = sum_{i,j: X_ij > 0} f(X_ij) (theta_i . e_j + b_i + b'_j - log X_ij)^2,
    f(x) = min(1, (x / x_max)^0.75)

(f keeps frequent pairs from dominating and ignores X_ij = 0).  theta and e play
symmetric roles; the final vector of a word is theta + e.  Here the whole sum is
one full-batch loss minimised with Adam.

The course's operations on word vectors follow: cosine similarity, analogies
(see ``seq_word2vec.py``), and debiasing (Bolukbasi et al., 2016).  The corpus
(``common.sequences.toy_corpus``) mentions "nurse" and "receptionist" mostly
with "she", "engineer" and "doctor" mostly with "he", so their vectors lean along
the gender direction g (the mean of e_woman - e_man over the gender pairs).
``neutralize`` removes that component from words that should carry no gender
(their cosine with g becomes 0); ``equalize`` moves a definitional pair such as
grandmother/grandfather so that both are equally similar to every neutral word.

Plot: cosine with the gender direction, before and after neutralising.

    python examples/seq_glove.py [--quick] [--out DIR]
"""
from __future__ import annotations

import numpy as np
from common import example_args, plotting
from common.image_plots import pyplot, save
from common.sequences import (
    GENDER_PAIRS,
    Vocab,
    analogy_accuracy,
    analogy_questions,
    cosine_similarity,
    equalize,
    most_similar,
    neutralize,
    toy_corpus,
)

import graphgrad as gg
from graphgrad import nn, optim

JOBS = ["nurse", "receptionist", "engineer", "doctor"]


def cooccurrence(sentences: list[list[int]], size: int, window: int = 3) -> np.ndarray:
    """X[i, j] = sum over occurrences of j within ``window`` words of i of 1 / distance."""
    X = np.zeros((size, size))
    for s in sentences:
        for i, wi in enumerate(s):
            for j in range(max(0, i - window), min(len(s), i + window + 1)):
                if j != i:
                    X[wi, s[j]] += 1.0 / abs(i - j)
    return X


class GloVe(nn.Module):
    """Two vector tables and two bias tables; ``forward(i, j, log_x, weight)`` is J."""

    def __init__(self, vocab_size: int, dim: int) -> None:
        super().__init__()
        self.theta = nn.Embedding(vocab_size, dim)
        self.e = nn.Embedding(vocab_size, dim)
        self.b = nn.Embedding(vocab_size, 1)
        self.b_prime = nn.Embedding(vocab_size, 1)
        for table in (self.theta, self.e):
            nn.init.uniform_(table.weight, -0.5 / dim, 0.5 / dim)
        nn.init.zeros_(self.b.weight)
        nn.init.zeros_(self.b_prime.weight)

    def forward(self, i, j, log_x, weight):
        fit = (self.theta(i) * self.e(j)).sum(-1) + self.b(i)[:, 0] + self.b_prime(j)[:, 0]
        return (weight * (fit - log_x) ** 2).sum()

    def vectors(self) -> np.ndarray:
        return self.theta.weight.numpy() + self.e.weight.numpy()


def train_glove(sentences: list[list[str]], vocab: Vocab, dim: int = 16, steps: int = 400,
                x_max: float = 100.0, lr: float = 0.05,
                seed: int = 0) -> tuple[np.ndarray, list[float]]:
    """GloVe vectors (V, dim) of ``vocab``'s words from ``sentences``, and the losses."""
    gg.manual_seed(seed)
    X = cooccurrence([vocab.encode(s) for s in sentences], len(vocab))
    i, j = np.nonzero(X)
    log_x = gg.tensor(np.log(X[i, j]).astype(np.float32))
    weight = gg.tensor(np.minimum(1.0, (X[i, j] / x_max) ** 0.75).astype(np.float32))
    i, j = gg.tensor(i), gg.tensor(j)
    model = GloVe(len(vocab), dim)
    optimizer = optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        loss = model(i, j, log_x, weight)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return model.vectors(), losses


def plot_bias(before: dict, after: dict, path):
    plt = pyplot()
    if plt is None:
        return None
    words = list(before)
    x = np.arange(len(words))
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    ax.bar(x - 0.2, [before[w] for w in words], 0.4, label="GloVe")
    ax.bar(x + 0.2, [after[w] for w in words], 0.4, label="after neutralize / equalize")
    ax.axhline(0, color="k", lw=0.6)
    ax.set_xticks(x, words, rotation=30)
    ax.set(ylabel="cosine with g = woman - man", title="Gender component of word vectors")
    ax.legend()
    return save(plt, fig, path)


def main(quick: bool = False, out=None) -> dict:
    sentences = toy_corpus(3000 if quick else 6000, seed=0)
    vocab = Vocab(w for s in sentences for w in s)
    vectors, losses = train_glove(sentences, vocab, steps=200 if quick else 400)
    print(f"{len(sentences)} sentences, {len(vocab)} words; GloVe loss {losses[0]:.1f} -> "
          f"{losses[-1]:.1f}")
    for word in ("king", "nurse"):
        print(f"   closest to {word!r}: " + ", ".join(
            f"{w} ({s:.2f})" for w, s in most_similar(vectors, vocab, word, k=4)))
    accuracy = analogy_accuracy(vectors, vocab, analogy_questions(GENDER_PAIRS), verbose=4)
    print(f"analogies solved: {accuracy:.0%}")

    # Debiasing, on unit-length vectors (equalize assumes them).
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    e = lambda w: unit[vocab[w]]
    g = np.mean([e(f) - e(m) for m, f in GENDER_PAIRS], axis=0)
    before = {w: cosine_similarity(e(w), g) for w in JOBS + ["grandmother", "grandfather"]}
    after = {w: cosine_similarity(neutralize(e(w), g), g) for w in JOBS}
    doctor = neutralize(e("doctor"), g)
    grandfather, grandmother = equalize(e("grandfather"), e("grandmother"), g)
    after.update(grandmother=cosine_similarity(grandmother, g),
                 grandfather=cosine_similarity(grandfather, g))
    pair_gap = {"before": abs(cosine_similarity(doctor, e("grandmother"))
                              - cosine_similarity(doctor, e("grandfather"))),
                "after": abs(cosine_similarity(doctor, grandmother)
                             - cosine_similarity(doctor, grandfather))}
    print("cosine with the gender direction g (positive: female side):")
    for w in before:
        print(f"   {w:>12}: {before[w]:+.3f} -> {after[w]:+.3f}")
    print(f"|cos(doctor, grandmother) - cos(doctor, grandfather)|: {pair_gap['before']:.3f} "
          f"-> {pair_gap['after']:.2e} after equalize")
    plot_bias(before, after, plotting.output_dir(out) / "seq_glove.png")
    return {"losses": losses, "analogy_accuracy": accuracy, "bias_before": before,
            "bias_after": after, "pair_gap": pair_gap}


if __name__ == "__main__":
    args = example_args(__doc__)
    main(quick=args.quick, out=args.out)
