"""Tools to test differentiable code: gradient checks and hypothesis strategies."""
from .gradcheck import GradcheckError, gradcheck, gradgradcheck, relative_difference

__all__ = ["GradcheckError", "gradcheck", "gradgradcheck", "relative_difference"]
