"""Reductions, scans, sorting, order statistics and counting on a device where the op
registry (tests/test_device_ops.py) does not reach: the ops without gradient (argmax,
argsort, unique, nonzero, searchsorted, bincount, histc, ...), the index outputs, long
scans (a device scans other than cumsum/cumprod in doubling steps), and mixing devices.
The device is the strict stand-in GPU (``graphgrad.testing.strict_arrays``), on which an
implicit host transfer raises, or a real one (``tests/device_under_test.py``).  Every
result must be on the device and equal the CPU's (floats within float64 rounding on a
GPU).
"""
from __future__ import annotations

import numpy as np
import pytest
from device_under_test import TOLERANCE, cuda_for_tests

import graphgrad as gg
from graphgrad.autograd.arrays import is_device_array


@pytest.fixture(autouse=True)
def cuda():
    with cuda_for_tests():
        yield


def _outputs(result) -> list:
    if isinstance(result, gg.Tensor):
        return [result]
    return [t for r in result for t in _outputs(r)]


def _same(call, *values, dtype=np.float64) -> None:
    """``call`` on the tensors of ``values`` on the device gives the CPU's results, on the
    device, with the same dtypes."""
    on_cpu = _outputs(call(*[gg.tensor(v, dtype=dtype) for v in values]))
    on_device = _outputs(call(*[gg.tensor(v, dtype=dtype, device="cuda") for v in values]))
    assert len(on_device) == len(on_cpu)
    for d, c in zip(on_device, on_cpu, strict=True):
        assert d.device.type == "cuda" and is_device_array(d._data)
        assert d.dtype == c.dtype and d.shape == c.shape
        _close(d.cpu().numpy(), c.numpy())


def _close(on_device: np.ndarray, on_cpu: np.ndarray) -> None:
    if on_cpu.dtype.kind == "f":
        np.testing.assert_allclose(on_device, on_cpu, **TOLERANCE)
    else:  # positions and counts: exactly
        np.testing.assert_array_equal(on_device, on_cpu)


NAN, INF = float("nan"), float("inf")
# ties, signed zeros, NaN and infinities along both dims
X = [[2.0, -1.0, 2.0, NAN, 0.0], [-0.0, 3.0, 3.0, -INF, 1.0], [2.0, -1.0, 2.0, NAN, 0.0]]
FINITE = [[2.0, -1.0, 2.0, 5.0, 0.0], [-0.0, 3.0, 3.0, -4.0, 1.0], [2.0, -1.0, 2.0, 5.0, 0.0]]


@pytest.mark.parametrize("call", [
    gg.argmax, gg.argmin, lambda x: gg.argmax(x, 1), lambda x: gg.argmin(x, 0, keepdim=True),
    lambda x: gg.argmax(x, keepdim=True), lambda x: gg.max(x, 1), lambda x: gg.min(x, 0, True),
    lambda x: gg.max(x[0, 0], 0), lambda x: gg.argmax(x[0, 0], 0), gg.amax, gg.amin,
    lambda x: gg.aminmax(x, dim=1), gg.argsort, lambda x: gg.argsort(x, 0, descending=True),
    lambda x: gg.sort(x, 1, descending=True), gg.msort, lambda x: gg.topk(x, 2, 1),
    lambda x: gg.topk(x, 3, 0, largest=False), lambda x: gg.topk(x[0, 0], 0),
    lambda x: gg.cummax(x, 1), lambda x: gg.cummin(x, 0), lambda x: gg.kthvalue(x, 2, 1),
    lambda x: gg.median(x, 1), gg.median, gg.nanmedian, lambda x: gg.nanmedian(x, 0),
    lambda x: gg.mode(x, 1), lambda x: gg.mode(x, 0, keepdim=True),
    lambda x: gg.logcumsumexp(x, 1), lambda x: gg.nansum(x, 1), lambda x: gg.nanmean(x, 0),
    lambda x: gg.nanquantile(x, 0.4, 1), lambda x: gg.quantile(x, 0.5),
])
def test_values_and_indices_on_device_match_cpu(call):
    _same(call, X)


@pytest.mark.parametrize("call", [
    lambda x: gg.quantile(x, gg.tensor([0.0, 0.25, 1.0], dtype=x.dtype, device=x.device), 1,
                          interpolation="nearest"),
    lambda x: gg.nanquantile(x, gg.tensor(0.5, dtype=x.dtype, device=x.device), 0,
                             interpolation="midpoint"),
    lambda x: gg.std(x, 1), lambda x: gg.var_mean(x, 0), lambda x: gg.std_mean(x),
    lambda x: gg.norm(x, 0, 1), lambda x: gg.norm(x, INF), lambda x: gg.norm(x, -INF, 0),
    lambda x: gg.norm(x, 3), gg.count_nonzero, lambda x: gg.count_nonzero(x, (0, 1)),
    lambda x: gg.count_nonzero(x[0, 0]), lambda x: gg.prod(x, 1), lambda x: gg.cumprod(x, 0),
])
def test_statistics_on_device_match_cpu(call):
    _same(call, FINITE)


def test_integer_and_bool_inputs_on_device():
    ints = [[3, 1, 3, 0], [2, 2, 0, 5]]
    for call in (gg.sum, gg.prod, lambda x: gg.cumsum(x, 1), lambda x: gg.cumprod(x, 0),
                 lambda x: gg.sort(x, 1), gg.argmax, gg.mean, lambda x: gg.cummax(x, 1),
                 lambda x: gg.mode(x, 1), lambda x: gg.median(x, 0), gg.count_nonzero):
        _same(call, ints, dtype=np.int64)
    _same(lambda x: gg.cumsum(x, 0), [True, False, True], dtype=bool)


@pytest.mark.parametrize("call", [
    gg.unique, lambda x: gg.unique(x, return_inverse=True, return_counts=True),
    lambda x: gg.unique(x, dim=0, return_inverse=True, return_counts=True),
    lambda x: gg.unique(x, dim=1, return_counts=True), gg.unique_consecutive,
    lambda x: gg.unique_consecutive(x, return_inverse=True, return_counts=True, dim=0),
    gg.nonzero, lambda x: gg.nonzero(x, as_tuple=True), gg.argwhere,
    lambda x: gg.nonzero(x[1, 0]), lambda x: gg.nonzero(x[0, 0], as_tuple=True),
])
def test_sets_and_positions_on_device_match_cpu(call):
    _same(call, X)  # NaNs are never equal: each is its own element


def test_bincount_and_histc_on_device_match_cpu():
    counts = [4, 0, 2, 2, 7]
    _same(gg.bincount, counts, dtype=np.int64)
    _same(lambda a: gg.bincount(a, minlength=10), counts, dtype=np.int64)
    _same(lambda a: gg.bincount(a[:0], minlength=3), counts, dtype=np.int64)
    for dtype in (np.float32, np.int32):
        _same(lambda a: gg.bincount(a, gg.tensor([0.5, 1, 2, 3, 4], dtype=dtype,
                                                 device=a.device)), counts, dtype=np.int64)
    _same(gg.histc, FINITE)
    _same(lambda x: gg.histc(x, bins=4, min=-1, max=3), FINITE, dtype=np.float32)
    _same(lambda x: gg.histc(x[:, :1], bins=3), [[2.0], [2.0]])  # one value: widened by 1


@pytest.mark.parametrize("call", [
    lambda s, v: gg.searchsorted(s, v), lambda s, v: gg.searchsorted(s, v, right=True),
    lambda s, v: gg.searchsorted(s, v, side="right", out_int32=True),
    lambda s, v: gg.searchsorted(s, 2.0), lambda s, v: gg.searchsorted(s, [[0.5], [9.0]]),
    lambda s, v: gg.searchsorted(s.flip(0), v, sorter=gg.argsort(s.flip(0))),
    lambda s, v: gg.searchsorted(gg.stack([s, s * 2]), gg.stack([v, v])),
    lambda s, v: gg.bucketize(v, s), lambda s, v: gg.bucketize(v, s, right=True),
])
def test_searchsorted_on_device_matches_cpu(call):
    _same(call, [-1.0, 0.0, 2.0, 2.0, 5.0], [-3.0, 0.0, 2.0, 4.5, 7.0])


def test_long_scans_take_the_doubling_steps_on_device():
    """Lines of 100 elements (7 doubling steps) with ties, NaN, -inf and large values:
    cummax/cummin exactly as the CPU's sequential scan, logcumsumexp within rounding."""
    rng = np.random.default_rng(0)
    x = rng.integers(-5, 5, (3, 100)).astype(np.float64)
    x[0, 17], x[1, 40], x[2, :30] = NAN, -INF, -INF
    for call in (lambda t: gg.cummax(t, 1), lambda t: gg.cummin(t, 1), gg.mode):
        _same(call, x)
    y = x * 300  # exp overflows, logaddexp does not
    on_cpu = gg.logcumsumexp(gg.tensor(y), 1).numpy()
    on_device = gg.logcumsumexp(gg.tensor(y, device="cuda"), 1)
    assert on_device.device.type == "cuda"
    np.testing.assert_allclose(on_device.cpu().numpy(), on_cpu, rtol=1e-14, atol=0)


def test_gradients_of_picked_values_reach_the_device_input():
    for call in (lambda t: gg.sort(t, 1).values, lambda t: gg.max(t, 0).values, gg.median,
                 lambda t: gg.quantile(t, 0.3, 1), lambda t: gg.std(t[2:], 1)):
        grads = []
        for device in ("cpu", "cuda"):
            x = gg.tensor(FINITE, dtype=np.float64, device=device, requires_grad=True)
            out = call(x)
            (g,) = gg.autograd.grad(out, x, gg.ones(out.shape, dtype=out.dtype, device=device))
            assert g.device.type == device
            grads.append(g.cpu().numpy())
        _close(*grads)


def test_mixing_devices_raises():
    x = gg.tensor(FINITE, device="cuda")
    with pytest.raises(RuntimeError, match="quantile: q must be on the input's device"):
        gg.quantile(x, gg.tensor([0.5], dtype=x.dtype))
    with pytest.raises(RuntimeError, match="searchsorted: expected all tensors to be on the "
                                           "same device"):
        gg.searchsorted(gg.tensor([1.0, 2.0]), gg.tensor([1.5], device="cuda"))
    with pytest.raises(RuntimeError, match="bincount: expected all tensors"):
        gg.bincount(gg.tensor([0, 1], device="cuda"), gg.tensor([1.0, 2.0]))
