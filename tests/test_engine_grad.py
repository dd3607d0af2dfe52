"""Engine semantics: gg.grad (pruning, allow_unused, non-leaf inputs) and higher order."""
import numpy as np
import pytest

import graphgrad as gg
from graphgrad import Tensor
from graphgrad.testing import gradcheck


def leaf(*shape, seed=0):
    rng = np.random.default_rng(seed)
    return Tensor(rng.standard_normal(shape), requires_grad=True)


class CountingIdentity(gg.Function):
    """Identity whose backward counts its calls (to prove what the engine skips)."""

    calls = 0

    @staticmethod
    def forward(ctx, x):
        return x * 1.0

    @staticmethod
    def backward(ctx, g):
        CountingIdentity.calls += 1
        return g


@pytest.fixture(autouse=True)
def reset_counter():
    CountingIdentity.calls = 0


# ------------------------------------------------------------------- gg.grad
def test_grad_returns_a_tuple_even_for_one_input():
    x = leaf(3)
    result = gg.grad((x * x).sum(), x)
    assert isinstance(result, tuple) and len(result) == 1
    np.testing.assert_allclose(result[0].numpy(), 2 * x.numpy())


def test_grad_with_several_inputs_keeps_their_order():
    x, w = leaf(2, 3), leaf(3, 4, seed=1)
    v = np.random.default_rng(2).standard_normal((2, 4))
    gw, gx = gg.grad(x @ w, [w, x], grad_outputs=v)
    np.testing.assert_allclose(gx.numpy(), v @ w.numpy().T)
    np.testing.assert_allclose(gw.numpy(), x.numpy().T @ v)


def test_grad_leaves_dot_grad_untouched():
    x, w = leaf(3), leaf(3, seed=1)
    w.grad = Tensor(np.full(3, 7.0))
    gg.grad((x * w).sum(), [x, w])
    assert x.grad is None
    np.testing.assert_array_equal(w.grad.numpy(), np.full(3, 7.0))


def test_grad_does_not_touch_grads_of_other_leaves_either():
    x, w = leaf(3), leaf(3, seed=1)
    gg.grad((x * w).sum(), [x])
    assert w.grad is None and x.grad is None


def test_grad_prunes_a_branch_that_does_not_lead_to_the_inputs():
    x, w = leaf(3), leaf(3, seed=1)
    loss = (x * x).sum() + CountingIdentity.apply(w).sum()
    (gx,) = gg.grad(loss, x)
    np.testing.assert_allclose(gx.numpy(), 2 * x.numpy())
    assert CountingIdentity.calls == 0
    loss2 = (x * x).sum() + CountingIdentity.apply(w).sum()
    loss2.backward()  # plain backward does need that branch
    assert CountingIdentity.calls == 1


def test_grad_does_not_go_past_a_non_leaf_input():
    p = leaf(3)
    x = CountingIdentity.apply(p)  # upstream of the input: never needed
    y = (x.exp()).sum()
    (gx,) = gg.grad(y, x)
    np.testing.assert_allclose(gx.numpy(), np.exp(x.numpy()))
    assert CountingIdentity.calls == 0
    assert p.grad is None


def test_grad_prunes_shared_subgraph_feeding_only_other_inputs():
    x, w = leaf(3), leaf(3, seed=1)
    h = CountingIdentity.apply(w) * x  # the counting node only leads to w
    (gx,) = gg.grad(h.sum(), x)
    np.testing.assert_allclose(gx.numpy(), w.numpy())
    assert CountingIdentity.calls == 0


def test_grad_unused_input_raises_without_allow_unused():
    x, unused = leaf(3), leaf(2, seed=1)
    with pytest.raises(RuntimeError, match="allow_unused"):
        gg.grad((x * 2.0).sum(), [x, unused])


def test_grad_allow_unused_gives_none():
    x, unused = leaf(3), leaf(2, seed=1)
    gx, gu = gg.grad((x * 2.0).sum(), [x, unused], allow_unused=True)
    np.testing.assert_allclose(gx.numpy(), 2.0 * np.ones(3))
    assert gu is None


def test_grad_wrt_a_non_leaf():
    x = leaf(4)
    y = x * 2.0
    z = (y.exp() * x).sum()  # depends on y and directly on x
    (gy,) = gg.grad(z, y, retain_graph=True)
    np.testing.assert_allclose(gy.numpy(), np.exp(y.numpy()) * x.numpy())
    gy2, gx = gg.grad(z, [y, x])
    np.testing.assert_allclose(gy2.numpy(), gy.numpy())
    np.testing.assert_allclose(gx.numpy(), np.exp(2 * x.numpy()) * (2 * x.numpy() + 1))


def test_grad_wrt_a_leaf_and_its_own_root():
    x = leaf(3)
    (g,) = gg.grad(x, x, grad_outputs=np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(g.numpy(), [1.0, 2.0, 3.0])


def test_grad_of_several_outputs():
    x = leaf(3)
    a, b = x.sin(), x * x
    ga, gb = np.array([1.0, 2.0, 3.0]), np.array([0.5, -1.0, 2.0])
    (gx,) = gg.grad([a, b], x, grad_outputs=[ga, gb])
    np.testing.assert_allclose(gx.numpy(), np.cos(x.numpy()) * ga + 2 * x.numpy() * gb)


def test_grad_of_non_scalar_without_grad_outputs_raises():
    x = leaf(3)
    with pytest.raises(RuntimeError, match="one element|implicitly"):
        gg.grad(x * 2.0, x)


def test_grad_outputs_of_wrong_shape_raises():
    x = leaf(3)
    with pytest.raises((RuntimeError, ValueError), match="shape"):
        gg.grad(x * 2.0, x, grad_outputs=np.ones(4))


def test_grad_of_output_without_grad_raises():
    x = leaf(3)
    with pytest.raises(RuntimeError, match="does not require grad"):
        gg.grad(Tensor([1.0]).sum(), x)


def test_grad_wrt_tensor_that_does_not_require_grad_raises():
    x = leaf(3)
    c = Tensor([1.0, 2.0, 3.0])
    with pytest.raises(RuntimeError, match="require"):
        gg.grad((x * c).sum(), c)


def test_grad_results_do_not_require_grad_without_create_graph():
    x = leaf(3)
    (g,) = gg.grad((x * x).sum(), x)
    assert not g.requires_grad and g.grad_fn is None


def test_grad_keeps_dtype_and_shape():
    x = Tensor(np.ones((2, 3), dtype=np.float32), requires_grad=True)
    (g,) = gg.grad((x * 2.0).sum(), x)
    assert g.dtype == np.float32 and g.shape == (2, 3)


# ------------------------------------------------------------- higher order
def test_create_graph_gives_differentiable_gradients():
    x = leaf(3)
    (g,) = gg.grad((x**3).sum(), x, create_graph=True)
    assert g.requires_grad and g.grad_fn is not None
    np.testing.assert_allclose(g.numpy(), 3 * x.numpy()**2)
    (g2,) = gg.grad(g.sum(), x)
    np.testing.assert_allclose(g2.numpy(), 6 * x.numpy())


def test_hessian_vector_product():
    rng = np.random.default_rng(3)
    a = rng.standard_normal((4, 4))
    v = rng.standard_normal(4)
    x = leaf(4)
    f = 0.5 * (x @ (Tensor(a) @ x)) + x.tanh().sum()
    (g,) = gg.grad(f, x, create_graph=True)
    (hv,) = gg.grad(g, x, grad_outputs=v)
    t = np.tanh(x.numpy())
    hessian = 0.5 * (a + a.T) + np.diag(-2 * t * (1 - t**2))
    np.testing.assert_allclose(hv.numpy(), hessian @ v, rtol=1e-10)


def test_hessian_vector_product_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    w0, x0, v0 = rng.standard_normal((3, 5)), rng.standard_normal(5), rng.standard_normal(5)

    def f(lib_x, lib_w):
        return ((lib_w @ lib_x).sigmoid() * (lib_w @ lib_x).exp()).sum() + (lib_x * lib_x).sum()

    x, w = Tensor(x0, requires_grad=True), Tensor(w0)
    (g,) = gg.grad(f(x, w), x, create_graph=True)
    (hv,) = gg.grad(g, x, grad_outputs=v0)
    tx = torch.tensor(x0, requires_grad=True)
    (tg,) = torch.autograd.grad(f(tx, torch.tensor(w0)), tx, create_graph=True)
    (thv,) = torch.autograd.grad(tg, tx, grad_outputs=torch.tensor(v0))
    np.testing.assert_allclose(hv.numpy(), thv.numpy(), rtol=1e-10)


def _gradient_penalty(w, x):
    """WGAN-GP style: (||d D(x) / dx|| - 1)^2 summed over the batch, D(x) = sum(tanh(x w))."""
    with gg.enable_grad():  # gradcheck evaluates fn under no_grad
        d = (x @ w).tanh().sum()
        (gx,) = gg.grad(d, x, create_graph=True)
        norms = ((gx * gx).sum(axis=1) + 1e-12).sqrt()
        return ((norms - 1.0) ** 2).sum()


def test_gradient_penalty_by_gradcheck():
    rng = np.random.default_rng(5)
    x = Tensor(rng.standard_normal((4, 3)), requires_grad=True)
    w = Tensor(rng.standard_normal((3, 2)), requires_grad=True)
    assert gradcheck(lambda w_: _gradient_penalty(w_, x), (w,))


def test_gradient_penalty_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    x0, w0 = rng.standard_normal((4, 3)), rng.standard_normal((3, 2))
    x, w = Tensor(x0, requires_grad=True), Tensor(w0, requires_grad=True)
    _gradient_penalty(w, x).backward()

    tx = torch.tensor(x0, requires_grad=True)
    tw = torch.tensor(w0, requires_grad=True)
    d = (tx @ tw).tanh().sum()
    (tgx,) = torch.autograd.grad(d, tx, create_graph=True)
    penalty = ((((tgx * tgx).sum(dim=1) + 1e-12).sqrt() - 1.0) ** 2).sum()
    penalty.backward()
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-10)
    # x also depends on the penalty (second derivative w.r.t. the input itself)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10)


def test_third_derivative_of_tanh_closed_form():
    x = Tensor(np.linspace(-2.0, 2.0, 9), requires_grad=True)
    y = x.tanh()
    (d1,) = gg.grad(y.sum(), x, create_graph=True)
    (d2,) = gg.grad(d1.sum(), x, create_graph=True)
    (d3,) = gg.grad(d2.sum(), x)
    t = np.tanh(x.numpy())
    np.testing.assert_allclose(d1.numpy(), 1 - t**2, rtol=1e-12)
    np.testing.assert_allclose(d2.numpy(), -2 * t * (1 - t**2), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(d3.numpy(), (1 - t**2) * (6 * t**2 - 2), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("fn, d2", [
    (lambda x: x.exp(), lambda x: np.exp(x)),
    (lambda x: x.sigmoid(), lambda x: (s := 1 / (1 + np.exp(-x))) * (1 - s) * (1 - 2 * s)),
    (lambda x: x.sqrt(), lambda x: -0.25 * x**-1.5),
    (lambda x: x.log(), lambda x: -1 / x**2),
    (lambda x: 1.0 / x, lambda x: 2 / x**3),
])
def test_second_derivative_of_ops_that_reuse_their_output(fn, d2):
    x = Tensor(np.array([0.3, 1.0, 2.5]), requires_grad=True)
    (g,) = gg.grad(fn(x).sum(), x, create_graph=True)
    (g2,) = gg.grad(g.sum(), x)
    np.testing.assert_allclose(g2.numpy(), d2(x.numpy()), rtol=1e-10)


def test_backward_with_create_graph_makes_grad_differentiable():
    x = leaf(3)
    (x**3).sum().backward(create_graph=True)
    assert x.grad.requires_grad
    (g2,) = gg.grad(x.grad.sum(), x)
    np.testing.assert_allclose(g2.numpy(), 6 * x.numpy())


def test_create_graph_retains_the_graph_by_default():
    x = leaf(3)
    y = (x.exp()).sum()
    gg.grad(y, x, create_graph=True)
    (g,) = gg.grad(y, x)  # a second pass over the same graph is allowed
    np.testing.assert_allclose(g.numpy(), np.exp(x.numpy()))


def test_mixed_partial_derivative():
    x = Tensor(np.array(0.7), requires_grad=True)
    y = Tensor(np.array(-1.3), requires_grad=True)
    f = (x * y).sin() * x
    (fx,) = gg.grad(f, x, create_graph=True)
    (fxy,) = gg.grad(fx, y)
    xv, yv = 0.7, -1.3
    # f_x = sin(xy) + x y cos(xy); f_xy = 2x cos(xy) - x^2 y sin(xy)
    expected = 2 * xv * np.cos(xv * yv) - xv**2 * yv * np.sin(xv * yv)
    np.testing.assert_allclose(fxy.item(), expected, rtol=1e-12)


def test_weight_used_by_many_products_sums_every_use():
    """Weight gradients of matrix products are kept lazy and summed by one product over
    all uses: mixed with dense contributions, transposed views and hooks, the sum is
    the one the maths gives."""
    rng = np.random.default_rng(3)
    w = leaf(4, 3)
    xs = [rng.standard_normal((2, 3)) for _ in range(3)]
    x4 = rng.standard_normal((5, 4))
    seen = []
    w.register_hook(lambda g: seen.append(g.numpy().copy()))
    y = sum(gg.linear(Tensor(x), w).sum() * (k + 1) for k, x in enumerate(xs))
    y = y + (Tensor(x4) @ w).pow(2).sum() + (w * w).sum() + (Tensor(xs[0]) @ w.T).sum()
    y.backward()
    expected = sum((k + 1) * np.ones((2, 4)).T @ x for k, x in enumerate(xs))
    expected = (expected + x4.T @ (2 * x4 @ w.numpy()) + 2 * w.numpy()
                + (xs[0].T @ np.ones((2, 4))).T)
    np.testing.assert_allclose(w.grad.numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(seen[0], expected, rtol=1e-12)
    assert w.grad.numpy().flags.c_contiguous
    assert gradcheck(lambda w: sum(gg.linear(Tensor(x), w).tanh().sum() for x in xs)
                     + (Tensor(x4) @ w).sum(), [leaf(4, 3, seed=5)])


def test_lazy_products_reach_grad_and_anomaly_mode_densely():
    w = leaf(3, 2)
    x = leaf(4, 3)
    y = (x @ w).sum() + (x @ w).pow(2).sum()
    (gw,) = gg.grad(y, [w], retain_graph=True)
    expected = x.numpy().T @ (1 + 2 * (x.numpy() @ w.numpy()))
    np.testing.assert_allclose(gw.numpy(), expected, rtol=1e-12)
    with gg.detect_anomaly():
        (gw2,) = gg.grad(y, [w])
    np.testing.assert_allclose(gw2.numpy(), expected, rtol=1e-12)


def test_engine_never_adds_into_a_gradient_someone_else_holds():
    """Buffers are added into in place only when nothing else refers to them: a rule that
    returns an array it keeps (here a constant) must find it unchanged afterwards."""
    from graphgrad.autograd.graph import apply
    from graphgrad.autograd.ops._registry import Op

    kept = np.ones(3)
    const_grad = Op("const_grad", lambda x: x.copy(), lambda g, out, x: kept)
    x = leaf(3)
    y = (apply(const_grad, (x,)) + apply(const_grad, (x,)) + apply(const_grad, (x,))).sum()
    y.backward()
    np.testing.assert_array_equal(kept, np.ones(3))
    np.testing.assert_array_equal(x.grad.numpy(), np.full(3, 3.0))


@pytest.mark.parametrize("pattern", ["rows", "rows reversed", "batch first", "a row twice",
                                     "a row missing", "rows and the whole"])
def test_slices_of_a_sequence_sum_like_the_maths(pattern):
    """Slice gradients arriving at an empty buffer are joined and made dense together
    (rows x[0], ..., x[n-1], each once, by stacking): every pattern of slicing gives the
    gradient the maths gives, and the values a rule passed on are never changed."""
    rng = np.random.default_rng(4)
    x, w = leaf(4, 3, 2), leaf(3, 2, seed=6)
    c = rng.standard_normal((4, 3, 2))
    picks = {"rows": [(t,) for t in range(4)], "rows reversed": [(t,) for t in range(3, -1, -1)],
             "batch first": [(slice(None), t) for t in range(3)],
             "a row twice": [(0,), (1,), (1,), (2,)], "a row missing": [(0,), (2,), (3,)],
             "rows and the whole": [(t,) for t in range(4)]}[pattern]
    y = gg.zeros(())
    for index in picks:  # each slice also shares its incoming gradient with w (add passes it on)
        y = y + ((x[index] + w[index[1:]] if len(index) == 2 else x[index] + w)
                 * Tensor(c[index])).sum()
    if pattern == "rows and the whole":
        y = y + (x * x).sum()
    y.backward()
    expected_x = np.zeros_like(c)
    expected_w = np.zeros((3, 2))
    for index in picks:
        expected_x[index] += c[index]
        expected_w[index[1:]] += c[index].sum(0) if len(index) == 2 else c[index]
    if pattern == "rows and the whole":
        expected_x += 2 * x.numpy()
    np.testing.assert_allclose(x.grad.numpy(), expected_x, rtol=1e-12)
    np.testing.assert_allclose(w.grad.numpy(), expected_w, rtol=1e-12)
