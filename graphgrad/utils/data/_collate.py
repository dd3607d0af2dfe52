"""From samples to batches: ``default_collate`` and ``default_convert``, as PyTorch's.

``default_collate`` is what a DataLoader applies to the list of samples of one batch;
``default_convert`` is what it applies to each single sample when batching is off
(``batch_size=None``).  Both keep the structure of a sample (dicts stay dicts, named
tuples stay named tuples, lists stay lists) and turn its leaves into Tensors.
"""
from __future__ import annotations

import copy
from collections.abc import Mapping, MutableMapping, MutableSequence, Sequence

import numpy as np

from graphgrad.autograd.tensor import Tensor

__all__ = ["default_collate", "default_convert"]


def _is_text(array: np.ndarray) -> bool:
    """Strings and Python objects: arrays that cannot become a Tensor."""
    return array.dtype.kind in "SUO"


def _same_mapping(like: Mapping, items: dict) -> Mapping:
    """``items`` in the mapping type of ``like`` (an OrderedDict stays one); a plain dict
    when that type cannot be built from a dict."""
    try:
        if isinstance(like, MutableMapping):
            out = copy.copy(like)  # keeps extras such as a defaultdict's factory
            out.update(items)
            return out
        return type(like)(items)
    except TypeError:
        return items


def _same_sequence(like: Sequence, items: list) -> Sequence:
    """``items`` in the sequence type of ``like``; a plain tuple gives a list, as in
    PyTorch (a batch of ``(x, y)`` samples collates to ``[xs, ys]``)."""
    if isinstance(like, tuple):
        return items
    try:
        if isinstance(like, MutableSequence):
            out = copy.copy(like)
            for i, item in enumerate(items):
                out[i] = item
            return out
        return type(like)(items)
    except TypeError:
        return items


def _is_namedtuple(x) -> bool:
    return isinstance(x, tuple) and hasattr(x, "_fields")


def _stack(batch: Sequence) -> Tensor:
    """Stack same-shaped Tensors or arrays along a new first (batch) dimension."""
    arrays = [x._data if isinstance(x, Tensor) else np.asarray(x) for x in batch]
    if _is_text(arrays[0]):
        raise TypeError(f"default_collate: can't batch arrays of dtype {arrays[0].dtype} "
                        "(expected numbers or bools)")
    for i, a in enumerate(arrays):
        if a.shape != arrays[0].shape:
            raise RuntimeError(
                f"default_collate: the samples of a batch must all have the same shape to "
                f"be stacked, but entry 0 has shape {arrays[0].shape} and entry {i} has "
                f"shape {a.shape}")
    return Tensor._make(np.stack(arrays))


def default_collate(batch: Sequence):
    """Merge a list of samples into one batch, as ``torch.utils.data.default_collate``.

    By the type of the first sample:

    - Tensor or NumPy array: stacked into a Tensor with a new first dimension of size
      ``len(batch)`` (all samples must share one shape; the dtype is kept);
    - NumPy scalar: a 1-d Tensor of its dtype;
    - Python float: a float64 Tensor; Python int: an int64 Tensor (bool for bools);
    - str or bytes: the batch unchanged (a list of strings; a tuple for a field of tuple
      or list samples, as PyTorch);
    - mapping: the same mapping type, each key collated over the batch;
    - named tuple: the same named tuple, each field collated;
    - other sequence: field i of the result collates field i of every sample (all
      samples must have the same length); a tuple gives a *list*, as in PyTorch.
    """
    if len(batch) == 0:
        raise ValueError("default_collate: the batch is empty")
    first = batch[0]
    if isinstance(first, (Tensor, np.ndarray)):
        return _stack(batch)
    if isinstance(first, (np.bool_, np.number)):  # before float: np.float64 is a float
        return Tensor._make(np.asarray(batch))
    if isinstance(first, float):
        return Tensor(batch, dtype=np.float64)
    if isinstance(first, int):  # bools too: all-bool batches give a bool Tensor
        return Tensor(batch)
    if isinstance(first, (str, bytes)):
        return batch
    if isinstance(first, Mapping):
        return _same_mapping(first, {key: default_collate([sample[key] for sample in batch])
                                     for key in first})
    if isinstance(first, Sequence):
        lengths = [len(sample) for sample in batch]
        if any(n != lengths[0] for n in lengths):
            raise RuntimeError(
                f"default_collate: the samples of a batch must all have the same number of "
                f"fields, but got lengths {lengths}")
        fields = [default_collate(field) for field in zip(*batch, strict=True)]
        if _is_namedtuple(first):
            return type(first)(*fields)
        return _same_sequence(first, fields)
    raise TypeError(f"default_collate: can't batch samples of type {type(first).__name__} "
                    "(expected Tensors, arrays, numbers, strings, tuples, lists or dicts)")


def default_convert(data):
    """Turn the NumPy arrays and scalars inside one sample into Tensors, as
    ``torch.utils.data.default_convert`` (used when ``batch_size=None``).

    An array becomes a Tensor sharing its memory (string and object arrays are left
    alone); Tensors, Python numbers and strings are returned unchanged; mappings, named
    tuples and sequences are converted item by item, keeping their type, except that a
    plain tuple gives a list (as PyTorch).
    """
    if isinstance(data, Tensor):
        return data
    if isinstance(data, np.ndarray):
        return data if _is_text(data) else Tensor._make(data)
    if isinstance(data, (np.bool_, np.number)):
        return Tensor._make(np.asarray(data))
    if isinstance(data, Mapping):
        return _same_mapping(data, {key: default_convert(data[key]) for key in data})
    if _is_namedtuple(data):
        return type(data)(*(default_convert(x) for x in data))
    if isinstance(data, Sequence) and not isinstance(data, (str, bytes)):
        return _same_sequence(data, [default_convert(x) for x in data])
    return data
