"""``load``: a checkpoint from a path or a binary file object, checked before anything
is allocated; never runs code."""
from __future__ import annotations

import collections
import io
import itertools
import json
import math
import mmap as _mmap
import os
import pickle
import zlib

import numpy as np

from graphgrad.autograd.tensor import Tensor
from graphgrad.nn.parameter import Parameter

from . import _safetensors, _torch
from ._format import (
    _CHUNK,
    _DTYPES,
    _FIELDS,
    _KINDS,
    _MAX_DIM,
    _PLAIN_STRING,
    _PREAMBLE,
    _SPECIAL_FLOATS,
    MAGIC,
    MAX_DEPTH,
    VERSION,
    CheckpointError,
    _bytes_view,
    _collector_paused,
    _is_path,
    _key_text,
    _no_pickle_arguments,
    _read_exact,
    _readinto_exact,
    _require_binary,
    _short,
    _Spec,
)
from ._placement import Placement


# ------------------------------------------------------------------ load
def load(f, map_location=None, pickle_module=None, *, weights_only: bool | None = True,
         mmap: bool | None = None, **pickle_load_args):
    """Read a checkpoint from a path or a binary file object: one written by ``save``, by
    ``torch.save`` (read without PyTorch and without running code), or a safetensors
    file (a path ending in ``.safetensors``, or a file object holding one).

    ``map_location``, ``weights_only`` and ``mmap`` as described in the module
    docstring.  Raises ``CheckpointError`` if ``f`` does not hold a valid checkpoint.
    """
    _no_pickle_arguments("load", pickle_module=pickle_module, **pickle_load_args)
    for name, flag in (("weights_only", weights_only), ("mmap", mmap)):
        if flag is not None and type(flag) is not bool:
            raise TypeError(f"load: {name} must be a bool or None, got {flag!r}")
    place = Placement(map_location)
    if _is_path(f):
        name = os.fsdecode(os.fspath(f))
        if name.endswith(".safetensors"):
            _no_mmap(mmap, "a safetensors file")
            with open(f, "rb") as file:
                return _safetensors.tensors_from_bytes(name, file.read(), place)
        with open(f, "rb") as file, _collector_paused():
            return _read(name, file, place, bool(mmap))
    if mmap:
        raise ValueError("load: mmap=True needs f to be a path, got a "
                         f"{type(f).__name__} object")
    _require_binary("load", f, "read")
    name = getattr(f, "name", None)
    with _collector_paused():
        return _read(name if isinstance(name, str) else f"<{type(f).__name__}>", f, place,
                     False)


def _read(name: str, f, place: Placement, use_mmap: bool):
    """The checkpoint in ``f``, read by the reader that its first bytes call for."""
    file, start, size = _sized(f)
    head = bytes(_read_exact(file, min(size, 16)))
    file.seek(start)
    if head[:8] == MAGIC or len(head) < 8 and MAGIC.startswith(head):
        return _Loader(name, file, start, size, place, use_mmap).load()
    if head[:4] == b"PK\x03\x04":
        return _torch.load_zip(name, file, start, size, place, use_mmap)
    if head[:1] == b"\x80" and len(head) > 1 and head[1] <= pickle.HIGHEST_PROTOCOL:
        _no_mmap(use_mmap, "a PyTorch file in the legacy (pre-1.6, non-zip) format")
        return _torch.load_legacy(name, file, start, size, place, head)
    if head[8:9] == b"{" and 8 + int.from_bytes(head[:8], "little") <= size:
        _no_mmap(use_mmap, "a safetensors file")
        return _safetensors.tensors_from_bytes(name, _read_exact(file, size), place)
    raise CheckpointError(name, None, f"not a graphgrad checkpoint (magic {head[:8]!r}, "
                          f"expected {MAGIC!r}), nor a PyTorch (torch.save) or safetensors "
                          "file")


def _no_mmap(mmap: bool | None, what: str) -> None:
    if mmap:
        raise ValueError(f"load: mmap=True needs a graphgrad checkpoint or a PyTorch zip "
                         f"checkpoint, got {what}")


def _sized(f):
    """``(file, start, size)``: a file positioned at ``start`` with ``size`` bytes left.
    A stream that cannot seek is read whole first, into memory that grows only as
    bytes arrive."""
    seekable = getattr(f, "seekable", None)
    if callable(seekable) and seekable() and callable(getattr(f, "readinto", None)):
        start = f.tell()
        f.seek(0, os.SEEK_END)
        size = f.tell() - start
        f.seek(start)
        return f, start, size
    chunks = []
    while chunk := f.read(_CHUNK):
        if not isinstance(chunk, (bytes, bytearray)):
            raise TypeError(f"load: f.read() returned {type(chunk).__name__}, not bytes; "
                            "open the file in binary mode")
        chunks.append(chunk)
    data = b"".join(chunks)
    del chunks
    return io.BytesIO(data), 0, len(data)


class _Loader:
    """Reads one checkpoint: framing, header, structure and arrays, checked in that order."""

    def __init__(self, name: str, file, start: int, size: int, place: Placement,
                 use_mmap: bool) -> None:
        self.name, self.place, self.use_mmap = name, place, use_mmap
        self.file, self.start, self.size = file, start, size
        self.path: list = []  # key path of the node being looked at (for messages only)
        self.data_size = self.expected = 0
        self.stored: dict = {}  # (offset, dtype, shape) -> crc32 of each stored array
        self.loaded: dict = {}  # offset -> the array loaded from there (for shared ones)
        self.header_crc = 0
        self.buffer = None  # the file's pages with mmap=True
        self.specs = iter(())  # the checked array specs, consumed in file order by build
        self.data_start = 0

    def fail(self, reason: str, with_key: bool = True):
        raise CheckpointError(self.name, _key_text(self.path) if with_key else None, reason)

    def load(self):
        self.place.check("cpu")  # graphgrad saves everything from the CPU
        header_len = self.read_preamble()
        root = self.parse(header_len)
        specs: list = []
        self.check(root, specs)
        if self.expected != self.data_size:
            self.fail(f"data section holds {self.data_size} bytes, the header describes "
                      f"{self.expected}", with_key=False)
        if self.use_mmap and self.data_size:
            self.buffer = _mmap.mmap(self.file.fileno(), 0, access=_mmap.ACCESS_COPY)
        self.specs = iter(specs)
        self.data_start = self.start + _PREAMBLE.size + header_len
        return self.build(root)

    # ---------------------------------------------------------- framing
    def read_bytes(self, n: int) -> bytearray:
        buf = bytearray(n)  # n was checked against the file's size
        if _readinto_exact(self.file, memoryview(buf)) != n:
            self.fail("file ended early (truncated?)", with_key=False)
        return buf

    def read_preamble(self) -> int:
        if self.size < _PREAMBLE.size:
            self.fail(f"file too short ({self.size} bytes) for the {_PREAMBLE.size}-byte "
                      "preamble", with_key=False)
        magic, version, self.header_crc, header_len = _PREAMBLE.unpack(
            self.read_bytes(_PREAMBLE.size))
        if magic != MAGIC:
            self.fail(f"not a graphgrad checkpoint (magic {magic!r}, expected {MAGIC!r})",
                      with_key=False)
        if version != VERSION:
            self.fail(f"unsupported format version {version} (this graphgrad reads version "
                      f"{VERSION})", with_key=False)
        if header_len > self.size - _PREAMBLE.size:
            self.fail(f"header length {header_len} exceeds the file size {self.size}",
                      with_key=False)
        self.data_size = self.size - _PREAMBLE.size - header_len
        return header_len

    def parse(self, header_len: int):
        """The header's root node; JSON objects come back as tuples of (key, value) pairs,
        which cost less than dicts and keep duplicate keys visible."""
        header = self.read_bytes(header_len)
        if zlib.crc32(header) != self.header_crc:
            self.fail("header checksum mismatch (corrupted file)", with_key=False)
        self.check_density(header)
        try:
            text = header.decode("utf-8")
            del header  # the text replaces the bytes
            doc = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=tuple)
        except (ValueError, RecursionError) as err:  # UnicodeDecodeError is a ValueError
            self.fail(f"header is not valid JSON ({err})", with_key=False)
        del text
        fields = dict(doc) if type(doc) is tuple else {}
        if len(fields) != 2 or len(doc) != 2 or set(fields) != {"root", "data_bytes"}:
            self.fail("header must be an object with keys 'root' and 'data_bytes'",
                      with_key=False)
        if type(fields["data_bytes"]) is not int or fields["data_bytes"] != self.data_size:
            self.fail(f"header declares {_short(fields['data_bytes'])} data bytes, the file "
                      f"holds {self.data_size} (truncated or padded file?)", with_key=False)
        return fields["root"]

    def check_density(self, header: bytearray) -> None:
        """Python's JSON parser spends up to 88 bytes on each JSON array, so a header of
        tiny nested arrays (``[[[0]]]``, ...) would cost 45 times its length.  ``save``
        never writes more than one array in 6 bytes (``[0,0],`` in a dict is the densest):
        refuse denser headers unparsed."""
        limit = 16 + len(header) // 6
        arrays = header.count(b"[")
        if arrays > limit:  # count again, leaving out the brackets inside strings
            plain = header.replace(b"\\\\", b"").replace(b'\\"', b"") if b"\\" in header \
                else header
            arrays = plain.count(b"[") - sum(
                plain.count(b"[", *m.span()) for m in _PLAIN_STRING.finditer(plain))
        if arrays > limit:
            self.fail(f"header holds {arrays} JSON arrays in {len(header)} bytes, more than "
                      "one in 6 bytes (not written by save)", with_key=False)

    # ---------------------------------------------------------- structure
    def check(self, node, specs: list) -> None:
        """Check a node and everything under it; collect the array specs in file order."""
        if len(self.path) > MAX_DEPTH:
            self.fail(f"nested deeper than {MAX_DEPTH} levels")
        kind = type(node)
        if node is None or kind is bool or kind is int or kind is str:
            return
        if kind is float:
            if not math.isfinite(node):
                self.fail("non-finite float written as a JSON number")
            return
        if kind is not tuple or len(node) != 1:
            self.fail(f"invalid node: {_short(node)}")
        (tag, body), = node
        if tag in ("list", "tuple", "dict", "odict") and type(body) is not list:
            self.fail(f"{tag} node must hold a JSON array")
        if tag in ("list", "tuple"):
            for i, child in enumerate(body):
                self.path.append(i)
                self.check(child, specs)
                self.path.pop()
        elif tag in ("dict", "odict"):
            for item in body:
                if type(item) is not list or len(item) != 2 or type(item[0]) not in (str, int):
                    self.fail(f"invalid dict entry: {_short(item)}")
            for kind in (str, int):  # sorted: a pointer a key, where a set costs up to 128 bytes
                keys = sorted(item[0] for item in body if type(item[0]) is kind)
                for a, b in zip(keys, itertools.islice(keys, 1, None), strict=False):
                    if a == b:
                        self.fail(f"duplicate dict key {_short(a)}")
            del keys
            for item in body:
                self.path.append(item[0])
                self.check(item[1], specs)
                self.path.pop()
        elif tag == "float":
            if type(body) is not str or body not in _SPECIAL_FLOATS:
                self.fail(f"invalid float node {_short(body)}")
        elif tag == "array":
            specs.append(self.check_array(body))
        else:
            self.fail(f"unknown node type {_short(tag)}")

    def check_array(self, body) -> _Spec:
        fields = dict(body) if type(body) is tuple else {}
        if type(body) is not tuple or len(fields) != len(body) or \
                set(fields) - {"requires_grad"} != _FIELDS:
            self.fail(f"array entry must have exactly the fields {sorted(_FIELDS)} (and "
                      "optionally requires_grad)")
        kind, dtype, shape = fields["kind"], fields["dtype"], fields["shape"]
        if type(kind) is not str or kind not in _KINDS:
            self.fail(f"invalid array kind {_short(kind)}")
        if type(dtype) is not str or dtype not in _DTYPES:
            self.fail(f"dtype {_short(dtype)} is not allowed (allowed: {', '.join(_DTYPES)})")
        if type(shape) is not list or len(shape) > 32 or set(map(type, shape)) - {int} or \
                shape and not 0 <= min(shape) <= max(shape) <= _MAX_DIM:
            self.fail(f"invalid shape {_short(shape)}")
        if kind == "scalar" and shape:
            self.fail(f"a scalar must have shape [], got {shape}")
        itemsize = _DTYPES[dtype].itemsize
        if math.prod(filter(None, shape)) * itemsize > _MAX_DIM:  # NumPy's limit: 2**63
            self.fail(f"shape {shape} is too large")
        nbytes, offset, crc = math.prod(shape) * itemsize, fields["offset"], fields["crc32"]
        if type(fields["nbytes"]) is not int or fields["nbytes"] != nbytes:
            self.fail(f"nbytes {_short(fields['nbytes'])} does not match shape {shape} of "
                      f"{dtype} ({nbytes} bytes)")
        if type(offset) is not int or offset < 0:
            self.fail(f"invalid offset {_short(offset)}")
        if type(crc) is not int or not 0 <= crc < 2**32:
            self.fail(f"invalid crc32 {_short(crc)}")
        requires_grad = fields.get("requires_grad", False)
        if requires_grad is not False and (requires_grad is not True or kind not in (
                "tensor", "parameter") or _DTYPES[dtype].kind != "f"):
            self.fail(f"requires_grad {_short(requires_grad)} is only allowed as true, on "
                      "floating point tensors")
        spec = _Spec(kind, dtype, tuple(shape), offset, nbytes, crc, requires_grad)
        self.check_layout(spec)
        return spec

    def check_layout(self, spec: _Spec) -> None:
        """An array's data follows the previous one's, or is an earlier array's; all of it
        lies inside the file."""
        if spec.offset == self.expected:
            self.expected += spec.nbytes
            if self.expected > self.data_size:
                self.fail(f"array data ends at byte {self.expected} of a {self.data_size}-byte "
                          "data section (truncated file?)")
            if spec.nbytes:
                self.stored[spec.offset, spec.dtype, spec.shape] = spec.crc32
        elif self.stored.get((spec.offset, spec.dtype, spec.shape)) != spec.crc32:
            self.fail(f"array offset {spec.offset}, expected {self.expected} (arrays must be "
                      "packed in order, or share an earlier array's data)")

    # ---------------------------------------------------------- values
    def build(self, node):
        """The value of a checked node.  Each parsed child is dropped as soon as its value
        is built, so the parsed header and the result do not both stay whole."""
        if node is None or type(node) in (bool, int, float, str):
            return node
        (tag, body), = node
        if tag in ("list", "tuple"):
            values = []
            for i, child in enumerate(body):
                body[i] = None
                values.append(self.child(i, child))
            return values if tag == "list" else tuple(values)
        if tag in ("dict", "odict"):
            out = {} if tag == "dict" else collections.OrderedDict()
            for i, (key, child) in enumerate(body):
                body[i] = None
                out[key] = self.child(key, child)
            return out
        if tag == "float":
            return _SPECIAL_FLOATS[body]
        return self.value(next(self.specs))

    def child(self, key, node):
        self.path.append(key)
        value = self.build(node)
        self.path.pop()
        return value

    def value(self, spec: _Spec):
        a = self.loaded.get(spec.offset) if spec.nbytes else None
        if a is None:
            a = self.read_array(spec)
            if spec.nbytes:
                self.loaded[spec.offset] = a
        if spec.kind == "ndarray":
            return a
        if spec.kind == "scalar":
            return a[()]
        if spec.kind == "tensor":
            t = Tensor._make(a, requires_grad=spec.requires_grad)
        else:
            t = Parameter(np.empty(0, a.dtype), requires_grad=spec.requires_grad)
            t.data = Tensor._make(a)  # shares `a`: Parameter(a) would copy it
        return self.place.apply(t, "cpu")

    def read_array(self, spec: _Spec) -> np.ndarray:
        dtype = _DTYPES[spec.dtype]
        if self.buffer is not None and spec.nbytes:
            a = np.frombuffer(self.buffer, dtype, math.prod(spec.shape),
                              self.data_start + spec.offset).reshape(spec.shape)
        else:
            a = np.empty(spec.shape, dtype)
            if _readinto_exact(self.file, _bytes_view(a)) != spec.nbytes:
                self.fail("file ended inside the array data (truncated?)")
        view = _bytes_view(a)
        if zlib.crc32(view) != spec.crc32:
            self.fail("array data checksum mismatch (corrupted file)")
        if dtype.kind == "b" and a.size and a.view(np.uint8).max() > 1:
            self.fail("bool array holds bytes other than 0 and 1")
        return a.astype(dtype.newbyteorder("="), copy=False)


def _reject_constant(name: str):
    raise ValueError(f"non-finite number {name} in JSON")
