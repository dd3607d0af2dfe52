"""The engine on a device (the strict stand-in GPU): moving tensors, where gradients
land, and the errors for mixed devices and missing backends, as PyTorch."""
from __future__ import annotations

import numpy as np
import pytest

import graphgrad as gg
from graphgrad.autograd.arrays import namespace, to_host
from graphgrad.testing.strict_arrays import StrictArray, strict_cuda, strict_numpy


@pytest.fixture
def cuda():
    with strict_cuda():
        yield


def test_to_and_back_moves_the_data_and_keeps_the_values(cuda):
    x = gg.tensor([[1.0, 2.0], [3.0, 4.0]])
    on_device = x.to("cuda")
    assert on_device.device == gg.device("cuda:0") and on_device.is_cuda
    assert isinstance(on_device._data, StrictArray) and namespace(on_device._data) is strict_numpy
    for back in (on_device.cpu(), on_device.to("cpu"), on_device.to(gg.device("cpu"))):
        assert back.device == gg.device("cpu") and not back.is_cuda
        np.testing.assert_array_equal(back.numpy(), x.numpy())
    assert x.cuda().device == x.to(0).device == gg.device("cuda", 0)
    assert on_device.to("cuda") is on_device  # already there: itself, as PyTorch
    assert x.to("cpu") is x


def test_gradient_of_a_move_goes_back_to_the_source_device(cuda):
    x = gg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x.to("cuda").reshape(3, 1)
    upstream = gg.tensor([[1.0], [2.0], [3.0]], device="cuda")
    y.backward(upstream)
    assert x.grad.device == gg.device("cpu")
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 2.0, 3.0])
    leaf = gg.tensor([1.0, 2.0], device="cuda", requires_grad=True)
    leaf.cpu().backward(gg.tensor([5.0, 6.0]))
    assert leaf.grad.device == gg.device("cuda:0")
    np.testing.assert_array_equal(to_host(leaf.grad._data), [5.0, 6.0])


def test_second_derivatives_through_a_move(cuda):
    x = gg.tensor([1.0, 2.0], dtype=gg.float64, requires_grad=True)
    (g,) = gg.autograd.grad(x.to("cuda"), x, gg.tensor([1.0, 1.0], dtype=gg.float64,
                                                          device="cuda"), create_graph=True)
    assert g.device == gg.device("cpu")


def test_device_tensors_refuse_numpy_without_a_move(cuda):
    t = gg.tensor([1.0, 2.0], device="cuda")
    with pytest.raises(TypeError, match="can't convert cuda:0 device type tensor to numpy"):
        t.numpy()
    with pytest.raises(TypeError, match="Use Tensor.cpu()"):
        np.asarray(t)
    np.testing.assert_array_equal(t.numpy(force=True), [1.0, 2.0])
    assert t.tolist() == [1.0, 2.0] and gg.tensor(3.0, device="cuda").item() == 3.0
    assert "device='cuda:0'" in repr(t)


def test_mixing_devices_raises_naming_both(cuda):
    a = gg.ones(2, device="cuda")
    b = gg.ones(2)
    with pytest.raises(RuntimeError, match="expected all tensors to be on the same device, but "
                                           "found at least two devices, cuda:0 and cpu"):
        gg.stack([a, b])


def test_factories_place_their_result(cuda):
    for make in (lambda: gg.zeros(2, 3, device="cuda"), lambda: gg.ones(2, device="cuda"),
                 lambda: gg.tensor([1, 2], device="cuda"),
                 lambda: gg.as_tensor(np.ones(2), device="cuda")):
        t = make()
        assert t.device == gg.device("cuda:0") and isinstance(t._data, StrictArray)
    assert gg.as_tensor(gg.ones(2, device="cuda"), device="cpu").device == gg.device("cpu")


def test_without_a_backend_cuda_names_what_is_missing():
    with pytest.raises(RuntimeError, match=r"device 'cuda' is not available: graphgrad has no "
                                           r"cuda backend \(pip install graphgrad\[cuda\]"):
        gg.ones(2).to("cuda")
    with pytest.raises(RuntimeError, match="device 'mps' is not available"):
        gg.ones(2).to("mps")


def test_a_device_index_that_does_not_exist_raises(cuda):
    with pytest.raises(RuntimeError, match=r"device 'cuda:1' does not exist: there is 1 cuda"):
        gg.ones(2).to("cuda:1")


def test_a_cpu_scalar_joins_a_device_tensor_in_elementwise_ops_only(cuda):
    from graphgrad.autograd.graph import on_one_device
    from graphgrad.autograd.ops.elementwise import MUL
    from graphgrad.autograd.ops.shape import CAT

    x = gg.ones(2, device="cuda")
    s = gg.tensor(3.0, requires_grad=True)
    moved = on_one_device(MUL, (x, s))
    assert moved[0] is x and moved[1].device == gg.device("cuda:0")
    assert moved[1].grad_fn is not None  # the move is recorded: s still gets its gradient
    with pytest.raises(RuntimeError, match="cat: expected all tensors to be on the same device"):
        on_one_device(CAT, (x, s))


def test_gradcheck_runs_a_function_on_the_device(cuda):
    from graphgrad.testing import GradcheckError, gradcheck, gradgradcheck

    x = gg.tensor(np.arange(6.0).reshape(2, 3), dtype=gg.float64, device="cuda",
                  requires_grad=True)
    assert gradcheck(lambda t: t.transpose(0, 1).reshape(6), [x])
    assert gradgradcheck(lambda t: t.transpose(0, 1).reshape(3, 2), [x])
    class WrongGradient(gg.autograd.Function):  # a transposed gradient: gradcheck must see it
        @staticmethod
        def forward(ctx, t):
            return t.reshape(6)

        @staticmethod
        def backward(ctx, g):
            return g.reshape(2, 3).transpose(0, 1).reshape(2, 3)

    with pytest.raises(GradcheckError, match="disagrees with central differences"):
        gradcheck(WrongGradient.apply, [x])


def test_linear_algebra_asks_the_backend_to_raise_on_failures():
    """CuPy skips cuSOLVER's status check unless asked: the linalg forwards ask."""
    import contextlib

    from graphgrad.autograd.arrays import use_backend
    from graphgrad.testing.strict_arrays import StrictBackend

    asked = []

    class Checking(StrictBackend):
        def raising_linalg(self):
            asked.append(True)
            return contextlib.nullcontext()

    with use_backend(Checking()):
        gg.linalg.inv(gg.eye(2, device="cuda"))
    assert asked
