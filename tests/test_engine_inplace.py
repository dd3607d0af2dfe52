"""Engine semantics: in-place operations, version counters and saved-value checks."""
import numpy as np
import pytest

import graphgrad as gg
from graphgrad import Tensor

INPLACE_ERROR = "modified by an inplace operation"


def leaf(*shape, seed=0):
    rng = np.random.default_rng(seed)
    return Tensor(rng.standard_normal(shape), requires_grad=True)


def upstream(*shape, seed=9):
    return np.random.default_rng(seed).standard_normal(shape)


# --------------------------------------------------------- in-place arithmetic
def test_iadd_on_non_leaf_keeps_identity_and_gradient():
    x = leaf(3)
    y = x * 2.0
    y_id = id(y)
    y += 1.0
    assert id(y) == y_id
    np.testing.assert_allclose(y.numpy(), 2 * x.numpy() + 1)
    g = upstream(3)
    y.backward(g)
    np.testing.assert_allclose(x.grad.numpy(), 2 * g)


@pytest.mark.parametrize("op, dx, dw", [
    ("+=", lambda x, w: 1.0, lambda x, w: 1.0),
    ("-=", lambda x, w: 1.0, lambda x, w: -1.0),
    ("*=", lambda x, w: w, lambda x, w: x),
    ("/=", lambda x, w: 1 / w, lambda x, w: -x / w**2),
])
def test_augmented_assignment_with_a_tensor(op, dx, dw):
    x, w = leaf(2, 3), leaf(3, seed=1)  # w broadcasts over the rows
    y = x * 1.0
    if op == "+=":
        y += w
    elif op == "-=":
        y -= w
    elif op == "*=":
        y *= w
    else:
        y /= w
    g = upstream(2, 3)
    y.backward(g)
    np.testing.assert_allclose(x.grad.numpy(), g * dx(x.numpy(), w.numpy()))
    np.testing.assert_allclose(w.grad.numpy(), (g * dw(x.numpy(), w.numpy())).sum(axis=0))


def test_repeated_inplace_multiplication():
    x = leaf(4)
    y = x * 1.0
    for _ in range(3):
        y *= x
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 4 * x.numpy()**3)


def test_method_forms_return_self():
    x = leaf(3)
    y = x * 1.0
    for result in (y.add_(1.0), y.sub_(0.5), y.mul_(2.0), y.div_(4.0), y.clamp_(-1.0, 1.0)):
        assert result is y
    assert y.zero_() is y and y.fill_(2.0) is y and y.copy_(x) is y


def test_add_with_alpha():
    x, w = leaf(3), leaf(3, seed=1)
    y = x * 1.0
    y.add_(w, alpha=3.0)
    np.testing.assert_allclose(y.numpy(), x.numpy() + 3 * w.numpy())
    y.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), 3.0 * np.ones(3))


def test_zero_and_fill_cut_the_gradient():
    x = leaf(3)
    y = x * 2.0
    y.zero_()
    z = x * 2.0
    z.fill_(5.0)
    (y + z + x).sum().backward()
    np.testing.assert_array_equal(z.numpy(), np.full(3, 5.0))
    np.testing.assert_allclose(x.grad.numpy(), np.ones(3))  # only the direct "+ x"


def test_copy_sends_gradient_to_source_with_broadcasting():
    x, w = leaf(2, 3), leaf(3, seed=1)
    y = x * 1.0
    y.copy_(w)
    np.testing.assert_allclose(y.numpy(), np.broadcast_to(w.numpy(), (2, 3)))
    g = upstream(2, 3)
    y.backward(g)
    np.testing.assert_allclose(x.grad.numpy(), np.zeros((2, 3)))
    np.testing.assert_allclose(w.grad.numpy(), g.sum(axis=0))


def test_clamp_inplace_masks_the_gradient():
    x = Tensor(np.array([-2.0, -0.5, 0.5, 2.0]), requires_grad=True)
    y = x * 1.0
    y.clamp_(-1.0, 1.0)
    np.testing.assert_allclose(y.numpy(), [-1.0, -0.5, 0.5, 1.0])
    y.backward(np.array([1.0, 2.0, 3.0, 4.0]))
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 2.0, 3.0, 0.0])


def test_inplace_matches_torch():
    torch = pytest.importorskip("torch")
    x0, w0, g0 = upstream(3, 4, seed=1), upstream(4, seed=2), upstream(3, 4, seed=3)

    def run(lib_x, lib_w):
        y = lib_x * 1.0
        y += lib_w
        y *= lib_x
        y.clamp_(-1.0, 2.0)
        y[1] = lib_w * 3.0
        y /= 2.0
        return y

    x, w = Tensor(x0, requires_grad=True), Tensor(w0, requires_grad=True)
    run(x, w).backward(g0)
    tx, tw = torch.tensor(x0, requires_grad=True), torch.tensor(w0, requires_grad=True)
    run(tx, tw).backward(torch.tensor(g0))
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-12)


# --------------------------------------------------------------------- setitem
@pytest.mark.parametrize("index", [
    (slice(1, 3),),
    (1,),
    (np.array([0, 2]),),
    (np.array([True, False, True, False]),),
    (Ellipsis, 0),
])
def test_setitem_gradient_flows_to_value_and_around_the_hole(index):
    x = leaf(4, 3)
    y = x * 1.0
    target_shape = np.empty((4, 3))[index].shape
    v = Tensor(upstream(*target_shape, seed=4), requires_grad=True)
    y[index] = v
    g = upstream(4, 3)
    y.backward(g)
    hole = np.ones((4, 3))
    hole[index] = 0.0
    np.testing.assert_allclose(x.grad.numpy(), g * hole)
    np.testing.assert_allclose(v.grad.numpy(), g[index])


def test_setitem_broadcast_value_gets_summed_gradient():
    x = leaf(4, 3)
    y = x * 1.0
    v = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    y[1:3] = v
    g = upstream(4, 3)
    y.backward(g)
    np.testing.assert_allclose(v.grad.numpy(), g[1:3].sum(axis=0))


def test_setitem_into_a_constant_makes_it_part_of_the_graph():
    buffer = gg.zeros(5, dtype=np.float64)
    v = leaf(2)
    buffer[1:3] = v
    assert buffer.requires_grad and buffer.grad_fn is not None
    g = upstream(5)
    buffer.backward(g)
    np.testing.assert_allclose(v.grad.numpy(), g[1:3])


def test_setitem_with_a_python_number():
    x = leaf(3)
    y = x * 2.0
    y[0] = 7.0
    y.sum().backward()
    np.testing.assert_allclose(y.numpy()[0], 7.0)
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 2.0, 2.0])


# ---------------------------------------------------------- leaves and no_grad
@pytest.mark.parametrize("change", [
    lambda t: t.__iadd__(1.0),
    lambda t: t.mul_(2.0),
    lambda t: t.zero_(),
    lambda t: t.fill_(1.0),
    lambda t: t.copy_(Tensor(np.ones(3))),
    lambda t: t.clamp_(0.0, 1.0),
    lambda t: t.__setitem__(0, 5.0),
])
def test_inplace_on_leaf_that_requires_grad_raises_outside_no_grad(change):
    x = leaf(3)
    before = x.numpy().copy()
    with pytest.raises(RuntimeError, match="leaf"):
        change(x)
    np.testing.assert_array_equal(x.numpy(), before)  # nothing was written


def test_augmented_assignment_on_leaf_raises():
    x = leaf(3)
    with pytest.raises(RuntimeError, match="leaf"):
        x += 1.0


def test_inplace_on_leaf_works_inside_no_grad():
    x = leaf(3)
    (x * x).sum().backward()
    before = x.numpy().copy()
    with gg.no_grad():
        x -= 0.1 * x.grad
        x[0] = 0.0
    assert x.is_leaf and x.requires_grad and x.grad_fn is None
    expected = before - 0.1 * 2 * before
    expected[0] = 0.0
    np.testing.assert_allclose(x.numpy(), expected)
    assert x._version == 2


def test_update_under_no_grad_then_train_again():
    x = leaf(3)
    for _ in range(3):
        x.grad = None
        (x * x).sum().backward()
        with gg.no_grad():
            x.sub_(0.25 * x.grad)
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.numpy() / 0.5)


def test_inplace_on_int_tensor_with_float_raises_type_error():
    t = Tensor(np.array([1, 2, 3]))
    with pytest.raises(TypeError):
        t += 1.5
    t += 1
    np.testing.assert_array_equal(t.numpy(), [2, 3, 4])


def test_inplace_that_would_change_the_shape_raises():
    y = leaf(3) * 1.0
    with pytest.raises((RuntimeError, ValueError), match="shape"):
        y += Tensor(np.ones((2, 3)))
    c = Tensor(np.ones(3))
    with pytest.raises((RuntimeError, ValueError), match="shape"):
        c += np.ones((2, 3))


# ------------------------------------------------------ saved-value protection
def test_changing_a_saved_input_makes_backward_raise():
    x = leaf(3)
    y = x * 1.0
    z = y * y  # mul saves y
    y += 1.0
    with pytest.raises(RuntimeError, match=INPLACE_ERROR):
        z.sum().backward()
    assert gg.is_grad_enabled()


def test_changing_a_saved_output_makes_backward_raise():
    x = leaf(3)
    e = x.exp()  # exp's rule reuses its output
    e.mul_(2.0)
    with pytest.raises(RuntimeError, match=INPLACE_ERROR):
        e.sum().backward()


def test_changing_a_saved_leaf_under_no_grad_makes_backward_raise():
    x = leaf(3)
    z = (x * x).sum()
    with gg.no_grad():
        x += 1.0
    with pytest.raises(RuntimeError, match=INPLACE_ERROR):
        z.backward()


def test_changing_a_saved_constant_makes_backward_raise():
    x = leaf(3)
    c = Tensor(np.array([1.0, 2.0, 3.0]))
    z = (x * c).sum()  # the gradient of x reads c
    c += 1.0
    with pytest.raises(RuntimeError, match=INPLACE_ERROR):
        z.backward()


def test_changing_through_detach_makes_backward_raise():
    x = leaf(3)
    y = x * 1.0
    z = (y.tanh() * y).sum()
    y.detach().add_(1.0)  # shares y's memory and version counter
    with pytest.raises(RuntimeError, match=INPLACE_ERROR):
        z.backward()


def test_inplace_on_an_unsaved_value_is_fine():
    x = leaf(3)
    y = x + 1.0
    z = y + 2.0  # add saves nothing
    y.mul_(5.0)
    z.backward(np.ones(3))
    np.testing.assert_allclose(x.grad.numpy(), np.ones(3))


def test_inplace_after_backward_is_fine():
    x = leaf(3)
    y = x * 1.0
    z = (y * y).sum()
    z.backward()
    y += 1.0  # the graph has been used already


def test_grad_raises_too():
    x = leaf(3)
    y = x * 1.0
    z = (y.sin()).sum()
    y.zero_()
    with pytest.raises(RuntimeError, match=INPLACE_ERROR):
        gg.grad(z, x)


# ---------------------------------------------------------------------- views
def test_version_counter_shared_by_views():
    x = Tensor(np.arange(6.0))
    v = x[1:4]
    r = x.reshape(2, 3)
    assert x._version == v._version == r._version == 0
    x.add_(1.0)
    assert v._version == r._version == 1
    v.mul_(2.0)  # writes through to x
    assert x._version == r._version == 2
    np.testing.assert_allclose(x.numpy(), [1.0, 4.0, 6.0, 8.0, 5.0, 6.0])


def test_change_to_base_is_seen_by_a_saved_view():
    x = leaf(4)
    b = x * 1.0
    v = b.reshape(2, 2)
    z = (v * v).sum()  # saves the view
    b.add_(1.0)
    with pytest.raises(RuntimeError, match=INPLACE_ERROR):
        z.backward()


def test_change_to_a_view_under_no_grad_is_seen_by_the_base():
    w = leaf(3, 2)
    z = (w * w).sum()
    with gg.no_grad():
        w[0].fill_(1.0)  # as an initializer might do
    np.testing.assert_array_equal(w.numpy()[0], [1.0, 1.0])
    with pytest.raises(RuntimeError, match=INPLACE_ERROR):
        z.backward()


def test_transpose_view_shares_memory_and_version():
    x = Tensor(np.arange(6.0).reshape(2, 3))
    t = x.T
    t.mul_(10.0)
    np.testing.assert_allclose(x.numpy(), np.arange(6.0).reshape(2, 3) * 10)
    assert x._version == 1


# ------------------------------------- only what the rules that run read is checked
def test_changing_a_value_no_running_rule_reads_is_allowed():
    """x * 2 keeps only the constant 2 for x's rule, so changing the product's input
    afterwards is fine (PyTorch too); y * w still needs y for w's rule, and raises."""
    x = gg.randn(3, dtype=gg.float64, requires_grad=True)
    e = x + 1
    y = (e * 2).sum()
    e.mul_(2)
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full(3, 2.0))
    w = gg.randn(3, requires_grad=True)
    e = x + 1
    z = (e * w).sum()
    e.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.backward()


def test_divide_by_a_constant_then_change_the_numerator():
    x = gg.randn(3, dtype=gg.float64, requires_grad=True)
    e = x * 1
    y = (e / 4.0).sum()
    e.add_(1.0)
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full(3, 0.25))


def test_linear_after_an_optimizer_step_when_the_input_needs_no_grad():
    """dW = g^T x reads x, not W: a step that changes W before backward is fine."""
    layer = gg.nn.Linear(3, 2).double()
    x = gg.randn(4, 3, dtype=gg.float64)
    loss = layer(x).sum()
    with gg.no_grad():  # as an optimizer step between forward and backward
        layer.weight.add_(1.0)
    loss.backward()
    np.testing.assert_allclose(layer.weight.grad.numpy(), np.ones((2, 4)) @ x.numpy())
    x.requires_grad_(True)
    loss = layer(x).sum()
    with gg.no_grad():
        layer.weight.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()  # dx = g W reads W


# ------------------------------------------- views taken before an in-place change
def test_a_view_taken_before_its_base_changed_raises_instead_of_a_wrong_gradient():
    w = gg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    a = w * 2
    v = a[:2]
    a.mul_(3)  # PyTorch rewrites v's history; here v's graph would still see a = 2 w
    with pytest.raises(RuntimeError, match="view of a tensor that was changed in place"):
        v * gg.tensor([1.0, 10.0])
    (a[:2] * gg.tensor([1.0, 10.0])).sum().backward()  # a view taken after the change
    np.testing.assert_array_equal(w.grad.numpy(), [6.0, 60.0, 0.0])


def test_views_of_a_leaf_changed_without_recording_still_work():
    """An optimizer-style update under no_grad leaves the view's history right."""
    p = gg.nn.Parameter(gg.ones(2, 3))
    v = p.t()
    with gg.no_grad():
        p.add_(1.0)
    (v * 2).sum().backward()
    np.testing.assert_array_equal(p.grad.numpy(), np.full((2, 3), 2.0))
