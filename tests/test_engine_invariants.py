"""Engine invariants: no aliasing of gradients, nothing mutated, dtype rules, operators with
NumPy values on the left, and clear errors on bad input."""
import numpy as np
import pytest

import graphgrad as gg
from graphgrad import Tensor


def leaf(*shape, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return Tensor(rng.standard_normal(shape).astype(dtype), requires_grad=True)


def upstream(*shape, seed=9):
    return np.random.default_rng(seed).standard_normal(shape)


def assert_no_shared_memory(*arrays):
    for i, a in enumerate(arrays):
        for b in arrays[i + 1:]:
            assert not np.shares_memory(a, b)


# --------------------------------------------------------------------- aliasing
@pytest.mark.parametrize("build", [
    lambda x, y: x + y,
    lambda x, y: x - y,
    lambda x, y: (x + y) * 1.0 + 0.0,
    lambda x, y: gg.cat([x, y]).reshape(2, 3),
    lambda x, y: gg.stack([x, y]),
    lambda x, y: x.reshape(3, 1) + y.reshape(3, 1),
    lambda x, y: gg.where(np.array([True, False, True]), x, y),
])
def test_no_two_grads_share_memory(build):
    x, y = leaf(3), leaf(3, seed=1)
    z = build(x, y)
    g = upstream(*z.shape)
    g_copy = g.copy()
    z.backward(g)
    assert_no_shared_memory(x.grad.numpy(), y.grad.numpy(), g, x.numpy(), y.numpy())
    np.testing.assert_array_equal(g, g_copy)


def test_grad_of_a_leaf_root_does_not_alias_the_user_gradient():
    x = leaf(3)
    g = upstream(3)
    x.backward(g)
    assert not np.shares_memory(x.grad.numpy(), g)
    (gx,) = gg.grad(x * 1.0, x, grad_outputs=g)
    assert not np.shares_memory(gx.numpy(), g)


def test_grad_results_do_not_alias_each_other_or_the_seed():
    x, y = leaf(2, 2), leaf(2, 2, seed=1)
    g = upstream(2, 2)
    gx, gy = gg.grad(x + y, [x, y], grad_outputs=g)
    assert_no_shared_memory(gx.numpy(), gy.numpy(), g)
    gx.data[...] = 0.0  # a user may change a result in place
    np.testing.assert_array_equal(gy.numpy(), g)


def test_no_two_grads_share_memory_with_create_graph():
    # PyTorch clones here too: a .grad must never be the seed or another leaf's .grad.
    x, y = leaf(3), leaf(3, seed=1)
    seed = Tensor(upstream(3))
    (x + y).backward(seed, create_graph=True)
    assert x.grad is not y.grad and x.grad is not seed
    assert_no_shared_memory(x.grad.numpy(), y.grad.numpy(), seed.numpy())


def test_leaf_grad_does_not_alias_a_tensor_returned_by_a_hook():
    x = leaf(3)
    replacement = Tensor(np.full(3, 5.0))
    x.register_hook(lambda g: replacement)
    (x * 2.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full(3, 5.0))
    assert not np.shares_memory(x.grad.numpy(), replacement.numpy())


def test_same_leaf_used_twice_in_add():
    x = leaf(3)
    g = upstream(3)
    g_copy = g.copy()
    (x + x).backward(g)
    np.testing.assert_allclose(x.grad.numpy(), 2 * g)
    np.testing.assert_array_equal(g, g_copy)


def test_changing_a_grad_in_place_does_not_affect_another():
    x, y = leaf(3), leaf(3, seed=1)
    (x + y).sum().backward()
    x.grad.data[...] = 100.0
    np.testing.assert_array_equal(y.grad.numpy(), np.ones(3))


def test_user_gradient_and_inputs_are_not_mutated_by_backward():
    x, w = leaf(3, 4), leaf(4, 2, seed=1)
    x0, w0 = x.numpy().copy(), w.numpy().copy()
    out = ((x @ w).tanh() * 2.0 + x.sum(axis=1, keepdims=True)).exp()
    g = upstream(3, 2)
    g0 = g.copy()
    gg.backward([out, out], [g, g])
    np.testing.assert_array_equal(g, g0)
    np.testing.assert_array_equal(x.numpy(), x0)
    np.testing.assert_array_equal(w.numpy(), w0)


def test_grad_shapes_and_dtypes_match_the_leaves():
    x = leaf(3, 1, dtype=np.float32)
    y = leaf(1, 4, seed=1, dtype=np.float32)
    (x * y).backward(upstream(3, 4).astype(np.float32))
    assert x.grad.shape == (3, 1) and y.grad.shape == (1, 4)
    assert x.grad.dtype == np.float32 and y.grad.dtype == np.float32


def test_float32_leaf_gets_float32_grad_from_float64_graph():
    x32 = leaf(3, dtype=np.float32)
    y64 = leaf(3, seed=1)
    z = x32 * y64
    assert z.dtype == np.float64
    z.sum().backward()
    assert x32.grad.dtype == np.float32 and y64.grad.dtype == np.float64
    np.testing.assert_allclose(x32.grad.numpy(), y64.numpy().astype(np.float32), rtol=1e-6)


def test_backward_seed_of_other_dtype_is_cast():
    x = leaf(3, dtype=np.float32)
    (x * 2.0).backward(np.ones(3, dtype=np.float64))
    assert x.grad.dtype == np.float32


# ---------------------------------------------------------------- construction
def test_tensor_copies_the_array():
    a = np.ones(3)
    t = Tensor(a)
    u = gg.tensor(a, requires_grad=True)
    a[0] = 5.0
    assert t.numpy()[0] == 1.0 and u.numpy()[0] == 1.0
    assert not np.shares_memory(Tensor(t).numpy(), t.numpy())


def test_from_numpy_and_numpy_share_memory():
    a = np.zeros(3)
    t = gg.from_numpy(a)
    a[1] = 2.0
    assert t.numpy()[1] == 2.0
    t.numpy()[2] = 3.0
    assert a[2] == 3.0


@pytest.mark.parametrize("data, dtype", [
    ([1.0, 2.0], np.float32),
    (1.5, np.float32),
    ([[1, 2]], np.int64),
    ([True, False], np.bool_),
    (np.array([1.0]), np.float64),
    (np.float64(2.0), np.float64),
    (np.array([1.0], dtype=np.float32), np.float32),
    (np.array([1, 2], dtype=np.int32), np.int32),
])
def test_default_dtypes(data, dtype):
    assert Tensor(data).dtype == dtype


def test_explicit_dtype_wins():
    assert Tensor([1, 2], dtype=np.float64).dtype == np.float64
    assert Tensor(np.array([1.0]), dtype=gg.float32).dtype == np.float32
    assert gg.zeros(2, dtype=gg.float64).dtype == np.float64
    assert gg.zeros(2).dtype == np.float32


@pytest.mark.parametrize("make", [
    lambda: Tensor([1, 2], requires_grad=True),
    lambda: Tensor([True], requires_grad=True),
    lambda: Tensor([1, 2]).requires_grad_(),
    lambda: gg.zeros(2, dtype=gg.int64, requires_grad=True),
    lambda: gg.arange(3, requires_grad=True),
    lambda: gg.tensor(np.array([1, 2], dtype=np.int32), requires_grad=True),
])
def test_int_and_bool_tensors_cannot_require_grad(make):
    with pytest.raises(TypeError, match="floating point"):
        make()


# ---------------------------------------------------------------- dtype rules
@pytest.mark.parametrize("expr", [
    lambda t: t * 2.0, lambda t: 2.0 * t, lambda t: t + 1, lambda t: t / 3, lambda t: t**2,
    lambda t: t - np.float64(1.5), lambda t: np.float64(2.0) * t, lambda t: t * np.float32(2),
    lambda t: t + Tensor(np.float64(1.0)),  # a 0-d tensor does not widen a dimensioned one
])
def test_scalars_do_not_upcast_float32(expr):
    t = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    out = expr(t)
    assert out.dtype == np.float32
    out.sum().backward()
    assert t.grad.dtype == np.float32


@pytest.mark.parametrize("a, b, expected", [
    (np.array([1, 2]), 2.5, np.float32),
    (np.array([1, 2]), 2, np.int64),
    (np.array([1, 2]), np.array([1.0, 2.0], dtype=np.float32), np.float32),
    (np.array([1, 2], dtype=np.int32), np.array([1, 2]), np.int64),
    (np.array([1.0, 2.0], dtype=np.float32), np.array([1.0, 2.0]), np.float64),
    (np.array([1, 2], dtype=np.uint8), np.array([1, 2], dtype=np.int8), np.int16),
    (np.array([1, 2]), np.array(2.5), np.float64),  # 0-d of a higher category decides
    (np.array([True, False]), 1, np.int64),
    (np.array([True, False]), 1.5, np.float32),
])
def test_type_promotion_as_pytorch(a, b, expected):
    tb = Tensor(b) if isinstance(b, np.ndarray) else b
    assert (Tensor(a) + tb).dtype == expected
    assert (tb + Tensor(a)).dtype == expected


def test_type_promotion_matches_torch():
    torch = pytest.importorskip("torch")
    cases = [
        (np.array([1, 2]), np.array([0.5, 1.5], dtype=np.float32)),
        (np.array([1, 2], dtype=np.int32), np.array(3)),
        (np.array([1.0], dtype=np.float32), np.array(2.0)),
        (np.array([1, 2], dtype=np.uint8), np.array([3, 4], dtype=np.int8)),
        (np.array([True]), np.array([2], dtype=np.int32)),
    ]
    for a, b in cases:
        for op in ("__add__", "__mul__", "__truediv__"):
            ours = getattr(Tensor(a), op)(Tensor(b)).dtype
            theirs = getattr(torch.from_numpy(a), op)(torch.from_numpy(b)).numpy().dtype
            assert ours == theirs, (a.dtype, b.dtype, b.ndim, op)


def test_integer_division_gives_float32():
    assert (Tensor([1, 2]) / Tensor([2, 2])).dtype == np.float32
    assert (Tensor([1, 2]) / 2).dtype == np.float32
    assert (2 / Tensor([1, 2])).dtype == np.float32
    assert (Tensor(np.array([1, 2], dtype=np.int32)) / Tensor(3)).dtype == np.float32


# --------------------------------------------------------------- comparisons
@pytest.mark.parametrize("compare", [
    lambda a, b: a > b, lambda a, b: a < b, lambda a, b: a >= b, lambda a, b: a <= b,
    lambda a, b: a == b, lambda a, b: a != b,
])
def test_comparisons_give_bool_tensors_without_grad(compare):
    x, y = leaf(3), leaf(3, seed=1)
    for out in (compare(x, y), compare(x, 0.0), compare(x, np.zeros(3)), compare(np.zeros(3), x)):
        assert isinstance(out, Tensor)
        assert out.dtype == np.bool_
        assert not out.requires_grad and out.grad_fn is None


# ------------------------------------------------- NumPy values on the left
@pytest.mark.parametrize("expr, dx", [
    (lambda a, t: a + t, lambda a, t: np.ones_like(t)),
    (lambda a, t: a - t, lambda a, t: -np.ones_like(t)),
    (lambda a, t: a * t, lambda a, t: a),
    (lambda a, t: a / t, lambda a, t: -a / t**2),
    (lambda a, t: a**t, lambda a, t: a**t * np.log(a)),
    (lambda a, t: a @ t, lambda a, t: a),
])
def test_numpy_array_on_the_left_gives_a_tensor(expr, dx):
    a = np.array([1.5, 2.0, 3.0])
    t = Tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
    out = expr(a, t)
    assert isinstance(out, Tensor) and out.requires_grad
    out.sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), dx(a, t.numpy()))


@pytest.mark.parametrize("scalar", [np.float32(2.0), np.float64(2.0), np.int64(2)])
def test_numpy_scalar_on_the_left_gives_a_tensor(scalar):
    t = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    for out in (scalar * t, scalar + t, scalar - t, scalar / t):
        assert isinstance(out, Tensor)
        assert out.dtype == np.float32
        assert out.requires_grad


# ----------------------------------------------------------------- bad input
@pytest.mark.parametrize("name, fn", [
    ("add", lambda a, b: a + b),
    ("sub", lambda a, b: a - b),
    ("mul", lambda a, b: a * b),
    ("div", lambda a, b: a / b),
    ("pow", lambda a, b: a**b),
    ("maximum", gg.maximum),
    ("minimum", gg.minimum),
    ("where", lambda a, b: gg.where(np.array(True), a, b)),
    ("gt", lambda a, b: a > b),
])
def test_binary_shape_mismatch_names_op_and_shapes(name, fn):
    a, b = leaf(2, 3), leaf(4, seed=1)
    with pytest.raises(ValueError) as info:
        fn(a, b)
    message = str(info.value)
    assert name in message
    assert "(2, 3)" in message and "(4,)" in message


@pytest.mark.parametrize("xs, ys", [((2, 3), (4, 5)), ((3,), (4,)), ((2, 2, 3), (3, 2, 2))])
def test_matmul_shape_mismatch_names_op_and_shapes(xs, ys):
    a, b = leaf(*xs), leaf(*ys, seed=1)
    with pytest.raises(ValueError) as info:
        _ = a @ b
    message = str(info.value)
    assert "matmul" in message and str(xs) in message and str(ys) in message


@pytest.mark.parametrize("call", [
    lambda t: t.sum(dim=3),
    lambda t: t.mean(dim=-4),
    lambda t: t.max(dim=3),
    lambda t: t.softmax(3),
    lambda t: t.argmax(dim=3),
    lambda t: t.squeeze(3),
    lambda t: t.transpose(0, 3),
    lambda t: gg.cat([t, t], dim=3),
    lambda t: t.var(dim=3),
    lambda t: t.logsumexp(3),
    lambda t: t.log_softmax(-3),
    lambda t: t.flatten(0, 3),
    lambda t: t.permute(0, 3),
    lambda t: gg.unbind(t, 3),
    lambda t: gg.split(t, 1, dim=3),
])
def test_invalid_dim_names_the_dim_and_ndim(call):
    t = leaf(2, 3)
    with pytest.raises((IndexError, ValueError)) as info:
        call(t)
    message = str(info.value)
    assert "dim" in message and ("3" in message or "-4" in message)
    assert "2" in message


def test_unsqueeze_accepts_ndim_but_not_beyond():
    t = leaf(2, 3)
    assert t.unsqueeze(2).shape == (2, 3, 1)
    assert t.unsqueeze(-3).shape == (1, 2, 3)
    with pytest.raises((IndexError, ValueError), match="dim"):
        t.unsqueeze(4)


def test_backward_on_non_scalar_without_gradient_raises():
    y = leaf(3) * 2.0
    with pytest.raises(RuntimeError, match="one element|implicitly"):
        y.backward()


def test_backward_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor([1.0]).sum().backward()


def test_backward_with_gradient_of_wrong_shape_raises():
    y = leaf(3) * 2.0
    with pytest.raises((RuntimeError, ValueError), match="shape"):
        y.backward(np.ones((3, 1)))


def test_backward_on_one_element_non_scalar_is_allowed():
    x = leaf(1, 1)
    (x * 3.0).backward()
    np.testing.assert_allclose(x.grad.numpy(), [[3.0]])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_nan_and_inf_are_allowed_outside_anomaly_mode():
    x = Tensor(np.array([np.nan, np.inf, -np.inf, 1.0]), requires_grad=True)
    y = (x * 2.0).exp()
    y.sum().backward()
    assert np.isnan(x.grad.numpy()[0]) and np.isinf(x.grad.numpy()[1])
    assert x.grad.numpy()[2] == 0.0
    (Tensor(np.array([0.0]), requires_grad=True).log()).sum().backward()


@pytest.mark.parametrize(("x_shape", "w_shape", "b_shape", "names"), [
    ((4, 3), (2, 5), (2,), ["(4, 3)", "in_features = 5"]),
    ((3,), (2, 3, 1), None, ["weight must be 2-D", "(2, 3, 1)"]),
    ((4, 3), (2, 3), (3,), ["bias of shape (3,)", "(4, 2)"]),
    ((4, 3), (2, 3), (5, 2), ["bias of shape (5, 2)", "(4, 2)"]),
])
def test_linear_bad_shapes_name_the_shapes(x_shape, w_shape, b_shape, names):
    bias = None if b_shape is None else leaf(*b_shape)
    with pytest.raises(ValueError, match="linear") as info:
        gg.linear(leaf(*x_shape), leaf(*w_shape), bias)
    for name in names:
        assert name in str(info.value)


def test_linear_promotes_all_operands_to_one_dtype():
    x = Tensor(np.ones((2, 3), np.float32))
    w = Tensor(np.ones((4, 3), np.float32), requires_grad=True)
    b = Tensor(np.ones(4, np.float64), requires_grad=True)
    y = gg.linear(x, w, b)
    assert y.dtype == np.float64
    y.sum().backward()
    assert w.grad.dtype == np.float32 and b.grad.dtype == np.float64
    np.testing.assert_array_equal(y.numpy(), np.full((2, 4), 4.0))
