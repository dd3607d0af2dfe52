"""One training step of an LSTM and of a transformer encoder block, beside PyTorch.

    python benchmarks/bench_sequence.py [--repeat 15] [--models lstm transformer scaling]
                                        [--threads 2] [--profile lstm|transformer]

(NumPy's BLAS threads are set by the environment, e.g. OPENBLAS_NUM_THREADS=1 with
``--threads 1`` for a single-threaded comparison on a busy machine.)

(a) lstm: batch 32, sequence 50, input 64, hidden 256, one layer, a linear
    256 -> 64 on every step, cross-entropy over all steps and the batch, Adam;
(b) transformer: one TransformerEncoderLayer, batch 16, sequence 64, d_model 128,
    8 heads, feed-forward 512, dropout 0, MSE to a random target, Adam;
(c) scaling: the LSTM step for sequence lengths 25, 50 and 100 (time per step
    should be flat: the unrolled graph is linear in the length).

PyTorch's ``nn.LSTM`` runs on the CPU as one fused oneDNN kernel for the whole
sequence; the LSTM is therefore also timed, in a second table, against the same
step written by hand in NumPy (``_numpy_reference.lstm_step``: what NumPy allows)
and two PyTorch versions composed of operations as graphgrad's is
(``theirs_composed``).

A step is zero_grad, forward, loss, backward and the Adam update, in float32.
graphgrad and PyTorch eager (CPU, 2 threads) start from the same weights and
batch (the first losses are printed to show they compute the same thing).
Times are medians of interleaved runs; ratios are taken within the run.
"""
from __future__ import annotations

import argparse
import cProfile
import pstats
import warnings

import _numpy_reference as ref
import numpy as np
from _harness import interleaved_medians, load_torch, machine, print_table

import graphgrad as gg
import graphgrad.nn.functional as F
from graphgrad import nn, optim

BATCH, INPUT, HIDDEN, CLASSES = 32, 64, 256, 64
T_BATCH, T_SEQ, D_MODEL, HEADS, FF = 16, 64, 128, 8, 512


def lstm_tagger(torch_nn=nn):
    """An LSTM over the sequence, then a linear classifier on every step (in ``nn`` or
    ``torch.nn``)."""

    class LSTMTagger(torch_nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = torch_nn.LSTM(INPUT, HIDDEN)
            self.head = torch_nn.Linear(HIDDEN, CLASSES)

        def forward(self, x):
            output, _ = self.lstm(x)
            return self.head(output)

    return LSTMTagger()


def _lstm_data(seq: int) -> tuple:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((seq, BATCH, INPUT)).astype(np.float32)
    return x, rng.integers(0, CLASSES, seq * BATCH)


def _transformer_data() -> tuple:
    rng = np.random.default_rng(1)
    shape = (T_BATCH, T_SEQ, D_MODEL)
    return rng.standard_normal(shape).astype(np.float32), \
        rng.standard_normal(shape).astype(np.float32)


def ours(kind: str, seq: int = 50):
    gg.manual_seed(0)
    if kind == "lstm":
        model = lstm_tagger()
        x, y = _lstm_data(seq)
        loss_fn = lambda out, target: F.cross_entropy(out.reshape(-1, CLASSES), target)
    else:
        model = nn.TransformerEncoderLayer(D_MODEL, HEADS, FF, dropout=0.0, batch_first=True)
        x, y = _transformer_data()
        loss_fn = F.mse_loss
    opt = optim.Adam(model.parameters(), lr=1e-3)
    xt, yt = gg.tensor(x), gg.tensor(y)

    def step() -> float:
        opt.zero_grad()
        loss = loss_fn(model(xt), yt)
        loss.backward()
        opt.step()
        return loss.item()

    return model, step


def theirs(torch, kind: str, state: dict, seq: int = 50):
    if kind == "lstm":
        model = lstm_tagger(torch.nn)
        x, y = _lstm_data(seq)
        loss_fn = lambda out, target: torch.nn.functional.cross_entropy(
            out.reshape(-1, CLASSES), target)
    else:
        model = torch.nn.TransformerEncoderLayer(D_MODEL, HEADS, FF, dropout=0.0,
                                                 batch_first=True)
        x, y = _transformer_data()
        loss_fn = torch.nn.functional.mse_loss
    model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in state.items()})
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def step() -> float:
        opt.zero_grad()
        loss = loss_fn(model(xt), yt)
        loss.backward()
        opt.step()
        return loss.item()

    return step


def theirs_composed(torch, state: dict, seq: int = 50) -> dict:
    """PyTorch's LSTM step computed from composed operations, as graphgrad computes it.

    ``nn.LSTM`` on the CPU runs oneDNN's fused LSTM kernel (``mkldnn_rnn_layer`` in
    torch.profiler): the whole sequence, forward and backward, in one C++ call.
    Two composed versions of the same step: "torch, no oneDNN" is ``nn.LSTM`` with
    oneDNN off (ATen's C++ loop of matmuls and pointwise ops, autograd through
    them); "torch LSTMCell loop" is a Python loop over ``nn.LSTMCell`` (eager ops,
    as graphgrad's loop), sharing the weights of the first.
    """
    plain = theirs(torch, "lstm", state, seq)

    def without_onednn() -> float:
        with warnings.catch_warnings():  # torch warns about TF32 on Intel GPUs when the flag flips
            warnings.simplefilter("ignore")
            with torch.backends.mkldnn.flags(enabled=False):
                return plain()

    x, y = _lstm_data(seq)
    cell = torch.nn.LSTMCell(INPUT, HIDDEN)
    head = torch.nn.Linear(HIDDEN, CLASSES)
    weights = {k: torch.from_numpy(v.copy()) for k, v in state.items()}
    cell.load_state_dict({name: weights[f"lstm.{name}_l0"] for name in cell.state_dict()})
    head.load_state_dict({name: weights[f"head.{name}"] for name in head.state_dict()})
    opt = torch.optim.Adam([*cell.parameters(), *head.parameters()], lr=1e-3)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def cell_loop() -> float:
        opt.zero_grad()
        h = c = torch.zeros(BATCH, HIDDEN)
        outputs = []
        for t in range(seq):
            h, c = cell(xt[t], (h, c))
            outputs.append(h)
        logits = head(torch.stack(outputs))
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, CLASSES), yt)
        loss.backward()
        opt.step()
        return loss.item()

    return {"torch, no oneDNN": without_onednn, "torch LSTMCell loop": cell_loop}


_REF_NAMES = {"w_ih": "lstm.weight_ih_l0", "w_hh": "lstm.weight_hh_l0", "b_ih": "lstm.bias_ih_l0",
              "b_hh": "lstm.bias_hh_l0", "w_head": "head.weight", "b_head": "head.bias"}


def numpy_lstm(state: dict, seq: int = 50):
    """The LSTM step written by hand in NumPy (``_numpy_reference.lstm_step``)."""
    params = {short: state[long].copy() for short, long in _REF_NAMES.items()}
    adam = ref.Adam(params)
    x, y = _lstm_data(seq)
    return lambda: ref.lstm_step(params, adam, x, y)


def _state(model: nn.Module) -> dict:
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


def compare(torch, kind: str, repeat: int, seq: int = 50, composed: bool = False) -> dict:
    """{candidate: median ms} for one model, with "first loss" (the candidates' first
    losses); ``composed`` adds the LSTM step by hand in NumPy and ``theirs_composed``'s."""
    model, step = ours(kind, seq)
    steps = {"graphgrad": step}
    if composed:
        steps["NumPy by hand"] = numpy_lstm(_state(model), seq)
    if torch is not None:
        steps["torch"] = theirs(torch, kind, _state(model), seq)
        if composed:
            steps.update(theirs_composed(torch, _state(model), seq))
    first = " / ".join(f"{fn():.5f}" for fn in steps.values())  # also the warm-up
    times = interleaved_medians(steps, repeat=repeat, settle=1, pause=0.3)
    return {"first loss": first, **{name: 1e3 * t for name, t in times.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--models", nargs="+", default=["lstm", "transformer", "scaling"],
                        choices=["lstm", "transformer", "scaling"])
    parser.add_argument("--threads", type=int, default=2, help="PyTorch's CPU threads")
    parser.add_argument("--profile", choices=["lstm", "transformer"],
                        help="instead of timing, cProfile graphgrad's step of this model")
    args = parser.parse_args()
    torch = load_torch(threads=args.threads)
    if args.profile:
        _, step = ours(args.profile)
        for _ in range(3):
            step()
        profile = cProfile.Profile()
        profile.runcall(lambda: [step() for _ in range(5)])
        pstats.Stats(profile).sort_stats("tottime").print_stats(25)
        return
    print(machine() + (f", torch {torch.__version__} ({args.threads} threads)" if torch
                       else ", no torch"))
    rows, lstm = [], None
    for kind in [k for k in args.models if k != "scaling"]:
        ms = compare(torch, kind, args.repeat, composed=kind == "lstm")
        lstm = ms if kind == "lstm" else lstm
        rows.append([kind, ms["graphgrad"], ms.get("torch"),
                     ms["graphgrad"] / ms["torch"] if torch else None, ms["first loss"]])
    if rows:
        print_table(f"One training step with Adam, median of {args.repeat} interleaved runs (ms)",
                    ["model", "graphgrad", "torch", "ratio", "first losses"],
                    rows)
    if lstm is not None:
        print_table("The same LSTM step by hand in NumPy, and PyTorch's: nn.LSTM is one fused "
                    "oneDNN kernel; two composed versions beside it (see theirs_composed)",
                    ["candidate", "ms", "graphgrad / candidate"],
                    [[name, t, lstm["graphgrad"] / t] for name, t in lstm.items()
                     if name != "first loss"])
    if "scaling" in args.models:
        rows = []
        for seq in (25, 50, 100):
            ms = compare(torch, "lstm", max(args.repeat // 2, 5), seq)
            ms_torch = ms.get("torch")
            rows.append([seq, ms["graphgrad"], ms["graphgrad"] / seq, ms_torch,
                         ms_torch / seq if ms_torch else None,
                         ms["graphgrad"] / ms_torch if ms_torch else None])
        print_table("LSTM step against sequence length (ms; per step should stay flat)",
                    ["seq", "graphgrad", "per step", "torch", "torch per step", "ratio"], rows)


if __name__ == "__main__":
    main()
