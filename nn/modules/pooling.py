"""Pooling layers: ``MaxPool1d/2d/3d``, ``AvgPool1d/2d/3d``, ``LPPool1d/2d/3d``,
``MaxUnpool1d/2d/3d``, ``AdaptiveAvgPool1d/2d/3d`` and ``AdaptiveMaxPool1d/2d/3d``.

No parameters; each stores its hyperparameters (as given, like PyTorch, so the
repr matches) and calls ``nn.functional``.
"""
from __future__ import annotations

from .. import functional as F
from ..functional._utils import check_ndim
from ..module import Module

__all__ = ["MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d",
           "LPPool1d", "LPPool2d", "LPPool3d", "MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d",
           "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "AdaptiveMaxPool1d",
           "AdaptiveMaxPool2d", "AdaptiveMaxPool3d"]

_LAYOUTS = {1: "(N, C, L) or (C, L)", 2: "(N, C, H, W) or (C, H, W)",
            3: "(N, C, D, H, W) or (C, D, H, W)"}
_MAX = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
_LP = {1: F.lp_pool1d, 2: F.lp_pool2d, 3: F.lp_pool3d}
_UNPOOL = {1: F.max_unpool1d, 2: F.max_unpool2d, 3: F.max_unpool3d}
_ADAPTIVE_AVG = {1: F.adaptive_avg_pool1d, 2: F.adaptive_avg_pool2d, 3: F.adaptive_avg_pool3d}
_ADAPTIVE_MAX = {1: F.adaptive_max_pool1d, 2: F.adaptive_max_pool2d, 3: F.adaptive_max_pool3d}


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
        return _MAX[self._nd](input, self.kernel_size, self.stride, self.padding, self.dilation,
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


class MaxPool3d(_MaxPoolNd):
    """3-D max pooling over (N, C, D, H, W) or (C, D, H, W); see ``MaxPool2d``."""

    _nd = 3


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
        pool = F.avg_pool2d if self._nd == 2 else F.avg_pool3d
        return pool(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
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


class AvgPool3d(_AvgPoolNd):
    """3-D average pooling over (N, C, D, H, W) or (C, D, H, W); see ``AvgPool2d``."""

    _nd = 3


class _LPPoolNd(Module):
    _nd = 2

    def __init__(self, norm_type: float, kernel_size, stride=None, ceil_mode: bool = False) -> None:
        super().__init__()
        self.norm_type = norm_type
        self.kernel_size = kernel_size
        self.stride = stride
        self.ceil_mode = ceil_mode

    def forward(self, input):
        check_ndim(self, input, (self._nd + 1, self._nd + 2), _LAYOUTS[self._nd])
        return _LP[self._nd](input, float(self.norm_type), self.kernel_size, self.stride,
                             self.ceil_mode)

    def extra_repr(self) -> str:
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, ceil_mode={self.ceil_mode}")


class LPPool1d(_LPPoolNd):
    """1-D power-average pooling over (N, C, L) or (C, L); see ``LPPool2d``."""

    _nd = 1


class LPPool2d(_LPPoolNd):
    """Power-average pooling: (sum over each window of x^p)^(1/p) (p = norm_type; p = 1
    sums, p = inf takes the max of |x|).  Stride defaults to the kernel size; no
    padding.  Shape as ``AvgPool2d``.

        >>> nn.LPPool2d(2, 3, stride=2)(gg.randn(1, 4, 9, 9)).shape
        (1, 4, 4, 4)
    """

    _nd = 2


class LPPool3d(_LPPoolNd):
    """3-D power-average pooling over (N, C, D, H, W) or (C, D, H, W); see ``LPPool2d``."""

    _nd = 3


class _MaxUnpoolNd(Module):
    _nd = 2

    def __init__(self, kernel_size, stride=None, padding=0) -> None:
        super().__init__()
        expand = lambda v: tuple(v) if isinstance(v, (tuple, list)) else (v,) * self._nd  # noqa: E731
        self.kernel_size = expand(kernel_size)
        self.stride = expand(kernel_size if stride is None else stride)
        self.padding = expand(padding)

    def forward(self, input, indices, output_size=None):
        check_ndim(self, input, (self._nd + 1, self._nd + 2), _LAYOUTS[self._nd])
        return _UNPOOL[self._nd](input, indices, self.kernel_size, self.stride, self.padding,
                                 output_size)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(_MaxUnpoolNd):
    """Partial inverse of ``MaxPool1d``; see ``MaxUnpool2d``."""

    _nd = 1


class MaxUnpool2d(_MaxUnpoolNd):
    """Partial inverse of ``MaxPool2d(return_indices=True)``: every value goes back to
    the position its index names, zeros elsewhere.  ``forward(input, indices,
    output_size=None)``; output (N, C, H_out, W_out) with H_out = (H - 1) s - 2p + k
    unless ``output_size`` says otherwise.

        >>> pool, unpool = nn.MaxPool2d(2, return_indices=True), nn.MaxUnpool2d(2)
        >>> y, i = pool(gg.randn(1, 1, 4, 4))
        >>> unpool(y, i).shape
        (1, 1, 4, 4)
    """

    _nd = 2


class MaxUnpool3d(_MaxUnpoolNd):
    """Partial inverse of ``MaxPool3d``; see ``MaxUnpool2d``."""

    _nd = 3


class _AdaptiveAvgPoolNd(Module):
    _nd = 2

    def __init__(self, output_size) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, input):
        check_ndim(self, input, (self._nd + 1, self._nd + 2), _LAYOUTS[self._nd])
        return _ADAPTIVE_AVG[self._nd](input, self.output_size)

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


class AdaptiveAvgPool3d(_AdaptiveAvgPoolNd):
    """3-D adaptive average pooling of (N, C, D, H, W) or (C, D, H, W) to a fixed size;
    see ``AdaptiveAvgPool2d``."""

    _nd = 3


class _AdaptiveMaxPoolNd(Module):
    _nd = 2

    def __init__(self, output_size, return_indices: bool = False) -> None:
        super().__init__()
        self.output_size = output_size
        self.return_indices = return_indices

    def forward(self, input):
        check_ndim(self, input, (self._nd + 1, self._nd + 2), _LAYOUTS[self._nd])
        return _ADAPTIVE_MAX[self._nd](input, self.output_size, self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool1d(_AdaptiveMaxPoolNd):
    """Max pooling of (N, C, L) or (C, L) to a fixed length; see ``AdaptiveMaxPool2d``."""

    _nd = 1


class AdaptiveMaxPool2d(_AdaptiveMaxPoolNd):
    """Max pooling to a fixed (H_out, W_out) whatever the input size, over the
    windows of ``AdaptiveAvgPool2d``; with ``return_indices`` also each maximum's
    flat position in its H x W plane.

        >>> nn.AdaptiveMaxPool2d((5, 7))(gg.randn(1, 64, 8, 9)).shape
        (1, 64, 5, 7)
    """

    _nd = 2


class AdaptiveMaxPool3d(_AdaptiveMaxPoolNd):
    """3-D adaptive max pooling of (N, C, D, H, W) or (C, D, H, W); see
    ``AdaptiveMaxPool2d``."""

    _nd = 3
