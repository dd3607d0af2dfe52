"""Elementwise ops on a device where the op registry (tests/test_device_ops.py) does not
reach: in-place forms, ops without gradient, truth tests, ``new_*`` placement, float32
paths, and mixing devices.  The device is the strict stand-in GPU
(``graphgrad.testing.strict_arrays``): an implicit host transfer raises there."""
from __future__ import annotations

import numpy as np
import pytest

import graphgrad as gg
from graphgrad.testing.strict_arrays import StrictArray, strict_cuda


@pytest.fixture(autouse=True)
def cuda():
    with strict_cuda():
        yield


def _pair(values, dtype=np.float64):
    """The same tensor on the CPU and on the device."""
    return gg.tensor(values, dtype=dtype), gg.tensor(values, dtype=dtype, device="cuda")


def _same(on_device: gg.Tensor, on_cpu: gg.Tensor) -> None:
    assert on_device.device.type == "cuda" and isinstance(on_device._data, StrictArray)
    assert on_device.dtype == on_cpu.dtype
    np.testing.assert_array_equal(on_device.cpu().numpy(), on_cpu.numpy())


X = [[-1.5, 0.0, 2.0], [0.25, -0.0, 3.0]]


@pytest.mark.parametrize("change", [
    lambda t: t.add_(2.0), lambda t: t.add_(t, alpha=-3), lambda t: t.sub_(0.5, alpha=2),
    lambda t: t.mul_(t), lambda t: t.div_(4), lambda t: t.clamp_(-1, 1),
    lambda t: t.clamp_(min=0.5), lambda t: t.expm1_(), lambda t: t.atan2_(t * 2),
    lambda t: t.lerp_(t * 3, 0.5), lambda t: t.round_(), lambda t: t.erfc_(),
    lambda t: t.copy_(t * 5), lambda t: t.__iadd__(1),
])
def test_inplace_ops_on_device_match_cpu(change):
    cpu, dev = _pair(X)
    assert change(dev) is dev
    change(cpu)
    _same(dev, cpu)


def test_inplace_op_recorded_on_device_has_the_cpu_gradient():
    results = []
    for device in ("cpu", "cuda"):
        x = gg.tensor(X, dtype=np.float64, device=device, requires_grad=True)
        y = x * 1.0
        y.mul_(x).add_(3.0, alpha=2).log1p_()
        (grad,) = gg.autograd.grad(y, x, gg.ones(y.shape, dtype=y.dtype, device=device))
        assert grad.device.type == device
        results.append(grad.cpu().numpy())
    np.testing.assert_array_equal(*results)


def test_copy_from_the_cpu_into_a_device_tensor_sends_the_gradient_back():
    src = gg.tensor([1.0, 2.0], requires_grad=True)
    dst = gg.zeros(2, device="cuda")
    dst.copy_(src * 3)
    assert dst.device.type == "cuda"
    (grad,) = gg.autograd.grad(dst, src, gg.ones(2, device="cuda"))
    assert grad.device.type == "cpu"
    np.testing.assert_array_equal(grad.numpy(), [3.0, 3.0])


@pytest.mark.parametrize("op", [
    gg.eq, gg.ne, gg.lt, gg.le, gg.gt, gg.ge, gg.logical_and, gg.logical_or,
    gg.logical_xor, gg.floor_divide, gg.remainder, gg.fmod, gg.heaviside,
])
def test_binary_ops_without_gradient_on_device(op):
    (a, da), (b, db) = _pair(X), _pair([[2.0, 0.0, -1.0], [0.25, 1.0, 3.0]])
    _same(op(da, db), op(a, b))


@pytest.mark.parametrize("op", [
    gg.sign, gg.signbit, gg.isnan, gg.isfinite, gg.logical_not, gg.floor, gg.trunc,
    lambda t: t.long(), lambda t: t.float(), lambda t: t.bool(), lambda t: t // 2,
    lambda t: 3 % t, lambda t: t == 0, lambda t: -t,
])
def test_unary_ops_without_gradient_on_device(op):
    cpu, dev = _pair(X)
    _same(op(dev), op(cpu))


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("op", [
    gg.erf, gg.erfc, gg.erfinv, gg.lgamma, gg.digamma, gg.sigmoid, gg.tanh, gg.gelu,
    lambda t: t ** 2, lambda t: t ** -0.5, lambda t: gg.polygamma(2, t), gg.xlogy,
])
def test_lower_precision_paths_on_device(op, dtype):
    values = [[0.3, -0.7, 2.5], [0.0, 1.0, 0.999]]
    cpu, dev = _pair(values, dtype)
    if op is gg.xlogy:
        _same(op(dev, dev + 1), op(cpu, cpu + 1))
    else:
        _same(op(dev), op(cpu))


@pytest.mark.parametrize("name", ["all", "any"])
@pytest.mark.parametrize("dim", [None, 0, 1, (0, 1)])
def test_truth_reductions_on_device(name, dim):
    cpu, dev = _pair([[1, 0, 2], [3, 4, 5]], np.uint8)
    _same(getattr(gg, name)(dev, dim=dim), getattr(gg, name)(cpu, dim=dim))
    cpu, dev = _pair(1.0)
    _same(getattr(dev, name)(), getattr(cpu, name)())


def test_closeness_on_device():
    (a, da), (b, db) = _pair([1.0, np.nan, np.inf]), _pair([1.0 + 1e-9, np.nan, np.inf])
    _same(gg.isclose(da, db, equal_nan=True), gg.isclose(a, b, equal_nan=True))
    assert gg.allclose(da, db, equal_nan=True) is True
    assert gg.allclose(da, db) is False
    assert gg.equal(da, da * 1) is False  # NaN != NaN
    assert gg.equal(db[:1], db[:1]) is True


def test_where_on_device():
    cond = gg.tensor([True, False, True], device="cuda")
    out = gg.where(cond, 1.0, -1.0)
    assert out.device.type == "cuda"
    np.testing.assert_array_equal(out.cpu().numpy(), [1.0, -1.0, 1.0])
    x = gg.tensor([1.0, 2.0, 3.0], device="cuda")
    out = gg.where(np.array([True, False, False]), x, 0.0)  # a host mask is moved
    np.testing.assert_array_equal(out.cpu().numpy(), [1.0, 0.0, 0.0])
    with pytest.raises(RuntimeError, match="where: .*cpu.*cuda|where: .*cuda.*cpu"):
        gg.where(gg.tensor([True, False, True]), x, 0.0)


@pytest.mark.parametrize("call", [
    lambda a, b: gg.add(a, b), lambda a, b: a * b, lambda a, b: gg.maximum(b, a),
    lambda a, b: gg.hypot(a, b), lambda a, b: a.add_(b), lambda a, b: gg.isclose(a, b),
    lambda a, b: gg.equal(a, b), lambda a, b: gg.lt(b, a),
])
def test_mixing_devices_raises_naming_both(call):
    a = gg.tensor([1.0, 2.0])
    b = gg.tensor([3.0, 4.0], device="cuda")
    with pytest.raises(RuntimeError, match=r"same device.*(cpu and cuda:0|cuda:0 and cpu)"):
        call(a, b)


@pytest.mark.parametrize("make", [
    lambda t, **kw: t.new_zeros(2, 3, **kw), lambda t, **kw: t.new_ones((2, 3), **kw),
    lambda t, **kw: t.new_empty(2, 3, **kw), lambda t, **kw: t.new_full((2, 3), 7.0, **kw),
    lambda t, **kw: t.new_tensor([[1, 2, 3], [4, 5, 6]], **kw),
    lambda t, **kw: t.new_tensor(gg.ones(2, 3), **kw),
    lambda t, **kw: t.new_tensor(gg.ones(2, 3, device="cuda"), **kw),
])
def test_new_tensors_follow_the_tensor_or_device(make):
    on_device = gg.ones(1, dtype=gg.float64, device="cuda")
    made = make(on_device)
    assert made.device == gg.device("cuda:0") and isinstance(made._data, StrictArray)
    assert made.dtype == gg.float64 and made.shape == (2, 3)
    on_cpu = make(on_device, device="cpu", dtype=gg.int32)
    assert on_cpu.device == gg.device("cpu") and type(on_cpu._data) is np.ndarray
    assert on_cpu.dtype == gg.int32
    moved = make(gg.ones(1), device="cuda", requires_grad=True)
    assert moved.device.type == "cuda" and moved.requires_grad
    if make(gg.ones(1)).numpy().any():  # (not new_empty, new_zeros)
        np.testing.assert_array_equal(made.cpu().numpy(), make(gg.ones(1)).numpy())


def test_type_names_a_device_tensor_as_pytorch():
    assert gg.ones(2, device="cuda").type() == "torch.cuda.FloatTensor"
    assert gg.ones(2, dtype=gg.int64, device="cuda").type() == "torch.cuda.LongTensor"
    assert gg.ones(2).type() == "torch.FloatTensor"
