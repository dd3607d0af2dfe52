"""The strict stand-in GPU behaves as CuPy does where it matters to graphgrad: device
arrays compute through their module and operators, and every implicit way to the host
(or to a NumPy function CuPy lacks) raises."""
from __future__ import annotations

import numpy as np
import pytest

import graphgrad as gg
from graphgrad.testing.strict_arrays import StrictArray, StrictBackend, strict_cuda
from graphgrad.testing.strict_arrays import strict_numpy as xp


def test_arrays_refuse_implicit_host_transfers():
    a = xp.ones(3)
    assert isinstance(a, StrictArray)
    with pytest.raises(TypeError, match="implicit conversion"):
        np.asarray(a)
    with pytest.raises(TypeError):
        np.exp(a)
    with pytest.raises(TypeError, match="NumPy array was mixed"):
        a + np.ones(3)
    with pytest.raises(TypeError):
        np.ones(3) + a
    with pytest.raises(TypeError, match="NumPy array was mixed"):
        xp.concatenate([a, np.ones(2)])
    with pytest.raises(TypeError, match="NumPy array was mixed"):
        a[np.array([0, 1])]


def test_module_computes_numpys_numbers_on_device_arrays():
    a = xp.asarray(np.arange(6.0).reshape(2, 3))  # host data to the device: explicit, allowed
    b = xp.exp(a) @ a.T + 1.0
    np.testing.assert_array_equal(b.get(), np.exp(np.arange(6.0).reshape(2, 3))
                                  @ np.arange(6.0).reshape(2, 3).T + 1.0)
    total = xp.zeros(3)
    xp.add.at(total, xp.asarray([0, 0, 2]), 1.0)  # ufunc methods, in place
    assert total.tolist() == [2.0, 0.0, 1.0]
    assert xp.add.reduce(a, axis=1).tolist() == [3.0, 12.0]
    w, v = xp.linalg.eigh(a @ a.T)
    assert isinstance(w, StrictArray) and isinstance(v, StrictArray)


def test_results_are_arrays_as_cupys():
    s = xp.sum(xp.ones(3))
    assert isinstance(s, StrictArray) and s.shape == () and float(s) == 3.0
    assert isinstance(xp.ones(3)[0], StrictArray)
    assert xp.ones(3).sum().item() == 3.0


def test_operators_give_way_to_a_tensor_as_cupys():
    """CuPy's operators return NotImplemented for an operand whose ``__array_ufunc__`` is
    None, as a Tensor's: ``device_array @ tensor`` is the Tensor's reflected op."""
    with strict_cuda():
        a = gg.ones((2, 3), device="cuda")._data
        out = a @ gg.full((3,), 2.0, device="cuda")
        assert isinstance(out, gg.Tensor) and isinstance(out._data, StrictArray)
        assert out.tolist() == [6.0, 6.0]


def test_functions_cupy_lacks_are_refused():
    for name in ("nanquantile", "insert", "spacing"):
        with pytest.raises(AttributeError, match="CuPy has no such function"):
            getattr(xp, name)
    with pytest.raises(AttributeError, match="CuPy has no such function"):
        xp.linalg.multi_dot  # noqa: B018
    rng = StrictBackend().generator(0, 0)
    assert rng.standard_normal((2,), dtype=np.float32).dtype == np.float32
    with pytest.raises(AttributeError, match="no such draw"):
        rng.permutation(3)


def test_ufunc_methods_cupy_lacks_are_refused():
    a = xp.asarray([[1.0, 3.0], [2.0, 0.5]])
    assert xp.multiply.accumulate(a, axis=1).tolist() == [[1.0, 3.0], [2.0, 1.0]]
    assert xp.add.reduceat(a, xp.asarray([0, 1]), axis=1).tolist() == [[1.0, 3.0], [2.0, 0.5]]
    for method in (xp.maximum.reduce, xp.logaddexp.accumulate, xp.multiply.reduceat):
        with pytest.raises(NotImplementedError, match="CuPy's ufuncs"):
            method(a, axis=1)


def test_strict_cuda_serves_cuda_only_inside_its_block():
    with strict_cuda():
        assert gg.ones(2, device="cuda").device == gg.device("cuda:0")
    with pytest.raises(RuntimeError, match="device 'cuda' is not available"):
        gg.ones(2, device="cuda")
