"""Weight averaging, as ``torch.optim.swa_utils``: ``AveragedModel`` keeps a running
average of a model's parameters (SWA, Izmailov et al. 2018, or an exponential moving
average), ``SWALR`` anneals the lr to a constant for the averaging phase, and
``update_bn`` recomputes BatchNorm statistics for the averaged weights.

    swa_model = AveragedModel(model)
    swa_sched = SWALR(opt, swa_lr=0.05)
    for epoch in range(epochs):
        train_one_epoch(model, opt)
        if epoch >= swa_start:
            swa_model.update_parameters(model)
            swa_sched.step()
    update_bn(loader, swa_model)
"""
from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable

import numpy as np

from graphgrad.autograd import Tensor, no_grad
from graphgrad.autograd.devices import check_device
from graphgrad.nn import Module
from graphgrad.nn.modules.normalization import _BatchNorm

from ._lr_base import per_group
from .lr_scheduler import LRScheduler
from .optimizer import Optimizer


def _lerp_(avg: np.ndarray, new: np.ndarray, weight: float) -> None:
    """``avg += weight * (new - avg)``, in the two forms PyTorch's ``lerp`` uses."""
    if abs(weight) < 0.5:
        avg += weight * (new - avg)
    else:
        avg[...] = new - (new - avg) * (1.0 - weight)


def _check_decay(decay: float) -> None:
    if not 0.0 <= decay <= 1.0:
        raise ValueError(f"invalid decay value {decay} provided: it must be in [0, 1]")


def get_ema_multi_avg_fn(decay: float = 0.999) -> Callable:
    """An in-place exponential moving average over lists of Tensors, for
    ``AveragedModel(multi_avg_fn=...)``: ``ema <- decay * ema + (1 - decay) * p``."""
    _check_decay(decay)

    def ema_update(ema_params: list, current_params: list, num_averaged) -> None:
        with no_grad():
            for ema, p in zip(ema_params, current_params, strict=True):
                if ema.dtype.kind == "f":
                    _lerp_(ema._data, p._data, 1.0 - decay)
                else:
                    ema._data[...] = ema._data * decay + p._data * (1.0 - decay)

    return ema_update


def get_swa_multi_avg_fn() -> Callable:
    """The in-place equal-weight running average over lists of Tensors: after ``n``
    models, ``avg <- avg + (p - avg) / (n + 1)``."""

    def swa_update(averaged_params: list, current_params: list, num_averaged) -> None:
        n = int(num_averaged)
        with no_grad():
            for avg, p in zip(averaged_params, current_params, strict=True):
                if avg.dtype.kind == "f":
                    _lerp_(avg._data, p._data, 1.0 / (n + 1))
                else:
                    avg._data[...] = avg._data + (p._data - avg._data) / (n + 1)

    return swa_update


def get_ema_avg_fn(decay: float = 0.999) -> Callable:
    """``avg_fn(ema, p, n) = decay * ema + (1 - decay) * p`` (one Tensor at a time)."""
    _check_decay(decay)

    def ema_update(ema_param: Tensor, current_param: Tensor, num_averaged) -> Tensor:
        with no_grad():
            return decay * ema_param + (1 - decay) * current_param

    return ema_update


def get_swa_avg_fn() -> Callable:
    """``avg_fn(avg, p, n) = avg + (p - avg) / (n + 1)`` (one Tensor at a time)."""

    def swa_update(averaged_param: Tensor, current_param: Tensor, num_averaged) -> Tensor:
        with no_grad():
            return averaged_param + (current_param - averaged_param) / (num_averaged + 1)

    return swa_update


class AveragedModel(Module):
    r"""A copy of ``model`` whose parameters are a running average of ``model``'s, as
    ``torch.optim.swa_utils.AveragedModel``.

    ``update_parameters(model)`` copies the parameters the first time, then folds
    them into the average: by default the equal-weight mean of all the models
    seen (SWA), ``avg <- avg + (p - avg) / (n + 1)`` after ``n``; or
    ``avg_fn(avg, p, n)`` (one Tensor at a time, returning the new value) or
    ``multi_avg_fn(avgs, ps, n)`` (lists, in place), e.g.
    ``multi_avg_fn=get_ema_multi_avg_fn(0.999)`` for an EMA.  Buffers (BatchNorm
    statistics) are copied from ``model`` unless ``use_buffers=True``, which
    averages them with the parameters.  The number of models averaged is the
    int64 buffer ``n_averaged``; ``forward`` runs the averaged copy (``module``).
    """

    def __init__(self, model: Module, device=None, avg_fn: Callable | None = None,
                 multi_avg_fn: Callable | None = None, use_buffers: bool = False) -> None:
        super().__init__()
        if avg_fn is not None and multi_avg_fn is not None:
            raise ValueError("AveragedModel: only one of avg_fn and multi_avg_fn should be "
                             "provided")
        if device is not None:
            check_device("AveragedModel", device)
        self.module = copy.deepcopy(model)
        self.register_buffer("n_averaged", Tensor(np.array(0, dtype=np.int64)))
        self.avg_fn = avg_fn
        self.multi_avg_fn = multi_avg_fn
        self.use_buffers = use_buffers

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def update_parameters(self, model: Module) -> None:
        """Fold ``model``'s current parameters (and buffers, with ``use_buffers``) into
        the average."""
        if self.use_buffers:
            mine = [*self.module.parameters(), *self.module.buffers()]
            theirs = [*model.parameters(), *model.buffers()]
        else:
            mine, theirs = list(self.module.parameters()), list(model.parameters())
        pairs = list(zip(mine, theirs, strict=False))
        n = int(self.n_averaged.item())
        with no_grad():
            if n == 0:
                for avg, p in pairs:
                    avg._data[...] = p._data
            elif self.multi_avg_fn is not None:  # called once per dtype, as PyTorch
                for dtype in dict.fromkeys(avg.dtype for avg, _ in pairs):
                    group = [(avg, p) for avg, p in pairs if avg.dtype == dtype]
                    self.multi_avg_fn([a.detach() for a, _ in group],
                                      [p.detach() for _, p in group], self.n_averaged)
            elif self.avg_fn is not None:
                for avg, p in pairs:
                    new = self.avg_fn(avg.detach(), p.detach(), self.n_averaged)
                    avg._data[...] = new._data if isinstance(new, Tensor) else new
            else:  # the equal-weight mean, as PyTorch computes it on the CPU
                for avg, p in pairs:
                    avg._data[...] = avg._data + (p._data - avg._data) / (n + 1)
            if not self.use_buffers:
                for mine_b, theirs_b in zip(self.module.buffers(), model.buffers(),
                                            strict=True):
                    mine_b._data[...] = theirs_b._data
            self.n_averaged._data += 1
        for avg in mine:
            avg._bump_version()


def update_bn(loader: Iterable, model: Module, device=None) -> None:
    """Recompute the running mean and variance of every BatchNorm layer of ``model``
    with one pass over ``loader`` (cumulative averages over its batches, as
    ``momentum=None``), as PyTorch's.  Each batch is a Tensor or a list/tuple whose
    first item is the input.  Momenta and the training mode are restored after."""
    momenta = {}
    for module in model.modules():
        if isinstance(module, _BatchNorm):
            module.reset_running_stats()
            momenta[module] = module.momentum
    if not momenta:
        return
    if device is not None:
        check_device("update_bn", device)
    was_training = model.training
    model.train()
    for module in momenta:
        module.momentum = None
    with no_grad():
        for batch in loader:
            if isinstance(batch, (list, tuple)):
                batch = batch[0]
            model(batch)
    for module, momentum in momenta.items():
        module.momentum = momentum
    model.train(was_training)


class SWALR(LRScheduler):
    r"""Anneal each group's lr to ``swa_lr`` over ``anneal_epochs`` epochs, then hold it,
    as ``torch.optim.swa_utils.SWALR``.  With ``a(t)`` the annealing curve
    (``"cos"``: ``(1 - cos(pi t)) / 2``; ``"linear"``: ``t``) and
    ``t = min(1, step / anneal_epochs)``, each step sets::

        lr = swa_lr * a(t) + lr_0 * (1 - a(t))

    where ``lr_0`` is the lr the annealing started from (recovered from the
    current lr, so it composes with a schedule that ran before).
    """

    def __init__(self, optimizer: Optimizer, swa_lr: float | list, anneal_epochs: int = 10,
                 anneal_strategy: str = "cos", last_epoch: int = -1) -> None:
        for lr, group in zip(per_group("swa_lr", optimizer, swa_lr), optimizer.param_groups,
                             strict=True):
            group["swa_lr"] = lr
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"SWALR: anneal_strategy must be one of 'cos' or 'linear', "
                             f"got {anneal_strategy!r}")
        self._anneal_strategy = anneal_strategy
        if not isinstance(anneal_epochs, int) or isinstance(anneal_epochs, bool) \
                or anneal_epochs < 0:
            raise ValueError(f"SWALR: anneal_epochs must be an integer >= 0, "
                             f"got {anneal_epochs!r}")
        self.anneal_epochs = anneal_epochs
        super().__init__(optimizer, last_epoch)

    def anneal_func(self, t: float) -> float:
        if self._anneal_strategy == "cos":
            return (1 - math.cos(math.pi * t)) / 2
        return t

    @staticmethod
    def _start_lr(lr: float, swa_lr: float, alpha: float) -> float:
        """The lr ``lr_0`` with ``lr = swa_lr * alpha + lr_0 * (1 - alpha)``."""
        if alpha == 1:
            return swa_lr
        return (lr - alpha * swa_lr) / (1 - alpha)

    def get_lr(self) -> list[float]:
        step = self._step_count - 1
        if self.anneal_epochs == 0:
            step = max(1, step)
        prev_alpha = self.anneal_func(max(0, min(1, (step - 1) / max(1, self.anneal_epochs))))
        starts = [self._start_lr(group["lr"], group["swa_lr"], prev_alpha)
                  for group in self.optimizer.param_groups]
        alpha = self.anneal_func(max(0, min(1, step / max(1, self.anneal_epochs))))
        return [group["swa_lr"] * alpha + lr * (1 - alpha)
                for group, lr in zip(self.optimizer.param_groups, starts, strict=True)]
