"""graphgrad.linalg and the top-level matrix functions: comparisons with torch.linalg in
float64 on hypothesis shapes with batches (values, first and second derivatives),
known values from the maths, degenerate cases (singular matrices, repeated eigenvalues)
as PyTorch, and errors.  The registry (tests/opinfo.py) runs the generic forward,
gradcheck and gradgradcheck tests on every function.

Eigenvectors, singular vectors and QR factors are unique up to signs (LAPACK's choice),
so they are compared through functions that do not depend on the signs: V * V,
U diag(w) Vh, Q and R with R's diagonal made positive.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from against_torch import against_torch
from hypothesis import given, settings
from hypothesis import strategies as st

import graphgrad as gg
from graphgrad.testing import gradgradcheck

LA = gg.linalg


def _torch():
    return pytest.importorskip("torch")


def _compare(ours, theirs, arrays, rtol=1e-7, atol=1e-9, second=False):
    """``against_torch`` with this file's tolerances, second order only where asked."""
    against_torch(ours, theirs, arrays, second_order=second, rtol=rtol, atol=atol)


@st.composite
def _batch(draw, max_dims=2):
    return tuple(draw(st.lists(st.integers(1, 3), max_size=max_dims)))


def _random(draw, shape, seed_label="seed"):
    seed = draw(st.integers(0, 2 ** 32 - 1), label=seed_label)
    return np.random.default_rng(seed).standard_normal(shape)


def _shifted(a):
    """A well-conditioned square matrix: a / n + 2 I (singular values within [1, 3])."""
    n = a.shape[-1]
    return a / max(n, 1) / 2 + 2 * np.eye(n)


# ------------------------------------------------------------ against PyTorch
@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_inverse_solve_det_match_torch_with_second_derivatives(data):
    torch = _torch()
    batch, n, k = data.draw(_batch()), data.draw(st.integers(1, 4)), data.draw(st.integers(1, 3))
    A = _shifted(_random(data.draw, batch + (n, n)))
    B = _random(data.draw, batch + (n, k), "rhs")
    _compare(LA.inv, torch.linalg.inv, [A], second=True)
    _compare(LA.det, torch.linalg.det, [A], second=True)
    _compare(LA.slogdet, torch.linalg.slogdet, [A], second=True)
    _compare(gg.logdet, torch.logdet, [A])
    _compare(LA.solve, torch.linalg.solve, [A, B], second=True)
    _compare(LA.solve, torch.linalg.solve, [A, B[..., 0]])  # a batch of vectors
    _compare(LA.solve, torch.linalg.solve, [A[(0,) * len(batch)], B])  # A broadcast
    _compare(lambda a, b: LA.solve(a, b, left=False),
             lambda a, b: torch.linalg.solve(a, b, left=False), [A, B.swapaxes(-1, -2)])
    _compare(lambda a: LA.matrix_power(a, -3), lambda a: torch.linalg.matrix_power(a, -3), [A])
    _compare(lambda a: LA.matrix_power(a, 5), lambda a: torch.linalg.matrix_power(a, 5), [A])
    _compare(LA.matrix_exp, torch.linalg.matrix_exp, [A], second=True)
    for upper in (False, True):
        for left in (True, False):
            b = B if left else B.swapaxes(-1, -2)
            _compare(lambda a, b: LA.solve_triangular(a, b, upper=upper, left=left),
                     lambda a, b: torch.linalg.solve_triangular(a, b, upper=upper, left=left),
                     [A, b], second=True)


@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_cholesky_and_eigh_match_torch(data):
    torch = _torch()
    batch, n = data.draw(_batch()), data.draw(st.integers(1, 4))
    X = _random(data.draw, batch + (n, n))
    eye = np.eye(n)

    def spd(lib):
        return lambda x: x @ x.swapaxes(-1, -2) + (gg.tensor(eye) if lib is gg else
                                                      torch.tensor(eye))

    for upper in (False, True):
        _compare(lambda x: LA.cholesky(spd(gg)(x), upper=upper),
                 lambda x: torch.linalg.cholesky(spd(torch)(x), upper=upper), [X], second=True)
    L = np.linalg.cholesky(X @ X.swapaxes(-1, -2) + eye)
    B = _random(data.draw, batch + (n, 2), "rhs")
    _compare(gg.cholesky_solve, torch.cholesky_solve, [B, L])
    _compare(gg.cholesky_inverse, torch.cholesky_inverse, [L[(0,) * len(batch)]])
    _compare(lambda x: gg.cholesky(spd(gg)(x), True),
             lambda x: torch.linalg.cholesky(spd(torch)(x), upper=True), [X])

    def symmetric(lib):
        return lambda x: x + x.swapaxes(-1, -2)

    invariant = (lambda r: (r[0], r[1] * r[1]))
    for uplo in ("L", "U"):
        _compare(lambda x: invariant(LA.eigh(symmetric(gg)(x), UPLO=uplo)),
                 lambda x: invariant(torch.linalg.eigh(symmetric(torch)(x), UPLO=uplo)), [X],
                 rtol=1e-6, atol=1e-8, second=True)
    _compare(lambda x: LA.eigvalsh(symmetric(gg)(x)),
             lambda x: torch.linalg.eigvalsh(symmetric(torch)(x)), [X], second=True)
    _compare(lambda x: LA.pinv(symmetric(gg)(x) + gg.tensor(3 * eye), hermitian=True),
             lambda x: torch.linalg.pinv(symmetric(torch)(x) + torch.tensor(3 * eye),
                                         hermitian=True), [X], rtol=1e-6, atol=1e-8)


def _sign_free_svd(r):
    u, s, vh = r
    k = s.shape[-1]
    u, vh = u[..., :k], vh[..., :k, :]
    return s, u * u, vh * vh, (u * (s + 1)[..., None, :]) @ vh


def _positive_qr(r):
    q, r = r
    k = min(r.shape[-2:])
    diagonal = r[..., range(k), range(k)]
    sign = diagonal.sign() if hasattr(diagonal, "sign") else np.sign(diagonal)
    return q[..., :k] * sign[..., None, :], r * sign[..., :, None]


@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_svd_qr_and_what_is_built_on_them_match_torch(data):
    torch = _torch()
    batch, m, n = data.draw(_batch()), data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4))
    X = _random(data.draw, batch + (m, n))
    for full in (False, True):
        _compare(lambda x: _sign_free_svd(LA.svd(x, full_matrices=full)),
                 lambda x: _sign_free_svd(torch.linalg.svd(x, full_matrices=full)), [X],
                 rtol=1e-6, atol=1e-8, second=not full)
    _compare(LA.svdvals, torch.linalg.svdvals, [X], second=True)
    _compare(lambda x: _sign_free_svd(tuple(gg.svd(x))[:2] + (gg.svd(x).V.mT,)),
             lambda x: _sign_free_svd(tuple(torch.svd(x))[:2] + (torch.svd(x).V.mT,)), [X],
             rtol=1e-6, atol=1e-8)
    modes = ["reduced"] + (["complete"] if m <= n else [])
    for mode in modes:
        _compare(lambda x: _positive_qr(LA.qr(x, mode=mode)),
                 lambda x: _positive_qr(torch.linalg.qr(x, mode=mode)), [X], second=True)
    _compare(lambda x: _positive_qr(gg.qr(x)), lambda x: _positive_qr(torch.linalg.qr(x)), [X])
    _compare(LA.pinv, torch.linalg.pinv, [X], rtol=1e-6, atol=1e-8)
    _compare(gg.pinverse, torch.pinverse, [X], rtol=1e-6, atol=1e-8)
    for ord in ("fro", "nuc", 2, -2, 1, -1, math.inf, -math.inf):
        _compare(lambda x: LA.matrix_norm(x, ord), lambda x: torch.linalg.matrix_norm(x, ord),
                 [X], rtol=1e-6, atol=1e-8)
        if len(batch):
            _compare(lambda x: LA.matrix_norm(x, ord, dim=(-1, 0), keepdim=True),
                     lambda x: torch.linalg.matrix_norm(x, ord, dim=(-1, 0), keepdim=True), [X],
                     rtol=1e-6, atol=1e-8)
    if m >= n:
        B = _random(data.draw, batch + (m, 2), "rhs")
        _compare(lambda a, b: LA.lstsq(a, b).solution,
                 lambda a, b: torch.linalg.lstsq(a, b).solution, [X, B], rtol=1e-6, atol=1e-8)


@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_norms_and_products_match_torch(data):
    torch = _torch()
    shape = data.draw(st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple))
    x = _random(data.draw, shape)
    np.testing.assert_array_equal(LA.vector_norm(gg.tensor(x), 0, dim=0).numpy(),
                                  torch.linalg.vector_norm(torch.tensor(x), 0, dim=0).numpy())
    for ord in (2, 1, 3, 0.5, -1, math.inf, -math.inf):
        _compare(lambda t: LA.vector_norm(t, ord), lambda t: torch.linalg.vector_norm(t, ord), [x])
        _compare(lambda t: LA.vector_norm(t, ord, dim=-1, keepdim=True),
                 lambda t: torch.linalg.vector_norm(t, ord, dim=-1, keepdim=True), [x])
    _compare(LA.norm, torch.linalg.norm, [x])
    _compare(lambda t: LA.norm(t, 3, dim=0), lambda t: torch.linalg.norm(t, 3, dim=0), [x])
    if len(shape) == 2:
        for ord in ("fro", "nuc", 2, 1, -math.inf):
            _compare(lambda t: LA.norm(t, ord), lambda t: torch.linalg.norm(t, ord), [x],
                     rtol=1e-6, atol=1e-8)
    y = _random(data.draw, shape[:-1] + (3,), "y")
    z = _random(data.draw, (1,) * (len(shape) - 1) + (3,), "z")
    _compare(LA.cross, torch.linalg.cross, [y, z], second=True)
    _compare(LA.vecdot, torch.linalg.vecdot, [x, x[..., ::-1].copy()])
    sizes = data.draw(st.lists(st.integers(1, 4), min_size=4, max_size=6))
    mats = [_random(data.draw, (sizes[i], sizes[i + 1]), f"m{i}") for i in range(len(sizes) - 1)]
    mats[0] = mats[0][0]
    _compare(lambda *ms: LA.multi_dot(ms), lambda *ms: torch.linalg.multi_dot(ms), mats)
    A = _shifted(_random(data.draw, (3, 3), "A"))
    for p in (None, 2, -2, "fro", "nuc", 1, -1, math.inf, -math.inf):
        # PyTorch's cond(A, p) backward for p not None/2/-2 fails (it changes inv's output
        # in place), so those values are compared without gradients
        np.testing.assert_allclose(LA.cond(gg.tensor(A), p).numpy(),
                                   torch.linalg.cond(torch.tensor(A), p).numpy(), rtol=1e-10)
    _compare(LA.cond, torch.linalg.cond, [A])


def test_lstsq_fields_and_rank_as_torch_for_each_driver():
    torch = _torch()
    rng = np.random.default_rng(3)
    A, B = rng.standard_normal((2, 5, 3)), rng.standard_normal((2, 5, 2))
    for driver in (None, "gelsy", "gelsd", "gelss", "gels"):
        ours = LA.lstsq(gg.tensor(A), gg.tensor(B), driver=driver)
        theirs = torch.linalg.lstsq(torch.tensor(A), torch.tensor(B), driver=driver)
        assert ours._fields == ("solution", "residuals", "rank", "singular_values")
        for a, b in zip(ours, theirs, strict=True):
            assert a.shape == tuple(b.shape) and a.dtype == b.numpy().dtype
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-8, atol=1e-10)
    low_rank = rng.standard_normal((4, 2)) @ rng.standard_normal((2, 3))
    assert LA.matrix_rank(gg.tensor(low_rank)).item() == 2
    assert LA.matrix_rank(gg.tensor(low_rank), hermitian=False).dtype == np.int64
    assert LA.matrix_rank(gg.tensor(low_rank @ low_rank.T), hermitian=True).item() == 2
    assert LA.matrix_rank(gg.tensor(low_rank), atol=1e9).item() == 0


# ------------------------------------------------------------------ known values
def test_known_values():
    angle = 0.7
    rotation = gg.tensor([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    assert LA.det(rotation).item() == pytest.approx(1.0, abs=1e-15)
    np.testing.assert_allclose(LA.inv(rotation).numpy(), rotation.numpy().T, atol=1e-15)
    np.testing.assert_allclose(LA.inv(gg.tensor(np.diag([2.0, 4.0, -8.0]))).numpy(),
                               np.diag([0.5, 0.25, -0.125]))
    sign, logabsdet = LA.slogdet(gg.tensor(np.diag([-2.0, 3.0])))
    assert sign.item() == -1.0 and logabsdet.item() == pytest.approx(math.log(6.0))
    assert math.isnan(gg.logdet(gg.tensor(np.diag([-2.0, 3.0]))).item())
    generator = gg.tensor([[0.0, -angle], [angle, 0.0]])  # exp of a skew matrix: a rotation
    np.testing.assert_allclose(LA.matrix_exp(generator).numpy(), rotation.numpy(), atol=1e-15)
    np.testing.assert_allclose(LA.matrix_exp(gg.tensor(np.diag([1.0, -2.0]))).numpy(),
                               np.diag(np.exp([1.0, -2.0])), rtol=1e-14)
    nilpotent = gg.tensor([[0.0, 3.0], [0.0, 0.0]])
    np.testing.assert_allclose(LA.matrix_exp(nilpotent).numpy(), [[1.0, 3.0], [0.0, 1.0]])
    values, vectors = LA.eigh(gg.tensor([[2.0, 1.0], [1.0, 2.0]]))
    np.testing.assert_allclose(values.numpy(), [1.0, 3.0])
    np.testing.assert_allclose(np.abs(vectors.numpy()), np.full((2, 2), math.sqrt(0.5)))
    np.testing.assert_allclose(LA.svdvals(gg.tensor([[3.0, 0.0], [0.0, -4.0]])).numpy(),
                               [4.0, 3.0])
    np.testing.assert_allclose(LA.cholesky(gg.tensor([[4.0, 2.0], [2.0, 5.0]])).numpy(),
                               [[2.0, 0.0], [1.0, 2.0]])
    assert LA.cross(gg.tensor([1.0, 0.0, 0.0]), gg.tensor([0.0, 1.0, 0.0])).tolist() == [0, 0, 1]
    assert LA.diagonal(gg.tensor(np.arange(8.0).reshape(2, 2, 2))).tolist() == [[0, 3], [4, 7]]
    assert LA.vector_norm(gg.tensor([3.0, -4.0])).item() == 5.0
    assert LA.vector_norm(gg.tensor([3.0, -4.0]), 0).item() == 2.0
    assert LA.matrix_norm(gg.tensor(np.diag([3.0, -4.0])), "nuc").item() == pytest.approx(7.0)
    assert LA.matrix_power(gg.tensor([[1.0, 1.0], [0.0, 1.0]]), 5).tolist() == [[1, 5], [0, 1]]
    assert LA.matrix_power(gg.tensor([[2.0, 0.0], [0.0, 4.0]]), -1).tolist() == [[0.5, 0],
                                                                                 [0, 0.25]]
    # d det / dA = det(A) A^{-T}; for the rotation, A^{-T} = A
    r = rotation.detach().requires_grad_()
    LA.det(r).backward()
    np.testing.assert_allclose(r.grad.numpy(), rotation.numpy(), atol=1e-15)


def test_result_types_dtypes_and_methods():
    x = gg.tensor(np.eye(3, dtype=np.float32) * 2)
    assert type(LA.slogdet(x)).__name__ == "slogdet" and LA.slogdet(x)._fields == (
        "sign", "logabsdet")
    assert LA.eigh(x)._fields == ("eigenvalues", "eigenvectors")
    assert LA.svd(x)._fields == ("U", "S", "Vh") and gg.svd(x)._fields == ("U", "S", "V")
    assert LA.qr(x)._fields == ("Q", "R")
    for out in (LA.inv(x), LA.det(x), LA.solve(x, x), LA.eigh(x)[1], LA.svd(x)[0], LA.qr(x)[0],
                LA.matrix_exp(x), LA.cholesky(x), LA.vector_norm(x), LA.matrix_norm(x, 2)):
        assert out.dtype == np.float32
    q, r = LA.qr(gg.ones(3, 2), mode="r")
    assert q.shape == (0,) and r.shape == (2, 2)
    u, s, v = gg.svd(gg.ones(4, 3), compute_uv=False)
    assert u.shape == (4, 4) and v.shape == (3, 3) and not u.numpy().any()
    for name in ("inverse", "det", "slogdet", "logdet", "cholesky", "cholesky_solve",
                 "cholesky_inverse", "pinverse", "matrix_power", "matrix_exp", "svd", "qr"):
        assert getattr(gg.Tensor, name) is getattr(gg, name)
    assert gg.inverse is LA.inv and gg.det is LA.det and gg.matrix_exp is LA.matrix_exp
    assert LA.matmul is gg.matmul
    import graphgrad.linalg as imported
    assert imported.solve is LA.solve


# ----------------------------------------------------------- degenerate cases
def test_singular_matrices_as_torch():
    torch = _torch()
    singular = np.array([[1.0, 2.0], [2.0, 4.0]])
    a = gg.tensor(singular, requires_grad=True)
    d = LA.det(a)
    assert d.item() == 0.0
    d.backward()
    assert not a.grad.numpy().any()  # PyTorch's gradient of det at a singular matrix: 0
    t = torch.tensor(singular, requires_grad=True)
    torch.linalg.det(t).backward()
    np.testing.assert_array_equal(a.grad.numpy(), t.grad.numpy())
    batch = gg.tensor(np.stack([np.eye(2), singular, np.eye(2)]), requires_grad=True)
    LA.det(batch).sum().backward()  # the others keep their gradient
    np.testing.assert_array_equal(batch.grad.numpy()[[0, 2]], np.stack([np.eye(2)] * 2))
    assert gradgradcheck(LA.det, [gg.tensor(np.eye(2) * 3, requires_grad=True)])
    sign, logabsdet = LA.slogdet(gg.tensor(singular))
    assert sign.item() == 0 and logabsdet.item() == -math.inf
    assert gg.logdet(gg.tensor(singular)).item() == -math.inf
    with pytest.raises(LA.LinAlgError, match=r"linalg.inv \(batch element 1\): .*singular"):
        LA.inv(gg.tensor(np.stack([np.eye(2), singular])))
    with pytest.raises(RuntimeError, match=r"linalg.solve: .*singular"):
        LA.solve(gg.tensor(singular), gg.ones(2, dtype=gg.float64))
    with pytest.raises(LA.LinAlgError, match=r"cholesky \(batch element 2\): .*positive-def"):
        LA.cholesky(gg.tensor(np.stack([np.eye(2), np.eye(2), -np.eye(2)])))
    with pytest.raises(LA.LinAlgError, match="batch element 0"):
        LA.solve(gg.tensor(np.stack([singular, np.eye(2)])), gg.ones(2, 2, 1, dtype=gg.float64))


def test_repeated_eigenvalues_and_singular_values_as_torch():
    """Eigenvector (singular vector) gradients divide by gaps: nan at repeated values, as
    PyTorch; the eigenvalues' (singular values') own gradients stay finite."""
    torch = _torch()
    for ours, theirs in ((lambda a: LA.eigh(a).eigenvalues, lambda a: torch.linalg.eigh(a)[0]),
                         (LA.eigvalsh, torch.linalg.eigvalsh), (LA.svdvals, torch.linalg.svdvals),
                         (lambda a: LA.svd(a).S, lambda a: torch.linalg.svd(a)[1])):
        a, t = gg.eye(3, requires_grad=True), torch.eye(3, requires_grad=True)
        ours(a).sum().backward()
        theirs(t).sum().backward()
        np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy())
    for ours, theirs in ((lambda a: LA.eigh(a).eigenvectors, lambda a: torch.linalg.eigh(a)[1]),
                         (lambda a: LA.svd(a).U, lambda a: torch.linalg.svd(a)[0])):
        a, t = gg.eye(3, requires_grad=True), torch.eye(3, requires_grad=True)
        ours(a).sum().backward()
        theirs(t).sum().backward()
        assert np.isnan(a.grad.numpy()).all() and torch.isnan(t.grad).all()


def test_zero_vector_norm_has_zero_gradient_as_torch():
    for ord in (2, 1, 3, 0.5):
        x = gg.zeros(3, requires_grad=True)
        LA.vector_norm(x, ord).backward()
        assert x.grad.tolist() == [0.0, 0.0, 0.0]
    for norm in (LA.vector_norm, gg.norm):  # one primitive behind both
        x = gg.tensor([0.0, 2.0], requires_grad=True)
        norm(x, 0.5).backward()
        assert x.grad.tolist() == [0.0, 1.0]


def test_qr_backward_raises_where_torch_does():
    a = gg.randn(4, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match="mode='r'"):
        LA.qr(a, mode="r").R.sum().backward()
    with pytest.raises(RuntimeError, match="mode='complete'"):
        LA.qr(a, mode="complete").R.sum().backward()


# ------------------------------------------------------------------------ errors
@pytest.mark.parametrize("call, error, match", [
    (lambda: LA.inv(gg.ones(2, 3)), ValueError, r"linalg.inv: .*square.*\(2, 3\)"),
    (lambda: LA.det(gg.ones(3)), ValueError, r"linalg.det: .*at least 2 dims.*\(3,\)"),
    (lambda: LA.inv(gg.tensor([[1, 2], [3, 4]])), TypeError, "linalg.inv: .*floating point"),
    (lambda: LA.solve(gg.eye(2), gg.ones(3)), ValueError,
     r"linalg.solve: A \(2, 2\) and the vector B \(3,\)"),
    (lambda: LA.solve(gg.eye(2), gg.ones(3, 1)), ValueError,
     r"linalg.solve: incompatible shapes of A \(2, 2\) and B \(3, 1\)"),
    (lambda: LA.solve(gg.ones(2, 2, 2), gg.ones(3, 2, 1)), ValueError,
     r"linalg.solve: the batch dims of A \(2, 2, 2\) and B \(3, 2, 1\)"),
    (lambda: LA.solve(gg.eye(2), gg.ones(2, 1, dtype=gg.float64)), TypeError, "same dtype"),
    (lambda: LA.solve(gg.eye(2), gg.ones(2), left=False), ValueError, "vector, which left=False"),
    (lambda: LA.eigh(gg.eye(2), UPLO="X"), ValueError, "UPLO must be 'L' or 'U'"),
    (lambda: LA.qr(gg.eye(2), mode="full"), ValueError, "linalg.qr: mode must be"),
    (lambda: LA.matrix_norm(gg.eye(2), 3), ValueError, "linalg.matrix_norm: ord must be"),
    (lambda: LA.matrix_norm(gg.zeros(0, 2), -2), ValueError, "ord -2 of an empty matrix"),
    (lambda: LA.vector_norm(gg.zeros(0), math.inf), ValueError, "ord inf of an empty dim"),
    (lambda: LA.norm(gg.ones(2, 2, 2), 2), ValueError, "linalg.norm: with ord=2 and no dim"),
    (lambda: LA.matrix_power(gg.eye(2), 1.5), TypeError, "n must be an int"),
    (lambda: LA.multi_dot([gg.ones(2, 3), gg.ones(2, 3)]), ValueError,
     r"multi_dot: tensors 0 and 1 of shapes \(2, 3\) and \(2, 3\)"),
    (lambda: LA.multi_dot([gg.ones(2)]), ValueError, "at least 2 tensors"),
    (lambda: LA.cross(gg.ones(2, 3), gg.ones(3)), ValueError, "same number of dims"),
    (lambda: LA.cross(gg.ones(2, 4), gg.ones(2, 4)), ValueError, "must have size 3"),
    (lambda: LA.lstsq(gg.ones(3, 2), gg.ones(4, 1)), ValueError, "differ in rows"),
    (lambda: LA.lstsq(gg.ones(3, 2), gg.ones(3, 1), driver="x"), ValueError, "driver must"),
    (lambda: LA.solve_triangular(gg.eye(2), gg.ones(3, 1), upper=True), ValueError,
     r"solve_triangular: incompatible shapes of A \(2, 2\) and B \(3, 1\)"),
])
def test_errors_name_the_op_and_the_shapes(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_second_derivative_through_svd_where_the_vector_gradients_are_zero_for_now():
    """B = 0 makes the gradient reaching U and V zero at this point, but not zero for
    B + dB: svd's rule must keep those terms while recording (hypothesis found it)."""
    a = gg.tensor([[6.0], [0.0]], dtype=gg.float64, requires_grad=True)
    b = gg.zeros(2, 1, dtype=gg.float64, requires_grad=True)
    assert gradgradcheck(lambda a, b: LA.lstsq(a, b).solution, [a, b])
