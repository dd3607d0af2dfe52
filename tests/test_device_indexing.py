"""Indexing a tensor on a device (the device under test: the strict stand-in GPU, or a
real one, ``device_under_test``) with every kind of index: ints, slices, None,
Ellipsis, lists, NumPy arrays, CPU and device index tensors, boolean masks.  Host
indices reach the device once, as device arrays (the recorded op and its lazy gradient
hold device arrays only); values, gradients and second derivatives are the CPU's.
Mixing devices follows PyTorch: ``x[i]`` takes a CPU index for a tensor on any device,
the other indexing ops refuse a tensor index on another device, and ``x[i] = v`` copies
a value from another device where PyTorch does.
"""
from __future__ import annotations

import numpy as np
import pytest
from device_under_test import TOLERANCE, cuda_for_tests

import graphgrad as gg
from graphgrad.autograd.arrays import is_device_array

DATA = np.arange(20.0).reshape(4, 5)
MASK = DATA % 3 == 1


@pytest.fixture(autouse=True)
def cuda():
    with cuda_for_tests():
        yield


def _grad(out, x, upstream):
    (g,) = gg.autograd.grad(out, x, gg.tensor(upstream, device=x.device))
    return g


def _index_arrays(index) -> list:
    return [i for i in (index if isinstance(index, tuple) else (index,))
            if not isinstance(i, (int, slice)) and i is not None and i is not Ellipsis]


INDICES = {
    "int": 2, "negative int": -1, "ints": (1, -2), "slice": slice(1, 3),
    "reversed step": (slice(None, None, -2), 1), "none and ellipsis": (None, Ellipsis, 0),
    "list": [0, 2, 2], "nested list": [[0, 1], [3, 3]], "list in a dim": (slice(None), [1, 1, 4]),
    "numpy": np.array([3, 0, 3]), "numpy pair": (np.array([0, 3]), np.array([4, -5])),
    "numpy int32": np.array([1, 2], dtype=np.int32), "numpy mask": MASK,
    "numpy row mask": np.array([True, False, True, True]), "list mask": [False, True, True, False],
    "cpu tensor": gg.tensor([2, 0, 2]), "0-d cpu tensor": gg.tensor(3),
    "cpu mask": gg.tensor(MASK), "cpu tensor and slice": (gg.tensor([1, 1]), slice(2, None)),
}


@pytest.mark.parametrize("kind", INDICES)
def test_host_index_of_a_device_tensor(kind):
    index = INDICES[kind]
    x = gg.tensor(DATA, requires_grad=True)
    xd = gg.tensor(DATA, device="cuda", requires_grad=True)
    out, outd = x[index], xd[index]
    assert outd.device == gg.device("cuda", 0)
    np.testing.assert_array_equal(outd.cpu().numpy(), out.numpy())
    if _index_arrays(index):  # the recorded index: device arrays only
        held = outd.grad_fn.params["index"]
        arrays = [i for i in held if not isinstance(i, (int, slice)) and i is not None
                  and i is not Ellipsis]
        assert arrays and all(is_device_array(i) for i in arrays), held
    upstream = np.random.default_rng(0).standard_normal(out.shape)
    gd = _grad(outd, xd, upstream)
    assert gd.device.type == "cuda"
    np.testing.assert_allclose(gd.cpu().numpy(), _grad(out, x, upstream).numpy(), **TOLERANCE)


@pytest.mark.parametrize("kind", ["list", "nested list", "numpy pair", "numpy mask",
                                  "cpu tensor and slice"])
def test_device_index_tensor_of_a_device_tensor(kind):
    index = INDICES[kind]
    if isinstance(index, tuple):
        on_device = tuple(i.to("cuda") if isinstance(i, gg.Tensor) else
                          gg.tensor(i, device="cuda") if isinstance(i, np.ndarray) else i
                          for i in index)
    else:
        on_device = gg.tensor(index, device="cuda")
    out = gg.tensor(DATA, device="cuda")[on_device]
    assert out.device.type == "cuda"
    np.testing.assert_array_equal(out.cpu().numpy(), gg.tensor(DATA)[index].numpy())


def test_repeated_device_indices_accumulate_to_second_order():
    index = gg.tensor([0, 3, 0, 0], device="cuda")
    x = gg.tensor(DATA, requires_grad=True)
    xd = gg.tensor(DATA, device="cuda", requires_grad=True)
    v = np.random.default_rng(1).standard_normal((4, 5))
    grads = []
    for t, i in ((x, index.cpu()), (xd, index)):
        up = gg.tensor(v, device=t.device, requires_grad=True)
        (g,) = gg.autograd.grad(t[i], t, up, create_graph=True)  # an index_add of up
        (gg_up,) = gg.autograd.grad(g, up, gg.tensor(DATA, device=t.device))  # reads it back
        grads.append((g.detach().cpu().numpy(), gg_up.cpu().numpy()))
    np.testing.assert_allclose(grads[1][0][0, 0], v[0, 0] + v[2, 0] + v[3, 0], **TOLERANCE)
    for cpu, device in zip(grads[0], grads[1], strict=True):
        np.testing.assert_allclose(device, cpu, **TOLERANCE)


def test_a_device_index_of_a_cpu_tensor_raises_as_pytorch():
    with pytest.raises(RuntimeError, match="indices should be either on cpu or on the same "
                                           r"device as the indexed tensor \(cpu\)"):
        gg.tensor(DATA)[gg.tensor([0, 1], device="cuda")]
    with pytest.raises(RuntimeError, match="indices should be either on cpu"):
        gg.tensor(DATA)[gg.tensor(MASK, device="cuda")]


INDEX_OPS = {
    "gather": (lambda x, i: gg.gather(x, 1, i), [[4, 1]]),
    "index_select": (lambda x, i: gg.index_select(x, 1, i), [4, 1]),
    "take_along_dim": (lambda x, i: gg.take_along_dim(x, i, 1), [[4, 1]]),
    "take": (gg.take, [4, 1]),
    "index_copy": (lambda x, i: gg.index_copy(x, 1, i, gg.ones(4, 2, dtype=x.dtype,
                                                               device=x.device)), [4, 1]),
    "repeat_interleave": (lambda x, i: gg.repeat_interleave(x, i, dim=0), [1, 0, 2, 1]),
}


@pytest.mark.parametrize("name", INDEX_OPS)
def test_index_ops_take_host_data_and_refuse_a_cpu_index_tensor(name):
    """As PyTorch's, these ops want an index tensor on the input's device; host data (a
    NumPy array, a list) has no device and goes to the input's."""
    call, index = INDEX_OPS[name]
    x, xd = gg.tensor(DATA), gg.tensor(DATA, device="cuda")
    expected = call(x, gg.tensor(index)).numpy()
    for given in (index, np.array(index), gg.tensor(index, device="cuda")):
        out = call(xd, given)
        assert out.device.type == "cuda"
        np.testing.assert_array_equal(out.cpu().numpy(), expected)
    with pytest.raises(RuntimeError, match="expected all tensors to be on the same device, "
                                           "but found at least two devices, cuda:0 and cpu"):
        call(xd, gg.tensor(index))


def test_masked_ops_on_device_with_a_host_mask():
    xd = gg.tensor(DATA, device="cuda", requires_grad=True)
    selected = gg.masked_select(xd, MASK)
    assert selected.device.type == "cuda"
    np.testing.assert_array_equal(selected.cpu().numpy(), DATA[MASK])
    with pytest.raises(RuntimeError, match="same device"):
        gg.masked_select(xd, gg.tensor(MASK))


# ------------------------------------------------------------------------- setitem
SET_AT = {
    "list": lambda: [1, 3], "numpy": lambda: np.array([1, 3]), "cpu tensor": lambda: gg.tensor(
        [1, 3]), "device tensor": lambda: gg.tensor([1, 3], device="cuda"),
    "mask": lambda: np.array([False, True, False, True, False]),
    "device mask": lambda: gg.tensor([False, True, False, True, False], device="cuda"),
}


@pytest.mark.parametrize("kind", SET_AT)
def test_setitem_on_device_with_any_index(kind):
    index = SET_AT[kind]()
    xd = gg.zeros(5, device="cuda")
    xd[index] = gg.tensor([7.0, 8.0], device="cuda")
    np.testing.assert_array_equal(xd.cpu().numpy(), [0.0, 7.0, 0.0, 8.0, 0.0])
    xd[index] = 1.0
    np.testing.assert_array_equal(xd.cpu().numpy(), [0.0, 1.0, 0.0, 1.0, 0.0])


def test_setitem_copies_a_value_from_another_device_where_pytorch_does():
    xd = gg.zeros(5, device="cuda")
    xd[[0, 4]] = gg.tensor(3.0)  # a 0-d value: taken as a number
    xd[1:3] = gg.tensor([1.0, 2.0])  # a basic index: copied (PyTorch's copy_)
    xd[np.array([3])] = np.array([5.0])  # host data has no device: copied
    assert xd.device.type == "cuda"
    np.testing.assert_array_equal(xd.cpu().numpy(), [3.0, 1.0, 2.0, 5.0, 3.0])
    x = gg.zeros(3)
    x[:2] = gg.tensor([4.0, 5.0], device="cuda")
    np.testing.assert_array_equal(x.numpy(), [4.0, 5.0, 0.0])


def test_setitem_refuses_a_tensor_from_another_device_at_an_index_array():
    with pytest.raises(RuntimeError, match=r"setitem: .*shape \(2,\) on cpu"):
        gg.zeros(5, device="cuda")[[1, 3]] = gg.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"setitem: .*on cuda:0"):
        gg.zeros(5)[gg.tensor([True, False, True, False, False])] = gg.ones(2, device="cuda")


def test_setitem_gradient_goes_back_to_the_value_on_its_own_device():
    v = gg.tensor([1.0, 2.0], requires_grad=True)
    xd = gg.zeros(5, device="cuda")
    xd[1:3] = v
    (g,) = gg.autograd.grad(xd, v, gg.tensor([1.0, 2.0, 3.0, 4.0, 5.0], device="cuda"))
    assert g.device.type == "cpu"
    np.testing.assert_array_equal(g.numpy(), [2.0, 3.0])


def test_ops_that_build_an_index_build_it_on_the_device():
    """Tensor.unfold's windows and repeat_interleave's sources are index arrays made by
    the op itself: made on the device, they need no transfer (the strict arrays would
    refuse a NumPy one mixed in)."""
    xd = gg.tensor(np.arange(7.0), device="cuda", requires_grad=True)
    windows = xd.unfold(0, 3, 2)
    np.testing.assert_array_equal(windows.cpu().numpy(), [[0, 1, 2], [2, 3, 4], [4, 5, 6]])
    g = _grad(windows, xd, np.ones((3, 3)))
    np.testing.assert_array_equal(g.cpu().numpy(), [1, 1, 2, 1, 2, 1, 1])
    counts = gg.repeat_interleave(gg.tensor([2, 0, 1], device="cuda"))
    assert counts.device.type == "cuda"
    np.testing.assert_array_equal(counts.cpu().numpy(), [0, 0, 2])
