"""Fast paths that replace a slow NumPy call give what the general path gives, and
PyTorch's values at the special points (signed zeros, infinities, NaN, negative bases)."""
import numpy as np
import pytest

import graphgrad as gg
from graphgrad.autograd._shapes import sum_kept
from graphgrad.autograd.grad_buffers import add_at

SPECIAL = [-0.0, 0.0, -np.inf, np.inf, np.nan, -4.0, -1.5, -1e-30, 1e-30, 0.3, 2.0, 3e12]


@pytest.mark.parametrize("exponent", [2, 3, 4, -1, -2, -0.5, 2.0, 3.0, 4.0, -1.0, -2.0])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_pow_by_products_gives_pytorchs_values(exponent, dtype):
    torch = pytest.importorskip("torch")
    x = np.array(SPECIAL, dtype=dtype)
    ours = (gg.tensor(x) ** exponent).numpy()
    theirs = (torch.tensor(x) ** exponent).numpy()
    assert ours.dtype == np.dtype(dtype)
    np.testing.assert_allclose(ours, theirs, rtol=4 * np.finfo(dtype).eps)
    np.testing.assert_array_equal(np.signbit(ours), np.signbit(theirs))


@pytest.mark.parametrize("exponent", [3.0, -2.0, -0.5])
def test_pow_by_products_matches_numpys_power_and_its_gradient(exponent):
    rng = np.random.default_rng(0)
    x = rng.uniform(0.2, 3.0, (5, 7)) * rng.choice([-1, 1], (5, 7)) ** (exponent != -0.5)
    t = gg.tensor(x, requires_grad=True)
    y = t ** exponent
    np.testing.assert_allclose(y.numpy(), np.power(x, exponent), rtol=1e-14)
    y.sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), exponent * np.power(x, exponent - 1), rtol=1e-14)


@pytest.mark.parametrize("index_shape, values_shape", [
    ((40,), (40, 3, 2)), ((5, 8), (5, 8, 3, 2)), ((40,), (3, 2)), ((40,), ()), ((0,), (0, 3, 2)),
])
def test_adding_rows_at_repeated_indices_is_np_add_at(index_shape, values_shape):
    rng = np.random.default_rng(0)
    rows = rng.integers(-6, 6, index_shape)  # repeats, and negative positions
    values = rng.standard_normal(values_shape)
    base = rng.standard_normal((6, 3, 2))
    ours, expected = base.copy(), base.copy()
    add_at(ours, (rows,), values)
    np.add.at(expected, (rows,), values)
    np.testing.assert_allclose(ours, expected, rtol=1e-13, atol=1e-13)


def test_embedding_gradient_sums_repeated_rows():
    weight = gg.randn(7, 4, requires_grad=True)
    idx = np.array([[3, 1, 3], [6, 3, 0]])
    g = np.random.default_rng(1).standard_normal((2, 3, 4)).astype(np.float32)
    gg.nn.functional.embedding(gg.tensor(idx), weight).backward(gg.tensor(g))
    expected = np.zeros((7, 4), np.float32)
    for i, row in np.ndenumerate(idx):
        expected[row] += g[i]
    np.testing.assert_allclose(weight.grad.numpy(), expected, rtol=1e-6)


@pytest.mark.parametrize("slope", [0.01, 0.2, 1.0, 0.0, 1.5, -0.3])
def test_leaky_relu_by_max_gives_pytorchs_values_and_gradients(slope):
    torch = pytest.importorskip("torch")
    x = np.array(SPECIAL, dtype=np.float32)
    g = np.linspace(-2, 2, len(SPECIAL)).astype(np.float32)
    ours = gg.tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    out = gg.nn.functional.leaky_relu(ours, slope)
    expected = torch.nn.functional.leaky_relu(theirs, slope)
    out.backward(gg.tensor(g))
    expected.backward(torch.tensor(g))
    np.testing.assert_array_equal(out.detach().numpy(), expected.detach().numpy())
    np.testing.assert_array_equal(np.signbit(out.detach().numpy()),
                                  np.signbit(expected.detach().numpy()))
    np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_leaky_relus_gradient_is_the_incoming_gradient_or_exactly_slope_times_it(dtype):
    # The rule builds its factor as mask * (1 - s) + s; that must give exactly 1, for
    # every slope in (0, 1], tiny and just below 1 included.
    slopes = [1e-30, 1e-7, 0.01, 0.1, 0.2, 1 / 3, 0.5, 0.7, float(np.nextafter(1, 0)), 1.0]
    rng = np.random.default_rng(0)
    with np.errstate(over="ignore"):  # 3e12 is inf in float16
        x = np.concatenate([rng.standard_normal(50), SPECIAL]).astype(dtype)
    g = rng.standard_normal(x.shape).astype(dtype)
    for slope in slopes:
        t = gg.tensor(x, requires_grad=True)
        gg.nn.functional.leaky_relu(t, slope).backward(gg.tensor(g))
        expected = np.where(x > 0, g, g * np.dtype(dtype).type(slope))
        np.testing.assert_array_equal(t.grad.numpy(), expected, err_msg=f"slope {slope}")


@pytest.mark.parametrize("shape, dims", [
    ((6, 7, 5), (2,)), ((6, 7, 5), (1, 2)), ((6, 7, 5), (0,)), ((6, 7, 5), (0, 1)),
    ((6, 7, 5), (1,)), ((6, 7, 5), (0, 2)), ((3, 400, 5), (0, 1)), ((2, 1025), (1,)),
    ((0, 4), (1,)), ((4, 0), (0,)), ((5,), (0,)), ((), ()),
])
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int64"])
def test_sums_as_matrix_products_equal_numpys_sums(shape, dims, dtype):
    rng = np.random.default_rng(0)
    a = (rng.standard_normal(shape) * 10).astype(dtype)
    for array in (a, np.asfortranarray(a)):
        ours = sum_kept(array, dims)
        expected = np.add.reduce(array, axis=dims, keepdims=True)
        assert ours.shape == expected.shape and ours.dtype == expected.dtype
        np.testing.assert_allclose(ours, expected, rtol=10 * np.finfo(np.float16).eps
                                   if dtype == "float16" else 2e-6)
    tensor = gg.tensor(a.astype(np.float64), requires_grad=True)
    sum_kept(tensor, dims).sum().backward()  # a Tensor: its own sum, recorded
    np.testing.assert_array_equal(tensor.grad.numpy(), np.ones(shape))
