"""``nn``: Modules, Parameters, layers, losses, initialisation and utilities, with
PyTorch's names, arguments and parameter layouts.

    import graphgrad.nn as nn
    import graphgrad.nn.functional as F

    model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    loss = nn.CrossEntropyLoss()(model(x), labels)
    loss.backward()
"""
from . import functional, init, parallel, utils  # noqa: F401
from .module import Module  # noqa: F401
from .modules import *  # noqa: F401,F403
from .parallel import DataParallel  # noqa: F401
from .parameter import Parameter  # noqa: F401
