"""The Tensor surface as PyTorch's: .data, size(), numpy()/__array__, formatting,
conversions, devices, tensors made like another, and in-place changes of the outputs
of ops that are not views."""
import math

import numpy as np
import pytest

import graphgrad as gg
import graphgrad.nn as nn
import graphgrad.nn.functional as F
from graphgrad.testing import gradcheck


# ------------------------------------------------------------------------ .data
def test_data_is_a_tensor_sharing_memory_outside_the_graph():
    w = gg.randn(3, requires_grad=True)
    d = w.data
    assert isinstance(d, gg.Tensor) and not d.requires_grad and d.grad_fn is None
    assert np.shares_memory(d.numpy(), w.numpy())
    d.add_(1.0)  # not recorded, allowed on a leaf that requires grad
    np.testing.assert_array_equal(w.numpy(), d.numpy())


def test_manual_sgd_through_data():
    gg.manual_seed(0)
    w = gg.randn(4, requires_grad=True)
    x = gg.randn(8, 4)
    losses = []
    for _ in range(20):
        loss = ((x @ w) ** 2).mean()
        losses.append(loss.item())
        w.grad = None
        loss.backward()
        w.data.add_(w.grad, alpha=-0.1)
    assert losses[-1] < 0.5 * losses[0]


def test_changes_through_data_do_not_bump_the_version():
    """As PyTorch's .data: the change bypasses the saved-value check (by design)."""
    x = gg.randn(3, requires_grad=True)
    y = x.exp()
    version = y._version
    y.data.mul_(2.0)
    assert y._version == version


def test_data_assignment_and_init_through_data():
    p = nn.Parameter(gg.zeros(2, 3))
    p.data = gg.ones(2, 3, dtype=gg.float64)
    assert p.dtype == np.float64 and p.requires_grad
    p.data.fill_(0.5)
    assert np.all(p.numpy() == 0.5)
    with pytest.raises(TypeError, match="data: assigned value must be a Tensor"):
        p.data = np.zeros(3)


# ------------------------------------------------------------------ shape & co
def test_size_numel_dim():
    t = gg.zeros(2, 3, 4)
    assert t.size() == (2, 3, 4) and isinstance(t.size(), gg.Size) and isinstance(t.shape, gg.Size)
    assert t.size(0) == 2 and t.size(-1) == 4 and t.numel() == 24 and t.dim() == 3
    assert t.size().numel() == 24 and str(t.shape) == "(2, 3, 4)"
    with pytest.raises(IndexError, match="size"):
        t.size(3)


def test_format_and_array():
    loss = gg.tensor(1.23456)
    assert f"{loss:.2f}" == "1.23" and f"{loss}" == "1.2345600128173828"
    assert f"{gg.zeros(2)}" == str(gg.zeros(2))
    for t in (gg.zeros(2), gg.tensor([2.5])):  # as PyTorch: only 0-d tensors take a spec
        with pytest.raises(TypeError):
            f"{t:.2f}"
    t = gg.arange(6).reshape(2, 3)
    a = np.asarray(t)
    assert np.shares_memory(a, t.numpy()) and a.shape == (2, 3)
    assert np.asarray(t, dtype=np.float32).dtype == np.float32


# ---------------------------------------------------------------- conversions
def test_to_dtype_device_and_other():
    x = gg.randn(2, 3, requires_grad=True)
    assert x.to("cpu") is x and x.to(gg.device("cpu")) is x and x.cpu() is x
    y = x.to(gg.float64)
    assert y.dtype == np.float64 and y.requires_grad
    y.sum().backward()
    assert x.grad.dtype == np.float32
    assert x.to("cpu", gg.float64).dtype == np.float64
    assert x.to(gg.zeros(1, dtype=gg.float64)).dtype == np.float64
    assert x.to(dtype=gg.float16, non_blocking=True).dtype == np.float16
    assert x.to(copy=True) is not x
    assert x.type_as(gg.zeros(1, dtype=gg.int64)).dtype == np.int64
    assert x.half().dtype == np.float16 and x.double().dtype == np.float64
    assert x.element_size() == 4 and x.is_floating_point() and not x.long().is_floating_point()


def test_type_names_and_casts_as_pytorch():
    torch = pytest.importorskip("torch")
    for dtype in ("float32", "float64", "float16", "int64", "int32", "int16", "int8", "uint8",
                  "bool"):
        ours, theirs = gg.zeros(2, dtype=getattr(np, dtype)), torch.zeros(2, dtype=getattr(
            torch, dtype))
        assert ours.type() == theirs.type()
        assert ours.type("torch.DoubleTensor").dtype == np.float64
    x = gg.ones(2, requires_grad=True)
    y = x.type(gg.float64)  # a differentiable cast, as astype
    y.sum().backward()
    assert y.dtype == np.float64 and x.grad.tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match="type: unknown tensor type 'torch.Foo'"):
        x.type("torch.Foo")


@pytest.mark.parametrize("call", [
    lambda x: x.to("cuda"), lambda x: x.cuda(), lambda x: x.to("cuda:1"), lambda x: x.to(0),
    lambda x: nn.Linear(2, 2).to("mps"), lambda x: nn.Linear(2, 2).cuda(),
])
def test_missing_devices_raise_naming_them(call):
    with pytest.raises(RuntimeError, match=r"device '(cuda|cuda:1|cuda:0|mps)' is not available"):
        call(gg.zeros(2))


def test_device_objects():
    assert gg.zeros(1).device == gg.device("cpu") == "cpu"
    assert str(gg.device("cuda", 1)) == "cuda:1" and gg.device("cuda:1").index == 1
    assert repr(gg.device("cpu")) == "device(type='cpu')"
    assert not gg.zeros(1).is_cuda
    with pytest.raises(RuntimeError, match="device type"):
        gg.device("gpu")


LAYERS = {
    "Linear": lambda d: nn.Linear(3, 2, device=d),
    "Bilinear": lambda d: nn.Bilinear(2, 2, 3, device=d),
    "Conv2d": lambda d: nn.Conv2d(1, 2, 3, device=d),
    "ConvTranspose1d": lambda d: nn.ConvTranspose1d(1, 2, 3, device=d),
    "Embedding": lambda d: nn.Embedding(5, 2, device=d), "LSTM": lambda d: nn.LSTM(2, 3, device=d),
    "GRUCell": lambda d: nn.GRUCell(2, 3, device=d),
    "BatchNorm1d": lambda d: nn.BatchNorm1d(3, device=d),
    "LayerNorm": lambda d: nn.LayerNorm(3, device=d),
    "MultiheadAttention": lambda d: nn.MultiheadAttention(4, 2, device=d),
    "TransformerEncoderLayer": lambda d: nn.TransformerEncoderLayer(4, 2, 8, device=d),
    "Transformer": lambda d: nn.Transformer(4, 2, 1, 1, 8, device=d),
    "mask": lambda d: nn.Transformer.generate_square_subsequent_mask(3, device=d),
}


@pytest.mark.parametrize("name", LAYERS)
def test_layer_constructors_take_device(name):
    LAYERS[name]("cpu")
    LAYERS[name](gg.device("cpu"))
    with pytest.raises(RuntimeError, match="device 'cuda' is not available"):
        LAYERS[name]("cuda")


def test_module_to_and_casts():
    model = nn.Linear(3, 2)
    assert model.to("cpu") is model and model.cpu() is model
    model.double()
    assert model.weight.dtype == np.float64
    model.to(gg.zeros(1, dtype=gg.float32))
    assert model.weight.dtype == np.float32
    model.half()
    assert model.bias.dtype == np.float16


def test_default_dtype():
    assert gg.get_default_dtype() == np.float32
    try:
        gg.set_default_dtype(gg.float64)
        assert gg.tensor([1.5]).dtype == np.float64 and gg.zeros(2).dtype == np.float64
        assert gg.tensor([1.5]).float().dtype == np.float32
    finally:
        gg.set_default_dtype(gg.float32)
    with pytest.raises(TypeError, match="set_default_dtype"):
        gg.set_default_dtype(gg.int64)


# ------------------------------------------------------- shape helper methods
def test_t_narrow_view_as_reshape_as_contiguous():
    x = gg.randn(2, 3, dtype=gg.float64, requires_grad=True)
    assert x.t().shape == (3, 2) and gg.zeros(3).t().shape == (3,)
    with pytest.raises(ValueError, match="t: expects a tensor with <= 2 dimensions"):
        gg.zeros(2, 2, 2).t()
    assert x.narrow(1, 1, 2).shape == (2, 2) and x.narrow(0, -1, 1).shape == (1, 3)
    with pytest.raises(IndexError, match="narrow"):
        x.narrow(1, 2, 2)
    assert x.view_as(gg.zeros(3, 2)).shape == (3, 2)
    assert x.reshape_as(gg.zeros(6)).shape == (6,)
    assert x.contiguous() is x
    c = x.t().contiguous()
    assert c.numpy().flags.c_contiguous
    assert gradcheck(lambda a: a.t().contiguous().narrow(0, 1, 2) * 3, [x])


@pytest.mark.parametrize("shape, target", [
    ((2, 3), (-1,)), ((2, 3), (3, -1)), ((2, 3, 4), (-1, 4)), ((0, 3), (-1,)), ((0, 3), (3, 0)),
    ((0, 3), (-1, 3)), ((), (1, -1)), ((6,), (1, 2, 1, -1)),
])
def test_reshape_fills_in_the_minus_one_as_numpy(shape, target):
    x = np.zeros(shape)
    assert gg.tensor(x).reshape(target).shape == x.reshape(target).shape


@pytest.mark.parametrize("shape, target", [
    ((2, 3), (-1, -1)), ((2, 3), (4, -1)), ((2, 3), (5,)), ((0, 3), (0, -1)), ((2, 3), (-2, -3)),
    ((2, 3), (3, 0, -1)),
])
def test_reshape_to_an_impossible_shape_names_both_shapes(shape, target):
    with pytest.raises(ValueError, match=rf"reshape: cannot reshape a tensor of shape "
                                         rf"\({shape[0]}, 3\) \({math.prod(shape)} elements\)"):
        gg.zeros(shape).reshape(target)
    with pytest.raises(ValueError):
        np.zeros(shape).reshape(target)


def test_mm_bmm_methods_check_dims():
    a, b = gg.randn(2, 3), gg.randn(3, 4)
    assert a.mm(b).shape == (2, 4) and gg.mm(a, b).shape == (2, 4)
    assert gg.randn(5, 2, 3).bmm(gg.randn(5, 3, 4)).shape == (5, 2, 4)
    with pytest.raises(ValueError, match="mm: both operands must be 2-D"):
        gg.mm(gg.randn(2, 2, 3), b)
    with pytest.raises(ValueError, match="bmm: batch sizes differ"):
        gg.bmm(gg.randn(5, 2, 3), gg.randn(4, 3, 4))


def test_new_factories_take_the_dtype_of_self():
    x = gg.zeros(2, dtype=gg.float64)
    assert x.new_zeros(3, 2).dtype == np.float64 and x.new_zeros((3, 2)).shape == (3, 2)
    assert x.new_ones(2).tolist() == [1.0, 1.0] and x.new_empty(4).shape == (4,)
    assert x.new_full((2,), 7).tolist() == [7.0, 7.0]
    t = x.new_tensor([1, 2])
    assert t.dtype == np.float64 and not t.requires_grad
    assert x.new_zeros(2, dtype=gg.int64, requires_grad=False).dtype == np.int64
    assert x.new_ones(2, requires_grad=True).requires_grad


# ------------------------------------- in place on outputs that are not views
@pytest.mark.parametrize("make", [
    lambda: nn.Conv2d(2, 3, 3),
    lambda: nn.Conv1d(2, 3, 2, bias=False),
    lambda: nn.Linear(4, 3),
    lambda: nn.MaxPool2d(2),
])
def test_in_place_on_non_view_outputs_gives_correct_gradients(make):
    gg.manual_seed(0)
    layer = make().double()
    shape = {nn.Linear: (2, 5, 4), nn.Conv1d: (2, 2, 6)}.get(type(layer), (2, 2, 6, 6))
    x = gg.randn(*shape, dtype=gg.float64, requires_grad=True)
    out = layer(x)
    assert out._base is None  # not a view, as PyTorch's
    weights = gg.randn(*out.shape, dtype=gg.float64)
    (out.div_(255.0).mul_(weights)).sum().backward()
    in_place = x.grad.numpy().copy()
    x.grad = None
    ((layer(x) / 255.0) * weights).sum().backward()
    np.testing.assert_allclose(in_place, x.grad.numpy(), rtol=1e-12)


def test_views_still_refuse_in_place_changes_while_recording():
    x = gg.randn(2, 3, requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match="in-place change of a view"):
        y.view(6).mul_(2)


def test_functional_linear_output_accepts_in_place():
    x = gg.randn(3, 2, 4, requires_grad=True)
    w = gg.randn(5, 4, requires_grad=True)
    F.linear(x, w).add_(1.0).sum().backward()
    assert x.grad.shape == x.shape


def test_legacy_constructor_with_sizes():
    t = gg.Tensor(2, 3)
    assert t.shape == (2, 3) and t.dtype == np.float32 and not t.requires_grad
    assert gg.Tensor().shape == (0,)
    assert nn.Parameter(gg.Tensor(4, 5)).shape == (4, 5)
    assert gg.Tensor([1, 2]).dtype == np.int64  # data keeps its dtype, as gg.tensor
    with pytest.raises(TypeError, match="Tensor: give data, or sizes as ints"):
        gg.Tensor([1.0], True)
