"""An epoch of a DataLoader: its index batches, drawn up front where the sampler has a
length, and how many were handed out; saved to and restored from a state dict.

Each epoch first draws a base seed for the workers, then the sampler's order, both from
the loader's ``generator``, whether or not there are workers: so ``num_workers`` changes
where batches are loaded, never which batches come or what the generator draws after.
"""
from __future__ import annotations

import math
from collections.abc import Sized

import numpy as np

from graphgrad.autograd.random import rng
from graphgrad.autograd.tensor import Tensor

from .sampler import RandomSampler, SequentialSampler


class Epoch:
    """One pass over the data: its index batches and how many were handed out.

    The index batches of a map-style dataset with a sized sampler are drawn up front
    (``order``: the sampler's indices; ``bounds``: where each batch starts and ends, None
    when each index is a batch of its own), so the epoch can be saved and resumed;
    otherwise they are read from ``stream`` as needed.
    """

    def __init__(self, base_seed: int, order=None, bounds=None, stream=None) -> None:
        self.base_seed, self.order, self.bounds, self.stream = base_seed, order, bounds, stream
        self.position = 0  # batches handed out
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


def _base_seed(loader) -> int:
    return int(rng(loader.generator).integers(2**63))


def is_ordered(loader) -> bool:
    """Whether the loader's epochs are drawn up front (and can be saved): a map-style
    dataset whose sampler (or custom batch sampler) has a length."""
    source = loader.sampler if loader._own_batching else loader._index_sampler
    return not loader._is_iterable and isinstance(source, Sized)


def draw_epoch(loader) -> Epoch:
    """A new epoch: the base seed, then the index batches (see the module doc)."""
    base_seed = _base_seed(loader)
    if not is_ordered(loader):
        return Epoch(base_seed, stream=iter(loader._index_sampler))
    if loader._own_batching:
        order = list(loader.sampler)
        return Epoch(base_seed, order, _chunk_bounds(len(order), loader.batch_size,
                                                     loader.drop_last))
    if loader.batch_sampler is None:
        return Epoch(base_seed, list(loader.sampler))
    batches = [list(batch) for batch in loader.batch_sampler]
    bounds = [0, *np.cumsum([len(batch) for batch in batches]).tolist()]
    return Epoch(base_seed, [i for batch in batches for i in batch], bounds)


def epoch_state(epoch: Epoch | None, own_batching: bool) -> dict:
    """What ``DataLoader.state_dict`` returns for ``epoch`` (see there)."""
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
    if not own_batching and epoch.bounds is not None:
        state["batch_sizes"] = np.diff(epoch.bounds)
    return state


def _check_order(loader, order: np.ndarray, expected: int | None) -> None:
    """``order`` must be what the loader's sampler could have drawn: ``expected`` integers
    (any number when None) in range(len(dataset)), all distinct for a sequential or
    shuffled loader."""
    n = len(loader.dataset) if isinstance(loader.dataset, Sized) else None
    s = loader.sampler
    permutation = type(s) is SequentialSampler or (
        type(s) is RandomSampler and not s.replacement and s.num_samples == n)
    ok = order.ndim == 1 and order.dtype.kind in "iu" \
        and (expected is None or len(order) == expected) \
        and (n is None or not len(order) or (order.min() >= 0 and order.max() < n)) \
        and (not permutation or len(np.unique(order)) == len(order))
    if not ok:
        count = "" if expected is None else f"{expected} "
        what = f"a permutation of range({n})" if permutation else \
            f"{count}integer indices in range({n})"
        raise ValueError(f"DataLoader.load_state_dict: order must be {what}, got a "
                         f"{order.dtype} array of shape {order.shape}")


def restore_epoch(loader, state: dict) -> Epoch | None:
    """The epoch saved in ``state`` by ``epoch_state``, checked against the loader."""
    if state["order"] is None:
        return None
    if not is_ordered(loader):
        raise TypeError("DataLoader.load_state_dict: this loader's epochs have no order to "
                        "resume (an IterableDataset or a sampler without len())")
    order = state["order"]
    order = np.asarray(order._data if isinstance(order, Tensor) else order)
    custom = loader.batch_sampler is not None and not loader._own_batching
    _check_order(loader, order, None if custom else len(loader.sampler))
    if loader._own_batching:
        bounds = _chunk_bounds(len(order), loader.batch_size, loader.drop_last)
    elif custom:
        sizes = np.asarray(state.get("batch_sizes", []), dtype=np.int64)
        if sizes.sum() != len(order) or np.any(sizes < 1):
            raise ValueError(f"DataLoader.load_state_dict: batch_sizes {sizes.tolist()} must "
                             f"be positive and sum to the {len(order)} indices")
        bounds = [0, *np.cumsum(sizes).tolist()]
    else:
        bounds = None
    base_seed = state.get("base_seed")
    if base_seed is None:  # a state saved before base seeds were recorded
        base_seed = _base_seed(loader)
    epoch = Epoch(int(base_seed), order.astype(np.int64).tolist(), bounds)
    position = int(state["position"])
    if not 0 <= position <= len(epoch):
        raise ValueError(f"DataLoader.load_state_dict: position {position} is outside "
                         f"0..{len(epoch)} batches")
    epoch.position = position
    return epoch
