"""Devices, as ``torch.device``: the CPU (NumPy) always, ``"cuda"`` where a GPU backend
(CuPy) is installed and sees a GPU (see ``arrays``).

Every kind PyTorch knows (``"cuda"``, ``"cuda:1"``, ``"mps"``, ...) parses, so scripts
can build and compare devices; placing data on one that no backend serves raises an
error naming the device and what is missing, at the call that asked for it.
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
    """The device that ``where`` was asked to use, with its index (``cuda`` is ``cuda:0``):
    the CPU for None, "cpu" or a cpu device; an error naming what is missing for a device
    that no installed backend serves (``arrays.backend``).  A bare int is a CUDA ordinal,
    as in PyTorch."""
    if requested is None or requested is CPU:
        return CPU
    if isinstance(requested, int):
        requested = device("cuda", requested)
    wanted = device(requested)
    if wanted.type == "cpu":
        return CPU
    from .arrays import backend

    backend(where, wanted)
    return wanted if wanted.index is not None else device(wanted.type, 0)
