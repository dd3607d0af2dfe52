"""The project's one random source: a seeded NumPy Generator.

``manual_seed(n)`` reseeds it; initialisation, dropout and data shuffling all
draw from ``generator()``, so the same seed gives the same run bit for bit.
"""
from __future__ import annotations

import numpy as np

_GENERATOR = [np.random.default_rng(0)]


def manual_seed(seed: int) -> None:
    """Seed every random draw of graphgrad."""
    _GENERATOR[0] = np.random.default_rng(int(seed))


def generator() -> np.random.Generator:
    """The current Generator (replaced by ``manual_seed``)."""
    return _GENERATOR[0]


def get_rng_state() -> dict:
    """The generator's state, as a plain dict (for checkpoints)."""
    return _GENERATOR[0].bit_generator.state


def set_rng_state(state: dict) -> None:
    """Restore a state returned by ``get_rng_state``."""
    rng = np.random.default_rng()
    rng.bit_generator.state = state
    _GENERATOR[0] = rng


class Generator:
    """A random source of its own, as ``torch.Generator``: pass it as ``generator=`` to
    draw independently of ``gg.manual_seed`` (a seeded sampler, a reproducible init).

    ``device`` is accepted for PyTorch's signature; only the CPU exists.
    """

    def __init__(self, device="cpu") -> None:
        from .devices import check_device

        check_device("Generator", device)
        self._seed = 67280421310721  # PyTorch's default seed, so an unseeded one is fixed too
        self._rng = np.random.default_rng(self._seed)

    def manual_seed(self, seed: int) -> Generator:
        self._seed = int(seed)
        self._rng = np.random.default_rng(self._seed)
        return self

    def seed(self) -> int:
        """Reseed from fresh entropy; returns the new seed."""
        return self.manual_seed(int(np.random.SeedSequence().entropy % 2**63))._seed

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> dict:
        return self._rng.bit_generator.state

    def set_state(self, state: dict) -> Generator:
        self._rng.bit_generator.state = state
        return self


def rng(generator=None) -> np.random.Generator:
    """The NumPy Generator to draw from for a ``generator=`` argument: the project's for
    None, the one inside a ``Generator``, or a NumPy Generator itself."""
    if generator is None:
        return _GENERATOR[0]
    if isinstance(generator, Generator):
        return generator._rng
    if isinstance(generator, np.random.Generator):
        return generator
    raise TypeError(f"generator: expected a graphgrad Generator, got {type(generator).__name__}")
