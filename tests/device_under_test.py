"""The device the device tests run on: the strict stand-in GPU
(``graphgrad.testing.strict_arrays``: NumPy that refuses implicit host transfers) by
default, or a real GPU through CuPy when ``GRAPHGRAD_TEST_GPU=1``
(``python3 tasks.py test-gpu``).

On the stand-in a device computes NumPy's numbers bit for bit, so results are compared
with the CPU's almost exactly; a GPU's kernels (cuBLAS, its own transcendental
functions, other summation orders) differ in the last bits, so there the comparison
allows float64 rounding.
"""
from __future__ import annotations

import contextlib
import os

from graphgrad.testing.strict_arrays import strict_cuda

REAL_GPU = os.environ.get("GRAPHGRAD_TEST_GPU") == "1"
TOLERANCE = {"rtol": 1e-6, "atol": 1e-8} if REAL_GPU else {"rtol": 1e-12, "atol": 1e-12}


def cuda_for_tests():
    """A context in which ``"cuda"`` is the device under test."""
    if not REAL_GPU:
        return strict_cuda()
    import graphgrad as gg

    if not gg.cuda.is_available():
        raise RuntimeError("GRAPHGRAD_TEST_GPU=1 but graphgrad sees no GPU (is CuPy installed?)")
    return contextlib.nullcontext()


@contextlib.contextmanager
def no_cuda():
    """A context in which no backend serves ``"cuda"`` (as on a machine without CuPy or
    a GPU), whatever the machine has."""
    import pytest

    from graphgrad.autograd import arrays

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(arrays, "_BACKENDS", {k: v for k, v in arrays._BACKENDS.items()
                                            if k != "cuda"})
        patch.setattr(arrays, "_LOADERS", {})
        yield
