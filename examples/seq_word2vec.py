"""Word embeddings by skip-gram with negative sampling (word2vec; course 5, week 2).

Skip-gram learns a vector e_c for every word by predicting the words around it.
For a (context word c, target word t) pair taken within a window of each other,
and k "negative" words drawn at random from the vocabulary (with probability
proportional to frequency**0.75), negative sampling trains k + 1 logistic
regressions instead of a softmax over the whole vocabulary:

    loss = -log sigmoid(theta_t . e_c) - sum_{i=1..k} log sigmoid(-theta_{n_i} . e_c)

(theta are a second set of "output" vectors).  Words used in the same company
end up with similar vectors, measured by cosine similarity, and differences of
vectors encode relations: e_man - e_woman ~ e_king - e_queen, so "man is to
woman as king is to ?" is answered by the word closest to e_king - e_man + e_woman.

Corpus: ``common.sequences.toy_corpus``, generated sentences in which each
person word keeps the company of its gender, royalty and age (so the relations
above hold by construction).  The script reports nearest neighbours and the
accuracy on all analogies a:b::c:d between the gender pairs (man/woman,
king/queen, boy/girl, prince/princess, ...), searching the whole vocabulary.

Plot: the person words projected on the two principal directions of their vectors.

    python examples/seq_word2vec.py [--quick] [--out DIR]
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
    most_similar,
    toy_corpus,
)

import graphgrad as gg
import graphgrad.nn.functional as F
from graphgrad import nn, optim


def skipgram_pairs(sentences: list[list[int]], window: int) -> np.ndarray:
    """All (context, target) id pairs with the target within ``window`` words of the context."""
    pairs = [(s[i], s[j]) for s in sentences for i in range(len(s))
             for j in range(max(0, i - window), min(len(s), i + window + 1)) if i != j]
    return np.array(pairs, dtype=np.int64)


class SkipGram(nn.Module):
    """Two embedding tables: ``embed`` (e_c, the word vectors kept) and ``output``
    (theta); the score of a pair is theta_t . e_c."""

    def __init__(self, vocab_size: int, dim: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, dim)
        self.output = nn.Embedding(vocab_size, dim)
        with gg.no_grad():  # small random start, as word2vec: scores near 0
            self.embed.weight.mul_(0.1)
            self.output.weight.mul_(0.1)

    def forward(self, context, target, negatives):
        """Negative-sampling loss: context (B,), target (B,), negatives (B, k)."""
        e = self.embed(context)  # (B, D)
        positive = (self.output(target) * e).sum(-1)  # (B,)
        negative = (self.output(negatives) @ e.unsqueeze(-1)).squeeze(-1)  # (B, k)
        return -(F.logsigmoid(positive) + F.logsigmoid(-negative).sum(-1)).mean()


def train_skipgram(sentences: list[list[str]], vocab: Vocab, dim: int = 16, window: int = 3,
                   negatives: int = 5, epochs: int = 3, batch: int = 512,
                   lr: float = 0.02, seed: int = 0) -> tuple[np.ndarray, list[float]]:
    """Word vectors (V, dim) learned by skip-gram with negative sampling, and the losses."""
    gg.manual_seed(seed)
    rng = np.random.default_rng(seed)
    pairs = skipgram_pairs([vocab.encode(s) for s in sentences], window)
    freq = np.array([vocab.counts[w] for w in vocab.itos], dtype=np.float64) ** 0.75
    noise = freq / freq.sum()
    model = SkipGram(len(vocab), dim)
    optimizer = optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(epochs):
        pairs = pairs[rng.permutation(len(pairs))]
        for start in range(0, len(pairs), batch):
            chunk = pairs[start:start + batch]
            neg = rng.choice(len(vocab), size=(len(chunk), negatives), p=noise)
            loss = model(gg.tensor(chunk[:, 0]), gg.tensor(chunk[:, 1]), gg.tensor(neg))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    return model.embed.weight.numpy().copy(), losses


def plot_people(vectors: np.ndarray, vocab: Vocab, path, title: str):
    """Person words on the two principal directions of their vectors."""
    plt = pyplot()
    if plt is None:
        return None
    words = [w for pair in GENDER_PAIRS for w in pair]
    X = vectors[[vocab[w] for w in words]]
    X = X - X.mean(0)
    xy = X @ np.linalg.svd(X, full_matrices=False)[2][:2].T
    fig, ax = plt.subplots(figsize=(6, 5))
    ax.scatter(xy[:, 0], xy[:, 1], c=["tab:blue", "tab:red"] * len(GENDER_PAIRS))
    for (x, y), w in zip(xy, words, strict=True):
        ax.annotate(w, (x, y), fontsize=9, xytext=(3, 3), textcoords="offset points")
    for k in range(len(GENDER_PAIRS)):
        ax.plot(xy[2 * k:2 * k + 2, 0], xy[2 * k:2 * k + 2, 1], color="gray", lw=0.6)
    ax.set(title=title, xlabel="principal direction 1", ylabel="principal direction 2")
    return save(plt, fig, path)


def main(quick: bool = False, out=None) -> dict:
    sentences = toy_corpus(2000 if quick else 6000, seed=0)
    vocab = Vocab(w for s in sentences for w in s)
    vectors, losses = train_skipgram(sentences, vocab, epochs=3 if quick else 4)
    print(f"{len(sentences)} sentences, {len(vocab)} words; loss {np.mean(losses[:5]):.3f} -> "
          f"{np.mean(losses[-20:]):.3f} over {len(losses)} steps")
    neighbours = {}
    for word in ("king", "woman", "good", "nurse"):
        neighbours[word] = most_similar(vectors, vocab, word, k=4)
        print(f"   closest to {word!r}: " + ", ".join(f"{w} ({s:.2f})"
                                                   for w, s in neighbours[word]))
    accuracy = analogy_accuracy(vectors, vocab, analogy_questions(GENDER_PAIRS), verbose=4)
    print(f"analogies solved: {accuracy:.0%}")
    plot_people(vectors, vocab, plotting.output_dir(out) / "seq_word2vec.png",
                "Skip-gram vectors of the person words")
    return {"losses": losses, "analogy_accuracy": accuracy, "neighbours": neighbours}


if __name__ == "__main__":
    args = example_args(__doc__)
    main(quick=args.quick, out=args.out)
