"""gg.save / gg.load arguments as torch.save / torch.load: paths and file objects,
map_location, weights_only, mmap, pickle options; symlinks and permissions of saved files."""
import inspect
import io
import os
import pickle
import stat
import threading
import tracemalloc

import numpy as np
import pytest

import graphgrad as gg
from graphgrad.serialization import CheckpointError

OBJ = {"w": gg.randn(3, 4), "step": 7, "names": ("a", "b"), "arr": np.arange(5, dtype=np.int16)}


def assert_obj(out):
    assert list(out) == list(OBJ) and out["step"] == 7 and out["names"] == ("a", "b")
    np.testing.assert_array_equal(out["w"].numpy(), OBJ["w"].numpy())
    assert out["arr"].dtype == np.int16 and out["arr"].tolist() == [0, 1, 2, 3, 4]


def checkpoint_bytes(obj=OBJ) -> bytes:
    buf = io.BytesIO()
    gg.save(obj, buf)
    return buf.getvalue()


# ------------------------------------------------------------------ paths and file objects
def test_bytesio_both_ways_matches_a_path(tmp_path):
    data = checkpoint_bytes()
    gg.save(OBJ, tmp_path / "a.pt")
    assert (tmp_path / "a.pt").read_bytes() == data
    assert_obj(gg.load(io.BytesIO(data)))
    assert_obj(gg.load(str(tmp_path / "a.pt")))


def test_open_files_both_ways(tmp_path):
    path = tmp_path / "b.pt"
    with open(path, "wb") as f:
        f.write(b"some prefix")
        gg.save(OBJ, f)
        assert not f.closed
    with open(path, "rb") as f:
        f.seek(len(b"some prefix"))  # loads from the current position to the end
        assert_obj(gg.load(f))
        assert f.read() == b""
    with open(path, "rb") as f:
        with pytest.raises(CheckpointError, match="magic") as info:
            gg.load(f)
        assert info.value.path == str(path)  # the file object's name


class Trickle(io.RawIOBase):
    """A seekable raw file whose reads come back short (at most 7 bytes)."""

    def __init__(self, data: bytes) -> None:
        self.inner = io.BytesIO(data)

    def readable(self):
        return True

    def seekable(self):
        return True

    def seek(self, offset, whence=0):
        return self.inner.seek(offset, whence)

    def tell(self):
        return self.inner.tell()

    def readinto(self, view):
        return self.inner.readinto(memoryview(view)[:7])


def test_short_reads_are_completed():
    data = checkpoint_bytes({"a": np.arange(100.0), "b": gg.ones(3, 3)})
    out = gg.load(Trickle(data))
    assert out["a"].tolist() == list(range(100)) and out["b"].sum().item() == 9
    with pytest.raises(CheckpointError, match="Trickle"):
        gg.load(Trickle(data[:-1]))


class Stream:
    """A readable object that can't seek, handing out a few bytes per read."""

    def __init__(self, data: bytes, step: int = 7) -> None:
        self.data, self.pos, self.step = data, 0, step

    def read(self, n=-1):
        chunk = self.data[self.pos:self.pos + min(n, self.step)]
        self.pos += len(chunk)
        return chunk


def test_streams_that_cannot_seek(tmp_path):
    data = checkpoint_bytes()
    assert_obj(gg.load(Stream(data)))
    with pytest.raises(CheckpointError, match="<Stream>"):
        gg.load(Stream(data[:-3]))
    read_fd, write_fd = os.pipe()
    writer = threading.Thread(target=lambda: (os.write(write_fd, data), os.close(write_fd)))
    writer.start()
    with open(read_fd, "rb") as pipe:
        assert not pipe.seekable()
        assert_obj(gg.load(pipe))
    writer.join()


class Sink:
    """A writable object that takes at most 5 bytes per call and says how many it took."""

    def __init__(self) -> None:
        self.parts = []

    def write(self, data):
        self.parts.append(bytes(data[:5]))
        return len(self.parts[-1])


def test_partial_writes_are_completed():
    sink = Sink()
    gg.save(OBJ, sink)
    assert b"".join(sink.parts) == checkpoint_bytes()


@pytest.mark.parametrize("f", [5, b"x.pt", None, object(), io.StringIO()])
def test_save_and_load_reject_what_is_not_a_binary_file(f):
    with pytest.raises(TypeError, match="save: .*(binary|path)"):
        gg.save(OBJ, f)
    with pytest.raises(TypeError, match="load: .*(binary|path)"):
        gg.load(f)


def test_text_mode_files_are_refused(tmp_path):
    with open(tmp_path / "t.txt", "w") as f, pytest.raises(TypeError, match="'wb'"):
        gg.save(OBJ, f)
    (tmp_path / "t.txt").write_bytes(checkpoint_bytes())
    with open(tmp_path / "t.txt") as f, pytest.raises(TypeError, match="'rb'"):
        gg.load(f)


# ------------------------------------------------------------------ map_location, weights_only
@pytest.mark.parametrize("map_location", [
    None, "cpu", "cpu:0", gg.device("cpu"), {"cuda:0": "cpu"}, {"cpu": "cpu"},
    {"cpu": gg.device("cpu")}, lambda storage, location: storage,
    lambda storage, location: None,
], ids=["None", "cpu", "cpu:0", "device", "dict-other", "dict-cpu", "dict-device",
        "callable", "callable-None"])
def test_map_location_forms_load_on_the_cpu(map_location):
    out = gg.load(io.BytesIO(checkpoint_bytes()), map_location=map_location)
    assert_obj(out)
    assert out["w"].device == gg.device("cpu")


def test_map_location_callable_sees_each_tensor_and_its_location():
    seen = []

    def relocate(tensor, location):
        seen.append((tuple(tensor.shape), location))
        return tensor * 2

    out = gg.load(io.BytesIO(checkpoint_bytes({"a": gg.ones(2), "b": [gg.zeros(1, 3)],
                                                "n": np.ones(2)})), map_location=relocate)
    assert seen == [((2,), "cpu"), ((1, 3), "cpu")]  # Tensors only, not NumPy arrays
    assert out["a"].tolist() == [2.0, 2.0]
    with pytest.raises(TypeError, match="map_location returned a str"):
        gg.load(io.BytesIO(checkpoint_bytes()), map_location=lambda s, loc: "cpu")


@pytest.mark.parametrize("map_location", [
    "cuda", "cuda:1", gg.device("cuda", 0), {"cpu": "cuda:0"}, {"cpu": "mps"},
    lambda storage, location: storage.cuda(),
])
def test_map_location_to_a_missing_device_raises(tmp_path, map_location):
    gg.save(OBJ, tmp_path / "c.pt")
    with pytest.raises(RuntimeError, match="not available"):
        gg.load(tmp_path / "c.pt", map_location=map_location)


def test_map_location_of_another_type_is_a_type_error():
    with pytest.raises(TypeError, match="map_location"):
        gg.load(io.BytesIO(checkpoint_bytes()), map_location=5)


@pytest.mark.parametrize("weights_only", [True, False, None])
def test_weights_only_values_all_read_the_format(weights_only):
    assert_obj(gg.load(io.BytesIO(checkpoint_bytes()), weights_only=weights_only))


def test_weights_only_false_does_not_enable_pickle(tmp_path):
    sentinel = tmp_path / "ran"
    payload = pickle.dumps({"x": _Evil(str(sentinel))})
    with pytest.raises(CheckpointError, match="not a graphgrad checkpoint"):
        gg.load(io.BytesIO(payload), weights_only=False)
    assert not sentinel.exists()
    with pytest.raises(TypeError, match="weights_only"):
        gg.load(io.BytesIO(checkpoint_bytes()), weights_only="yes")


class _Evil:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.mark.parametrize("call, name", [
    (lambda f: gg.load(f, None, pickle), "pickle_module"),
    (lambda f: gg.load(f, pickle_module=pickle), "pickle_module"),
    (lambda f: gg.load(f, encoding="latin1"), "encoding"),
    (lambda f: gg.save(OBJ, f, pickle), "pickle_module"),
    (lambda f: gg.save(OBJ, f, pickle_protocol=4), "pickle_protocol"),
    (lambda f: gg.save(OBJ, f, _use_new_zipfile_serialization=False),
     "_use_new_zipfile_serialization"),
])
def test_pickle_options_are_refused(call, name):
    with pytest.raises(TypeError, match=f"{name}.*no pickle"):
        call(io.BytesIO(checkpoint_bytes()))


def test_signatures_follow_torch():
    torch = pytest.importorskip("torch")

    def shape(fn, count):
        return [(p.name, p.kind) for p in inspect.signature(fn).parameters.values()][:count]

    assert shape(gg.load, 6) == shape(torch.load, 6)
    assert shape(gg.save, 4) == shape(torch.save, 4)


# ------------------------------------------------------------------ mmap
def test_mmap_maps_the_file_copy_on_write(tmp_path):
    path = tmp_path / "m.pt"
    big = np.arange(1_000_000, dtype=np.float64)  # 8 MB
    gg.save({"big": gg.tensor(big), "small": np.ones(3, np.float32), "empty": gg.zeros(0),
             "n": 1}, path)
    tracemalloc.start()
    out = gg.load(path, mmap=True)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 1_000_000  # the 8 MB stay in the file's pages
    np.testing.assert_array_equal(out["big"].numpy(), big)
    assert out["small"].tolist() == [1, 1, 1] and out["empty"].shape == (0,) and out["n"] == 1
    before = path.read_bytes()
    out["big"].numpy()[:10] = -1  # writable, and writes don't reach the file
    out["big"].add_(1.0)
    assert path.read_bytes() == before
    assert gg.load(path)["big"].numpy()[0] == 0


def test_mmap_checks_the_data_and_needs_a_path(tmp_path):
    path = tmp_path / "m.pt"
    gg.save({"w": np.arange(100.0)}, path)
    data = bytearray(path.read_bytes())
    data[-5] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="checksum") as info:
        gg.load(path, mmap=True)
    assert info.value.key == "['w']"
    with pytest.raises(ValueError, match="mmap=True needs f to be a path"):
        gg.load(io.BytesIO(checkpoint_bytes()), mmap=True)


# ------------------------------------------------------------------ symlinks, permissions
def test_save_through_a_symlink_replaces_the_target(tmp_path):
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "ckpt.pt"
    gg.save({"v": 1}, target)
    link = tmp_path / "latest.pt"
    link.symlink_to(os.path.join("real", "ckpt.pt"))  # a relative link
    chain = tmp_path / "chain.pt"
    chain.symlink_to(link)
    gg.save({"v": 2}, link)
    assert link.is_symlink() and os.readlink(link) == os.path.join("real", "ckpt.pt")
    assert gg.load(target) == {"v": 2}
    gg.save({"v": 3}, chain)
    assert chain.is_symlink() and link.is_symlink() and gg.load(target) == {"v": 3}
    assert sorted(os.listdir(tmp_path)) == ["chain.pt", "latest.pt", "real"]
    assert os.listdir(tmp_path / "real") == ["ckpt.pt"]


def test_save_through_a_symlink_writes_next_to_the_target(tmp_path, monkeypatch):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    link = tmp_path / "a" / "link.pt"
    link.symlink_to(tmp_path / "b" / "new.pt")  # dangling: the target is created
    renames = []
    replace = os.replace
    monkeypatch.setattr(os, "replace", lambda src, dst: (renames.append((src, dst)),
                                                         replace(src, dst)))
    gg.save({"v": 1}, link)
    (src, dst), = renames
    assert os.path.dirname(src) == os.path.dirname(dst) == str(tmp_path / "b")
    assert link.is_symlink() and gg.load(tmp_path / "b" / "new.pt") == {"v": 1}


def test_symlink_loop_and_directory_raise(tmp_path):
    loop = tmp_path / "loop.pt"
    loop.symlink_to(loop)
    with pytest.raises(OSError):
        gg.save({}, loop)
    (tmp_path / "dir.pt").mkdir()
    with pytest.raises(IsADirectoryError):
        gg.save({}, tmp_path / "dir.pt")
    assert sorted(os.listdir(tmp_path)) == ["dir.pt", "loop.pt"]


@pytest.fixture
def umask():
    old = os.umask(0o022)
    yield os.umask
    os.umask(old)


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o604, 0o755])
def test_saving_over_a_file_keeps_its_permissions(tmp_path, umask, mode):
    path = tmp_path / "p.pt"
    gg.save({"v": 1}, path)
    os.chmod(path, mode)
    umask(0o077)  # the old bits are kept whatever the umask
    gg.save({"v": 2}, path)
    assert stat.S_IMODE(os.stat(path).st_mode) == mode and gg.load(path) == {"v": 2}


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_a_new_file_gets_the_umask(tmp_path, umask, mask, mode):
    umask(mask)
    gg.save({"v": 1}, tmp_path / "n.pt")
    with open(tmp_path / "plain", "wb"):
        pass
    assert stat.S_IMODE(os.stat(tmp_path / "n.pt").st_mode) == mode
    assert stat.S_IMODE(os.stat(tmp_path / "plain").st_mode) == mode


def test_failed_save_through_a_symlink_leaves_no_temporary(tmp_path, monkeypatch):
    (tmp_path / "d").mkdir()
    gg.save({"v": 1}, tmp_path / "d" / "t.pt")
    (tmp_path / "l.pt").symlink_to(tmp_path / "d" / "t.pt")

    def boom(*args):
        raise OSError("simulated crash")

    monkeypatch.setattr(os, "fsync", boom)  # the temporary file is written by then
    with pytest.raises(OSError, match="simulated"):
        gg.save({"v": np.ones(3)}, tmp_path / "l.pt")
    monkeypatch.undo()
    assert os.listdir(tmp_path / "d") == ["t.pt"] and gg.load(tmp_path / "l.pt") == {"v": 1}
