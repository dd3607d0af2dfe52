"""safetensors files: graphgrad writes what PyTorch (through the safetensors package)
reads bit for bit, reads what PyTorch writes, keeps metadata, and refuses what the
format can't hold."""
import io
import os
import sys

import numpy as np
import pytest
import safetensors  # the optional extra graphgrad[safetensors], installed for the tests

import graphgrad as gg
from graphgrad.serialization import CheckpointError
from graphgrad.utils import safetensors as gst

torch = pytest.importorskip("torch")
import safetensors.torch as st  # noqa: E402

DTYPES = ["bool", "uint8", "int8", "int16", "uint16", "int32", "uint32", "int64", "uint64",
          "float16", "float32", "float64"]


def values(dtype: str, shape) -> np.ndarray:
    rng = np.random.default_rng(0)
    if dtype == "bool":
        return rng.random(shape) > 0.5
    if dtype.startswith("float"):
        a = (rng.standard_normal(shape) * 100).astype(dtype)
        a.reshape(-1)[:4] = np.array([np.nan, np.inf, -np.inf, -0.0])[:a.size]
        return a
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)


def tensors_of_every_dtype() -> dict:
    return {f"{dtype}{shape}": gg.tensor(values(dtype, shape))
            for dtype in DTYPES for shape in [(), (0,), (5,), (2, 3, 4), (0, 3)]}


def same_bits(ours, theirs) -> None:
    expected = theirs.float().numpy() if theirs.dtype == torch.bfloat16 else theirs.numpy()
    assert isinstance(ours, gg.Tensor) and ours.shape == tuple(theirs.shape)
    assert ours.dtype == expected.dtype and ours.numpy().tobytes() == expected.tobytes()


# ------------------------------------------------------------------ graphgrad writes
@pytest.mark.parametrize("write", ["save_file", "gg.save", "save"])
def test_pytorch_reads_what_graphgrad_writes_bit_for_bit(tmp_path, write):
    tensors = tensors_of_every_dtype()
    path = tmp_path / "w.safetensors"
    if write == "save_file":
        gst.save_file(tensors, path, metadata={"format": "pt", "step": "3"})
    elif write == "gg.save":
        gg.save(tensors, path)
    else:
        path.write_bytes(gst.save(tensors, {"format": "pt", "step": "3"}))
    theirs = st.load_file(path)
    assert sorted(theirs) == sorted(tensors)
    for key, t in tensors.items():
        assert t.numpy().tobytes() == theirs[key].numpy().tobytes(), key
        assert tuple(theirs[key].shape) == t.shape and str(theirs[key].dtype) == \
            f"torch.{t.dtype.name}", key
    with safetensors.safe_open(path, framework="pt") as f:
        expected = None if write == "gg.save" else {"format": "pt", "step": "3"}
        assert f.metadata() == expected


def test_views_are_written_as_their_elements(tmp_path):
    base = gg.arange(24.0).reshape(2, 3, 4)
    views = {"t": base.transpose(0, 2), "s": base.clone()[:, 1:, ::2],
             "e": gg.ones(3, 1).expand(3, 4), "0-d": base.clone()[1, 2, 3]}
    gst.save_file(views, tmp_path / "v.safetensors")
    theirs = st.load_file(tmp_path / "v.safetensors")
    for key, v in views.items():
        assert theirs[key].numpy().tobytes() == v.numpy().tobytes(order="C")
        assert theirs[key].is_contiguous() and tuple(theirs[key].shape) == v.shape


def test_tensors_sharing_memory_are_refused_naming_them(tmp_path):
    model = gg.nn.Linear(3, 3, bias=False)
    state = {"wte.weight": model.weight, "lm_head.weight": model.weight,
             "other": gg.zeros(2)}
    path = tmp_path / "tied.safetensors"
    with pytest.raises(ValueError, match="lm_head.weight and wte.weight.*share memory"):
        gst.save_file(state, path)
    with pytest.raises(ValueError, match="share memory"):
        gg.save({"a": model.weight[0], "b": model.weight[0, 1:]}, path)
    assert not path.exists()
    halves = gg.arange(6.0)  # disjoint parts of one buffer are saved, as upstream saves them
    gst.save_file({"a": halves[:3], "b": halves[3:]}, path)
    assert st.load_file(path)["b"].tolist() == [3.0, 4.0, 5.0]


@pytest.mark.parametrize("tensors, metadata, error, message", [
    ([gg.ones(2)], None, TypeError, "dict of named tensors"),
    ({1: gg.ones(2)}, None, TypeError, "names must be str"),
    ({"a": [1.0]}, None, TypeError, "'a' is a list"),
    ({"a": np.ones(2, np.complex64)}, None, TypeError, "complex64"),
    ({"a": gg.ones(2)}, {"step": 3}, TypeError, "metadata must be a dict from str to str"),
    ({"a": gg.ones(2)}, "meta", TypeError, "metadata"),
])
def test_what_the_format_cant_hold_is_refused(tmp_path, tensors, metadata, error, message):
    with pytest.raises(error, match=message):
        gst.save_file(tensors, tmp_path / "x.safetensors", metadata)


def test_save_file_is_atomic_and_keeps_permissions(tmp_path):
    path = tmp_path / "w.safetensors"
    gst.save_file({"a": gg.ones(2)}, path)
    os.chmod(path, 0o600)
    gst.save_file({"a": gg.zeros(3)}, path)
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert sorted(os.listdir(tmp_path)) == ["w.safetensors"]
    assert st.load_file(path)["a"].tolist() == [0.0, 0.0, 0.0]


# ------------------------------------------------------------------ graphgrad reads
def torch_tensors() -> dict:
    gen = torch.Generator().manual_seed(0)
    out = {f"{name}": torch.from_numpy(values(name, (2, 3))) for name in DTYPES}
    out["bf16"] = (torch.randn(4, 5, generator=gen) * 1e3).to(torch.bfloat16)
    out["scalar"], out["empty"] = torch.tensor(2.5), torch.zeros(0, 4)
    return out


def test_graphgrad_reads_what_pytorch_writes_bit_for_bit(tmp_path):
    theirs = torch_tensors()
    path = tmp_path / "w.safetensors"
    st.save_file(theirs, path, metadata={"format": "pt", "note": "é"})
    data = path.read_bytes()
    for ours in (gg.load(path), gst.load_file(path), gst.load(data), gg.load(io.BytesIO(data)),
                 gg.load(path, map_location="cpu", weights_only=True)):
        assert sorted(ours) == sorted(theirs)
        for key, t in theirs.items():
            same_bits(ours[key], t)  # bfloat16 as float32: exact
            assert ours[key].numpy().flags.writeable and not ours[key].requires_grad
    with gst.safe_open(path, framework="pt") as f:
        assert f.metadata() == {"format": "pt", "note": "é"}
        assert f.keys() == sorted(theirs)
        same_bits(f.get_tensor("bf16"), theirs["bf16"])
        with pytest.raises(KeyError, match="nope"):
            f.get_tensor("nope")


def test_a_pytorch_state_dict_in_safetensors_loads_into_a_graphgrad_model(tmp_path):
    torch.manual_seed(0)  # its own weights: the draws of earlier tests do not change them
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.LayerNorm(3))
    ours = gg.nn.Sequential(gg.nn.Linear(4, 3), gg.nn.LayerNorm(3))
    st.save_file(theirs.state_dict(), tmp_path / "m.safetensors")
    ours.load_state_dict(gg.load(tmp_path / "m.safetensors"))
    x = np.random.default_rng(1).standard_normal((2, 4)).astype(np.float32)
    np.testing.assert_allclose(ours(gg.tensor(x)).detach().numpy(),
                               theirs(torch.tensor(x)).detach().numpy(), rtol=1e-6)


def test_map_location_and_device(tmp_path):
    path = tmp_path / "w.safetensors"
    gst.save_file({"w": gg.ones(2)}, path)
    seen = []
    out = gg.load(path, map_location=lambda t, location: seen.append(location) or t * 2)
    assert seen == ["cpu"] and out["w"].tolist() == [2.0, 2.0]
    for bad in (lambda: gg.load(path, map_location="cuda"),
                lambda: gst.load_file(path, device="cuda:0"),
                lambda: gst.safe_open(path, framework="pt", device="cuda")):
        with pytest.raises(RuntimeError, match="not available"):
            bad()
    with pytest.raises(ValueError, match="mmap=True needs"):
        gg.load(path, mmap=True)
    with pytest.raises(ValueError, match="framework"):
        gst.safe_open(path, framework="tf")


def test_unsupported_dtypes_and_damaged_files_raise_checkpoint_errors(tmp_path):
    path = tmp_path / "f8.safetensors"
    st.save_file({"f8": torch.zeros(2, dtype=torch.float8_e4m3fn)}, path)
    with pytest.raises(CheckpointError, match="'f8' has dtype F8_E4M3"):
        gg.load(path)
    good = gst.save({"a": gg.arange(6.0), "m": gg.tensor([True, False])})
    bool_at = good.rindex(b"\x01\x00")
    bad_bool = good[:bool_at] + b"\x02" + good[bool_at + 1:]
    rng = np.random.default_rng(0)
    damaged = [good[:n] for n in (0, 7, 8, 20, len(good) - 1)] + [bad_bool, good + b"x"]
    for _ in range(200):
        data = bytearray(good)
        data[int(rng.integers(len(data)))] ^= int(rng.integers(1, 256))
        damaged.append(bytes(data))
    for data in damaged:
        path.write_bytes(data)
        try:
            out = gg.load(path)
        except CheckpointError:
            continue
        assert len(out) == 2  # only a changed name or element value still loads
    path.write_bytes(bad_bool)
    with pytest.raises(CheckpointError, match="bool tensor 'm'"):
        gst.load_file(path)


def test_without_the_package_the_error_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "safetensors", None)
    with pytest.raises(ImportError, match=r"pip install 'graphgrad\[safetensors\]'"):
        gg.save({"a": gg.ones(1)}, tmp_path / "a.safetensors")
    with pytest.raises(ImportError, match="graphgrad"):
        gst.load(b"")
