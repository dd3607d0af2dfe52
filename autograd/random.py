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
