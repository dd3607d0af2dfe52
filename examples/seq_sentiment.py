"""Sentiment classification: averaged word vectors vs an LSTM (course 5, week 2, "Emojify").

Two classifiers read a sentence through the same frozen, pre-trained word vectors
(GloVe, trained by ``seq_glove.py`` on an unlabelled corpus):

- averaging: y = softmax(W mean_t(e_{w_t}) + b), the course's first model.  Its
  class score is the mean of one score per word, whatever their order, so "not"
  pushes every sentence the same way: for two-word phrases, s(good) > 0 > s(bad)
  and s(not) + s(good) < 0 < s(not) + s(bad) cannot all hold, so "not good" and
  "not bad" cannot both be right.  (A third template puts "not" after the words
  it does not negate: "great movie not" stays positive.)
- an LSTM over the word vectors, classifying from its last hidden state, the
  course's second model: it reads "not" before the word it negates.

The labelled sentences are generated from templates ("this movie is (not)
(very) good", "i think the food was (not) awful") with only half of the
sentiment words; the test set also holds sentences with the other half, never
seen in a labelled example.  Both models classify those from their pre-trained
vectors alone, which sit near the seen words of the same polarity: the reason to
start from embeddings learned on a large unlabelled text.

    python examples/seq_sentiment.py [--quick] [--out DIR]
"""
from __future__ import annotations

import numpy as np
from common import example_args, plotting
from common.sequences import SENTIMENT_WORDS, Vocab, pad_batch, toy_corpus
from seq_glove import train_glove

import graphgrad as gg
import graphgrad.nn.functional as F
from graphgrad import nn, optim

NOUNS = ["movie", "food", "day"]
TEMPLATES = ["this {noun} is {not} {adv} {word}", "i think the {noun} was {not} {word}",
             "{adv} {word} {noun} {not}"]


def make_sentences(n: int, words: dict, rng: np.random.Generator):
    """``n`` (tokens, label, negated) examples; label 1 = positive, flipped by "not"
    (in the third template a trailing "not" negates nothing and keeps the label)."""
    examples = []
    for _ in range(n):
        template = TEMPLATES[rng.integers(len(TEMPLATES))]
        polarity = int(rng.integers(2))
        negated = bool(rng.random() < 0.5)
        word = str(rng.choice(words["positive" if polarity else "negative"]))
        fields = {"noun": rng.choice(NOUNS), "word": word, "not": "not" if negated else "",
                  "adv": rng.choice(["", "very", "really"])}
        text = template.format(**fields)
        flips = negated and not template.endswith("{not}")
        examples.append((text.split(), polarity ^ flips, flips))
    return examples


class Averaged(nn.Module):
    """softmax(W mean(e) + b) over the non-padding words."""

    def __init__(self, embedding: nn.Embedding) -> None:
        super().__init__()
        self.embed = embedding
        self.linear = nn.Linear(embedding.embedding_dim, 2)

    def forward(self, x):
        mask = gg.tensor((x.numpy() != 0).astype(np.float32))[..., None]
        mean = (self.embed(x) * mask).sum(1) / mask.sum(1)
        return self.linear(mean)


class Recurrent(nn.Module):
    """An LSTM over the word vectors (sentences padded on the left, so the last step is
    the last word), classifying from the last hidden state."""

    def __init__(self, embedding: nn.Embedding, hidden: int = 32) -> None:
        super().__init__()
        self.embed = embedding
        self.lstm = nn.LSTM(embedding.embedding_dim, hidden, batch_first=True)
        self.linear = nn.Linear(hidden, 2)

    def forward(self, x):
        _, (h, _) = self.lstm(self.embed(x))
        return self.linear(h[-1])


def encode(examples, vocab: Vocab, length: int = 8):
    ids, _ = pad_batch([vocab.encode(reversed(t)) for t, _, _ in examples], length=length)
    x = ids[:, ::-1].copy()  # left padding
    return x, np.array([y for _, y, _ in examples]), np.array([neg for _, _, neg in examples])


def main(quick: bool = False, out=None) -> dict:
    corpus = toy_corpus(3000 if quick else 6000, seed=0)
    vocab = Vocab((w for s in corpus for w in s), specials=["<pad>"])
    vectors, _ = train_glove(corpus, vocab, steps=200 if quick else 400)
    vectors[0] = 0.0  # the padding vector
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True).clip(1e-8)

    seen = {k: ws[: len(ws) // 2] for k, ws in SENTIMENT_WORDS.items()}
    unseen = {k: ws[len(ws) // 2:] for k, ws in SENTIMENT_WORDS.items()}
    rng = np.random.default_rng(0)
    x, y, _ = encode(make_sentences(600, seen, rng), vocab)
    tests = {"seen words": encode(make_sentences(400, seen, rng), vocab),
             "unseen words": encode(make_sentences(400, unseen, rng), vocab)}
    print(f"training on {len(x)} sentences using {seen['positive'] + seen['negative']}")
    print(f"unseen words: {unseen['positive'] + unseen['negative']}")

    results = {}
    steps = 200 if quick else 600
    for name, cls in (("averaged", Averaged), ("LSTM", Recurrent)):
        gg.manual_seed(0)
        embedding = nn.Embedding.from_pretrained(gg.tensor(vectors.astype(np.float32)),
                                                 padding_idx=0)  # frozen
        model = cls(embedding)
        optimizer = optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
        losses = []
        for _ in range(steps):
            idx = rng.integers(0, len(x), 64)
            loss = F.cross_entropy(model(gg.tensor(x[idx])), gg.tensor(y[idx]))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        r = {"losses": losses}
        with gg.no_grad():
            for part, (xt, yt, negated) in tests.items():
                right = model(gg.tensor(xt)).numpy().argmax(1) == yt
                r[part] = float(right.mean())
                r[part + ", negated"] = float(right[negated].mean())
        results[name] = r
        print(f"{name:>9}: loss {np.mean(losses[:10]):.3f} -> {np.mean(losses[-20:]):.3f}; "
              f"test accuracy: seen words {r['seen words']:.1%} (negated "
              f"{r['seen words, negated']:.1%}), unseen words {r['unseen words']:.1%} "
              f"(negated {r['unseen words, negated']:.1%})")

    folder = plotting.output_dir(out)
    plotting.plot_curves({k: r["losses"] for k, r in results.items()},
                         folder / "seq_sentiment.png", xlabel="step", ylabel="cross-entropy",
                         title="Sentiment: averaged vectors vs LSTM")
    return results


if __name__ == "__main__":
    args = example_args(__doc__)
    main(quick=args.quick, out=args.out)
