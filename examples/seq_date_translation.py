"""Neural machine translation with attention: human-written dates to ISO dates (course 5, week 3).

"tuesday, may 3, 1979", "03.05.79" and "3 may 1979" all translate to
"1979-05-03".  An encoder-decoder reads the input characters with a
bidirectional LSTM (annotations a_1 .. a_Tx) and writes the output one character
at a time with an LSTM cell.  Before each output step t, attention decides which
input characters matter (Bahdanau et al., 2015):

    e_{t,t'} = v . tanh(W s_{t-1} + U a_{t'})       (a small network; one score per input)
    alpha_{t,t'} = softmax_{t'}(e_{t,t'})             (attention weights, summing to 1)
    context_t = sum_{t'} alpha_{t,t'} a_{t'}

and the decoder cell reads [previous output character, context_t].  Training
feeds the true previous character (teacher forcing) and minimises the
cross-entropy of each output character.

Decoding a test date: greedy (the most likely character at each step) and beam
search (``common.sequences.beam_search``: keep the 3 most likely partial outputs,
rank finished ones by log-probability / length**0.7, the course's length
normalisation).  Scores: exact-match accuracy and character-level corpus BLEU.
The dates are generated with Python's ``datetime`` in 9 formats, 1950 to 2049
(two-digit years: 50-99 are 19xx, 00-49 are 20xx).

Plots: training loss, and the attention weights of one translation (which input
characters each output character looked at).

    python examples/seq_date_translation.py [--quick] [--out DIR]
"""
from __future__ import annotations

import datetime as dt

import numpy as np
from common import example_args, plotting
from common.image_plots import pyplot, save
from common.sequences import Vocab, beam_search, corpus_bleu, pad_batch

import graphgrad as gg
import graphgrad.nn.functional as F
from graphgrad import nn, optim

MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august",
          "september", "october", "november", "december"]
DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
FORMATS = [
    lambda d: f"{d.day} {MONTHS[d.month - 1]} {d.year}",              # 3 may 1979
    lambda d: f"{d.day:02d} {MONTHS[d.month - 1][:3]} {d.year}",      # 03 may 1979
    lambda d: f"{MONTHS[d.month - 1]} {d.day}, {d.year}",             # may 3, 1979
    lambda d: f"{DAYS[d.weekday()]}, {MONTHS[d.month - 1]} {d.day}, {d.year}",
    lambda d: f"{d.day:02d}.{d.month:02d}.{d.year % 100:02d}",        # 03.05.79
    lambda d: f"{d.month}/{d.day}/{d.year % 100:02d}",                # 5/3/79
    lambda d: f"{d.day} {MONTHS[d.month - 1][:3]}, {d.year}",         # 3 may, 1979
    lambda d: f"{DAYS[d.weekday()][:3]} {d.day} {MONTHS[d.month - 1][:3]} {d.year}",
    lambda d: f"{d.year}/{d.month}/{d.day}",                          # 1979/5/3
]
PAD, BOS, EOS = "<pad>", "<s>", "</s>"


def make_dates(n: int, rng: np.random.Generator) -> list[tuple[str, str]]:
    """``n`` (human, ISO) pairs: a uniform day of 1950-2049 in a random format."""
    first, days = dt.date(1950, 1, 1), (dt.date(2050, 1, 1) - dt.date(1950, 1, 1)).days
    pairs = []
    for _ in range(n):
        day = first + dt.timedelta(days=int(rng.integers(days)))
        pairs.append((FORMATS[rng.integers(len(FORMATS))](day), day.isoformat()))
    return pairs


class Translator(nn.Module):
    """Bidirectional LSTM encoder, additive attention, LSTM-cell decoder."""

    def __init__(self, in_vocab: int, out_vocab: int, enc: int = 32, dec: int = 64,
                 embed: int = 16, att: int = 32) -> None:
        super().__init__()
        self.src_embed = nn.Embedding(in_vocab, embed, padding_idx=0)
        self.encoder = nn.LSTM(embed, enc, batch_first=True, bidirectional=True)
        self.tgt_embed = nn.Embedding(out_vocab, embed)
        self.W = nn.Linear(dec, att, bias=False)
        self.U = nn.Linear(2 * enc, att)
        self.v = nn.Linear(att, 1, bias=False)
        self.cell = nn.LSTMCell(embed + 2 * enc, dec)
        self.out = nn.Linear(dec + 2 * enc, out_vocab)
        self.dec = dec

    def encode(self, x: np.ndarray) -> dict:
        """The decoder's starting state: annotations a (B, Tx, 2 enc), U a, the padding
        mask as an additive bias, and zero (s, c)."""
        a, _ = self.encoder(self.src_embed(gg.tensor(x)))
        zeros = gg.zeros((len(x), self.dec))
        return {"a": a, "Ua": self.U(a), "mask": gg.tensor(np.where(x == 0, -1e9, 0.0)
                                                           .astype(np.float32)),
                "s": zeros, "c": zeros}

    def step(self, y_prev, state: dict):
        """One output step: (logits (B, V), attention weights (B, Tx), next state)."""
        energy = self.v(gg.tanh(self.W(state["s"]).unsqueeze(1) + state["Ua"])).squeeze(-1)
        alpha = F.softmax(energy + state["mask"], dim=-1)  # (B, Tx)
        context = (alpha.unsqueeze(-1) * state["a"]).sum(1)  # (B, 2 enc)
        s, c = self.cell(gg.cat([self.tgt_embed(y_prev), context], -1),
                         (state["s"], state["c"]))
        logits = self.out(gg.cat([s, context], -1))
        return logits, alpha, {**state, "s": s, "c": c}

    def forward(self, x: np.ndarray, y_in: np.ndarray):
        """Teacher forcing: logits (B, Ty, V) for the inputs y_in (B, Ty)."""
        state = self.encode(x)
        logits = []
        for t in range(y_in.shape[1]):
            out, _, state = self.step(gg.tensor(y_in[:, t]), state)
            logits.append(out)
        return gg.stack(logits, 1)


def greedy(model: Translator, x: np.ndarray, bos: int, length: int):
    """Batched greedy decoding: output ids (B, length) and attention (B, length, Tx)."""
    with gg.no_grad():
        state = model.encode(x)
        y = np.full(len(x), bos)
        ids, alphas = [], []
        for _ in range(length):
            logits, alpha, state = model.step(gg.tensor(y), state)
            y = logits.numpy().argmax(-1)
            ids.append(y)
            alphas.append(alpha.numpy())
    return np.stack(ids, 1), np.stack(alphas, 1)


def beam_decode(model: Translator, x: np.ndarray, vocab: Vocab, width: int = 3) -> list[str]:
    """Beam search, one input at a time (the encoder runs once, on the whole batch)."""
    def step(tokens, state):
        logits, _, state = model.step(gg.tensor(tokens), state)
        return F.log_softmax(logits, -1).numpy(), state

    outputs = []
    with gg.no_grad():
        encoded = model.encode(x)
        for i in range(len(x)):
            start = {key: value[i:i + 1] for key, value in encoded.items()}
            best, _ = beam_search(step, start, vocab[BOS], vocab[EOS], beam_width=width,
                                  max_len=12, alpha=0.7)[0]
            outputs.append(vocab.decode(best))
    return outputs


def plot_attention(alpha: np.ndarray, source: str, target: str, path):
    plt = pyplot()
    if plt is None:
        return None
    fig, ax = plt.subplots(figsize=(0.3 * len(source) + 1.5, 4))
    ax.imshow(alpha[:len(target), :len(source)], cmap="Blues", aspect="auto")
    ax.set_xticks(range(len(source)), list(source.replace(" ", "\u00b7")))  # visible spaces
    ax.set_yticks(range(len(target)), list(target))
    ax.set(xlabel="input", ylabel="output", title="attention weights")
    return save(plt, fig, path)


def main(quick: bool = False, out=None) -> dict:
    gg.manual_seed(0)
    rng = np.random.default_rng(0)
    train, test = make_dates(10_000, rng), make_dates(50 if quick else 500, rng)
    src_vocab = Vocab((c for h, _ in train for c in h), specials=[PAD])
    tgt_vocab = Vocab("0123456789-", specials=[PAD, BOS, EOS])
    encode_src = lambda pairs: pad_batch([src_vocab.encode(h) for h, _ in pairs])[0]
    x_train = encode_src(train)
    y_train = np.array([[tgt_vocab[BOS], *tgt_vocab.encode(iso), tgt_vocab[EOS]]
                        for _, iso in train])
    print(f"e.g. {train[0][0]!r} -> {train[0][1]!r}; input vocabulary {len(src_vocab)}, "
          f"inputs up to {x_train.shape[1]} characters")

    model = Translator(len(src_vocab), len(tgt_vocab))
    steps = 100 if quick else 600
    optimizer = optim.Adam(model.parameters(), lr=1e-2 if quick else 5e-3)
    scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    losses = []
    for step in range(steps):
        idx = rng.integers(0, len(train), 64)
        xb = x_train[idx][:, :int((x_train[idx] != 0).sum(1).max())]  # trim padding
        logits = model(xb, y_train[idx, :-1])
        loss = F.cross_entropy(logits.reshape(-1, len(tgt_vocab)),
                               gg.tensor(y_train[idx, 1:].reshape(-1)))
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
        if step % 200 == 0 or step == steps - 1:
            print(f"step {step:4d}  loss {loss.item():.4f}")

    model.eval()
    x_test = encode_src(test)
    ids, alphas = greedy(model, x_test, tgt_vocab[BOS], 11)
    greedy_out = [tgt_vocab.decode(row).split(EOS)[0] for row in ids]
    beam_out = beam_decode(model, x_test, tgt_vocab)
    refs = [[list(iso)] for _, iso in test]
    results = {"losses": losses}
    for name, outputs in (("greedy", greedy_out), ("beam", beam_out)):
        results[name] = {"exact": float(np.mean([o == iso for o, (_, iso) in
                                                 zip(outputs, test, strict=True)])),
                         "bleu": corpus_bleu([list(o) for o in outputs], refs)}
        print(f"{name:>6}: exact match {results[name]['exact']:.1%}, character BLEU "
              f"{results[name]['bleu']:.3f}")
    for (human, iso), o in list(zip(test, beam_out, strict=True))[:5]:
        print(f"   {human!r:>32} -> {o}  {'ok' if o == iso else 'want ' + iso}")

    folder = plotting.output_dir(out)
    plotting.plot_curves({"cross-entropy": losses}, folder / "seq_date_translation_loss.png",
                         xlabel="step", ylabel="loss", logy=True, title="Dates to ISO")
    k = next(i for i, (h, _) in enumerate(test) if "," in h)  # a long, worded date
    plot_attention(alphas[k], test[k][0], greedy_out[k], folder / "seq_date_attention.png")
    return results


if __name__ == "__main__":
    args = example_args(__doc__)
    main(quick=args.quick, out=args.out)
