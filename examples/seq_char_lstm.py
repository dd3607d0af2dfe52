"""A character-level language model: an LSTM that writes Python documentation (course 5, week 1).

The model reads a text one character at a time and, after each one, predicts the
next:  P(x_{t+1} | x_1 .. x_t) = softmax(W_y a_t + b_y), with a_t the hidden state
of an LSTM over the embedded characters.  Training minimises the cross-entropy
of those predictions over random 64-character windows of the text (truncated
backpropagation through time), with Adam and gradient clipping: before each
step the gradients are rescaled so that their joint norm is at most 0.5
(``nn.utils.clip_grad_norm_``), which keeps the occasional exploding gradient of
a recurrent network (here, the spikes of the first steps) from throwing the
weights far away.  The script counts how often the clip was active.

The text is the help text of the standard library's pydoc topics (part of every
Python, about 460 KB of English prose and code; see
``common.sequences.load_pydoc_text``); the 20,000 characters after the first
90% are held out.  Quality is the per-character perplexity exp(cross-entropy)
on that held-out text, beside two baselines: guessing uniformly (perplexity =
vocabulary size) and the character frequencies alone (a unigram model).  Then the model writes: it
samples one character at a time from its own predictions (divided by a
temperature: low is conservative, high is adventurous) and feeds it back in.

Plot: training loss and gradient norm before clipping.

    python examples/seq_char_lstm.py [--quick] [--out DIR]
"""
from __future__ import annotations

import time

import numpy as np
from common import example_args, plotting
from common.sequences import Vocab, load_pydoc_text

import graphgrad as gg
import graphgrad.nn.functional as F
from graphgrad import nn, optim


class CharLSTM(nn.Module):
    """Embedding -> LSTM -> Linear: next-character logits at every step."""

    def __init__(self, vocab_size: int, embed: int, hidden: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed)
        self.lstm = nn.LSTM(embed, hidden, batch_first=True)
        self.head = nn.Linear(hidden, vocab_size)

    def forward(self, x, state=None):
        out, state = self.lstm(self.embed(x), state)
        return self.head(out), state


def batches(data: np.ndarray, batch: int, length: int, rng: np.random.Generator):
    """Random windows: inputs x (batch, length) and targets y = x shifted by one."""
    starts = rng.integers(0, len(data) - length - 1, size=batch)
    idx = starts[:, None] + np.arange(length + 1)
    return gg.tensor(data[idx[:, :-1]]), gg.tensor(data[idx[:, 1:]])


def perplexity(model: CharLSTM, data: np.ndarray, length: int = 256) -> float:
    """exp(mean cross-entropy) over ``data`` cut into rows of ``length`` characters."""
    rows = (len(data) - 1) // length
    x = data[:rows * length].reshape(rows, length)
    y = data[1:rows * length + 1].reshape(rows, length)
    model.eval()
    with gg.no_grad():
        logits, _ = model(gg.tensor(x))
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), gg.tensor(y.reshape(-1)))
    model.train()
    return float(np.exp(loss.item()))


def sample(model: CharLSTM, vocab: Vocab, prompt: str, n: int, temperature: float,
           rng: np.random.Generator) -> str:
    """Feed ``prompt``, then draw ``n`` characters one at a time from
    softmax(logits / temperature), each fed back in as the next input."""
    model.eval()
    chars = list(prompt)
    with gg.no_grad():
        logits, state = model(gg.tensor([vocab.encode(prompt)]))
        for _ in range(n):
            p = F.softmax(logits[0, -1] / temperature, dim=-1).numpy().astype(np.float64)
            nxt = int(rng.choice(len(p), p=p / p.sum()))
            chars.append(vocab.itos[nxt])
            logits, state = model(gg.tensor([[nxt]]), state)
    model.train()
    return "".join(chars)


def main(quick: bool = False, out=None) -> dict:
    gg.manual_seed(0)
    rng = np.random.default_rng(0)
    text = load_pydoc_text()
    if quick:
        text = text[:40_000]
    # Characters seen fewer than 20 times (accents, symbols) share one "unknown" id.
    vocab = Vocab(text, unk="\x00", min_freq=20)
    data = np.array(vocab.encode(text), dtype=np.int64)
    split = int(0.9 * len(data))
    train, dev = data[:split], data[split:split + 20_000]
    freq = (np.bincount(train, minlength=len(vocab)) + 1) / (len(train) + len(vocab))
    unigram = float(np.exp(-np.log(freq[dev]).mean()))  # the frequencies' held-out perplexity
    print(f"text: {len(text):,} characters, vocabulary {len(vocab)}; perplexity of a uniform "
          f"guess {len(vocab)}, of character frequencies {unigram:.1f}")

    steps, batch, length, hidden = (150, 16, 32, 64) if quick else (1200, 32, 64, 128)
    model = CharLSTM(len(vocab), 32, hidden)
    optimizer = optim.Adam(model.parameters(), lr=1e-2 if quick else 5e-3)
    scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    max_norm = 0.5
    losses, norms = [], []
    start = time.perf_counter()
    for step in range(steps):
        x, y = batches(train, batch, length, rng)
        logits, _ = model(x)
        loss = F.cross_entropy(logits.reshape(-1, len(vocab)), y.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        norms.append(nn.utils.clip_grad_norm_(model.parameters(), max_norm).item())
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
        if step % 200 == 0 or step == steps - 1:
            print(f"step {step:4d}  loss {loss.item():.3f}  grad norm {norms[-1]:.2f}")
    seconds = time.perf_counter() - start
    clipped = float(np.mean(np.array(norms) > max_norm))
    dev_ppl = perplexity(model, dev)
    print(f"{seconds:.0f} s; gradient clipped on {clipped:.0%} of the steps")
    print(f"held-out perplexity {dev_ppl:.2f} (uniform {len(vocab)}, unigram {unigram:.1f})")

    samples = {}
    for temperature in (0.5, 1.0):
        samples[temperature] = sample(model, vocab, "The ", 120 if quick else 300, temperature,
                                      rng)
        print(f"\n--- sample at temperature {temperature} ---\n{samples[temperature]}")

    folder = plotting.output_dir(out)
    plotting.plot_curves({"training loss (nats/char)": losses,
                          "gradient norm before clipping": norms},
                         folder / "seq_char_lstm.png", xlabel="step", ylabel="",
                         title="Character LSTM on pydoc topics")
    return {"losses": losses, "grad_norms": norms, "clipped_fraction": clipped,
            "dev_perplexity": dev_ppl, "unigram_perplexity": unigram,
            "vocab_size": len(vocab), "samples": samples, "seconds": seconds}


if __name__ == "__main__":
    args = example_args(__doc__)
    main(quick=args.quick, out=args.out)
