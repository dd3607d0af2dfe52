"""``graphgrad.linalg``, PyTorch's ``torch.linalg``: inverses, solvers, determinants,
decompositions and norms with gradients (the engine's ``autograd/linalg.py``)."""
from .autograd.linalg import *  # noqa: F403
from .autograd.linalg import __all__  # noqa: F401
