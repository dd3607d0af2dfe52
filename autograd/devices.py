"""Devices, as ``torch.device``: graphgrad computes with NumPy, on the CPU.

``device("cpu")`` is the only device that exists.  Other kinds PyTorch knows
(``"cuda"``, ``"cuda:1"``, ``"mps"``, ...) parse, so scripts can build them and
compare them, but anything that would place data on one raises an error naming
the device, at the call that asked for it.
"""
from __future__ import annotations

_KNOWN_TYPES = ("cpu", "cuda", "mps", "xpu", "xla", "meta", "hip", "ipu", "hpu", "mtia")


class device:  # noqa: N801  (torch's spelling)
    """A device: ``device("cpu")``, ``device("cuda:0")``, ``device("cuda", 0)``."""

    __slots__ = ("type", "index")

    def __init__(self, type, index: int | None = None) -> None:  # noqa: A002
        if isinstance(type, device):
            type, index = type.type, type.index if index is None else index
        if not isinstance(type, str):
            raise TypeError(f"device: expected a string or device, got {type!r}")
        name, _, number = type.partition(":")
        if number:
            if index is not None:
                raise ValueError(f"device: index given twice in device({type!r}, {index})")
            if not number.isdigit():
                raise ValueError(f"device: invalid device string {type!r}")
            index = int(number)
        if name not in _KNOWN_TYPES:
            raise RuntimeError(f"device: expected one of {', '.join(_KNOWN_TYPES)} device type "
                               f"at start of device string: {type!r}")
        if index is not None and int(index) < 0:
            raise ValueError(f"device: index must be non-negative, got {index}")
        self.type = name
        self.index = None if index is None else int(index)

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        index = "" if self.index is None else f", index={self.index}"
        return f"device(type={self.type!r}{index})"


Device = device  # the class, under a name that parameters called ``device`` do not shadow
CPU = device("cpu")


def check_device(where: str, requested) -> device:
    """The device that ``where`` was asked to use: the CPU for None, "cpu" or an int-less
    cpu device; a clear error for any device that this machine's graphgrad lacks."""
    if requested is None or requested is CPU:
        return CPU
    if isinstance(requested, int):  # PyTorch reads a bare int as a CUDA ordinal
        requested = device("cuda", requested)
    wanted = device(requested)
    if wanted.type == "cpu":
        return CPU
    raise RuntimeError(
        f"{where}: device {str(wanted)!r} is not available: graphgrad computes with NumPy on "
        f"the CPU, and no {wanted.type} backend is installed (gg.cuda.is_available() is False)")
