"""An opt-in process setting: glibc's malloc keeps freed array memory for reuse.

A training step allocates and frees the same large arrays every step
(activations, im2col columns, gradients).  glibc's malloc hands blocks above
its mmap threshold straight back to the kernel and trims the heap top when it
is free, so every step maps fresh pages again; in a VM each page fault costs
microseconds, and a small CNN step spent about a third of its time in them
(4,000 faults per step).  Serving every block from the heap instead of mapping
it (``M_MMAP_MAX`` = 0) and raising the trim threshold to 256 MiB makes freed
blocks stay in the heap for the next step's arrays: the same step then takes 170
faults and runs 1.4x faster.  (Raising the mmap threshold instead stops at
glibc's maximum, 32 MiB, and the MNIST CNN's im2col columns take 42 MiB: mapped
afresh, each costs ~2 ms of page faults, 8% of that step.)

The setting is process-wide (NumPy, PyTorch and everything else in the process
share malloc), so importing graphgrad leaves it alone: a program opts in by
calling ``graphgrad.autograd.keep_freed_memory()`` once, as the demo and the
benchmarks do.  Peak memory is unchanged, but up to 256 MiB that Python has freed
may stay mapped.  With ``GRAPHGRAD_KEEP_FREED_MEMORY=0`` in the environment the
call does nothing (to compare, or to keep malloc's defaults in a program that
calls it).  Other C libraries (musl, macOS, Windows) are left alone.
"""
from __future__ import annotations

import ctypes
import os

TRIM_THRESHOLD = 256 << 20
_M_TRIM_THRESHOLD = -1  # mallopt parameter numbers from glibc's malloc.h
_M_MMAP_MAX = -4


def keep_freed_memory() -> bool:
    """Let glibc's malloc keep freed memory for the next allocations (see above); True
    when the setting took effect, False under another C library or when
    ``GRAPHGRAD_KEEP_FREED_MEMORY=0``.  Calling it again changes nothing."""
    if os.environ.get("GRAPHGRAD_KEEP_FREED_MEMORY", "1") == "0":
        return False
    if not _glibc():
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return bool(mallopt(_M_MMAP_MAX, 0) and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))


def _glibc() -> bool:
    try:
        return os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc")
    except (AttributeError, ValueError, OSError):  # no confstr (Windows) or no such name
        return False
