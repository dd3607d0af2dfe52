"""Parameters to one flat vector and back (for second-order methods, line searches)."""
from __future__ import annotations

import graphgrad.autograd as ag
from graphgrad.autograd import Tensor, no_grad


def parameters_to_vector(parameters) -> Tensor:
    """The parameters flattened and concatenated into one 1-D tensor (differentiable)."""
    return ag.cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec: Tensor, parameters) -> None:
    """Copy consecutive slices of the 1-D ``vec`` into the parameters, in place."""
    if not isinstance(vec, Tensor) or vec.ndim != 1:
        raise TypeError(f"vector_to_parameters: expected a 1-D Tensor, got "
                        f"{type(vec).__name__} of shape {getattr(vec, 'shape', None)}")
    parameters = list(parameters)
    total = sum(p.numel() for p in parameters)
    if vec.numel() != total:
        raise ValueError(f"vector_to_parameters: the vector has {vec.numel()} elements but the "
                         f"parameters have {total}")
    start = 0
    with no_grad():
        for p in parameters:
            p.copy_(vec._data[start:start + p.numel()].reshape(p.shape))
            start += p.numel()
