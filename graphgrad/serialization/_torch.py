"""Files written by ``torch.save``, read without PyTorch: the zip format (PyTorch 1.6 and
later) and the legacy one.

Zip format, ``torch.save``'s default: a zip archive whose records all sit in one
folder ``<name>/``, stored uncompressed::

    <name>/data.pkl      the pickled structure (read by ``_unpickle.Unpickler``)
    <name>/data/<key>    each storage's bytes, element after element
    <name>/byteorder     b"little" or b"big" (absent before PyTorch 2.1: little)
    <name>/version, .format_version, .storage_alignment, .data/serialization_id

A storage's persistent id is ``("storage", <storage class>, key, location, numel)``;
its record must hold exactly ``numel`` elements of the class's dtype (bytes for an
UntypedStorage).  Only the central directory, the local header of each record used
and the records themselves are read: each record must be stored (not compressed or
encrypted), lie inside the file and match its CRC-32 (PyTorch can be told not to
compute CRCs; a zero CRC is not checked); the bytes read add up to at most the
file's size, so overlapping records (an uncompressed zip bomb) can't multiply them;
with ``mmap=True`` storages are the file's pages, mapped copy-on-write.

Legacy format (``torch.save(..., _use_new_zipfile_serialization=False)``): pickles
back to back -- PyTorch's magic number, protocol version 1001, a dict of system
information (``little_endian``), the structure, the list of storage keys -- then each
listed storage as an 8-byte element count and its bytes.  Persistent ids there are
``("storage", <class>, key, location, numel, view_metadata)``.  The structure is read
twice: once to learn the storages (allocated as declared, in all at most the file's
size), and once, after their bytes are read, to build the tensors.
"""
from __future__ import annotations

import io
import mmap as _mmap
import pickle
import struct
import zipfile
import zlib

import numpy as np

from ._format import CheckpointError, _read_exact, _readinto_exact, _short
from ._unpickle import CallerError, Global, Storage, Unpickler, check_result, describe

_LOCAL_HEADER = struct.Struct("<4s5H3L2H")  # the fixed 30 bytes before a record's name
_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C  # the legacy format's first pickle
_PROTOCOL_VERSION = 1001
# What a damaged pickle or zip directory makes the standard library raise.
_PARSE_ERRORS = (pickle.UnpicklingError, zipfile.BadZipFile, zipfile.LargeZipFile, EOFError,
                 ValueError, TypeError, IndexError, KeyError, struct.error, OverflowError,
                 RecursionError, NotImplementedError)


def _failer(name: str):
    def fail(reason: str):
        raise CheckpointError(name, None, reason)
    return fail


def _run(u: Unpickler, fail):
    """``u.load()``; an error the file causes becomes a CheckpointError."""
    try:
        return u.load()
    except CheckpointError:
        raise
    except CallerError as err:  # raised by the caller's map_location: theirs to see
        raise err.error from None
    except _PARSE_ERRORS as err:
        fail(f"invalid pickle data ({type(err).__name__}: {_short(str(err), 200)})")


def _storage_fields(args: tuple, count: int, fail):
    """The checked fields of a persistent id after "storage": class dtype, element
    size, key, location, numel (and the rest)."""
    if len(args) != count:
        fail(f"storage persistent id {describe(args)} has {len(args) + 1} fields, expected "
             f"{count + 1}")
    cls, key, location, numel, *rest = args
    if type(cls) is not Global or cls.storage_dtype == "":
        fail(f"{describe(cls)} is not a storage class")
    dtype = cls.storage_dtype
    itemsize = 1 if dtype is None else 2 if dtype == "bfloat16" else np.dtype(dtype).itemsize
    if type(key) is not str or type(numel) is not int or numel < 0 or type(location) is not str:
        fail(f"storage persistent id with key {describe(key)}, location {describe(location)} and "
             f"size {describe(numel)}")
    return dtype, itemsize, key, location, numel, rest


# ------------------------------------------------------------------ zip format
class _Zip:
    """The records of a zip archive, read only as asked for and checked."""

    def __init__(self, name: str, file, size: int, use_mmap: bool) -> None:
        self.file, self.size, self.fail = file, size, _failer(name)
        self.read_bytes = 0
        try:
            infos = zipfile.ZipFile(file).infolist()
        except (*_PARSE_ERRORS, OSError) as err:
            self.fail(f"a zip archive that can't be read ({type(err).__name__}: "
                      f"{_short(str(err), 200)})")
        self.records: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            if info.filename in self.records:
                self.fail(f"the archive holds record {_short(info.filename)} twice")
            self.records[info.filename] = info
        self.prefix = infos[0].filename.partition("/")[0] if infos else ""
        self.buffer = _mmap.mmap(file.fileno(), 0, access=_mmap.ACCESS_COPY) if use_mmap \
            else None

    def record(self, path: str) -> np.ndarray:
        """The bytes of the record at ``path`` (within the archive's folder)."""
        path = f"{self.prefix}/{path}"
        info = self.records.get(path)
        if info is None:
            self.fail(f"the archive has no record {_short(path)} (not a torch.save file?)")
        if info.flag_bits & 1 or info.compress_type != zipfile.ZIP_STORED or \
                info.compress_size != info.file_size:
            self.fail(f"record {_short(path)} is compressed or encrypted; torch.save stores "
                      "records as they are")
        start = self.data_start(info, path)
        if start + info.file_size > self.size:
            self.fail(f"record {_short(path)} ends at byte {start + info.file_size} of a "
                      f"{self.size}-byte file (truncated?)")
        if self.buffer is not None and info.file_size:
            data = np.frombuffer(self.buffer, np.uint8, info.file_size, start)
        else:
            self.read_bytes += info.file_size
            if self.read_bytes > self.size:
                self.fail("the records read add up to more bytes than the file holds "
                          "(records overlap)")
            data = np.empty(info.file_size, np.uint8)
            self.file.seek(start)
            if _readinto_exact(self.file, memoryview(data)) != info.file_size:
                self.fail(f"file ended inside record {_short(path)} (truncated?)")
        if info.CRC and zlib.crc32(data) != info.CRC:
            self.fail(f"record {_short(path)} does not match its CRC-32 (corrupted file)")
        return data

    def data_start(self, info: zipfile.ZipInfo, path: str) -> int:
        """Where the record's bytes start: after its local header, name and extra field."""
        if not 0 <= info.header_offset <= self.size - _LOCAL_HEADER.size:
            self.fail(f"record {_short(path)}'s header lies outside the file")
        self.file.seek(info.header_offset)
        signature, *_, name_len, extra_len = _LOCAL_HEADER.unpack(
            _read_exact(self.file, _LOCAL_HEADER.size))
        name = info.orig_filename.encode("utf-8" if info.flag_bits & 0x800 else "cp437")
        if signature != b"PK\x03\x04" or _read_exact(self.file, name_len) != name:
            self.fail(f"record {_short(path)}'s local header does not match the archive's "
                      "directory")
        return info.header_offset + _LOCAL_HEADER.size + name_len + extra_len

    def big_endian(self) -> bool:
        present = f"{self.prefix}/byteorder" in self.records
        order = bytes(self.record("byteorder")) if present else b"little"
        if order not in (b"little", b"big"):
            self.fail(f"byteorder record {describe(order)}, expected b'little' or b'big'")
        return order == b"big"


def load_zip(name: str, file, start: int, size: int, place, use_mmap: bool):
    """The structure saved in a zip-format PyTorch file."""
    if start:  # data before the archive: read the archive alone
        file = io.BytesIO(_read_exact(file, size))
    archive = _Zip(name, file, size, use_mmap)
    fail, big = archive.fail, archive.big_endian()
    storages: dict[str, Storage] = {}

    def storage(args: tuple) -> Storage:
        dtype, itemsize, key, location, numel, _ = _storage_fields(args, 4, fail)
        if key not in storages:
            location = u.checked_location(location)
            raw = archive.record(f"data/{key}")
            if raw.size != numel * itemsize:
                fail(f"storage {_short(key)} holds {raw.size} bytes, its persistent id "
                     f"declares {numel} elements of {itemsize} bytes")
            storages[key] = Storage(key, dtype, raw, location, big)
        if storages[key].dtype != dtype:
            fail(f"storage {_short(key)} is declared with two storage classes")
        return storages[key]

    u = Unpickler(io.BytesIO(archive.record("data.pkl")), fail, storage, place)
    result = _run(u, fail)
    check_result(result, fail)
    return result


# ------------------------------------------------------------------ legacy format
class _Bounded:
    """``file`` read only up to ``end``, so that a length read from a pickle can't make a
    read allocate more than the file holds."""

    def __init__(self, file, end: int) -> None:
        self.file, self.end = file, end

    def read(self, n: int = -1) -> bytes:
        left = self.end - self.file.tell()
        return bytes(_read_exact(self.file, left if n is None or n < 0 else min(n, left)))

    def readline(self) -> bytes:
        return self.file.readline(max(self.end - self.file.tell(), 0))


def load_legacy(name: str, file, start: int, size: int, place, head: bytes):
    """The structure saved in a legacy-format PyTorch file (a pickle, at least)."""
    fail, reader = _failer(name), _Bounded(file, start + size)

    def plain():
        return _run(Unpickler(reader, fail), fail)

    try:
        magic = plain()
        if type(magic) is not int or magic != _MAGIC_NUMBER:
            fail(f"a pickle of {describe(magic)}, not PyTorch's magic number")
    except CheckpointError as err:  # some other pickle: a plain one, or a hostile one
        fail(f"not a graphgrad checkpoint (magic {head[:8]!r}), nor a PyTorch checkpoint: "
             f"{err.reason}")
    version = plain()
    info = plain() if version == _PROTOCOL_VERSION else None
    if type(info) is not dict or type(info.get("little_endian")) is not bool:
        fail(f"a PyTorch legacy file with protocol version {describe(version)} (expected "
             f"{_PROTOCOL_VERSION}) or without system information")
    big = not info["little_endian"]
    structure = file.tell()
    declared: dict[str, tuple] = {}  # key -> (dtype, numel, bytes, location)
    total = 0

    def declare(args: tuple) -> Storage:
        nonlocal total
        dtype, itemsize, key, location, numel, (view,) = _storage_fields(args, 5, fail)
        if view is not None:
            fail("storage views (files from PyTorch before 0.4) are not supported")
        if key not in declared:
            total += numel * itemsize
            if total > size:
                fail(f"storage {_short(key)} of {numel} elements makes the storages larger "
                     "than the file")
            declared[key] = (dtype, numel, np.empty(numel * itemsize, np.uint8),
                             u.checked_location(location))
        if declared[key][:2] != (dtype, numel):
            fail(f"storage {_short(key)} is declared twice, differently")
        return Storage(key, dtype, declared[key][2], declared[key][3], big, filled=False)

    u = Unpickler(reader, fail, declare, place, build=False)
    _run(u, fail)
    keys = plain()
    if type(keys) is not list or any(type(k) is not str for k in keys) or \
            sorted(keys) != sorted(declared):
        fail(f"the list of storages {describe(keys)} does not match the {len(declared)} "
             "storages the structure uses")
    storages = {}
    for key in keys:
        dtype, numel, raw, location = declared[key]
        count = int.from_bytes(_read_exact(file, 8), "big" if big else "little", signed=True)
        if count != numel or _readinto_exact(file, memoryview(raw)) != raw.size:
            fail(f"storage {_short(key)}: {count} elements stored where {numel} are declared, "
                 "or the file ends early (truncated?)")
        storages[key] = Storage(key, dtype, raw, location, big)
    file.seek(structure)
    u = Unpickler(reader, fail, lambda args: storages[args[1]], place)
    result = _run(u, fail)
    check_result(result, fail)
    return result
