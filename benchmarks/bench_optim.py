"""Optimizer step time (run as a script: ``python benchmarks/bench_optim.py``).

10M float32 parameters in 100 tensors of 100,000, gradients already in place;
one ``step()`` of SGD with momentum and of Adam, beside PyTorch's multi-tensor
(``foreach=True``) implementation in the same run.  NumPy's elementwise ops
run on one thread, so PyTorch is timed with one thread and with ``--threads``.
Numbers are medians; the ratio is graphgrad / PyTorch (lower is better).
"""
from __future__ import annotations

import argparse

import numpy as np
from _harness import load_torch, machine, median_seconds, print_table

import graphgrad as gg
from graphgrad import optim

CONFIGS = {
    "SGD momentum=0.9": ("SGD", dict(lr=0.01, momentum=0.9)),
    "SGD nesterov + wd": ("SGD", dict(lr=0.01, momentum=0.9, nesterov=True, weight_decay=1e-4)),
    "Adam": ("Adam", dict(lr=1e-3)),
    "AdamW amsgrad": ("AdamW", dict(lr=1e-3, amsgrad=True)),
}


def make_arrays(n_tensors: int, size: int) -> tuple[list, list]:
    rng = np.random.default_rng(0)
    params = [rng.standard_normal(size, dtype=np.float32) for _ in range(n_tensors)]
    grads = [rng.standard_normal(size, dtype=np.float32) for _ in range(n_tensors)]
    return params, grads


def ours_step(name: str, kwargs: dict, params: list, grads: list):
    tensors = [gg.tensor(p, requires_grad=True) for p in params]
    for t, g in zip(tensors, grads, strict=True):
        t.grad = gg.tensor(g)
    opt = getattr(optim, name)(tensors, **kwargs)
    return opt.step


def torch_step(torch, name: str, kwargs: dict, params: list, grads: list):
    tensors = [torch.tensor(p, requires_grad=True) for p in params]
    for t, g in zip(tensors, grads, strict=True):
        t.grad = torch.tensor(g)
    opt = getattr(torch.optim, name)(tensors, foreach=True, **kwargs)
    return opt.step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tensors", type=int, default=100)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--threads", type=int, default=2, help="PyTorch threads, 2nd column")
    args = parser.parse_args()

    params, grads = make_arrays(args.tensors, args.size)
    torch = load_torch(1)
    rows = []
    for label, (name, kwargs) in CONFIGS.items():
        ours = median_seconds(ours_step(name, kwargs, params, grads), repeat=args.repeat,
                              warmup=2)
        row = [label, ours * 1e3]
        if torch is not None:
            for threads in (1, args.threads):
                torch.set_num_threads(threads)
                theirs = median_seconds(torch_step(torch, name, kwargs, params, grads),
                                        repeat=args.repeat, warmup=2)
                row += [theirs * 1e3, ours / theirs]
        else:
            row += [None] * 4
        rows.append(row)
    total = args.tensors * args.size
    print(f"{machine()}; {total / 1e6:g}M float32 parameters in {args.tensors} tensors")
    print_table("optimizer step, median ms (ratio = graphgrad / torch foreach)",
                ["optimizer", "graphgrad", "torch 1T", "ratio 1T",
                 f"torch {args.threads}T", f"ratio {args.threads}T"], rows)


if __name__ == "__main__":
    main()
