"""``DataLoader``: iterate over a dataset in batches, as ``torch.utils.data.DataLoader``.

    ds = TensorDataset(X, Y)                       # arrays or Tensors, same first dim
    loader = DataLoader(ds, batch_size=64, shuffle=True, num_workers=2)
    for xb, yb in loader:                          # Tensors of shape (64, ...)
        ...

Each epoch (each ``iter(loader)``) first draws a base seed for the workers, then the
sampler's order, both from ``generator`` (None: the project's generator behind
``gg.manual_seed``), whether or not there are workers (see ``_epoch``).  A worker w seeds
its own random sources with base seed + w.

``loader.state_dict()`` holds the current epoch's order and the number of batches handed
out, so a checkpoint taken in the middle of an epoch resumes with the very next batch.
"""
from __future__ import annotations

import functools
import math
import multiprocessing
import multiprocessing.context
import os
import warnings
from collections.abc import Callable, Iterable

from ._collate import default_collate, default_convert
from ._epoch import Epoch, draw_epoch, epoch_state, restore_epoch
from ._fetch import IterableFetcher, MapFetcher
from ._multiprocessing import MultiProcessIter
from ._pin import pin_batch, pinning
from ._worker import get_worker_info
from .dataset import IterableDataset
from .sampler import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    _InfiniteConstantSampler,
)

__all__ = ["DataLoader", "default_collate", "default_convert", "get_worker_info"]

_FIXED_AFTER_INIT = ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset",
                     "persistent_workers")


def _length(dataset, is_iterable: bool, index_sampler, batch_size, drop_last) -> int:
    """Batches in an epoch: from the index sampler, or for an IterableDataset from its
    ``len()`` (an estimate: the stream may be split unevenly across workers)."""
    if not is_iterable:
        return len(index_sampler)
    n = len(dataset)
    if batch_size is None:
        return n
    return n // batch_size if drop_last else math.ceil(n / batch_size)


class _SingleProcessIter:
    """One epoch loaded in the main process."""

    def __init__(self, loader: DataLoader, epoch: Epoch) -> None:
        self._epoch, self._indices = epoch, epoch.indices()
        self._fetcher = (IterableFetcher if loader._is_iterable else MapFetcher)(
            loader.dataset, loader._auto_collation, loader.collate_fn, loader.drop_last)
        self._length = loader._length_fn()
        self._pin, self._pin_device = loader._pin, loader.pin_memory_device

    def __iter__(self):
        return self

    def __len__(self) -> int:
        return self._length()

    def __next__(self):
        try:
            index = next(self._indices)
            self._epoch.advance()
            batch = self._fetcher.fetch(index)
            return pin_batch(batch, self._pin_device) if self._pin else batch
        except StopIteration:
            self._epoch.finish()
            raise


class DataLoader:
    """Iterate over ``dataset`` in batches, as ``torch.utils.data.DataLoader``.

    A map-style dataset is read in the order of ``sampler`` (default: ``RandomSampler``
    with ``shuffle``, else ``SequentialSampler``), grouped by ``batch_sampler`` (default:
    ``BatchSampler(sampler, batch_size, drop_last)``); each batch is the list of its
    samples merged by ``collate_fn`` (default: ``default_collate``).  ``batch_size=None``
    turns batching off: each sample goes through ``default_convert`` alone.  An
    ``IterableDataset`` is read as a stream and takes no sampler or shuffle.

    With ``num_workers > 0`` batches are loaded by that many worker processes (fork where
    the platform has it, or ``multiprocessing_context``), each holding
    ``prefetch_factor`` batches in flight, and come back in the same order as without
    workers.  ``worker_init_fn(worker_id)`` runs first in each worker;
    ``get_worker_info()`` tells the dataset which worker it is in.  Workers stop at the
    end of each epoch, unless ``persistent_workers``, then when the loader is collected.
    An error in a worker is raised in the main process naming the worker; an error in
    the dataset names the index.  ``timeout`` (seconds, 0 = none) bounds the wait for a
    worker's batch.  ``pin_memory=True`` hands out batches whose tensors are in pinned
    host memory (faster to move to a GPU) where a device backend is available; without
    one it warns and does nothing, as PyTorch's.  ``len(loader)`` is the number of
    batches.
    """

    def __init__(self, dataset, batch_size: int | None = 1, shuffle: bool | None = None,
                 sampler: Sampler | Iterable | None = None,
                 batch_sampler: Sampler | Iterable | None = None, num_workers: int = 0,
                 collate_fn: Callable | None = None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0,
                 worker_init_fn: Callable | None = None, multiprocessing_context=None,
                 generator=None, *, prefetch_factor: int | None = None,
                 persistent_workers: bool = False, pin_memory_device: str = "") -> None:
        if isinstance(num_workers, bool) or not isinstance(num_workers, int) \
                or num_workers < 0:
            raise ValueError("num_workers option should be a non-negative integer; use "
                             f"num_workers=0 to disable multiprocessing, got {num_workers!r}")
        if timeout < 0:
            raise ValueError(f"timeout option should be non-negative, got {timeout}")
        if timeout > 0 and num_workers == 0:
            raise ValueError("timeout option applies to worker processes only: set "
                             "num_workers > 0 or timeout=0")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in "
                             "multiprocessing: let num_workers > 0 to enable multiprocessing, "
                             "otherwise set prefetch_factor to None")
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        if prefetch_factor is not None and (not isinstance(prefetch_factor, int)
                                            or prefetch_factor < 1):
            raise ValueError(f"prefetch_factor option should be a positive integer, got "
                             f"{prefetch_factor!r}")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self._is_iterable = isinstance(dataset, IterableDataset)
        if self._is_iterable:
            for name, value in (("shuffle", shuffle), ("sampler", sampler),
                                ("batch_sampler", batch_sampler)):
                if value not in (None, False):
                    raise ValueError(f"DataLoader with IterableDataset: expected unspecified "
                                     f"{name} option, but got {name}={value}")
        shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")
        if sampler is None:
            if self._is_iterable:
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        self._own_batching = batch_size is not None and batch_sampler is None
        if self._own_batching:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self.persistent_workers = persistent_workers
        self._epoch: Epoch | None = None  # the latest epoch started
        self._resume: Epoch | None = None  # an epoch set by load_state_dict, not started
        self._iterator: MultiProcessIter | None = None  # the persistent workers' iterator
        self._initialized = True
        self._pin = pinning(pin_memory, pin_memory_device)
        self._warn_if_many_workers()

    def __setattr__(self, name: str, value) -> None:
        if name in _FIXED_AFTER_INIT and getattr(self, "_initialized", False):
            raise ValueError(f"{name} attribute should not be set after DataLoader is "
                             "initialized")
        super().__setattr__(name, value)

    @property
    def multiprocessing_context(self):
        return self._multiprocessing_context

    @multiprocessing_context.setter
    def multiprocessing_context(self, context) -> None:
        if context is not None:
            if self.num_workers == 0:
                raise ValueError("multiprocessing_context can only be used with multi-process "
                                 "loading (num_workers > 0), but got num_workers=0")
            if isinstance(context, str):
                methods = multiprocessing.get_all_start_methods()
                if context not in methods:
                    raise ValueError(f"multiprocessing_context option should specify a valid "
                                     f"start method in {methods!r}, but got "
                                     f"multiprocessing_context={context!r}")
                context = multiprocessing.get_context(context)
            if not isinstance(context, multiprocessing.context.BaseContext):
                raise TypeError("multiprocessing_context option should be a valid context "
                                "object or a string specifying the start method, but got "
                                f"multiprocessing_context={context}")
        self._multiprocessing_context = context

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None

    @property
    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def _length_fn(self) -> Callable[[], int]:
        """``len(loader)`` for an iterator to call, without holding on to the loader."""
        return functools.partial(_length, self.dataset, self._is_iterable,
                                 self._index_sampler, self.batch_size, self.drop_last)

    def __len__(self) -> int:
        return self._length_fn()()

    def _warn_if_many_workers(self) -> None:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
            else os.cpu_count()
        if cpus is not None and self.num_workers > cpus:
            warnings.warn(f"This DataLoader will create {self.num_workers} worker processes, "
                          f"more than the {cpus} CPUs this process may use; it may run slowly "
                          "or freeze", stacklevel=3)

    def __iter__(self):
        """Start an epoch, or continue the one given to ``load_state_dict``."""
        epoch, self._resume = self._resume or draw_epoch(self), None
        self._epoch = epoch
        if self.num_workers == 0:
            return _SingleProcessIter(self, epoch)
        if self._iterator is not None and self._iterator.running:
            self._iterator.reset(epoch)
            return self._iterator
        iterator = MultiProcessIter(self, epoch, epoch.base_seed)
        if self.persistent_workers:
            self._iterator = iterator
        return iterator

    # ------------------------------------------------------------- checkpoints
    def state_dict(self) -> dict:
        """Where the latest epoch stands: its sample order, the batches handed out and the
        workers' base seed (``batch_sizes`` too with a custom ``batch_sampler``).

        ``{"order": None, "position": 0}`` between epochs (once an iteration has been
        exhausted).  Taken in the loop body after the last batch, it says that epoch has
        no batches left, so a resumed loop finishes it at once.  An IterableDataset (or a
        sampler without ``len()``) has no order to save: TypeError.
        """
        return epoch_state(self._resume or self._epoch, self._own_batching)

    def load_state_dict(self, state: dict) -> None:
        """Continue an epoch saved by ``state_dict``: the next ``iter()`` resumes it."""
        self._resume = restore_epoch(self, state)
