"""Saving, loading and data loading with a device (issue 20), on the device under test
(``tests/device_under_test.py``: the strict stand-in GPU, or a real one with
GRAPHGRAD_TEST_GPU=1): ``gg.save`` writes device tensors' data from the
host (the file never depends on a device), ``gg.load``'s ``map_location`` places what it
reads, safetensors and PyTorch checkpoints likewise, and ``DataLoader(pin_memory=True)``
pins its batches."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from device_under_test import cuda_for_tests, no_cuda

import graphgrad as gg
from graphgrad import nn
from graphgrad.autograd.arrays import is_device_array
from graphgrad.utils.data import DataLoader, TensorDataset


def on_device(t: gg.Tensor) -> bool:
    return is_device_array(t._data)


def checkpoint(tmp_path) -> tuple:
    """A checkpoint saved from device tensors: a model's state dict, a plain tensor and a
    parameter; returns its path and the host values."""
    with cuda_for_tests():
        gg.manual_seed(0)
        model = nn.Linear(3, 2).cuda()
        state = {"model": model.state_dict(), "x": gg.arange(4.0, device="cuda"),
                 "p": nn.Parameter(gg.ones(2, device="cuda")), "step": 3}
        path = tmp_path / "ckpt.gg"
        gg.save(state, path)
        values = {"weight": model.weight.cpu().numpy(), "x": np.arange(4.0, dtype=np.float32)}
    return path, values


def test_a_checkpoint_saved_from_a_device_loads_on_a_cpu_only_machine(tmp_path):
    path, values = checkpoint(tmp_path)
    with no_cuda():
        loaded = gg.load(path)
    assert not on_device(loaded["x"]) and loaded["step"] == 3
    np.testing.assert_array_equal(loaded["model"]["weight"].numpy(), values["weight"])
    np.testing.assert_array_equal(loaded["x"].numpy(), values["x"])
    assert isinstance(loaded["p"], nn.Parameter) and loaded["p"].requires_grad


def test_the_file_is_the_same_from_a_device_and_from_the_cpu(tmp_path):
    with cuda_for_tests():
        gg.save({"a": gg.arange(6.0).reshape(2, 3).cuda()}, tmp_path / "device.gg")
    gg.save({"a": gg.arange(6.0).reshape(2, 3)}, tmp_path / "cpu.gg")
    assert (tmp_path / "device.gg").read_bytes() == (tmp_path / "cpu.gg").read_bytes()


@pytest.mark.parametrize("map_location", [
    "cuda", "cuda:0", gg.device("cuda"), {"cpu": "cuda:0"},
    lambda t, location: t.cuda(),
])
def test_map_location_puts_the_tensors_on_the_device(tmp_path, map_location):
    path, values = checkpoint(tmp_path)
    with cuda_for_tests():
        loaded = gg.load(path, map_location=map_location)
        assert on_device(loaded["x"]) and on_device(loaded["model"]["weight"])
        assert on_device(loaded["p"])
        assert isinstance(loaded["p"], nn.Parameter) or callable(map_location)
        np.testing.assert_array_equal(loaded["x"].cpu().numpy(), values["x"])
        model = nn.Linear(3, 2).cuda()
        model.load_state_dict(loaded["model"])
        np.testing.assert_array_equal(model.weight.cpu().numpy(), values["weight"])


@pytest.mark.parametrize("map_location", [None, "cpu", {"cuda:0": "cpu"},
                                          lambda t, location: None])
def test_map_location_keeps_them_on_the_cpu(tmp_path, map_location):
    path, _ = checkpoint(tmp_path)
    with cuda_for_tests():
        loaded = gg.load(path, map_location=map_location)
        assert not on_device(loaded["x"]) and not on_device(loaded["model"]["bias"])


def test_map_location_to_a_missing_device_raises(tmp_path):
    path, _ = checkpoint(tmp_path)
    with cuda_for_tests():
        n = gg.cuda.device_count()
        with pytest.raises(RuntimeError, match=f"load: device 'cuda:{n}' does not exist"):
            gg.load(path, map_location=f"cuda:{n}")


def test_safetensors_from_and_to_a_device(tmp_path):
    from graphgrad.utils import safetensors as gst

    path = tmp_path / "w.safetensors"
    with cuda_for_tests():
        gst.save_file({"w": gg.arange(3.0, device="cuda")}, path)
        on_gpu = gst.load_file(path, device="cuda")["w"]
        assert on_device(on_gpu)
        np.testing.assert_array_equal(on_gpu.cpu().numpy(), [0.0, 1.0, 2.0])
        with gst.safe_open(path, framework="pt", device="cuda:0") as f:
            assert on_device(f.get_tensor("w"))
        assert on_device(gg.load(path, map_location="cuda")["w"])
    np.testing.assert_array_equal(gst.load_file(path)["w"].numpy(), [0.0, 1.0, 2.0])


def test_a_pytorch_checkpoint_saved_on_cuda_goes_where_map_location_says(tmp_path):
    torch = pytest.importorskip("torch")
    import io
    import zipfile

    path = tmp_path / "cuda.pt"
    torch.save({"w": torch.arange(3.0)}, path)
    with zipfile.ZipFile(path) as archive:  # relabel the storage's location as "cuda:0"
        files = {n: archive.read(n) for n in archive.namelist()}
    pickle_name = next(n for n in files if n.endswith("data.pkl"))
    files[pickle_name] = files[pickle_name].replace(b"X\x03\x00\x00\x00cpu",
                                                    b"X\x06\x00\x00\x00cuda:0")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    path.write_bytes(buffer.getvalue())
    with no_cuda():
        with pytest.raises(RuntimeError, match="cuda"):
            gg.load(path)  # no backend: as PyTorch on a machine without CUDA
        assert not on_device(gg.load(path, map_location="cpu")["w"])
    with cuda_for_tests():
        w = gg.load(path)["w"]  # saved on cuda:0: it goes back there
        assert on_device(w)
        np.testing.assert_array_equal(w.cpu().numpy(), [0.0, 1.0, 2.0])
        assert not on_device(gg.load(path, map_location={"cuda:0": "cpu"})["w"])


# ------------------------------------------------------------------ pinned memory
def test_tensor_pin_memory():
    t = gg.arange(4.0)
    assert not t.is_pinned()
    with no_cuda(), pytest.raises(RuntimeError, match="pin_memory: no cuda device can be used"):
        t.pin_memory()
    with cuda_for_tests():
        pinned = t.pin_memory()
        assert pinned.is_pinned() and not t.is_pinned() and pinned.pin_memory() is pinned
        np.testing.assert_array_equal(pinned.numpy(), t.numpy())
        x = gg.ones(2, requires_grad=True)
        y = x.pin_memory()
        assert y.is_pinned() and y.requires_grad
        (y * 3.0).sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])
        with pytest.raises(RuntimeError, match="cannot pin a tensor on cuda:0"):
            t.cuda().pin_memory()
        assert not t.cuda().is_pinned()


def _batches(**kwargs) -> list:
    data = TensorDataset(gg.arange(8.0).reshape(4, 2), gg.arange(4))
    return list(DataLoader(data, batch_size=2, **kwargs))


def test_dataloader_pins_batches_with_a_device():
    with cuda_for_tests(), warnings.catch_warnings():
        warnings.simplefilter("error")
        batches = _batches(pin_memory=True)
        dicts = list(DataLoader([{"a": gg.ones(2)}] * 2, batch_size=2, pin_memory=True))
    with cuda_for_tests():
        assert all(t.is_pinned() for batch in batches for t in batch)
        assert dicts[0]["a"].is_pinned()
        assert not any(t.is_pinned() for batch in _batches() for t in batch)
    np.testing.assert_array_equal(batches[1][0].numpy(), [[4.0, 5.0], [6.0, 7.0]])


@pytest.mark.slow
def test_dataloader_workers_pin_batches_with_a_device():
    with cuda_for_tests():
        batches = _batches(pin_memory=True, num_workers=2)
        assert all(t.is_pinned() for batch in batches for t in batch)


def test_dataloader_pin_memory_without_a_device_warns_and_ignores():
    with no_cuda(), pytest.warns(UserWarning, match="pin_memory=True has no effect: no "
                                                    "accelerator"):
        batches = _batches(pin_memory=True)
    with cuda_for_tests():
        assert not any(t.is_pinned() for batch in batches for t in batch)


# ----------------------------------------------------------------------- viz
def test_gradient_flow_reads_device_tensors_explicitly():
    with cuda_for_tests():
        m = nn.Linear(3, 2).cuda()
        for p in m.parameters():
            p.grad = gg.full(p.shape, 2.0, device="cuda")
        flow = gg.viz.gradient_flow(m)
        weight_norm = float(np.linalg.norm(m.weight.cpu().numpy()))
    assert [row.name for row in flow.rows] == ["weight", "bias"]
    np.testing.assert_allclose(flow.rows[0].stats.norm, np.sqrt(6 * 4.0))
    np.testing.assert_allclose(flow.rows[0].ratio, np.sqrt(24.0) / weight_norm, rtol=1e-6)
    assert "weight" in str(flow)
