"""Engine semantics: custom gg.Function, PyTorch style."""
import gc
import weakref

import numpy as np
import pytest

import graphgrad as gg
from graphgrad import Tensor
from graphgrad.testing import gradcheck, gradgradcheck


def leaf(*shape, seed=0):
    rng = np.random.default_rng(seed)
    return Tensor(rng.standard_normal(shape), requires_grad=True)


class Cube(gg.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3.0 * x * x


class SinCos(gg.Function):
    """Two outputs: (sin x, cos x)."""

    calls = 0

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.sin(), x.cos()

    @staticmethod
    def backward(ctx, g_sin, g_cos):
        SinCos.calls += 1
        (x,) = ctx.saved_tensors
        return g_sin * x.cos() - g_cos * x.sin()


class ScaledMul(gg.Function):
    """x * y * k with a Python number k; records needs_input_grad for the test to read."""

    seen_needs = None

    @staticmethod
    def forward(ctx, x, y, k):
        ctx.save_for_backward(x, y)
        ctx.k = k
        ScaledMul.seen_needs = ctx.needs_input_grad
        return x * y * k

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        gx = g * y * ctx.k if ctx.needs_input_grad[0] else None
        gy = g * x * ctx.k if ctx.needs_input_grad[1] else None
        return gx, gy, None


class OnlyFirst(gg.Function):
    """x * y whose backward returns None for y."""

    @staticmethod
    def forward(ctx, x, y):
        return x * y

    @staticmethod
    def backward(ctx, g):
        return g * 2.0, None


# --------------------------------------------------------------- custom Function
def test_single_output_function_forward_and_backward():
    x = leaf(4)
    y = Cube.apply(x)
    assert y.requires_grad and y.grad_fn is not None
    np.testing.assert_allclose(y.numpy(), x.numpy()**3)
    g = np.random.default_rng(1).standard_normal(4)
    y.backward(g)
    np.testing.assert_allclose(x.grad.numpy(), 3 * x.numpy()**2 * g)


def test_function_inside_a_larger_graph():
    x = leaf(3)
    loss = (Cube.apply(x.tanh()) * x).sum()
    loss.backward()
    t = np.tanh(x.numpy())
    np.testing.assert_allclose(x.grad.numpy(), 3 * t**2 * (1 - t**2) * x.numpy() + t**3)


def test_function_gradcheck():
    assert gradcheck(Cube.apply, (leaf(3, 2),))
    assert gradcheck(lambda x, y: ScaledMul.apply(x, y, 1.5), (leaf(3), leaf(3, seed=1)))


def test_function_second_derivative_under_create_graph():
    x = leaf(5)
    (g,) = gg.grad(Cube.apply(x).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.numpy(), 3 * x.numpy()**2)
    (g2,) = gg.grad(g.sum(), x)
    np.testing.assert_allclose(g2.numpy(), 6 * x.numpy())


def test_function_gradgradcheck():
    assert gradgradcheck(Cube.apply, (leaf(3),))


def test_multiple_outputs_both_used():
    SinCos.calls = 0
    x = leaf(4)
    s, c = SinCos.apply(x)
    np.testing.assert_allclose(s.numpy(), np.sin(x.numpy()))
    np.testing.assert_allclose(c.numpy(), np.cos(x.numpy()))
    gs, gc = np.random.default_rng(2).standard_normal((2, 4))
    gg.backward([s, c], [gs, gc])
    np.testing.assert_allclose(x.grad.numpy(), gs * np.cos(x.numpy()) - gc * np.sin(x.numpy()))
    assert SinCos.calls == 1  # one backward call per pass, whatever the number of outputs


def test_multiple_outputs_one_unused_gets_zero_gradient():
    x = leaf(3)
    s, _ = SinCos.apply(x)
    s.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.cos(x.numpy()))


def test_multiple_outputs_second_derivative():
    x = leaf(3)
    s, c = SinCos.apply(x)
    (g,) = gg.grad((s * c).sum(), x, create_graph=True)  # d/dx sin x cos x = cos 2x
    np.testing.assert_allclose(g.numpy(), np.cos(2 * x.numpy()), atol=1e-12)
    (g2,) = gg.grad(g.sum(), x)
    np.testing.assert_allclose(g2.numpy(), -2 * np.sin(2 * x.numpy()), atol=1e-12)


def test_multiple_outputs_of_different_shapes():
    class SumAndDouble(gg.Function):
        @staticmethod
        def forward(ctx, x):
            return x.sum(), x * 2.0

        @staticmethod
        def backward(ctx, g_sum, g_double):
            return g_sum + 2.0 * g_double

    x = leaf(2, 3)
    total, double = SumAndDouble.apply(x)
    assert total.shape == () and double.shape == (2, 3)
    v = np.random.default_rng(3).standard_normal((2, 3))
    gg.backward([total, double], [np.array(1.5), v])
    np.testing.assert_allclose(x.grad.numpy(), 1.5 + 2.0 * v)


def test_needs_input_grad_and_non_tensor_arguments():
    x, c = leaf(3), Tensor(np.array([1.0, 2.0, 3.0]))
    y = ScaledMul.apply(x, c, 2.0)
    assert ScaledMul.seen_needs == (True, False, False)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2.0 * c.numpy())
    assert c.grad is None


def test_function_saved_tensors_and_ctx_attributes():
    x, y = leaf(3), leaf(3, seed=1)
    out = ScaledMul.apply(x, y, -0.5)
    assert ScaledMul.seen_needs == (True, True, False)
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), -0.5 * y.numpy())
    np.testing.assert_allclose(y.grad.numpy(), -0.5 * x.numpy())


def test_backward_returning_none_for_an_input_that_requires_grad():
    # PyTorch leaves y.grad as None; zeros would be an acceptable variant.
    x, y = leaf(3), leaf(3, seed=1)
    OnlyFirst.apply(x, y).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2.0 * np.ones(3))
    assert y.grad is None or not y.grad.numpy().any()


def test_function_under_no_grad_records_nothing():
    x = leaf(3)
    with gg.no_grad():
        y = Cube.apply(x)
    assert not y.requires_grad and y.grad_fn is None


def test_function_forward_runs_without_recording():
    recorded = []

    class Probe(gg.Function):
        @staticmethod
        def forward(ctx, x):
            recorded.append(gg.is_grad_enabled())
            return x * 2.0

        @staticmethod
        def backward(ctx, g):
            return g * 2.0

    Probe.apply(leaf(2)).sum().backward()
    assert recorded == [False]


def test_function_saved_input_modified_in_place_raises():
    x = leaf(3)
    h = x * 1.0
    y = Cube.apply(h)
    h += 1.0
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_function_on_constant_inputs_gives_constant_output():
    y = Cube.apply(Tensor([1.0, 2.0]))
    assert not y.requires_grad
    np.testing.assert_allclose(y.numpy(), [1.0, 8.0])


class Exp(gg.Function):
    """PyTorch's documentation example: it saves its own output."""

    @staticmethod
    def forward(ctx, x):
        result = x.exp()
        ctx.save_for_backward(result)
        return result

    @staticmethod
    def backward(ctx, g):
        (result,) = ctx.saved_tensors
        return g * result


def test_saved_output_is_connected_for_second_derivatives():
    x = leaf(4)
    (g,) = gg.grad(Exp.apply(x).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.numpy(), np.exp(x.numpy()))
    assert g.requires_grad
    (g2,) = gg.grad(g.sum(), x)
    np.testing.assert_allclose(g2.numpy(), np.exp(x.numpy()))
    assert gradgradcheck(Exp.apply, (leaf(3),))


def test_saved_output_modified_in_place_raises():
    x = leaf(3)
    y = Exp.apply(x)
    y.mul_(2.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_unsaved_output_and_input_may_change_in_place():
    x = leaf(3)
    h = x * 1.0
    y = OnlyFirst.apply(h, Tensor(np.ones(3)))  # saves nothing
    h.add_(1.0)
    y.mul_(3.0)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 6.0 * np.ones(3))


def test_saved_output_of_a_multi_output_function_is_connected():
    class ExpAndSquare(gg.Function):
        @staticmethod
        def forward(ctx, x):
            e, s = x.exp(), x * x
            ctx.save_for_backward(x, e)
            return e, s

        @staticmethod
        def backward(ctx, g_e, g_s):
            x, e = ctx.saved_tensors
            return g_e * e + g_s * 2.0 * x

    x = leaf(3)
    e, s = ExpAndSquare.apply(x)
    (g,) = gg.grad((e + s).sum(), x, create_graph=True)
    (g2,) = gg.grad(g.sum(), x)
    np.testing.assert_allclose(g2.numpy(), np.exp(x.numpy()) + 2.0)
    assert gradgradcheck(lambda t: ExpAndSquare.apply(t), (leaf(2),))


def test_integer_output_keeps_dtype_and_needs_no_grad():
    received = []

    class MaxWithIndex(gg.Function):
        @staticmethod
        def forward(ctx, x):
            index = x.argmax(dim=0)
            ctx.save_for_backward(index)
            ctx.shape = x.shape
            return x.max(dim=0).values, index

        @staticmethod
        def backward(ctx, g, g_index):
            received.append(g_index)
            (index,) = ctx.saved_tensors
            out = np.zeros(ctx.shape)
            out[index.numpy(), np.arange(ctx.shape[1])] = g.numpy()
            return Tensor(out)

    x = leaf(3, 4)
    values, index = MaxWithIndex.apply(x)
    assert index.dtype == np.int64 and not index.requires_grad
    np.testing.assert_array_equal(index.numpy(), x.numpy().argmax(axis=0))
    assert values.dtype == np.float64 and values.requires_grad
    values.sum().backward()
    np.testing.assert_allclose(x.grad.numpy().sum(axis=0), np.ones(4))
    assert received[0] is not None and not received[0].numpy().any()


def test_outputs_of_different_float_dtypes_keep_them():
    class Pair(gg.Function):
        @staticmethod
        def forward(ctx, x):
            return x.astype(np.float32) * 2.0, x * 3.0

        @staticmethod
        def backward(ctx, g32, g64):
            assert g32.dtype == np.float32 and g64.dtype == np.float64
            return g32.astype(np.float64) * 2.0 + g64 * 3.0

    x = leaf(3)
    a, b = Pair.apply(x)
    assert a.dtype == np.float32 and b.dtype == np.float64
    (a.sum() + b.sum()).backward()
    np.testing.assert_allclose(x.grad.numpy(), 5.0 * np.ones(3))
    assert x.grad.dtype == np.float64


def test_outputs_are_independent_tensors():
    x = leaf(3)
    s, c = SinCos.apply(x)
    s.add_(1.0)  # allowed: an output is not a view of the other
    assert c._version == 0
    np.testing.assert_allclose(c.numpy(), np.cos(x.numpy()))
    (s + c).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.cos(x.numpy()) - np.sin(x.numpy()))


def test_output_returned_as_the_input_does_not_alias_it():
    class Identity(gg.Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, g):
            return g

    x = leaf(3)
    y = Identity.apply(x)
    assert y is not x and not np.shares_memory(y.numpy(), x.numpy())
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones(3))


def test_graph_does_not_keep_unsaved_inputs_alive():
    x = leaf(3)
    h = x * 2.0
    ref = weakref.ref(h)
    y = OnlyFirst.apply(h, Tensor(np.ones(3)))
    del h
    assert ref() is None
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 4.0 * np.ones(3))


def _with_backward(backward):
    class Custom(gg.Function):
        @staticmethod
        def forward(ctx, x, y):
            return x * y

    Custom.backward = staticmethod(backward)
    return Custom


def test_backward_returning_too_few_gradients_raises():
    Custom = _with_backward(lambda ctx, g: g)
    with pytest.raises(RuntimeError, match="Custom.*2"):
        Custom.apply(leaf(2), leaf(2, seed=1)).sum().backward()


def test_backward_may_return_extra_nones_only():
    x, y = leaf(2), leaf(2, seed=1)
    _with_backward(lambda ctx, g: (g, g, None)).apply(x, y).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones(2))
    with pytest.raises(RuntimeError, match="expected one per forward argument"):
        _with_backward(lambda ctx, g: (g, g, g)).apply(x, y).sum().backward()


def test_error_in_backward_names_the_function():
    def backward(ctx, g):
        raise ValueError("broken rule")

    with pytest.raises(RuntimeError, match="Custom.*broken rule"):
        _with_backward(backward).apply(leaf(2), leaf(2, seed=1)).sum().backward()


def test_backward_returning_wrong_shape_names_the_function():
    Custom = _with_backward(lambda ctx, g: (g.sum(), g))
    with pytest.raises(RuntimeError, match="Custom.*shape"):
        Custom.apply(leaf(2), leaf(2, seed=1)).sum().backward()


def test_function_without_backward_raises_when_differentiated():
    class NoBackward(gg.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2.0

    y = NoBackward.apply(leaf(2)).sum()
    with pytest.raises((NotImplementedError, RuntimeError)):
        y.backward()


def test_saved_tensor_returned_as_gradient_is_not_aliased_by_grad():
    class MulIgnoringG(gg.Function):
        """x * w for a loss that is a plain sum, so backward may skip g (a user shortcut)."""

        @staticmethod
        def forward(ctx, x, w):
            ctx.save_for_backward(x, w)
            return x * w

        @staticmethod
        def backward(ctx, g):
            x, w = ctx.saved_tensors
            return w, x

    x, w = leaf(3), leaf(3, seed=1)
    MulIgnoringG.apply(x, w).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), w.numpy())
    assert not np.shares_memory(x.grad.numpy(), w.numpy())
    assert not np.shares_memory(w.grad.numpy(), x.numpy())


def test_function_graph_has_no_reference_cycles():
    gc.disable()
    try:
        x = leaf(3)
        e = Exp.apply(x)
        s, c = SinCos.apply(e)
        refs = [weakref.ref(t) for t in (e, s, c)] + [weakref.ref(s.grad_fn)]
        loss = (s * c).sum()
        loss.backward()
        del e, s, c, loss
        assert all(r() is None for r in refs)
    finally:
        gc.enable()
