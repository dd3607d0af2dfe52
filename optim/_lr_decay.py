"""Epoch-indexed decay schedules: lambdas, steps, exponential, warm-ups, polynomial,
cosine, and the course's inverse-time decay."""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable

from ._lr_base import LambdaSchedule, LRScheduler
from .optimizer import Optimizer, check_hyper


class LambdaLR(LambdaSchedule):
    """``lr = initial_lr * lr_lambda(epoch)``; ``lr_lambda`` is one function or one per
    group (``state_dict`` keeps no functions: see ``LambdaSchedule``)."""

    def __init__(self, optimizer: Optimizer, lr_lambda: Callable | list,
                 last_epoch: int = -1) -> None:
        super().__init__(optimizer, lr_lambda, last_epoch)

    def get_lr(self) -> list[float]:
        return [base * fn(self.last_epoch)
                for fn, base in zip(self.lr_lambdas, self.base_lrs, strict=True)]


class MultiplicativeLR(LambdaSchedule):
    """Each epoch multiplies the current lr by ``lr_lambda(epoch)``:
    ``lr_e = lr_{e-1} * lr_lambda(e)`` (one function or one per group; not at epoch 0)."""

    def __init__(self, optimizer: Optimizer, lr_lambda: Callable | list,
                 last_epoch: int = -1) -> None:
        super().__init__(optimizer, lr_lambda, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial:
            return self._group_values()
        return [lr * fn(self.last_epoch)
                for fn, lr in zip(self.lr_lambdas, self._group_values(), strict=True)]


class StepLR(LRScheduler):
    """Multiply the lr by ``gamma`` every ``step_size`` epochs:
    ``lr = initial_lr * gamma ** (epoch // step_size)``."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        check_hyper("StepLR", "step_size", step_size, 1)
        self.step_size = int(step_size)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._group_values()
        return [lr * self.gamma for lr in self._group_values()]

    def _get_closed_form_lr(self) -> list[float]:
        return [base * self.gamma ** (self.last_epoch // self.step_size)
                for base in self.base_lrs]


class MultiStepLR(LRScheduler):
    """Multiply the lr by ``gamma`` at each epoch listed in ``milestones`` (a milestone
    listed k times multiplies by ``gamma ** k``)."""

    def __init__(self, optimizer: Optimizer, milestones: Iterable[int], gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        self.milestones = Counter(int(m) for m in milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        count = self.milestones.get(self.last_epoch, 0)
        if not count:
            return self._group_values()
        return [lr * self.gamma**count for lr in self._group_values()]

    def _get_closed_form_lr(self) -> list[float]:
        passed = sum(n for m, n in self.milestones.items() if m <= self.last_epoch)
        return [base * self.gamma**passed for base in self.base_lrs]

    def state_dict(self) -> dict:
        state = super().state_dict()
        state["milestones"] = dict(self.milestones)
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        self.milestones = Counter({int(k): int(v) for k, v in self.milestones.items()})


class ConstantLR(LRScheduler):
    """A constant warm-up: ``lr = initial_lr * factor`` for epochs ``0 .. total_iters - 1``,
    then ``initial_lr`` (recursively: epoch 0 multiplies by ``factor``, epoch
    ``total_iters`` divides by it)."""

    def __init__(self, optimizer: Optimizer, factor: float = 1.0 / 3, total_iters: int = 5,
                 last_epoch: int = -1) -> None:
        check_hyper("ConstantLR", "factor", factor, 0.0, 1.0)
        self.factor = factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0:
            return [lr * self.factor for lr in self._group_values()]
        if self.last_epoch != self.total_iters:
            return self._group_values()
        return [lr * (1.0 / self.factor) for lr in self._group_values()]

    def _get_closed_form_lr(self) -> list[float]:
        return [base * (self.factor + (self.last_epoch >= self.total_iters) * (1 - self.factor))
                for base in self.base_lrs]


class LinearLR(LRScheduler):
    r"""A linear warm-up (or decay) of the lr's multiplier from ``start_factor`` at epoch 0
    to ``end_factor`` at epoch ``total_iters``, constant after::

        lr = initial_lr * (start + (end - start) * min(epoch, total_iters) / total_iters)

    computed recursively, as PyTorch: epoch e multiplies the current lr by
    ``1 + (end - start) / (total_iters * start + (e - 1) * (end - start))``.
    """

    def __init__(self, optimizer: Optimizer, start_factor: float = 1.0 / 3,
                 end_factor: float = 1.0, total_iters: int = 5, last_epoch: int = -1) -> None:
        check_hyper("LinearLR", "start_factor", start_factor, 0.0, 1.0)
        if start_factor == 0:
            raise ValueError("LinearLR: invalid start_factor=0 (must be > 0 and <= 1)")
        check_hyper("LinearLR", "end_factor", end_factor, 0.0, 1.0)
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0:
            return [lr * self.start_factor for lr in self._group_values()]
        if self._is_initial or self.last_epoch > self.total_iters:
            return self._group_values()
        change = self.end_factor - self.start_factor
        ratio = 1.0 + change / (self.total_iters * self.start_factor
                                + (self.last_epoch - 1) * change)
        return [lr * ratio for lr in self._group_values()]

    def _get_closed_form_lr(self) -> list[float]:
        return [base * (self.start_factor + (self.end_factor - self.start_factor)
                        * min(self.total_iters, self.last_epoch) / self.total_iters)
                for base in self.base_lrs]


class ExponentialLR(LRScheduler):
    """Multiply the lr by ``gamma`` every epoch: ``lr = initial_lr * gamma ** epoch``."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial:
            return self._group_values()
        return [lr * self.gamma for lr in self._group_values()]

    def _get_closed_form_lr(self) -> list[float]:
        return [base * self.gamma**self.last_epoch for base in self.base_lrs]


class PolynomialLR(LRScheduler):
    r"""Polynomial decay to zero over ``total_iters`` epochs, then constant::

        lr = initial_lr * (1 - min(epoch, total_iters) / total_iters) ** power

    computed recursively, as PyTorch (the ratio of consecutive values).
    """

    def __init__(self, optimizer: Optimizer, total_iters: int = 5, power: float = 1.0,
                 last_epoch: int = -1) -> None:
        self.total_iters = total_iters
        self.power = power
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial or self.last_epoch > self.total_iters:
            return self._group_values()
        e, n = self.last_epoch, self.total_iters
        ratio = ((1.0 - e / n) / (1.0 - (e - 1) / n)) ** self.power
        return [lr * ratio for lr in self._group_values()]

    def _get_closed_form_lr(self) -> list[float]:
        return [base * (1.0 - min(self.total_iters, self.last_epoch) / self.total_iters)
                ** self.power for base in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    r"""Cosine annealing from ``initial_lr`` down to ``eta_min`` over ``T_max`` epochs::

        lr = eta_min + (initial_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2

    computed with PyTorch's recursive form (so it composes with other
    schedulers); past ``T_max`` it rises again, as PyTorch's does.
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0,
                 last_epoch: int = -1) -> None:
        check_hyper("CosineAnnealingLR", "T_max", T_max, 1)
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        e, T, lo = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return self._group_values()
        if self._step_count == 1 and e > 0:
            return [lo + (base - lo) * (1 + math.cos(e * math.pi / T)) / 2
                    for base in self.base_lrs]
        if (e - 1 - T) % (2 * T) == 0:
            return [lr + (base - lo) * (1 - math.cos(math.pi / T)) / 2
                    for base, lr in zip(self.base_lrs, self._group_values(), strict=True)]
        return [(1 + math.cos(math.pi * e / T)) / (1 + math.cos(math.pi * (e - 1) / T))
                * (lr - lo) + lo for lr in self._group_values()]

    def _get_closed_form_lr(self) -> list[float]:
        return [self.eta_min + (base - self.eta_min)
                * (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
                for base in self.base_lrs]


class InverseTimeDecay(LRScheduler):
    """The course's learning-rate decay: ``lr = initial_lr / (1 + decay_rate * epoch)``.

    With ``time_interval = k`` the decay is applied in stairs, every k epochs:
    ``lr = initial_lr / (1 + decay_rate * (epoch // k))``.  Not in PyTorch (it
    equals ``LambdaLR(opt, lambda e: 1 / (1 + decay_rate * (e // k)))``).
    """

    def __init__(self, optimizer: Optimizer, decay_rate: float, time_interval: int = 1,
                 last_epoch: int = -1) -> None:
        check_hyper("InverseTimeDecay", "decay_rate", decay_rate)
        check_hyper("InverseTimeDecay", "time_interval", time_interval, 1)
        self.decay_rate = decay_rate
        self.time_interval = int(time_interval)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        k = self.last_epoch // self.time_interval
        return [base / (1 + self.decay_rate * k) for base in self.base_lrs]

    _get_closed_form_lr = get_lr
