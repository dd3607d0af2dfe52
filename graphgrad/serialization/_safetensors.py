"""safetensors files, read and written through the ``safetensors`` package (the optional
extra ``graphgrad[safetensors]``; its NumPy API needs no PyTorch), so that PyTorch and
the rest of the ecosystem open what graphgrad writes, and graphgrad opens theirs.

A safetensors file maps names to tensors (a dtype, a shape and the elements in C
order, little-endian) and may hold a ``{str: str}`` metadata dict.  The package
checks every header field and offset against the data before anything is built.

Reading gives a dict of Tensors in the file's order.  graphgrad reads the dtypes
BOOL, U8, I8, I16, U16, I32, U32, I64, U64, F16, F32 and F64, and BF16 as float32
(exact: a bfloat16 is the top half of a float32); any other dtype (F8, complex, ...)
raises CheckpointError naming the tensor.  Each tensor owns its memory.

Writing takes a dict from str to Tensors (or NumPy arrays) of graphgrad's dtypes.
A tensor that is a strided view is written as its elements (a contiguous copy).
Tensors that overlap in memory (tied weights: ``state_dict()`` gives both names a
Tensor over one array) are refused, naming them, as ``safetensors.torch.save_file``
refuses them: the file would hold two copies that no longer share once loaded.
Save one name of each group, or clone one of them.
"""
from __future__ import annotations

import json
import os
import reprlib

import numpy as np

from graphgrad.autograd.arrays import to_device, to_host
from graphgrad.autograd.devices import CPU, check_device
from graphgrad.autograd.tensor import Tensor

from ._atomic import write_atomically
from ._format import _DTYPES, CheckpointError, _native, _short
from ._placement import Placement

_CODES = {"BOOL": "bool", "U8": "uint8", "I8": "int8", "I16": "int16", "U16": "uint16",
          "I32": "int32", "U32": "uint32", "I64": "int64", "U64": "uint64",
          "F16": "float16", "F32": "float32", "F64": "float64"}


def _package():
    try:
        import safetensors
        import safetensors.numpy
    except ImportError as err:
        raise ImportError("reading and writing .safetensors files needs the safetensors "
                          "package: pip install 'graphgrad[safetensors]'") from err
    return safetensors


# ------------------------------------------------------------------ writing
def save(tensors: dict, metadata: dict | None = None, *, where: str = "save") -> bytes:
    """The bytes of a safetensors file holding ``tensors`` (a dict from str to Tensors or
    arrays) and ``metadata`` (a dict from str to str, or None)."""
    arrays = _arrays_to_save(tensors, where)
    return _package().numpy.save(arrays, metadata=_checked_metadata(metadata, where))


def save_file(tensors: dict, filename, metadata: dict | None = None, *,
              where: str = "save_file") -> None:
    """Write ``tensors`` and ``metadata`` (as in ``save``) to the path ``filename``,
    atomically, as ``gg.save`` writes its checkpoints."""
    data = save(tensors, metadata, where=where)
    write_atomically(os.fsdecode(os.fspath(filename)), lambda f: f.write(data))


def _arrays_to_save(tensors, where: str) -> dict[str, np.ndarray]:
    if not isinstance(tensors, dict):
        raise TypeError(f"{where}: a safetensors file holds a dict of named tensors, got a "
                        f"{type(tensors).__name__}")
    arrays = {}
    for key, value in tensors.items():
        if not isinstance(key, str):
            raise TypeError(f"{where}: tensor names must be str, got {type(key).__name__} "
                            f"{reprlib.repr(key)}")
        a = to_host(value._data) if isinstance(value, Tensor) else value  # a device's: a copy
        if not isinstance(a, np.ndarray):
            raise TypeError(f"{where}: {key!r} is a {type(value).__name__}, not a Tensor")
        if a.dtype.name not in _DTYPES:
            raise TypeError(f"{where}: {key!r} has dtype {a.dtype}, which safetensors files "
                            f"from graphgrad can't hold (allowed: {', '.join(_DTYPES)})")
        arrays[key] = a
    shared = _overlapping(arrays)
    if shared:
        raise ValueError(
            f"{where}: tensors {'; '.join(' and '.join(g) for g in shared)} share memory; a "
            "safetensors file stores each tensor separately, so they would load as copies "
            "that are no longer tied.  Save one name of each group (and tie them again after "
            "loading), or save a clone")
    # The package reads each array's memory as it is: contiguous and little-endian.
    return {k: np.asarray(a, a.dtype.newbyteorder("<"), order="C") for k, a in arrays.items()}


def _overlapping(arrays: dict[str, np.ndarray]) -> list[list[str]]:
    """Groups of names whose arrays' memory overlaps (views of disjoint parts of one
    buffer don't), found by sorting the byte ranges."""
    spans = sorted((*np.lib.array_utils.byte_bounds(a), k) for k, a in arrays.items() if a.size)
    groups: list[list[str]] = []
    end = None
    for low, high, key in spans:
        if end is not None and low < end:
            groups[-1].append(key)
        else:
            groups.append([key])
        end = high if end is None or low >= end else max(end, high)
    return [sorted(g) for g in groups if len(g) > 1]


def _checked_metadata(metadata, where: str):
    if metadata is not None and (not isinstance(metadata, dict) or any(
            not isinstance(k, str) or not isinstance(v, str) for k, v in metadata.items())):
        raise TypeError(f"{where}: metadata must be a dict from str to str, got "
                        f"{reprlib.repr(metadata)}")
    return metadata


# ------------------------------------------------------------------ reading
def arrays_from_bytes(name: str, data) -> dict[str, np.ndarray]:
    """The arrays of the safetensors file whose bytes are ``data``, in the file's order."""
    package = _package()
    try:
        entries = package.deserialize(data if isinstance(data, bytes) else bytes(data))
    except Exception as err:  # the package's parser reports every defect of the file
        raise CheckpointError(name, None, f"not a valid safetensors file "
                              f"({type(err).__name__}: {_short(str(err), 200)})") from err
    arrays = {}
    for key, entry in entries:
        code, shape, raw = entry["dtype"], entry["shape"], entry["data"]
        if code == "BF16":
            halves = np.frombuffer(raw, "<u2")
            a = (halves.astype(np.uint32) << 16).view(np.float32)
        elif code in _CODES:
            a = _native(np.frombuffer(raw, np.uint8), np.dtype(_CODES[code]).newbyteorder("<"))
        else:
            raise CheckpointError(name, None, f"tensor {_short(key)} has dtype {code}, which "
                                  "graphgrad does not have")
        if code == "BOOL" and a.size and a.view(np.uint8).max() > 1:
            raise CheckpointError(name, None, f"bool tensor {_short(key)} holds bytes other "
                                  "than 0 and 1")
        arrays[key] = a.reshape(shape)
    return arrays


def tensors_from_bytes(name: str, data, place: Placement) -> dict[str, Tensor]:
    """``gg.load`` of a safetensors file: its tensors, each passed through ``place``."""
    place.check("cpu")
    return {k: place.apply(Tensor._make(a), "cpu")
            for k, a in arrays_from_bytes(name, data).items()}


def load(data: bytes) -> dict[str, Tensor]:
    """The tensors of the safetensors file whose bytes are ``data``."""
    return _tensors("<bytes>", data)


def load_file(filename, device="cpu") -> dict[str, Tensor]:
    """The tensors of the safetensors file at ``filename``, on ``device`` (the CPU by
    default)."""
    where = check_device("load_file", device)
    with open(filename, "rb") as f:
        return _tensors(os.fsdecode(os.fspath(filename)), f.read(), where)


def _tensors(name: str, data, where=CPU) -> dict[str, Tensor]:
    return {k: Tensor._make(to_device(a, where, name))
            for k, a in arrays_from_bytes(name, data).items()}


class safe_open:  # noqa: N801  (the package's spelling)
    """``with safe_open(filename, framework="pt") as f:`` then ``f.keys()`` (sorted
    names), ``f.metadata()`` (the metadata dict, or None) and ``f.get_tensor(name)``,
    as the package's ``safe_open``.  The whole file is read when it is opened."""

    def __init__(self, filename, framework: str = "pt", device="cpu") -> None:
        if framework not in ("pt", "torch"):
            raise ValueError(f"safe_open: framework must be 'pt' (graphgrad Tensors), got "
                             f"{framework!r}")
        where = check_device("safe_open", device)
        name = os.fsdecode(os.fspath(filename))
        with open(filename, "rb") as f:
            data = f.read()
        self._tensors = _tensors(name, data, where)
        # The package has checked the header: 8 bytes of length, then a JSON object.
        header = json.loads(data[8:8 + int.from_bytes(data[:8], "little")])
        self._metadata = header.get("__metadata__")

    def __enter__(self) -> safe_open:
        return self

    def __exit__(self, *exc) -> None:
        return None

    def keys(self) -> list[str]:
        return sorted(self._tensors)

    def metadata(self) -> dict[str, str] | None:
        return None if self._metadata is None else dict(self._metadata)

    def get_tensor(self, name: str) -> Tensor:
        if name not in self._tensors:
            raise KeyError(f"safe_open: the file holds no tensor {name!r}")
        return self._tensors[name]
