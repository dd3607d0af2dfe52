"""gg.load on files written by torch.save (zip and legacy formats), read without PyTorch
and without running code: dtypes, layouts, shared storages, PyTorch's containers,
map_location, mmap, hostile pickles, damaged archives, and a GPT-style checkpoint
that resumes training with PyTorch's loss curve."""
import collections
import io
import os
import pickle
import pickletools
import re
import struct
import subprocess
import time
import tracemalloc
import warnings
import zipfile

import numpy as np
import pytest

import graphgrad as gg
from graphgrad.serialization import CheckpointError

torch = pytest.importorskip("torch")

FORMATS = ["zip", "legacy"]


def saved(obj, fmt: str = "zip") -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf, _use_new_zipfile_serialization=fmt == "zip")
    return buf.getvalue()


def load(data: bytes, **kwargs):
    return gg.load(io.BytesIO(data), **kwargs)


def peak_memory(data: bytes):
    """(the loaded object or the CheckpointError, the peak bytes allocated loading it)."""
    tracemalloc.start()
    try:
        out = load(data)
    except CheckpointError as err:
        out = err
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return out, peak


def same_bits(ours, theirs) -> None:
    """``ours`` (graphgrad) holds exactly the elements of ``theirs`` (PyTorch)."""
    expected = theirs.detach().numpy() if theirs.dtype != torch.bfloat16 else \
        theirs.detach().float().numpy()
    assert isinstance(ours, gg.Tensor)
    assert ours.shape == tuple(theirs.shape) and ours.dtype == expected.dtype
    assert ours.numpy().tobytes() == np.ascontiguousarray(expected).tobytes()


def rezip(data: bytes, change) -> bytes:
    """A torch zip file with each record's bytes passed through ``change(name, bytes)``."""
    src, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            dst.writestr(name, change(name, src.read(name)))
    return out.getvalue()


def with_pickle(data: bytes, payload: bytes) -> bytes:
    return rezip(data, lambda name, b: payload if name.endswith("/data.pkl") else b)


# ------------------------------------------------------------------ dtypes and layouts
DTYPES = [torch.bool, torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64,
          torch.uint16, torch.uint32, torch.uint64, torch.float16, torch.float32,
          torch.float64, torch.bfloat16]


def values(dtype, shape):
    gen = torch.Generator().manual_seed(0)
    if dtype == torch.bool:
        return torch.rand(shape, generator=gen) > 0.5
    if dtype.is_floating_point:
        t = (torch.randn(shape, generator=gen) * 100).to(dtype)
        specials = torch.tensor([float("nan"), float("inf"), -float("inf"), -0.0]).to(dtype)
        t.view(-1)[:4] = specials[:t.numel()]
        return t
    info = torch.iinfo(dtype)
    high = min(info.max, 2**62)
    return torch.randint(max(info.min, -high), high, shape, generator=gen,
                         dtype=torch.int64).to(dtype)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_every_dtype_is_read_bit_identical(dtype, fmt):
    tensors = {str(shape): values(dtype, shape) for shape in [(), (0,), (5,), (2, 3, 4), (0, 3)]}
    loaded = load(saved(tensors, fmt))
    assert list(loaded) == list(tensors)
    for key, t in tensors.items():
        same_bits(loaded[key], t)  # bfloat16 as float32: exact, a bfloat16 is its top half


@pytest.mark.parametrize("fmt", FORMATS)
def test_views_share_the_storage_as_in_pytorch(fmt):
    x = torch.arange(24, dtype=torch.float32).reshape(2, 3, 4)
    views = {"x": x, "t": x.transpose(0, 2), "s": x[:, 1:, ::2], "row": x[1],
             "e": x[0:1].expand(3, 3, 4), "strided": torch.as_strided(x, (2, 2), (1, 3), 5),
             "col": x[..., 2], "empty": x[:, :0], "scalar": x[1, 2, 3], "other": x.clone()}
    loaded = load(saved(views, fmt))
    for key, t in views.items():
        same_bits(loaded[key], t)
        if key not in ("empty", "other"):
            assert loaded[key].numpy().strides == tuple(4 * s for s in t.stride()), key
            assert np.shares_memory(loaded[key].numpy(), loaded["x"].numpy()), key
    assert not np.shares_memory(loaded["other"].numpy(), loaded["x"].numpy())
    loaded["x"].numpy()[1, 2, 3] = -1.0  # a change through one view shows in the others
    assert loaded["t"][3, 2, 1].item() == loaded["scalar"].item() == -1.0


def test_a_tensor_saved_alone_keeps_only_its_view_of_the_storage():
    x = torch.arange(10.0)
    loaded = load(saved({"tail": x[6:], "n": 3}))
    same_bits(loaded["tail"], x[6:])
    assert loaded["tail"].numpy().base is not None  # a view of the whole saved storage


@pytest.mark.parametrize("fmt", FORMATS)
def test_pytorch_values_map_to_graphgrad_values(fmt):
    linear = torch.nn.Linear(3, 2)
    obj = {"sd": linear.state_dict(), "param": torch.nn.Parameter(torch.ones(2)),
           "frozen": torch.nn.Parameter(torch.zeros(1), requires_grad=False),
           "grad": torch.ones(2, requires_grad=True), "size": torch.Size([2, 3]),
           "dtype": torch.float16, "bf16": torch.bfloat16, "device": torch.device("cpu"),
           "bytes": b"\x00\xffab", "set": {1, "a"}, "complex": 1 + 2j, "tuple": (1, 2.5, None),
           "nested": [[{"deep": [True]}]], "ints": {0: "a", -1: "b"},
           "counter": collections.Counter("aab"), "big": 2**70, "ba": bytearray(b"xy"),
           "inf": float("inf"), "attr": torch.ones(2), "pattr": torch.nn.Parameter(torch.ones(1))}
    obj["attr"].note = "Python attributes are dropped"  # _rebuild_from_type_v2
    obj["pattr"].note = "and on a Parameter"  # _rebuild_parameter_with_state
    out = load(saved(obj, fmt))
    assert type(out["attr"]) is gg.Tensor and out["attr"].tolist() == [1.0, 1.0]
    assert type(out["pattr"]) is gg.nn.Parameter and out["pattr"].requires_grad
    assert type(out["sd"]) is collections.OrderedDict and list(out["sd"]) == ["weight", "bias"]
    assert out["sd"]._metadata == collections.OrderedDict([("", {"version": 1})])
    same_bits(out["sd"]["weight"], linear.weight)
    assert type(out["param"]) is gg.nn.Parameter and out["param"].requires_grad
    assert type(out["frozen"]) is gg.nn.Parameter and not out["frozen"].requires_grad
    assert type(out["grad"]) is gg.Tensor and out["grad"].requires_grad
    assert type(out["size"]) is gg.Size and out["size"] == (2, 3)
    assert out["dtype"] is gg.float16 and out["bf16"] is gg.bfloat16
    assert out["device"] == gg.device("cpu")
    for key in ("bytes", "set", "complex", "tuple", "nested", "ints", "counter", "big", "ba",
                "inf"):
        assert out[key] == obj[key] and type(out[key]) is type(obj[key]), key


def test_a_state_dict_from_pytorch_loads_into_the_same_graphgrad_model():
    torch.manual_seed(0)
    theirs = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2),
                                 torch.nn.Flatten(), torch.nn.Linear(8, 3))
    ours = gg.nn.Sequential(gg.nn.Conv2d(1, 2, 3), gg.nn.BatchNorm2d(2), gg.nn.Flatten(),
                            gg.nn.Linear(8, 3))
    theirs(torch.randn(4, 1, 4, 4))  # running statistics and num_batches_tracked move
    ours.load_state_dict(load(saved(theirs.state_dict())))
    x = np.random.default_rng(0).standard_normal((2, 1, 4, 4)).astype(np.float32)
    theirs.eval(), ours.eval()
    np.testing.assert_allclose(ours(gg.tensor(x)).detach().numpy(),
                               theirs(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_big_endian_files_are_converted():
    tensors = {"f": torch.arange(6, dtype=torch.float64).reshape(2, 3).t(),
               "i": torch.tensor([1, -2, 300], dtype=torch.int16),
               "b": torch.tensor([1.5, -2.0], dtype=torch.bfloat16),
               "u": torch.tensor([7, 65535], dtype=torch.int32).to(torch.uint16)}
    sizes = {"/data/0": 8, "/data/1": 2, "/data/2": 2, "/data/3": 2}

    def swap(name, data):
        if name.endswith("/byteorder"):
            return b"big"
        size = next((n for suffix, n in sizes.items() if name.endswith(suffix)), None)
        return data if size is None else np.frombuffer(data, f"u{size}").byteswap().tobytes()

    loaded = load(rezip(saved(tensors), swap))
    for key, t in tensors.items():
        same_bits(loaded[key], t)


def test_big_endian_legacy_files_are_converted():
    tensors = {"f": torch.arange(6, dtype=torch.float64).reshape(2, 3).t(),
               "b": torch.tensor([1.5, -2.0], dtype=torch.bfloat16)}
    data = saved(tensors, "legacy")
    ends = [0]  # the five pickles: magic, protocol, system information, structure, keys
    for _ in range(5):
        ends.append(ends[-1] + max(pos for _, _, pos in pickletools.genops(data[ends[-1]:])) + 1)
    keys = pickle.loads(data[ends[4]:ends[5]])
    info = re.sub(rb"(little_endianq.)\x88", b"\\1\x89", data[ends[2]:ends[3]], flags=re.DOTALL)
    assert info != data[ends[2]:ends[3]]
    out, at = [data[:ends[2]], info, data[ends[3]:ends[5]]], ends[5]
    for _ in keys:  # each storage: an 8-byte element count, then its elements
        count = int.from_bytes(data[at:at + 8], "little")
        size = 8 if tensors["f"].untyped_storage().nbytes() == 8 * count else 2
        elements = np.frombuffer(data, f"u{size}", count, at + 8)
        out += [count.to_bytes(8, "big"), elements.byteswap().tobytes()]
        at += 8 + size * count
    loaded = load(b"".join(out))
    for key, t in tensors.items():
        same_bits(loaded[key], t)


def test_a_tensor_saved_on_a_gpu_needs_a_map_location():
    data = with_pickle(saved({"w": torch.ones(2)}), zipfile.ZipFile(io.BytesIO(saved(
        {"w": torch.ones(2)}))).read("archive/data.pkl").replace(
        b"X\x03\x00\x00\x00cpu", b"X\x06\x00\x00\x00cuda:0"))
    with pytest.raises(RuntimeError, match="'cuda:0' is not available"):
        load(data)
    for where in ("cpu", gg.device("cpu"), {"cuda:0": "cpu"}):
        assert load(data, map_location=where)["w"].tolist() == [1.0, 1.0]
    seen = []
    out = load(data, map_location=lambda t, location: seen.append(location) or t * 3)
    assert seen == ["cuda:0"] and out["w"].tolist() == [3.0, 3.0]
    with pytest.raises(RuntimeError, match="not available"):
        load(data, map_location={"cuda:0": "cuda:1"})


def test_map_location_errors_are_the_callers():
    def broken(t, location):
        raise KeyError("mine")

    with pytest.raises(KeyError, match="mine"):
        load(saved({"w": torch.ones(2)}), map_location=broken)


def test_mmap_maps_the_storages_copy_on_write(tmp_path):
    path = tmp_path / "w.pt"
    w = torch.arange(4.0)
    torch.save({"w": w, "v": w[1:]}, path)
    before = path.read_bytes()
    out = gg.load(path, mmap=True)
    assert np.shares_memory(out["w"].numpy(), out["v"].numpy())
    out["w"].numpy()[:] = 7.0
    assert out["v"].tolist() == [7.0] * 3 and path.read_bytes() == before
    legacy = tmp_path / "l.pt"
    legacy.write_bytes(saved({"w": torch.ones(1)}, "legacy"))
    with pytest.raises(ValueError, match="mmap=True needs"):
        gg.load(legacy, mmap=True)


@pytest.mark.parametrize("fmt", FORMATS)
def test_paths_files_at_an_offset_and_streams(tmp_path, fmt):
    data = saved({"w": torch.arange(3.0)}, fmt)
    path = tmp_path / "w.pt"
    path.write_bytes(b"prefix" + data)
    with open(path, "rb") as f:
        f.seek(6)
        assert gg.load(f)["w"].tolist() == [0.0, 1.0, 2.0]

    class Stream:  # cannot seek
        def __init__(self):
            self.inner = io.BytesIO(data)

        def read(self, n=-1):
            return self.inner.read(n)

    assert gg.load(Stream())["w"].tolist() == [0.0, 1.0, 2.0]
    path.write_bytes(data)
    assert gg.load(path)["w"].tolist() == [0.0, 1.0, 2.0]


# ------------------------------------------------------------------ what graphgrad refuses
@pytest.mark.parametrize("make, names", [
    (lambda: torch.ones(2, dtype=torch.complex64), "complex"),
    (lambda: torch.ones(2).to_sparse(), "_rebuild_sparse_tensor"),
    (lambda: torch.quantize_per_tensor(torch.ones(2), 0.1, 0, torch.qint8), "quantized"),
    (lambda: torch.float8_e4m3fn, "float8_e4m3fn"),
    (lambda: torch.ones(2).untyped_storage(), "storage"),
    (lambda: torch._utils._rebuild_tensor_v2, "_rebuild_tensor_v2"),
], ids=["complex", "sparse", "quantized", "float8", "storage", "function"])
def test_what_graphgrad_has_no_equivalent_for_is_refused_by_name(make, names):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch deprecates quantized tensors
        data = saved({"x": make()})
    with pytest.raises(CheckpointError, match=names):
        load(data)


# ------------------------------------------------------------------ hostile pickles
class Payload:
    """Pickles as a call of ``func(*args)``, which an ordinary unpickler would make."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def payloads(canary: str):
    touch = f"open({canary!r}, 'w').close()"
    return {
        "os.system": (Payload(os.system, f"touch {canary}"), "system"),
        "eval": (Payload(eval, touch), "builtins.eval"),
        "exec": (Payload(exec, touch), "builtins.exec"),
        "subprocess": (Payload(subprocess.call, ["touch", canary]), "subprocess.call"),
        "open": (Payload(open, canary, "w"), "io.open"),
        "getattr": (Payload(getattr, Payload(__import__, "os"), "system"), "builtins.getattr"),
    }


@pytest.mark.parametrize("name", ["os.system", "eval", "exec", "subprocess", "open", "getattr"])
@pytest.mark.parametrize("container", ["bare", "nested", "in-a-tensor's-place"])
@pytest.mark.parametrize("fmt", ["zip", "legacy", "pickle2", "pickle4", "pickle5"])
def test_hostile_pickles_are_refused_and_run_nothing(tmp_path, name, container, fmt):
    canary = tmp_path / "ran"
    payload, global_name = payloads(str(canary))[name]
    weight = torch.ones(1) if fmt in FORMATS else 1.0  # a bare pickle of a tensor names torch
    obj = {"bare": payload, "nested": {"model": [{"w": weight, "x": (1, [payload])}]},
           "in-a-tensor's-place": collections.OrderedDict(w=payload)}[container]
    data = saved(obj, fmt) if fmt in FORMATS else pickle.dumps(obj, protocol=int(fmt[-1]))
    with pytest.raises(CheckpointError, match=global_name):
        load(data, weights_only=False)  # weights_only=False enables nothing
    assert not canary.exists()


PICKLE_COST = 250  # the most memory a byte of pickle can cost (an EMPTY_SET: a 216-byte set)


def raw_pickle(*ops: bytes) -> bytes:
    return b"\x80\x02" + b"".join(ops) + b"."


@pytest.mark.parametrize("ops, message", [
    ((b"(S'touch x'\nios\nsystem\n",), "INST"),
    ((b"ccollections\nOrderedDict\n)\x81",), "NEWOBJ"),
    ((b"\x82\x01",), "EXT1"),
    ((b"ctorch\nfloat32\n)R",), "calls the type numpy.float32"),  # not a function
    ((b"c_codecs\nencode\nX\x01\x00\x00\x00xX\x04\x00\x00\x00zlib\x86R",), "encode"),
    ((b"c__builtin__\nbytearray\nJ\x00\xca\x9a;\x85R",), "bytearray of the int"),
    ((b"ccollections\nOrderedDict\n)R}X\x04\x00\x00\x00keysK\x01sb",), "state of"),
    ((b"}(K\x00" + b"\x85" * 30_000 + b"K\x01u",), "dict key"),
    ((b"]K\x01a" * 2, b"\x85K\x02a"), "APPEND on"),
    ((b"(X\x07\x00\x00\x00storageK\x00X\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x01tQ",),
     "not a storage"),
    ((b"K\x00Q",), "persistent id"),
    ((b"\x8e\xff\xff\xff\xff\xff\xff\xff\x7f",), "invalid pickle data"),  # BINBYTES8 of 2**63
    ((b"\x94" * 3,), "invalid pickle data"),  # MEMOIZE on an empty stack
])
@pytest.mark.parametrize("fmt", ["zip", "bare"])
def test_hand_made_pickles_are_refused(ops, message, fmt):
    payload = raw_pickle(*ops)
    data = with_pickle(saved({"w": torch.ones(1)}), payload) if fmt == "zip" else payload
    error, peak = peak_memory(data)
    assert isinstance(error, CheckpointError) and re.search(message, str(error)), error
    assert peak < PICKLE_COST * len(payload) + 2**20


def repeated_tensors(n: int) -> bytes:
    """A pickle that rebuilds one small tensor ``n`` times, about 10 bytes each."""
    args = (Storage(torch.FloatStorage), 0, (1,), (1,), False, collections.OrderedDict())
    calls = [Payload(torch._utils._rebuild_tensor_v2) for _ in range(n)]
    for call in calls:
        call.args = args
    return archive(calls, {"0": FLOATS})


@pytest.mark.parametrize("make", [
    lambda: with_pickle(saved(1), b"\x80\x04" + b"\x8f" * 50_000 + b"."),  # EMPTY_SET
    lambda: with_pickle(saved(1), b"\x80\x02K\x00" + b"\x85" * 50_000 + b"."),  # nested tuples
    lambda: with_pickle(saved(1), b"\x80\x02" + b"}" * 50_000 + b"."),
    lambda: repeated_tensors(5_000),
], ids=["sets", "tuples", "dicts", "tensors"])
def test_a_pickle_costs_at_most_a_bounded_multiple_of_its_size(make):
    data = make()
    out, peak = peak_memory(data)
    assert not isinstance(out, CheckpointError)
    assert peak < PICKLE_COST * len(data) + 2**20


class Storage:
    """Pickles, through ``Writer``, as a persistent id naming a storage record."""

    def __init__(self, cls, key="0", numel=4, location="cpu"):
        self.fields = ("storage", cls, key, location, numel)


class Writer(pickle.Pickler):
    def persistent_id(self, obj):
        return obj.fields if isinstance(obj, Storage) else None


def archive(obj, records: dict) -> bytes:
    """A zip file laid out as torch.save lays one out, holding ``obj`` pickled."""
    pkl, out = io.BytesIO(), io.BytesIO()
    Writer(pkl, protocol=2).dump(obj)
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("archive/data.pkl", pkl.getvalue())
        z.writestr("archive/byteorder", "little")
        z.writestr("archive/version", "3\n")
        for key, data in records.items():
            z.writestr(f"archive/data/{key}", data)
    return out.getvalue()


def tensor(*args, dtype=None):
    """A call of _rebuild_tensor_v2, or of _rebuild_tensor_v3 if a dtype is given."""
    if dtype is None:
        return Payload(torch._utils._rebuild_tensor_v2, *args, collections.OrderedDict())
    return Payload(torch._utils._rebuild_tensor_v3, *args, collections.OrderedDict(), dtype)


FLOATS = np.arange(4, dtype=np.float32).tobytes()


def test_hand_made_archives_load_here_as_in_pytorch():
    untyped = Storage(torch.storage.UntypedStorage, key="1", numel=16)
    obj = {"t": tensor(Storage(torch.FloatStorage), 1, (2,), (2,), False),
           "f": tensor(untyped, 0, (4,), (1,), False, dtype=torch.float32),
           "i": tensor(untyped, 2, (2,), (1,), False, dtype=torch.int32),
           "d": Payload(torch._utils._rebuild_device_tensor_from_cpu_tensor,
                        tensor(Storage(torch.FloatStorage), 0, (4,), (1,), False),
                        torch.float64, "cpu", True)}
    data = archive(obj, {"0": FLOATS, "1": FLOATS})
    ours, theirs = load(data), torch.load(io.BytesIO(data))
    for key in obj:
        same_bits(ours[key], theirs[key])
    assert ours["d"].requires_grad and ours["d"].dtype == gg.float64
    assert np.shares_memory(ours["f"].numpy(), ours["i"].numpy())  # one storage, two dtypes
    ours["f"].numpy()[2] = 0.0
    assert ours["i"].tolist() == [0, 0x40400000]  # 3.0's bits


def test_a_storage_read_as_bfloat16_and_another_dtype_is_refused():
    untyped = Storage(torch.storage.UntypedStorage, numel=16)
    obj = [tensor(untyped, 0, (8,), (1,), False, dtype=dtype)
           for dtype in (torch.bfloat16, torch.int16)]
    with pytest.raises(CheckpointError, match="can't share memory"):
        load(archive(obj, {"0": FLOATS}))


@pytest.mark.parametrize("obj, records, message", [
    (tensor(Storage(torch.FloatStorage), 0, (5,), (1,), False), {"0": FLOATS}, "reaches"),
    (tensor(Storage(torch.FloatStorage), 3, (2, 2), (0, 1), False), {"0": FLOATS}, "reaches"),
    (tensor(Storage(torch.FloatStorage), 5, (0,), (1,), False), {"0": FLOATS}, "reaches"),
    (tensor(Storage(torch.FloatStorage), -1, (1,), (1,), False), {"0": FLOATS}, "offset"),
    (tensor(Storage(torch.FloatStorage), 0, (2,), (-1,), False), {"0": FLOATS}, "stride"),
    (tensor(Storage(torch.FloatStorage), 0, (2, 2), (1,), False), {"0": FLOATS}, "size"),
    (tensor(Storage(torch.FloatStorage), 0, (2**40, 2**40), (0, 0), False), {"0": FLOATS},
     "too large"),
    (tensor(Storage(torch.FloatStorage), 0, (1,), (1,), "yes"), {"0": FLOATS}, "requires_grad"),
    (tensor(Storage(torch.LongStorage, numel=2), 0, (1,), (1,), True), {"0": FLOATS},
     "can't require grad"),
    (tensor(Storage(torch.FloatStorage, numel=2**40), 0, (1,), (1,), False), {"0": FLOATS},
     "holds 16 bytes"),
    (tensor(Storage(torch.FloatStorage, key="9"), 0, (1,), (1,), False), {"0": FLOATS},
     "no record 'archive/data/9'"),
    (tensor(Storage(torch.storage.UntypedStorage, numel=16), 0, (1,), (1,), False),
     {"0": FLOATS}, "names no dtype"),
    (tensor(Storage(torch.BoolStorage), 0, (4,), (1,), False), {"0": b"\x00\x01\x02\x00"},
     "bool storage"),
    (tensor(Storage(torch.FloatStorage, location="nowhere"), 0, (1,), (1,), False),
     {"0": FLOATS}, "invalid device"),
    ([tensor(Storage(torch.FloatStorage), 0, (1,), (1,), False),
      tensor(Storage(torch.IntStorage), 0, (1,), (1,), False)], {"0": FLOATS},
     "two storage classes"),
    (Payload(torch._utils._rebuild_parameter, [1.0], True, collections.OrderedDict()), {},
     "Parameter of"),
    (Payload(torch._utils._rebuild_tensor_v2, 1, 2), {}, "_rebuild_tensor_v2"),
])
def test_hand_made_tensors_outside_their_storage_are_refused(obj, records, message):
    with pytest.raises(CheckpointError, match=message):
        load(archive(obj, records))


# ------------------------------------------------------------------ damaged archives
def test_storages_are_checked_against_the_archive_before_they_are_allocated():
    big = np.zeros(2**22, np.float32)  # 16 MiB of zeros, 16 KiB once deflated
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("archive/data.pkl", zipfile.ZipFile(io.BytesIO(saved(
            {"w": torch.from_numpy(big)}))).read("archive/data.pkl"))
        z.writestr("archive/data/0", big.tobytes())
    data = out.getvalue()
    assert len(data) < 100_000
    for bad in (data, data.replace(b"archive/data/0", b"archive/data/1"),
                data[:len(data) // 2]):
        error, peak = peak_memory(bad)
        assert isinstance(error, CheckpointError) and peak < 4 * len(data) + 2**20


def test_declared_sizes_beyond_the_file_are_refused_unallocated():
    data = saved({"w": torch.ones(3)})
    # the central directory entry of archive/data/0 (its name follows 46 bytes) claims 2 GiB
    at = data.index(b"archive/data/0", data.index(b"PK\x01\x02")) - 46
    entry = bytearray(data)
    struct.pack_into("<LL", entry, at + 20, 2**31, 2**31)
    legacy = saved({"w": torch.ones(3)}, "legacy").replace(b"K\x03N", b"J\x00\x00\x00@N")
    for bad, message in ((bytes(entry), "ends at byte"), (legacy, "larger than the file")):
        error, peak = peak_memory(bad)
        assert isinstance(error, CheckpointError) and message in str(error), error
        assert peak < 2**20


def fuzz_bases() -> list[bytes]:
    w = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    obj = {"w": w, "t": w.t(), "b": torch.arange(3), "h": torch.ones(2, dtype=torch.float16),
           "p": torch.nn.Parameter(torch.zeros(2)), "m": torch.tensor([True, False]),
           "cfg": {"lr": 0.1, "betas": (0.9, 0.99), "name": "x", "steps": [1, 2]},
           "size": torch.Size([2])}
    return [saved(obj, "zip"), saved(obj, "legacy")]


def mutate(rng, data: bytes) -> bytes:
    data = bytearray(data)
    action = int(rng.integers(4))
    if action == 0:
        for _ in range(int(rng.integers(1, 5))):
            data[int(rng.integers(len(data)))] ^= int(rng.integers(1, 256))
    elif action == 1:
        del data[int(rng.integers(len(data))):]
    elif action == 2:
        at = int(rng.integers(len(data) + 1))
        data[at:at] = rng.bytes(int(rng.integers(1, 9)))
    else:  # a damaged pickle inside an archive that is otherwise sound (CRCs match)
        return rezip(bytes(data), lambda name, b: mutate(rng, b)
                     if name.endswith("data.pkl") else b) if data[:2] == b"PK" else \
            mutate(rng, bytes(data))
    return bytes(data)


def fuzz(seconds: float, runs_at_least: int) -> None:
    rng, bases = np.random.default_rng(19), fuzz_bases()
    runs = rejected = 0
    deadline = time.monotonic() + seconds
    while runs < runs_at_least or time.monotonic() < deadline:
        data = mutate(rng, bases[runs % 2])
        measure = runs % 10 == 0
        if measure:
            tracemalloc.start()
        start = time.monotonic()
        try:
            load(data)
        except CheckpointError as err:
            rejected += 1
            assert len(str(err)) < 1100
        except RuntimeError as err:  # a location such as 'cpu' damaged into 'hpu'
            assert "is not available" in str(err)
        finally:
            if measure:
                peak = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
                assert peak <= 20 * len(data) + 2**18, (peak, data)
        assert time.monotonic() - start < 5
        runs += 1
        if time.monotonic() > deadline + 60:
            break
    assert rejected > runs // 2


def test_damaged_files_raise_checkpoint_errors_only():
    fuzz(seconds=0, runs_at_least=500)


@pytest.mark.slow
def test_fuzz_damaged_files_raise_checkpoint_errors_only():
    fuzz(seconds=50, runs_at_least=3000)


# ------------------------------------------------------------------ a GPT-style checkpoint
def gpt(lib, vocab=13, n_embd=16, n_head=2, block=8, n_layer=2):
    """nanoGPT's model, in miniature, written once for torch and graphgrad alike."""
    nn, F = lib.nn, lib.nn.functional

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1, self.ln_2 = nn.LayerNorm(n_embd), nn.LayerNorm(n_embd)
            self.c_attn = nn.Linear(n_embd, 3 * n_embd)
            self.c_proj = nn.Linear(n_embd, n_embd)
            self.c_fc = nn.Linear(n_embd, 4 * n_embd)
            self.mlp_proj = nn.Linear(4 * n_embd, n_embd)

        def forward(self, x):
            B, T, C = x.shape
            q, k, v = self.c_attn(self.ln_1(x)).split(n_embd, dim=2)
            q, k, v = (t.view(B, T, n_head, C // n_head).transpose(1, 2) for t in (q, k, v))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.c_proj(y.transpose(1, 2).contiguous().view(B, T, C))
            return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x))))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.transformer = nn.ModuleDict(dict(
                wte=nn.Embedding(vocab, n_embd), wpe=nn.Embedding(block, n_embd),
                h=nn.ModuleList([Block() for _ in range(n_layer)]), ln_f=nn.LayerNorm(n_embd)))
            self.lm_head = nn.Linear(n_embd, vocab, bias=False)
            self.transformer.wte.weight = self.lm_head.weight  # tied, as nanoGPT's

        def forward(self, idx, targets):
            t = self.transformer
            x = t.wte(idx) + t.wpe(lib.arange(idx.shape[1]))
            for block_ in t.h:
                x = block_(x)
            logits = self.lm_head(t.ln_f(x))
            return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))

    return GPT()


def adamw(lib, model):
    """nanoGPT's configure_optimizers: weight decay on matrices only."""
    params = list(model.parameters())
    return lib.optim.AdamW([{"params": [p for p in params if p.dim() >= 2], "weight_decay": 0.1},
                            {"params": [p for p in params if p.dim() < 2],
                             "weight_decay": 0.0}], lr=1e-2, betas=(0.9, 0.95))


def train(lib, model, opt, batches) -> list[float]:
    losses = []
    for x, y in batches:
        loss = model(lib.tensor(x), lib.tensor(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def test_a_pytorch_gpt_checkpoint_resumes_training_with_the_same_loss_curve(tmp_path):
    rng = np.random.default_rng(0)
    batches = [(rng.integers(0, 13, (4, 8)), rng.integers(0, 13, (4, 8))) for _ in range(7)]
    torch.manual_seed(0)
    model = gpt(torch)
    opt = adamw(torch, model)
    train(torch, model, opt, batches[:3])
    config = {"batch_size": 4, "betas": (0.9, 0.95), "device": "cpu", "compile": False,
              "wandb_run_name": None, "dtype": "float32"}
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                "model_args": {"vocab": 13, "n_embd": 16}, "iter_num": 3,
                "best_val_loss": torch.tensor(2.5), "config": config}, tmp_path / "ckpt.pt")
    expected = train(torch, model, opt, batches[3:])

    checkpoint = gg.load(tmp_path / "ckpt.pt", map_location="cpu")
    assert checkpoint["iter_num"] == 3 and checkpoint["config"] == config
    assert checkpoint["best_val_loss"].shape == () and checkpoint["best_val_loss"].item() == 2.5
    state = checkpoint["optimizer"]["state"][0]
    assert state["step"].dtype == gg.float32 and state["step"].item() == 3.0
    ours = gpt(gg, **checkpoint["model_args"])
    ours.load_state_dict(checkpoint["model"])
    ours_opt = adamw(gg, ours)
    ours_opt.load_state_dict(checkpoint["optimizer"])
    np.testing.assert_allclose(train(gg, ours, ours_opt, batches[3:]), expected, rtol=2e-6)
