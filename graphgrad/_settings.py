"""Process-wide settings that PyTorch scripts make at their top, and what they mean here.

- ``set_float32_matmul_precision("highest" | "high" | "medium")``: PyTorch may then use
  TF32 or bfloat16 inside float32 matrix products on hardware that has them.  NumPy's
  BLAS always computes in full float32, which is "highest"; the setting is kept and
  reported by ``get_float32_matmul_precision`` but changes no result.
- ``use_deterministic_algorithms(mode, warn_only=False)``: graphgrad's algorithms are
  deterministic already (the same seed gives the same run bit for bit), so the flag is
  kept and reported by ``are_deterministic_algorithms_enabled`` and changes nothing.
"""
from __future__ import annotations

_PRECISIONS = ("highest", "high", "medium")
_STATE = {"matmul_precision": "highest", "deterministic": False, "warn_only": False}


def set_float32_matmul_precision(precision: str) -> None:
    if precision not in _PRECISIONS:
        raise ValueError(f"set_float32_matmul_precision: expected one of {_PRECISIONS}, "
                         f"got {precision!r}")
    _STATE["matmul_precision"] = precision


def get_float32_matmul_precision() -> str:
    return _STATE["matmul_precision"]


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    _STATE["deterministic"] = bool(mode)
    _STATE["warn_only"] = bool(warn_only)


def are_deterministic_algorithms_enabled() -> bool:
    return _STATE["deterministic"]


def is_deterministic_algorithms_warn_only_enabled() -> bool:
    return _STATE["warn_only"]
