"""Lookups by integer index: ``embedding`` and ``one_hot``."""
from __future__ import annotations

import numpy as np

import graphgrad.autograd as ag
from graphgrad.autograd import Tensor, no_grad
from graphgrad.autograd.arrays import is_array, namespace
from graphgrad.autograd.tensor import tensor_arg, unwrap

from ._utils import array_like

__all__ = ["embedding", "embedding_bag", "one_hot"]


def _indices(name: str, input, size: int, what: str, like) -> np.ndarray:
    """``input`` as an integer array on the device of array ``like``, every entry in
    [0, size), or a clear error."""
    idx = array_like(name, input, like)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{name}: expected integer indices (e.g. int64), got dtype {idx.dtype}")
    if idx.size:
        lo, hi = int(idx.min()), int(idx.max())
        if lo < 0 or hi >= size:
            bad = int(lo if lo < 0 else hi)
            raise IndexError(f"{name}: index {bad} is out of range for {size} {what} "
                             f"(expected 0 <= index < {size})")
    return idx


def embedding(input, weight: Tensor, padding_idx: int | None = None,
              max_norm: float | None = None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Rows of ``weight`` picked by the integer ``input``: out[...] = weight[input[...]].

    Shape: input (*) integers in [0, num_embeddings), weight (num_embeddings, D)
    -> (*, D).  The gradient scatter-adds into the picked rows (repeated indices
    accumulate); positions equal to ``padding_idx`` send no gradient.  With
    ``max_norm``, the picked rows whose ``norm_type``-norm exceeds it are
    rescaled in place first, as PyTorch does.  With ``scale_grad_by_freq`` the
    gradient reaching row i is divided by the number of times i occurs in ``input``.
    ``sparse`` is accepted for PyTorch's signature; the gradient is always dense.
    """
    n = weight.shape[0]
    idx = _indices("embedding", input, n, "embeddings", weight._data)
    if max_norm is not None:
        _renorm_rows(weight, namespace(idx).unique(idx), max_norm, norm_type)
    out = weight[idx]
    if scale_grad_by_freq:
        out = _scale_gradient(out, 1.0 / _counts(idx, n)[idx][..., None])
    if padding_idx is not None:
        pad = idx == (padding_idx % n if padding_idx < 0 else padding_idx)
        if pad.any():  # same values there, but the gradient is cut
            out = ag.where(pad[..., None], out.detach(), out)
    return out


def _counts(idx: np.ndarray, n: int) -> np.ndarray:
    return namespace(idx).bincount(idx.reshape(-1), minlength=n)


def _scale_gradient(x: Tensor, scale: np.ndarray) -> Tensor:
    """``x`` unchanged (exactly: the added term is 0), its gradient multiplied by ``scale``."""
    frozen = x.detach()
    return frozen + (x - frozen) * scale


def _renorm_rows(weight: Tensor, rows: np.ndarray, max_norm: float, norm_type: float) -> None:
    with no_grad():
        picked = weight._data[rows]
        xp = namespace(picked)
        norms = xp.linalg.norm(picked, ord=norm_type, axis=1, keepdims=True)
        scale = xp.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
        weight[rows] = (picked * scale).astype(weight.dtype)


def one_hot(tensor, num_classes: int = -1) -> Tensor:
    """int64 one-hot encoding: out[..., k] = 1 where tensor[...] == k.

    Shape: (*) -> (*, num_classes); ``num_classes=-1`` uses max + 1.
    """
    idx = unwrap(tensor)
    idx = idx if is_array(idx) else np.asarray(idx)
    if num_classes == -1:
        num_classes = int(idx.max()) + 1 if idx.size else 0
    idx = _indices("one_hot", idx, num_classes, "classes", idx)
    return Tensor._make((idx[..., None] == namespace(idx).arange(num_classes)).astype(np.int64))


_BAG_MODES = ("sum", "mean", "max")


def _bag_bounds(input: np.ndarray, offsets, include_last_offset: bool) -> tuple:
    """(flat indices, start and end of each bag in them) for embedding_bag's input forms."""
    xp = namespace(input)
    if input.ndim == 2:
        if offsets is not None:
            raise ValueError(f"embedding_bag: if input is 2D (shape {input.shape}), then offsets "
                             f"has to be None, as input is treated as a mini-batch of fixed "
                             f"length sequences")
        bags, length = input.shape
        starts = xp.arange(bags) * length
        return input.reshape(-1), starts, starts + length
    if input.ndim != 1:
        raise ValueError(f"embedding_bag: input has to be 1D or 2D, got shape {input.shape}")
    if offsets is None:
        raise ValueError("embedding_bag: offsets has to be a 1D Tensor but got None")
    o = array_like("embedding_bag", offsets, input)
    if o.ndim != 1 or o.dtype.kind not in "iu":
        raise ValueError(f"embedding_bag: offsets has to be a 1D tensor of integers, got shape "
                         f"{o.shape} and dtype {o.dtype}")
    n = input.shape[0]
    if o.size and o[0] != 0:
        raise ValueError(f"embedding_bag: offsets[0] has to be 0, i.e., the first sequence in "
                         f"the mini-batch has to start from position 0, got {int(o[0])}")
    if o.size and (bool((xp.diff(o) < 0).any()) or int(o[-1]) > n):
        raise ValueError(f"embedding_bag: offsets must be non-decreasing and at most the input "
                         f"length {n}, got {o.tolist()}")
    if include_last_offset:
        if not o.size or int(o[-1]) != n:  # PyTorch's result then depends on its code path
            raise ValueError(f"embedding_bag: with include_last_offset the last offset should "
                             f"be the size of the input, {n}, got offsets {o.tolist()}")
        return input, o[:-1], o[1:]
    return input, o, xp.concatenate([o[1:], xp.asarray([n], dtype=o.dtype)])


def embedding_bag(input, weight: Tensor, offsets=None, max_norm: float | None = None,
                  norm_type: float = 2, scale_grad_by_freq: bool = False, mode: str = "mean",
                  sparse: bool = False, per_sample_weights=None,
                  include_last_offset: bool = False, padding_idx: int | None = None) -> Tensor:
    """Sums, means or maxima of bags of embedding rows, without forming the (N, D) lookups
    of each bag separately.

    Bags: a 2-D ``input`` (B, L) is B bags of L indices; a 1-D ``input`` is cut at
    ``offsets`` (bag b = input[offsets[b]:offsets[b+1]], the last running to the end,
    or, with ``include_last_offset``, offsets has B + 1 entries and ends the last
    bag: it must be the input's length).  Per bag, over its indices i that are not ``padding_idx``:

        sum   sum_i w_i weight[i]   (w = ``per_sample_weights``, input's shape; else 1)
        mean  sum_i weight[i] / count
        max   the elementwise max of the rows (the gradient goes to the first maximum)

    An empty bag gives zeros.  Shape: -> (B, D).  ``max_norm``, ``norm_type`` and
    ``scale_grad_by_freq`` act as in ``embedding``; ``sparse`` is accepted only.
    """
    name = "embedding_bag"
    if weight.ndim != 2:
        raise ValueError(f"{name}: weight has to be a 2D Tensor, got shape {weight.shape}")
    if mode not in _BAG_MODES:
        raise ValueError(f"{name}: mode has to be one of sum, mean or max, got {mode!r}")
    if mode == "max" and scale_grad_by_freq:
        raise ValueError(f"{name}: max mode does not support scaling the gradient by the "
                         f"frequency")
    n, dim = weight.shape
    idx = _indices(name, input, n, "embeddings", weight._data)
    xp = namespace(idx)
    if per_sample_weights is not None:
        if np.shape(unwrap(per_sample_weights)) != idx.shape:
            raise ValueError(f"{name}: per_sample_weights (shape "
                             f"{np.shape(unwrap(per_sample_weights))}) must have the same shape as "
                             f"the input ({idx.shape})")
        if mode != "sum":
            raise ValueError(f"{name}: per_sample_weights is only supported for mode='sum', got "
                             f"mode={mode!r}")
    flat, starts, ends = _bag_bounds(idx, offsets, include_last_offset)
    if max_norm is not None:
        _renorm_rows(weight, xp.unique(flat), max_norm, norm_type)
    lengths = ends - starts
    width = max(int(lengths.max()) if lengths.size else 0, 1)  # one unused slot if all empty
    slots = xp.arange(width)
    inside = slots < lengths[:, None]  # (B, width): slot j of bag b is used
    where = xp.where(inside, starts[:, None] + slots, 0)  # position in flat
    ids = flat[where] if flat.size else xp.zeros(where.shape, dtype=np.int64)
    used = inside & (True if padding_idx is None else ids != padding_idx % n)
    picked = weight[ids]  # (B, width, D)
    if scale_grad_by_freq:
        picked = _scale_gradient(picked, 1.0 / xp.maximum(_counts(flat, n), 1)[ids][..., None])
    count = used.sum(1)
    if mode == "max":
        first = xp.argmax(xp.where(used[..., None], picked._data, -np.inf), axis=1)
        best = ag.take_along_dim(picked, first[:, None, :], 1).squeeze(1)
        return ag.where(count[:, None] > 0, best, 0.0)
    scale = used.astype(weight.dtype)
    if mode == "mean":
        scale = scale / xp.maximum(count, 1)[:, None]
    scale = Tensor._make(scale)
    if per_sample_weights is not None:  # one zero after them: the slot every empty bag reads
        w = tensor_arg(per_sample_weights).reshape(-1)
        scale = scale * ag.cat([w, ag.zeros(1, dtype=w.dtype, device=w.device)])[where]
    return (picked * scale[..., None]).sum(1)
