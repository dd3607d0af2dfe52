"""Engine semantics: tensor hooks, retain_grad, and the grad-mode switches."""
import numpy as np
import pytest

import graphgrad as gg
from graphgrad import Tensor


def leaf(*shape, seed=0):
    rng = np.random.default_rng(seed)
    return Tensor(rng.standard_normal(shape), requires_grad=True)


# ------------------------------------------------------------------------ hooks
def test_hook_on_leaf_sees_the_gradient():
    x = leaf(3)
    seen = []
    x.register_hook(lambda g: seen.append(g.numpy().copy()))
    (x * 3.0).sum().backward()
    assert len(seen) == 1
    np.testing.assert_allclose(seen[0], 3.0 * np.ones(3))
    np.testing.assert_allclose(x.grad.numpy(), 3.0 * np.ones(3))


def test_hook_on_leaf_receives_a_tensor():
    x = leaf(3)
    kinds = []
    x.register_hook(lambda g: kinds.append(type(g)))
    x.sum().backward()
    assert kinds == [Tensor]


def test_leaf_hook_is_called_once_with_the_total_gradient():
    x = leaf(3)
    seen = []
    x.register_hook(lambda g: seen.append(g.numpy().copy()))
    (x * 2.0 + x.exp()).sum().backward()
    assert len(seen) == 1
    np.testing.assert_allclose(seen[0], 2.0 + np.exp(x.numpy()))


def test_hook_on_leaf_can_replace_the_gradient():
    x = leaf(3)
    x.register_hook(lambda g: g * 10.0)
    (x * 2.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 20.0 * np.ones(3))


def test_hook_on_non_leaf_sees_total_gradient_and_can_replace_it():
    x = leaf(3)
    y = x * 2.0
    seen = []

    def hook(g):
        seen.append(g.numpy().copy())
        return g * 0.5

    y.register_hook(hook)
    (y * y + y).sum().backward()  # dL/dy = 2y + 1, summed over both uses
    np.testing.assert_allclose(seen[0], 2 * y.numpy() + 1)
    np.testing.assert_allclose(x.grad.numpy(), (2 * y.numpy() + 1) * 0.5 * 2.0)
    assert len(seen) == 1


def test_hooks_run_in_registration_order_and_chain():
    x = leaf(2)
    y = x * 1.0
    order = []
    y.register_hook(lambda g: order.append("a") or g + 1.0)
    y.register_hook(lambda g: order.append("b") or g * 2.0)
    y.sum().backward()
    assert order == ["a", "b"]
    np.testing.assert_allclose(x.grad.numpy(), (1.0 + 1.0) * 2.0 * np.ones(2))


def test_hook_handle_remove():
    x = leaf(3)
    calls = []
    handle = x.register_hook(lambda g: calls.append(1))
    (x * 2.0).sum().backward()
    handle.remove()
    (x * 2.0).sum().backward()
    assert len(calls) == 1
    handle.remove()  # removing twice is harmless


def test_hook_handle_remove_on_non_leaf():
    x = leaf(3)
    y = x * 2.0
    handle = y.register_hook(lambda g: g * 100.0)
    handle.remove()
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2.0 * np.ones(3))


def test_hook_returning_wrong_shape_raises():
    x = leaf(3)
    y = x * 2.0
    y.register_hook(lambda g: Tensor(np.ones(4)))
    with pytest.raises(RuntimeError, match="shape"):
        y.sum().backward()


def test_hook_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="require"):
        Tensor([1.0]).register_hook(lambda g: g)


def test_hook_is_called_by_grad_too():
    x = leaf(3)
    y = x * 2.0
    y.register_hook(lambda g: g * 3.0)
    (gx,) = gg.grad(y.sum(), x)
    np.testing.assert_allclose(gx.numpy(), 6.0 * np.ones(3))


def test_hook_does_not_mutate_upstream_gradient():
    x = leaf(3)
    y = x * 2.0
    g = np.array([1.0, 2.0, 3.0])
    keep = g.copy()
    y.register_hook(lambda gr: gr * 2.0)
    y.backward(g)
    np.testing.assert_array_equal(g, keep)


# ------------------------------------------------------------------- retain_grad
def test_retain_grad_keeps_non_leaf_grad():
    x = leaf(3)
    y = x * 2.0
    y.retain_grad()
    z = (y * y).sum()
    z.backward()
    np.testing.assert_allclose(y.grad.numpy(), 2 * y.numpy())
    np.testing.assert_allclose(x.grad.numpy(), 4 * y.numpy())


def test_retain_grad_accumulates_and_is_called_once():
    x = leaf(3)
    y = x.exp()
    y.retain_grad()
    y.retain_grad()  # a second call is a no-op
    loss = (y * 3.0).sum()
    loss.backward(retain_graph=True)
    np.testing.assert_allclose(y.grad.numpy(), 3.0 * np.ones(3))
    loss.backward()
    np.testing.assert_allclose(y.grad.numpy(), 6.0 * np.ones(3))


def test_retain_grad_grad_does_not_share_memory_with_leaf_grad():
    x = leaf(3)
    y = x + 0.0
    y.retain_grad()
    y.sum().backward()
    assert not np.shares_memory(y.grad.numpy(), x.grad.numpy())


def test_hook_on_root_sees_the_seed():
    x = leaf(2)
    y = x * 2.0
    seen = []
    y.register_hook(lambda g: seen.append(g.numpy().copy()) or g * 3.0)
    y.backward(np.array([1.0, 2.0]))
    np.testing.assert_array_equal(seen[0], [1.0, 2.0])
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 12.0])


def test_retain_grad_follows_the_tensor_through_an_inplace_change():
    # As PyTorch: .grad is the gradient of the tensor's current value, while a hook
    # registered before the change sees the gradient of the old value.
    x = leaf(2)
    z = x * 1.0
    old_value = z.numpy().copy()
    seen = []
    z.register_hook(lambda g: seen.append(g.numpy().copy()))
    z.retain_grad()
    z *= 2.0
    (z * z).sum().backward()
    np.testing.assert_allclose(z.grad.numpy(), 2 * z.numpy())  # d(z^2)/dz at the new value
    np.testing.assert_allclose(seen[0], 8 * old_value)  # d((2 z_old)^2)/dz_old


def test_retain_grad_on_leaf_is_a_no_op():
    x = leaf(2)
    x.retain_grad()
    (x * 2.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2.0 * np.ones(2))


def test_retain_grad_sees_hook_modified_gradient():
    # As PyTorch: hooks registered before retain_grad change what .grad holds.
    x = leaf(2)
    y = x * 1.0
    y.register_hook(lambda g: g * 5.0)
    y.retain_grad()
    y.sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), 5.0 * np.ones(2))


# ------------------------------------------------------------------- grad modes
def test_no_grad_context_records_nothing():
    x = leaf(3)
    with gg.no_grad():
        y = x * 2.0
    assert not y.requires_grad and y.grad_fn is None
    assert gg.is_grad_enabled()


def test_no_grad_decorator_with_parentheses():
    @gg.no_grad()
    def f(x):
        assert not gg.is_grad_enabled()
        return x * 2.0

    x = leaf(3)
    assert not f(x).requires_grad
    assert gg.is_grad_enabled()


def test_no_grad_decorator_without_parentheses():
    @gg.no_grad
    def f(x):
        return x * 2.0

    assert not f(leaf(3)).requires_grad
    assert f.__name__ == "f"
    assert gg.is_grad_enabled()


def test_no_grad_decorated_function_can_be_called_many_times_and_recursively():
    @gg.no_grad()
    def f(x, depth):
        return x * 1.0 if depth == 0 else f(x, depth - 1)

    x = leaf(2)
    for _ in range(3):
        assert not f(x, 3).requires_grad
    assert gg.is_grad_enabled()


def test_mode_decorators_work_on_methods():
    # An optimizer's step is the typical case: @no_grad() on a method.
    class Stepper:
        @gg.no_grad()
        def with_parentheses(self, x):
            return gg.is_grad_enabled(), x * 2.0

        @gg.no_grad
        def without_parentheses(self, x):
            return gg.is_grad_enabled(), x * 2.0

        @gg.enable_grad
        def enabled(self, x):
            return gg.is_grad_enabled(), x * 2.0

        @gg.set_grad_enabled(False)
        def disabled(self, x):
            return gg.is_grad_enabled(), x * 2.0

    s, x = Stepper(), leaf(2)
    for method, mode in ((s.with_parentheses, False), (s.without_parentheses, False),
                         (s.disabled, False)):
        enabled, y = method(x)
        assert enabled is mode and not y.requires_grad
    with gg.no_grad():
        enabled, y = s.enabled(x)
    assert enabled and y.requires_grad
    assert Stepper.with_parentheses.__name__ == "with_parentheses"
    assert gg.is_grad_enabled()


def test_enable_grad_inside_no_grad():
    x = leaf(3)
    with gg.no_grad():
        with gg.enable_grad():
            y = x * 2.0
        z = x * 2.0
    assert y.requires_grad and not z.requires_grad


def test_enable_grad_decorator_both_forms():
    @gg.enable_grad
    def f(x):
        return x * 2.0

    @gg.enable_grad()
    def g(x):
        return x * 2.0

    x = leaf(2)
    with gg.no_grad():
        assert f(x).requires_grad
        assert g(x).requires_grad
        assert not gg.is_grad_enabled()


def test_set_grad_enabled_context():
    x = leaf(2)
    with gg.set_grad_enabled(False):
        assert not (x * 2.0).requires_grad
        with gg.set_grad_enabled(True):
            assert (x * 2.0).requires_grad
        assert not gg.is_grad_enabled()
    assert gg.is_grad_enabled()


def test_set_grad_enabled_as_a_function_call():
    try:
        gg.set_grad_enabled(False)
        assert not gg.is_grad_enabled()
        assert not (leaf(2) * 2.0).requires_grad
    finally:
        gg.set_grad_enabled(True)
    assert gg.is_grad_enabled()


def test_set_grad_enabled_decorator():
    @gg.set_grad_enabled(False)
    def f(x):
        return x * 2.0

    assert gg.is_grad_enabled()  # decorating must not leave the mode changed
    assert not f(leaf(2)).requires_grad
    assert gg.is_grad_enabled()


def test_modes_restored_after_exception():
    with pytest.raises(ZeroDivisionError):
        with gg.no_grad():
            raise ZeroDivisionError
    assert gg.is_grad_enabled()

    @gg.no_grad
    def boom():
        raise KeyError("x")

    with pytest.raises(KeyError):
        boom()
    assert gg.is_grad_enabled()


def test_nested_no_grad_restores_outer_state():
    with gg.no_grad():
        with gg.no_grad():
            pass
        assert not gg.is_grad_enabled()
        with gg.enable_grad():
            with gg.no_grad():
                assert not gg.is_grad_enabled()
            assert gg.is_grad_enabled()
        assert not gg.is_grad_enabled()
    assert gg.is_grad_enabled()


def test_one_no_grad_object_reused_and_nested():
    ctx = gg.no_grad()
    with ctx:
        with ctx:
            assert not gg.is_grad_enabled()
        assert not gg.is_grad_enabled()
    assert gg.is_grad_enabled()


def test_backward_works_on_graph_built_before_no_grad():
    x = leaf(3)
    y = (x * x).sum()
    with gg.no_grad():
        y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.numpy())
    assert gg.is_grad_enabled() is True


def test_backward_and_grad_restore_grad_mode():
    x = leaf(3)
    x.exp().sum().backward()
    assert gg.is_grad_enabled()
    y = (x * x).sum()
    with gg.no_grad():
        (g,) = gg.grad(y, x)
        assert not gg.is_grad_enabled()
    assert not g.requires_grad
