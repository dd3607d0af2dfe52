"""``save(obj, path)`` / ``load(path)``: checkpoints without pickle.

What can be saved: nested ``dict`` (str or int keys), ``list`` and ``tuple`` of
``None``, ``bool``, ``int``, ``float``, ``str``, NumPy arrays and scalars, and
Tensors, with array dtypes bool, int8/16/32/64, uint8/16/32/64 and
float16/32/64.  That covers model and optimizer state_dicts, scheduler state,
``gg.get_rng_state()`` and a DataLoader's state.  ``load`` gives back the same
structure: Tensors as Tensors (not requiring grad), arrays as arrays, NumPy
scalars as NumPy scalars, tuples as tuples.

File format, version 1 (all integers little-endian)::

    offset 0   8 bytes   magic b"GGCKPT\\r\\n"
           8   u32       format version (1)
          12   u32       CRC-32 of the header bytes
          16   u64       header length H in bytes
          24   H bytes   header: UTF-8 JSON, {"root": <node>, "data_bytes": D}
        24+H   D bytes   array data: each array's bytes, C order, little-endian,
                         packed back to back in the order the nodes appear

A node is ``null``, ``true``/``false``, a JSON integer, a finite JSON number
with a fraction or exponent (a float), a JSON string, or an object with one key:

    {"list": [node, ...]}              {"tuple": [node, ...]}
    {"dict": [[key, node], ...]}       key: a JSON string or integer
    {"float": "nan" | "inf" | "-inf"}
    {"array": {"kind": "ndarray" | "tensor" | "scalar", "dtype": "float32",
               "shape": [2, 3], "offset": 0, "nbytes": 24, "crc32": 123}}

``offset`` is relative to the data section; arrays must follow one another
exactly (each offset is the previous array's end) and the file must end with
the last array, so a truncated or padded file is rejected.

Safety: ``load`` never runs code (no pickle, no object dtypes, no imports
driven by the file).  It checks the magic, version, header length, header CRC,
every node and every array's dtype, shape, offset, size and CRC, and all sizes
against the file's real size *before* allocating anything, so a hostile file
cannot make it allocate more than the file holds.  Every problem raises
``CheckpointError`` (a ``ValueError``) naming the file and the key.

``save`` is atomic: it writes a temporary file in the same directory, flushes
and fsyncs it, renames it over ``path`` with ``os.replace`` and fsyncs the
directory.  A crash leaves either the old file or the new one at ``path``
(plus, at worst, a stray ``.<name>.<random>.tmp`` file next to it).
"""
from __future__ import annotations

import json
import math
import os
import struct
import zlib

import numpy as np

from graphgrad.autograd.tensor import Tensor

MAGIC = b"GGCKPT\r\n"
VERSION = 1
_PREAMBLE = struct.Struct("<8sIIQ")  # magic, version, header crc32, header length
MAX_DEPTH = 100
_DTYPES = {name: np.dtype(name).newbyteorder("<") for name in (
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64",
)}
_SPECIAL_FLOATS = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
_MAX_DIM = 2**62


class CheckpointError(ValueError):
    """A checkpoint file that is truncated, corrupted, hostile or not a checkpoint.

    ``.path`` is the file and ``.key`` the place in the saved structure
    (e.g. ``["state"][0]["exp_avg"]``), or None for the file's framing.
    """

    def __init__(self, path, key: str | None, reason: str) -> None:
        self.path = os.fspath(path)
        self.key = key
        where = f" at key {key}" if key else ""
        super().__init__(f"{self.path}: bad checkpoint{where}: {reason}")


# ------------------------------------------------------------------ save
def save(obj, path) -> None:
    """Write ``obj`` to ``path`` atomically (see the module docstring for what fits).

    Raises ``TypeError`` naming the key for a value that can't be saved.
    """
    path = os.fspath(path)
    arrays: list[np.ndarray] = []
    root = _encode(obj, arrays, "", 0)
    header = json.dumps({"root": root, "data_bytes": sum(a.nbytes for a in arrays)},
                        allow_nan=False, separators=(",", ":")).encode("utf-8")
    preamble = _PREAMBLE.pack(MAGIC, VERSION, zlib.crc32(header), len(header))

    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.urandom(6).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(preamble)
            f.write(header)
            for a in arrays:
                f.write(_bytes_view(a))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: str) -> None:
    """Make the rename itself durable (POSIX; a no-op where directories can't be opened)."""
    try:
        dfd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def _bytes_view(a: np.ndarray) -> memoryview:
    return memoryview(a.reshape(-1).view(np.uint8))


def _encode(obj, arrays: list, key: str, depth: int):
    if depth > MAX_DEPTH:
        raise ValueError(f"save: structure nested deeper than {MAX_DEPTH} levels at key "
                         f"{key or '<root>'} (a cycle?)")
    if isinstance(obj, Tensor):
        return _encode_array(obj._data, "tensor", arrays, key)
    if isinstance(obj, np.ndarray):
        return _encode_array(obj, "ndarray", arrays, key)
    if isinstance(obj, np.generic):  # before float: np.float64 is a float subclass
        return _encode_array(np.asarray(obj), "scalar", arrays, key)
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        if math.isfinite(obj):
            return float(obj)
        return {"float": "nan" if math.isnan(obj) else "inf" if obj > 0 else "-inf"}
    if isinstance(obj, dict):
        items = []
        for k, v in obj.items():
            if isinstance(k, np.integer):
                k = int(k)
            if isinstance(k, bool) or not isinstance(k, (str, int)):
                raise TypeError(f"save: dict keys must be str or int, got {type(k).__name__} "
                                f"key {k!r} at key {key or '<root>'}")
            items.append([k, _encode(v, arrays, f"{key}[{k!r}]", depth + 1)])
        return {"dict": items}
    if isinstance(obj, (list, tuple)):
        nodes = [_encode(v, arrays, f"{key}[{i}]", depth + 1) for i, v in enumerate(obj)]
        return {"tuple" if isinstance(obj, tuple) else "list": nodes}
    raise TypeError(f"save: can't save a {type(obj).__name__} at key {key or '<root>'} "
                    "(only dicts, lists, tuples, arrays, Tensors, numbers, strings, None)")


def _encode_array(a: np.ndarray, kind: str, arrays: list, key: str) -> dict:
    name = a.dtype.name
    if name not in _DTYPES:
        raise TypeError(f"save: arrays of dtype {a.dtype} can't be saved (key "
                        f"{key or '<root>'}); allowed: {', '.join(_DTYPES)}")
    a = np.asarray(a, dtype=_DTYPES[name], order="C")  # (ascontiguousarray makes 0-d 1-d)
    offset = sum(x.nbytes for x in arrays)
    arrays.append(a)
    return {"array": {"kind": kind, "dtype": name, "shape": list(a.shape), "offset": offset,
                      "nbytes": a.nbytes, "crc32": zlib.crc32(_bytes_view(a))}}


# ------------------------------------------------------------------ load
def load(path):
    """Read a file written by ``save``; raises ``CheckpointError`` if it is not a valid one."""
    path = os.fspath(path)
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        raw = f.read(_PREAMBLE.size)
        if len(raw) < _PREAMBLE.size:
            raise CheckpointError(path, None, f"file too short ({size} bytes) for the "
                                  f"{_PREAMBLE.size}-byte preamble")
        magic, version, header_crc, header_len = _PREAMBLE.unpack(raw)
        if magic != MAGIC:
            raise CheckpointError(path, None, f"not a graphgrad checkpoint (magic {magic!r}, "
                                  f"expected {MAGIC!r})")
        if version != VERSION:
            raise CheckpointError(path, None, f"unsupported format version {version} "
                                  f"(this graphgrad reads version {VERSION})")
        if header_len > size - _PREAMBLE.size:
            raise CheckpointError(path, None, f"header length {header_len} exceeds the "
                                  f"file size {size}")
        header = f.read(header_len)
        if len(header) != header_len or zlib.crc32(header) != header_crc:
            raise CheckpointError(path, None, "header checksum mismatch (corrupted file)")
        data_size = size - _PREAMBLE.size - header_len
        root = _parse_header(path, header, data_size)
        specs: list = []
        _validate(path, root, "", 0, specs)
        expected = 0
        for key, spec in specs:  # all sizes are checked before anything is allocated
            if spec["offset"] != expected:
                raise CheckpointError(path, key, f"array offset {spec['offset']}, expected "
                                      f"{expected} (arrays must be packed in order)")
            expected += spec["nbytes"]
            if expected > data_size:
                raise CheckpointError(path, key, f"array data ends at byte {expected} of a "
                                      f"{data_size}-byte data section (truncated file?)")
        if expected != data_size:
            raise CheckpointError(path, None, f"data section holds {data_size} bytes, the "
                                  f"header describes {expected}")
        values = [_read_array(path, f, key, spec) for key, spec in specs]
    return _build(root, iter(values))


def _parse_header(path, header: bytes, data_size: int):
    def no_constants(name):
        raise ValueError(f"non-finite number {name} in JSON")

    def unique_keys(pairs):
        keys = [k for k, _ in pairs]
        if len(set(keys)) != len(keys):
            raise ValueError("duplicate key in JSON object")
        return dict(pairs)

    try:
        doc = json.loads(header.decode("utf-8"), parse_constant=no_constants,
                         object_pairs_hook=unique_keys)
    except (ValueError, RecursionError) as err:  # UnicodeDecodeError is a ValueError
        raise CheckpointError(path, None, f"header is not valid JSON ({err})") from None
    if not isinstance(doc, dict) or set(doc) != {"root", "data_bytes"}:
        raise CheckpointError(path, None, "header must be an object with keys "
                              "'root' and 'data_bytes'")
    if _as_int(doc["data_bytes"]) != data_size:
        raise CheckpointError(path, None, f"header declares {doc['data_bytes']!r} data bytes, "
                              f"the file holds {data_size} (truncated or padded file?)")
    return doc["root"]


def _as_int(value):
    return value if type(value) is int else None


def _validate(path, node, key: str, depth: int, specs: list) -> None:
    """Check a node's structure; collect ``(key, array spec)`` in file order."""
    if depth > MAX_DEPTH:
        raise CheckpointError(path, key, f"nested deeper than {MAX_DEPTH} levels")
    if node is None or type(node) in (bool, int, str):
        return
    if type(node) is float:
        if not math.isfinite(node):
            raise CheckpointError(path, key, "non-finite float written as a JSON number")
        return
    if not isinstance(node, dict) or len(node) != 1:
        raise CheckpointError(path, key, f"invalid node {_short(node)}")
    (tag, body), = node.items()
    if tag in ("list", "tuple"):
        if not isinstance(body, list):
            raise CheckpointError(path, key, f"{tag} node must hold a JSON array")
        for i, child in enumerate(body):
            _validate(path, child, f"{key}[{i}]", depth + 1, specs)
    elif tag == "dict":
        if not isinstance(body, list):
            raise CheckpointError(path, key, "dict node must hold a JSON array of pairs")
        seen = set()
        for item in body:
            if not (isinstance(item, list) and len(item) == 2
                    and type(item[0]) in (str, int)):
                raise CheckpointError(path, key, f"invalid dict entry {_short(item)}")
            if item[0] in seen:
                raise CheckpointError(path, key, f"duplicate dict key {item[0]!r}")
            seen.add(item[0])
            _validate(path, item[1], f"{key}[{item[0]!r}]", depth + 1, specs)
    elif tag == "float":
        if body not in _SPECIAL_FLOATS:
            raise CheckpointError(path, key, f"invalid float node {_short(body)}")
    elif tag == "array":
        specs.append((key or "<root>", _validate_array(path, body, key or "<root>")))
    else:
        raise CheckpointError(path, key, f"unknown node type {tag!r}")


def _validate_array(path, spec, key: str) -> dict:
    fields = {"kind", "dtype", "shape", "offset", "nbytes", "crc32"}
    if not isinstance(spec, dict) or set(spec) != fields:
        raise CheckpointError(path, key, f"array entry must have exactly the fields "
                              f"{sorted(fields)}")
    if spec["kind"] not in ("ndarray", "tensor", "scalar"):
        raise CheckpointError(path, key, f"invalid array kind {_short(spec['kind'])}")
    if not isinstance(spec["dtype"], str) or spec["dtype"] not in _DTYPES:
        raise CheckpointError(path, key, f"dtype {_short(spec['dtype'])} is not allowed "
                              f"(allowed: {', '.join(_DTYPES)})")
    shape = spec["shape"]
    if not isinstance(shape, list) or len(shape) > 32 or \
            any(_as_int(d) is None or not 0 <= d <= _MAX_DIM for d in shape):
        raise CheckpointError(path, key, f"invalid shape {_short(shape)}")
    if spec["kind"] == "scalar" and shape:
        raise CheckpointError(path, key, f"a scalar must have shape [], got {shape}")
    itemsize = _DTYPES[spec["dtype"]].itemsize
    if math.prod(max(d, 1) for d in shape) * itemsize > _MAX_DIM:  # NumPy's own limit is 2**63
        raise CheckpointError(path, key, f"shape {shape} is too large")
    nbytes = math.prod(shape) * itemsize
    if _as_int(spec["nbytes"]) != nbytes:
        raise CheckpointError(path, key, f"nbytes {_short(spec['nbytes'])} does not match "
                              f"shape {shape} of {spec['dtype']} ({nbytes} bytes)")
    if _as_int(spec["offset"]) is None or spec["offset"] < 0:
        raise CheckpointError(path, key, f"invalid offset {_short(spec['offset'])}")
    if _as_int(spec["crc32"]) is None or not 0 <= spec["crc32"] < 2**32:
        raise CheckpointError(path, key, f"invalid crc32 {_short(spec['crc32'])}")
    return spec


def _read_array(path, f, key: str, spec: dict):
    dtype = _DTYPES[spec["dtype"]]
    a = np.empty(spec["shape"], dtype=dtype)
    view = _bytes_view(a)
    if f.readinto(view) != spec["nbytes"]:
        raise CheckpointError(path, key, "file ended inside the array data (truncated?)")
    if zlib.crc32(view) != spec["crc32"]:
        raise CheckpointError(path, key, "array data checksum mismatch (corrupted file)")
    if dtype.kind == "b" and a.size and a.view(np.uint8).max() > 1:
        raise CheckpointError(path, key, "bool array holds bytes other than 0 and 1")
    a = a.astype(dtype.newbyteorder("="), copy=False)
    if spec["kind"] == "tensor":
        return Tensor._make(a)
    if spec["kind"] == "scalar":
        return a[()]
    return a


def _build(node, arrays):
    if node is None or type(node) in (bool, int, float, str):
        return node
    (tag, body), = node.items()
    if tag == "list":
        return [_build(child, arrays) for child in body]
    if tag == "tuple":
        return tuple(_build(child, arrays) for child in body)
    if tag == "dict":
        return {k: _build(child, arrays) for k, child in body}
    if tag == "float":
        return _SPECIAL_FLOATS[body]
    return next(arrays)


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
