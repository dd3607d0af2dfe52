"""Affine maps: ``linear`` and ``bilinear``."""
from __future__ import annotations

import graphgrad.autograd as ag
from graphgrad.autograd import Tensor
from graphgrad.autograd.tensor import tensor_arg

__all__ = ["linear", "bilinear"]


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x W^T + b, over the last dim of x (the primitive ``autograd.linear``).

    Shape: x (*, in), W (out, in), b (out,) -> y (*, out).
    """
    return ag.linear(input, weight, bias)


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y_k = x1^T A_k x2 + b_k.

    Shape: x1 (*, in1), x2 (*, in2), A (out, in1, in2), b (out,) -> y (*, out).
    """
    x1, x2 = tensor_arg(input1), tensor_arg(input2)
    if x1.shape[-1:] != weight.shape[1:2] or x2.shape[-1:] != weight.shape[2:3]:
        raise ValueError(f"bilinear: inputs of shapes {x1.shape} and {x2.shape} do not end in "
                         f"in1_features = {weight.shape[1]} and in2_features = {weight.shape[2]}")
    if x1.shape[:-1] != x2.shape[:-1]:
        raise ValueError(f"bilinear: inputs of shapes {x1.shape} and {x2.shape} must agree in "
                         f"all but the last dim")
    out = ag.einsum("...i,kij,...j->...k", x1, weight, x2)
    return out if bias is None else out + bias
