"""gg.save / gg.load: round trips, atomic writes, and hostile or corrupted files."""
import json
import math
import os
import pickle
import struct
import tempfile
import tracemalloc
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import graphgrad as gg
from graphgrad import nn, serialization
from graphgrad.serialization import CheckpointError

DTYPES = ["float32", "float64", "int64", "bool", "float16", "int8", "int32", "uint8", "uint64"]


# ------------------------------------------------------------------ equality
def same(a, b) -> bool:
    """Structural equality: types kept, arrays equal bit for bit, NaN equal to NaN."""
    if type(a) is not type(b):
        return False
    if isinstance(a, gg.Tensor):
        return same(a.numpy(), b.numpy())
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    if isinstance(a, np.generic):
        return a.dtype == b.dtype and a.tobytes() == b.tobytes()
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def round_trip(obj):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "x.ckpt")
        gg.save(obj, path)
        assert os.listdir(tmp) == ["x.ckpt"]  # exactly one file, no temporaries left
        return gg.load(path)


# ------------------------------------------------------------------ round trips
arrays = st.sampled_from(DTYPES).flatmap(
    lambda dt: hnp.arrays(np.dtype(dt), hnp.array_shapes(min_dims=0, max_dims=3, min_side=0,
                                                         max_side=4)))
leaves = st.one_of(
    st.none(), st.booleans(), st.integers(-2**130, 2**130), st.floats(allow_nan=True),
    st.text(max_size=8), arrays, arrays.map(lambda a: gg.Tensor(a)),
    arrays.map(lambda a: a.reshape(-1)[0] if a.size else np.float32(1.5)),
)
trees = st.recursive(leaves, lambda children: st.one_of(
    st.lists(children, max_size=4),
    st.lists(children, max_size=4).map(tuple),
    st.dictionaries(st.one_of(st.text(max_size=6), st.integers(-5, 10**20)), children,
                    max_size=4),
), max_leaves=12)


@given(obj=trees)
def test_round_trip_nested(obj):
    assert same(round_trip(obj), obj)


def test_round_trip_state_dicts_and_rng():
    gg.manual_seed(3)
    gg.randn(4)
    obj = {
        "model": {"w": gg.randn(3, 2), "b": np.zeros(2, dtype=np.float64), "steps": np.int64(7)},
        "optimizer": {"state": {0: {"step": 3, "exp_avg": np.ones((3, 2), np.float32)}},
                      "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "params": [0]}]},
        "rng": gg.get_rng_state(),
        "flags": [True, False, None, "x", float("inf"), -float("inf")],
        "empty": (np.zeros((0, 3)), {}, [], ()),
        "non_contiguous": np.arange(12.0).reshape(3, 4)[:, ::2],
        "big_endian": np.arange(3, dtype=">i8"),
    }
    out = round_trip(obj)
    assert same(out["model"], obj["model"]) and same(out["optimizer"], obj["optimizer"])
    assert out["rng"] == obj["rng"]
    gg.set_rng_state(out["rng"])
    after = gg.randn(4).numpy()
    gg.set_rng_state(obj["rng"])
    np.testing.assert_array_equal(after, gg.randn(4).numpy())
    assert same(out["flags"], obj["flags"]) and same(out["empty"], obj["empty"])
    np.testing.assert_array_equal(out["non_contiguous"], obj["non_contiguous"])
    assert out["big_endian"].dtype == np.int64 and out["big_endian"].tolist() == [0, 1, 2]


def test_module_state_dict_round_trip():
    gg.manual_seed(0)
    model = nn.Linear(4, 3)
    out = round_trip(model.state_dict())
    gg.manual_seed(1)
    other = nn.Linear(4, 3)
    other.load_state_dict(out)
    pairs = zip(model.state_dict().items(), other.state_dict().items(), strict=True)
    for (k, a), (k2, b) in pairs:
        assert k == k2 and np.array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize("bad, where", [
    (object(), "['a']"), ({1.5: 1}, "<root>"), ({True: 1}, "<root>"), ({1, 2}, "['a']"),
    (np.array([object()]), "<root>"), (np.zeros(2, dtype=complex), "<root>"),
    (lambda: 0, "['a']"),
])
def test_save_rejects_unsupported_values(tmp_path, bad, where):
    obj = {"a": bad} if where == "['a']" else bad
    with pytest.raises(TypeError, match=where.replace("[", r"\[").replace("]", r"\]")):
        gg.save(obj, tmp_path / "x.ckpt")
    assert os.listdir(tmp_path) == []


def test_save_rejects_cycles(tmp_path):
    obj = []
    obj.append(obj)
    with pytest.raises(ValueError, match="cycle"):
        gg.save(obj, tmp_path / "x.ckpt")


# ------------------------------------------------------------------ atomic writes
@pytest.mark.parametrize("fail_in", ["fsync", "replace", "write"])
def test_failed_save_keeps_previous_checkpoint(tmp_path, monkeypatch, fail_in):
    path = tmp_path / "model.ckpt"
    gg.save({"w": np.arange(5.0)}, path)

    def boom(*args, **kwargs):
        raise OSError("simulated crash")

    if fail_in == "write":
        monkeypatch.setattr(serialization._save, "_bytes_view", boom)
    else:
        monkeypatch.setattr(os, fail_in, boom)
    with pytest.raises(OSError, match="simulated"):
        gg.save({"w": np.zeros(1000)}, path)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["model.ckpt"]
    np.testing.assert_array_equal(gg.load(path)["w"], np.arange(5.0))


def test_save_overwrites(tmp_path):
    path = str(tmp_path / "a.ckpt")
    gg.save([1], path)
    gg.save([2], path)
    assert gg.load(path) == [2] and os.listdir(tmp_path) == ["a.ckpt"]


# ------------------------------------------------------------------ hostile files
BASE = {"model": {"w": np.linspace(0, 1, 3000).reshape(100, 30), "b": np.ones(7, np.float32)},
        "opt": {"state": {0: {"step": 4, "m": np.arange(50, dtype=np.int64)}}},
        "mask": np.array([True, False, True]), "name": "base"}


@pytest.fixture(scope="module")
def base_bytes():
    with tempfile.TemporaryDirectory() as tmp:
        gg.save(BASE, os.path.join(tmp, "base.ckpt"))
        with open(os.path.join(tmp, "base.ckpt"), "rb") as f:
            return f.read()


def load_bytes(data: bytes):
    """Load ``data`` from a file; return (exception, peak bytes allocated while loading)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bad.ckpt")
        with open(path, "wb") as f:
            f.write(data)
        tracemalloc.start()
        try:
            gg.load(path)
        except Exception as err:  # noqa: BLE001
            error = err
        else:
            error = None
        finally:
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
    return error, peak, path


def assert_rejected(data: bytes, key_part: str | None = None):
    error, peak, path = load_bytes(data)
    assert isinstance(error, CheckpointError), f"expected CheckpointError, got {error!r}"
    assert isinstance(error, ValueError) and error.path == path and path in str(error)
    if key_part is not None:
        assert error.key is not None and key_part in error.key, error
    assert peak <= len(data) + 256 * 1024, f"allocated {peak} bytes for a {len(data)}-byte file"
    return error


def split(data: bytes):
    magic, version, crc, n = serialization._PREAMBLE.unpack_from(data)
    start = serialization._PREAMBLE.size
    return version, json.loads(data[start:start + n]), data[start + n:]


def join(header, body: bytes, version=1, crc=None, length=None) -> bytes:
    raw = json.dumps(header).encode() if not isinstance(header, bytes) else header
    return serialization._PREAMBLE.pack(
        serialization.MAGIC, version, zlib.crc32(raw) if crc is None else crc,
        len(raw) if length is None else length) + raw + body


def test_base_file_loads(base_bytes):
    error, peak, _ = load_bytes(base_bytes)
    assert error is None
    assert peak <= len(base_bytes) + 256 * 1024


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(0, 10**9))
def test_truncated(base_bytes, cut):
    assert_rejected(base_bytes[:cut % len(base_bytes)])


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flips=st.lists(st.tuples(st.integers(0, 10**9), st.integers(1, 255)), min_size=1,
                      max_size=4))
def test_flipped_bytes(base_bytes, flips):
    data = bytearray(base_bytes)
    for pos, mask in flips:
        data[pos % len(data)] ^= mask
    if bytes(data) != base_bytes:  # two flips of one byte can cancel out
        assert_rejected(bytes(data))


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pos=st.integers(0, 10**9), extra=st.binary(min_size=1, max_size=16),
       delete=st.integers(0, 16))
def test_inserted_or_deleted_bytes(base_bytes, pos, extra, delete):
    pos %= len(base_bytes)
    assert_rejected(base_bytes[:pos] + extra + base_bytes[pos:])
    if delete:
        assert_rejected(base_bytes[:pos] + base_bytes[pos + delete:])


def array_specs(node, found):
    if isinstance(node, dict):
        if "array" in node:
            found.append(node["array"])
        for v in node.values():
            array_specs(v, found)
    elif isinstance(node, list):
        for v in node:
            array_specs(v, found)
    return found


HOSTILE = {
    "dtype": st.sampled_from(["object", "O", "|O", "<U8", "complex128", "V8", "float128",
                              "datetime64", ">f8", 5, None, ["float32"]]),
    "shape": st.one_of(
        st.lists(st.integers(2**20, 2**64), min_size=1, max_size=4),
        st.just([0, 2**62]), st.just([-1]), st.just([2**70]), st.just("big"),
        st.just([1.5]), st.just([True]), st.just([1] * 40)),
    "nbytes": st.one_of(st.integers(2**31, 2**70), st.integers(-10, -1), st.just(None)),
    "offset": st.one_of(st.integers(2**31, 2**70), st.integers(-10, -1), st.just(1.0)),
    "crc32": st.one_of(st.integers(2**32, 2**40), st.integers(-5, -1), st.just("0")),
    "kind": st.sampled_from(["pickle", "object", None, 1, "scalar"]),
}


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_hostile_array_fields_with_valid_checksum(base_bytes, data):
    """Fields rewritten to hostile values, with the header checksum recomputed so that
    only field validation stands between the file and an allocation."""
    _, header, body = split(base_bytes)
    specs = array_specs(header["root"], [])
    spec = specs[data.draw(st.integers(0, len(specs) - 1))]
    field = data.draw(st.sampled_from(sorted(HOSTILE)))
    spec[field] = data.draw(HOSTILE[field])
    assert_rejected(join(header, body))


def test_huge_declared_sizes_never_allocate(base_bytes):
    _, header, body = split(base_bytes)
    spec = array_specs(header["root"], [])[-1]  # the last array: offsets stay consistent
    spec["shape"], spec["nbytes"] = [2**28, 2**10], 2**41
    header["data_bytes"] = spec["offset"] + 2**41
    error = assert_rejected(join(header, body))
    assert "truncated" in str(error) or "holds" in str(error)
    # the preamble's header length too
    assert_rejected(join(header, body, length=2**60))


@pytest.mark.parametrize("mutate, message", [
    (lambda h: h.update(root={"__reduce__": ["os.system", ["echo hi"]]}), "unknown node"),
    (lambda h: h.update(root={"array": {"dtype": "float32"}}), "fields"),
    (lambda h: h.update(extra=1), "keys"),
    (lambda h: h.update(data_bytes=-1), "data bytes"),
    (lambda h: h["root"].update(dict=[["a", 1], ["a", 2]]), "duplicate"),
    (lambda h: h["root"].update(dict=[[1.5, 1]]), "entry"),
    (lambda h: h["root"].update(dict=[["k", {"float": "pi"}]]), "float"),
    (lambda h: h.update(root=[1, 2]), "invalid node"),
    (lambda h: h.update(root=None) or h.update(data_bytes=0), "holds"),
])
def test_hostile_header_structure(base_bytes, mutate, message):
    _, header, body = split(base_bytes)
    mutate(header)
    error = assert_rejected(join(header, body))
    assert message in str(error)


def test_header_framing(base_bytes):
    version, header, body = split(base_bytes)
    assert "version" in str(assert_rejected(join(header, body, version=2)))
    assert "checksum" in str(assert_rejected(join(header, body, crc=12345)))
    assert "JSON" in str(assert_rejected(join(b"{not json", body)))
    assert "JSON" in str(assert_rejected(join(b'{"root": NaN, "data_bytes": 0}', b"")))
    assert "JSON" in str(assert_rejected(join(b"[" * 100000 + b"]" * 100000, b"")))
    deep = {"list": []}
    node = deep
    for _ in range(200):
        node["list"].append({"list": []})
        node = node["list"][0]
    assert "deeper" in str(assert_rejected(join({"root": deep, "data_bytes": 0}, b"")))
    assert "magic" in str(assert_rejected(b""[:0] + b"X" * 40))
    assert "short" in str(assert_rejected(b"GG"))


def test_corrupted_array_names_the_key(base_bytes):
    data = bytearray(base_bytes)
    data[-1] ^= 0x01  # inside the last array: mask
    error = assert_rejected(bytes(data), key_part="['mask']")
    assert "checksum" in str(error)
    data = bytearray(base_bytes)
    data[-len(np.ones(1)) * 3 - 3 - 60] ^= 0x10  # inside opt.state[0]['m']
    assert_rejected(bytes(data), key_part="['m']")


def test_bool_array_bytes_validated(base_bytes):
    _, header, body = split(base_bytes)
    spec = array_specs(header["root"], [])[-1]
    body = body[:-3] + b"\x02\x00\x01"
    spec["crc32"] = zlib.crc32(b"\x02\x00\x01")
    assert "bool" in str(assert_rejected(join(header, body)))


class _Evil:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_pickle_payload_is_never_executed(tmp_path):
    sentinel = tmp_path / "pwned"
    payload = pickle.dumps({"w": _Evil(str(sentinel))})
    assert "magic" in str(assert_rejected(payload))
    # a pickle where the JSON header should be, behind a valid preamble
    assert_rejected(join(payload, b""))
    # NumPy's own formats, including an object array that needs pickle
    for arr in (np.zeros(3), np.array([_Evil(str(sentinel))], dtype=object)):
        path = tmp_path / "a.npy"
        np.save(path, arr, allow_pickle=True)
        assert_rejected(path.read_bytes())
    assert not sentinel.exists()


def test_missing_file_is_an_os_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        gg.load(tmp_path / "nope.ckpt")


def test_preamble_layout_is_documented():
    assert serialization._PREAMBLE.size == 24
    assert struct.calcsize("<8sIIQ") == 24
    assert "GGCKPT" in serialization.__doc__ and "version" in serialization.__doc__
