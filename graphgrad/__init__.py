"""graphgrad: a readable reverse-mode autograd engine on NumPy, shaped like ``torch``.

    import graphgrad as gg          # or: import graphgrad as torch
    import graphgrad.nn as nn
    import graphgrad.optim as optim
    from graphgrad.utils.data import DataLoader

The repository keeps the engine in ``autograd/`` (installed as ``graphgrad.autograd``),
the layers in ``nn/`` and the optimizers in ``optim/``; this package is the root
that re-exports the engine's tensor API, as ``torch`` does.  The command line:

    graphgrad demo          # train a CNN on the bundled handwritten digits, write pictures
    graphgrad draw          # draw the backward graph of one step of that CNN
"""
__version__ = "0.1.0"

from . import autograd
from .autograd import *  # noqa: F403  (the tensor API: tensor, randn, cat, no_grad, ...)
from . import datasets, linalg, nn, optim, testing, utils, viz
from . import accelerator, amp, backends, cuda, distributed, onnx
from ._compile import compile
from ._dtypes import bfloat16
from ._modes import inference_mode
from ._settings import (
    are_deterministic_algorithms_enabled, get_float32_matmul_precision,
    is_deterministic_algorithms_warn_only_enabled, set_float32_matmul_precision,
    use_deterministic_algorithms,
)
from .amp import autocast
from .serialization import load, save
from .threads import (
    get_num_interop_threads, get_num_threads, set_num_interop_threads, set_num_threads,
)
