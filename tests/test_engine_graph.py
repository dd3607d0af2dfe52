"""Engine semantics: graph shapes, accumulation, retain_graph, graph release, deep chains.

Each test builds a small graph whose gradient is known in closed form and uses a
random upstream gradient where the output is not a scalar.
"""
import gc
import weakref

import numpy as np
import pytest

import graphgrad as gg
from graphgrad import Tensor


def leaf(*shape, seed=0, dtype=np.float64):
    """A float64 leaf that requires grad, with reproducible random values."""
    rng = np.random.default_rng(seed)
    return Tensor(rng.standard_normal(shape).astype(dtype), requires_grad=True)


# ----------------------------------------------------------------- graph shapes
def test_reused_input_x_times_x():
    x = leaf(3, 4)
    g = np.random.default_rng(1).standard_normal((3, 4))
    (x * x).backward(g)
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.numpy() * g)


def test_input_used_three_times_in_one_expression():
    x = leaf(5)
    (x * x * x + x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 3 * x.numpy()**2 + 1)


def test_diamond_two_branches_from_one_intermediate():
    # y = f(x); z = g(y) + h(y): the gradient of y is the sum of both branches,
    # and y's node runs only once all of it has arrived.
    x = leaf(4)
    y = x.exp()
    z = (y.sin() + y * y).sum()
    z.backward()
    ey = np.exp(x.numpy())
    np.testing.assert_allclose(x.grad.numpy(), (np.cos(ey) + 2 * ey) * ey)


def test_diamond_with_branches_of_different_depth():
    # One branch reaches y directly, the other through a chain of ten ops: the
    # engine must wait for the long branch before running y's node.
    x = leaf(3)
    y = x * 2.0
    long = y
    for _ in range(10):
        long = long + 1.0
    z = (long * y).sum()
    z.backward()
    # z = (y + 10) * y, dz/dy = 2y + 10, dy/dx = 2
    np.testing.assert_allclose(x.grad.numpy(), (2 * (2 * x.numpy()) + 10) * 2)


def test_shared_subgraph_counted_once_per_consumer():
    x = leaf(2, 3)
    w = leaf(3, 2, seed=1)
    h = x @ w
    out = (h.tanh() + h.relu() + h).sum()
    out.backward()
    t = np.tanh(x.numpy() @ w.numpy())
    dh = (1 - t**2) + (x.numpy() @ w.numpy() > 0) + 1
    np.testing.assert_allclose(x.grad.numpy(), dh @ w.numpy().T)
    np.testing.assert_allclose(w.grad.numpy(), x.numpy().T @ dh)


def test_grad_accumulates_over_two_backwards():
    x = leaf(3)
    (x * 3.0).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 3.0 + 2 * x.numpy())


def test_backward_on_a_leaf():
    x = leaf(3)
    g = np.array([1.0, -2.0, 0.5])
    x.backward(g)
    np.testing.assert_array_equal(x.grad.numpy(), g)


def test_backward_on_a_scalar_leaf_gives_one():
    x = Tensor(2.5, requires_grad=True)
    x.backward()
    assert x.grad.shape == ()
    assert x.grad.item() == 1.0


def test_multiple_roots_with_their_own_gradients():
    x = leaf(3)
    a = x * 2.0
    b = x.exp()
    ga, gb = np.array([1.0, 2.0, 3.0]), np.array([-1.0, 0.5, 4.0])
    gg.backward([a, b], [ga, gb])
    np.testing.assert_allclose(x.grad.numpy(), 2 * ga + np.exp(x.numpy()) * gb)


def test_multiple_roots_where_one_is_upstream_of_the_other():
    x = leaf(3)
    a = x * x
    b = (a * 3.0).sum()
    ga = np.array([1.0, 1.0, 2.0])
    gg.backward([a, b], [ga, None])
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.numpy() * (ga + 3.0))


def test_same_root_passed_twice_sums_its_gradients():
    x = leaf(2)
    y = x * 3.0
    gg.backward([y, y], [np.ones(2), 2 * np.ones(2)])
    np.testing.assert_allclose(x.grad.numpy(), 9.0 * np.ones(2))


def test_leaves_that_do_not_require_grad_get_none():
    x = leaf(3)
    c = Tensor(np.ones(3))
    (x * c).sum().backward()
    assert c.grad is None
    assert not c.requires_grad


def test_requires_grad_propagates_and_is_leaf():
    x = leaf(2)
    c = Tensor([1.0, 2.0])
    y = x + c
    assert y.requires_grad and not y.is_leaf and y.grad_fn is not None
    z = c * 2.0
    assert not z.requires_grad and z.is_leaf and z.grad_fn is None
    assert x.is_leaf and x.grad_fn is None


def test_non_leaf_grad_is_not_kept_by_default():
    x = leaf(3)
    y = x * 2.0
    y.sum().backward()
    assert y.grad is None
    assert x.grad is not None


def test_detach_cuts_the_graph():
    x = leaf(3)
    y = x * 2.0
    z = (y.detach() * x).sum()
    z.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.numpy())
    assert not y.detach().requires_grad


def test_backward_inputs_restricts_what_is_written():
    x, w = leaf(3), leaf(3, seed=1)
    (x * w).sum().backward(inputs=[w])
    assert x.grad is None
    np.testing.assert_allclose(w.grad.numpy(), x.numpy())


# --------------------------------------------------------------- retain_graph
def test_second_backward_without_retain_graph_raises():
    x = leaf(3)
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time.*retain_graph"):
        y.backward()


def test_second_backward_through_shared_part_raises():
    x = leaf(3)
    h = x.tanh()
    (h * 2.0).sum().backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        (h * 3.0).sum().backward()


def test_retain_graph_allows_a_second_backward():
    x = leaf(3)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * first)
    np.testing.assert_allclose(first, np.exp(x.numpy()) * (x.numpy() + 1))


def test_grad_then_backward_with_retain_graph():
    x = leaf(3)
    y = (x.sin() * x).sum()
    (gx,) = gg.grad(y, x, retain_graph=True)
    y.backward()
    np.testing.assert_allclose(gx.numpy(), x.grad.numpy())


def test_graph_without_saved_values_can_be_walked_twice():
    # Ops that save nothing (add, neg) have nothing to free: PyTorch allows this too.
    x = leaf(3)
    y = (-(x + 1.0)).sum()
    y.backward()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), -2 * np.ones(3))


# ------------------------------------------------------------ graph is released
def test_intermediate_dies_after_backward_when_user_drops_it():
    x = leaf(100)
    h = x.exp()
    ref = weakref.ref(h)
    loss = (h * h).sum()
    del h
    loss.backward()
    gc.collect()
    assert ref() is None


def test_graph_holds_no_reference_cycles():
    # Without the cycle collector, dropping the last reference frees the graph at once.
    gc.disable()
    try:
        x = leaf(10)
        h = x.exp()
        h.retain_grad()
        h.register_hook(lambda g: g * 1.0)
        ref = weakref.ref(h)
        loss = (h * h.tanh()).sum()
        node_ref = weakref.ref(loss.grad_fn)
        del h
        loss.backward()
        del loss
        assert ref() is None and node_ref() is None
    finally:
        gc.enable()


def test_create_graph_makes_no_reference_cycles():
    gc.disable()
    try:
        x = leaf(5)
        h = x.tanh()
        ref = weakref.ref(h)
        loss = (h * h).sum()
        node_ref = weakref.ref(loss.grad_fn)
        (g,) = gg.grad(loss, x, create_graph=True)
        del h, loss, g
        assert ref() is None and node_ref() is None
    finally:
        gc.enable()


def test_intermediate_dies_when_graph_is_dropped_without_backward():
    x = leaf(10)
    h = x.tanh()
    ref = weakref.ref(h)
    loss = (h * 2.0).sum()
    del h, loss
    assert ref() is None  # no reference cycle: freed without the garbage collector


def test_saved_arrays_are_released_after_backward():
    x = leaf(1000)
    h = x * 3.0
    big = h.exp()  # exp saves its output array
    loss = (big * h).sum()  # mul saves both inputs
    node = loss.grad_fn
    loss.backward()
    assert node.saved is None  # engine detail: released nodes hold no arrays


def test_grad_of_leaf_does_not_keep_graph_alive():
    x = leaf(5)
    y = x.exp()
    ref = weakref.ref(y)
    y.sum().backward()
    del y
    gc.collect()
    assert ref() is None
    assert x.grad.grad_fn is None and not x.grad.requires_grad


# ------------------------------------------------------------------ deep chains
def _chain(x, n):
    y = x
    for _ in range(n):
        y = y * 1.0
    return y


def test_deep_chain_100k_backpropagates():
    x = Tensor(np.float32(2.0), requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y + 1.0
    y.backward()
    assert x.grad.item() == 1.0
    del y


def test_deep_chain_100k_with_grad_and_saved_values():
    x = Tensor(np.ones(2), requires_grad=True)
    y = _chain(x, 100_000)
    (gx,) = gg.grad(y.sum(), x)
    np.testing.assert_array_equal(gx.numpy(), np.ones(2))


def test_deep_chain_second_derivative():
    # y = sin(sin(...sin(x))) 10,000 times: dy/dx = prod cos(y_k); d2y/dx2 checked by
    # central differences of that product.
    n = 10_000

    def first_derivative(v):
        d = 1.0
        for _ in range(n):
            d *= np.cos(v)
            v = np.sin(v)
        return d

    x = Tensor(np.array([0.3]), requires_grad=True)
    y = x
    for _ in range(n):
        y = y.sin()
    (g,) = gg.grad(y.sum(), x, create_graph=True)
    (g2,) = gg.grad(g.sum(), x)
    np.testing.assert_allclose(g.item(), first_derivative(0.3), rtol=1e-10)
    h = 1e-5
    numerical = (first_derivative(0.3 + h) - first_derivative(0.3 - h)) / (2 * h)
    np.testing.assert_allclose(g2.item(), numerical, rtol=1e-5)


def test_deleting_a_deep_graph_does_not_crash():
    x = Tensor(np.ones(2), requires_grad=True)
    y = _chain(x, 200_000)
    del y  # dropping the last reference must not recurse per node
    gc.collect()


def test_deleting_a_deep_graph_after_retain_graph_does_not_crash():
    x = Tensor(np.ones(2), requires_grad=True)
    y = _chain(x, 100_000).sum()
    y.backward(retain_graph=True)
    del y
    gc.collect()


@pytest.mark.slow
def test_deep_chain_one_million_ops():
    x = Tensor(np.float32(1.0), requires_grad=True)
    y = x
    for _ in range(1_000_000):
        y = y * 1.0
    y.backward()
    assert x.grad.item() == 1.0
    del y
