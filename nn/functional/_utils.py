"""Helpers shared by the functional layers: input conversion, checks and loss reduction."""
from __future__ import annotations

import numpy as np

from graphgrad.autograd import Tensor
from graphgrad.autograd.arrays import device_of, namespace
from graphgrad.autograd.tensor import unwrap

REDUCTIONS = ("none", "mean", "sum")


def array_like(name: str, value, like):
    """``value`` (a Tensor, an array, a list or a number) as an array on the device of
    the array ``like``: host data is copied there explicitly; a Tensor on another device
    is an error naming ``name``, as in PyTorch."""
    data = unwrap(value)
    if isinstance(value, Tensor) and type(data) is not type(like) and \
            value.device != device_of(like):
        raise RuntimeError(f"{name}: expected all tensors to be on the same device, but found "
                           f"at least two devices, {device_of(like)} and {value.device}!")
    return namespace(like).asarray(data)


def check_reduction(name: str, reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"{name}: reduction must be 'none', 'mean' or 'sum', got {reduction!r}")


def reduce(loss: Tensor, reduction: str, name: str) -> Tensor:
    """``loss`` unchanged ("none"), summed ("sum") or averaged over all elements ("mean")."""
    check_reduction(name, reduction)
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def check_probability(name: str, p: float) -> None:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{name}: probability has to be between 0 and 1, but got {p}")


def check_size(layer, x, dim: int, expected: int, what: str) -> None:
    """Raise a ValueError naming ``layer`` (a Module or a name; formatted only on error)
    when ``x.shape[dim] != expected``."""
    shape = np.shape(unwrap(x))
    if len(shape) <= (dim if dim >= 0 else -dim - 1) or shape[dim] != expected:
        raise ValueError(f"{layer}: expected input with {what} = {expected} at dim {dim}, "
                         f"got input of shape {shape}")


def check_ndim(layer, x, allowed: tuple, layout: str) -> None:
    """Raise a ValueError naming ``layer`` when ``x.ndim`` is not in ``allowed``."""
    ndim = np.ndim(unwrap(x))
    if ndim not in allowed:
        dims = " or ".join(f"{n}D" for n in allowed)
        raise ValueError(f"{layer}: expected {dims} input {layout}, got {ndim}D input of "
                         f"shape {np.shape(unwrap(x))}")
