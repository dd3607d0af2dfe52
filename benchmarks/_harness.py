"""Shared benchmark helpers: robust timing (medians), optional PyTorch, a printed table;
importing it lets malloc keep freed memory (``keep_freed_memory``), as the README says.

Machines here are noisy, so every number is the median of several repeats and
every comparison is a ratio measured in the same run.
"""
from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from graphgrad.autograd import keep_freed_memory  # noqa: E402

# Every benchmark process runs as a training program should: freed arrays' memory is kept
# for the next step (README, "Memory"; GRAPHGRAD_KEEP_FREED_MEMORY=0 to compare without).
keep_freed_memory()


def median_seconds(fn, repeat: int = 7, number: int = 1, warmup: int = 1) -> float:
    """Median over ``repeat`` runs of the time of ``number`` calls of ``fn``, per call."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - start) / number)
    return statistics.median(times)


def load_torch(threads: int = 2):
    """PyTorch set to ``threads`` CPU threads, or None when it is not installed."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads)
    return torch


def print_table(title: str, headers: list, rows: list) -> None:
    """Print rows (lists of str/float) as an aligned text table."""
    cells = [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    print(f"\n{title}")
    print("  ".join(str(h).rjust(w) if i else str(h).ljust(w) for i, (h, w) in
                    enumerate(zip(headers, widths, strict=False))))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        pairs = enumerate(zip(row, widths, strict=True))
        print("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in pairs))


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return "-" if value is None else str(value)


def machine() -> str:
    """One line describing where the numbers were measured: NumPy's BLAS and the kernels
    it picked for this CPU included (OpenBLAS's pick moves products by 20%: README)."""
    import numpy as np
    from threadpoolctl import threadpool_info

    line = (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}, NumPy {np.__version__}")
    blas = [lib for lib in threadpool_info() if lib["user_api"] == "blas"]
    numpys = [lib for lib in blas if "numpy" in lib["filepath"]] or blas
    if numpys:
        line += f", {numpys[0]['internal_api']} {numpys[0]['version']}"
        if numpys[0].get("architecture"):
            line += f" ({numpys[0]['architecture']} kernels)"
    return line


def interleaved_medians(fns: dict, repeat: int = 15, warmup: int = 2, block: int = 1,
                        settle: int = 0, pause: float = 0.0, clock=time.perf_counter) -> dict:
    """{name: median seconds per call}, timing the functions in turn, ``repeat`` rounds
    of ``block`` calls each, so that a burst of load on a shared machine hits every
    candidate alike.  Libraries keep their worker threads spinning for a while after
    a call (OpenBLAS for about 0.1 s, OpenMP less), which slows down the next
    candidate on a machine with few cores: each turn opens with a sleep of
    ``pause`` seconds, which lets them go to sleep, and ``settle`` untimed calls.
    ``clock=time.process_time`` measures CPU time instead: steadier on a loaded
    machine, but only meaningful for single-threaded runs."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            time.sleep(pause)
            for _ in range(settle):
                fn()
            for _ in range(block):
                start = clock()
                fn()
                times[name].append(clock() - start)
    return {name: statistics.median(t) for name, t in times.items()}
