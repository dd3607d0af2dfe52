"""Padding layers: ``ConstantPad``, ``ZeroPad``, ``ReflectionPad``, ``ReplicationPad`` and
``CircularPad``, each in 1-D, 2-D and 3-D (no parameters; they call
``pad``, which is ``nn.functional.pad``).

``padding`` is an int (the same on every side) or PyTorch's flat tuple
(left, right[, top, bottom[, front, back]]); negative values crop.

    >>> nn.ReflectionPad2d((1, 1, 2, 0))(gg.randn(1, 3, 4, 4)).shape
    (1, 3, 6, 6)
"""
from __future__ import annotations

from graphgrad.autograd import pad

from ..functional._utils import check_ndim
from ..module import Module

__all__ = ["ConstantPad1d", "ConstantPad2d", "ConstantPad3d", "ZeroPad1d", "ZeroPad2d",
           "ZeroPad3d", "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d",
           "ReplicationPad1d", "ReplicationPad2d", "ReplicationPad3d", "CircularPad1d",
           "CircularPad2d", "CircularPad3d"]

_LAYOUTS = {1: "(N, C, W) or (C, W)", 2: "(N, C, H, W) or (C, H, W)",
            3: "(N, C, D, H, W) or (C, D, H, W)"}


def _sides(padding, nd: int) -> tuple:
    """An int repeated on the 2 * nd sides, or the given sequence as a tuple."""
    return tuple(padding) if isinstance(padding, (tuple, list)) else (padding,) * (2 * nd)


class _PadNd(Module):
    """A padding layer of mode ``_mode`` over the last ``_nd`` dims."""

    _nd = 1
    _mode = "constant"

    def __init__(self, padding) -> None:
        super().__init__()
        self.padding = _sides(padding, self._nd)

    def forward(self, input):
        check_ndim(self, input, (self._nd + 1, self._nd + 2), _LAYOUTS[self._nd])
        return pad(input, self.padding, self._mode)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ReflectionPad1d(_PadNd):
    """Pad the last dim with its mirror image, the edge not repeated
    ([1, 2, 3] padded by (2, 1) is [3, 2, 1, 2, 3, 2]); each pad smaller than the dim."""

    _nd, _mode = 1, "reflect"


class ReflectionPad2d(_PadNd):
    """Reflection padding of the last 2 dims; see ``ReflectionPad1d``."""

    _nd, _mode = 2, "reflect"


class ReflectionPad3d(_PadNd):
    """Reflection padding of the last 3 dims; see ``ReflectionPad1d``."""

    _nd, _mode = 3, "reflect"


class ReplicationPad1d(_PadNd):
    """Pad the last dim by repeating its edge values ([1, 2, 3] padded by (2, 1) is
    [1, 1, 1, 2, 3, 3])."""

    _nd, _mode = 1, "replicate"


class ReplicationPad2d(_PadNd):
    """Replication padding of the last 2 dims; see ``ReplicationPad1d``."""

    _nd, _mode = 2, "replicate"


class ReplicationPad3d(_PadNd):
    """Replication padding of the last 3 dims; see ``ReplicationPad1d``."""

    _nd, _mode = 3, "replicate"


class CircularPad1d(_PadNd):
    """Pad the last dim periodically ([1, 2, 3] padded by (2, 1) is [2, 3, 1, 2, 3, 1]);
    each pad at most the dim's size."""

    _nd, _mode = 1, "circular"


class CircularPad2d(_PadNd):
    """Circular padding of the last 2 dims; see ``CircularPad1d``."""

    _nd, _mode = 2, "circular"


class CircularPad3d(_PadNd):
    """Circular padding of the last 3 dims; see ``CircularPad1d``."""

    _nd, _mode = 3, "circular"


class _ConstantPadNd(Module):
    """Padding with a constant ``value`` over the last ``_nd`` dims (any input rank)."""

    _nd = 1

    def __init__(self, padding, value: float) -> None:
        super().__init__()
        self.padding = _sides(padding, self._nd)
        self.value = value

    def forward(self, input):
        return pad(input, self.padding, "constant", self.value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPadNd):
    """Pad the last dim with ``value``."""

    _nd = 1


class ConstantPad2d(_ConstantPadNd):
    """Pad the last 2 dims with ``value``."""

    _nd = 2


class ConstantPad3d(_ConstantPadNd):
    """Pad the last 3 dims with ``value``."""

    _nd = 3


class ZeroPad1d(ConstantPad1d):
    """Pad the last dim with zeros."""

    def __init__(self, padding) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad2d(ConstantPad2d):
    """Pad the last 2 dims with zeros (a common "same" padding before a conv)."""

    def __init__(self, padding) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad3d(ConstantPad3d):
    """Pad the last 3 dims with zeros."""

    def __init__(self, padding) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"
