"""Optimizers and learning-rate schedules, with PyTorch's names and update rules.

    import graphgrad.optim as optim
    opt = optim.Adam(model.parameters(), lr=1e-3)
    sched = optim.lr_scheduler.StepLR(opt, step_size=10, gamma=0.5)
"""
from . import lr_scheduler
from .adam import Adam
from .adamw import AdamW
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "RMSprop", "Adam", "AdamW", "lr_scheduler"]
