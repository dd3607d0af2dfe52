"""``save(obj, f)`` / ``load(f, map_location=None, weights_only=True, mmap=None)``:
checkpoints as ``torch.save`` / ``torch.load``, in a format of our own without pickle.

``load`` also reads, by their first bytes, files that ``torch.save`` wrote (the zip
format and the legacy one: see ``_torch``) and safetensors files (see
``_safetensors``; a path ending in ``.safetensors`` is always read as one), and
``save`` writes a safetensors file to a path ending in ``.safetensors``.  A PyTorch
file is read without PyTorch and without running code: its pickle is interpreted
by a reader that knows only the globals PyTorch's ``weights_only=True`` loader
accepts and refuses any other, naming it (see ``_unpickle``).  Tensors come back as
graphgrad Tensors viewing their storages as in PyTorch (strides, offsets, tensors
sharing a storage share memory), Parameters as Parameters, ``torch.Size`` as
``gg.Size``, dtypes and devices as graphgrad's, containers as they were.  Each
storage is checked against the archive before it is allocated, and the storages
read add up to at most the file's size; the pickle itself (a few bytes per tensor
in real checkpoints) costs at most about 250 bytes of memory per byte.

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
``gg.device``, a dict from saved location to new location (graphgrad saves every
tensor on ``"cpu"``; PyTorch files name theirs, e.g. ``"cuda:0"``), or a callable
``fn(tensor, location)`` returning the Tensor to use (or None to keep it).  A
location naming a device graphgrad does not have raises, as
``graphgrad.autograd.devices.check_device`` does: a PyTorch file saved from a GPU
needs ``map_location="cpu"``, as in PyTorch on a machine without one.
``weights_only`` may be True (the default), None or False: all three read the same
way, and False does *not* enable pickle's code execution.  ``mmap=True`` (paths to
graphgrad or PyTorch zip files only) maps the file copy-on-write and lets the arrays
use its pages instead of reading them into memory: writes to a loaded tensor never
reach the file.  ``torch.save``'s and ``torch.load``'s pickle options
(``pickle_module``, ``pickle_protocol``, ``encoding``, ...) raise ``TypeError``.

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

from ._format import _PREAMBLE, MAGIC, MAX_DEPTH, VERSION, CheckpointError
from ._load import load
from ._save import save
