"""Fetching one batch from a dataset (in the main process or in a worker).

A map-style fetcher reads the samples at the given indices and collates them; an
iterable-style fetcher takes the next samples of its own iterator.  An error raised by
the dataset is raised again with the index that failed named in its message, the
original exception chained as its cause.
"""
from __future__ import annotations

from collections.abc import Callable

from graphgrad.autograd.tensor import Tensor

from ._collate import default_collate
from .dataset import Subset, TensorDataset


def _with_index(err: Exception, where: str) -> Exception:
    """A copy of ``err`` (same type where possible) whose message also says ``where``."""
    message = f"{err} (while loading {where})"
    try:
        return type(err)(message)
    except Exception:  # an exception type whose constructor wants more than a message
        return RuntimeError(f"{type(err).__name__}: {message}")


def _tensor_rows(dataset, index: list) -> list | None:
    """The batch ``default_collate`` would make of a TensorDataset's samples (also seen
    through plain Subsets), taken with one fancy index per tensor instead of one Tensor
    per sample; None for any other dataset."""
    while type(dataset) is Subset:
        index = [dataset.indices[i] for i in index]
        dataset = dataset.dataset
    if type(dataset) is not TensorDataset:
        return None
    return [Tensor._make(t._data[index]) for t in dataset.tensors]


class MapFetcher:
    """``fetch(index)``: the collated samples at a list of indices (or, without
    auto-collation, the converted sample at one index)."""

    def __init__(self, dataset, auto_collation: bool, collate_fn: Callable,
                 drop_last: bool) -> None:
        self.dataset, self.auto_collation, self.collate_fn = dataset, auto_collation, collate_fn

    def _get(self, index):
        try:
            return self.dataset[index]
        except Exception as err:
            name = type(self.dataset).__name__
            raise _with_index(err, f"index {index!r} of {name}") from err

    def _get_many(self, read: Callable, index: list):
        try:
            return read(index)
        except Exception as err:
            name = type(self.dataset).__name__
            raise _with_index(err, f"indices {index!r} of {name}") from err

    def fetch(self, index):
        if not self.auto_collation:
            return self.collate_fn(self._get(index))
        if self.collate_fn is default_collate:
            batch = self._get_many(lambda i: _tensor_rows(self.dataset, i), index)
            if batch is not None:
                return batch
        getitems = getattr(self.dataset, "__getitems__", None)
        if callable(getitems):
            return self.collate_fn(self._get_many(getitems, index))
        return self.collate_fn([self._get(i) for i in index])


class IterableFetcher:
    """``fetch(index)``: the next ``len(index)`` samples of the dataset's iterator,
    collated (fewer at the end of the stream, none with ``drop_last``), or the next
    sample alone without auto-collation.  Raises StopIteration once the stream is over.
    The iterator is made on the first fetch."""

    def __init__(self, dataset, auto_collation: bool, collate_fn: Callable,
                 drop_last: bool) -> None:
        self.dataset, self.auto_collation, self.collate_fn = dataset, auto_collation, collate_fn
        self.drop_last = drop_last
        self._iterator = None
        self._ended = False

    def fetch(self, index):
        if self._ended:
            raise StopIteration
        if self._iterator is None:
            self._iterator = iter(self.dataset)
        if not self.auto_collation:
            return self.collate_fn(next(self._iterator))
        samples = []
        for _ in index:
            try:
                samples.append(next(self._iterator))
            except StopIteration:
                self._ended = True
                break
        if not samples or (self.drop_last and len(samples) < len(index)):
            raise StopIteration
        return self.collate_fn(samples)
