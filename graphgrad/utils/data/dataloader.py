"""``DataLoader``: iterate over a dataset in batches, as ``torch.utils.data.DataLoader``.

    ds = TensorDataset(X, Y)                       # arrays or Tensors, same first dim
    loader = DataLoader(ds, batch_size=64, shuffle=True, num_workers=2)
    for xb, yb in loader:                          # Tensors of shape (64, ...)
        ...

Each epoch (each ``iter(loader)``) first draws a base seed for the workers, then the
sampler's order, both from ``generator`` (None: the project's generator behind
``gg.manual_seed``), whether or not there are workers; so ``num_workers`` changes where
batches are loaded, never which batches come or what the generator draws afterwards.
A worker w seeds its own random sources with base seed + w.

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
from collections.abc import Callable, Iterable, Sized

import numpy as np

from graphgrad.autograd.random import rng
from graphgrad.autograd.tensor import Tensor

from ._collate import default_collate, default_convert
from ._fetch import IterableFetcher, MapFetcher
from ._multiprocessing import MultiProcessIter
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


class _Epoch:
    """One pass over the data: its index batches and how many were handed out.

    The index batches of a map-style dataset with a sized sampler are drawn up front
    (``order``: the sampler's indices; ``bounds``: where each batch starts and ends, None
    when each index is a batch of its own), so the epoch can be saved and resumed;
    otherwise they are read from ``stream`` as needed.
    """

    def __init__(self, base_seed: int, order=None, bounds=None, stream=None,
                 position: int = 0) -> None:
        self.base_seed, self.order, self.bounds, self.stream = base_seed, order, bounds, stream
        self.position = position
        self.finished = False

    def __len__(self) -> int:
        return len(self.order) if self.bounds is None else len(self.bounds) - 1

    def indices(self):
        """The index batches not yet handed out."""
        if self.stream is not None:
            yield from self.stream
        elif self.bounds is None:
            yield from self.order[self.position:]
        else:
            for b in range(self.position, len(self)):
                yield self.order[self.bounds[b]:self.bounds[b + 1]]

    def advance(self) -> None:
        self.position += 1

    def finish(self) -> None:
        self.finished = True


def _chunk_bounds(n: int, batch_size: int, drop_last: bool) -> list[int]:
    batches = n // batch_size if drop_last else math.ceil(n / batch_size)
    return [min(b * batch_size, n) for b in range(batches + 1)]


class _SingleProcessIter:
    """One epoch loaded in the main process."""

    def __init__(self, loader: DataLoader, epoch: _Epoch) -> None:
        self._epoch, self._indices = epoch, epoch.indices()
        self._fetcher = (IterableFetcher if loader._is_iterable else MapFetcher)(
            loader.dataset, loader._auto_collation, loader.collate_fn, loader.drop_last)
        self._length = loader._length_fn()

    def __iter__(self):
        return self

    def __len__(self) -> int:
        return self._length()

    def __next__(self):
        try:
            index = next(self._indices)
            self._epoch.advance()
            return self._fetcher.fetch(index)
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
    worker's batch.  ``pin_memory`` has nothing to pin on the CPU and is accepted as a
    no-op.  ``len(loader)`` is the number of batches.
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
        self._epoch: _Epoch | None = None  # the latest epoch started
        self._resume: _Epoch | None = None  # an epoch set by load_state_dict, not started
        self._iterator: MultiProcessIter | None = None  # the persistent workers' iterator
        self._initialized = True
        if pin_memory:
            warnings.warn("DataLoader: pin_memory=True has no effect: there is no "
                          "accelerator, memory is not pinned", stacklevel=2)
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

    def _ordered(self) -> bool:
        """Whether an epoch's index batches are drawn up front (and can be saved): for a
        map-style dataset whose sampler (or custom batch sampler) has a length."""
        source = self.sampler if self._own_batching else self._index_sampler
        return not self._is_iterable and isinstance(source, Sized)

    def _new_epoch(self) -> _Epoch:
        """The base seed, then the epoch's index batches, drawn now (see module doc)."""
        base_seed = int(rng(self.generator).integers(2**63))
        if not self._ordered():
            return _Epoch(base_seed, stream=iter(self._index_sampler))
        if self._own_batching:
            order = list(self.sampler)
            return _Epoch(base_seed, order, _chunk_bounds(len(order), self.batch_size,
                                                          self.drop_last))
        if self.batch_sampler is None:
            return _Epoch(base_seed, list(self.sampler))
        batches = [list(batch) for batch in self.batch_sampler]
        bounds = [0, *np.cumsum([len(batch) for batch in batches]).tolist()]
        return _Epoch(base_seed, [i for batch in batches for i in batch], bounds)

    def __iter__(self):
        """Start an epoch, or continue the one given to ``load_state_dict``."""
        epoch, self._resume = self._resume or self._new_epoch(), None
        self._epoch = epoch
        if self.num_workers == 0:
            return _SingleProcessIter(self, epoch)
        if self._iterator is not None:
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
        no batches left, so a resumed loop finishes it at once.
        """
        epoch = self._resume or self._epoch
        if epoch is None or epoch.finished:
            return {"order": None, "position": 0}
        if epoch.order is None:
            raise TypeError("DataLoader.state_dict: the epoch has no order to save (an "
                            "IterableDataset or a sampler without len())")
        try:
            order = np.asarray(epoch.order, dtype=np.int64)
        except (TypeError, ValueError):
            raise TypeError("DataLoader.state_dict: the sampler's indices are not integers"
                            ) from None
        state = {"order": order, "position": epoch.position, "base_seed": epoch.base_seed}
        if not self._own_batching and epoch.bounds is not None:
            state["batch_sizes"] = np.diff(epoch.bounds)
        return state

    def load_state_dict(self, state: dict) -> None:
        """Continue an epoch saved by ``state_dict``: the next ``iter()`` resumes it."""
        if state["order"] is None:
            self._resume = None
            return
        if not self._ordered():
            raise TypeError("DataLoader.load_state_dict: this loader's epochs have no order "
                            "to resume (an IterableDataset or a sampler without len())")
        order = state["order"]
        order = np.asarray(order._data if isinstance(order, Tensor) else order)
        custom = self.batch_sampler is not None and not self._own_batching
        self._check_order(order, None if custom else len(self.sampler))
        if self._own_batching:
            bounds = _chunk_bounds(len(order), self.batch_size, self.drop_last)
        elif custom:
            sizes = np.asarray(state.get("batch_sizes", []), dtype=np.int64)
            if sizes.sum() != len(order) or np.any(sizes < 1):
                raise ValueError(f"DataLoader.load_state_dict: batch_sizes {sizes.tolist()} "
                                 f"must be positive and sum to the {len(order)} indices")
            bounds = [0, *np.cumsum(sizes).tolist()]
        else:
            bounds = None
        base_seed = state.get("base_seed")
        if base_seed is None:  # a state saved before base seeds were recorded
            base_seed = int(rng(self.generator).integers(2**63))
        epoch = _Epoch(int(base_seed), order.astype(np.int64).tolist(), bounds)
        position = int(state["position"])
        if not 0 <= position <= len(epoch):
            raise ValueError(f"DataLoader.load_state_dict: position {position} is outside "
                             f"0..{len(epoch)} batches")
        epoch.position = position
        self._resume = epoch

    def _check_order(self, order: np.ndarray, expected: int | None) -> None:
        """``order`` must be what this loader's sampler could have drawn: ``expected``
        integers (any number when None) in range(len(dataset)), all distinct for a
        sequential or shuffled loader."""
        n = len(self.dataset) if isinstance(self.dataset, Sized) else None
        s = self.sampler
        permutation = type(s) is SequentialSampler or (
            type(s) is RandomSampler and not s.replacement and s.num_samples == n)
        ok = order.ndim == 1 and order.dtype.kind in "iu" \
            and (expected is None or len(order) == expected) \
            and (n is None or not len(order) or (order.min() >= 0 and order.max() < n)) \
            and (not permutation or len(np.unique(order)) == len(order))
        if not ok:
            what = f"a permutation of range({n})" if permutation else \
                f"{'' if expected is None else expected} integer indices in range({n})"
            raise ValueError(f"DataLoader.load_state_dict: order must be {what}, got a "
                             f"{order.dtype} array of shape {order.shape}")
