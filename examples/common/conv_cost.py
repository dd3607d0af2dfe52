"""Computational cost of convolutions: the course's multiply count, by formula and by hooks.

A convolution producing an output of H_out x W_out x C_out computes each output
number as a dot product of a kh x kw x (C_in / groups) filter with a patch, so

    multiply-adds = H_out * W_out * C_out * kh * kw * C_in / groups

(the course's "number of filter parameters x number of filter positions x
number of filters").  A transposed convolution costs the same as the
convolution it is the adjoint of (C_in and C_out swapped, positions of its
input), and a fully connected layer costs in * out per sample.
``count_macs(model, x)`` measures the cost of a whole network by forward hooks
on its ``Conv2d``, ``ConvTranspose2d`` and ``Linear`` layers.
"""
from __future__ import annotations

import math

import graphgrad as gg
from graphgrad import nn

__all__ = ["conv_macs", "count_macs"]


def conv_macs(c_in: int, c_out: int, kernel_size, out_size, groups: int = 1) -> int:
    """Multiply-adds of one convolution on one sample: prod(out_size) * c_out * prod(kernel)
    * c_in / groups.  ``kernel_size`` and ``out_size`` are ints or (h, w) pairs."""
    kernel = kernel_size if isinstance(kernel_size, tuple) else (kernel_size, kernel_size)
    out = out_size if isinstance(out_size, tuple) else (out_size, out_size)
    return math.prod(out) * c_out * math.prod(kernel) * (c_in // groups)


def count_macs(model: nn.Module, x: gg.Tensor, by_layer: bool = False):
    """Multiply-adds per sample of a forward pass of ``model`` on ``x`` (bias
    additions, activations, pooling and batch norm not counted).  With
    ``by_layer``, also a list of (module name, multiply-adds)."""
    names = {id(m): name for name, m in model.named_modules()}
    costs = []

    def hook(module, inputs, output):
        if isinstance(module, nn.Linear):
            macs = module.in_features * module.out_features * (output.numel() // output.shape[0]
                                                               // module.out_features)
        elif isinstance(module, nn.ConvTranspose2d):  # the adjoint of a conv on its output
            macs = conv_macs(module.out_channels, module.in_channels, module.kernel_size,
                             tuple(inputs[0].shape[2:]), module.groups)
        else:
            macs = conv_macs(module.in_channels, module.out_channels, module.kernel_size,
                             tuple(output.shape[2:]), module.groups)
        costs.append((names[id(module)], macs))

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))]
    try:
        with gg.no_grad():
            model(x[:1])
    finally:
        for handle in handles:
            handle.remove()
    total = sum(macs for _, macs in costs)
    return (total, costs) if by_layer else total
