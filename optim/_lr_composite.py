"""Schedules made of other schedules: one after another (``SequentialLR``) or all at
once (``ChainedScheduler``)."""
from __future__ import annotations

from bisect import bisect_right

from ._lr_base import LRScheduler
from ._lr_plateau import ReduceLROnPlateau
from .optimizer import Optimizer


def _check_schedulers(where: str, schedulers: list, optimizer: Optimizer) -> None:
    if len(schedulers) < 1:
        raise ValueError(f"{where} expects at least one scheduler, got none")
    for i, scheduler in enumerate(schedulers):
        if not hasattr(scheduler, "optimizer"):
            raise TypeError(f"{where}: the scheduler at index {i} "
                            f"({type(scheduler).__name__}) has no `optimizer` attribute")
        if isinstance(scheduler, ReduceLROnPlateau):
            raise ValueError(f"{where} does not support ReduceLROnPlateau (its step needs "
                             f"the metric), got one at index {i}")
        if scheduler.optimizer is not optimizer:
            raise ValueError(f"{where} expects all schedulers to belong to the same "
                             f"optimizer, but the {type(scheduler).__name__} at index {i} "
                             "has another one")


class _Composite(LRScheduler):
    """``state_dict`` holds the sub-schedulers' state_dicts under ``"_schedulers"``."""

    def state_dict(self) -> dict:
        state = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "_schedulers")}
        state["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        state = dict(state_dict)
        saved = state.pop("_schedulers")
        self.__dict__.update(state)
        for scheduler, sub in zip(self._schedulers, saved, strict=True):
            scheduler.load_state_dict(sub)


class SequentialLR(_Composite):
    """Run ``schedulers[0]`` until epoch ``milestones[0]``, then ``schedulers[1]`` (started
    afresh from its closed form at epoch 0) until ``milestones[1]``, and so on, as
    PyTorch's: e.g. a ``LinearLR`` warm-up followed by ``CosineAnnealingLR``::

        warmup = LinearLR(opt, start_factor=0.1, total_iters=5)
        cosine = CosineAnnealingLR(opt, T_max=45)
        sched = SequentialLR(opt, [warmup, cosine], milestones=[5])

    Building it undoes the initial step that each sub-scheduler took when it was
    built, and takes the first scheduler's initial step again.
    """

    def __init__(self, optimizer: Optimizer, schedulers: list, milestones: list,
                 last_epoch: int = -1) -> None:
        _check_schedulers("SequentialLR", schedulers, optimizer)
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(f"SequentialLR expects one milestone fewer than schedulers, got "
                             f"{len(schedulers)} schedulers and {len(milestones)} milestones")
        self._schedulers = list(schedulers)
        self._milestones = list(milestones)
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        self._undo_initial_steps(self)
        first = self._schedulers[bisect_right(self._milestones, 0)]
        first._initial_step()
        self._last_lr = first.get_last_lr()

    def _undo_initial_steps(self, scheduler) -> None:
        """Take one epoch off every (nested) sub-scheduler."""
        if hasattr(scheduler, "_schedulers"):
            for sub in scheduler._schedulers:
                self._undo_initial_steps(sub)
        elif hasattr(scheduler, "last_epoch"):
            scheduler.last_epoch -= 1

    def step(self) -> None:  # type: ignore[override]
        """Advance one epoch with the scheduler whose interval holds it."""
        self.last_epoch += 1
        index = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[index]
        if index > 0 and self._milestones[index - 1] == self.last_epoch:
            scheduler._update_lr(0)  # this scheduler starts now
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()


class ChainedScheduler(_Composite):
    """Step every scheduler in ``schedulers`` at each ``step()``, in order, so their
    (recursive) changes compound, as PyTorch's: e.g. ``ConstantLR`` warm-up with
    ``ExponentialLR`` decay.  ``optimizer`` defaults to the first scheduler's."""

    def __init__(self, schedulers: list, optimizer: Optimizer | None = None) -> None:
        if len(schedulers) < 1:
            raise ValueError("ChainedScheduler expects at least one scheduler, got none")
        optimizer = optimizer or schedulers[0].optimizer
        _check_schedulers("ChainedScheduler", schedulers, optimizer)
        self._schedulers = list(schedulers)
        self.optimizer = optimizer
        self._last_lr = self._group_values()

    def step(self) -> None:  # type: ignore[override]
        for scheduler in self._schedulers:
            scheduler.step()
        self._last_lr = self._group_values()
