"""graphgrad.autograd.functional: jacobian, hessian, vjp, jvp, hvp, vhp.

Known values from the maths, the return structures, create_graph, strict, the strategy
arguments, and (with PyTorch installed) values and errors against
torch.autograd.functional in float64.
"""
import time

import numpy as np
import pytest

import graphgrad as gg
from graphgrad.autograd import functional as F

RNG = np.random.default_rng(0)


def t64(a, requires_grad=False):
    return gg.tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


def arr(t):
    return t.detach().numpy()


# --- known values -------------------------------------------------------------------------

def test_jacobian_of_a_linear_map_is_its_matrix():
    A = RNG.standard_normal((3, 4))
    J = F.jacobian(lambda x: t64(A) @ x, t64(RNG.standard_normal(4)))
    assert J.shape == (3, 4)
    np.testing.assert_allclose(arr(J), A, rtol=1e-12)


def test_jacobian_blocks_have_shape_out_then_in():
    A = RNG.standard_normal((3, 4))
    X = t64(RNG.standard_normal((4, 2)))
    J = F.jacobian(lambda x: t64(A) @ x, X)           # out (3, 2), in (4, 2)
    assert J.shape == (3, 2, 4, 2)
    expected = np.einsum("ik,jl->ijkl", A, np.eye(2))  # d(AX)[i,j] / dX[k,l] = A[i,k] [j==l]
    np.testing.assert_allclose(arr(J), expected, rtol=1e-12)


def test_hessian_of_quadratic_form_is_a_plus_a_transpose():
    A = RNG.standard_normal((5, 5))
    H = F.hessian(lambda x: x @ (t64(A) @ x), t64(RNG.standard_normal(5)))
    np.testing.assert_allclose(arr(H), A + A.T, rtol=1e-12)


def test_hessian_of_sum_of_cubes_is_diag_6x():
    x = RNG.standard_normal(6)
    H = F.hessian(lambda x: (x ** 3).sum(), t64(x))
    np.testing.assert_allclose(arr(H), np.diag(6 * x), rtol=1e-12)


def smooth(x):
    return (x.tanh() * x.exp()).sum(0)


def test_vjp_and_jvp_agree_with_the_jacobian_both_ways():
    x = t64(RNG.standard_normal((4, 3)))
    u, v = t64(RNG.standard_normal((4, 3))), t64(RNG.standard_normal(3))
    J = arr(F.jacobian(smooth, x)).reshape(3, 12)
    out, vJ = F.vjp(smooth, x, v)
    out2, Ju = F.jvp(smooth, x, u)
    np.testing.assert_allclose(arr(out), arr(out2))
    np.testing.assert_allclose(arr(vJ).ravel(), arr(v) @ J, rtol=1e-12)
    np.testing.assert_allclose(arr(Ju), J @ arr(u).ravel(), rtol=1e-12)
    # v^T (J u) == (v^T J) u
    np.testing.assert_allclose(arr(v) @ arr(Ju), arr(vJ).ravel() @ arr(u).ravel(), rtol=1e-12)


def test_hvp_and_vhp_are_the_hessian_times_v():
    x, v = RNG.standard_normal(5), RNG.standard_normal(5)
    f = lambda x: (x.exp() * x.tanh()).sum() * x.sum()
    H = arr(F.hessian(f, t64(x)))
    out, hv = F.hvp(f, t64(x), t64(v))
    out2, vh = F.vhp(f, t64(x), t64(v))
    np.testing.assert_allclose(H, H.T, rtol=1e-12)
    np.testing.assert_allclose(arr(hv), H @ v, rtol=1e-12)
    np.testing.assert_allclose(arr(vh), v @ H, rtol=1e-12)
    assert out.shape == () and float(out) == float(out2)


# --- structure, grad mode, inputs untouched ----------------------------------------------

def test_tuple_structures():
    x, y = t64(RNG.standard_normal(3)), t64(RNG.standard_normal(2))
    two_out = lambda x, y: (x * 2, (x.sum() * y).exp())
    J = F.jacobian(two_out, (x, y))
    assert isinstance(J, tuple) and all(isinstance(row, tuple) for row in J)
    assert [[b.shape for b in row] for row in J] == [[(3, 3), (3, 2)], [(2, 3), (2, 2)]]
    np.testing.assert_array_equal(arr(J[0][1]), np.zeros((3, 2)))
    Jx = F.jacobian(lambda x: (x, x.sum()), x)          # tuple out, one input: one level
    assert [b.shape for b in Jx] == [(3, 3), (3,)]
    H = F.hessian(lambda x, y: (x.sum() * y).sum(), (x, y))
    assert [[b.shape for b in row] for row in H] == [[(3, 3), (3, 2)], [(2, 3), (2, 2)]]
    np.testing.assert_allclose(arr(H[0][1]), np.ones((3, 2)))
    out, (gx, gy) = F.vjp(lambda x, y: x.sum() * y, (x, y), t64(np.ones(2)))
    assert out.shape == (2,) and gx.shape == (3,) and gy.shape == (2,)
    outs, jv = F.jvp(two_out, (x, y), (t64(np.ones(3)), t64(np.ones(2))))
    assert isinstance(outs, tuple) and [j.shape for j in jv] == [(3,), (2,)]


def test_float32_kept_and_works_under_no_grad():
    x = gg.tensor(RNG.standard_normal(3).astype(np.float32))
    with gg.no_grad():
        J = F.jacobian(lambda x: x.tanh(), x)
        _, hv = F.hvp(lambda x: (x ** 3).sum(), x, x)
    assert J.dtype == gg.float32 and hv.dtype == gg.float32
    np.testing.assert_allclose(arr(J), np.diag(1 - np.tanh(arr(x)) ** 2), rtol=1e-5)
    np.testing.assert_allclose(arr(hv), 6 * arr(x) ** 2, rtol=1e-5)


def test_inputs_untouched_and_results_detached_by_default():
    x = t64(RNG.standard_normal(3), requires_grad=True)
    before = arr(x).copy()
    out, g = F.vjp(lambda x: (x * x).sum(), x)
    J = F.jacobian(lambda x: x.exp(), x)
    for r in (out, g, J):
        assert not r.requires_grad and r.grad_fn is None
    assert x.grad is None and x.requires_grad
    np.testing.assert_array_equal(arr(x), before)


def test_a_captured_tensor_is_a_constant_not_the_input():
    x = t64(RNG.standard_normal(3))
    J = F.jacobian(lambda z: z * x, x)                  # d(z * x)/dz = diag(x), not diag(2x)
    np.testing.assert_allclose(arr(J), np.diag(arr(x)))


def test_empty_output_gives_an_empty_jacobian():
    J = F.jacobian(lambda x: x[:0] * 2, t64(np.ones(3)))
    assert J.shape == (0, 3)


# --- create_graph ------------------------------------------------------------------------

def test_create_graph_hessian_gives_the_third_derivative():
    x = t64(RNG.standard_normal(4), requires_grad=True)
    H = F.hessian(lambda x: (x ** 4).sum(), x, create_graph=True)   # diag(12 x^2)
    assert H.requires_grad
    (g,) = gg.autograd.grad(H.sum(), x)
    np.testing.assert_allclose(arr(g), 24 * arr(x), rtol=1e-12)


def test_create_graph_jacobian_and_products_are_differentiable():
    xv = RNG.standard_normal(3)
    x = t64(xv, requires_grad=True)
    J = F.jacobian(lambda x: x.tanh(), x, create_graph=True)        # diag(1 - tanh^2)
    (g,) = gg.autograd.grad(J.sum(), x)
    th = np.tanh(xv)
    np.testing.assert_allclose(arr(g), -2 * th * (1 - th ** 2), rtol=1e-12)
    v = t64(RNG.standard_normal(3))
    for fn in (F.vjp, F.jvp, F.vhp, F.hvp):
        out, r = fn(lambda x: (x ** 3).sum() if fn in (F.vhp, F.hvp) else x ** 3, x, v,
                    create_graph=True)
        assert out.requires_grad and r.requires_grad, fn.__name__
        (g,) = gg.autograd.grad((r * r).sum(), x)
        # r = 3x^2 v (vjp, jvp) or 6 x v (vhp, hvp)
        xa, va = arr(x), arr(v)
        expected = 36 * xa ** 3 * va ** 2 if fn in (F.vjp, F.jvp) else 72 * xa * va ** 2
        np.testing.assert_allclose(arr(g), expected, rtol=1e-12, err_msg=fn.__name__)


# --- strict, strategies, bad input --------------------------------------------------------

def _unused_second(x, y):
    return (x * x).sum()


def _constant_output(x):
    return gg.ones(3, dtype=gg.float64)


def test_non_strict_gives_zeros_where_strict_raises():
    x, y = t64(np.ones(2)), t64(np.ones(3))
    J = F.jacobian(_unused_second, (x, y))
    np.testing.assert_array_equal(arr(J[1]), np.zeros(3))
    with pytest.raises(RuntimeError, match="jacobian: output 0 does not depend on input 1"):
        F.jacobian(_unused_second, (x, y), strict=True)
    np.testing.assert_array_equal(arr(F.jacobian(_constant_output, x)), np.zeros((3, 2)))
    with pytest.raises(RuntimeError, match="output 0 of the function does not require grad"):
        F.jacobian(_constant_output, x, strict=True)
    _, (gx, gy) = F.vjp(_unused_second, (x, y))
    np.testing.assert_array_equal(arr(gy), np.zeros(3))
    np.testing.assert_array_equal(arr(F.hessian(lambda x: x.sum() * 3, x)), np.zeros((2, 2)))
    with pytest.raises(RuntimeError, match="hessian: the gradient with respect to input 0"):
        F.hessian(lambda x: x.sum() * 3, x, strict=True)


STRICT_CASES = {
    "vjp": lambda m, x, y: F_of(m).vjp(_unused(m), (x, y), strict=True),
    "jvp": lambda m, x, y: F_of(m).jvp(_unused(m), (x, y), (x, y), strict=True),
    "vhp": lambda m, x, y: F_of(m).vhp(_unused(m), (x, y), (x, y), strict=True),
    "hvp": lambda m, x, y: F_of(m).hvp(_unused(m), (x, y), (x, y), strict=True),
    "jacobian": lambda m, x, y: F_of(m).jacobian(_unused(m), (x, y), strict=True),
    "hessian": lambda m, x, y: F_of(m).hessian(_unused(m), (x, y), strict=True),
    "jacobian linear create_graph": lambda m, x, y: F_of(m).jacobian(
        lambda a: a * 2, x, create_graph=True, strict=True),
    "vjp linear create_graph": lambda m, x, y: F_of(m).vjp(
        lambda a: a.sum() * 2, x, create_graph=True, strict=True),
    "hessian linear": lambda m, x, y: F_of(m).hessian(lambda a: a.sum() * 2, x, strict=True),
    "vhp linear": lambda m, x, y: F_of(m).vhp(lambda a: a.sum() * 2, x, x, strict=True),
    "constant output": lambda m, x, y: F_of(m).vjp(lambda a: m.ones(()), x, strict=True),
}


def F_of(m):
    return F if m is gg else m.autograd.functional


def _unused(m):
    return lambda a, b: (a.exp() * a).sum()


@pytest.mark.parametrize("case", list(STRICT_CASES))
def test_strict_raises_like_pytorch(case):
    x, y = t64([0.5, -1.0]), t64([2.0])
    with pytest.raises(RuntimeError):
        STRICT_CASES[case](gg, x, y)
    torch = pytest.importorskip("torch")
    xt, yt = torch.tensor([0.5, -1.0], dtype=torch.float64), torch.tensor([2.0],
                                                                          dtype=torch.float64)
    with pytest.raises(RuntimeError):
        STRICT_CASES[case](torch, xt, yt)


def test_strategy_and_vectorize_arguments():
    x = t64(RNG.standard_normal(3))
    f = lambda x: x.exp() * x.sum()
    J = arr(F.jacobian(f, x))
    np.testing.assert_allclose(arr(F.jacobian(f, x, vectorize=True)), J)
    np.testing.assert_allclose(arr(F.jacobian(f, x, vectorize=True, strategy="forward-mode")), J)
    g = lambda x: (x ** 3).sum()
    np.testing.assert_allclose(arr(F.hessian(g, x, vectorize=True,
                                             outer_jacobian_strategy="forward-mode")),
                               np.diag(6 * arr(x)), rtol=1e-12)
    with pytest.raises(NotImplementedError, match="vectorize=True"):
        F.jacobian(f, x, strategy="forward-mode")
    with pytest.raises(NotImplementedError, match="create_graph"):
        F.jacobian(f, x, vectorize=True, strategy="forward-mode", create_graph=True)
    with pytest.raises(RuntimeError, match="strict"):
        F.jacobian(f, x, vectorize=True, strategy="forward-mode", strict=True)
    with pytest.raises(RuntimeError, match="strict=True and vectorize=True"):
        F.jacobian(f, x, vectorize=True, strict=True)
    with pytest.raises(NotImplementedError):
        F.hessian(g, x, outer_jacobian_strategy="forward-mode")
    with pytest.raises(ValueError, match="jacobian: strategy must be"):
        F.jacobian(f, x, strategy="sideways")
    with pytest.raises(ValueError, match="hessian: outer_jacobian_strategy must be"):
        F.hessian(g, x, outer_jacobian_strategy="sideways")


def test_bad_input_errors():
    x = t64(np.ones(3))
    with pytest.raises(TypeError, match="jacobian: the inputs must be a Tensor"):
        F.jacobian(lambda x: x, [x])
    with pytest.raises(TypeError, match="vjp: element 1 of the inputs must be a Tensor"):
        F.vjp(lambda a, b: a, (x, 2.0))
    with pytest.raises(TypeError, match="outputs of the function"):
        F.jacobian(lambda x: [x], x)
    with pytest.raises(RuntimeError, match=r"vjp: v has shape \(2,\) but the output has shape"):
        F.vjp(lambda x: x * 2, x, t64(np.ones(2)))
    with pytest.raises(RuntimeError, match="v has 2 Tensors but the input has 1"):
        F.jvp(lambda x: x * 2, x, (x, x))
    with pytest.raises(RuntimeError, match="v may be omitted only"):
        F.vjp(lambda x: x * 2, x)
    with pytest.raises(RuntimeError, match="v may be omitted only"):
        F.hvp(lambda x: x.sum(), x)
    with pytest.raises(RuntimeError, match=r"hessian: .* one element, got shape \(3,\)"):
        F.hessian(lambda x: x * 2, x)
    with pytest.raises(RuntimeError, match="vhp: the function must return a single Tensor"):
        F.vhp(lambda x: (x.sum(), x.sum()), x, x)


def test_jacobian_of_a_50_input_function_is_fast():
    W = t64(RNG.standard_normal((50, 50)) / 7)
    x = t64(RNG.standard_normal(50))
    f = lambda x: (W @ x).tanh() * x.exp()
    start = time.perf_counter()
    J = F.jacobian(f, x)
    H = F.hessian(lambda x: f(x).sum(), x)
    elapsed = time.perf_counter() - start
    assert J.shape == (50, 50) and H.shape == (50, 50)
    assert elapsed < 2.0, f"jacobian + hessian of a 50-input function took {elapsed:.2f} s"


# --- against PyTorch ----------------------------------------------------------------------

W34 = RNG.standard_normal((3, 4))


def _w(m):
    return m.tensor(W34, dtype=m.float64)


# name -> (function of (m, *inputs), input shapes, is the output one scalar)
FUNCTIONS = {
    "one in, one out": (lambda m, x: (_w(m) @ x.tanh()).exp() * x.sum(), [(4,)], False),
    "matrix in, tuple out": (lambda m, x: ((x @ x.T).tanh(), (x.exp() * x).sum(1)),
                             [(3, 2)], False),
    "tuple in, one out": (lambda m, x, y: _w(m) @ (x * y.exp()), [(4,), (4,)], False),
    "tuple in, tuple out": (lambda m, x, y: (x.tanh() * y.sum(), (_w(m) @ x).exp() * y[0]),
                            [(4,), (2,)], False),
    "scalar of one": (lambda m, x: (x.tanh() @ x.exp() + (x ** 3).sum()), [(4,)], True),
    "scalar of two": (lambda m, x, y: ((_w(m) @ x).tanh() * y).sum() * x.exp().sum(),
                      [(4,), (3,)], True),
}


def _same(ours, theirs, where):
    if isinstance(theirs, tuple):
        assert isinstance(ours, tuple) and len(ours) == len(theirs), where
        for k, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            _same(a, b, f"{where}[{k}]")
    else:
        assert isinstance(ours, gg.Tensor), where
        assert ours.shape == tuple(theirs.shape), where
        assert ours.dtype == gg.float64, where
        np.testing.assert_allclose(arr(ours), theirs.detach().numpy(), rtol=1e-10, atol=1e-12,
                                   err_msg=where)


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_against_pytorch(name):
    torch = pytest.importorskip("torch")
    fn, shapes, scalar = FUNCTIONS[name]
    values = [RNG.standard_normal(s) * 0.7 for s in shapes]
    ours_in = tuple(t64(v) for v in values)
    theirs_in = tuple(torch.tensor(v) for v in values)
    single = len(shapes) == 1
    pack = (lambda xs: xs[0]) if single else (lambda xs: xs)
    ours_f = lambda *xs: fn(gg, *xs)
    theirs_f = lambda *xs: fn(torch, *xs)
    TF = torch.autograd.functional
    _same(F.jacobian(ours_f, pack(ours_in)), TF.jacobian(theirs_f, pack(theirs_in)),
          f"{name} jacobian")
    in_v = [RNG.standard_normal(s) for s in shapes]
    _same(F.jvp(ours_f, pack(ours_in), pack(tuple(t64(v) for v in in_v))),
          TF.jvp(theirs_f, pack(theirs_in), pack(tuple(torch.tensor(v) for v in in_v))),
          f"{name} jvp")
    if scalar:
        for op in ("hessian", "vhp", "hvp"):
            args = () if op == "hessian" else (pack(tuple(t64(v) for v in in_v)),)
            targs = () if op == "hessian" else (pack(tuple(torch.tensor(v) for v in in_v)),)
            _same(getattr(F, op)(ours_f, pack(ours_in), *args),
                  getattr(TF, op)(theirs_f, pack(theirs_in), *targs), f"{name} {op}")
        _same(F.vjp(ours_f, pack(ours_in)), TF.vjp(theirs_f, pack(theirs_in)), f"{name} vjp")
    else:
        outs = theirs_f(*theirs_in)
        outs = outs if isinstance(outs, tuple) else (outs,)
        out_v = [RNG.standard_normal(tuple(o.shape)) for o in outs]
        opack = (lambda vs: vs) if len(outs) > 1 else (lambda vs: vs[0])
        _same(F.vjp(ours_f, pack(ours_in), opack(tuple(t64(v) for v in out_v))),
              TF.vjp(theirs_f, pack(theirs_in), opack(tuple(torch.tensor(v) for v in out_v))),
              f"{name} vjp")


def test_create_graph_results_match_pytorch():
    torch = pytest.importorskip("torch")
    xv = RNG.standard_normal(4)
    x, xt = t64(xv, requires_grad=True), torch.tensor(xv, requires_grad=True)
    f = lambda m: (lambda a: (a.tanh() * a.exp()).sum() * a.sum())
    H = F.hessian(f(gg), x, create_graph=True)
    Ht = torch.autograd.functional.hessian(f(torch), xt, create_graph=True)
    (g,) = gg.autograd.grad((H * H).sum(), x)
    (gt,) = torch.autograd.grad((Ht * Ht).sum(), xt)
    np.testing.assert_allclose(arr(g), gt.numpy(), rtol=1e-10)
