"""Convolution layers: ``Conv1d``, ``Conv2d``, ``Conv3d`` and their transposes.

Each stores its hyperparameters, owns ``weight`` (and ``bias``) with PyTorch's
layout and initialisation, and calls ``nn.functional``; no gradient code here.
"""
from __future__ import annotations

import math

import graphgrad.autograd as ag

from .. import functional as F
from .. import init
from ..functional._utils import check_ndim, check_size
from ..module import Module
from ..parameter import Parameter

__all__ = ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"]

_LAYOUTS = {1: "(N, C, L)", 2: "(N, C, H, W)", 3: "(N, C, D, H, W)"}
_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _ntuple(value, n: int) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * n


class _ConvNd(Module):
    """Shared by the convolutions: hyperparameters, parameters, init, repr."""

    _nd = 2
    _transposed = False

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride, padding,
                 dilation, groups: int, bias: bool, padding_mode: str, output_padding=0,
                 device=None, dtype=None) -> None:
        super().__init__()
        nd, name = self._nd, type(self).__name__
        if groups < 1 or in_channels % groups or out_channels % groups:
            raise ValueError(f"{name}: in_channels ({in_channels}) and out_channels "
                             f"({out_channels}) must be divisible by groups ({groups})")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"{name}: padding_mode must be one of {_PADDING_MODES}, "
                             f"got {padding_mode!r}")
        if self._transposed and padding_mode != "zeros":
            raise ValueError(f"{name}: only 'zeros' padding_mode is supported")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = _ntuple(kernel_size, nd)
        self.stride = _ntuple(stride, nd)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"{name}: padding must be an int, a tuple, 'same' or 'valid', "
                                 f"got {padding!r}")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError(f"{name}: padding='same' is not supported for strided "
                                 f"convolutions")
            self.padding = padding
        else:
            self.padding = _ntuple(padding, nd)
        self.dilation = _ntuple(dilation, nd)
        self.output_padding = _ntuple(output_padding, nd)
        self.groups = groups
        self.padding_mode = padding_mode
        if self._transposed:
            shape = (in_channels, out_channels // groups) + self.kernel_size
        else:
            shape = (out_channels, in_channels // groups) + self.kernel_size
        self.weight = Parameter(ag.empty(*shape, device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(ag.empty(out_channels, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default: W ~ kaiming_uniform(a=sqrt(5)), i.e. U(-1/sqrt(fan_in),
        1/sqrt(fan_in)), and b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), with fan_in =
        weight.shape[1] * prod(kernel_size)."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * math.prod(self.kernel_size)
            if fan_in:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def _check_input(self, input) -> None:
        check_ndim(self, input, (self._nd + 2,), _LAYOUTS[self._nd])
        check_size(self, input, 1, self.in_channels, "in_channels")

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * self._nd:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * self._nd:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * self._nd:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _Conv(_ConvNd):
    _conv = None

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device=None, dtype=None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, device=device, dtype=dtype)

    def forward(self, input):
        self._check_input(input)
        conv = type(self)._conv
        if self.padding_mode == "zeros":
            return conv(input, self.weight, self.bias, self.stride, self.padding, self.dilation,
                        self.groups)
        return conv(F.pad(input, self._explicit_padding(), mode=self.padding_mode), self.weight,
                    self.bias, self.stride, 0, self.dilation, self.groups)

    def _explicit_padding(self) -> list:
        # F.pad's flat (left, right) pairs, last dim first; "same" puts the odd unit right.
        pads = []
        for i in reversed(range(self._nd)):
            if self.padding == "valid":
                lo = hi = 0
            elif self.padding == "same":
                total = self.dilation[i] * (self.kernel_size[i] - 1)
                lo, hi = total // 2, total - total // 2
            else:
                lo = hi = self.padding[i]
            pads += [lo, hi]
        return pads


class Conv1d(_Conv):
    """1-D convolution over (N, C_in, L); see ``Conv2d``.  Weight (C_out, C_in / groups, k)."""

    _nd = 1
    _conv = staticmethod(F.conv1d)


class Conv2d(_Conv):
    """2-D convolution (cross-correlation) over NCHW input.

    y[n, o] = b[o] + sum over the C_in / groups channels c of o's group of
    w[o, c] (star) x[n, c], with stride s, zero padding p (or ``padding_mode``
    "reflect"/"replicate"/"circular"; ``padding`` may be "same" or "valid"),
    dilation d and ``groups`` (groups == in_channels is a depthwise convolution).

    Shape: (N, C_in, H, W) -> (N, C_out, H_out, W_out), H_out = floor((H + 2p -
    d (k - 1) - 1) / s) + 1.  Parameters: ``weight`` (C_out, C_in / groups, kh, kw),
    ``bias`` (C_out,), both ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in =
    C_in / groups * kh * kw (PyTorch's init).

        >>> conv = nn.Conv2d(3, 16, 3, padding=1)
        >>> conv(gg.randn(8, 3, 32, 32)).shape
        (8, 16, 32, 32)
    """

    _nd = 2
    _conv = staticmethod(F.conv2d)


class Conv3d(_Conv):
    """3-D convolution over (N, C_in, D, H, W); see ``Conv2d``."""

    _nd = 3
    _conv = staticmethod(F.conv3d)


class _ConvTranspose(_ConvNd):
    _transposed = True
    _conv = None

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 output_padding=0, groups: int = 1, bias: bool = True, dilation=1,
                 padding_mode: str = "zeros", device=None, dtype=None) -> None:
        if isinstance(padding, str):
            raise ValueError(f"{type(self).__name__}: padding must be an int or a tuple")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, output_padding, device=device, dtype=dtype)

    def forward(self, input, output_size=None):
        """``output_size`` (the full shape or its spatial part) picks the output_padding
        that gives that size, as PyTorch."""
        self._check_input(input)
        extra = self.output_padding if output_size is None else \
            self._output_padding(input, output_size)
        return type(self)._conv(input, self.weight, self.bias, self.stride, self.padding, extra,
                                self.groups, self.dilation)

    def _output_padding(self, input, output_size) -> tuple:
        size = tuple(output_size)[-self._nd:]
        extra = []
        for i in range(self._nd):
            smallest = ((input.shape[2 + i] - 1) * self.stride[i] - 2 * self.padding[i]
                        + self.dilation[i] * (self.kernel_size[i] - 1) + 1)
            if not smallest <= size[i] < smallest + self.stride[i]:
                raise ValueError(
                    f"{self}: requested output size {tuple(size)} is not reachable from input "
                    f"of shape {input.shape}; dim {i} must be in [{smallest}, "
                    f"{smallest + self.stride[i] - 1}]"
                )
            extra.append(size[i] - smallest)
        return tuple(extra)


class ConvTranspose1d(_ConvTranspose):
    """1-D transposed convolution over (N, C_in, L); see ``ConvTranspose2d``."""

    _nd = 1
    _conv = staticmethod(F.conv_transpose1d)


class ConvTranspose2d(_ConvTranspose):
    """2-D transposed convolution: the gradient of a Conv2d with respect to its
    input, used to upsample (U-Net decoders, GAN generators).

    Shape: (N, C_in, H, W) -> (N, C_out, H_out, W_out), H_out = (H - 1) s - 2p +
    d (k - 1) + output_padding + 1.  Parameters: ``weight`` (C_in, C_out / groups,
    kh, kw) (note: in before out), ``bias`` (C_out,), both ~ U(-1/sqrt(fan_in),
    1/sqrt(fan_in)) with fan_in = C_out / groups * kh * kw (PyTorch's init).

        >>> up = nn.ConvTranspose2d(16, 8, 2, stride=2)
        >>> up(gg.randn(1, 16, 7, 7)).shape
        (1, 8, 14, 14)
    """

    _nd = 2
    _conv = staticmethod(F.conv_transpose2d)


class ConvTranspose3d(_ConvTranspose):
    """3-D transposed convolution over (N, C_in, D, H, W); see ``ConvTranspose2d``."""

    _nd = 3
    _conv = staticmethod(F.conv_transpose3d)
