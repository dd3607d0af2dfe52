"""Training steps of small real models, graphgrad beside PyTorch, one thread each.

    python benchmarks/bench_small_models.py [--models gpt64 lstm32 ...] [--repeat 15]
                                            [--wall] [--profile MODEL] [--tiny]

The models (``_small_models.py``: a char-level GPT with exact or tanh GELU, word-level
LSTM and GRU language models, a DCGAN step at 64x64, PyTorch's MNIST CNN, a
micrograd-size MLP) are written once against a ``torch``-like module and run in
both libraries (``import graphgrad as torch`` works), from the same weights (copied
from graphgrad's model into PyTorch's) and the same data.  Both libraries run on
one thread (``set_num_threads(1)``: PyTorch's intra-op threads, graphgrad's BLAS).

Before timing, each model is built once more without dropout in both libraries and
its first training loss compared: the "step-0 loss" column shows the largest
relative difference (float32 rounding).  Times are medians of interleaved steps,
in CPU seconds of the process (steadier than wall time on a shared machine, and
the same thing for single-threaded runs; ``--wall`` for wall time); the ratio is
graphgrad's median over PyTorch's, measured in the same run.

``--profile MODEL`` instead times graphgrad's step per primitive op
(``profile_ops.report``).
"""
from __future__ import annotations

import argparse
import time

import _small_models as sm
from _harness import interleaved_medians, load_torch, machine, print_table

import graphgrad as gg


def pair(name: str, torch, tiny: bool = False, dropout: bool = True) -> dict:
    """{"graphgrad": step, "torch": step} of one model from the same weights and data
    (only graphgrad's when ``torch`` is None); ``dropout=False`` sets every dropout to 0."""
    cfg = sm.config(name, tiny)
    if not dropout and "dropout" in cfg:
        cfg["dropout"] = (0.0, 0.0) if isinstance(cfg["dropout"], tuple) else 0.0
    arrays = sm.data(cfg)
    gg.manual_seed(0)
    model, step = sm.build(gg, cfg, arrays)
    steps = {"graphgrad": step}
    if torch is not None:
        their_model, their_step = sm.build(torch, cfg, arrays)
        sm.load_state(torch, their_model, sm.states(model))
        steps["torch"] = their_step
    return steps


def first_losses(name: str, torch, tiny: bool = False, steps: int = 1) -> list:
    """[(graphgrad's loss, PyTorch's loss)] of the first ``steps`` steps, without dropout."""
    fns = pair(name, torch, tiny, dropout=False)
    return [(fns["graphgrad"](), fns["torch"]()) for _ in range(steps)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=list(sm.MODELS), choices=list(sm.MODELS))
    parser.add_argument("--repeat", type=int, default=15, help="timed steps of each library")
    parser.add_argument("--wall", action="store_true", help="wall time instead of CPU time")
    parser.add_argument("--tiny", action="store_true", help="the models at the tests' tiny size")
    parser.add_argument("--profile", choices=list(sm.MODELS),
                        help="instead of comparing, time graphgrad's step of MODEL per op")
    args = parser.parse_args()
    gg.set_num_threads(1)
    torch = load_torch(threads=1)
    if args.profile:
        import profile_ops

        profile_ops.report(pair(args.profile, None, args.tiny)["graphgrad"], args.profile)
        return
    print(machine() + (f", torch {torch.__version__}" if torch else ", no torch")
          + ", one thread each")
    rows = []
    for name in args.models:
        if torch is not None:
            error = max(abs(a - b) / abs(b) for a, b in first_losses(name, torch, args.tiny))
        steps = pair(name, torch, args.tiny)
        times = interleaved_medians(steps, repeat=args.repeat, settle=1, pause=0.1,
                                    clock=time.perf_counter if args.wall else time.process_time)
        ms = {k: 1e3 * t for k, t in times.items()}
        rows.append([name, ms["graphgrad"], ms.get("torch"),
                     ms["graphgrad"] / ms["torch"] if torch else None,
                     f"{error:.1e}" if torch else None])
    print_table(f"One training step ({'wall' if args.wall else 'CPU'} ms), median of "
                f"{args.repeat} interleaved steps",
                ["model", "graphgrad", "torch", "ratio", "step-0 loss rel. diff"], rows)


if __name__ == "__main__":
    main()
