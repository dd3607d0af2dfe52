"""The checkpoint format's constants, its error type and the helpers that saving and
loading share (messages of bounded length, argument checks)."""
from __future__ import annotations

import collections
import contextlib
import gc
import io
import math
import os
import re
import struct

import numpy as np

MAGIC = b"GGCKPT\r\n"
VERSION = 1
_PREAMBLE = struct.Struct("<8sIIQ")  # magic, version, header crc32, header length
MAX_DEPTH = 100
_DTYPES = {name: np.dtype(name).newbyteorder("<") for name in (
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64",
)}
_SPECIAL_FLOATS = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
_KINDS = ("ndarray", "tensor", "parameter", "scalar")
_FIELDS = frozenset({"kind", "dtype", "shape", "offset", "nbytes", "crc32"})
_MAX_DIM = 2**62
_CHUNK = 1 << 20  # bytes read at a time from a stream that cannot seek
_MAX_KEY_CHARS = 200
_MAX_REASON_CHARS = 500
_MAX_NAME_CHARS = 300
# A JSON string once its escaped quotes and backslashes are gone (an unterminated one
# runs to the end: every match succeeds, so the scan is linear).
_PLAIN_STRING = re.compile(rb'"[^"]*"?')

_Spec = collections.namedtuple("_Spec", "kind dtype shape offset nbytes crc32 requires_grad")


class CheckpointError(ValueError):
    """A checkpoint file that is truncated, corrupted, hostile or not a checkpoint.

    ``.path`` is the file (or a file object's name), ``.key`` the place in the
    saved structure (e.g. ``['state'][0]['exp_avg']``, shortened when long), or None
    for the file's framing (and for PyTorch and safetensors files), and ``.reason``
    what is wrong.
    """

    def __init__(self, path, key: str | None, reason: str) -> None:
        self.path = path if isinstance(path, str) else os.fsdecode(path)
        self.key = key
        self.reason = _clip(reason, _MAX_REASON_CHARS)
        where = f" at key {key}" if key else ""
        super().__init__(f"{_clip(self.path, _MAX_NAME_CHARS)}: bad checkpoint{where}: "
                         f"{self.reason}")


# ------------------------------------------------------------------ messages
def _clip(text: str, limit: int) -> str:
    """``text`` cut to about ``limit`` characters, keeping its start and its end."""
    if len(text) <= limit:
        return text
    half = (limit - 5) // 2
    return f"{text[:half]} ... {text[-half:]}"


def _short(value, limit: int = 60) -> str:
    """A description of a value read from a header, bounded whatever the value's size."""
    if isinstance(value, str):
        return repr(value[:limit]) + ("..." if len(value) > limit else "")
    if type(value) is tuple:  # a JSON object: the parser gives its (key, value) pairs
        keys = ", ".join(_short(k, 20) for k, _ in value[:4])
        return f"a JSON object with keys [{keys}{', ...' if len(value) > 4 else ''}]"
    if type(value) is list:
        return f"a JSON array of {len(value)} items"
    return _clip(repr(value), limit)


def _key_text(path) -> str:
    """``['state'][0]['exp_avg']`` for the key path ``['state', 0, 'exp_avg']``."""
    if not path:
        return "<root>"
    return _clip("".join(f"[{_short(k, 40)}]" for k in path), _MAX_KEY_CHARS)


def _no_pickle_arguments(where: str, **given) -> None:
    names = [name for name, value in given.items() if value is not None]
    if names:
        raise TypeError(f"{where}: unsupported argument(s) {', '.join(names)}: graphgrad "
                        "checkpoints hold no pickle, so pickle options do not apply")


def _is_path(f) -> bool:
    return isinstance(f, (str, os.PathLike))


def _require_binary(where: str, f, method: str) -> None:
    if isinstance(f, io.TextIOBase):
        raise TypeError(f"{where}: f is a text-mode file; open it in binary mode "
                        f"({'wb' if method == 'write' else 'rb'!r})")
    if not callable(getattr(f, method, None)):
        raise TypeError(f"{where}: f must be a path (str or os.PathLike) or a binary file "
                        f"object with a {method}() method, got {type(f).__name__}")


@contextlib.contextmanager
def _collector_paused():
    """Pause the cyclic garbage collector: a large header makes millions of containers,
    none in a cycle, and the collector's passes over them would triple the time."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _bytes_view(a: np.ndarray) -> memoryview:
    return memoryview(a.reshape(-1).view(np.uint8))


def _read_exact(f, n: int) -> bytearray:
    """The next ``n`` bytes of ``f`` (fewer at the end of the file)."""
    buf = bytearray(n)
    with memoryview(buf) as view:
        got = _readinto_exact(f, view)
    del buf[got:]
    return buf


def _readinto_exact(f, view: memoryview) -> int:
    """Fill ``view`` from ``f``; the number of bytes read (less at the end of the file)."""
    got = 0
    while got < len(view):
        n = f.readinto(view[got:])
        if not n:
            break
        got += n
    return got


def _native(raw: np.ndarray, stored: np.dtype, convert: bool = True) -> np.ndarray:
    """``raw``'s bytes as elements of ``stored``, in the machine's byte order: a view where
    the orders agree, else (if ``convert``) a byte-swapped copy."""
    native = stored.newbyteorder("=")
    if stored.isnative:
        return raw.view(native)
    return raw.view(stored).astype(native) if convert else raw.view(stored)
