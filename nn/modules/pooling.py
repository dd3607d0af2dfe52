"""Pooling layers: ``MaxPool1d/2d``, ``AvgPool1d/2d``, ``AdaptiveAvgPool1d/2d``.

No parameters; each stores its hyperparameters (as given, like PyTorch, so the
repr matches) and calls ``nn.functional``.
"""
from __future__ import annotations

from .. import functional as F
from ..functional._utils import check_ndim
from ..module import Module

__all__ = ["MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool1d",
           "AdaptiveAvgPool2d"]

_LAYOUTS = {1: "(N, C, L) or (C, L)", 2: "(N, C, H, W) or (C, H, W)"}


class _MaxPoolNd(Module):
    _nd = 2

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1,
                 return_indices: bool = False, ceil_mode: bool = False) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def forward(self, input):
        check_ndim(self, input, (self._nd + 1, self._nd + 2), _LAYOUTS[self._nd])
        pool = F.max_pool1d if self._nd == 1 else F.max_pool2d
        return pool(input, self.kernel_size, self.stride, self.padding, self.dilation,
                    ceil_mode=self.ceil_mode, return_indices=self.return_indices)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPoolNd):
    """1-D max pooling over (N, C, L) or (C, L); see ``MaxPool2d``."""

    _nd = 1


class MaxPool2d(_MaxPoolNd):
    """The maximum over each kh x kw window (stride defaults to the kernel size).

    Shape: (N, C, H, W) -> (N, C, H_out, W_out), H_out = floor((H + 2p - d (k - 1)
    - 1) / s) + 1 (ceil with ``ceil_mode``).  The gradient flows only to each
    window's maximum (the first on ties).  With ``return_indices`` the forward
    also returns each maximum's flat position in its H x W plane.

        >>> nn.MaxPool2d(2)(gg.randn(1, 3, 8, 8)).shape
        (1, 3, 4, 4)
    """

    _nd = 2


class _AvgPoolNd(Module):
    _nd = 2

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override=None) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input):
        check_ndim(self, input, (self._nd + 1, self._nd + 2), _LAYOUTS[self._nd])
        if self._nd == 1:
            return F.avg_pool1d(input, self.kernel_size, self.stride, self.padding,
                                self.ceil_mode, self.count_include_pad)
        return F.avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool1d(_AvgPoolNd):
    """1-D average pooling over (N, C, L) or (C, L); see ``AvgPool2d``."""

    _nd = 1

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True) -> None:
        single = lambda v: tuple(v) if isinstance(v, (tuple, list)) else (v,)  # noqa: E731
        super().__init__(single(kernel_size), single(kernel_size if stride is None else stride),
                         single(padding), ceil_mode, count_include_pad)


class AvgPool2d(_AvgPoolNd):
    """The mean over each kh x kw window (stride defaults to the kernel size).

    Shape as ``MaxPool2d``.  Zero padding counts in the divisor unless
    ``count_include_pad=False``; ``divisor_override`` replaces the divisor.  The
    gradient spreads g / count evenly over each window.

        >>> nn.AvgPool2d(2)(gg.randn(1, 3, 8, 8)).shape
        (1, 3, 4, 4)
    """

    _nd = 2


class _AdaptiveAvgPoolNd(Module):
    _nd = 2

    def __init__(self, output_size) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, input):
        check_ndim(self, input, (self._nd + 1, self._nd + 2), _LAYOUTS[self._nd])
        pool = F.adaptive_avg_pool1d if self._nd == 1 else F.adaptive_avg_pool2d
        return pool(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptiveAvgPoolNd):
    """Average pooling of (N, C, L) to a fixed length; see ``AdaptiveAvgPool2d``."""

    _nd = 1


class AdaptiveAvgPool2d(_AdaptiveAvgPoolNd):
    """Average pooling to a fixed (H_out, W_out) whatever the input size: output cell
    i of a dim of size n averages input [floor(i n / n_out), ceil((i + 1) n / n_out)).
    ``AdaptiveAvgPool2d(1)`` is global average pooling.

        >>> nn.AdaptiveAvgPool2d((5, 7))(gg.randn(1, 64, 8, 9)).shape
        (1, 64, 5, 7)
    """

    _nd = 2
