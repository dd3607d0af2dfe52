"""Learning-rate schedules, as ``torch.optim.lr_scheduler``.

A scheduler changes ``group["lr"]`` of its optimizer's parameter groups each
time ``step()`` is called (once per epoch, after ``optimizer.step()``; the
cyclical ones once per batch).  The sequences equal PyTorch's, including its
recursive ("chainable") forms, so two schedulers can be stacked on one
optimizer.  ``state_dict()`` holds plain numbers and lists that ``gg.save`` can
write.

    sched = StepLR(opt, step_size=30, gamma=0.1)
    for epoch in range(100):
        train(...)          # calls opt.step()
        sched.step()
"""
from ._lr_base import LRScheduler
from ._lr_composite import ChainedScheduler, SequentialLR
from ._lr_cyclic import CosineAnnealingWarmRestarts, CyclicLR, OneCycleLR
from ._lr_decay import (
    ConstantLR,
    CosineAnnealingLR,
    ExponentialLR,
    InverseTimeDecay,
    LambdaLR,
    LinearLR,
    MultiplicativeLR,
    MultiStepLR,
    PolynomialLR,
    StepLR,
)
from ._lr_plateau import ReduceLROnPlateau

__all__ = ["LRScheduler", "LambdaLR", "MultiplicativeLR", "StepLR", "MultiStepLR",
           "ConstantLR", "LinearLR", "ExponentialLR", "PolynomialLR", "CosineAnnealingLR",
           "ChainedScheduler", "SequentialLR", "CyclicLR", "CosineAnnealingWarmRestarts",
           "OneCycleLR", "ReduceLROnPlateau", "InverseTimeDecay"]
