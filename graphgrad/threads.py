"""Thread counts, as ``torch.set_num_threads`` and friends.

graphgrad's heavy work (matrix products, convolutions through im2col) runs inside NumPy's
BLAS library, which has a thread pool of its own.  ``set_num_threads(n)`` really sets
that pool's size, through ``threadpoolctl``; it applies to every BLAS library loaded in
the process (NumPy's, and SciPy's or PyTorch's if they are loaded too).  When NumPy has
no threaded BLAS, NumPy computes on one thread: the setting is accepted and changes
nothing, and ``get_num_threads()`` is 1.

PyTorch also has an inter-op pool that runs independent operations concurrently.
graphgrad runs operations one after another, so it has none:
``set_num_interop_threads(n)`` validates and stores ``n`` for
``get_num_interop_threads()`` to report, and nothing else reads it (the default, 1,
says what graphgrad actually does).
"""
from __future__ import annotations

import numbers

from threadpoolctl import threadpool_info, threadpool_limits

_interop_threads = 1


def _check_count(where: str, n) -> int:
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"{where}: expected an int, got {type(n).__name__}")
    if n < 1:
        raise ValueError(f"{where}: expected a positive number of threads, got {n}")
    return int(n)


def set_num_threads(n: int) -> None:
    """Sets the number of threads of the BLAS libraries that NumPy computes with."""
    threadpool_limits(limits=_check_count("set_num_threads", n), user_api="blas")


def get_num_threads() -> int:
    """The number of threads the BLAS libraries use (the largest, if several are loaded
    with different settings); 1 when NumPy has no threaded BLAS."""
    counts = [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]
    return max(counts, default=1)


def set_num_interop_threads(n: int) -> None:
    """Stores ``n``: graphgrad has no inter-op thread pool for it to size."""
    global _interop_threads
    _interop_threads = _check_count("set_num_interop_threads", n)


def get_num_interop_threads() -> int:
    """The value last given to ``set_num_interop_threads`` (1 until then)."""
    return _interop_threads
