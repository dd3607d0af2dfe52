"""The pickle inside a PyTorch checkpoint, read without importing torch and without
running code.

``torch.save`` pickles the saved structure.  A tensor is pickled as a call of one of
PyTorch's rebuild functions, ``_rebuild_tensor_v2(storage, storage_offset, size,
stride, requires_grad, backward_hooks)``, where ``storage`` is a persistent id
``("storage", <storage class>, key, location, numel)`` naming a flat buffer that is
kept outside the pickle (see ``_torch``).  Element ``index`` of the tensor is element
``storage_offset + sum(index[d] * stride[d])`` of the storage, so views (transposes,
slices, expands) and tensors sharing one storage come back as NumPy views of one
array, sharing memory as they did in PyTorch.

A plain unpickler imports and calls whatever a pickle names.  ``Unpickler`` (the
pure-Python ``pickle._Unpickler``, whose opcode table can be restricted, unlike the C
one's) never imports anything: each global a pickle may name is looked up in the
fixed table ``_GLOBALS`` and becomes a graphgrad value (``torch.float32`` ->
``gg.float32``) or a function of ours that checks its arguments and builds the
graphgrad object (a Tensor, a Parameter, an OrderedDict, a ``gg.Size``, ...).  The
table holds the globals that PyTorch's own ``weights_only=True`` loader accepts,
less those that graphgrad has nothing for (sparse, quantized, nested, meta and
complex tensors, exotic dtypes), which are refused by name with the reason; any
other global (``os.system``, ``builtins.eval``, ...) raises ``CheckpointError``
naming it, before anything is called.

Opcodes that would call code or allocate more than the file holds are refused:
building objects by class (INST, OBJ, NEWOBJ, NEWOBJ_EX), the copyreg extension
registry (EXT1/2/4), out-of-band buffers and BYTEARRAY8 (protocol 5), FROZENSET.
REDUCE calls only functions from the table; BUILD only sets attribute names on an
``OrderedDict`` (``state_dict()``'s ``_metadata``); dict keys and set items must be
str, bytes, bool, None, floats or ints below 2**64 (hashing a deeply nested tuple
recurses in C and could crash the interpreter); APPEND only extends lists.

bfloat16 storages become float32 (exact: a bfloat16 is the top half of a float32),
and big-endian data is converted to the machine's order; a storage read as two
dtypes is refused then, as the two could no longer share memory.
"""
from __future__ import annotations

import _compat_pickle
import collections
import math
import pickle
import pickletools
import reprlib

import numpy as np

from graphgrad._dtypes import bfloat16
from graphgrad.autograd.devices import device
from graphgrad.autograd.tensor import Size, Tensor
from graphgrad.nn.parameter import Parameter

from ._format import _MAX_DIM, _native, _short

_MAX_DIMS = 64  # NumPy's limit on dimensions
_OPCODE_NAMES = {ord(op.code): op.name for op in pickletools.opcodes}
_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother = 2, 60, 60
_TORCH_DTYPES = ("bool", "uint8", "int8", "int16", "int32", "int64", "uint16", "uint32",
                 "uint64", "float16", "float32", "float64")
_ATOMS = (str, bytes, float, bool, type(None))  # hashed in time and stack bounded by size
_TARGETS = {list: (list,), set: (set,), dict: (dict, collections.OrderedDict,
                                               collections.Counter)}


class CallerError(Exception):
    """An exception raised by the caller's own ``map_location`` function, carried out of
    the unpickler unchanged (every other error in there is the file's fault)."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(error)
        self.error = error


class Global:
    """A global the pickle named, as this reader gives it: its name, the function of
    ours that a REDUCE of it calls (or None), and for a storage class its dtype."""

    __slots__ = ("name", "call", "storage_dtype")

    def __init__(self, name: str, call=None, storage_dtype: str | None = "") -> None:
        self.name, self.call, self.storage_dtype = name, call, storage_dtype

    def __repr__(self) -> str:
        return f"<global {self.name}>"


class Storage:
    """One storage of a PyTorch file: its bytes (``raw``, uint8, possibly not read yet:
    ``filled`` False) and the element arrays read from them, one per dtype asked for.
    ``dtype`` is the storage class's element type, or None for an UntypedStorage."""

    def __init__(self, key: str, dtype: str | None, raw: np.ndarray, location: str,
                 big_endian: bool, filled: bool = True) -> None:
        self.key, self.dtype, self.raw, self.location = key, dtype, raw, location
        self.big_endian, self.filled = big_endian, filled
        self.typed: dict[str, np.ndarray] = {}

    def elements(self, u: Unpickler, dtype: str) -> np.ndarray:
        """The storage as a 1-d array of ``dtype`` in the machine's byte order."""
        if dtype in self.typed:
            return self.typed[dtype]
        converted = self.big_endian or dtype == "bfloat16"
        if self.typed and (converted or "bfloat16" in self.typed):
            u.fail(f"storage {_short(self.key)} is read as both {next(iter(self.typed))} and "
                   f"{dtype}, which can't share memory once converted (bfloat16 becomes "
                   "float32, big-endian data is byte-swapped)")
        size = 2 if dtype == "bfloat16" else np.dtype(dtype).itemsize
        if self.raw.size % size:
            u.fail(f"storage {_short(self.key)} holds {self.raw.size} bytes, not a whole "
                   f"number of {dtype} elements")
        order = ">" if self.big_endian else "<"
        if dtype == "bfloat16":
            if not self.filled:  # a stand-in of the right length until the data is read
                out = np.broadcast_to(np.float32(0), (self.raw.size // 2,))
            else:
                out = (self.raw.view(order + "u2").astype(np.uint32) << 16).view(np.float32)
        else:
            out = _native(self.raw, np.dtype(dtype).newbyteorder(order), self.filled)
            if dtype == "bool" and self.filled and out.size and self.raw.max() > 1:
                u.fail(f"bool storage {_short(self.key)} holds bytes other than 0 and 1")
        self.typed[dtype] = out
        return out


class _Opcodes(dict):
    """The opcodes this reader runs; any other fails naming the opcode."""

    def __missing__(self, code: int):
        name = _OPCODE_NAMES.get(code, "an unknown opcode")
        return lambda u: u.fail(f"pickle opcode {bytes([code])!r} ({name}) is not allowed: it "
                                "builds objects by class, calls code or is not part of a "
                                "weights-only checkpoint")


class Unpickler(pickle._Unpickler):
    """Reads one pickle of a PyTorch file; see the module docstring.

    ``fail(reason)`` raises the CheckpointError, ``storage(args)`` turns a persistent
    id's fields after "storage" into a ``Storage``, ``place`` is the ``Placement``
    (None: none needed), whose ``map_location`` function is called only if ``build``.
    """

    def __init__(self, file, fail, storage=None, place=None, build: bool = True) -> None:
        super().__init__(file)
        self.fail, self.storage, self.place, self.build = fail, storage, place, build

    def find_class(self, module, name):
        if self.proto < 3:  # Python 2 names, which protocol 2 (torch.save's) still uses
            module, name = _compat_pickle.NAME_MAPPING.get((module, name), (module, name))
            module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        full = f"{module}.{name}"
        if full in _GLOBALS:
            return _GLOBALS[full]
        if full in _REFUSED:
            self.fail(f"the file holds {full}: {_REFUSED[full]}")
        self.fail(f"the file names the global {full[:100]}, which is not allowed (a "
                  "weights-only load reads tensors, containers, numbers, strings and a few "
                  "torch types, and runs no code)")

    def persistent_load(self, pid):
        if type(pid) is not tuple or not pid or pid[0] not in ("storage", b"storage") or \
                self.storage is None:
            self.fail(f"persistent id {describe(pid)} is not a storage of this file")
        return self.storage(pid[1:])

    def checked_location(self, location: str) -> str:
        """A saved location, checked to name a device, and that ``map_location`` sends
        its tensors to a device graphgrad has."""
        name = str(_device(self, location))
        try:
            self.place.check(name)
        except Exception as err:  # the caller's map_location: handed back as raised
            raise CallerError(err) from err
        return name

    def place_tensor(self, t: Tensor, location: str) -> Tensor:
        if not self.build:
            return t
        try:
            return self.place.apply(t, location)
        except Exception as err:
            raise CallerError(err) from err

    # ---------------------------------------------------------- restricted opcodes
    dispatch = _Opcodes({code[0]: pickle._Unpickler.dispatch[code[0]] for code in (
        pickle.PROTO, pickle.FRAME, pickle.STOP, pickle.MARK, pickle.POP, pickle.POP_MARK,
        pickle.DUP, pickle.NONE, pickle.NEWTRUE, pickle.NEWFALSE, pickle.INT, pickle.BININT,
        pickle.BININT1, pickle.BININT2, pickle.LONG, pickle.LONG1, pickle.LONG4,
        pickle.FLOAT, pickle.BINFLOAT, pickle.STRING, pickle.BINSTRING,
        pickle.SHORT_BINSTRING, pickle.BINBYTES, pickle.SHORT_BINBYTES, pickle.BINBYTES8,
        pickle.UNICODE, pickle.BINUNICODE, pickle.SHORT_BINUNICODE, pickle.BINUNICODE8,
        pickle.EMPTY_TUPLE, pickle.TUPLE, pickle.TUPLE1, pickle.TUPLE2, pickle.TUPLE3,
        pickle.EMPTY_LIST, pickle.LIST, pickle.EMPTY_DICT, pickle.EMPTY_SET, pickle.GET,
        pickle.BINGET, pickle.LONG_BINGET, pickle.PUT, pickle.BINPUT, pickle.LONG_BINPUT,
        pickle.MEMOIZE, pickle.GLOBAL, pickle.STACK_GLOBAL, pickle.PERSID,
        pickle.BINPERSID)})

    def load_reduce(self):
        args = self.stack.pop()
        func = self.stack[-1]
        if type(func) is not Global or func.call is None:
            self.fail(f"the file calls {describe(func)}, which is not a function this "
                      "reader allows")
        if type(args) is not tuple:
            self.fail(f"the arguments of {func.name} are a {type(args).__name__}, not a tuple")
        try:
            self.stack[-1] = func.call(self, *args)
        except TypeError as err:  # a wrong number of arguments
            self.fail(f"{func.name}: {err}")
    dispatch[pickle.REDUCE[0]] = load_reduce

    def load_build(self):
        state = self.stack.pop()
        inst = self.stack[-1]
        if type(inst) not in (collections.OrderedDict, collections.Counter) or \
                type(state) is not dict or any(type(k) is not str or hasattr(type(inst), k)
                                               for k in state):
            self.fail(f"the file sets the state of {describe(inst)}: only attributes of an "
                      "OrderedDict (such as a state_dict's _metadata) may be set")
        inst.__dict__.update(state)
    dispatch[pickle.BUILD[0]] = load_build

    def load_append(self):
        value = self.stack.pop()
        self.target(list, "APPEND").append(value)
    dispatch[pickle.APPEND[0]] = load_append

    def load_appends(self):
        items = self.pop_mark()
        self.target(list, "APPENDS").extend(items)
    dispatch[pickle.APPENDS[0]] = load_appends

    def load_dict(self):
        items = self.pop_mark()
        self.append(self.filled({}, items))
    dispatch[pickle.DICT[0]] = load_dict

    def load_setitem(self):
        value = self.stack.pop()
        key = self.stack.pop()
        self.filled(self.target(dict, "SETITEM"), [key, value])
    dispatch[pickle.SETITEM[0]] = load_setitem

    def load_setitems(self):
        items = self.pop_mark()
        self.filled(self.target(dict, "SETITEMS"), items)
    dispatch[pickle.SETITEMS[0]] = load_setitems

    def load_additems(self):
        items = self.pop_mark()
        self.target(set, "ADDITEMS").update(self.key(k) for k in items)
    dispatch[pickle.ADDITEMS[0]] = load_additems

    def target(self, kind: type, opcode: str):
        """The container on top of the stack, which ``opcode`` adds to."""
        obj = self.stack[-1]
        if type(obj) not in _TARGETS[kind]:
            self.fail(f"{opcode} on {describe(obj)}, expected a {kind.__name__}")
        return obj

    def filled(self, d: dict, items: list) -> dict:
        if len(items) % 2:
            self.fail("a dict's items do not come in (key, value) pairs")
        for i in range(0, len(items), 2):
            d[self.key(items[i])] = items[i + 1]
        return d

    def key(self, k):
        """``k``, if it may be a dict key or a set item (see the module docstring)."""
        if type(k) in _ATOMS or type(k) is int and -2**64 < k < 2**64:
            return k
        self.fail(f"a dict key or set item is {describe(k)}; only str, bytes, bool, None, "
                  "float and int keys are read")


def describe(obj) -> str:
    """A description of a value read from a pickle, bounded whatever the value."""
    if type(obj) is Global:
        return obj.name
    if isinstance(obj, type):
        return f"the type {obj.__module__}.{obj.__qualname__}"
    if type(obj) is int and obj.bit_length() > 256:
        return f"an int of {obj.bit_length()} bits"
    return f"the {type(obj).__name__} {_REPR.repr(obj)}"


def check_result(obj, fail) -> None:
    """Refuse a result that holds this reader's own objects (a storage or a global used
    as a value rather than as an argument), which have no graphgrad meaning.  Visits
    each container once (shared and self-containing ones too), without recursion."""
    seen, todo = set(), [obj]
    while todo:
        obj = todo.pop()
        if type(obj) in (Storage, Global):
            fail(f"the file holds {'a storage' if type(obj) is Storage else obj.name} as a "
                 "value, not inside a tensor; graphgrad reads tensors, not bare storages "
                 "or functions")
        if isinstance(obj, (list, tuple, dict, set)) and id(obj) not in seen:
            seen.add(id(obj))
            todo.extend(obj.values() if isinstance(obj, dict) else obj)
            if isinstance(obj, dict):
                todo.extend(vars(obj).values() if hasattr(obj, "__dict__") else ())


# ------------------------------------------------------------------ what the globals build
def _ints(u: Unpickler, what: str, value) -> tuple:
    if not isinstance(value, (tuple, list)) or len(value) > _MAX_DIMS or \
            any(type(v) is not int or not 0 <= v <= _MAX_DIM for v in value):
        u.fail(f"tensor {what} {describe(value)} is not a sequence of at most {_MAX_DIMS} "
               "non-negative ints")
    return tuple(value)


def _array(u: Unpickler, storage, offset, size, stride, dtype: str | None) -> np.ndarray:
    """The view of ``storage`` that a tensor with these fields is, checked to lie inside it."""
    if type(storage) is not Storage:
        u.fail(f"a tensor's storage is {describe(storage)}, not a storage of this file")
    dtype = dtype or storage.dtype
    if dtype is None:
        u.fail(f"storage {_short(storage.key)} is untyped and the tensor names no dtype")
    elements = storage.elements(u, dtype)
    size, stride = _ints(u, "size", size), _ints(u, "stride", stride)
    if len(size) != len(stride) or type(offset) is not int or offset < 0:
        u.fail(f"tensor of size {size}, stride {stride} and storage offset {describe(offset)}")
    itemsize = elements.itemsize
    if math.prod(n for n in size if n) * itemsize > _MAX_DIM or \
            max(stride, default=0) * itemsize > _MAX_DIM:
        u.fail(f"tensor of size {size} and stride {stride} is too large")
    end = offset + sum((n - 1) * s for n, s in zip(size, stride, strict=True)) + 1 \
        if all(size) else offset
    if end > elements.size:
        u.fail(f"tensor of size {size}, stride {stride} at storage offset {offset} reaches "
               f"element {end} of a {elements.size}-element storage")
    return np.lib.stride_tricks.as_strided(elements[offset:], size,
                                           tuple(s * itemsize for s in stride))


def _tensor(u: Unpickler, storage, offset, size, stride, requires_grad=False, dtype=None,
            metadata=None) -> Tensor:
    if type(requires_grad) is not bool:
        u.fail(f"requires_grad {describe(requires_grad)} is not a bool")
    if metadata is not None and (type(metadata) is not dict or any(metadata.values())):
        u.fail(f"tensor metadata {describe(metadata)} (a conjugate or negative view) is not "
               "supported")
    a = _array(u, storage, offset, size, stride, dtype)
    if requires_grad and a.dtype.kind != "f":
        u.fail(f"a {a.dtype} tensor can't require grad")
    return u.place_tensor(Tensor._make(a, requires_grad=requires_grad), storage.location)


def _rebuild_tensor(u, storage, storage_offset, size, stride):
    return _tensor(u, storage, storage_offset, size, stride)


def _rebuild_tensor_v2(u, storage, storage_offset, size, stride, requires_grad,
                       backward_hooks, metadata=None):
    return _tensor(u, storage, storage_offset, size, stride, requires_grad,
                   metadata=metadata)


def _rebuild_tensor_v3(u, storage, storage_offset, size, stride, requires_grad,
                       backward_hooks, dtype, metadata=None):
    return _tensor(u, storage, storage_offset, size, stride, requires_grad,
                   _dtype_name(u, dtype), metadata)


def _dtype_name(u: Unpickler, dtype) -> str:
    if dtype is bfloat16:
        return "bfloat16"
    if isinstance(dtype, type) and issubclass(dtype, np.generic) and \
            np.dtype(dtype).name in _TORCH_DTYPES:
        return np.dtype(dtype).name
    u.fail(f"tensor dtype {describe(dtype)} is not a dtype graphgrad reads")


def _parameter(u, data, requires_grad=True, *ignored_hooks_and_state):
    """A Parameter sharing ``data``'s array (``Parameter(array)`` would copy it).
    Backward hooks and Python attributes saved with it are dropped."""
    if not isinstance(data, Tensor) or type(requires_grad) is not bool:
        u.fail(f"a Parameter of {describe(data)} with requires_grad {describe(requires_grad)}")
    if requires_grad and data._data.dtype.kind != "f":
        u.fail(f"a {data._data.dtype} Parameter can't require grad")
    p = Parameter(np.empty(0, data._data.dtype), requires_grad=requires_grad)
    p.data = Tensor._make(data._data)
    return p


def _rebuild_parameter(u, data, requires_grad, backward_hooks):
    return _parameter(u, data, requires_grad)


def _rebuild_parameter_with_state(u, data, requires_grad, backward_hooks, state):
    return _parameter(u, data, requires_grad)


def _rebuild_from_type_v2(u, func, new_type, args, state):
    """A tensor of class ``new_type`` with Python attributes ``state`` (dropped)."""
    if type(func) is not Global or func.call is None or type(args) is not tuple or \
            type(new_type) is not Global or new_type.name not in _TENSOR_CLASSES:
        u.fail(f"_rebuild_from_type_v2 of {describe(func)} as {describe(new_type)}")
    out = func.call(u, *args)
    if not isinstance(out, Tensor):
        u.fail(f"_rebuild_from_type_v2: {func.name} gave {describe(out)}, not a tensor")
    if _TENSOR_CLASSES[new_type.name] and not isinstance(out, Parameter):
        out = _parameter(u, out, out.requires_grad)
    return out


def _device_tensor(u, data, dtype, device_name, requires_grad):
    if not isinstance(data, Tensor) or type(requires_grad) is not bool:
        u.fail(f"_rebuild_device_tensor_from_cpu_tensor of {describe(data)}")
    a = data._data.astype(_dtype_name(u, dtype).replace("bfloat16", "float32"), copy=False)
    location = u.checked_location(device_name)
    return u.place_tensor(Tensor._make(a, requires_grad=requires_grad), location)


def _device(u, *args):
    try:
        return device(*args)
    except (TypeError, ValueError, RuntimeError) as err:
        u.fail(f"invalid device {describe(args)}: {err}")


def _size(u, dims=()):
    return Size(_ints(u, "torch.Size", dims))


def _ordered_dict(u, items=()):
    if not isinstance(items, (list, tuple)) or \
            any(type(kv) is not tuple or len(kv) != 2 for kv in items):
        u.fail(f"OrderedDict of {describe(items)}")
    return u.filled(collections.OrderedDict(), [x for kv in items for x in kv])


def _counter(u, counts=None):
    if counts is not None and type(counts) is not dict:
        u.fail(f"Counter of {describe(counts)}")
    return u.filled(collections.Counter(), [x for kv in (counts or {}).items() for x in kv])


def _set(u, items=()):
    if type(items) is not list:
        u.fail(f"set of {describe(items)}")
    return {u.key(k) for k in items}


def _encode(u, text, encoding="latin1"):  # how protocol 2 pickles bytes
    if type(text) is not str or encoding not in ("latin1", "latin-1"):
        u.fail(f"_codecs.encode of {describe(text)} as {describe(encoding)}")
    return text.encode("latin-1")


def _bytearray(u, data=b"", encoding=None):
    if type(data) is str and encoding in ("latin1", "latin-1"):
        return bytearray(data.encode("latin-1"))
    if type(data) is not bytes or encoding is not None:
        u.fail(f"bytearray of {describe(data)}")
    return bytearray(data)


def _complex(u, real=0.0, imag=0.0):
    if type(real) not in (int, float) or type(imag) not in (int, float):
        u.fail(f"complex of {describe(real)} and {describe(imag)}")
    return complex(real, imag)


_STORAGE_CLASSES = {
    "Float": "float32", "Double": "float64", "Half": "float16", "BFloat16": "bfloat16",
    "Long": "int64", "Int": "int32", "Short": "int16", "Char": "int8", "Byte": "uint8",
    "Bool": "bool",
}
_TENSOR_CLASSES = {"torch.Tensor": False, "torch.nn.parameter.Parameter": True}
_GLOBALS = {
    "collections.OrderedDict": Global("collections.OrderedDict", _ordered_dict),
    "collections.Counter": Global("collections.Counter", _counter),
    "builtins.set": Global("builtins.set", _set),
    "builtins.bytearray": Global("builtins.bytearray", _bytearray),
    "builtins.complex": Global("builtins.complex", _complex),
    "_codecs.encode": Global("_codecs.encode", _encode),
    "torch.Size": Global("torch.Size", _size),
    "torch.device": Global("torch.device", _device),
    "torch.Tensor": Global("torch.Tensor"),
    "torch.nn.parameter.Parameter": Global("torch.nn.parameter.Parameter", _parameter),
    "torch.storage.UntypedStorage": Global("torch.storage.UntypedStorage", storage_dtype=None),
    "torch.bfloat16": bfloat16,
    **{f"torch.{name}": getattr(np, name if name != "bool" else "bool_")
       for name in _TORCH_DTYPES},
    **{f"torch{where}.{kind}Storage": Global(f"torch{where}.{kind}Storage", storage_dtype=dtype)
       for kind, dtype in _STORAGE_CLASSES.items() for where in ("", ".cuda")},
    **{f"torch._utils.{f.__name__}": Global(f"torch._utils.{f.__name__}", f) for f in (
        _rebuild_tensor, _rebuild_tensor_v2, _rebuild_tensor_v3, _rebuild_parameter,
        _rebuild_parameter_with_state)},
    "torch._utils._rebuild_device_tensor_from_cpu_tensor": Global(
        "torch._utils._rebuild_device_tensor_from_cpu_tensor", _device_tensor),
    "torch._tensor._rebuild_from_type_v2": Global("torch._tensor._rebuild_from_type_v2",
                                                  _rebuild_from_type_v2),
}
# Globals that PyTorch's weights_only loader accepts and graphgrad has nothing for.
_NO_KIND = "graphgrad has no {} tensors"
_REFUSED = {
    **{f"torch._utils._rebuild_{kind}": _NO_KIND.format(what) for kind, what in (
        ("sparse_tensor", "sparse"), ("qtensor", "quantized"), ("nested_tensor", "nested"),
        ("meta_tensor_no_storage", "meta (storage-less)"),
        ("wrapper_subclass", "wrapper-subclass"), ("device_tensor_from_numpy", "XLA"))},
    "torch.serialization._get_layout": _NO_KIND.format("sparse"),
    **{f"torch{where}.{kind}Storage": _NO_KIND.format(what) for kind, what in (
        ("ComplexFloat", "complex"), ("ComplexDouble", "complex"), ("QInt8", "quantized"),
        ("QUInt8", "quantized"), ("QInt32", "quantized"), ("QUInt4x2", "quantized"),
        ("QUInt2x4", "quantized")) for where in ("", ".cuda")},
    **{f"torch.{name}": f"graphgrad has no dtype {name}" for name in (
        "complex32", "complex64", "complex128", "float8_e4m3fn", "float8_e4m3fnuz",
        "float8_e5m2", "float8_e5m2fnuz", "float8_e8m0fnu", "float4_e2m1fn_x2", "qint8",
        "quint8", "qint32", "quint4x2", "quint2x4", "bits1x8", "bits2x4", "bits4x2",
        "bits8", "bits16", *(f"int{n}" for n in range(1, 8)),
        *(f"uint{n}" for n in range(1, 8)))},
}
