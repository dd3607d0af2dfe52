"""``LRScheduler``: the base class of the epoch-indexed schedules."""
from __future__ import annotations

import types
import warnings

from .optimizer import Optimizer


def per_group(name: str, optimizer: Optimizer, value) -> list:
    """``value`` as one entry per parameter group: a list or tuple must have one per
    group; anything else is repeated."""
    n = len(optimizer.param_groups)
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"{name} must have the same length as optimizer.param_groups: "
                             f"{name} has {len(value)} values, param_groups has {n}")
        return list(value)
    return [value] * n


def check_optimizer(where: str, optimizer) -> None:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{where}: {type(optimizer).__name__} is not an Optimizer")


class LRScheduler:
    """Base class.  Subclasses implement ``get_lr()``: the lrs for epoch ``last_epoch``.

    ``LRScheduler(optimizer, last_epoch=-1)``: a fresh scheduler records each
    group's ``initial_lr`` and performs step 0 (lr unchanged for most schedules;
    warm-ups such as ``LinearLR`` scale it there).  ``last_epoch >= 0`` is only for
    rebuilding a scheduler by hand; the recommended resume is ``load_state_dict``.
    Most schedules are recursive ("chainable"): each step scales the group's
    current lr, so two schedulers can act on one optimizer, as PyTorch's.
    """

    _is_initial = False  # True during the step that the constructor performs

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        check_optimizer(type(self).__name__, optimizer)
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(f"{type(self).__name__}: param_groups[{i}] has no "
                                   "'initial_lr' (needed when last_epoch >= 0); load the "
                                   "optimizer's state_dict first")
        self.base_lrs: list[float] = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self) -> None:
        """Reset the step count and take step 0 (also used by ``SequentialLR``)."""
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list[float]:
        raise NotImplementedError

    def get_last_lr(self) -> list[float]:
        """The lrs set by the last ``step()`` (one per parameter group)."""
        return list(self._last_lr)

    def step(self, epoch: int | None = None) -> None:
        """Advance one epoch and set the new lrs.  (``epoch=`` jumps to that epoch with
        the closed form, where there is one; deprecated in PyTorch, kept for ports.)"""
        if self._step_count == 1 and self.optimizer._step_count == 0:
            warnings.warn(
                "lr_scheduler.step() was called before optimizer.step(): call the optimizer "
                "first, or the first value of the schedule is skipped (as PyTorch warns)",
                UserWarning, stacklevel=2)
        self._step_count += 1
        if epoch is not None:
            warnings.warn("passing an epoch to scheduler.step() is deprecated (as in PyTorch)",
                          UserWarning, stacklevel=2)
        self._update_lr(epoch)

    def _update_lr(self, epoch: int | None = None) -> None:
        """Set the lrs of the next epoch (``epoch=None``) or of ``epoch`` (closed form)."""
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            self.last_epoch = epoch
            closed = getattr(self, "_get_closed_form_lr", None)
            values = closed() if closed is not None else self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values, strict=True):
            group["lr"] = lr
        self._last_lr = self._group_values("lr")

    def state_dict(self) -> dict:
        """Every attribute except the optimizer (plain numbers and lists)."""
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict: dict) -> None:
        self.__dict__.update(state_dict)

    def _group_values(self, key: str = "lr") -> list:
        return [group[key] for group in self.optimizer.param_groups]


class LambdaSchedule(LRScheduler):
    """Shared by ``LambdaLR`` and ``MultiplicativeLR``: ``lr_lambda`` is one function of
    the epoch or one per parameter group.

    ``state_dict`` cannot hold functions: it stores ``None`` for them (and the
    ``__dict__`` of callable objects), so rebuild the scheduler with the same
    functions before ``load_state_dict``.
    """

    def __init__(self, optimizer: Optimizer, lr_lambda, last_epoch: int = -1) -> None:
        name = type(self).__name__
        check_optimizer(name, optimizer)
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != len(optimizer.param_groups):
                raise ValueError(f"{name}: expected {len(optimizer.param_groups)} "
                                 f"lr_lambdas, got {len(lr_lambda)}")
            self.lr_lambdas = list(lr_lambda)
        else:
            self.lr_lambdas = [lr_lambda] * len(optimizer.param_groups)
        for fn in self.lr_lambdas:
            if not callable(fn):
                raise TypeError(f"{name}: lr_lambda should be a function, "
                                f"got {type(fn).__name__}")
        super().__init__(optimizer, last_epoch)

    def state_dict(self) -> dict:
        state = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "lr_lambdas")}
        state["lr_lambdas"] = [function_state(fn) for fn in self.lr_lambdas]
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        state = dict(state_dict)
        saved = state.pop("lr_lambdas", [None] * len(self.lr_lambdas))
        self.__dict__.update(state)
        for fn, attrs in zip(self.lr_lambdas, saved, strict=True):
            if attrs is not None:
                fn.__dict__.update(attrs)


def function_state(fn):
    """What a state_dict keeps of a user function: None for a function or lambda (it
    cannot be saved), a copy of the attributes of a callable object."""
    return None if isinstance(fn, types.FunctionType) else dict(fn.__dict__)
