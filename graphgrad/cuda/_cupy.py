"""The CUDA backend: CuPy's arrays on NVIDIA GPUs (the optional ``graphgrad[cuda]`` extra).

CuPy runs NumPy's API on the GPU, so graphgrad's ops run there unchanged, taking the
array module from their inputs (``graphgrad.autograd.arrays``).
"""
from __future__ import annotations

import numpy as np

from graphgrad.autograd.arrays import Backend


def load_cupy_backend() -> Backend | None:
    """CuPy's backend, or None when CuPy is not installed."""
    try:
        import cupy
    except ImportError:
        return None
    return CupyBackend(cupy)


class CupyBackend(Backend):
    """``"cuda"`` devices through CuPy."""

    type = "cuda"

    def __init__(self, cupy) -> None:
        self.xp = self._cupy = cupy
        self.array_type = cupy.ndarray
        self._problem = None

    def device_count(self) -> int:
        try:
            return self._cupy.cuda.runtime.getDeviceCount()
        except Exception as err:  # CUDARuntimeError: no driver, no device
            self._problem = f"CuPy is installed but cannot use a GPU ({err})"
            return 0

    def is_available(self) -> bool:
        return self.device_count() > 0

    def why_unavailable(self) -> str:
        return self._problem or "CuPy is installed but sees no GPU"

    def to_device(self, array: np.ndarray, index: int):
        with self._cupy.cuda.Device(index):
            return self._cupy.asarray(array)

    def to_host(self, array) -> np.ndarray:
        return self._cupy.asnumpy(array)

    def index_of(self, array) -> int:
        return array.device.id

    def synchronize(self, index: int) -> None:
        self._cupy.cuda.Device(index).synchronize()

    def current_device(self) -> int:
        return self._cupy.cuda.runtime.getDevice()

    def set_current_device(self, index: int) -> None:
        self._cupy.cuda.Device(index).use()

    def device_name(self, index: int) -> str:
        name = self._cupy.cuda.runtime.getDeviceProperties(index)["name"]
        return name.decode() if isinstance(name, bytes) else name

    def capability(self, index: int) -> tuple[int, int]:
        digits = self._cupy.cuda.Device(index).compute_capability  # "90" for 9.0
        return int(digits[:-1]), int(digits[-1])

    def raising_linalg(self):
        import cupyx

        return cupyx.errstate(linalg="raise")  # CuPy's default skips cuSOLVER's status check

    def empty_cache(self) -> None:
        self._cupy.get_default_memory_pool().free_all_blocks()
        self._cupy.get_default_pinned_memory_pool().free_all_blocks()

    def generator(self, seed: int, index: int):
        with self._cupy.cuda.Device(index):
            return self._cupy.random.default_rng(seed)

    def pin(self, array: np.ndarray) -> np.ndarray:
        import cupyx

        pinned = cupyx.empty_pinned(array.shape, array.dtype)
        pinned[...] = array
        return pinned

    def is_pinned(self, array: np.ndarray) -> bool:
        base = array
        while isinstance(base, np.ndarray) and base.base is not None:
            base = base.base
        return isinstance(base, self._cupy.cuda.PinnedMemoryPointer)
