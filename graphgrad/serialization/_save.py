"""``save``: a nested object to a path (atomically) or a binary file object."""
from __future__ import annotations

import collections
import errno
import json
import math
import os
import reprlib
import zlib

import numpy as np

from graphgrad.autograd.arrays import to_host
from graphgrad.autograd.tensor import Tensor
from graphgrad.nn.module import Module
from graphgrad.nn.parameter import Parameter

from . import _safetensors
from ._atomic import write_atomically
from ._format import (
    _DTYPES,
    _PREAMBLE,
    MAGIC,
    MAX_DEPTH,
    VERSION,
    _bytes_view,
    _collector_paused,
    _is_path,
    _key_text,
    _no_pickle_arguments,
    _require_binary,
)


# ------------------------------------------------------------------ save
def save(obj, f, pickle_module=None, pickle_protocol=None, **kwargs) -> None:
    """Write ``obj`` to ``f``, a path (atomically) or a binary file object; see the
    module docstring for what can be saved.  A path ending in ``.safetensors`` gets a
    safetensors file of ``obj``, a dict of named Tensors.

    Raises ``TypeError`` naming the key for a value that can't be saved (nothing is
    written then), and for PyTorch's pickle options.
    """
    _no_pickle_arguments("save", pickle_module=pickle_module, pickle_protocol=pickle_protocol,
                         **kwargs)
    if _is_path(f) and os.fsdecode(os.fspath(f)).endswith(".safetensors"):
        _safetensors.save_file(obj, f, where="save")
        return
    if not _is_path(f):
        _require_binary("save", f, "write")
    encoder = _Encoder()
    with _collector_paused():
        root = encoder.node(obj)
        header = json.dumps({"root": root, "data_bytes": encoder.size}, allow_nan=False,
                            separators=(",", ":")).encode("utf-8")
        del root
    if _is_path(f):
        write_atomically(os.fsdecode(os.fspath(f)), lambda file: _write(file, header,
                                                                        encoder.arrays))
    else:
        _write(f, header, encoder.arrays)


class _Encoder:
    """Turns a structure into header nodes and the list of arrays to store, in order."""

    def __init__(self) -> None:
        self.arrays: list[np.ndarray] = []  # C-ordered little-endian copies or views
        self.size = 0  # bytes of array data so far
        self.stored: dict = {}  # id(array) -> (array, offset, crc): a shared array is stored once
        self.path: list = []  # key path of the value being encoded (for messages)
        self.active: set = set()  # ids of the containers being encoded (finds cycles)

    def fail(self, error: type, reason: str):
        raise error(f"save: {reason} at key {_key_text(self.path)}")

    def node(self, obj):
        if len(self.path) > MAX_DEPTH:
            self.fail(ValueError, f"structure nested deeper than {MAX_DEPTH} levels")
        if isinstance(obj, Module):
            self.fail(TypeError, f"can't save a Module ({type(obj).__name__}); save its "
                      "parameters with model.state_dict(), and load them into a new model "
                      "with load_state_dict()")
        if isinstance(obj, Tensor):
            kind = "parameter" if isinstance(obj, Parameter) else "tensor"
            return self.array(obj._data, kind, obj.requires_grad)
        if isinstance(obj, np.ndarray):
            return self.array(obj, "ndarray", False)
        if obj is None or isinstance(obj, (bool, str)):  # np.str_ too: saved as a str
            return obj
        if isinstance(obj, np.generic):  # before float: np.float64 is a float subclass
            return self.array(np.asarray(obj), "scalar", False)
        if isinstance(obj, int):
            return int(obj)
        if isinstance(obj, float):
            if math.isfinite(obj):
                return float(obj)
            return {"float": "nan" if math.isnan(obj) else "inf" if obj > 0 else "-inf"}
        if isinstance(obj, (dict, list, tuple)):
            return self.container(obj)
        hint = "; save its state_dict() instead" if callable(getattr(obj, "state_dict", None)) \
            else " (only dicts, lists, tuples, Tensors, arrays, numbers, strings, None)"
        self.fail(TypeError, f"can't save a {type(obj).__name__}{hint}")

    def container(self, obj) -> dict:
        if id(obj) in self.active:
            self.fail(ValueError, f"the {type(obj).__name__} contains itself (a cycle)")
        self.active.add(id(obj))
        if isinstance(obj, dict):
            tag = "odict" if isinstance(obj, collections.OrderedDict) else "dict"
            body = []
            for k, value in obj.items():
                key = self.key(k)
                body.append([key, self.child(key, value)])
        else:
            tag = "tuple" if isinstance(obj, tuple) else "list"
            body = [self.child(i, value) for i, value in enumerate(obj)]
        self.active.discard(id(obj))
        return {tag: body}

    def key(self, k):
        if isinstance(k, np.integer):
            k = int(k)
        if isinstance(k, bool) or not isinstance(k, (str, int)):
            self.fail(TypeError, f"dict keys must be str or int, got {type(k).__name__} key "
                      f"{reprlib.repr(k)}")
        return k if isinstance(k, str) else int(k)

    def child(self, key, value):
        self.path.append(key)
        node = self.node(value)
        self.path.pop()
        return node

    def array(self, a: np.ndarray, kind: str, requires_grad: bool) -> dict:
        name = a.dtype.name
        if name not in _DTYPES:
            self.fail(TypeError, f"arrays of dtype {a.dtype} can't be saved (allowed: "
                      f"{', '.join(_DTYPES)})")
        shared = kind != "scalar" and a.nbytes > 0
        if shared and id(a) in self.stored:
            _, offset, crc = self.stored[id(a)]
        else:
            # A device's array comes to the host: the file never depends on a device.
            # (np.asarray, not ascontiguousarray, which would make a 0-d array 1-d.)
            data = np.asarray(to_host(a), dtype=_DTYPES[name], order="C")
            offset, crc = self.size, zlib.crc32(_bytes_view(data))
            self.arrays.append(data)
            self.size += data.nbytes
            if shared:  # keep `a` alive so that its id is not reused by another array
                self.stored[id(a)] = (a, offset, crc)
        spec = {"kind": kind, "dtype": name, "shape": list(a.shape), "offset": offset,
                "nbytes": a.nbytes, "crc32": crc}
        if requires_grad:
            spec["requires_grad"] = True
        return {"array": spec}


def _write(f, header: bytes, arrays: list) -> None:
    _write_all(f, _PREAMBLE.pack(MAGIC, VERSION, zlib.crc32(header), len(header)))
    _write_all(f, header)
    for a in arrays:
        _write_all(f, _bytes_view(a))


def _write_all(f, data) -> None:
    """``f.write`` until all of ``data`` is written (a raw file may take part of it)."""
    view = memoryview(data)
    while len(view):
        n = f.write(view)
        if n is None or n >= len(view):  # None: file objects that don't count
            return
        if n == 0:
            raise OSError(errno.EIO, "save: the file object accepted no bytes")
        view = view[n:]
