"""Every op of the registry on a device: the strict stand-in GPU
(``graphgrad.testing.strict_arrays``) computes with NumPy but refuses implicit transfers
to the host, as CuPy does.  So each op's forward, first and second derivatives must run
there through the array module, and give the CPU's numbers (bit for bit here, the
stand-in being NumPy; within float tolerance on a real GPU).
"""
from __future__ import annotations

import numpy as np
import pytest
from device_under_test import TOLERANCE, cuda_for_tests
from hypothesis import given, settings
from hypothesis import strategies as st
from opinfo import GRAD, GRADGRAD, INTERNAL_DB, OP_DB

import graphgrad as gg

OPS = {info.name: info for info in (*OP_DB, *INTERNAL_DB)}
INTERNAL = frozenset(info.name for info in INTERNAL_DB)
_FEWER = settings(max_examples=max(5, settings().max_examples // 3))


@pytest.fixture(autouse=True)
def cuda():
    with cuda_for_tests():
        yield


def _as_list(out) -> list:
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _on(device, value, arrays: bool = False):
    """``value`` with every Tensor inside it (kwargs too) moved to ``device``; with
    ``arrays``, every NumPy array too (an internal Op's index arrays live where its data
    does: the public functions put them there)."""
    if isinstance(value, gg.Tensor):
        return value.to(device)
    if arrays and isinstance(value, np.ndarray):
        return gg.tensor(value, dtype=value.dtype, device=device)._data
    if isinstance(value, (tuple, list)):
        items = [_on(device, v, arrays) for v in value]
        return type(value)(*items) if hasattr(value, "_fields") else type(value)(items)
    if isinstance(value, dict):
        return {k: _on(device, v, arrays) for k, v in value.items()}
    return value


def _run(info, sample, device, order: int):
    """Outputs, first-order grads (and second-order ones when ``order`` is 2) of the op
    on ``device``, as host arrays, with fixed random upstream gradients."""
    xs = [gg.tensor(a, dtype=a.dtype, device=device, requires_grad=True) for a in sample.arrays]
    kwargs = _on(device, sample.kwargs, arrays=info.name in INTERNAL)
    outputs = [o for o in _as_list(info.op(*xs, **kwargs))]
    for k, out in enumerate(outputs):
        assert out.device.type == device, f"{info.name}: output {k} is on {out.device}"
    rng = np.random.default_rng(0)
    live = [o for o in outputs if o.requires_grad]
    upstream = [gg.tensor(rng.standard_normal(o.shape), dtype=o.dtype, device=device)
                for o in live]
    grads = gg.autograd.grad(live, xs, upstream, create_graph=order == 2, allow_unused=True)
    result = [o.cpu().numpy() for o in outputs] + [g.cpu().numpy() for g in grads if g is not None]
    if order == 2:
        pairs = [(g, gg.tensor(rng.standard_normal(g.shape), dtype=g.dtype, device=device))
                 for g in grads if g is not None and g.requires_grad]
        if pairs:
            second = gg.autograd.grad([g for g, _ in pairs], xs, [v for _, v in pairs],
                                      allow_unused=True)
            result += [g.cpu().numpy() for g in second if g is not None]
    return result


def _check(info, sample, order: int) -> None:
    on_cpu = _run(info, sample, "cpu", order)
    on_device = _run(info, sample, "cuda", order)
    assert len(on_device) == len(on_cpu), f"{info.name}: a gradient is missing on the device"
    for k, (d, c) in enumerate(zip(on_device, on_cpu, strict=True)):
        assert d.dtype == c.dtype and d.shape == c.shape, f"{info.name}: result {k}"
        np.testing.assert_allclose(d, c, **TOLERANCE, equal_nan=True,
                                   err_msg=f"{info.name}: result {k} differs on the device")


@pytest.mark.parametrize("name", list(OPS))
@given(data=st.data())
def test_op_on_device_matches_cpu(name: str, data):
    info = OPS[name]
    _check(info, data.draw(info.samples(np.float64, GRAD), label="sample"), order=1)


@pytest.mark.parametrize("name", [name for name, info in OPS.items() if info.gradgrad])
@_FEWER
@given(data=st.data())
def test_second_derivatives_on_device_match_cpu(name: str, data):
    info = OPS[name]
    _check(info, data.draw(info.samples(np.float64, GRADGRAD), label="sample"), order=2)

