"""Engine overhead benchmarks (run as a script: ``python benchmarks/bench_engine.py``).

1. Per-op cost on tiny tensors: a chain of 1,000 elementwise ops (x * 0.9,
   + 0.1, tanh, repeated) on a 10-element float32 tensor, forward and backward,
   beside PyTorch eager and beside plain NumPy with a hand-written backward.
2. Long chains (100,000 and 1,000,000 ops): time and peak memory, each measured
   in a fresh subprocess (peak RSS minus the RSS of a process that only imports).
3. Large arrays: tanh(x @ W) with 1024x1024 float32 matrices, forward and
   backward, as a ratio to the same arithmetic in plain NumPy.
"""
from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time

import numpy as np
from _harness import load_torch, machine, median_seconds, print_table

import graphgrad as gg

UNITS = 3  # ops per repeated unit: mul, add, tanh


def chain(x, n_ops: int):
    for _ in range(n_ops // UNITS):
        x = (x * 0.9 + 0.1).tanh()
    return x.sum()


def numpy_chain(x: np.ndarray, n_ops: int):
    """The same chain in NumPy, keeping what a hand-written backward needs."""
    outs = []
    for _ in range(n_ops // UNITS):
        x = np.tanh(x * np.float32(0.9) + np.float32(0.1))
        outs.append(x)
    return x.sum(), outs


def numpy_chain_backward(x: np.ndarray, outs: list) -> np.ndarray:
    g = np.ones_like(x)
    for out in reversed(outs):
        g = g * (1 - out * out) * np.float32(0.9)
    return g


def per_op_times(n_ops: int = 999) -> list:
    """[name, forward us/op, backward us/op, total us/op] rows."""
    rows = []
    data = np.random.default_rng(0).standard_normal(10).astype(np.float32)

    def ours():
        x = gg.tensor(data, requires_grad=True)
        start = time.perf_counter()
        loss = chain(x, n_ops)
        mid = time.perf_counter()
        loss.backward()
        return mid - start, time.perf_counter() - mid

    def numpy_hand():
        start = time.perf_counter()
        _, outs = numpy_chain(data, n_ops)
        mid = time.perf_counter()
        numpy_chain_backward(data, outs)
        return mid - start, time.perf_counter() - mid

    candidates = [("graphgrad", ours), ("NumPy, hand-written backward", numpy_hand)]
    torch = load_torch()
    if torch is not None:
        def torch_run():
            x = torch.tensor(data, requires_grad=True)
            start = time.perf_counter()
            loss = chain(x, n_ops)
            mid = time.perf_counter()
            loss.backward()
            return mid - start, time.perf_counter() - mid

        candidates.append((f"PyTorch {torch.__version__} eager", torch_run))
    for name, fn in candidates:
        for _ in range(3):
            fn()
        samples = [fn() for _ in range(21)]
        fwd = float(np.median([s[0] for s in samples])) / n_ops * 1e6
        bwd = float(np.median([s[1] for s in samples])) / n_ops * 1e6
        rows.append([name, fwd, bwd, fwd + bwd])
    return rows


def resident_mib() -> float:
    """This process's resident memory now (Linux), in MiB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def run_chain_child(impl: str, n_ops: int) -> None:
    """Child-process mode: run one long chain; print its seconds and the MiB the graph holds
    at its largest (after the forward pass)."""
    if impl == "torch":
        torch = load_torch()
        x = torch.randn(10, requires_grad=True)
    else:
        x = gg.randn(10, requires_grad=True)
    before = resident_mib()
    start = time.perf_counter()
    loss = chain(x, n_ops)
    graph = resident_mib() - before
    loss.backward()
    print(time.perf_counter() - start, graph)


def long_chain(impl: str, n_ops: int) -> tuple:
    """(seconds, MiB of graph) of one forward + backward chain in a fresh process."""
    cmd = [sys.executable, __file__, "--child", impl, str(n_ops)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    seconds, mib = out.split()
    return float(seconds), float(mib)


def large_array_ratio() -> list:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1024, 1024)).astype(np.float32)
    w = (rng.standard_normal((1024, 1024)) / 32).astype(np.float32)
    g = rng.standard_normal((1024, 1024)).astype(np.float32)

    def numpy_step():
        y = np.tanh(x @ w)
        gh = g * (1 - y * y)
        return gh @ w.T, x.T @ gh

    xt = gg.tensor(x, requires_grad=True)
    wt = gg.tensor(w, requires_grad=True)

    def ours():
        xt.grad = wt.grad = None
        y = (xt @ wt).tanh()
        y.backward(g)

    rows = []
    base = median_seconds(numpy_step, repeat=9)
    ours_t = median_seconds(ours, repeat=9)
    rows.append(["NumPy, hand-written backward", base * 1e3, 1.0])
    rows.append(["graphgrad", ours_t * 1e3, ours_t / base])
    torch = load_torch()
    if torch is not None:
        xt2 = torch.tensor(x, requires_grad=True)
        wt2 = torch.tensor(w, requires_grad=True)
        gt = torch.tensor(g)

        def torch_step():
            xt2.grad = wt2.grad = None
            torch.tanh(xt2 @ wt2).backward(gt)

        t = median_seconds(torch_step, repeat=9)
        rows.append([f"PyTorch {torch.__version__}", t * 1e3, t / base])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=2, metavar=("IMPL", "N"), help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="skip the 1,000,000-op chain")
    args = parser.parse_args()
    if args.child:
        run_chain_child(args.child[0], int(args.child[1]))
        return
    print(f"graphgrad engine benchmarks on {machine()}")
    rows = per_op_times()
    print_table("Chain of 999 elementwise ops on 10 floats (median of 21 runs), us per op",
                ["implementation", "forward", "backward", "total"], rows)
    impls = ["graphgrad"] + (["torch"] if load_torch() is not None else [])
    sizes = [100_000] + ([] if args.quick else [1_000_000])
    chain_rows = []
    for n in sizes:
        for impl in impls:
            seconds, mib = long_chain(impl, n)
            chain_rows.append([f"{impl}, {n:,} ops", seconds, mib])
    print_table("Long chains, forward + backward (one run each, fresh process)",
                ["case", "seconds", "graph MiB"], chain_rows)
    print_table("tanh(x @ W), 1024x1024 float32, forward + backward (median of 9)",
                ["implementation", "ms", "ratio to NumPy"], large_array_ratio())


if __name__ == "__main__":
    main()
