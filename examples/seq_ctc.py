"""Connectionist temporal classification: transcribing without an alignment (course 5, week 3).

In speech recognition the audio has many more frames than the transcript has
letters, and nobody marks which frames say which letter.  CTC lets the network
output one symbol per frame, including a "blank", and maps a frame sequence to
a transcript by merging repeated symbols and then removing blanks:
"ttt_h_eee___" -> "the".  The loss is -log of the total probability of all frame
sequences that map to the right transcript (``nn.CTCLoss``, a dynamic programme
over the alignments), so training needs only (input, transcript) pairs.

The toy "speech": each of 5 phonemes is a random 8-dimensional prototype; an
utterance of 2 to 5 phonemes becomes a sequence of frames in which each phoneme
lasts 2 to 4 frames, with silence frames (all zeros) here and there (always
between two equal phonemes), plus Gaussian noise.  A bidirectional GRU reads
the frames and outputs log-probabilities over blank + 5 phonemes per frame.
Decoding takes the best symbol per frame and collapses it (best-path decoding).
Scores: exact transcripts, and the label error rate (edit distance / length).

Plot: the per-frame probabilities of one test utterance: CTC's "spikes", one
short peak per phoneme with blank in between.

    python examples/seq_ctc.py [--quick] [--out DIR]
"""
from __future__ import annotations

import numpy as np
from common import example_args, plotting
from common.image_plots import pyplot, save
from common.sequences import ctc_collapse, edit_distance, pad_batch

import graphgrad as gg
from graphgrad import nn, optim

PHONEMES, FEATURES, BLANK = 5, 8, 0


def make_utterances(n: int, prototypes: np.ndarray, rng: np.random.Generator,
                    noise: float = 0.5):
    """Frames (n, T_max, FEATURES) padded with zeros, frame counts (n,), transcripts
    (n, 5) padded with 0 and their lengths (n,); labels are 1..PHONEMES."""
    frames, transcripts = [], []
    for _ in range(n):
        labels = rng.integers(1, PHONEMES + 1, size=rng.integers(2, 6))
        seq = []
        for k, label in enumerate(labels):
            if rng.random() < 0.3 or (k and labels[k - 1] == label):
                seq += [np.zeros(FEATURES)] * int(rng.integers(1, 3))  # silence
            seq += [prototypes[label - 1]] * int(rng.integers(2, 5))
        seq = np.array(seq) + noise * rng.standard_normal((len(seq), FEATURES))
        frames.append(seq)
        transcripts.append(labels.tolist())
    lengths = np.array([len(f) for f in frames])
    x = np.zeros((n, lengths.max(), FEATURES), dtype=np.float32)
    for i, f in enumerate(frames):
        x[i, :len(f)] = f
    targets, target_lengths = pad_batch(transcripts)
    return x, lengths, targets, target_lengths


class Recognizer(nn.Module):
    """Bidirectional GRU over the frames -> log-probabilities (T, N, 1 + PHONEMES)."""

    def __init__(self, hidden: int = 32) -> None:
        super().__init__()
        self.gru = nn.GRU(FEATURES, hidden, batch_first=True, bidirectional=True)
        self.head = nn.Linear(2 * hidden, 1 + PHONEMES)

    def forward(self, x):
        out, _ = self.gru(x)
        return self.head(out).log_softmax(-1).transpose(0, 1)  # CTCLoss wants (T, N, C)


def decode(log_probs: np.ndarray, lengths: np.ndarray) -> list[list[int]]:
    """Best-path decoding: argmax per frame, then merge repeats and drop blanks."""
    best = log_probs.argmax(-1).T  # (N, T)
    return [ctc_collapse(row[:n], BLANK) for row, n in zip(best, lengths, strict=True)]


def evaluate(model, data) -> dict:
    x, lengths, targets, target_lengths = data
    with gg.no_grad():
        log_probs = model(gg.tensor(x)).numpy()
    hyps = decode(log_probs, lengths)
    refs = [t[:n].tolist() for t, n in zip(targets, target_lengths, strict=True)]
    errors = sum(edit_distance(h, r) for h, r in zip(hyps, refs, strict=True))
    return {"exact": float(np.mean([h == r for h, r in zip(hyps, refs, strict=True)])),
            "label_error_rate": errors / int(target_lengths.sum()), "log_probs": log_probs,
            "hyps": hyps, "refs": refs}


def plot_posteriors(log_probs: np.ndarray, length: int, title: str, path):
    plt = pyplot()
    if plt is None:
        return None
    probs = np.exp(log_probs[:length])
    fig, ax = plt.subplots(figsize=(7, 3))
    for c in range(probs.shape[1]):
        ax.plot(probs[:, c], label="blank" if c == BLANK else f"phoneme {c}",
                ls="--" if c == BLANK else "-", color="gray" if c == BLANK else None)
    ax.set(xlabel="frame", ylabel="probability", title=title)
    ax.legend(fontsize=7, ncol=3)
    return save(plt, fig, path)


def main(quick: bool = False, out=None) -> dict:
    gg.manual_seed(0)
    rng = np.random.default_rng(0)
    prototypes = rng.standard_normal((PHONEMES, FEATURES))
    train = make_utterances(2000, prototypes, rng)
    test = make_utterances(300, prototypes, rng)
    model = Recognizer()
    ctc = nn.CTCLoss(blank=BLANK)
    optimizer = optim.Adam(model.parameters(), lr=1e-2)
    steps = 120 if quick else 600
    losses = []
    for step in range(steps):
        idx = rng.integers(0, len(train[0]), 32)
        x, lengths, targets, target_lengths = (a[idx] for a in train)
        x = x[:, :lengths.max()]
        loss = ctc(model(gg.tensor(x)), targets, lengths, target_lengths)
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(loss.item())
        if step % 100 == 0 or step == steps - 1:
            print(f"step {step:4d}  CTC loss {loss.item():.3f}")

    r = evaluate(model, test)
    print(f"test: {r['exact']:.1%} transcripts exact, label error rate "
          f"{r['label_error_rate']:.1%}")
    for h, ref in list(zip(r["hyps"], r["refs"], strict=True))[:4]:
        print(f"   {ref} -> {h}")
    k = int(np.argmax(test[3] >= 4))  # a longer utterance
    plot_posteriors(r["log_probs"][:, k], int(test[1][k]), f"CTC output for {r['refs'][k]}",
                    plotting.output_dir(out) / "seq_ctc.png")
    return {"losses": losses, "exact": r["exact"], "label_error_rate": r["label_error_rate"]}


if __name__ == "__main__":
    args = example_args(__doc__)
    main(quick=args.quick, out=args.out)
