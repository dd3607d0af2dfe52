"""GRU vs LSTM (vs a plain RNN) on a long-range dependency (course 5, week 1).

"The cat, which already ate ... , was full": the verb agrees with a subject seen
many words earlier.  The same need, stripped down: each sequence starts with one
of 4 "subject" symbols, followed by random "clause" symbols, and at every step
the network must output the subject.  Early steps are easy; late steps need the
subject carried across the whole clause.

A plain RNN rewrites its whole state at every step, h_t = tanh(W [h_{t-1}, x_t]),
so old information fades and its gradient vanishes over long spans.  The gated
units copy their memory forward unless a gate says otherwise:

    GRU   c_t = G_u * c~_t + (1 - G_u) * c_{t-1}          (update gate G_u; 3 weight blocks)
    LSTM  c_t = G_u * c~_t + G_f * c_{t-1},  a_t = G_o * tanh(c_t)    (4 weight blocks)

With the same hidden size the GRU has 3/4 of the LSTM's recurrent weights and is
cheaper per step.  The script trains all three (same hidden size, Adam, gradient
clipping) and measures accuracy at each distance from the subject on fresh
sequences.  Whether the plain RNN ever learns to carry the subject depends on
the run: the script trains it from several seeds (the gated cells learn it from
every seed tried; the plain RNN, here, from 4 of 6).

Plots: training loss, and accuracy against distance from the subject.

    python examples/seq_gru_vs_lstm.py [--quick] [--out DIR]
"""
from __future__ import annotations

import time

import numpy as np
from common import example_args, plotting

import graphgrad as gg
import graphgrad.nn.functional as F
from graphgrad import nn, optim

SUBJECTS, CLAUSE_WORDS = 4, 8  # ids 0..3 are subjects, 4..11 clause words


def make_batch(n: int, length: int, rng: np.random.Generator):
    """Sequences (n, length): a subject, then clause words; the target at every step is
    the subject."""
    x = rng.integers(SUBJECTS, SUBJECTS + CLAUSE_WORDS, size=(n, length))
    subject = rng.integers(0, SUBJECTS, size=n)
    x[:, 0] = subject
    return x, np.repeat(subject[:, None], length, axis=1)


class Tagger(nn.Module):
    """Embedding -> recurrent layer (RNN, GRU or LSTM) -> Linear at every step."""

    def __init__(self, kind: str, hidden: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(SUBJECTS + CLAUSE_WORDS, 8)
        self.rnn = {"RNN": nn.RNN, "GRU": nn.GRU, "LSTM": nn.LSTM}[kind](8, hidden,
                                                                        batch_first=True)
        self.head = nn.Linear(hidden, SUBJECTS)

    def forward(self, x):
        out, _ = self.rnn(self.embed(x))
        return self.head(out)


def train(kind: str, length: int, steps: int, hidden: int = 32, seed: int = 0) -> dict:
    gg.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = Tagger(kind, hidden)
    optimizer = optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    start = time.perf_counter()
    for _ in range(steps):
        x, y = make_batch(32, length, rng)
        logits = model(gg.tensor(x))
        loss = F.cross_entropy(logits.reshape(-1, SUBJECTS), gg.tensor(y.reshape(-1)))
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(loss.item())
    seconds = time.perf_counter() - start
    x, y = make_batch(500, length, np.random.default_rng(1000))  # fresh test sequences
    with gg.no_grad():
        correct = model(gg.tensor(x)).numpy().argmax(-1) == y
    by_distance = correct.mean(axis=0)
    return {"losses": losses, "accuracy_by_distance": by_distance.tolist(),
            "accuracy_last": float(by_distance[-1]), "seconds": seconds,
            "recurrent_parameters": sum(p.numel() for p in model.rnn.parameters()),
            "model": model}


def main(quick: bool = False, out=None) -> dict:
    length, steps = (30, 150) if quick else (100, 400)
    rnn_seeds = range(1) if quick else range(6)
    print(f"sequences of {length} steps; the subject must be recalled at every step")
    results = {}
    for kind in ("RNN", "GRU", "LSTM"):
        r = train(kind, length, steps)
        del r["model"]
        results[kind] = r
        print(f"{kind:>4}: {r['recurrent_parameters']:5d} recurrent parameters, "
              f"{1000 * r['seconds'] / steps:4.0f} ms/step, loss {r['losses'][0]:.3f} -> "
              f"{np.mean(r['losses'][-10:]):.3f}, accuracy at distance 1: "
              f"{r['accuracy_by_distance'][1]:.0%}, at distance {length - 1}: "
              f"{r['accuracy_last']:.0%}")
    rnn = results["RNN"]
    rnn["accuracy_last_by_seed"] = [rnn["accuracy_last"]] + [
        train("RNN", length, steps, seed=seed)["accuracy_last"] for seed in rnn_seeds[1:]]
    recalled = sum(a >= 0.95 for a in rnn["accuracy_last_by_seed"])
    print(f" RNN from {len(rnn_seeds)} seeds: recalls the subject at distance {length - 1} in "
          f"{recalled} runs (accuracy "
          + ", ".join(f"{a:.0%}" for a in rnn["accuracy_last_by_seed"]) + ")")

    folder = plotting.output_dir(out)
    plotting.plot_curves({k: r["losses"] for k, r in results.items()},
                         folder / "seq_gru_vs_lstm_loss.png", xlabel="step",
                         ylabel="cross-entropy", logy=True,
                         title="Recall the subject: training loss")
    plotting.plot_curves({k: r["accuracy_by_distance"] for k, r in results.items()},
                         folder / "seq_gru_vs_lstm_memory.png",
                         xlabel="distance from the subject (steps)", ylabel="accuracy",
                         title="How far back can each cell remember?")
    return results


if __name__ == "__main__":
    args = example_args(__doc__)
    main(quick=args.quick, out=args.out)
