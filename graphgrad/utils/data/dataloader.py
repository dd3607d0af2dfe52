"""Mini-batches: ``Dataset``, ``TensorDataset`` and ``DataLoader``, as ``torch.utils.data``.

    ds = TensorDataset(X, Y)                       # arrays or Tensors, same first dim
    loader = DataLoader(ds, batch_size=64, shuffle=True)
    for xb, yb in loader:                          # Tensors of shape (64, ...)
        ...

Shuffling draws one permutation per epoch from the project's generator
(``graphgrad.autograd.random``), so ``gg.manual_seed(n)`` makes the batches, and with them
a whole training run, reproducible bit for bit.  ``loader.state_dict()`` holds
the current epoch's order and position, so a checkpoint taken in the middle of
an epoch resumes with the very next batch.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from graphgrad.autograd.random import generator as _project_generator
from graphgrad.autograd.tensor import Tensor


class Dataset:
    """A map-style dataset: ``dataset[i]`` is sample i and ``len(dataset)`` their number.

    Subclasses implement ``__getitem__`` and ``__len__``; they may also implement
    ``__getitems__(indices)`` returning a whole collated batch at once (the
    DataLoader then uses it instead of one ``__getitem__`` per sample).
    """

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")


class TensorDataset(Dataset):
    """Samples are the i-th rows of tensors (or arrays) that share their first dimension.

    ``dataset[i]`` is a tuple of Tensors, one per tensor given.
    """

    def __init__(self, *tensors) -> None:
        if not tensors:
            raise ValueError("TensorDataset: give at least one tensor")
        arrays = [t._data if isinstance(t, Tensor) else np.asarray(t) for t in tensors]
        if any(a.ndim == 0 for a in arrays):
            raise ValueError("TensorDataset: tensors must have a first (sample) dimension")
        sizes = [len(a) for a in arrays]
        if len(set(sizes)) != 1:
            raise ValueError(f"TensorDataset: size mismatch between tensors: first "
                             f"dimensions are {sizes}")
        self.tensors = tuple(t if isinstance(t, Tensor) else Tensor(a)
                             for t, a in zip(tensors, arrays, strict=True))

    def __getitem__(self, index):
        return tuple(Tensor(t._data[index]) for t in self.tensors)

    def __getitems__(self, indices: np.ndarray) -> tuple:
        # One fancy-indexing copy per tensor instead of len(indices) rows to stack.
        return tuple(Tensor._make(t._data[indices]) for t in self.tensors)

    def __len__(self) -> int:
        return len(self.tensors[0]._data)


def default_collate(batch: Sequence):
    """Stack a list of samples into a batch, as PyTorch's ``default_collate``.

    Tensors and arrays are stacked along a new first dimension; Python ints,
    floats and bools become int64, float64 and bool tensors; strings stay a
    list; tuples, lists and dicts are collated field by field (the structure
    of a sample is kept).
    """
    first = batch[0]
    if isinstance(first, Tensor):
        return Tensor._make(np.stack([x._data for x in batch]))
    if isinstance(first, (np.ndarray, np.generic)):
        return Tensor._make(np.stack([np.asarray(x) for x in batch]))
    if isinstance(first, bool):
        return Tensor._make(np.array(batch, dtype=np.bool_))
    if isinstance(first, int):
        return Tensor._make(np.array(batch, dtype=np.int64))
    if isinstance(first, float):
        return Tensor._make(np.array(batch, dtype=np.float64))
    if isinstance(first, (str, bytes)):
        return list(batch)
    if isinstance(first, Mapping):
        return {key: default_collate([sample[key] for sample in batch]) for key in first}
    if isinstance(first, tuple) and hasattr(first, "_fields"):  # namedtuple
        return type(first)(*(default_collate(list(f)) for f in zip(*batch, strict=True)))
    if isinstance(first, (tuple, list)):
        if any(len(sample) != len(first) for sample in batch):
            raise ValueError("default_collate: the samples of a batch must all have the same "
                             "number of fields")
        fields = [default_collate(list(f)) for f in zip(*batch, strict=True)]
        return tuple(fields) if isinstance(first, tuple) else fields
    raise TypeError(f"default_collate: can't batch samples of type {type(first).__name__} "
                    "(expected Tensors, arrays, numbers, strings, tuples, lists or dicts)")


class DataLoader:
    """Iterate over a dataset in mini-batches.

    ``DataLoader(dataset, batch_size=1, shuffle=False, drop_last=False,
    collate_fn=None, generator=None)``.  Each pass (epoch) visits every sample
    once, in order or, with ``shuffle``, in a fresh random order drawn from
    ``generator`` (default: the project's generator behind ``gg.manual_seed``).
    The last batch is smaller unless ``drop_last``.  ``collate_fn`` turns a list
    of samples into a batch (default: ``default_collate``).  ``len(loader)`` is
    the number of batches.
    """

    def __init__(self, dataset, batch_size: int = 1, shuffle: bool = False,
                 drop_last: bool = False, collate_fn: Callable | None = None,
                 generator: np.random.Generator | None = None) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive integer, "
                             f"got {batch_size!r}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.collate_fn = collate_fn
        self.generator = generator
        self._order: np.ndarray | None = None  # the latest epoch's sample order
        self._position = 0  # batches of that epoch handed out so far
        self._resume: tuple | None = None  # (order, position) set by load_state_dict

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self):
        """Start an epoch (a new order), or continue the one given to load_state_dict."""
        if self._resume is not None:
            order, start = self._resume
            self._resume = None
        else:
            n = len(self.dataset)
            if self.shuffle:
                rng = self.generator if self.generator is not None else _project_generator()
                order = rng.permutation(n)
            else:
                order = np.arange(n)
            start = 0
        self._order, self._position = order, start
        return self._batches(order, start)

    def _batches(self, order: np.ndarray, start: int):
        bs = self.batch_size
        for b in range(start, len(self)):
            if self._order is order:  # state_dict follows the latest epoch only
                self._position = b + 1
            yield self._fetch(order[b * bs:(b + 1) * bs])
        if self._order is order:  # exhausted: between epochs now
            self._order, self._position = None, 0

    def _fetch(self, indices: np.ndarray):
        if self.collate_fn is None and hasattr(self.dataset, "__getitems__"):
            return self.dataset.__getitems__(indices)
        samples = [self.dataset[int(i)] for i in indices]
        return (self.collate_fn or default_collate)(samples)

    def state_dict(self) -> dict:
        """Where the latest epoch stands: its sample order and the batches handed out.

        ``{"order": None, "position": 0}`` between epochs (once an iteration has
        been exhausted).  Taken in the loop body after the last batch, it says
        that epoch has no batches left, so a resumed loop finishes it at once.
        """
        if self._order is None:
            return {"order": None, "position": 0}
        return {"order": self._order.copy(), "position": self._position}

    def load_state_dict(self, state: dict) -> None:
        """Continue an epoch saved by ``state_dict``: the next ``iter()`` resumes it."""
        order = state["order"]
        if order is None:
            self._resume = None
            return
        order = np.asarray(order._data if isinstance(order, Tensor) else order)
        n = len(self.dataset)
        if order.shape != (n,) or order.dtype.kind not in "iu" or \
                (n and (order.min() < 0 or order.max() >= n)):
            raise ValueError(f"DataLoader.load_state_dict: order must be a permutation of "
                             f"range({n}), got a {order.dtype} array of shape {order.shape}")
        position = int(state["position"])
        if not 0 <= position <= len(self):
            raise ValueError(f"DataLoader.load_state_dict: position {position} is outside "
                             f"0..{len(self)} batches")
        self._resume = (order.astype(np.int64), position)
