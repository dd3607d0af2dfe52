"""Tools to test differentiable code: gradient checks and hypothesis strategies.

The strategies (``shapes``, ``broadcastable_shapes``, ``tensors``, ``arrays``,
``valid_dims``) need the ``hypothesis`` package; they are imported on first use,
so ``gradcheck`` works without it.
"""
from .gradcheck import GradcheckError, gradcheck, gradgradcheck, relative_difference

_STRATEGIES = ("arrays", "broadcastable_shapes", "shapes", "tensors", "valid_dims")

__all__ = ["GradcheckError", "gradcheck", "gradgradcheck", "relative_difference", *_STRATEGIES]


def __getattr__(name: str):
    if name in _STRATEGIES:
        from . import strategies

        return getattr(strategies, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
