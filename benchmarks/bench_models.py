"""One training step of two small models, beside PyTorch and hand-written NumPy.

    python benchmarks/bench_models.py [--repeat 6] [--models mlp cnn] [--profile cnn]

(a) MLP 784-512-512-10 (ReLU), batch 128, softmax cross-entropy;
(b) CNN on 1x28x28, batch 64: conv 1->32 3x3 pad 1, ReLU, maxpool 2, conv 32->64
    3x3 pad 1, ReLU, maxpool 2, linear 3136->128, ReLU, linear 128->10.

A step is forward, loss, backward and a plain SGD update (lr 0.01), in float32.
Each model runs in graphgrad (nn + optim.SGD), in PyTorch eager on the CPU with
2 threads (skipped when torch is missing) and in hand-written NumPy
(``_numpy_reference.py``), all from the same initial weights and batch (the
first-step losses are printed to show they compute the same thing).  Times are
medians over rounds that take turns (a few steps of each implementation per
round, after two untimed ones that let the previous library's spinning threads
go to sleep); ratios are taken within the run.
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import time

import _numpy_reference as ref
import numpy as np
from _harness import interleaved_medians, load_torch, machine, print_table

import graphgrad as gg
import graphgrad.nn.functional as F
from graphgrad import nn, optim

LR = 0.01


def build(kind: str) -> nn.Module:
    if kind == "mlp":
        return nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                             nn.Linear(512, 10))
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10),
    )


def batch(kind: str) -> tuple:
    rng = np.random.default_rng(0)
    shape = (128, 784) if kind == "mlp" else (64, 1, 28, 28)
    return rng.standard_normal(shape).astype(np.float32), rng.integers(0, 10, shape[0])


def ours(kind: str, state: dict, x: np.ndarray, y: np.ndarray):
    model = build(kind)
    model.load_state_dict(state)
    opt = optim.SGD(model.parameters(), lr=LR)
    xt, yt = gg.tensor(x), gg.tensor(y)

    def step() -> float:
        opt.zero_grad()
        loss = F.cross_entropy(model(xt), yt)
        loss.backward()
        opt.step()
        return loss.item()

    return step


def theirs(torch, kind: str, state: dict, x: np.ndarray, y: np.ndarray):
    tnn = torch.nn
    if kind == "mlp":
        model = tnn.Sequential(tnn.Linear(784, 512), tnn.ReLU(), tnn.Linear(512, 512),
                               tnn.ReLU(), tnn.Linear(512, 10))
    else:
        model = tnn.Sequential(
            tnn.Conv2d(1, 32, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2),
            tnn.Conv2d(32, 64, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2),
            tnn.Flatten(), tnn.Linear(3136, 128), tnn.ReLU(), tnn.Linear(128, 10),
        )
    model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in state.items()})
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def step() -> float:
        opt.zero_grad()
        loss = tnn.functional.cross_entropy(model(xt), yt)
        loss.backward()
        opt.step()
        return loss.item()

    return step


_REF_NAMES = {
    "mlp": {"w1": "0.weight", "b1": "0.bias", "w2": "2.weight", "b2": "2.bias",
            "w3": "4.weight", "b3": "4.bias"},
    "cnn": {"c1w": "0.weight", "c1b": "0.bias", "c2w": "3.weight", "c2b": "3.bias",
            "l1w": "7.weight", "l1b": "7.bias", "l2w": "9.weight", "l2b": "9.bias"},
}


def numpy_step(kind: str, state: dict, x: np.ndarray, y: np.ndarray):
    params = {short: state[long].copy() for short, long in _REF_NAMES[kind].items()}
    fn = ref.mlp_step if kind == "mlp" else ref.cnn_step
    return lambda: fn(params, x, y, LR)


def mlp_matmuls(state: dict, x: np.ndarray, torch=None):
    """The eight matrix products of an MLP step alone (three forward, three weight
    gradients, two input gradients), in NumPy, or in PyTorch when ``torch`` is given:
    how fast each library's BLAS is on these shapes, before any autograd work."""
    weights = [state[f"{i}.weight"] for i in (0, 2, 4)]
    rng = np.random.default_rng(1)
    acts = [x] + [rng.standard_normal((x.shape[0], w.shape[0])).astype(np.float32)
                  for w in weights]  # the layers' outputs (their gradients have these shapes too)
    if torch is not None:
        weights, acts = [[torch.from_numpy(a) for a in arrays] for arrays in (weights, acts)]

    def products() -> None:
        for w, a_in, a_out in zip(weights, acts[:-1], acts[1:], strict=True):
            a_in @ w.T  # forward
            a_out.T @ a_in  # weight gradient
        for w, g in zip(weights[1:], acts[2:], strict=True):
            g @ w  # input gradient (not for the first layer: x needs none)

    return products


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=6, help="rounds of 5 timed steps each")
    parser.add_argument("--models", nargs="+", default=["mlp", "cnn"], choices=["mlp", "cnn"])
    parser.add_argument("--threads", type=int, default=2,
                        help="PyTorch's threads (set OPENBLAS_NUM_THREADS to match for NumPy)")
    parser.add_argument("--cpu-time", action="store_true",
                        help="time CPU seconds, not wall time (for --threads 1 on a busy machine)")
    parser.add_argument("--profile", choices=["mlp", "cnn"],
                        help="instead of timing, cProfile graphgrad's step of this model")
    args = parser.parse_args()
    torch = load_torch(threads=args.threads)
    gg.manual_seed(0)
    if args.profile:
        x, y = batch(args.profile)
        step = ours(args.profile, {k: v.numpy().copy() for k, v in
                                   build(args.profile).state_dict().items()}, x, y)
        for _ in range(3):
            step()
        profile = cProfile.Profile(time.process_time if args.cpu_time else time.perf_counter)
        profile.runcall(lambda: [step() for _ in range(10)])
        pstats.Stats(profile).sort_stats("tottime").print_stats(20)
        return
    blas_threads = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    print(machine() + (f", torch {torch.__version__} ({args.threads} threads)" if torch else
                       ", no torch") + f", OPENBLAS_NUM_THREADS={blas_threads}")
    rows = []
    for kind in args.models:
        x, y = batch(kind)
        state = {k: v.numpy().copy() for k, v in build(kind).state_dict().items()}
        steps = {"graphgrad": ours(kind, state, x, y), "numpy": numpy_step(kind, state, x, y)}
        if torch is not None:
            steps["torch"] = theirs(torch, kind, state, x, y)
        first = {name: fn() for name, fn in steps.items()}  # also the warm-up
        times = interleaved_medians(steps, repeat=args.repeat, block=5, settle=2, pause=0.3,
                                    clock=time.process_time if args.cpu_time else time.perf_counter)
        ms = {name: 1e3 * t for name, t in times.items()}
        if kind == "mlp":
            blas = {"numpy": mlp_matmuls(state, x)}
            if torch is not None:
                blas["torch"] = mlp_matmuls(state, x, torch)
            blas_ms = {name: 1e3 * t for name, t in interleaved_medians(
                blas, repeat=args.repeat, block=5, settle=2, pause=0.3).items()}
        rows.append([
            kind, ms["graphgrad"], ms.get("torch"), ms["numpy"],
            ms["graphgrad"] / ms["torch"] if torch else None, ms["graphgrad"] / ms["numpy"],
            " / ".join(f"{first[n]:.5f}" for n in steps),
        ])
    print_table(
        f"One training step ({'CPU ' if args.cpu_time else ''}ms), median of "
        f"{5 * args.repeat} runs in {args.repeat} rounds",
        ["model", "graphgrad", "torch", "numpy", "vs torch", "vs numpy",
         "first loss (" + " / ".join(steps) + ")"],
        rows,
    )
    if "mlp" in args.models:
        print_table("The MLP step's 8 matrix products alone (ms): NumPy's BLAS (OpenBLAS "
                    "in NumPy's wheels) and PyTorch's (MKL in its x86 wheels)",
                    ["numpy", "torch", "numpy / torch"],
                    [[blas_ms["numpy"], blas_ms.get("torch"),
                      blas_ms["numpy"] / blas_ms["torch"] if torch else None]])


if __name__ == "__main__":
    main()
