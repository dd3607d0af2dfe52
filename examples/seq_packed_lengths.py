"""Sequences of different lengths in one batch: padding, and packing it away.

A batch of sequences of unequal lengths is padded to the longest one.  An LSTM
run over the padded batch also reads the padding: the state after step T_max is
what the last real token left behind, carried through up to T_max - length pad
steps.  ``nn.utils.rnn.pack_padded_sequence`` removes the padding instead: the
LSTM advances each sequence only for its own steps, and h_n holds each
sequence's state right after its last real token.

Task: sequences of 3 to 20 tokens (1..8; 0 is the padding); the label is the
LAST real token.  Two identical models (Embedding -> LSTM -> Linear on h_n) are
trained on the same padded batches, one fed the padded tensor, one its packed
form.  The packed model has the answer in its last input; the padded one must
learn to hold it through the padding.

    python examples/seq_packed_lengths.py [--quick] [--out DIR]
"""
from __future__ import annotations

import numpy as np
from common import example_args, plotting

import graphgrad as gg
import graphgrad.nn.functional as F
from graphgrad import nn, optim
from graphgrad.nn.utils.rnn import pack_padded_sequence

TOKENS = 8
MIN_LENGTH, MAX_LENGTH = 3, 20


def make_batch(n: int, rng: np.random.Generator):
    """(padded tokens (n, MAX_LENGTH) with 0 after each sequence, lengths, last tokens)."""
    lengths = rng.integers(MIN_LENGTH, MAX_LENGTH + 1, n)
    tokens = rng.integers(1, TOKENS + 1, (n, MAX_LENGTH))
    tokens[np.arange(MAX_LENGTH)[None, :] >= lengths[:, None]] = 0
    return tokens, lengths, tokens[np.arange(n), lengths - 1] - 1


class LastToken(nn.Module):
    """Embedding -> LSTM -> Linear on the final hidden state; ``packed`` chooses whether
    the LSTM sees the padded batch or its packed form."""

    def __init__(self, packed: bool, hidden: int = 24) -> None:
        super().__init__()
        self.packed = packed
        self.embed = nn.Embedding(TOKENS + 1, 8, padding_idx=0)
        self.lstm = nn.LSTM(8, hidden, batch_first=True)
        self.head = nn.Linear(hidden, TOKENS)

    def forward(self, tokens, lengths):
        x = self.embed(tokens)
        if self.packed:  # lengths in any order: the packing sorts and unsorts
            x = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        _, (h_n, _) = self.lstm(x)
        return self.head(h_n[-1])


def steps_until(losses: list, level: float, window: int = 20) -> int | None:
    """The first step at which the mean of the last ``window`` losses is below ``level``."""
    means = np.convolve(losses, np.ones(window) / window, mode="valid")
    below = np.flatnonzero(means < level)
    return int(below[0]) + window if below.size else None


def main(quick: bool = False, out=None) -> dict:
    steps = 100 if quick else 600
    test_tokens, test_lengths, test_labels = make_batch(500, np.random.default_rng(1))
    results = {}
    for name, packed in (("padded", False), ("packed", True)):
        gg.manual_seed(0)
        rng = np.random.default_rng(0)  # the same batches for both models
        model = LastToken(packed)
        optimizer = optim.Adam(model.parameters(), lr=1e-2)
        losses = []
        for _ in range(steps):
            tokens, lengths, labels = make_batch(32, rng)
            loss = F.cross_entropy(model(gg.tensor(tokens), gg.tensor(lengths)),
                                   gg.tensor(labels))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        with gg.no_grad():
            predicted = model(gg.tensor(test_tokens), gg.tensor(test_lengths)).numpy()
        accuracy = float((predicted.argmax(1) == test_labels).mean())
        results[name] = {"losses": losses, "accuracy": accuracy,
                         "steps_to_0.1": steps_until(losses, 0.1)}
        print(f"{name:>6}: loss {losses[0]:.3f} -> {np.mean(losses[-20:]):.3f} (below 0.1 after "
              f"{results[name]['steps_to_0.1']} steps); accuracy on the last token "
              f"{accuracy:.1%} (chance {1 / TOKENS:.1%})")
    plotting.plot_curves({k: r["losses"] for k, r in results.items()},
                         plotting.output_dir(out) / "seq_packed_lengths.png", xlabel="step",
                         ylabel="cross-entropy", title="Last token of a padded sequence")
    return results


if __name__ == "__main__":
    args = example_args(__doc__)
    main(quick=args.quick, out=args.out)
