"""``save(obj, f)`` / ``load(f, map_location=None, weights_only=True, mmap=None)``:
checkpoints as ``torch.save`` / ``torch.load``, in a format of our own without pickle.

What can be saved: any nesting of ``dict`` and ``OrderedDict`` (str or int keys),
``list`` and ``tuple`` of ``None``, ``bool``, ``int``, ``float``, ``str``, NumPy
arrays and scalars, Tensors and ``nn.Parameter``, with array dtypes bool,
int8/16/32/64, uint8/16/32/64 and float16/32/64.  That covers model and optimizer
state_dicts (whose state is keyed by int), scheduler state, ``gg.get_rng_state()``,
a DataLoader's state and a GPT-style checkpoint ``{"model": ..., "optimizer": ...,
"iter_num": 5000, "best_val_loss": tensor(1.23), "config": {...}}``.  ``load``
gives back the same structure and types: Tensors as Tensors (``requires_grad`` as
saved), Parameters as Parameters, arrays as arrays, NumPy scalars as NumPy scalars,
tuples as tuples, OrderedDicts as OrderedDicts.  Other subclasses of dict, list and
tuple (``gg.Size``, namedtuples) load as the plain type.  Tensors and arrays that
share one NumPy array (tied weights: ``state_dict()`` gives each its own detached
Tensor over the same array) are stored once and load sharing one array again;
distinct views of one buffer are stored separately.  Anything else, a Module or an
optimizer object above all, raises ``TypeError`` naming the key where it was found
(for objects with a ``state_dict()``, save that instead).

``f`` is a path (``str`` or ``os.PathLike``) or a binary file object.  A path is
written atomically (below); a file object is written straight through from its
current position (no atomic replace is possible: a crash can leave it half written)
and is not closed.  ``load`` reads a file object from its current position to its
end; one that cannot seek (a pipe, a socket) is read whole first.

``map_location`` is accepted in each of PyTorch's forms: None, ``"cpu"``, a
``gg.device``, a dict from saved location to new location (every tensor was saved
on ``"cpu"``), or a callable ``fn(tensor, "cpu")`` returning the Tensor to use (or
None to keep it).  A location naming a device graphgrad does not have raises, as
``graphgrad.autograd.devices.check_device`` does.  ``weights_only`` may be True
(the default), None or False: all three read this format, and False does *not*
enable pickle (there is none to enable).  ``mmap=True`` (paths only) maps the file
copy-on-write and lets the arrays use its pages instead of reading them into memory:
writes to a loaded tensor never reach the file.  ``torch.save``'s and
``torch.load``'s pickle options (``pickle_module``, ``pickle_protocol``, ``encoding``,
...) raise ``TypeError``.

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
    {"dict": [[key, node], ...]}       {"odict": [[key, node], ...]}   key: string or int
    {"float": "nan" | "inf" | "-inf"}
    {"array": {"kind": "ndarray" | "tensor" | "parameter" | "scalar",
               "dtype": "float32", "shape": [2, 3], "offset": 0, "nbytes": 24,
               "crc32": 123}}           (+ "requires_grad": true for such tensors)

``offset`` is relative to the data section.  An array's offset is either the end
of the previous stored array (its data follows) or the offset of an earlier stored
array with the same dtype, shape and crc32 (it shares that array's data).  The file
must end with the last array, so a truncated or padded file is rejected.

Safety: ``load`` never runs code (no pickle, no object dtypes, no imports driven by
the file).  It checks the magic, version, header length, header CRC, every node and
every array's dtype, shape, offset and size, and all sizes against the file's real
size *before* allocating any array, so a hostile file cannot make it allocate more
than the file holds; each array's CRC is checked as it is read, and a duplicate
dict key as its dict is built.  Containers nest at most ``MAX_DEPTH`` deep.  Every
problem raises ``CheckpointError`` (a ``ValueError``) naming the file and the key;
key paths are only spelled out for a message and are shortened there (first and
last parts), and every message is at most about a thousand characters.

Memory: ``load`` needs the arrays (the data section; nothing for ``mmap=True``)
plus what parsing the header costs.  Python's JSON parser builds one object per
JSON value, and a small value costs more than its text (an empty list, 3 bytes,
is a 56-byte object).  A header denser in JSON arrays than ``save`` ever writes
(one in 6 bytes) is refused before parsing, as nested tiny arrays would cost 45
times their length; any other header costs less than 20 times its length (the
worst measured, 18: nested objects, and lists of small dicts with int keys).  Key
paths cost nothing, as they are not built while reading.  So a load's peak memory
stays under 20 times the file's size, whatever the file holds.

Writes to a path are atomic: ``save`` writes a temporary file next to the target,
flushes and fsyncs it, renames it over the target with ``os.replace`` and fsyncs
the directory.  A crash leaves either the old file or the new one (plus, at worst,
a stray ``.<name>.<random>.tmp`` file next to it).  A path that is a symbolic link
is followed: the target gets the new contents and the link stays a link.  Saving
over an existing file keeps its permission bits (a 0600 checkpoint stays 0600); a
new file gets ``0666`` less the umask, as ``open`` gives.  (Replacing the file
gives it a new inode: other hard links to the old file keep the old contents.)
"""
from __future__ import annotations

import collections
import contextlib
import errno
import gc
import io
import itertools
import json
import math
import mmap as _mmap
import os
import re
import reprlib
import stat
import struct
import zlib

import numpy as np

from graphgrad.autograd.devices import check_device, device
from graphgrad.autograd.tensor import Tensor
from graphgrad.nn.module import Module
from graphgrad.nn.parameter import Parameter

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

    ``.path`` is the file (or a file object's name) and ``.key`` the place in the
    saved structure (e.g. ``['state'][0]['exp_avg']``, shortened when long), or None
    for the file's framing.
    """

    def __init__(self, path, key: str | None, reason: str) -> None:
        self.path = path if isinstance(path, str) else os.fsdecode(path)
        self.key = key
        where = f" at key {key}" if key else ""
        super().__init__(f"{_clip(self.path, _MAX_NAME_CHARS)}: bad checkpoint{where}: "
                         f"{_clip(reason, _MAX_REASON_CHARS)}")


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


# ------------------------------------------------------------------ save
def save(obj, f, pickle_module=None, pickle_protocol=None, **kwargs) -> None:
    """Write ``obj`` to ``f``, a path (atomically) or a binary file object; see the
    module docstring for what can be saved.

    Raises ``TypeError`` naming the key for a value that can't be saved (nothing is
    written then), and for PyTorch's pickle options.
    """
    _no_pickle_arguments("save", pickle_module=pickle_module, pickle_protocol=pickle_protocol,
                         **kwargs)
    if not _is_path(f):
        _require_binary("save", f, "write")
    encoder = _Encoder()
    with _collector_paused():
        root = encoder.node(obj)
        header = json.dumps({"root": root, "data_bytes": encoder.size}, allow_nan=False,
                            separators=(",", ":")).encode("utf-8")
        del root
    if _is_path(f):
        _write_atomically(os.fsdecode(os.fspath(f)), header, encoder.arrays)
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
            data = np.asarray(a, dtype=_DTYPES[name], order="C")  # ascontiguousarray: 0-d->1-d
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


def _write_atomically(path: str, header: bytes, arrays: list) -> None:
    target = os.path.realpath(path)  # a symlink is followed: its target gets the contents
    if os.path.islink(target):  # realpath stops at a loop of links
        raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), path)
    try:
        st = os.stat(target)
    except FileNotFoundError:
        mode = None
    else:
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
        mode = stat.S_IMODE(st.st_mode)
    directory, name = os.path.split(target)
    tmp = os.path.join(directory, f".{name}.{os.urandom(6).hex()}.tmp")
    # Never more permissive than the final mode while being written; a new file gets
    # 0666 less the umask, as open() would give it.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    fd = os.open(tmp, flags, 0o666 if mode is None else mode & 0o777)
    try:
        with os.fdopen(fd, "wb") as f:
            if mode is not None:  # the old file's exact bits, whatever the umask
                os.chmod(f.fileno() if os.chmod in os.supports_fd else tmp, mode)
            _write(f, header, arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
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


# ------------------------------------------------------------------ load
def load(f, map_location=None, pickle_module=None, *, weights_only: bool | None = True,
         mmap: bool | None = None, **pickle_load_args):
    """Read a checkpoint written by ``save`` from a path or a binary file object.

    ``map_location``, ``weights_only`` and ``mmap`` as described in the module
    docstring.  Raises ``CheckpointError`` if ``f`` does not hold a valid checkpoint.
    """
    _no_pickle_arguments("load", pickle_module=pickle_module, **pickle_load_args)
    for name, flag in (("weights_only", weights_only), ("mmap", mmap)):
        if flag is not None and type(flag) is not bool:
            raise TypeError(f"load: {name} must be a bool or None, got {flag!r}")
    place = _placement(map_location)
    if _is_path(f):
        with open(f, "rb") as file, _collector_paused():
            return _Loader(os.fsdecode(os.fspath(f)), file, place, bool(mmap)).load()
    if mmap:
        raise ValueError("load: mmap=True needs f to be a path, got a "
                         f"{type(f).__name__} object")
    _require_binary("load", f, "read")
    name = getattr(f, "name", None)
    with _collector_paused():
        return _Loader(name if isinstance(name, str) else f"<{type(f).__name__}>", f, place,
                       False).load()


def _placement(map_location):
    """The callable that ``load`` passes each Tensor to, or None; a location naming a
    device that isn't there raises now (every tensor was saved on the CPU)."""
    if map_location is None:
        return None
    if isinstance(map_location, (str, device)):
        check_device("load", map_location)
        return None
    if isinstance(map_location, dict):
        check_device("load", map_location.get("cpu", "cpu"))
        return None
    if callable(map_location):
        return map_location
    raise TypeError("load: map_location must be None, a str, a gg.device, a dict or a "
                    f"callable, got {type(map_location).__name__}")


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


def _readinto_exact(f, view: memoryview) -> int:
    """Fill ``view`` from ``f``; the number of bytes read (less at the end of the file)."""
    got = 0
    while got < len(view):
        n = f.readinto(view[got:])
        if not n:
            break
        got += n
    return got


class _Loader:
    """Reads one checkpoint: framing, header, structure and arrays, checked in that order."""

    def __init__(self, name: str, file, place, use_mmap: bool) -> None:
        self.name, self.place, self.use_mmap = name, place, use_mmap
        self.file, self.start, self.size = _sized(file)
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
        if self.place is None:
            return t
        out = self.place(t, "cpu")
        if out is not None and not isinstance(out, Tensor):
            raise TypeError(f"load: map_location returned a {type(out).__name__}, expected a "
                            "Tensor or None")
        return t if out is None else out

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
