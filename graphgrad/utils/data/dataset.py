"""Datasets, as ``torch.utils.data``'s: map-style (``dataset[i]``) and iterable-style
(``iter(dataset)``), with ways to combine and split them.
"""
from __future__ import annotations

import bisect
import itertools
import math
import warnings
from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from graphgrad.autograd.random import rng
from graphgrad.autograd.tensor import Tensor

__all__ = ["ChainDataset", "ConcatDataset", "Dataset", "IterableDataset", "Subset",
           "TensorDataset", "random_split"]


class Dataset:
    """A map-style dataset: ``dataset[i]`` is sample i.

    Subclasses implement ``__getitem__`` and, for the default samplers, ``__len__``.  They
    may also implement ``__getitems__(indices)`` returning the list of samples for a list
    of indices in one call (the DataLoader then uses it for each batch).  ``a + b`` chains
    two datasets into a ``ConcatDataset``.
    """

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __add__(self, other: Dataset) -> ConcatDataset:
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """An iterable-style dataset: ``iter(dataset)`` yields the samples (a stream, with no
    indices).  With DataLoader workers each worker iterates its own copy, so a dataset
    that should not repeat its samples splits the work by ``get_worker_info()``."""

    def __iter__(self) -> Iterator:
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")

    def __add__(self, other: Dataset) -> ChainDataset:
        return ChainDataset([self, other])


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

    def __len__(self) -> int:
        return len(self.tensors[0]._data)


class ConcatDataset(Dataset):
    """Map-style datasets one after the other: index i of the whole is index
    ``i - cumulative_sizes[k-1]`` of ``datasets[k]``, the first one whose cumulative size
    exceeds i.  Negative indices count from the end."""

    def __init__(self, datasets: Iterable[Dataset]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("ConcatDataset does not support IterableDataset "
                                "(chain them with ChainDataset)")
        self.cumulative_sizes = list(itertools.accumulate(len(d) for d in self.datasets))

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index):
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"ConcatDataset: index {index} is out of range for {n} samples")
        if index < 0:
            index += n
        k = bisect.bisect_right(self.cumulative_sizes, index)
        return self.datasets[k][index - (self.cumulative_sizes[k - 1] if k else 0)]


class ChainDataset(IterableDataset):
    """Iterable datasets one after the other (what ``a + b`` gives for iterable ones)."""

    def __init__(self, datasets: Iterable[Dataset]) -> None:
        self.datasets = datasets

    def _checked(self):
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise TypeError(f"ChainDataset only supports IterableDataset, got "
                                f"{type(d).__name__}")
            yield d

    def __iter__(self) -> Iterator:
        for d in self._checked():
            yield from d

    def __len__(self) -> int:
        return sum(len(d) for d in self._checked())


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order: ``subset[i]`` is
    ``dataset[indices[i]]``."""

    def __init__(self, dataset: Dataset, indices: Sequence[int]) -> None:
        if type(self).__getitem__ is not Subset.__getitem__ \
                and type(self).__getitems__ is Subset.__getitems__:
            # Subset.__getitems__ reads the wrapped dataset directly, which would bypass
            # the subclass's own __getitem__ in a DataLoader.
            raise NotImplementedError(
                f"{type(self).__name__} overrides __getitem__ but not __getitems__; "
                "override both (e.g. __getitems__ returning [self[i] for i in indices])")
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, index):
        if isinstance(index, list):
            return self.dataset[[self.indices[i] for i in index]]
        return self.dataset[self.indices[index]]

    def __getitems__(self, indices: list) -> list:
        wrapped = [self.indices[i] for i in indices]
        getitems = getattr(self.dataset, "__getitems__", None)
        if callable(getitems):
            return getitems(wrapped)
        return [self.dataset[i] for i in wrapped]

    def __len__(self) -> int:
        return len(self.indices)


def _fraction_lengths(n: int, fractions: Sequence[float]) -> list[int]:
    """Split n samples by fractions summing to 1: floor(n * f) each, then the leftover
    samples one at a time to the splits in turn from the first."""
    for i, f in enumerate(fractions):
        if not 0 <= f <= 1:
            raise ValueError(f"random_split: fraction at index {i} is not between 0 and 1, "
                             f"got {f}")
    lengths = [math.floor(n * f) for f in fractions]
    for i in range(n - sum(lengths)):
        lengths[i % len(lengths)] += 1
    for i, length in enumerate(lengths):
        if length == 0:
            warnings.warn(f"random_split: length of split at index {i} is 0; this might "
                          "result in an empty dataset", stacklevel=3)
    return lengths


def random_split(dataset: Dataset, lengths: Sequence[int | float],
                 generator=None) -> list[Subset]:
    """Split ``dataset`` into non-overlapping random ``Subset``s of the given lengths.

    ``lengths`` are sample counts summing to ``len(dataset)``, or fractions summing to
    1 (each split gets ``floor(n * fraction)`` samples and the remainder is dealt out
    one by one from the first split).  One permutation of ``range(n)`` is drawn from
    ``generator`` (None: the project's generator) and cut into consecutive pieces.
    """
    n = len(dataset)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        lengths = _fraction_lengths(n, lengths)
    if any(length < 0 for length in lengths) or sum(lengths) != n:
        raise ValueError(f"random_split: lengths {list(lengths)} must be non-negative and sum "
                         f"to the length of the input dataset ({n})")
    order = rng(generator).permutation(n).tolist()
    ends = itertools.accumulate(lengths)
    return [Subset(dataset, order[end - length:end])
            for end, length in zip(ends, lengths, strict=True)]
