"""Linear algebra, convolutions and recurrent layers on a device (issue 20).

The device under test (``device_under_test``: the strict stand-in GPU, which refuses
implicit transfers to the host as CuPy does, or a real GPU) runs the array code of
``ops/linalg.py``, ``blas.py``, ``decompositions.py``, ``conv.py``, ``recurrent.py``,
``graphgrad.linalg`` and ``autograd.functional`` through the array module; the results
must be the CPU's (bit for bit on the stand-in, within float64 rounding on a GPU).
test_device_ops.py runs the
registry's ops one by one; here are the layers built on them, the functions with
several outputs, and paths that the registry's draws do not reach (errors, NaN
inputs, tolerances, the scaling of matrix_exp).
"""
from __future__ import annotations

import copy

import numpy as np
import pytest
from device_under_test import TOLERANCE, cuda_for_tests

import graphgrad as gg
import graphgrad.nn.functional as F
from graphgrad.autograd.arrays import is_device_array
from graphgrad.autograd.functional import hessian, jacobian


@pytest.fixture(autouse=True)
def cuda():
    with cuda_for_tests():
        yield


def _host(t) -> np.ndarray:
    return t.detach().cpu().numpy()


def _on_device(t) -> bool:
    return t.device.type == "cuda" and is_device_array(t._data)


def _assert_same(on_cpu: list, on_device: list) -> None:
    assert len(on_cpu) == len(on_device)
    for k, (c, d) in enumerate(zip(on_cpu, on_device, strict=True)):
        assert c.dtype == d.dtype and c.shape == d.shape, f"result {k}"
        np.testing.assert_allclose(d, c, **TOLERANCE, equal_nan=True,
                                   err_msg=f"result {k} differs on the device")


def _run(fn, arrays: list, device: str) -> list:
    """fn's outputs and the gradients of a random weighting of them with respect to
    ``arrays`` (made Tensors on ``device``), as host arrays."""
    xs = [gg.tensor(a, dtype=a.dtype, device=device, requires_grad=True) for a in arrays]
    outs = fn(*xs)
    outs = list(outs) if isinstance(outs, (tuple, list)) else [outs]
    for out in outs:
        assert out.device.type == device
    rng = np.random.default_rng(1)
    live = [o for o in outs if o.requires_grad]
    loss = sum((o * gg.tensor(rng.standard_normal(o.shape), dtype=o.dtype, device=device)).sum()
               for o in live)
    loss.backward()
    return [_host(o) for o in outs] + [_host(x.grad) for x in xs]


def _check(fn, *arrays) -> None:
    _assert_same(_run(fn, list(arrays), "cpu"), _run(fn, list(arrays), "cuda"))


def _moved(module):
    """A copy of ``module`` with its parameters on the device (set through ``.data``, so
    that these tests need nothing of Module.to)."""
    module = copy.deepcopy(module)
    for p in module.parameters():
        p.data = p.detach().to("cuda")
    return module


def _randn(*shape, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed + len(shape)).standard_normal(shape)


# ------------------------------------------------------------------ convolutions
@pytest.mark.parametrize("kwargs", [
    {"stride": 1, "padding": 0},
    {"stride": (2, 1), "padding": 1, "dilation": (1, 2)},
    {"stride": 1, "padding": "same", "groups": 2},
])
def test_conv2d_forward_and_backward_match_cpu(kwargs):
    groups = kwargs.get("groups", 1)
    x, w, b = _randn(2, 4, 7, 6), _randn(6, 4 // groups, 3, 2, seed=1), _randn(6, seed=2)
    _check(lambda x, w, b: F.conv2d(x, w, b, **kwargs), x, w, b)


def test_conv_transpose2d_and_conv1d_match_cpu():
    _check(lambda x, w: F.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1),
           _randn(2, 3, 4, 5), _randn(3, 2, 3, 3, seed=1))
    _check(lambda x, w: F.conv1d(x, w, padding=2), _randn(3, 2, 9), _randn(4, 2, 5, seed=1))


def test_conv2d_module_trains_on_the_device():
    """A Conv2d moved to the device: its output and its parameters' gradients are on the
    device and equal the CPU's."""
    gg.manual_seed(0)
    conv = gg.nn.Conv2d(3, 4, 3, padding=1)
    on_device = _moved(conv)
    x = _randn(2, 3, 5, 5)
    results = []
    for module, device in ((conv, "cpu"), (on_device, "cuda")):
        out = module(gg.tensor(x, dtype=np.float32, device=device))
        out.square().sum().backward()
        assert all(p.grad.device.type == device for p in module.parameters())
        results.append([_host(out)] + [_host(p.grad) for p in module.parameters()])
    np.testing.assert_allclose(results[1][0], results[0][0], rtol=1e-6)
    for c, d in zip(results[0][1:], results[1][1:], strict=True):
        np.testing.assert_allclose(d, c, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------ recurrent layers
@pytest.mark.parametrize("kind, kwargs", [
    ("LSTM", {"num_layers": 2, "bidirectional": True}),
    ("LSTM", {"proj_size": 2}),
    ("GRU", {"bidirectional": True}),
    ("RNN", {"nonlinearity": "relu"}),
])
def test_recurrent_layer_forward_and_backward_match_cpu(kind, kwargs):
    gg.manual_seed(0)
    layer = getattr(gg.nn, kind)(5, 4, dtype=gg.float64, **kwargs)
    on_device = _moved(layer)
    x = _randn(6, 3, 5)
    results = []
    for module, device in ((layer, "cpu"), (on_device, "cuda")):
        xs = gg.tensor(x, device=device, requires_grad=True)
        out, state = module(xs)
        state = state if isinstance(state, tuple) else (state,)
        assert all(_on_device(t) for t in (out, *state)) == (device == "cuda")
        (out.sum() + sum(s.square().sum() for s in state)).backward()
        results.append([_host(out), *map(_host, state), _host(xs.grad)]
                       + [_host(p.grad) for p in module.parameters()])
    _assert_same(*results)


def test_lstm_layer_gradient_of_a_gradient_on_the_device():
    """create_graph through the LSTM's rule (it recomputes the gates with Tensor ops)."""

    def second(device):
        xs = [gg.tensor(a, device=device, requires_grad=True)
              for a in (_randn(4, 2, 12), _randn(2, 3), _randn(2, 3, seed=1), _randn(12, 3))]
        out = gg.autograd.ops.recurrent.lstm_layer(*xs)
        grads = gg.autograd.grad(out.tanh().sum(), xs, create_graph=True)
        sum(g.square().sum() for g in grads).backward()
        return [_host(x.grad) for x in xs]

    _assert_same(second("cpu"), second("cuda"))


# ------------------------------------------------------------------ linear algebra
def _matrices(*shape, seed: int = 0) -> np.ndarray:
    """Well-conditioned matrices: random plus n times the identity."""
    n = shape[-1]
    return _randn(*shape, seed=seed) + n * np.eye(n)


def test_linalg_outputs_are_device_tensors():
    """Every output of the functions with several (named tuples, empty fields, integer
    ranks) is on the device and equals the CPU's."""
    calls = {
        "eigh": lambda A: gg.linalg.eigh(A + A.mT),
        "svd": lambda A: gg.linalg.svd(A, full_matrices=True),
        "svd_reduced": lambda A: gg.linalg.svd(A[..., :2], full_matrices=False),
        "qr": lambda A: gg.linalg.qr(A[..., :2], mode="complete"),
        "qr_r": lambda A: gg.linalg.qr(A, mode="r"),
        "slogdet": gg.linalg.slogdet,
        "lstsq_gelsd": lambda A: gg.linalg.lstsq(A, A[..., :2], driver="gelsd"),
        "lstsq_gels": lambda A: gg.linalg.lstsq(A, A[..., 0], driver="gels"),
        "lstsq_tall": lambda A: gg.linalg.lstsq(A[..., :2], A, driver="gelss"),
        "matrix_rank": lambda A: (gg.linalg.matrix_rank(A),
                                  gg.linalg.matrix_rank(A + A.mT, hermitian=True)),
        "torch_svd": lambda A: gg.svd(A, compute_uv=False),
        "torch_qr": lambda A: gg.qr(A, some=False),
        "pinv": lambda A: (gg.linalg.pinv(A, atol=gg.tensor(0.5, dtype=A.dtype,
                                                             device=A.device)),
                           gg.linalg.pinv(A + A.mT, rtol=0.1, hermitian=True)),
    }
    a = _matrices(2, 3, 3)
    for name, call in calls.items():
        on_cpu = call(gg.tensor(a))
        on_device = call(gg.tensor(a, device="cuda"))
        on_cpu = list(on_cpu) if isinstance(on_cpu, tuple) else [on_cpu]
        on_device = list(on_device) if isinstance(on_device, tuple) else [on_device]
        assert all(_on_device(t) for t in on_device), name
        assert type(on_device) is type(on_cpu), name
        _assert_same([_host(t) for t in on_cpu], [_host(t) for t in on_device])


def test_decompositions_backward_match_cpu():
    a = _matrices(2, 4, 4)
    _check(lambda A: gg.linalg.eigh(A + A.mT), a)
    _check(lambda A: gg.linalg.svd(A[..., :3], full_matrices=False), a)
    _check(lambda A: gg.linalg.qr(A[..., :3, :]), a)
    _check(lambda A: (gg.linalg.det(A), gg.logdet(A), gg.linalg.slogdet(A).logabsdet), a)
    _check(lambda A: gg.cholesky_inverse(gg.linalg.cholesky(A @ A.mT)), a)
    _check(lambda A: gg.linalg.solve_triangular(A, A[..., :2], upper=True, unitriangular=True),
           a)


def test_matrix_functions_match_cpu():
    """matrix_exp with a large norm (scaled and squared), matrix_power 0 (the identity)
    and negative, einsum with a repeated label (its gradient an einsum with the identity)."""
    a = _randn(2, 3, 3)
    _check(lambda A: gg.linalg.matrix_exp(4 * A), a)
    _check(lambda A: (gg.linalg.matrix_power(A, 0), gg.linalg.matrix_power(A + 3, -2)), a)
    _check(lambda A: (gg.einsum("bii->bi", A), gg.einsum("bij,bjj->b", A, A)), a)
    _check(lambda A, B: (gg.linalg.multi_dot([A[0], B, A[1]]), gg.kron(A[0], B),
                         gg.addmm(B, A[0], A[1], beta=0)), a, _randn(3, 3, seed=3))


def test_a_singular_matrix_raises_on_the_device():
    a = _matrices(3, 2, 2)
    a[1] = [[1.0, 2.0], [2.0, 4.0]]
    with pytest.raises(gg.linalg.LinAlgError, match=r"linalg\.inv \(batch element 1\)"):
        gg.linalg.inv(gg.tensor(a, device="cuda"))


def test_determinants_of_a_singular_matrix_on_the_device():
    """det's gradient is 0 and slogdet's NaN at an exactly singular matrix (the rules
    replace it by the identity to invert the others)."""
    a = _matrices(2, 3, 3)
    a[0] = [[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]]
    _check(lambda A: (gg.linalg.det(A), gg.linalg.slogdet(A).logabsdet), a)


def test_a_non_finite_matrix_gives_nan_on_the_device():
    a = _matrices(3, 2, 2)
    a[1, 0, 0] = np.nan
    a[2, 1, 0] = np.inf
    for fn in (gg.linalg.inv, gg.linalg.det, lambda A: gg.linalg.svd(A).S):
        expected = _host(fn(gg.tensor(a)))
        assert np.isnan(expected[1:]).all() and np.isfinite(expected[0]).all()
        out = fn(gg.tensor(a, device="cuda"))
        assert _on_device(out)
        _assert_same([expected], [_host(out)])


# ------------------------------------------------------------------ functional
def test_jacobian_and_hessian_on_the_device():
    def f(x):
        return (x @ x.mT).tanh()

    x = _randn(2, 3)
    for create in (False, True):
        on_cpu = jacobian(f, gg.tensor(x), create_graph=create)
        on_device = jacobian(f, gg.tensor(x, device="cuda"), create_graph=create)
        assert _on_device(on_device)
        _assert_same([_host(on_cpu)], [_host(on_device)])
    h = hessian(lambda x: f(x).sum(), gg.tensor(x, device="cuda"))
    assert _on_device(h)
    _assert_same([_host(hessian(lambda x: f(x).sum(), gg.tensor(x)))], [_host(h)])
    empty = jacobian(lambda x: x[:0] * 2, gg.tensor(x, device="cuda"))
    assert _on_device(empty) and empty.shape == (0, 3, 2, 3)

