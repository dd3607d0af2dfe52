"""A bidirectional deep RNN that needs the future to tag the present (course 5, week 1).

"He said, Teddy Roosevelt was a great President" / "He said, Teddy bears are on
sale": whether "Teddy" is part of a name depends on the word AFTER it.  A
left-to-right RNN must tag "Teddy" having seen only "He said," and can do no
better than guess.  A bidirectional RNN runs a second RNN from the end of the
sentence backwards and predicts from both states,

    y_t = g(W_y [a_t(forward), a_t(backward)] + b_y),

so every prediction sees the whole sentence.  Both models here are deep (two
stacked LSTM layers, the second reading the first one's outputs); they differ
only in ``bidirectional=True``.

Data: generated 10-word sentences tagged word by word as part of a person's
name (1) or not (0).  Each holds one ambiguous first name ("teddy", "jack", ...)
followed either by a surname (a name) or by an ordinary word (not a name), plus
unambiguous names and filler words.  Accuracy is reported over all words and
over the ambiguous words alone (chance: 50%).

    python examples/seq_bidirectional.py [--quick] [--out DIR]
"""
from __future__ import annotations

import numpy as np
from common import example_args, plotting
from common.sequences import Vocab

import graphgrad as gg
import graphgrad.nn.functional as F
from graphgrad import nn, optim

AMBIGUOUS = ["teddy", "jack", "rose", "mark", "bill", "april"]
SURNAMES = ["roosevelt", "smith", "jones", "brown", "taylor", "lee"]
NOT_NAMES = ["bears", "hammers", "gardens", "downs", "boards", "showers"]
NAMES = ["alice", "bob", "carol", "dave"]
FILLER = ["he", "she", "said", "that", "the", "was", "great", "on", "sale", "are", "a",
          "president", "today", "and", "we", "saw", "in", "park"]
LENGTH = 10


def make_sentences(n: int, rng: np.random.Generator):
    """``n`` sentences of LENGTH words and their tags (1 = part of a name), plus a mask
    of the ambiguous first names."""
    words, tags, ambiguous = [], [], []
    for _ in range(n):
        sent = list(rng.choice(FILLER, LENGTH))
        tag = [0] * LENGTH
        amb = [False] * LENGTH
        i = int(rng.integers(0, LENGTH - 1))  # the ambiguous word and the word after it
        is_name = rng.random() < 0.5
        sent[i] = str(rng.choice(AMBIGUOUS))
        sent[i + 1] = str(rng.choice(SURNAMES if is_name else NOT_NAMES))
        tag[i] = tag[i + 1] = int(is_name)
        amb[i] = True
        j = int(rng.integers(0, LENGTH))  # sometimes an unambiguous name elsewhere
        if j not in (i, i + 1) and rng.random() < 0.5:
            sent[j], tag[j] = str(rng.choice(NAMES)), 1
        words.append(sent)
        tags.append(tag)
        ambiguous.append(amb)
    return words, np.array(tags, dtype=np.int64), np.array(ambiguous)


class Tagger(nn.Module):
    """Embedding -> 2-layer LSTM (one or two directions) -> Linear per word."""

    def __init__(self, vocab_size: int, bidirectional: bool, hidden: int = 16) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, 16)
        self.lstm = nn.LSTM(16, hidden, num_layers=2, batch_first=True,
                            bidirectional=bidirectional)
        self.head = nn.Linear(hidden * (2 if bidirectional else 1), 2)

    def forward(self, x):
        out, _ = self.lstm(self.embed(x))  # (batch, LENGTH, directions * hidden)
        return self.head(out)


def main(quick: bool = False, out=None) -> dict:
    rng = np.random.default_rng(0)
    vocab = Vocab(AMBIGUOUS + SURNAMES + NOT_NAMES + NAMES + FILLER)
    words, tags, _ = make_sentences(2000, rng)
    x_train = np.array([vocab.encode(s) for s in words])
    test_words, test_tags, test_amb = make_sentences(500, np.random.default_rng(1))
    x_test = np.array([vocab.encode(s) for s in test_words])
    steps = 120 if quick else 600

    results = {}
    for name, bidirectional in (("left-to-right", False), ("bidirectional", True)):
        gg.manual_seed(0)
        model = Tagger(len(vocab), bidirectional)
        optimizer = optim.Adam(model.parameters(), lr=1e-2)
        losses = []
        for _ in range(steps):
            idx = rng.integers(0, len(x_train), 32)
            logits = model(gg.tensor(x_train[idx]))
            loss = F.cross_entropy(logits.reshape(-1, 2), gg.tensor(tags[idx].reshape(-1)))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        with gg.no_grad():
            predicted = model(gg.tensor(x_test)).numpy().argmax(-1)
        correct = predicted == test_tags
        results[name] = {"losses": losses, "accuracy": float(correct.mean()),
                         "ambiguous_accuracy": float(correct[test_amb].mean())}
        print(f"{name:>14}: loss {losses[0]:.3f} -> {np.mean(losses[-20:]):.3f}; accuracy "
              f"{correct.mean():.1%} on all words, {correct[test_amb].mean():.1%} on the "
              f"ambiguous first names")
        if bidirectional:  # one sentence of each kind, as word/predicted tag
            amb_tag = np.where(test_amb, test_tags, -1).max(1)  # the ambiguous word's tag
            for k in (int(np.argmax(amb_tag == 1)), int(np.argmax(amb_tag == 0))):
                print("   " + " ".join(f"{w}/{p}" for w, p in zip(test_words[k], predicted[k],
                                                                  strict=True)))

    folder = plotting.output_dir(out)
    plotting.plot_curves({k: r["losses"] for k, r in results.items()},
                         folder / "seq_bidirectional.png", xlabel="step",
                         ylabel="cross-entropy", title="Name tagging: 2-layer LSTMs")
    return results


if __name__ == "__main__":
    args = example_args(__doc__)
    main(quick=args.quick, out=args.out)
